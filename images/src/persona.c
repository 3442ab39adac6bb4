// personality(2) and what its flags change (uname, mmap/mprotect, the
// select family's timeouts, exec), protection keys on a CPU without PKU,
// I/O priorities and sync_file_range: everything printed is the same on
// any Linux that runs it, so the sandbox's run is compared with native.
// Usage: persona DIR (a writable directory) | persona show (after exec)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static unsigned current(void) { return (unsigned)personality(0xffffffff); }

/// The permission string /proc/self/maps gives the mapping at `p`.
static void perms(const char *what, void *p) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    unsigned long lo, hi, want = (unsigned long)p;
    char pr[8] = "?";
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, pr) == 3 && want >= lo && want < hi) break;
    if (f) fclose(f);
    printf("%s: %s\n", what, pr);
}

static void proc_personality(const char *what) {
    char buf[32] = {0};
    int fd = open("/proc/self/personality", O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    printf("%s: %s", what, n > 0 ? buf : "unreadable\n");
}

static void personalities(const char *self) {
    printf("initial: %#x\n", current());
    struct utsname plain, u;
    uname(&plain);
    show("set UNAME26", personality(PER_LINUX | UNAME26));
    uname(&u);
    // override_release: 2.6.(60 + minor), then what follows the third number.
    int major = 0, minor = 0, n = 0;
    sscanf(plain.release, "%d.%d%n", &major, &minor, &n);
    const char *rest = plain.release + n;
    if (*rest == '.') { rest++; while (*rest >= '0' && *rest <= '9') rest++; }
    char want[80];
    snprintf(want, sizeof want, "2.6.%d%s", minor + 60, rest);
    printf("UNAME26 release as Linux maps it: %d\n", strcmp(u.release, want) == 0);
    printf("now: %#x\n", current());
    proc_personality("/proc/self/personality");
    show("set PER_LINUX32", personality(PER_LINUX32));
    uname(&u);
    printf("PER_LINUX32 machine: %s\n", u.machine);
    show("back to PER_LINUX", personality(PER_LINUX));
    uname(&u);
    printf("machine: %s\n", u.machine);

    // READ_IMPLIES_EXEC: a readable mapping or protection is executable too.
    personality(PER_LINUX | READ_IMPLIES_EXEC);
    void *a = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *c = mmap(NULL, 4096, PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    perms("READ_IMPLIES_EXEC mmap PROT_READ", a);
    perms("READ_IMPLIES_EXEC mmap PROT_READ|PROT_WRITE", b);
    perms("READ_IMPLIES_EXEC mmap PROT_WRITE", c);
    mprotect(c, 4096, PROT_READ);
    perms("READ_IMPLIES_EXEC mprotect PROT_READ", c);
    personality(PER_LINUX);
    mprotect(c, 4096, PROT_READ);
    perms("plain mprotect PROT_READ", c);

    // STICKY_TIMEOUTS: the select family leaves the caller's timeout alone.
    for (int sticky = 0; sticky < 2; sticky++) {
        personality(sticky ? PER_LINUX | STICKY_TIMEOUTS : PER_LINUX);
        struct timeval tv = {.tv_usec = 20000};
        select(0, NULL, NULL, NULL, &tv);
        struct timespec ts = {.tv_nsec = 20000000};
        pselect(0, NULL, NULL, NULL, &ts, NULL);
        struct timespec pts = {.tv_nsec = 20000000};
        ppoll(NULL, 0, &pts, NULL);
        printf("%s: select %ld us, pselect %ld ns, ppoll %ld ns\n", sticky ? "STICKY_TIMEOUTS" : "plain",
               (long)tv.tv_usec, ts.tv_nsec, pts.tv_nsec);
    }

    // fork keeps it all; exec drops READ_IMPLIES_EXEC only.
    personality(PER_LINUX | UNAME26 | READ_IMPLIES_EXEC | ADDR_NO_RANDOMIZE);
    pid_t p = fork();
    if (p == 0) {
        printf("child after fork: %#x\n", current());
        fflush(stdout);
        execl(self, self, "show", (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    personality(PER_LINUX);
}

static void pkeys(void) {
    void *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    show("pkey_alloc(0, 0)", syscall(SYS_pkey_alloc, 0, 0));
    show("pkey_alloc(1, 0)", syscall(SYS_pkey_alloc, 1, 0));
    show("pkey_alloc(0, 4)", syscall(SYS_pkey_alloc, 0, 4));
    show("pkey_free(0)", syscall(SYS_pkey_free, 0));
    show("pkey_free(-1)", syscall(SYS_pkey_free, -1));
    show("pkey_mprotect key -1", syscall(SYS_pkey_mprotect, m, 4096, PROT_READ, -1));
    show("pkey_mprotect key 0", syscall(SYS_pkey_mprotect, m, 4096, PROT_READ, 0));
    show("pkey_mprotect key 1", syscall(SYS_pkey_mprotect, m, 4096, PROT_READ, 1));
    show("pkey_mprotect unaligned", syscall(SYS_pkey_mprotect, (char *)m + 1, 4096, PROT_READ, 1));
    show("pkey_mprotect length 0", syscall(SYS_pkey_mprotect, m, 0, PROT_READ, 1));
    show("pkey_mprotect bad prot", syscall(SYS_pkey_mprotect, m, 4096, 0x10, -1));
    munmap(m, 8192);
    show("pkey_mprotect unmapped key -1", syscall(SYS_pkey_mprotect, m, 4096, PROT_READ, -1));
    show("pkey_mprotect unmapped key 2", syscall(SYS_pkey_mprotect, m, 4096, PROT_READ, 2));
    void *n = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    show("mprotect PROT_READ|PROT_SEM", mprotect(n, 4096, PROT_READ | 0x8));
    show("mprotect GROWSDOWN|GROWSUP", mprotect(n, 4096, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP));
}

#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_WHO_PGRP 2
#define IOPRIO_VALUE(c, l) ((c) << 13 | (l))

static void ioprio(void) {
    setpgid(0, 0);   // a group of our own: IOPRIO_WHO_PGRP sees only us
    show("ioprio_get process", syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0));
    show("ioprio_get group (nice 0)", syscall(SYS_ioprio_get, IOPRIO_WHO_PGRP, 0));
    show("ioprio_set BE 4", syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_VALUE(2, 4)));
    show("ioprio_get process", syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, getpid()));
    show("ioprio_set group IDLE", syscall(SYS_ioprio_set, IOPRIO_WHO_PGRP, 0, IOPRIO_VALUE(3, 0)));
    show("ioprio_get group", syscall(SYS_ioprio_get, IOPRIO_WHO_PGRP, getpgrp()));
    show("ioprio_set NONE level 1", syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_VALUE(0, 1)));
    show("ioprio_set class 5", syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_VALUE(5, 0)));
    show("ioprio_set which 9", syscall(SYS_ioprio_set, 9, 0, IOPRIO_VALUE(2, 0)));
    show("ioprio_get which 0", syscall(SYS_ioprio_get, 0, 0));
    show("ioprio_get no such process", syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 999999));
    pid_t p = fork();
    if (p == 0) {
        show("child inherits", syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0));
        _exit(0);
    }
    waitpid(p, NULL, 0);
    show("ioprio_set NONE", syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, 0));
    show("ioprio_get process", syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0));
}

