// What the syscall fuzzer (images/src/fuzz.c) found on the surfaces merged
// after its first 10^6-call runs, each as a mode compared with a native run:
//
//   fuzzfound restart   a tracer leaves rax = 2^63 at a syscall-exit stop and
//                       resumes with a signal: not a restart code (the sentry
//                       trapped negating it)
//   fuzzfound pvm       process_vm_readv/writev's vectors as 6.1 reads them:
//                       no remote bytes is 0 before the pid is looked up, the
//                       remote vector is not capped, the local one is capped
//                       at MAX_RW_COUNT
//   fuzzfound iovec     readv's vector as import_iovec reads it: the total
//                       capped at MAX_RW_COUNT (not EINVAL), a base past user
//                       space EFAULT before anything moves
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static long raw3(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}
static long raw6(long nr, long a, long b, long c, long d, long e, long f) {
    long ret;
    register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return ret;
}
static void show(const char *what, long r) {
    if (r < 0 && r > -4096) printf("%s: %s\n", what, strerrorname_np((int)-r));
    else printf("%s: %ld\n", what, r);
}

static volatile sig_atomic_t handled;
static void on_usr1(int sig) { (void)sig; handled++; }

static int restart(void) {
    pid_t p = fork();
    if (p == 0) {
        signal(SIGUSR1, on_usr1);
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        long r = raw3(SYS_getppid, 0, 0, 0);
        printf("child: getppid returned %#lx, handler ran %d time(s)\n", (unsigned long)r, (int)handled);
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    ptrace(PTRACE_SETOPTIONS, p, 0, PTRACE_O_TRACESYSGOOD);
    int entry = 1;
    for (int i = 0; i < 100; i++) {
        ptrace(PTRACE_SYSCALL, p, 0, 0);
        if (waitpid(p, &st, 0) != p || !WIFSTOPPED(st)) break;
        if (WSTOPSIG(st) != (SIGTRAP | 0x80)) continue;
        long nr = ptrace(PTRACE_PEEKUSER, p, offsetof(struct user_regs_struct, orig_rax), 0);
        if (!entry && nr == SYS_getppid) {
            long r = ptrace(PTRACE_POKEUSER, p, offsetof(struct user_regs_struct, rax), (long)(1ULL << 63));
            printf("tracer: rax set to 2^63 at getppid's exit: %ld\n", r);
            ptrace(PTRACE_CONT, p, 0, SIGUSR1);
            // The signal's delivery stop, then the signal delivered: the
            // restart check runs on that rax.
            waitpid(p, &st, 0);
            printf("tracer: stop %s %d\n", WIFSTOPPED(st) ? "stopped" : "ended", WIFSTOPPED(st) ? WSTOPSIG(st) : st);
            if (WIFSTOPPED(st)) ptrace(PTRACE_CONT, p, 0, WSTOPSIG(st));
            break;
        }
        entry = !entry;
    }
    waitpid(p, &st, 0);
    printf("child: %s %d\n", WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    return 0;
}

static int pvm(void) {
    static char src[64] = "process_vm", dst[64];
    struct iovec local = { dst, 8 }, remote = { src, 8 };
    struct iovec none = { src, 0 };
    struct iovec huge[2] = { { src, 1UL << 62 }, { src, 1UL << 62 } };
    struct iovec bigl[2] = { { dst, 8 }, { dst, 1UL << 31 } };
    struct iovec neg = { src, (size_t)-1 };
    pid_t nobody = 0x3ffffff0;
    show("readv, no remote iovecs, no such pid", raw6(SYS_process_vm_readv, nobody, (long)&local, 1, 0, 0, 0));
    show("readv, an empty remote iovec, no such pid", raw6(SYS_process_vm_readv, nobody, (long)&local, 1, (long)&none, 1, 0));
    show("readv, 5000 remote iovecs, no local bytes", raw6(SYS_process_vm_readv, getpid(), (long)&local, 0, (long)&remote, 5000, 0));
    show("readv, 5000 remote iovecs", raw6(SYS_process_vm_readv, getpid(), (long)&local, 1, (long)&remote, 5000, 0));
    show("readv, a remote iovec of length -1", raw6(SYS_process_vm_readv, getpid(), (long)&local, 1, (long)&neg, 1, 0));
    show("readv, remote iovecs summing past 2^63", raw6(SYS_process_vm_readv, getpid(), (long)&local, 1, (long)huge, 2, 0));
    show("readv, local iovecs summing past INT_MAX", raw6(SYS_process_vm_readv, getpid(), (long)bigl, 2, (long)&remote, 1, 0));
    printf("read: %.8s\n", dst);
    show("writev, remote iovecs summing past 2^63", raw6(SYS_process_vm_writev, getpid(), (long)&remote, 1, (long)huge, 2, 0));
    return 0;
}

static int iovec(void) {
    static char buf[64];
    int p[2];
    if (pipe(p)) return 1;
    write(p[1], "hello", 5);
    struct iovec big[2] = { { buf, 0x80000000UL }, { buf, 0x80000000UL } };
    show("readv of 2 x 2^31 bytes from a pipe holding 5", raw3(SYS_readv, p[0], (long)big, 2));
    write(p[1], "again", 5);
    struct iovec past[2] = { { buf, 8 }, { (void *)0x7ffffffff000UL - 8, 16 } };
    show("readv with an iovec past user space", raw3(SYS_readv, p[0], (long)past, 2));
    struct iovec wrap[2] = { { buf, 8 }, { (void *)-4096L, 8 } };
    show("readv with an iovec at the top of the address space", raw3(SYS_readv, p[0], (long)wrap, 2));
    struct iovec neg[2] = { { (void *)-4096L, 8 }, { buf, (size_t)-1 } };
    show("readv, a bad base before a negative length", raw3(SYS_readv, p[0], (long)neg, 2));
    struct iovec ok = { buf, sizeof buf };
    write(p[1], "!", 1);
    show("readv, what is left", raw3(SYS_readv, p[0], (long)&ok, 1));
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, 0, _IONBF, 0);
    const char *m = argc > 1 ? argv[1] : "";
    if (!strcmp(m, "restart")) return restart();
    if (!strcmp(m, "pvm")) return pvm();
    if (!strcmp(m, "iovec")) return iovec();
    fprintf(stderr, "usage: fuzzfound restart|pvm|iovec\n");
    return 2;
}
