// PKRU across system calls: what a thread writes with WRPKRU is what it
// reads back after a syscall, whichever keys the value denies, and its
// getppid still answers. Under vmexec the guest runs on a sentry thread and
// the kernel loads the guest's PKRU only while guest code runs: the sentry's
// own value must not leak in, and a guest closing key 0 (which the sentry's
// memory has, as every page of the guest's own here) must not fault the
// sentry. Needs a CPU with protection keys enabled (OSPKE); between the
// write and the read nothing touches memory, so closing key 0 is safe.
#include <stdio.h>
#include <unistd.h>

static int has_ospke(void) {
    unsigned a = 7, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return (c >> 4) & 1;
}

static unsigned rdpkru(void) {
    unsigned v;
    __asm__ volatile("rdpkru" : "=a"(v) : "c"(0) : "rdx");
    return v;
}

// Writes `v`, makes a raw getppid, reads PKRU, and writes `restore` back,
// all in registers.
static unsigned across_getppid(unsigned v, unsigned restore, long *ret) {
    register long r8 __asm__("r8");
    register long r9 __asm__("r9");
    __asm__ volatile(
        "mov %[v], %%eax\n xor %%ecx, %%ecx\n xor %%edx, %%edx\n wrpkru\n"
        "mov $110, %%eax\n syscall\n mov %%rax, %%r8\n"
        "xor %%ecx, %%ecx\n rdpkru\n mov %%rax, %%r9\n"
        "mov %[restore], %%eax\n xor %%ecx, %%ecx\n xor %%edx, %%edx\n wrpkru\n"
        : "=r"(r8), "=r"(r9)
        : [v] "r"(v), [restore] "r"(restore)
        : "rax", "rcx", "rdx", "r11", "memory");
    *ret = r8;
    return (unsigned)r9;
}

int main(void) {
    if (!has_ospke()) { printf("no protection keys on this CPU\n"); return 0; }
    unsigned own = rdpkru();
    static const unsigned values[] = { 0, 0x55555554, 0xc, 0xfffffffc, 0x30, 0x1, 0x2, 0x3, 0x55555555, 0xffffffff };
    for (unsigned i = 0; i < sizeof values / sizeof *values; i++) {
        long ret;
        unsigned got = across_getppid(values[i], own, &ret);
        printf("wrote %#x, read %#x after getppid (%s)\n", values[i], got, ret == getppid() ? "its answer" : "a wrong answer");
    }
    printf("back to the starting value: %s\n", rdpkru() == own ? "yes" : "no");
    return 0;
}
