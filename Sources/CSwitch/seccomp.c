// The stub's seccomp filter, built with libseccomp (seccomp_rule_add is
// variadic). Guest syscalls never reach it: PTRACE_SYSEMU reports and skips
// them before seccomp runs. It only sees what the stub executes itself, so it
// allows the few calls the sentry injects and kills the process on anything
// else, including the ia32 ABI (int $0x80).
#include "CSwitch.h"
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

long sw_build_stub_filter(const int *allowed, int count, uint64_t clone_flags,
                          uint64_t code_page, int trap_outside, void *out, size_t cap,
                          uint64_t out_guest_addr) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!ctx) return -ENOMEM;
    long rc = 0;
    for (int i = 0; i < count && rc == 0; i++) {
        switch (allowed[i]) {
        case SCMP_SYS(prctl):   // only PR_SET_PDEATHSIG and PR_SET_SYSCALL_USER_DISPATCH
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 1, SCMP_A0(SCMP_CMP_EQ, 1));
            if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 1, SCMP_A0(SCMP_CMP_EQ, 59));
            break;
        case SCMP_SYS(arch_prctl):   // only ARCH_SET_FS, and ARCH_SET_GS (a systrap stub's own area)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 1, SCMP_A0(SCMP_CMP_EQ, 0x1002));
            if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 1, SCMP_A0(SCMP_CMP_EQ, 0x1001));
            break;
        case SCMP_SYS(membarrier):   // only PRIVATE_EXPEDITED_SYNC_CORE and its registration
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 1, SCMP_A0(SCMP_CMP_EQ, 32));
            if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 1, SCMP_A0(SCMP_CMP_EQ, 64));
            break;
        default:
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
        }
    }
    // clone only with the exact flags the sentry uses for sibling stubs.
    if (rc == 0 && clone_flags)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_EQ, clone_flags));
    // NO_NEW_PRIVS is set by the stub itself, just before loading.
    if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    int fd = -1;
    if (rc == 0) {
        fd = memfd_create("sentry-bpf", MFD_CLOEXEC);
        if (fd < 0) rc = -errno;
    }
    if (rc == 0) rc = seccomp_export_bpf(ctx, fd);
    seccomp_release(ctx);
    if (rc != 0) { if (fd >= 0) close(fd); return rc < 0 ? rc : -EINVAL; }

    off_t size = lseek(fd, 0, SEEK_END);
    size_t header = 64; // struct sock_fprog, padded to the filter's offset
    // The stub's own syscalls come from its code page; anything else is a
    // guest's. Under PTRACE_SYSEMU and Syscall User Dispatch a guest syscall
    // never reaches this filter, so one that does is killed; in systrap's
    // seccomp variant it is SECCOMP_RET_TRAP, a SIGSYS the stub handles.
    // A call from the vsyscall page (ip above user space) is the host's
    // emulation of a guest's legacy vsyscall, which consults seccomp: it
    // traps, so that the sentry emulates the call (Kernel/Vsyscall.swift)
    // whatever the variant; the host then skips it.
    // libseccomp cannot test the instruction pointer: this prefix is BPF by hand.
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
    if (size <= 0 || (size_t)size + pre + header > cap || size % sizeof(struct sock_filter)) {
        close(fd);
        return -E2BIG;
    }
    memset(out, 0, header);
    memcpy((char *)out + header, prefix, pre);
    if (pread(fd, (char *)out + header + pre, (size_t)size, 0) != size) { close(fd); return -EIO; }
    close(fd);
    size += (off_t)pre;
    struct sock_fprog prog = {
        .len = (unsigned short)(size / sizeof(struct sock_filter)),
        .filter = (struct sock_filter *)(uintptr_t)(out_guest_addr + header),
    };
    memcpy(out, &prog, sizeof(prog));
    return (long)(header + (size_t)size);
}
