// Guest-controlled numbers at the edges of their types, one line per call:
// each once crashed the sentry on a Swift overflow trap or a bad
// conversion. Linux's answers are the reference (the test compares the
// output with a native run).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s = -1 %s\n", what, strerrorname_np(errno));
    else printf("%s = %ld\n", what, r);
}

int main(int argc, char **argv) {
    // `overflow exec FILE`: what a guest's execve of FILE answers.
    if (argc == 3 && !strcmp(argv[1], "exec")) {
        char *args[] = { argv[2], 0 };
        execve(argv[2], args, args + 1);
        printf("execve: %s\n", strerrorname_np(errno));
        return 0;
    }
    char buf[4096];
    long page = 4096;

    show("getcwd(size 2^63)", syscall(SYS_getcwd, buf, 1UL << 63) > 0 ? 1 : -1);
    show("getcwd(size ULONG_MAX)", syscall(SYS_getcwd, buf, ~0UL) > 0 ? 1 : -1);
    show("kill(INT_MIN, 0)", kill(INT_MIN, 0));
    show("kill(INT_MIN, SIGKILL)", kill(INT_MIN, SIGKILL));

    char *m = mmap(0, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    show("madvise(wrapping, DONTNEED)", syscall(SYS_madvise, m, -(uintptr_t)m + page, MADV_DONTNEED));
    show("madvise(len ULONG_MAX-4095)", syscall(SYS_madvise, m, ~0UL - 4095, MADV_NORMAL));
    // Linux 6.1 (the reference) and later kernels differ on these two (6.17
    // checks the ranges up front: EINVAL); the test checks 6.1's answers.
    show("6.1: mremap(old range wraps, grow)", (long)syscall(SYS_mremap, m, -(uintptr_t)m + page, -(uintptr_t)m + 2 * page, 0, 0) == -1 ? -1 : 0);
    show("mremap(old range wraps, shrink)", (long)syscall(SYS_mremap, m, -(uintptr_t)m + 2 * page, page, 0, 0) == -1 ? -1 : 0);
    show("6.1: mremap(grow past 2^64, maymove)", (long)syscall(SYS_mremap, m, page, -(uintptr_t)m + page, MREMAP_MAYMOVE, 0) == -1 ? -1 : 0);
    show("mremap(fixed dest wraps)", (long)syscall(SYS_mremap, m, page, 2 * page, MREMAP_MAYMOVE | MREMAP_FIXED, (uintptr_t)-page) == -1 ? -1 : 0);

    // One private writable mapping larger than RAM and swap: the default
    // overcommit heuristic refuses it; MAP_NORESERVE or PROT_READ is not charged.
    show("mmap(2^41 rw private)", mmap(0, 1UL << 41, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
    void *nr = mmap(0, 1UL << 41, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    show("mmap(2^41 rw private noreserve)", nr == MAP_FAILED ? -1 : 0);
    if (nr != MAP_FAILED) munmap(nr, 1UL << 41);

    // clone3 with a stack whose top wraps (EINVAL before any child exists).
    uint64_t ca[11] = { 0 };
    ca[4] = SIGCHLD; ca[5] = (uint64_t)-page; ca[6] = 2 * page;
    show("clone3(stack + size wraps)", syscall(SYS_clone3, ca, 88));

    // poll's nfds is an unsigned int: the upper half of the register is not looked at.
    struct pollfd pfd = { .fd = -1 };
    show("poll(nfds 2^32 + 1)", syscall(SYS_poll, &pfd, (1UL << 32) + 1, 0));

    // Record locks at the ends of the offset range.
    int fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
    if (fd < 0) fd = open("/tmp/overflow-locks", O_CREAT | O_RDWR | O_TRUNC, 0600);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = LLONG_MAX, .l_len = 2 };
    show("F_SETLK(start LLONG_MAX, len 2)", fcntl(fd, F_SETLK, &fl));
    fl.l_start = 10; fl.l_len = LLONG_MIN;
    show("F_SETLK(len LLONG_MIN)", fcntl(fd, F_SETLK, &fl));
    fl.l_start = 1; fl.l_len = LLONG_MAX;
    show("F_SETLK(1, LLONG_MAX)", fcntl(fd, F_SETLK, &fl));
    lseek(fd, 100, SEEK_SET);
    fl.l_whence = SEEK_CUR; fl.l_start = LLONG_MAX; fl.l_len = 0;
    show("F_SETLK(SEEK_CUR + LLONG_MAX)", fcntl(fd, F_SETLK, &fl));
    fl.l_whence = SEEK_SET; fl.l_start = 0; fl.l_len = 0;
    show("F_SETLK(0, to the end)", fcntl(fd, F_SETLK, &fl));

    // tmpfs offsets past 2^63 and sums that wrap.
    int t = open("/tmp/overflow-data", O_CREAT | O_RDWR | O_TRUNC, 0600);
    show("pwrite(offset LLONG_MAX - 1, 4 bytes)", pwrite(t, "abcd", 4, LLONG_MAX - 1));
    show("mmap(shared, offset 2^63 - page)", mmap(0, 2 * page, PROT_READ, MAP_SHARED, t, (1UL << 63) - page) == MAP_FAILED ? -1 : 0);
    void *p = mmap(0, page, PROT_READ, MAP_PRIVATE, t, (off_t)((1UL << 63) - page));
    show("mmap(private, offset 2^63 - page)", p == MAP_FAILED ? -1 : 0);

    // A /proc file's offset plus SEEK_CUR/SEEK_END that wraps.
    int s = open("/proc/self/stat", O_RDONLY);
    lseek(s, 10, SEEK_SET);
    show("lseek(/proc, SEEK_CUR, LLONG_MAX)", lseek(s, LLONG_MAX, SEEK_CUR));
    show("lseek(/proc, SEEK_END, LLONG_MAX)", lseek(s, LLONG_MAX, SEEK_END));

    // An interval timer with the largest interval reads back without overflow.
    struct itimerval it = { .it_interval = { LONG_MAX, 999999 }, .it_value = { 1000, 0 } }, old;
    show("setitimer(interval LONG_MAX s)", setitimer(ITIMER_REAL, &it, 0));
    getitimer(ITIMER_REAL, &old);
    show("getitimer interval >= 2^62 ns", old.it_interval.tv_sec >= (1L << 62) / 1000000000 ? 1 : 0);
    it.it_value.tv_sec = LONG_MAX;
    setitimer(ITIMER_REAL, &it, 0);
    // The seconds left wrap to an unsigned int (how far depends on the clock).
    show("alarm(0) after setitimer(value LONG_MAX s) > 0", alarm(0) > 0 ? 1 : 0);
    it.it_value.tv_sec = 0; it.it_interval.tv_sec = 0; it.it_interval.tv_usec = 0;
    setitimer(ITIMER_REAL, &it, 0);

    // A signal delivered on an alternate stack whose end wraps: the frame
    // cannot be written, so the process dies of SIGSEGV, as on Linux.
    pid_t c = fork();
    if (c == 0) {
        stack_t ss = { .ss_sp = (void *)-page, .ss_size = 1UL << 63, .ss_flags = 0 };
        if (sigaltstack(&ss, 0) != 0) _exit(2);
        struct sigaction sa = { 0 };
        sa.sa_handler = (void (*)(int))1 + 1;
        sa.sa_flags = SA_ONSTACK;
        sigaction(SIGUSR1, &sa, 0);
        raise(SIGUSR1);
        _exit(3);
    }
    int st;
    waitpid(c, &st, 0);
    printf("signal on a wrapping alt stack: %s %d\n", WIFSIGNALED(st) ? "killed by" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));

    // A write to an eventfd adds one value and returns 8, however long the
    // buffer (a 32 MiB one once kept a task busy past SIGKILL); 6.9 and
    // later refuse any count but 8, so these two are checked against 6.1.
    int efd = eventfd(0, EFD_NONBLOCK);
    char *big = mmap(0, 32 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(big, 1, 32 << 20);
    show("6.1: write(eventfd, 32 MiB of ones)", write(efd, big, 32 << 20));
    uint64_t ev = 0;
    show("6.1: read(eventfd) == 0x0101010101010101", read(efd, &ev, 8) == 8 && ev == 0x0101010101010101ULL ? 0 : -1);
    show("write(eventfd, 4 bytes)", write(efd, big, 4));
    munmap(big, 32 << 20);

    // openat2 refuses what build_open_flags refuses.
    struct { uint64_t flags, mode, resolve; } how = { O_CREAT | O_DIRECTORY, 0600, 0 };
    show("openat2(O_CREAT|O_DIRECTORY)", syscall(SYS_openat2, AT_FDCWD, "/tmp/o2", &how, sizeof how));
    how.flags = O_PATH | O_CREAT; how.mode = 0;
    show("openat2(O_PATH|O_CREAT)", syscall(SYS_openat2, AT_FDCWD, "/tmp/o2", &how, sizeof how));
    how.flags = O_PATH | O_RDWR;
    show("openat2(O_PATH|O_RDWR)", syscall(SYS_openat2, AT_FDCWD, "/tmp", &how, sizeof how));
    how.flags = O_RDONLY; how.resolve = 0x08 | 0x10;
    show("openat2(RESOLVE_BENEATH|RESOLVE_IN_ROOT)", syscall(SYS_openat2, AT_FDCWD, "/tmp", &how, sizeof how));
    show("open(O_CREAT|O_DIRECTORY)", open("/tmp/o3", O_CREAT | O_DIRECTORY | O_RDWR, 0600));
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC; how.resolve = 0;
    show("openat2(O_PATH|O_DIRECTORY|O_CLOEXEC) ok", syscall(SYS_openat2, AT_FDCWD, "/tmp", &how, sizeof how) >= 0 ? 0 : -1);
    unlink("/tmp/overflow-data");
    unlink("/tmp/overflow-locks");
    return 0;
}
