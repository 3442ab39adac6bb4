// The stub's seccomp filter. Guest syscalls never reach its rules: the
// prefix below sends every call made outside the stub's code page to a kill
// (or SIGSYS for systrap's seccomp variant); the rules (StubRegion.swift,
// compiled by HostFilter.swift) allow the few calls the stub makes and the
// sentry injects, and kill the process on anything else.
#include "CSwitch.h"
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string.h>

long sw_build_stub_filter(const void *program, int count, uint64_t code_page, int trap_outside,
                          void *out, size_t cap, uint64_t out_guest_addr) {
    size_t size = (size_t)count * sizeof(struct sock_filter);
    size_t header = 64; // struct sock_fprog, padded to the filter's offset
    // The stub's own syscalls come from its code page; anything else is a
    // guest's. Under PTRACE_SYSEMU and Syscall User Dispatch a guest syscall
    // never reaches this filter, so one that does is killed; in systrap's
    // seccomp variant it is SECCOMP_RET_TRAP, a SIGSYS the stub handles.
    // A call from the vsyscall page (ip above user space) is the host's
    // emulation of a guest's legacy vsyscall, which consults seccomp: it
    // traps, so that the sentry emulates the call (Kernel/Vsyscall.swift)
    // whatever the variant; the host then skips it.
    struct sock_filter prefix[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 12),                                   // ip >> 32
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffu, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(code_page >> 32), 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 8),                                    // ip & 0xffffffff
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)code_page, 0, 1),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)code_page + 4096, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, trap_outside ? SECCOMP_RET_TRAP : SECCOMP_RET_KILL_PROCESS),
    };
    size_t pre = sizeof(prefix);
    if (count <= 0 || size + pre + header > cap) return -E2BIG;
    memset(out, 0, header);
    memcpy((char *)out + header, prefix, pre);
    memcpy((char *)out + header + pre, program, size);
    size += pre;
    struct sock_fprog prog = {
        .len = (unsigned short)(size / sizeof(struct sock_filter)),
        .filter = (struct sock_filter *)(uintptr_t)(out_guest_addr + header),
    };
    memcpy(out, &prog, sizeof(prog));
    return (long)(header + size);
}
