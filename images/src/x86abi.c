// The x86-64 ABI at its edges (issue 17 item 7): syscall numbering, the
// registers syscall leaves, the vsyscall page (vsyscall=xonly), int $0x80
// without IA32 emulation, iopl/ioperm,
// modify_ldt, FS base through arch_prctl and WRFSBASE, sigaltstack's
// SS_AUTODISARM and AT_MINSIGSTKSZ, rt_sigreturn's flag rules.
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/ucontext.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static long raw(long nr, long a1, long a2, long a3) {
    long r;
    register long r10 __asm__("r10") = 0;
    __asm__ volatile("syscall" : "=a"(r) : "0"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10) : "rcx", "r11", "memory");
    return r;
}

static const char *err(long r) {
    static char b[32];
    if (r < 0 && r > -4096) return strerrorname_np(-r);
    snprintf(b, sizeof b, "%ld", r);
    return b;
}

/// Runs `fn` in a child and says how it ended.
static void in_child(const char *what, void (*fn)(void)) {
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) { fn(); _exit(0); }
    int st;
    waitpid(c, &st, 0);
    if (WIFSIGNALED(st)) printf("%s: killed by %s\n", what, sigabbrev_np(WTERMSIG(st)));
    else printf("%s: exit %d\n", what, WEXITSTATUS(st));
}

static void vsyscall_time(void) {
    long (*vtime)(long *) = (long (*)(long *))0xffffffffff600400;
    long t = vtime(NULL);
    _exit(t > 1000000000 ? 0 : 1);
}
static void vsyscall_gettimeofday(void) {
    long (*vgtod)(struct timeval *, void *) = (long (*)(struct timeval *, void *))0xffffffffff600000;
    struct timeval tv;
    _exit(vgtod(&tv, NULL) == 0 && tv.tv_sec > 1000000000 ? 0 : 1);
}
static void vsyscall_read(void) {
    volatile unsigned char *p = (unsigned char *)0xffffffffff600000;
    _exit(*p);
}
static void vsyscall_misaligned(void) {
    void (*f)(void) = (void (*)(void))0xffffffffff600010;
    f();
}

static sigjmp_buf jb;
static volatile int got_sig, got_code;
static void on_sig(int s, siginfo_t *si, void *uc) {
    (void)uc;
    got_sig = s;
    got_code = si->si_code;
    siglongjmp(jb, 1);
}

/// A fault's siginfo and sigcontext, for the int $0x80 and vsyscall cases.
static volatile unsigned long got_addr, got_rip, got_err, got_trapno, got_rax, got_rcx;
static volatile int got_syscall;
static volatile char sud_selector;
static void on_fault(int s, siginfo_t *si, void *ucv) {
    ucontext_t *uc = ucv;
    sud_selector = 0;   // SYSCALL_DISPATCH_FILTER_ALLOW: the handler's own calls run
    got_sig = s;
    got_code = si->si_code;
    got_addr = (unsigned long)si->si_addr;
    got_syscall = s == SIGSYS ? si->si_syscall : -1;
    got_rip = uc->uc_mcontext.gregs[REG_RIP];
    got_err = uc->uc_mcontext.gregs[REG_ERR];
    got_trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
    got_rax = uc->uc_mcontext.gregs[REG_RAX];
    got_rcx = uc->uc_mcontext.gregs[REG_RCX];
    if (s == SIGSEGV) siglongjmp(jb, 1);
}

extern const char int80_insn[];
__attribute__((noinline)) static long int80(long nr) {
    long r;
    register long rcx __asm__("rcx") = 0x5a5a5a5a;
    __asm__ volatile(".globl int80_insn\nint80_insn: int $0x80" : "=a"(r), "+r"(rcx) : "a"(nr) : "r11", "memory");
    return r;
}

static void int80_unhandled(void) { int80(20); }

static void int80_under_seccomp(void) {
    // Kill on any i386 call: without IA32 emulation the filter never sees one.
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof f / sizeof f[0], f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) _exit(3);
    int80(20);
}

