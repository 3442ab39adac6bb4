#define _GNU_SOURCE   // REG_RAX
// Syscall User Dispatch as prctl(2) and Documentation/admin-guide/syscall-user-dispatch.rst
// describe it: the errors, on/off, selector flips, the allowed region, a handler that
// emulates the call through rax, a NULL selector with a restorer inside the region, bad
// and unreadable selectors, a signal under BLOCK, a dispatch with SIGSYS blocked,
// fork and execve, SUD before seccomp. Prints what it sees,
// for comparison with the native run.
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#define PR_SYS_DISPATCH_ON 1
#define ALLOW 0
#define BLOCK 1
#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2
#endif

// The allowed region: a raw syscall and an rt_sigreturn restorer, in a section of their own.
long region_syscall(long nr, long a, long b, long c, long d, long e);
void region_restorer(void);
asm(".pushsection sud_region,\"ax\",@progbits\n"
    ".globl region_syscall\nregion_syscall:\n"
    "  mov %rdi, %rax\n  mov %rsi, %rdi\n  mov %rdx, %rsi\n  mov %rcx, %rdx\n  mov %r8, %r10\n  mov %r9, %r8\n"
    "  syscall\n  ret\n"
    ".globl region_restorer\nregion_restorer:\n  mov $15, %eax\n  syscall\n  hlt\n"
    ".popsection\n");
extern char __start_sud_region[], __stop_sud_region[];

// getppid from outside the region; outside_after is its return address.
long outside_getpid(void);
asm(".text\n.globl outside_getpid\noutside_getpid:\n  mov $39, %eax\n  syscall\n"
    ".globl outside_after\noutside_after:\n  ret\n");
extern char outside_after[];

static volatile char selector = ALLOW;
static volatile int caught, got_code, got_errno, got_syscall, got_at_return;
static volatile unsigned got_arch;
static volatile long got_rax;

static void on_sigsys(int sig, siginfo_t *si, void *p) {
    ucontext_t *uc = p;
    selector = ALLOW;   // the handler's own calls and its rt_sigreturn go through
    caught++;
    got_code = si->si_code;
    got_errno = si->si_errno;
    got_syscall = si->si_syscall;
    got_arch = si->si_arch;
    got_at_return = si->si_call_addr == (void *)outside_after;
    got_rax = uc->uc_mcontext.gregs[REG_RAX];
    uc->uc_mcontext.gregs[REG_RAX] = 4242;   // the emulated call's result
    (void)sig;
}

static void report(const char *what, long r) {
    printf("%s: ret=%ld caught=%d code=%d errno=%d syscall=%d arch=%#x at_return=%d rax_in_handler=%ld\n", what, r, caught,
           got_code, got_errno, got_syscall, got_arch, got_at_return, got_rax);
    caught = 0; got_code = got_errno = got_syscall = got_at_return = 0; got_arch = 0; got_rax = 0;
}

