// The stub process: the host process whose address space a guest runs in.
//
// It starts as a tiny static ELF the sentry writes into a memfd (the stub
// code and its seccomp program, nothing else), exec'd from a vfork child of
// the calling thread: no copy of the sentry's address space is ever made.
// The stub code unmaps every other page of the process (stack, vDSO),
// enters its seccomp filter and stops with int3. From then on the tracer
// only ever points it at guest code (under PTRACE_SYSEMU) or at the
// `syscall; int3` gadget to inject mmap/munmap/mprotect. The stub code uses
// no stack and no data but its own data page.
#include "CSwitch.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

// Entry: the ELF's entry point, the first byte of the stub's code page.
// Syscall numbers are x86-64's.
__asm__(
    ".pushsection .text\n"
    ".globl sw_stub_start\n"
    ".type sw_stub_start, @function\n"
    "sw_stub_start:\n"
    "  lea sw_stub_start(%rip), %r12\n"   // stub base
    "  lea 8192(%r12), %r13\n"            // stub end
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

struct spawn_args { int memfd, elffd; };

// The vfork child: it shares the sentry's memory until its execveat, so it
// makes raw syscalls only and touches nothing but its own stack.
static int spawn_child(void *p) {
    const struct spawn_args *a = p;
    raw(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0, 0);
    // Own process group: terminal signals reach the sentry, which forwards them.
    raw(SYS_setpgid, 0, 0, 0, 0, 0, 0);
    // SIGCHLD ignored (it survives exec) so the CLONE_VM siblings this stub
    // spawns for other tasks of its address space are reaped by the kernel.
    struct { long handler, flags, restorer, mask; } ign = { (long)SIG_IGN, 0, 0, 0 };
    raw(SYS_rt_sigaction, SIGCHLD, (long)&ign, 0, 8, 0, 0);
    long empty = 0;
    raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&empty, 0, 8, 0, 0);
    // Keep only the memory file (across exec) and the image to exec.
    raw(SYS_fcntl, a->memfd, F_SETFD, 0, 0, 0, 0);
    int lo = a->memfd < a->elffd ? a->memfd : a->elffd, hi = a->memfd ^ a->elffd ^ lo;
    if (lo > 0) raw(SYS_close_range, 0, lo - 1, 0, 0, 0, 0);
    if (hi > lo + 1) raw(SYS_close_range, lo + 1, hi - 1, 0, 0, 0, 0);
    raw(SYS_close_range, hi + 1, ~0U, 0, 0, 0, 0);
    if (raw(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0, 0, 0) < 0) raw(SYS_exit_group, 120, 0, 0, 0, 0, 0);
    char *argv[] = { "sentry-stub", NULL }, *envp[] = { NULL };
    raw(SYS_execveat, a->elffd, (long)"", (long)argv, (long)envp, AT_EMPTY_PATH, 0);
    raw(SYS_exit_group, 121, 0, 0, 0, 0, 0);
    return 0;
}

pid_t sw_stub_spawn(int memfd, int elffd) {
    char stack[16384] __attribute__((aligned(16)));
    struct spawn_args a = { memfd, elffd };
    pid_t pid = clone(spawn_child, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
    return pid < 0 ? -errno : pid;
}
