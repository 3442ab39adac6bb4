// Functional tests of process_vm_exec, run inside the VM (static binary).
// The guest is a forked copy of this program, so guest code and its stack
// sit at the same addresses in the child's mm; the child just waits.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <asm/prctl.h>
#include <unistd.h>
#include <linux/process_vm_exec.h>

#define NR_process_vm_exec 1000

static int failures;
#define CHECK(cond, ...) do { if (cond) printf("ok   " __VA_ARGS__); else { printf("FAIL " __VA_ARGS__); failures++; } printf("\n"); } while (0)

static char guest_stack[65536] __attribute__((aligned(16)));

// Guest code: two syscalls with known arguments, the second passing back what
// the first returned; then a read of an unmapped address.
extern char guest_syscalls[], guest_after_first[], guest_fault[], guest_spin[], guest_count[], guest_fsbase[], guest_fpu[], guest_pkru[], guest_pkru_spin[];
__asm__(
    ".text\n"
    "guest_syscalls:\n"
    "  mov $39, %eax\n mov $11, %rdi\n mov $22, %rsi\n mov $33, %rdx\n mov $44, %r10\n mov $55, %r8\n mov $66, %r9\n"
    "  syscall\n"
    "guest_after_first:\n"
    "  mov %rax, %rdi\n mov $60, %eax\n syscall\n"
    "guest_fault:\n"
    "  mov 0x1234, %rax\n"
    "  hlt\n"
    "guest_spin:\n"
    "  jmp guest_spin\n"
    "guest_count:\n"
    "  inc %rax\n jmp guest_count\n"
    "guest_fsbase:\n"
    "  rdfsbase %rdi\n mov $0x5555000, %rsi\n wrfsbase %rsi\n mov $1, %eax\n syscall\n"
    "guest_fpu:\n"
    "  mov $0x4141414141414141, %rax\n movq %rax, %xmm0\n mov $2, %eax\n syscall\n"
    // PKRU: reads the value it starts with, closes key 0 (which the caller's
    // pages and its own have), and calls, touching no memory.
    "guest_pkru:\n"
    "  xor %ecx, %ecx\n rdpkru\n mov %rax, %rdi\n"
    "  mov $3, %eax\n xor %ecx, %ecx\n xor %edx, %edx\n wrpkru\n mov $39, %eax\n syscall\n"
    "guest_pkru_spin:\n"
    "  mov $3, %eax\n xor %ecx, %ecx\n xor %edx, %edx\n wrpkru\n"
    "1: jmp 1b\n");

static long vm_exec(pid_t pid, struct process_vm_exec_context *ctx, siginfo_t *info, sigset_t *mask) {
    return syscall(NR_process_vm_exec, pid, ctx, 0, info, mask, 8);   // the kernel's sigset_t, not glibc's
}

static struct process_vm_exec_context context_at(void *ip) {
    struct process_vm_exec_context c = { .version = PROCESS_VM_EXEC_CONTEXT_V2, .size = sizeof c };
    c.regs.rip = (uint64_t)ip;
    c.regs.rsp = (uint64_t)(guest_stack + sizeof guest_stack - 64);
    c.regs.eflags = 0x202;
    return c;
}

static void on_alarm(int s) { (void)s; }

