// The sandbox's resource limits (issue 13 item 4), run under
// `sentry run --memory/--tmpfs-size/--pids`:
//   limits oom MIB        a child touches MIB MiB of anonymous memory; init
//                         reports how it ended (the OOM kill: SIGKILL) and
//                         that it still runs and can allocate
//   limits touch MIB      the same, by this process itself
//   limits commit MIB     mmap, brk and mremap of MIB MiB of private writable memory
//   limits tmpfs DIR      writes to DIR until ENOSPC; statfs, ftruncate and
//                         fallocate past the size; space comes back on unlink
//   limits forkbomb       forks until fork fails, then threads until
//                         pthread_create fails; all end and are reaped
//   limits storm          forks and threads without end (to be killed)
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case ENOMEM: return "ENOMEM";
    case ENOSPC: return "ENOSPC";
    case EAGAIN: return "EAGAIN";
    case EFBIG: return "EFBIG";
    case 0: return "ok";
    default: return strerrorname_np(e);
    }
}

static void touch(long mib) {
    size_t len = (size_t)mib << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) { printf("mmap: %s\n", ename(errno)); _exit(2); }
    for (size_t i = 0; i < len; i += 4096) p[i] = 1;
}

static int oom(long mib) {
    pid_t pid = fork();
    if (pid == 0) {
        touch(mib);
        _exit(0);   // not reached when the limit is below MIB
    }
    int st;
    if (waitpid(pid, &st, 0) != pid) { perror("waitpid"); return 1; }
    if (WIFSIGNALED(st)) printf("child killed by signal %d\n", WTERMSIG(st));
    else printf("child exited %d\n", WEXITSTATUS(st));
    // Init goes on: its own memory still works.
    char *q = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED) { printf("init mmap: %s\n", ename(errno)); return 1; }
    memset(q, 7, 8 << 20);
    printf("init alive\n");
    return 0;
}

static int commit(long mib) {
    size_t len = (size_t)mib << 20;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap private: %s\n", p == MAP_FAILED ? ename(errno) : "ok");
    if (p != MAP_FAILED) munmap(p, len);
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    printf("mmap noreserve: %s\n", p == MAP_FAILED ? ename(errno) : "ok");
    if (p != MAP_FAILED) munmap(p, len);
    p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap PROT_NONE: %s\n", p == MAP_FAILED ? ename(errno) : "ok");
    if (p != MAP_FAILED) munmap(p, len);
    char *cur = sbrk(0);
    errno = 0;
    long r = syscall(SYS_brk, cur + len);
    printf("brk: %s\n", (char *)r == cur + len ? "ok" : "unchanged");
    if ((char *)r == cur + len) syscall(SYS_brk, cur);
    char *small = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *m = mremap(small, 4096, len, MREMAP_MAYMOVE);
    printf("mremap: %s\n", m == MAP_FAILED ? ename(errno) : "ok");
    return 0;
}

static int tmpfs(const char *dir) {
    struct statfs sf;
    if (statfs(dir, &sf) != 0) { perror("statfs"); return 1; }
    printf("statfs: %lld MiB, %lld MiB free\n", (long long)sf.f_blocks * sf.f_bsize >> 20,
           (long long)sf.f_bfree * sf.f_bsize >> 20);
    char path[4096];
    snprintf(path, sizeof path, "%s/fill", dir);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    if (fd < 0) { perror("open"); return 1; }
    static char buf[1 << 20];
    memset(buf, 'x', sizeof buf);
    long total = 0;
    int err = 0;
    for (;;) {
        ssize_t n = write(fd, buf, sizeof buf);
        if (n < 0) { err = errno; break; }
        total += n;
        if (total > (1L << 40)) break;
    }
    printf("wrote %ld MiB, then %s\n", total >> 20, ename(err));
    if (statfs(dir, &sf) == 0) printf("statfs after: %lld MiB free\n", (long long)sf.f_bfree * sf.f_bsize >> 20);
    printf("ftruncate past the size: %s\n", ftruncate(fd, total + (64L << 20)) == 0 ? "ok" : ename(errno));
    printf("fallocate past the size: %s\n", fallocate(fd, 0, total, 64L << 20) == 0 ? "ok" : ename(errno));
    int fd2 = open(path, O_RDONLY);
    ssize_t got = 0, n;
    long sum = 0;
    while ((n = read(fd2, buf, sizeof buf)) > 0) { sum += n; got = n; }
    (void)got;
    printf("read back %ld MiB\n", sum >> 20);
    close(fd2);
    close(fd);
    unlink(path);
    snprintf(path, sizeof path, "%s/again", dir);
    fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    printf("after unlink, a write: %s\n", write(fd, buf, sizeof buf) == sizeof buf ? "ok" : ename(errno));
    close(fd);
    unlink(path);
    return 0;
}

static int hold[2];
static void *sleeper(void *arg) {
    char c;
    (void)arg;
    (void)read(hold[0], &c, 1);
    return NULL;
}

static int forkbomb(void) {
    if (pipe(hold) != 0) { perror("pipe"); return 1; }
    int forks = 0, err = 0;
    for (;;) {
        pid_t p = fork();
        if (p == 0) {
            char c;
            close(hold[1]);
            (void)read(hold[0], &c, 1);
            _exit(0);
        }
        if (p < 0) { err = errno; break; }
        if (++forks > 100000) break;
    }
    printf("fork failed with %s after %s children\n", ename(err), forks > 0 ? "some" : "no");
    // A failed fork leaves nothing behind: /proc lists init and its children.
    int listed = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) if (e->d_name[0] >= '1' && e->d_name[0] <= '9') listed++;
    if (d) closedir(d);
    printf("/proc lists %s\n", listed == forks + 1 ? "every process once" : "a wrong count");
    pthread_t t;
    int threads = 0, r;
    while ((r = pthread_create(&t, NULL, sleeper, NULL)) == 0) {
        pthread_detach(t);
        if (++threads > 100000) break;
    }
    printf("pthread_create failed with %s\n", ename(r));
    close(hold[1]);
    int reaped = 0;
    while (wait(NULL) > 0) reaped++;
    printf("reaped %s\n", reaped == forks ? "all" : "not all");
    printf("fork again: ");
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) _exit(0);
    printf("%s\n", p > 0 && waitpid(p, NULL, 0) == p ? "ok" : ename(errno));
    return 0;
}

// Every process forks and starts threads without end, failures ignored:
// the host's own limits run out while clones are under way.
static void *idle(void *arg) { (void)arg; for (;;) pause(); }
static int storm(void) {
    for (;;) {
        pthread_t t;
        if (fork() < 0 || pthread_create(&t, NULL, idle, NULL) != 0) usleep(1000);
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 3 && strcmp(argv[1], "oom") == 0) return oom(atol(argv[2]));
    if (argc >= 3 && strcmp(argv[1], "touch") == 0) { touch(atol(argv[2])); printf("touched\n"); return 0; }
    if (argc >= 3 && strcmp(argv[1], "commit") == 0) return commit(atol(argv[2]));
    if (argc >= 3 && strcmp(argv[1], "tmpfs") == 0) return tmpfs(argv[2]);
    if (argc >= 2 && strcmp(argv[1], "forkbomb") == 0) return forkbomb();
    if (argc >= 2 && strcmp(argv[1], "storm") == 0) return storm();
    fprintf(stderr, "usage: limits oom MIB | commit MIB | tmpfs DIR | forkbomb\n");
    return 64;
}