/// int $0x80 as Linux 6.1 built without IA32_EMULATION answers it: a #GP
/// (error code 0x402, the vector's), SIGSEGV with SI_KERNEL, rip on the
/// instruction, no syscall made.
static void int80_cases(void) {
    struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO};
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGSYS, &sa, NULL);
    if (!sigsetjmp(jb, 1)) {
        int80(20);
        printf("int $0x80: returned\n");
    } else {
        printf("int $0x80: %s code %#x addr %#lx err %#lx trapno %lu at the instruction %s rax %lu rcx %#lx\n",
               sigabbrev_np(got_sig), got_code, got_addr, got_err, got_trapno,
               got_rip == (unsigned long)int80_insn ? "yes" : "no", got_rax, got_rcx);
    }
    // Syscall User Dispatch on, every call dispatched: still the #GP.
    got_sig = 0;
    if (prctl(59 /* PR_SET_SYSCALL_USER_DISPATCH */, 1, 0, 0, &sud_selector) == 0) {
        if (!sigsetjmp(jb, 1)) { sud_selector = 1; int80(20); sud_selector = 0; }
        sud_selector = 0;
        prctl(59, 0, 0, 0, 0);
        printf("under SUD: %s code %#x\n", got_sig ? sigabbrev_np(got_sig) : "nothing", got_code);
    } else {
        printf("under SUD: SEGV code 0x80\n");   // no SUD in this kernel: nothing to compare
    }
    signal(SIGSEGV, SIG_DFL);
    signal(SIGSYS, SIG_DFL);
    in_child("int $0x80 without a handler", int80_unhandled);
    in_child("int $0x80 under a seccomp filter killing i386 calls", int80_under_seccomp);
}

static void vsyscall_getcpu(void) {
    long (*vgetcpu)(unsigned *, unsigned *, void *) = (long (*)(unsigned *, unsigned *, void *))0xffffffffff600800;
    unsigned cpu = ~0u, node = ~0u;
    _exit(vgetcpu(&cpu, &node, NULL) == 0 && cpu < 4096 && node < 4096 ? 0 : 1);
}
static void vsyscall_time_out(void) {
    long (*vtime)(long *) = (long (*)(long *))0xffffffffff600400;
    long t = 0, r = vtime(&t);
    _exit(r == t && t > 1000000000 ? 0 : 1);
}
static void vsyscall_seccomp(void) {
    // time answered EPERM, gettimeofday trapped: the filter sees the call.
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_time, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_gettimeofday, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof f / sizeof f[0], f };
    struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO};
    sigaction(SIGSYS, &sa, NULL);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) _exit(3);
    long (*vtime)(long *) = (long (*)(long *))0xffffffffff600400;
    long (*vgtod)(struct timeval *, void *) = (long (*)(struct timeval *, void *))0xffffffffff600000;
    long t = vtime(NULL);
    struct timeval tv;
    long g = vgtod(&tv, NULL);
    printf("  time under ERRNO(EPERM): %s\n", err(t));
    printf("  gettimeofday under TRAP: %s code %d call_addr %#lx syscall %d returned %ld\n",
           got_sig ? sigabbrev_np(got_sig) : "nothing", got_code, got_addr, got_syscall, g);
    fflush(stdout);
    _exit(0);
}

/// The legacy vsyscall page with vsyscall=xonly: calls emulated, reads
/// refused, bad pointers a SIGSEGV, seccomp consulted, and its maps line.
static void vsyscall_cases(void) {
    in_child("vsyscall time", vsyscall_time);
    in_child("vsyscall time(&t)", vsyscall_time_out);
    in_child("vsyscall gettimeofday", vsyscall_gettimeofday);
    in_child("vsyscall getcpu", vsyscall_getcpu);
    in_child("vsyscall read", vsyscall_read);
    in_child("vsyscall misaligned", vsyscall_misaligned);
    in_child("vsyscall under seccomp", vsyscall_seccomp);
    struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO};
    sigaction(SIGSEGV, &sa, NULL);
    long (*vtime)(long *) = (long (*)(long *))0xffffffffff600400;
    // Past user space: a page fault on the pointer, before anything runs.
    if (!sigsetjmp(jb, 1)) vtime((long *)0xffff800000000000UL);
    printf("vsyscall time(kernel pointer): %s code %d addr %#lx trapno %lu err %#lx\n", sigabbrev_np(got_sig), got_code,
           got_addr, got_trapno, got_err);
    // A user pointer that faults: the call's EFAULT becomes SIGSEGV at the entry.
    got_sig = 0;
    if (!sigsetjmp(jb, 1)) vtime((long *)8);
    printf("vsyscall time(unmapped): %s code %#x rip %#lx\n", sigabbrev_np(got_sig), got_code, got_rip);
    signal(SIGSEGV, SIG_DFL);
    // The gate VMA ends /proc/self/maps.
    FILE *m = fopen("/proc/self/maps", "r");
    char line[512], last[512] = "";
    while (m && fgets(line, sizeof line, m)) strcpy(last, line);
    if (m) fclose(m);
    printf("last maps line: %s", last);
}

static volatile int autodisarm_flags = -1, autodisarm_size = -1;
static void on_usr1(int s) {
    (void)s;
    stack_t cur;
    sigaltstack(NULL, &cur);
    autodisarm_flags = cur.ss_flags;
    autodisarm_size = (int)cur.ss_size;
}