int main(void) {
    // Found by name, as the sentry finds it.
    FILE *k = fopen("/proc/kallsyms", "r");
    char line[256]; int named = 0;
    while (k && fgets(line, sizeof line, k)) if (strstr(line, " __x64_sys_process_vm_exec\n")) named = 1;
    CHECK(named, "kallsyms names __x64_sys_process_vm_exec");

    pid_t child = fork();
    if (child == 0) { for (;;) pause(); }

    sigset_t none; sigemptyset(&none);
    siginfo_t info;
    struct process_vm_exec_context c = context_at(guest_syscalls);

    // 1. A system call comes back as SIGSYS with its number and arguments, unexecuted.
    memset(&info, 0, sizeof info);
    long r = vm_exec(child, &c, &info, &none);
    CHECK(r == 0, "trap returns 0 (got %ld, errno %d)", r, errno);
    CHECK(info.si_signo == SIGSYS && info.si_syscall == 39, "SIGSYS with si_syscall 39 (got sig %d nr %d)", info.si_signo, info.si_syscall);
    CHECK(c.regs.orig_rax == 39 && c.regs.rdi == 11 && c.regs.rsi == 22 && c.regs.rdx == 33 && c.regs.r10 == 44 && c.regs.r8 == 55 && c.regs.r9 == 66,
          "registers carry the number and six arguments");
    CHECK(c.regs.rip == (uint64_t)guest_after_first && (uint64_t)info.si_call_addr == (uint64_t)guest_after_first,
          "rip and si_call_addr point after the syscall instruction");
    CHECK(kill(child, 0) == 0, "the target is untouched (getpid was not run in it)");

    // 2. Resuming with rax set: the guest sees the sentry's answer.
    c.regs.rax = 4242;
    r = vm_exec(child, &c, &info, &none);
    CHECK(r == 0 && info.si_syscall == 60 && c.regs.rdi == 4242, "resumed guest passes on the answer (exit(4242) trapped)");

    // 3. A fault comes back as SIGSEGV with the address.
    c.regs.rip = (uint64_t)guest_fault;
    sigset_t segv; sigemptyset(&segv); sigaddset(&segv, SIGSEGV);
    memset(&info, 0, sizeof info);
    r = vm_exec(child, &c, &info, &segv);
    CHECK(r == 0 && info.si_signo == SIGSEGV && (uint64_t)info.si_addr == 0x1234, "fault: SIGSEGV at 0x1234 (sig %d addr %p)", info.si_signo, info.si_addr);
    CHECK(c.regs.rip == (uint64_t)guest_fault, "fault: rip at the faulting instruction");

    // 4. A signal from the mask ends the guest's turn and is dequeued into info.
    signal(SIGALRM, on_alarm);
    sigset_t alrm; sigemptyset(&alrm); sigaddset(&alrm, SIGALRM);
    c = context_at(guest_spin);
    alarm(1);
    memset(&info, 0, sizeof info);
    r = vm_exec(child, &c, &info, &alrm);
    CHECK(r == 0 && info.si_signo == SIGALRM, "signal in the mask: dequeued into info (sig %d)", info.si_signo);
    // ...and a signal outside it interrupts the call and goes to its handler.
    alarm(1);
    r = vm_exec(child, &c, &info, &none);
    CHECK(r == -1 && errno == EINTR, "signal outside the mask: EINTR (r %ld errno %d)", r, errno);
    // The guest's registers come back with EINTR too: where it got to, so a
    // caller resumes it there and not where the turn began.
    c = context_at(guest_count);
    alarm(1);
    r = vm_exec(child, &c, &info, &none);
    CHECK(r == -1 && errno == EINTR && c.regs.rax > 0 && c.regs.rip >= (uint64_t)guest_count && c.regs.rip < (uint64_t)guest_fsbase,
          "EINTR: the context holds the guest's progress (rax %llu)", (unsigned long long)c.regs.rax);

    // 5. FS base: the guest's is its own; the caller's survives a guest WRFSBASE.
    unsigned long myfs = 0;
    syscall(SYS_arch_prctl, ARCH_GET_FS, &myfs);
    if (getauxval(AT_HWCAP2) & 2) {
        c = context_at(guest_fsbase);
        c.regs.fs_base = 0x7000000;
        r = vm_exec(child, &c, &info, &none);
        unsigned long after = 0;
        syscall(SYS_arch_prctl, ARCH_GET_FS, &after);
        CHECK(r == 0 && c.regs.rdi == 0x7000000, "guest starts with its own fs base (rdfsbase %#lx)", (unsigned long)c.regs.rdi);
        CHECK(c.regs.fs_base == 0x5555000, "guest's WRFSBASE comes back in the context (%#lx)", (unsigned long)c.regs.fs_base);
        CHECK(after == myfs, "caller's fs base survives (%#lx == %#lx)", after, myfs);
    } else {
        printf("skip FS base tests: no FSGSBASE on this CPU\n");
    }
    static __thread int tls = 77;
    CHECK(tls == 77, "caller's TLS still reads through fs");

    // 6. FPU: the kernel leaves it as the guest left it; the caller saves its own.
    static uint8_t area[4096] __attribute__((aligned(64)));
    double keep = 1.5;
    __asm__ volatile("movq %0, %%xmm0" :: "r"(*(uint64_t *)&keep) : "xmm0");
    __asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t (*)[512])area));
    c = context_at(guest_fpu);
    vm_exec(child, &c, &info, &none);
    uint64_t seen;
    __asm__ volatile("movq %%xmm0, %0" : "=r"(seen));
    __asm__ volatile("fxrstor64 %0" :: "m"(*(uint8_t (*)[512])area));
    uint64_t restored;
    __asm__ volatile("movq %%xmm0, %0" : "=r"(restored));
    CHECK(seen == 0x4141414141414141ULL, "guest's xmm0 reaches the caller untouched by the kernel");
    CHECK(restored == *(uint64_t *)&keep, "caller's own FPU state is back after its xrstor");

    // 6b. PKRU: the guest's comes from the context and goes back in it; the
    // caller's is in force when the kernel writes the caller's context,
    // siginfo and signal frame, and when the call returns, even after the
    // guest closed key 0.
    unsigned a7 = 7, b7, c7 = 0, d7;
    __asm__ volatile("cpuid" : "+a"(a7), "=b"(b7), "+c"(c7), "=d"(d7));
    if ((c7 >> 4) & 1) {
        unsigned own, now;
        __asm__ volatile("rdpkru" : "=a"(own) : "c"(0) : "rdx");
        c = context_at(guest_pkru);
        c.pkru = 0xc;
        memset(&info, 0, sizeof info);
        r = vm_exec(child, &c, &info, &none);
        __asm__ volatile("rdpkru" : "=a"(now) : "c"(0) : "rdx");
        CHECK(r == 0 && info.si_signo == SIGSYS && info.si_syscall == 39, "key 0 closed: the trap reaches the caller (r %ld sig %d)", r, info.si_signo);
        CHECK(c.regs.rdi == 0xc, "guest starts with the context's PKRU (%#llx)", (unsigned long long)c.regs.rdi);
        CHECK(c.pkru == 3, "guest's PKRU comes back in the context (%#x)", c.pkru);
        CHECK(now == own, "caller's PKRU is back (%#x == %#x)", now, own);
        // A signal outside the mask: the handler's frame is on the caller's stack.
        c = context_at(guest_pkru_spin);
        c.pkru = own;
        alarm(1);
        r = vm_exec(child, &c, &info, &none);
        __asm__ volatile("rdpkru" : "=a"(now) : "c"(0) : "rdx");
        CHECK(r == -1 && errno == EINTR && c.pkru == 3 && now == own, "key 0 closed, then a signal: EINTR, handler run (pkru %#x, caller's %#x)", c.pkru, now);
    } else {
        printf("skip PKRU tests: no protection keys on this CPU\n");
    }

    // 7. rseq: the caller's area stays the caller's: after many guest turns it still
    // names this CPU and the caller was never killed for a bad rseq access.
    int ok = 1;
    for (int i = 0; i < 2000; i++) {
        c = context_at(guest_syscalls);
        if (vm_exec(child, &c, &info, &none) != 0) { ok = 0; break; }
        if (i % 200 == 0) sched_yield();
    }
    CHECK(ok, "2000 guest turns with yields in between");
    CHECK(sched_getcpu() >= 0, "rseq-backed sched_getcpu still answers (%d)", sched_getcpu());

    // 8. Errors.
    c = context_at(guest_syscalls);
    CHECK(vm_exec(999999, &c, &info, &none) == -1 && errno == ESRCH, "no such pid: ESRCH");
    c.version = 99;
    CHECK(vm_exec(child, &c, &info, &none) == -1 && errno == EINVAL, "unknown context version: EINVAL");
    c = context_at(guest_syscalls);
    CHECK(vm_exec(getpid(), &c, &info, &none) == -1 && errno == EINVAL, "own address space: EINVAL");

    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures != 0;
}