static void syncrange(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/persona-XXXXXX", dir);
    int fd = mkstemp(path);
    write(fd, "0123456789", 10);
    show("sync_file_range whole", sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
    show("sync_file_range wait", sync_file_range(fd, 0, 10, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER));
    show("sync_file_range bad flags", sync_file_range(fd, 0, 0, 8));
    show("sync_file_range negative offset", sync_file_range(fd, -1, 0, 0));
    show("sync_file_range wraps", sync_file_range(fd, 1, 0x7fffffffffffffffLL, 0));
    int pf[2];
    pipe(pf);
    show("sync_file_range pipe", sync_file_range(pf[0], 0, 0, 0));
    show("sync_file_range bad fd", sync_file_range(99, 0, 0, 0));
    int op = open(path, O_PATH);
    show("sync_file_range O_PATH", sync_file_range(op, 0, 0, 0));
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    show("sync_file_range directory", sync_file_range(d, 0, 0, 0));
    unlink(path);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "show") == 0) {
        printf("after exec: %#x\n", current());
        proc_personality("after exec /proc/self/personality");
        return 0;
    }
    if (argc < 2) { fprintf(stderr, "usage: persona DIR\n"); return 2; }
    setvbuf(stdout, NULL, _IONBF, 0);
    personalities(argv[0]);
    pkeys();
    ioprio();
    syncrange(argv[1]);
    return 0;
}