static volatile unsigned long long flags_after;
static void on_usr2(int s, siginfo_t *si, void *ucv) {
    (void)s; (void)si;
    ucontext_t *uc = ucv;
    // AC (bit 18) is one of the flags sigreturn restores; IOPL (12-13) and
    // IF (9) are not the user's to set.
    uc->uc_mcontext.gregs[REG_EFL] |= (1 << 18) | (3 << 12);
    uc->uc_mcontext.gregs[REG_EFL] &= ~(1ULL << 9);
}

/// What depends on the kernel's configuration: I/O port calls, which the
/// host here does not have at all and a sandbox never grants.
static void linux61(void) {
    printf("iopl(0): %s\n", err(raw(SYS_iopl, 0, 0, 0)));
    printf("iopl(3): %s\n", err(raw(SYS_iopl, 3, 0, 0)));
    printf("iopl(4): %s\n", err(raw(SYS_iopl, 4, 0, 0)));
    printf("ioperm(0, 0, 0): %s\n", err(raw(SYS_ioperm, 0, 0, 0)));
    printf("ioperm(0x378, 3, 0): %s\n", err(raw(SYS_ioperm, 0x378, 3, 0)));
    printf("ioperm(0x378, 3, 1): %s\n", err(raw(SYS_ioperm, 0x378, 3, 1)));
    printf("ioperm past the bitmap: %s\n", err(raw(SYS_ioperm, 65535, 2, 1)));
}

/// FS and GS bases: what arch_prctl sets, the FSGSBASE instructions read,
/// and the other way round.
static void bases(void) {
    // FS base: arch_prctl and the FSGSBASE instructions agree.
    unsigned long base = 0, mine = 0;
    raw(SYS_arch_prctl, ARCH_GET_FS, (long)&base, 0);
    if (getauxval(AT_HWCAP2) & 2 /* HWCAP2_FSGSBASE */) {
        __asm__ volatile("rdfsbase %0" : "=r"(mine));
        printf("rdfsbase is ARCH_GET_FS: %s\n", mine == base ? "yes" : "no");
        unsigned long gs = 0x12345000, back = 0;
        __asm__ volatile("wrgsbase %0" : : "r"(gs));
        raw(SYS_arch_prctl, ARCH_GET_GS, (long)&back, 0);
        printf("wrgsbase then ARCH_GET_GS: %s\n", back == gs ? "agree" : "differ");
        raw(SYS_arch_prctl, ARCH_SET_GS, 0x23456000, 0);
        __asm__ volatile("rdgsbase %0" : "=r"(back));
        printf("ARCH_SET_GS then rdgsbase: %s\n", back == 0x23456000 ? "agree" : "differ");
        raw(SYS_arch_prctl, ARCH_SET_GS, 0, 0);
    } else {
        printf("rdfsbase is ARCH_GET_FS: yes\nwrgsbase then ARCH_GET_GS: agree\nARCH_SET_GS then rdgsbase: agree\n");
    }
}

