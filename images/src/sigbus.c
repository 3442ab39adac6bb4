// Pages of a file mapping beyond the file's end: a touch is SIGBUS with
// BUS_ADRERR and the address, for MAP_PRIVATE and MAP_SHARED, host files
// (in the directory argv[1]) and memfds; the rest of the last page reads as
// zeros; ftruncate that shrinks the file takes the pages away from every
// mapping (a forked child's too) and growing it gives them back; the kernel's
// own copies into or out of such a page are EFAULT.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
static sigjmp_buf back;
static volatile int gotSig, gotCode;
static void *volatile gotAddr;

static void onFault(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    gotSig = sig; gotCode = si->si_code; gotAddr = si->si_addr;
    siglongjmp(back, 1);
}

// Reads (or writes) one byte at p; prints what happened.
static void touch(const char *what, volatile char *p, int write) {
    gotSig = 0;
    if (sigsetjmp(back, 1) == 0) {
        char c = write ? (*p = 'w') : *p;
        printf("%s: %s ok (%d)\n", what, write ? "write" : "read", c);
    } else {
        printf("%s: %s, code %d, address %s\n", what, gotSig == SIGBUS ? "SIGBUS" : gotSig == SIGSEGV ? "SIGSEGV" : "signal",
               gotCode, gotAddr == (void *)p ? "exact" : "other");
    }
}

static int hostFile(const char *dir, const char *name, size_t size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { perror(path); _exit(1); }
    unlink(path);
    char buf[PAGE];
    memset(buf, 'f', sizeof buf);
    for (size_t done = 0; done < size;) {
        size_t n = size - done < sizeof buf ? size - done : sizeof buf;
        if (write(fd, buf, n) != (ssize_t)n) { perror("write"); _exit(1); }
        done += n;
    }
    return fd;
}

static void beyondEnd(const char *kind, int fd, int flags) {
    char what[64];
    // 100 bytes of file, three pages mapped.
    char *m = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (m == MAP_FAILED) { perror("mmap"); _exit(1); }
    printf("%s: byte 99 %d, bytes 100..4095 zero: %s\n", kind, m[99],
           memchr(m + 100, 'f', PAGE - 100) || memchr(m + 100, 'w', PAGE - 100) ? "no" : "yes");
    snprintf(what, sizeof what, "%s page 1", kind); touch(what, m + PAGE + 17, 0);
    snprintf(what, sizeof what, "%s page 2", kind); touch(what, m + 2 * PAGE, 1);
    int p[2];
    if (pipe(p) == 0) {
        ssize_t n = write(p[1], m + PAGE, 10);
        printf("%s: write(2) from page 1: %zd %s\n", kind, n, n < 0 ? strerror(errno) : "");
        if (write(p[1], "0123456789", 10) != 10) perror("write");
        n = read(p[0], m + PAGE, 10);
        printf("%s: read(2) into page 1: %zd %s\n", kind, n, n < 0 ? strerror(errno) : "");
        close(p[0]); close(p[1]);
    }
    printf("%s: mprotect across the end: %d\n", kind, mprotect(m, 3 * PAGE, PROT_READ));
    snprintf(what, sizeof what, "%s page 2 read-only", kind); touch(what, m + 2 * PAGE, 0);
    mprotect(m, 3 * PAGE, PROT_READ | PROT_WRITE);
    // Growing the file makes the pages it now reaches accessible.
    if (ftruncate(fd, PAGE + 10) != 0) perror("ftruncate");
    if (pwrite(fd, "grown", 5, PAGE + 2) != 5) perror("pwrite");
    snprintf(what, sizeof what, "%s page 1 after growth", kind); touch(what, m + PAGE + 17, 0);
    // (A host file's shared pages do not see write(2)s: the sentry has no page cache, see README.)
    if (strcmp(kind, "host shared") != 0) printf("%s: page 1 holds \"%.5s\"\n", kind, m + PAGE + 2);
    snprintf(what, sizeof what, "%s page 2 after growth", kind); touch(what, m + 2 * PAGE, 0);
    // A shrink takes them away again, in a forked child as in the parent.
    pid_t child = fork();
    if (child == 0) {
        if (ftruncate(fd, 50) != 0) perror("ftruncate");
        snprintf(what, sizeof what, "%s child page 1 after shrink", kind); touch(what, m + PAGE, 0);
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    snprintf(what, sizeof what, "%s page 1 after the child's shrink", kind); touch(what, m + PAGE, 0);
    snprintf(what, sizeof what, "%s page 0 after shrink", kind); touch(what, m + 10, 0);
    munmap(m, 3 * PAGE);
    if (ftruncate(fd, 100) != 0) perror("ftruncate");
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa = {0};
    sa.sa_sigaction = onFault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);

    int fd = hostFile(dir, "sigbus.private", 100);
    beyondEnd("host private", fd, MAP_PRIVATE);
    close(fd);
    fd = hostFile(dir, "sigbus.shared", 100);
    beyondEnd("host shared", fd, MAP_SHARED);
    close(fd);
    fd = memfd_create("sigbus", 0);
    if (fd < 0) { perror("memfd_create"); return 1; }
    char buf[100];
    memset(buf, 'f', sizeof buf);
    if (write(fd, buf, sizeof buf) != sizeof buf) { perror("write"); return 1; }
    beyondEnd("memfd private", fd, MAP_PRIVATE);
    beyondEnd("memfd shared", fd, MAP_SHARED);

    // Issue 13's case: a shared memfd page after ftruncate(0), then back.
    if (ftruncate(fd, PAGE) != 0) perror("ftruncate");
    char *m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    m[0] = 'x';
    if (ftruncate(fd, 0) != 0) perror("ftruncate");
    touch("memfd after ftruncate(0)", m, 0);
    if (ftruncate(fd, PAGE) != 0) perror("ftruncate");
    touch("memfd regrown", m, 0);
    // O_TRUNC of a host file cuts its mappings too.
    char path[4096];
    snprintf(path, sizeof path, "%s/sigbus.trunc", dir);
    int t = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (t < 0 || write(t, buf, sizeof buf) != sizeof buf) { perror(path); return 1; }
    char *tm = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, t, 0);
    touch("host before O_TRUNC", tm, 0);
    close(open(path, O_WRONLY | O_TRUNC));
    touch("host after O_TRUNC", tm, 0);
    unlink(path);
    return 0;
}
