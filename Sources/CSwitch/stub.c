// The stub process: the host process whose address space a guest runs in.
//
// It is forked from the sentry, then throws away everything it inherited:
// the C code below maps the stub pages (offset 0 of the memory file) at a
// fixed address the sentry reserved for it, and jumps there. The stub code
// unmaps every other page of the process, enters its seccomp filter and stops
// with int3. From then on the tracer only ever points it at guest code (under
// PTRACE_SYSEMU) or at the `syscall; int3` gadget to inject mmap/munmap/
// mprotect. The stub code uses no stack and no data but its own data page.
#include "CSwitch.h"
#include <errno.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/rseq.h>

// Entry: rdi = stub base, rsi = stub end. Syscall numbers are x86-64's.
__asm__(
    ".pushsection .text\n"
    ".globl sw_stub_start\n"
    ".type sw_stub_start, @function\n"
    "sw_stub_start:\n"
    "  mov %rdi, %r12\n"
    "  mov %rsi, %r13\n"
    // munmap(0, base): everything below the stub.
    "  xor %edi, %edi\n"
    "  mov %r12, %rsi\n"
    "  mov $11, %eax\n"
    "  syscall\n"
    // munmap(end, TASK_SIZE - end): everything above, stack and vDSO included.
    "  mov %r13, %rdi\n"
    "  movabs $0x7ffffffff000, %rsi\n"
    "  sub %r13, %rsi\n"
    "  mov $11, %eax\n"
    "  syscall\n"
    // prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    "  mov $38, %edi\n"
    "  mov $1, %esi\n"
    "  xor %edx, %edx\n"
    "  xor %r10d, %r10d\n"
    "  xor %r8d, %r8d\n"
    "  mov $157, %eax\n"
    "  syscall\n"
    // seccomp(SECCOMP_SET_MODE_FILTER, 0, base + data page)
    "  mov $1, %edi\n"
    "  xor %esi, %esi\n"
    "  lea 4096(%r12), %rdx\n"
    "  mov $317, %eax\n"
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jnz 1f\n"
    "  int3\n"                     // ready: the tracer takes over here
    ".globl sw_stub_syscall\n"
    "sw_stub_syscall:\n"
    "3: syscall\n"
    "  int3\n"
    "  jmp 3b\n"                  // local label: the copy must stay position independent
    "1: ud2\n"                     // no filter: never run a guest unfiltered
    // clone(CLONE_VM) for another task in this address space. The parent
    // stops on int3; the child (rax 0) sleeps in pause(2) until its own
    // tracer attaches (a spinning child could hold a CPU for a whole tick).
    ".globl sw_stub_clone\n"
    "sw_stub_clone:\n"
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jz 4f\n"
    "  int3\n"
    "4: mov $34, %eax\n"
    "  syscall\n"
    "  jmp 4b\n"
    ".globl sw_stub_end\n"
    "sw_stub_end:\n"
    ".popsection\n");

extern const uint8_t sw_stub_start[], sw_stub_syscall[], sw_stub_clone[], sw_stub_end[];

const uint8_t *sw_stub_code(size_t *len, size_t *gadget, size_t *clone_gadget) {
    *len = (size_t)(sw_stub_end - sw_stub_start);
    *gadget = (size_t)(sw_stub_syscall - sw_stub_start);
    *clone_gadget = (size_t)(sw_stub_clone - sw_stub_start);
    return sw_stub_start;
}

static long raw(long nr, long a, long b, long c, long d, long e, long f) {
    return syscall(nr, a, b, c, d, e, f);
}

// Runs in the child of a fork from a multithreaded process: raw syscalls only.
static void __attribute__((noreturn)) stub_child(int memfd, uint64_t base) {
    raw(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0, 0);
    // Own process group: terminal signals reach the sentry, which forwards them.
    raw(SYS_setpgid, 0, 0, 0, 0, 0, 0);
    // Keep only the memory file.
    if (memfd > 0) raw(SYS_close_range, 0, memfd - 1, 0, 0, 0, 0);
    raw(SYS_close_range, memfd + 1, ~0U, 0, 0, 0, 0);
    // glibc registered rseq for the forking thread and the child inherits
    // it; once the TLS holding the rseq area is unmapped, the kernel's next
    // rseq update would kill the stub with SIGSEGV. Unregister it first.
    if (__rseq_size > 0) {
        char *area = (char *)__builtin_thread_pointer() + __rseq_offset;
        if (raw(SYS_rseq, (long)area, 32, RSEQ_FLAG_UNREGISTER, RSEQ_SIG, 0, 0) < 0)
            raw(SYS_rseq, (long)area, __rseq_size, RSEQ_FLAG_UNREGISTER, RSEQ_SIG, 0, 0);
    }
    // Dispositions and mask inherited from the sentry mean nothing here:
    // handlers point at unmapped sentry code. Everything back to default,
    // except SIGCHLD ignored so the CLONE_VM siblings this stub spawns for
    // other tasks of its address space are reaped by the kernel.
    struct { long handler, flags, restorer, mask; } act = { 0, 0, 0, 0 };
    for (int sig = 1; sig <= 64; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        act.handler = sig == SIGCHLD ? (long)SIG_IGN : (long)SIG_DFL;
        raw(SYS_rt_sigaction, sig, (long)&act, 0, 8, 0, 0);
    }
    long empty = 0;
    raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&empty, 0, 8, 0, 0);
    if (raw(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0, 0, 0) < 0) raw(SYS_exit_group, 120, 0, 0, 0, 0, 0);
    // Wait for the tracer to set its options before anything else runs.
    raw(SYS_kill, raw(SYS_getpid, 0, 0, 0, 0, 0, 0), SIGSTOP, 0, 0, 0, 0);
    long code = raw(SYS_mmap, (long)base, 4096, PROT_READ | PROT_EXEC,
                    MAP_SHARED | MAP_FIXED, memfd, 0);
    long data = raw(SYS_mmap, (long)base + SW_STUB_DATA_OFFSET, 4096, PROT_READ,
                    MAP_SHARED | MAP_FIXED, memfd, SW_STUB_DATA_OFFSET);
    if (code != (long)base || data != (long)base + SW_STUB_DATA_OFFSET)
        raw(SYS_exit_group, 121, 0, 0, 0, 0, 0);
    register long rdi __asm__("rdi") = (long)base;
    register long rsi __asm__("rsi") = (long)base + SW_STUB_PAGES * 4096;
    __asm__ volatile("jmp *%2" : : "r"(rdi), "r"(rsi), "r"(base) : "memory");
    __builtin_unreachable();
}

pid_t sw_stub_fork(int memfd, uint64_t stub_addr) {
    pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) return -errno;
    if (pid == 0) stub_child(memfd, stub_addr);
    return pid;
}
