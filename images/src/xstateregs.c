// What a debugger reads first (gdb's amd64_linux_nat_target::read_description):
// the user segment registers, and XCR0 in the software-reserved bytes 464..471
// of PTRACE_GETREGSET NT_X86_XSTATE, zeros after it (and all zeros there for
// PTRACE_GETFPREGS); then
// writing back an image that marks a component the tracee has not used yet.
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

static uint64_t xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

static int zeros(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) if (p[i]) return 0;
    return 1;
}

int main(void) {
    pid_t p = fork();
    if (p == 0) { ptrace(PTRACE_TRACEME, 0, 0, 0); raise(SIGSTOP); _exit(3); }
    int st;
    waitpid(p, &st, 0);
    printf("cs %#lx ds %#lx ss %#lx\n", ptrace(PTRACE_PEEKUSER, p, offsetof(struct user_regs_struct, cs), 0),
           ptrace(PTRACE_PEEKUSER, p, offsetof(struct user_regs_struct, ds), 0),
           ptrace(PTRACE_PEEKUSER, p, offsetof(struct user_regs_struct, ss), 0));
    static unsigned char x[16384];
    struct iovec iov = {x, sizeof x};
    long r = ptrace(PTRACE_GETREGSET, p, NT_X86_XSTATE, &iov);
    uint64_t word;
    memcpy(&word, x + 464, 8);
    printf("NT_X86_XSTATE: %ld, XCR0 at 464: %d, zeros after: %d\n", r, word == xcr0(), zeros(x + 472, 40));
    struct user_fpregs_struct fp;
    r = ptrace(PTRACE_GETFPREGS, p, 0, &fp);
    // XSTATE_COPY_FX: the legacy area, with its padding and reserved bytes zero.
    printf("GETFPREGS: %ld, zeros from 416: %d\n", r, zeros((unsigned char *)&fp + 416, 96));
    // Mark AVX (bit 2) in the header as gdb does when it writes a ymm register.
    uint64_t bv;
    memcpy(&bv, x + 512, 8);
    if (xcr0() & 4) {
        bv |= 4;
        memcpy(x + 512, &bv, 8);
        x[576 + 20] = 7;   // the high half of ymm1, in the AVX component at offset 576
        r = ptrace(PTRACE_SETREGSET, p, NT_X86_XSTATE, &iov);
        printf("SETREGSET with AVX marked: %ld\n", r);
        memset(x, 0, sizeof x);
        iov.iov_len = sizeof x;
        ptrace(PTRACE_GETREGSET, p, NT_X86_XSTATE, &iov);
        memcpy(&bv, x + 512, 8);
        printf("AVX marked after: %d, byte kept: %d\n", (int)(bv >> 2 & 1), x[576 + 20] == 7);
    } else {
        printf("SETREGSET with AVX marked: 0\nAVX marked after: 1, byte kept: 1\n");
    }
    bv = 1ULL << 62;   // not a component the host enabled
    memcpy(x + 512, &bv, 8);
    printf("SETREGSET with an unknown component: %ld\n", ptrace(PTRACE_SETREGSET, p, NT_X86_XSTATE, &iov));
    kill(p, SIGKILL);
    waitpid(p, &st, 0);
    return 0;
}
