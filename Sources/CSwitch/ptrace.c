// ptrace wrappers: ptrace(2) is variadic in glibc, and register sets travel
// through struct iovec. Every call here must come from the tracer thread.
#include "CSwitch.h"
#include <errno.h>
#include <elf.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>

long sw_ptrace(int request, pid_t pid, unsigned long addr, unsigned long data) {
    long r = ptrace((enum __ptrace_request)request, pid, (void *)addr, (void *)data);
    return r < 0 ? -errno : r;
}

int sw_getregs(pid_t pid, sw_regs *regs) {
    struct iovec iov = { regs, sizeof(*regs) };
    return ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov) < 0 ? -errno : 0;
}

int sw_setregs(pid_t pid, const sw_regs *regs) {
    struct iovec iov = { (void *)regs, sizeof(*regs) };
    return ptrace(PTRACE_SETREGSET, pid, (void *)NT_PRSTATUS, &iov) < 0 ? -errno : 0;
}

long sw_getfpregs(pid_t pid, void *buf, size_t len) {
    struct iovec iov = { buf, len };
    if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov) < 0) return -errno;
    return (long)iov.iov_len;
}

long sw_setfpregs(pid_t pid, const void *buf, size_t len) {
    struct iovec iov = { (void *)buf, len };
    if (ptrace(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, &iov) < 0) return -errno;
    return (long)iov.iov_len;
}

int sw_getsiginfo(pid_t pid, siginfo_t *info) {
    return ptrace(PTRACE_GETSIGINFO, pid, NULL, info) < 0 ? -errno : 0;
}

int sw_sysemu(pid_t pid, int sig) {
    return ptrace(PTRACE_SYSEMU, pid, NULL, (void *)(long)sig) < 0 ? -errno : 0;
}

int sw_cont(pid_t pid, int sig) {
    return ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig) < 0 ? -errno : 0;
}

pid_t sw_wait(pid_t pid, int *status) {
    for (;;) {
        pid_t r = waitpid(pid, status, __WALL);
        if (r >= 0) return r;
        if (errno != EINTR) return -errno;
    }
}

uint64_t sw_siginfo_addr(const siginfo_t *info) { return (uint64_t)(uintptr_t)info->si_addr; }
int sw_siginfo_code(const siginfo_t *info) { return info->si_code; }

int sw_seize(pid_t pid, unsigned long options) {
    if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)options) < 0) return -errno;
    return ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) < 0 ? -errno : 0;
}

int sw_set_rax(pid_t pid, uint64_t rax) {
    return ptrace(PTRACE_POKEUSER, pid, (void *)offsetof(struct user_regs_struct, rax),
                  (void *)rax) < 0 ? -errno : 0;
}