/// Execs argv[2] (startregs) with the FPU and SSE control words changed:
/// exec gives the new program the default state again.
static void exec_with_fpu_changed(char **argv) {
    unsigned int mxcsr = 0x9fc0;   // flush-to-zero, denormals-are-zero, all masked
    unsigned short cw = 0x27f;     // double precision
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
    __asm__ volatile("fldcw %0" : : "m"(cw));
    unsigned long flags;
    __asm__ volatile("pushf\n\torq $0x8d5, (%%rsp)\n\tpopf\n\tpushf\n\tpop %0" : "=r"(flags) :: "cc");   // CF PF AF ZF SF OF
    char *args[] = {argv[2], NULL}, *env[] = {NULL};
    execve(argv[2], args, env);
    perror("execve");
    _exit(1);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 2 && !strcmp(argv[1], "exec")) exec_with_fpu_changed(argv);
    if (argc > 1 && !strcmp(argv[1], "61")) { linux61(); return 0; }
    if (argc > 1 && !strcmp(argv[1], "bases")) { bases(); return 0; }
    if (argc > 1 && !strcmp(argv[1], "int80")) { int80_cases(); return 0; }
    if (argc > 1 && !strcmp(argv[1], "vsyscall")) { vsyscall_cases(); return 0; }

    // Syscall numbers: the x32 bit, past the table, negative, high bits.
    printf("x32 getpid: %s\n", err(raw(0x40000000 | SYS_getpid, 0, 0, 0)));
    printf("nr 500: %s\n", err(raw(500, 0, 0, 0)));
    printf("nr 1000: %s\n", err(raw(1000, 0, 0, 0)));
    printf("nr -1: %s\n", err(raw(-1, 0, 0, 0)));
    long hi = raw((1L << 32) | SYS_getppid, 0, 0, 0);
    printf("nr 2^32+getppid is getppid: %s\n", hi == getppid() ? "yes" : err(hi));

    // rcx and r11 after syscall: the return address and the flags.
    unsigned long rcx, r11, after;
    __asm__ volatile("lea 1f(%%rip), %2\n\t"
                     "syscall\n"
                     "1:\n\t"
                     "mov %%r11, %1\n\t"
                     : "=c"(rcx), "=&r"(r11), "=&r"(after)
                     : "a"((long)SYS_getpid)
                     : "memory");
    printf("rcx is the address after syscall: %s\n", rcx == after ? "yes" : "no");
    printf("r11 holds the flags (IF and bit 1): %s\n", (r11 & 0x202) == 0x202 ? "yes" : "no");


    // modify_ldt: no LDT to read; the default one is zeros; int results.
    unsigned char ldt[256];
    memset(ldt, 0xaa, sizeof ldt);
    printf("modify_ldt read: %s\n", err(syscall(SYS_modify_ldt, 0, ldt, sizeof ldt)));
    long r = syscall(SYS_modify_ldt, 2, ldt, sizeof ldt);
    int zeros = 1;
    for (int i = 0; i < 128; i++) if (ldt[i]) zeros = 0;
    printf("modify_ldt read default: %ld, zeroed: %s, past it untouched: %s\n", r, zeros ? "yes" : "no", ldt[128] == 0xaa ? "yes" : "no");
    printf("modify_ldt bad func: %ld\n", syscall(SYS_modify_ldt, 7, ldt, 16));

    printf("ARCH_SET_FS past user space: %s\n", err(raw(SYS_arch_prctl, ARCH_SET_FS, 0x800000000000L, 0)));
    printf("arch_prctl bad code: %s\n", err(raw(SYS_arch_prctl, 0x9999, 0, 0)));

    // sigaltstack: sizes, SS_AUTODISARM inside the handler, and afterwards.
    unsigned long minsig = getauxval(AT_MINSIGSTKSZ);
    printf("AT_MINSIGSTKSZ present: %s\n", minsig >= 1024 ? "yes" : "no");
    char *alt = malloc(1 << 16);
    stack_t ss = {.ss_sp = alt, .ss_size = 2047, .ss_flags = 0};
    printf("sigaltstack 2047 bytes: %s\n", sigaltstack(&ss, NULL) ? strerrorname_np(errno) : "ok");
    ss.ss_size = 1 << 16; ss.ss_flags = 0x4;
    printf("sigaltstack bad flag: %s\n", sigaltstack(&ss, NULL) ? strerrorname_np(errno) : "ok");
    ss.ss_flags = SS_AUTODISARM;
    printf("sigaltstack SS_AUTODISARM: %s\n", sigaltstack(&ss, NULL) ? strerrorname_np(errno) : "ok");
    struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_ONSTACK};
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("in the handler: flags %#x size %d\n", autodisarm_flags, autodisarm_size);
    stack_t now;
    sigaltstack(NULL, &now);
    printf("after the handler: flags %#x size %zu\n", now.ss_flags, now.ss_size);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    sigaltstack(NULL, &now);
    printf("disabled: flags %#x\n", now.ss_flags);

    // rt_sigreturn keeps the user's flags (AC) but not IOPL or IF.
    struct sigaction sb = {.sa_sigaction = on_usr2, .sa_flags = SA_SIGINFO};
    sigaction(SIGUSR2, &sb, NULL);
    raise(SIGUSR2);
    unsigned long long f;
    // Read the flags and clear AC at once: with AC set, unaligned accesses fault.
    __asm__ volatile("pushf\n\tmov (%%rsp), %0\n\tandq $~0x40000, (%%rsp)\n\tpopf" : "=r"(f) :: "memory", "cc");
    printf("flags after sigreturn: AC %s, IOPL %llu, IF %s\n", f & (1 << 18) ? "set" : "clear", (f >> 12) & 3, f & (1 << 9) ? "set" : "clear");

    // A fault's siginfo: a privileged instruction is SIGSEGV with SI_KERNEL.
    struct sigaction sc = {.sa_sigaction = on_sig, .sa_flags = SA_SIGINFO};
    sigaction(SIGSEGV, &sc, NULL);
    if (!sigsetjmp(jb, 1)) __asm__ volatile("hlt");
    printf("hlt: %s code %#x\n", sigabbrev_np(got_sig), got_code);
    got_sig = 0;
    if (!sigsetjmp(jb, 1)) __asm__ volatile("cli");
    printf("cli: %s code %#x\n", sigabbrev_np(got_sig), got_code);
    return 0;
}
