// FS and GS bases: what arch_prctl sets and reads, what the FSGSBASE
// instructions (where the CPU and kernel allow them in user mode: AT_HWCAP2
// bit 1) read and write, kept across a signal handler, a fork and syscalls
// made at sites systrap patches (`mov $nr, %eax; syscall`), one of them an
// arch_prctl(ARCH_SET_GS) itself. Everything on stdout is what Linux gives;
// `fsgs sites` adds whether the two sites were patched (sandbox-specific);
// `fsgs rdgs0` reads the GS base of 0 a process starts with by RDGSBASE.
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long raw2(long nr, long a, long b) { return syscall(nr, a, b); }
static unsigned long get_gs(void) { unsigned long v = 0; raw2(SYS_arch_prctl, ARCH_GET_GS, (long)&v); return v; }
static unsigned long get_fs(void) { unsigned long v = 0; raw2(SYS_arch_prctl, ARCH_GET_FS, (long)&v); return v; }

// The sites, written out so that their bytes are known: b8 imm32 0f 05.
extern const unsigned char fsgs_getppid_site[], fsgs_prctl_site[];
__attribute__((noinline)) static long site_getppid(void) {
    long r;
    __asm__ volatile(".globl fsgs_getppid_site\n fsgs_getppid_site: mov $110, %%eax\n syscall"
                     : "=a"(r) : : "rcx", "r11", "memory");
    return r;
}
// arch_prctl(code, addr) at a site, with xmm7 holding `keep` across it
// (returned in *kept): the FPU state must survive however the call returns.
__attribute__((noinline)) static long site_arch_prctl(long code, unsigned long addr, unsigned long keep, unsigned long *kept) {
    long r;
    unsigned long k;
    __asm__ volatile("movq %3, %%xmm7\n .globl fsgs_prctl_site\n fsgs_prctl_site: mov $158, %%eax\n syscall\n movq %%xmm7, %1"
                     : "=a"(r), "=r"(k) : "D"(code), "r"(keep), "S"(addr) : "rcx", "r11", "xmm7", "memory");
    *kept = k;
    return r;
}

static int fsgsbase;
static unsigned long rdgs(void) { unsigned long v = 0; if (fsgsbase) __asm__ volatile("rdgsbase %0" : "=r"(v)); return v; }
static unsigned long rdfs(void) { unsigned long v = 0; if (fsgsbase) __asm__ volatile("rdfsbase %0" : "=r"(v)); return v; }
static void wrgs(unsigned long v) { __asm__ volatile("wrgsbase %0" : : "r"(v)); }

static volatile unsigned long handler_gs, handler_rdgs;
static void on_usr1(int s) {
    (void)s;
    handler_gs = get_gs();
    handler_rdgs = rdgs();
}

static const char *agree(unsigned long a, unsigned long b) { return a == b ? "agree" : "differ"; }

// Through arch_prctl alone: every x86-64 Linux.
static void with_arch_prctl(void) {
    printf("GS base at start: %s\n", get_gs() == 0 ? "0" : "other");
    raw2(SYS_arch_prctl, ARCH_SET_GS, 0x23456000);
    printf("ARCH_SET_GS then ARCH_GET_GS: %s\n", agree(get_gs(), 0x23456000));
    if (fsgsbase) printf("ARCH_SET_GS then rdgsbase: %s\n", agree(rdgs(), 0x23456000));
    int same = 0;
    for (int i = 0; i < 10; i++) same += site_getppid() == getppid() && get_gs() == 0x23456000 && (!fsgsbase || rdgs() == 0x23456000);
    printf("GS base kept across 10 getppid at one site: %d\n", same);
    signal(SIGUSR1, on_usr1);
    syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1);
    printf("GS base in a handler: %s, after it: %s\n", agree(handler_gs, 0x23456000), agree(get_gs(), 0x23456000));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) _exit(get_gs() == 0x23456000 && (!fsgsbase || rdgs() == 0x23456000) ? 0 : 1);
    int st = 0;
    waitpid(c, &st, 0);
    printf("fork child has the GS base: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "no");
    // ARCH_SET_GS made at a site, from a GS base of 0 each time (systrap's
    // patched path runs only then), with an FPU register live across it.
    int set = 0, kept = 0;
    for (int i = 0; i < 10; i++) {
        raw2(SYS_arch_prctl, ARCH_SET_GS, 0);
        unsigned long want = 0x34560000UL + 0x1000UL * i, k = 0, keep = 0x1122334455667788UL ^ i;
        long r = site_arch_prctl(ARCH_SET_GS, want, keep, &k);
        set += r == 0 && get_gs() == want && (!fsgsbase || rdgs() == want);
        kept += k == keep;
    }
    printf("ARCH_SET_GS at one site, 10 times: %d set, %d kept xmm7\n", set, kept);
    raw2(SYS_arch_prctl, ARCH_SET_GS, 0);
    printf("ARCH_SET_GS 0 then ARCH_GET_GS: %s\n", agree(get_gs(), 0));
    same = 0;
    for (int i = 0; i < 10; i++) same += site_getppid() == getppid() && get_gs() == 0;
    printf("GS base 0 kept across 10 getppid at one site: %d\n", same);
}

