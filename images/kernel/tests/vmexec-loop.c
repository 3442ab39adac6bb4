// The least a process_vm_exec caller can do, the counterpart of
// images/bench/sysemu-tracer.c: a guest loops on getppid, the caller answers
// each trap and resumes it. Prints ns per trapped call; with "fpu", the
// caller also swaps XSAVE images around each call, as the sentry does.
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/process_vm_exec.h>

static char stack[16384] __attribute__((aligned(16)));
extern char loop_start[];
__asm__(".text\nloop_start:\n mov $110, %eax\n syscall\n jmp loop_start\n");

static uint8_t own[65536] __attribute__((aligned(64))), guest[65536] __attribute__((aligned(64)));

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 20000;
    int fpu = argc > 2 && strcmp(argv[2], "fpu") == 0;
    pid_t child = fork();
    if (child == 0) for (;;) pause();
    struct process_vm_exec_context c = { .version = PROCESS_VM_EXEC_CONTEXT_V2, .size = sizeof c };
    c.regs.rip = (uint64_t)loop_start;
    c.regs.rsp = (uint64_t)(stack + sizeof stack - 64);
    c.regs.eflags = 0x202;
    // The guest runs with the caller's PKRU, as the sentry's guests mostly
    // do: the kernel then writes PKRU on neither side of the call.
    unsigned l7 = 7, b7, c7 = 0, d7;
    __asm__ volatile("cpuid" : "+a"(l7), "=b"(b7), "+c"(c7), "=d"(d7));
    if ((c7 >> 4) & 1) __asm__ volatile("rdpkru" : "=a"(c.pkru) : "c"(0) : "rdx");
    siginfo_t info;
    uint64_t mask = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        // The images leave PKRU (XSAVE component 9) out: it travels in the context.
        if (fpu) __asm__ volatile("xsave64 (%0)\n xrstor64 (%1)" :: "r"(own), "r"(guest), "a"(~0x200), "d"(-1) : "memory");
        long r = syscall(1000, child, &c, 0, &info, &mask, 8);
        if (fpu) __asm__ volatile("xsave64 (%0)\n xrstor64 (%1)" :: "r"(guest), "r"(own), "a"(~0x200), "d"(-1) : "memory");
        if (r != 0 || info.si_signo != SIGSYS) { fprintf(stderr, "unexpected trap\n"); return 1; }
        c.regs.rax = getppid();   // the answer, as a tracer would give it
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
    kill(child, SIGKILL);
    return 0;
}