static void err(const char *what, long r) { printf("%s: %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "ok"); }

static long sud(unsigned long mode, unsigned long off, unsigned long len, void *sel) {
    return prctl(PR_SET_SYSCALL_USER_DISPATCH, mode, off, len, sel);
}

static void status(const char *what, int st) {
    if (WIFSIGNALED(st)) printf("%s: killed by signal %d\n", what, WTERMSIG(st));
    else printf("%s: exited %d\n", what, WEXITSTATUS(st));
}

static volatile int usr1;
static void on_usr1(int sig) { usr1++; selector = ALLOW; (void)sig; }

static void on_null(int sig, siginfo_t *si, void *p) {
    ucontext_t *uc = p;
    caught++;
    got_code = si->si_code;
    got_syscall = si->si_syscall;
    uc->uc_mcontext.gregs[REG_RAX] = 777;
    (void)sig;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "exec-child") == 0) {
        // execve turned SUD off: a blocked selector byte means nothing now.
        struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
        sigaction(SIGSYS, &sa, NULL);
        selector = BLOCK;
        long r = outside_getpid();
        selector = ALLOW;
        printf("after exec: %s caught=%d\n", r > 0 ? "pid" : "no pid", caught);
        return 0;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    char page_sel = ALLOW;

    // The errors.
    err("off with an offset", sud(PR_SYS_DISPATCH_OFF, 1, 0, NULL));
    err("off with a length", sud(PR_SYS_DISPATCH_OFF, 0, 1, NULL));
    err("off with a selector", sud(PR_SYS_DISPATCH_OFF, 0, 0, &page_sel));
    err("bad mode", sud(2, 0, 0, NULL));
    err("region that wraps", sud(PR_SYS_DISPATCH_ON, ~0UL - 10, 100, &page_sel));
    err("empty region at an offset", sud(PR_SYS_DISPATCH_ON, 4096, 0, &page_sel));
    err("kernel selector", sud(PR_SYS_DISPATCH_ON, 0, 0, (void *)0xffff888000000000UL));
    // Only access_ok at prctl time: an unmapped selector is taken (and turned
    // off again from the region before any other call would read it).
    long on = region_syscall(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, (long)__start_sud_region,
                             __stop_sud_region - __start_sud_region, 0x1000);
    long offr = region_syscall(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
    printf("unmapped selector: on=%ld off=%ld\n", on, offr);
    err("off", sud(PR_SYS_DISPATCH_OFF, 0, 0, NULL));
    err("on with an empty region at 0", sud(PR_SYS_DISPATCH_ON, 0, 0, (void *)&selector));
    err("off again", sud(PR_SYS_DISPATCH_OFF, 0, 0, NULL));

    struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
    sigaction(SIGSYS, &sa, NULL);

    // On, the selector flipping between ALLOW and BLOCK.
    err("on", sud(PR_SYS_DISPATCH_ON, 0, 0, (void *)&selector));
    long r = outside_getpid();
    report("allowed", r > 0 ? 1 : r);
    selector = BLOCK;
    r = outside_getpid();
    report("blocked", r);
    selector = BLOCK;
    r = syscall(SYS_getpid);   // libc's syscall(): dispatched, the handler answers 4242
    report("blocked libc call", r);
    for (int i = 0; i < 3; i++) { selector = BLOCK; r = outside_getpid(); }
    report("three more", r);
    err("off while on", sud(PR_SYS_DISPATCH_OFF, 0, 0, NULL));
    selector = BLOCK;
    r = outside_getpid();
    selector = ALLOW;
    report("after off", r > 0 ? 1 : r);

    // The allowed region: its calls are never dispatched.
    err("on with the region", sud(PR_SYS_DISPATCH_ON, (unsigned long)__start_sud_region,
                                  __stop_sud_region - __start_sud_region, (void *)&selector));
    selector = BLOCK;
    r = region_syscall(SYS_getpid, 0, 0, 0, 0, 0);
    long r2 = outside_getpid();
    selector = ALLOW;
    report("region then outside", r > 0 && r2 == 4242 ? 1 : -1);
    err("off", sud(PR_SYS_DISPATCH_OFF, 0, 0, NULL));

    // A NULL selector: everything outside the region is dispatched, so the
    // handler makes no call and returns through a restorer in the region.
    struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } ksa = {
        (void *)on_null, SA_SIGINFO | 0x04000000 /* SA_RESTORER */, (void *)region_restorer, 0 };
    r = region_syscall(SYS_rt_sigaction, SIGSYS, (long)&ksa, 0, 8, 0);
    err("raw sigaction", r);
    long onr = sud(PR_SYS_DISPATCH_ON, (unsigned long)__start_sud_region, __stop_sud_region - __start_sud_region, NULL);
    r = outside_getpid();   // nothing may print before SUD is off again
    r2 = region_syscall(SYS_getpid, 0, 0, 0, 0, 0);
    long off = region_syscall(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
    printf("null selector: on=%ld ret=%ld caught=%d code=%d syscall=%d region_call=%s off=%ld\n", onr, r, caught, got_code, got_syscall,
           r2 > 0 ? "ok" : "failed", off);
    caught = 0;
    sigaction(SIGSYS, &sa, NULL);

    // A signal arriving while the selector blocks: its handler makes no
    // call and lets its own rt_sigreturn through.
    struct sigaction su = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
    sigaction(SIGUSR1, &su, NULL);
    pid_t me = getpid(), tid = gettid();
    err("on with the region", sud(PR_SYS_DISPATCH_ON, (unsigned long)__start_sud_region,
                                  __stop_sud_region - __start_sud_region, (void *)&selector));
    selector = BLOCK;
    r = region_syscall(SYS_tgkill, me, tid, SIGUSR1, 0, 0);
    selector = ALLOW;
    printf("signal under BLOCK: tgkill=%ld usr1=%d caught=%d\n", r, usr1, caught);
    err("off", sud(PR_SYS_DISPATCH_OFF, 0, 0, NULL));

    // A dispatch while SIGSYS is blocked: forced, so the default action kills.
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGSYS);
        sigprocmask(SIG_BLOCK, &set, NULL);
        sud(PR_SYS_DISPATCH_ON, 0, 0, (void *)&selector);
        selector = BLOCK;
        outside_getpid();
        _exit(3);
    }
    int st;
    waitpid(pid, &st, 0);
    status("SIGSYS blocked", st);

    // fork: the child starts with SUD off, the parent keeps it.
    err("on", sud(PR_SYS_DISPATCH_ON, 0, 0, (void *)&selector));
    pid = fork();
    if (pid == 0) {
        selector = BLOCK;
        long c = outside_getpid();
        selector = ALLOW;
        printf("child after fork: %s caught=%d\n", c > 0 ? "pid" : "no pid", caught);
        _exit(0);
    }
    waitpid(pid, &st, 0);
    status("fork child", st);
    selector = BLOCK;
    r = outside_getpid();
    selector = ALLOW;
    report("parent after fork", r);

    // A selector byte that is neither ALLOW nor BLOCK, and one that cannot be
    // read: the process dies of SIGSYS or SIGSEGV, whatever its handler.
    pid = fork();
    if (pid == 0) {
        sud(PR_SYS_DISPATCH_ON, 0, 0, (void *)&selector);
        selector = 2;
        outside_getpid();
        _exit(3);
    }
    waitpid(pid, &st, 0);
    status("bad selector", st);
    pid = fork();
    if (pid == 0) {
        char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        *p = ALLOW;
        sud(PR_SYS_DISPATCH_ON, 0, 0, p);
        region_syscall(SYS_munmap, (long)p, 4096, 0, 0, 0);   // the call itself comes from the region
        outside_getpid();
        _exit(3);
    }
    waitpid(pid, &st, 0);
    status("unreadable selector", st);

    // SUD comes before seccomp: a blocked call outside the region is
    // dispatched, not failed by the filter; from the region, the filter answers.
    pid = fork();
    if (pid == 0) {
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { 4, f };
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) { perror("seccomp"); _exit(1); }
        sud(PR_SYS_DISPATCH_ON, (unsigned long)__start_sud_region, __stop_sud_region - __start_sud_region, (void *)&selector);
        selector = BLOCK;
        long a = outside_getpid();
        long b = region_syscall(SYS_getpid, 0, 0, 0, 0, 0);
        selector = ALLOW;
        long c = outside_getpid();
        printf("with seccomp: dispatched=%ld region=%ld allowed_outside=%ld caught=%d\n", a, b, c, caught);
        _exit(0);
    }
    waitpid(pid, &st, 0);
    status("seccomp child", st);

    // execve: the new program starts with SUD off.
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        sud(PR_SYS_DISPATCH_ON, 0, 0, (void *)&selector);
        execl("/proc/self/exe", argv[0], "exec-child", (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    status("exec child", st);
    return 0;
}