// The guest's own WRGSBASE/WRFSBASE, where user mode has them.
static void with_fsgsbase(void) {
    printf("rdfsbase is ARCH_GET_FS: %s\n", rdfs() == get_fs() ? "yes" : "no");
    wrgs(0x12345000);
    printf("wrgsbase then ARCH_GET_GS: %s\n", agree(get_gs(), 0x12345000));
    int same = 0;
    for (int i = 0; i < 10; i++) same += site_getppid() == getppid() && rdgs() == 0x12345000 && get_gs() == 0x12345000;
    printf("wrgsbase kept across 10 getppid at one site: %d\n", same);
    wrgs(0x45670000);
    handler_rdgs = 0;
    syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1);
    printf("wrgsbase seen in a handler: %s (ARCH_GET_GS %s), after it: %s\n", agree(handler_rdgs, 0x45670000),
           agree(handler_gs, 0x45670000), agree(rdgs(), 0x45670000));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) _exit(rdgs() == 0x45670000 && get_gs() == 0x45670000 ? 0 : 1);
    int st = 0;
    waitpid(c, &st, 0);
    printf("fork child has the wrgsbase base: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "no");
    wrgs(0);
    printf("wrgsbase 0 then ARCH_GET_GS: %s\n", agree(get_gs(), 0));
    // WRFSBASE then ARCH_GET_FS with no libc call (no TLS) in between.
    unsigned long f0 = rdfs(), seen = 0;
    __asm__ volatile("wrfsbase %0" : : "r"(0x45678000UL));
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"((long)SYS_arch_prctl), "D"((long)ARCH_GET_FS), "S"(&seen) : "rcx", "r11", "memory");
    __asm__ volatile("wrfsbase %0" : : "r"(f0));
    printf("wrfsbase then ARCH_GET_FS: %s\n", agree(seen, 0x45678000UL));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    fsgsbase = (getauxval(AT_HWCAP2) & 2 /* HWCAP2_FSGSBASE */) != 0;
    if (argc > 1 && !strcmp(argv[1], "rdgs0")) {
        // Where systrap patches sites the stub's GS base stands in for a
        // guest GS base of 0 (README, "Syscall patching"): RDGSBASE sees it.
        if (!fsgsbase) { printf("no FSGSBASE in user mode\n"); return 0; }
        printf("rdgsbase with a GS base of 0: %s\n", rdgs() == 0 ? "0" : "other");
        return 0;
    }
    with_arch_prctl();
    if (fsgsbase) with_fsgsbase();
    else printf("no FSGSBASE in user mode\n");
    if (argc > 1 && !strcmp(argv[1], "sites")) {
        printf("getppid site: %s\n", fsgs_getppid_site[0] == 0xe9 ? "patched" : "original");
        printf("arch_prctl site: %s\n", fsgs_prctl_site[0] == 0xe9 ? "patched" : "original");
    }
    return 0;
}
