// The sentry's syscall fuzzer: a guest init that forks children, each making
// random syscalls with arguments drawn from pools of values that find edge
// cases (huge and negative numbers, pointers to valid memory, guard pages,
// unmapped and kernel-range addresses, the stub region, paths inside and
// outside the guest's view). Children may die; init counts and survives.
//
//   fuzz SEED NCALLS [NCHILDREN [THREADS]]
//
// Child k's stream of calls comes from (SEED, k) alone, so a run is
// reproducible up to the interleaving of children. The last line is
//   fuzz: done seed=S calls=N distinct=D children=C exited=E signaled=K timeouts=T
// which the driver (images/fuzz/run) waits for: without it, the sentry failed.
//
// It refuses to run unless it is pid 1 (the sentry's init), since random
// syscalls natively would harm the machine; `--safe` restricts the calls to
// a harmless set (getpid and friends) for a look at the harness itself.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXNR 1100          // numbers drawn: 0..~460 mostly, some beyond
#define CALLS_PER_CHILD 400
#define CHILD_TIMEOUT_MS 500

struct shared {
    volatile uint64_t calls[64];        // per child slot: calls made
    volatile uint8_t seen[MAXNR];       // numbers tried
    // The call each thread of a child is in (or made last): number and
    // arguments, reported if the child outlives SIGKILL.
    volatile uint64_t last[64][3][7];
    // Memory a check found wrong (a fork's copy-on-write, rewritten code):
    // a sentry bug even when nothing crashed. The first one is described.
    volatile uint64_t cowbad, jitbad, cowchecked, jitchecked;
    char bad[256];
};
static struct shared *sh;
static int safe_mode;

// xorshift64*: small, seedable, the same everywhere.
static __thread uint64_t rs;
static __thread int tslot;   // 0: the child's main thread, 1-2: its fuzzing threads
static uint64_t rnd(void) { rs ^= rs >> 12; rs ^= rs << 25; rs ^= rs >> 27; return rs * 0x2545F4914F6CDD1DULL; }
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

static char *page;          // a few valid read-write pages; the last one is PROT_NONE (guard)
static char *ropage;        // a read-only page
static long pagesz = 4096;
#define NPAGES 4

static const char *paths[] = {
    "/tmp/fuzz", "/tmp/fuzz/a", "/tmp/fuzz/dir", "/tmp/fuzz/link", "/tmp", "/", "", ".", "..",
    "/etc/passwd", "/etc/hostname", "/etc/../../../etc/shadow", "/proc/self/mem", "/proc/self/maps",
    "/proc/self/fd/0", "/proc/self/fd/3", "/proc/self/exe", "/proc/self/root/..", "/proc/self/cwd/x",
    "/proc/1/status", "/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/tty",
    "/scratch", "/scratch/f", "/scratch/d", "/scratch/d/../../..", "/scratch/new", "/ro", "/ro/file",
    "/sys/kernel", "/root", "../../../../../../", "/tmp/fuzz/a/b/c", "/nonexistent/x",
    "a", "fuzz-new", "/dev/shm/x", "/proc/self/fd", "/proc", "/usr/bin/env",
};
#define NPATHS (sizeof paths / sizeof paths[0])
static char *pathbuf;       // copies of the paths in writable memory, one slot each
static char *longpath;      // a path longer than PATH_MAX

static uint64_t pool_pointer(void) {
    switch (below(14)) {
    case 0: return 0;
    case 1: return (uint64_t)page;
    case 2: return (uint64_t)page + 1 + below(pagesz);                   // unaligned, valid
    case 3: return (uint64_t)page + (NPAGES - 1) * pagesz - 1 - below(16); // ends in the guard page
    case 4: return (uint64_t)page + (NPAGES - 1) * pagesz;               // the guard page
    case 5: return 0xffff800000000000ULL + below(1ULL << 20) * 8;        // kernel range
    case 6: return 0x00007ffffffff000ULL + below(4096);                  // top of user space
    case 7: return 0x7e0000000000ULL + below(0x30000);                   // the stub region
    case 8: return (uint64_t)ropage + below(64);
    case 9: return (uint64_t)pathbuf + below(NPATHS) * 256;
    case 10: return 0xffffffffff600000ULL;                                // vsyscall page
    case 11: return (uint64_t)page + pagesz * below(NPAGES - 1);
    case 12: return 1ULL << 47;
    default: return rnd() & 0x7ffffffff000ULL;                           // random user address
    }
}

static uint64_t pool_value(void) {
    switch (below(20)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return below(16);
    case 3: return (uint64_t)-1;
    case 4: return (uint64_t)(int64_t)INT_MIN;
    case 5: return 0x80000000ULL;                 // INT_MIN as an unsigned int
    case 6: return 1ULL << 63;
    case 7: return (1ULL << 63) - 1;
    case 8: return 0xffffffffULL;
    case 9: return 0x7fffffffULL;
    case 10: return (uint64_t)-4096 + below(4096);
    case 11: return 1ULL << (below(64));
    case 12: return (1ULL << (below(64))) - 1;
    case 13: return rnd();
    case 14: return rnd() & 0xffff;
    case 15: return pagesz * below(64);
    case 16: return (uint64_t)(int64_t)-100;      // AT_FDCWD
    case 17: return below(4096);
    case 18: return (uint64_t)(int64_t)(int32_t)rnd();
    default: return rnd() & rnd();                // sparse bits: flag combinations
    }
}

static uint64_t pool_arg(void) {
    switch (below(10)) {
    case 0: case 1: case 2: return pool_pointer();
    case 3: return below(12);                     // a likely fd
    case 4: return (uint64_t)pathbuf + below(NPATHS) * 256;
    case 5: return (uint64_t)longpath;
    default: return pool_value();
    }
}

// Fills the valid pages with pool values: iovecs, timespecs, sigsets, structs.
static void refill(void) {
    uint64_t *w = (uint64_t *)page;
    size_t n = (NPAGES - 1) * pagesz / 8;
    for (size_t i = 0; i < n; i++) w[i] = below(3) ? pool_value() : pool_pointer();
    // Paths stay readable where they were copied: re-copy them.
    for (size_t i = 0; i < NPATHS; i++) strcpy(pathbuf + i * 256, paths[i]);
}

static long raw(long nr, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f) {
    long ret;
    register uint64_t r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return ret;
}

// fork-like calls: the new process ends at once, before touching its stack
// (after vfork or clone(CLONE_VM) it shares the caller's).
static long raw_forky(long nr, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e) {
    long ret;
    register uint64_t r10 __asm__("r10") = d, r8 __asm__("r8") = e;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "mov $60, %%eax\n\t"
                     "xor %%edi, %%edi\n\t"
                     "syscall\n\t"
                     "ud2\n"
                     "1:"
                     : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
    return ret;
}

#define CLONE_UNSAFE (0x100 | 0x800 | 0x4000 | 0x10000 | 0x80000 | 0x200000 | 0x1000000 | 0x400000)
// CLONE_VM, CLONE_SIGHAND, CLONE_VFORK, CLONE_THREAD, CLONE_SETTLS,
// CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_DETACHED: a child sharing
// our memory or stack would corrupt us before its exit.

static int init_handles(uint64_t sig) { return sig != SIGKILL && sig != SIGSTOP && sig != 32 && sig != 33; }

static const long safe_calls[] = { 39, 102, 104, 107, 108, 110, 63, 186, 24 };

// Structured calls for the newer surfaces, whose interesting paths random
// words rarely reach: their arguments are well-formed structs in the valid
// pages with pool values in some fields. Each returns the number to call
// with a[] filled, or -1 after making the call itself.
static uint64_t scratch_at(size_t off) { return (uint64_t)page + off; }   // inside the valid pages
static uint64_t some_sock_addr(uint64_t *len) {
    // sockaddr_un (a name in /tmp or abstract), sockaddr_in/in6 on loopback, netlink.
    char *p = page + 2048;
    memset(p, 0, 128);
    switch (below(5)) {
    case 0: *(uint16_t *)p = 1; strcpy(p + 2, below(2) ? "/tmp/fuzz/s" : "/scratch/s"); *len = 2 + 12; break;
    case 1: *(uint16_t *)p = 1; p[2] = 0; memcpy(p + 3, "fz", 2); *len = 5 + below(3); break;
    case 2: *(uint16_t *)p = 2; *(uint16_t *)(p + 2) = (uint16_t)(0x9a1f + below(4)); *(uint32_t *)(p + 4) = below(2) ? 0x0100007f : 0; *len = 16; break;
    case 3: *(uint16_t *)p = 10; *(uint16_t *)(p + 2) = (uint16_t)(0x9a1f + below(4)); p[23] = (char)below(2); *len = 28; break;
    default: *(uint16_t *)p = 16; *len = 12; break;
    }
    if (below(8) == 0) *len = pool_value();
    return (uint64_t)p;
}
static uint64_t some_iovec(int n) {
    // iovecs at page+1024 over the valid pages (sometimes past them).
    uint64_t *v = (uint64_t *)(page + 1024);
    for (int i = 0; i < n; i++) { v[2 * i] = below(6) ? scratch_at(below(2048)) : pool_pointer(); v[2 * i + 1] = below(6) ? below(512) : pool_value(); }
    return (uint64_t)v;
}
static uint64_t some_msghdr(void) {
    // struct msghdr at page+1536: a name, iovecs, and a control message
    // (SCM_RIGHTS of a few fds, SCM_CREDENTIALS, or junk).
    uint64_t alen = 0;
    uint64_t *m = (uint64_t *)(page + 1536);
    m[0] = below(3) ? 0 : some_sock_addr(&alen); m[1] = alen;
    m[2] = some_iovec(4); m[3] = below(8) ? below(5) : pool_value();
    uint32_t *c = (uint32_t *)(page + 2560);
    switch (below(4)) {
    case 0: m[4] = 0; m[5] = 0; break;
    case 1: *(uint64_t *)c = 16 + 4 * below(5); c[2] = 1; c[3] = 1; for (int i = 0; i < 4; i++) c[4 + i] = (uint32_t)below(12); m[4] = (uint64_t)c; m[5] = 40; break;
    case 2: *(uint64_t *)c = 28; c[2] = 1; c[3] = 2; c[4] = (uint32_t)raw(39, 0, 0, 0, 0, 0, 0); c[5] = (uint32_t)below(2); c[6] = 0; m[4] = (uint64_t)c; m[5] = 32; break;
    default: *(uint64_t *)c = pool_value(); c[2] = (uint32_t)pool_value(); c[3] = (uint32_t)pool_value(); m[4] = (uint64_t)c; m[5] = pool_value() & 0xfff; break;
    }
    m[6] = 0;
    return (uint64_t)m;
}
static uint64_t some_bpf(void) {
    // A short classic BPF program: loads from seccomp_data, ALU, jumps,
    // scratch memory, ending in a RET of ALLOW, ERRNO, TRAP, LOG, USER_NOTIF,
    // KILL or a random action; sometimes random instructions instead.
    static const uint16_t codes[] = { 0x20, 0x00, 0x01, 0x02, 0x03, 0x04, 0x14, 0x24, 0x34, 0x54, 0x44, 0x64, 0x74, 0x84, 0x0c,
                                      0x15, 0x25, 0x35, 0x45, 0x1d, 0x05, 0x07, 0x87, 0x60, 0x61, 0x80, 0x28, 0x94 };
    // Mostly actions the child survives (ALLOW, ERRNO, LOG); now and then TRAP,
    // USER_NOTIF, KILL_PROCESS, KILL_THREAD or TRACE.
    static const uint32_t rets[] = { 0x7fff0000, 0x00050000 | 1, 0x7ffc0000, 0x7fff0000, 0x00050000 | 38, 0x7ffc0000,
                                     0x00030000, 0x7fc00000, 0x80000000, 0, 0x7ff00000 };
    int n = 1 + (int)below(12);
    uint8_t *p = (uint8_t *)(page + 3072);
    for (int i = 0; i < n; i++) {
        uint16_t code = below(10) ? codes[below(sizeof codes / sizeof codes[0])] : (uint16_t)rnd();
        uint8_t jt = (uint8_t)below(n - i), jf = (uint8_t)below(n - i);
        uint32_t k = below(3) ? (uint32_t)below(64) & ~3u : (uint32_t)pool_value();
        if (i == n - 1) { code = below(8) ? 0x06 : 0x16; k = rets[below(16) ? below(6) : below(sizeof rets / sizeof rets[0])]; if (below(4) == 0) k ^= (uint32_t)below(65536); }
        memcpy(p + 8 * i, &code, 2); p[8 * i + 2] = jt; p[8 * i + 3] = jf; memcpy(p + 8 * i + 4, &k, 4);
    }
    uint64_t *prog = (uint64_t *)(page + 3000);
    prog[0] = below(10) ? (uint64_t)n : pool_value() & 0xffff;
    prog[1] = below(10) ? (uint64_t)p : pool_pointer();
    return (uint64_t)prog;
}

// ---- Surfaces merged after the first 10^6-call runs: guest ptrace, NUMA
// policies, process_vm_* and /proc/PID/mem on another process, int $0x80,
// the vsyscall page, copy-on-write after fork, code rewritten over patched
// syscall sites. ----
static int g_threaded;      // fuzzing threads run beside the main one: memory checks are off
static int filtered;        // a guest seccomp filter may change what a call returns
static volatile pid_t tracee;   // a grandchild to trace (and read and write)
extern char __executable_start[], etext[];

static void note_bad(volatile uint64_t *counter, const char *what, uint64_t at, uint64_t got, uint64_t want) {
    if (__atomic_fetch_add(counter, 1, __ATOMIC_SEQ_CST) == 0)
        snprintf(sh->bad, sizeof sh->bad, "%s at %#llx: %#llx, expected %#llx", what,
                 (unsigned long long)at, (unsigned long long)got, (unsigned long long)want);
}

// The tracee: dies with its parent (init reaps it), makes calls a tracer stops at.
// A grandchild whose code or registers may be changed under it (a tracer's
// POKETEXT and SETREGS, a random return address) must not reach the counts
// init reads: it drops the shared page first.
static void drop_shared(void) { raw(11, (uint64_t)sh, sizeof *sh, 0, 0, 0, 0); }

static void tracee_main(int traceme) {
    drop_shared();
    raw(157, 1, SIGKILL, 0, 0, 0, 0);             // PR_SET_PDEATHSIG
    if (raw(110, 0, 0, 0, 0, 0, 0) == 1) raw(60, 0, 0, 0, 0, 0, 0);
    if (traceme) { raw(101, 0, 0, 0, 0, 0, 0); raw(62, raw(39, 0, 0, 0, 0, 0, 0), SIGSTOP, 0, 0, 0, 0); }
    for (uint64_t i = 0;; i++) {
        raw(39, 0, 0, 0, 0, 0, 0);
        if (i % 64 == 0) raw(24, 0, 0, 0, 0, 0, 0);
        if (i % 512 == 0) raw(62, raw(39, 0, 0, 0, 0, 0, 0), SIGWINCH, 0, 0, 0, 0);   // ignored: a signal stop
        if (i % 4096 == 0) { struct timespec ts = { 0, 1000000 }; raw(35, (uint64_t)&ts, 0, 0, 0, 0, 0); }
    }
}

static pid_t some_tracee(void) {
    pid_t t = tracee;
    if (t > 0 && below(48)) return t;
    if (t > 0) { raw(62, t, SIGKILL, 0, 0, 0, 0); raw(61, t, 0, 0x40000000, 0, 0, 0); }   // __WALL
    int traceme = below(3) == 0;
    pid_t p = (pid_t)raw(57, 0, 0, 0, 0, 0, 0);
    if (p == 0) { tracee_main(traceme); }
    tracee = p;
    if (p > 0 && !traceme) {
        if (below(2)) raw(101, 16, p, 0, 0, 0, 0);                                                  // PTRACE_ATTACH
        else raw(101, 0x4206, p, 0, below(4) ? (0x100000 | below(0x80)) : pool_value(), 0, 0);     // PTRACE_SEIZE
    }
    return p;
}

static uint64_t text_address(void) {
    uint64_t lo = (uint64_t)__executable_start, hi = (uint64_t)etext;
    return lo + below(hi - lo);
}

static long new_surface(uint64_t *a, pid_t me) {
    switch (below(8)) {
    case 0: {   // ptrace on a child of ours, random requests with plausible arguments
        static const uint64_t reqs[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16, 17, 24, 31, 32, 0x4200, 0x4201, 0x4202,
                                         0x4203, 0x4204, 0x4205, 0x4206, 0x4207, 0x4208, 0x4209, 0x420a, 0x420b, 0x420c, 0x420d,
                                         0x420e, 0x420f, 0x4210, 0x4211 };
        pid_t t = some_tracee();
        if (t <= 0) return -1;
        // Consume a stop now and then (WNOHANG|__WALL).
        if (below(3) == 0) raw(61, t, scratch_at(2040), 1 | 0x40000000, 0, 0, 0);
        uint64_t r = reqs[below(sizeof reqs / sizeof reqs[0])];
        a[0] = below(24) ? r : pool_value(); a[1] = below(16) ? (uint64_t)t : pool_value();
        a[2] = pool_arg(); a[3] = pool_arg();
        switch (r) {
        case 1: case 2: case 4: case 5:   // PEEK/POKE TEXT/DATA: its pages (ours before the fork), its code
            a[2] = below(3) ? scratch_at(8 * below(360)) : below(2) ? text_address() : pool_pointer();
            a[3] = r < 4 ? scratch_at(8 * below(300)) : pool_value();
            if (r == 4 && below(2)) a[3] = (uint64_t)raw(101, 1, t, a[2], scratch_at(2032), 0, 0) == 0 ? *(uint64_t *)(page + 2032) : pool_value();
            break;
        case 3: case 6:                   // PEEKUSER/POKEUSER: words of struct user
            a[2] = below(4) ? 8 * below(120) : pool_value(); a[3] = r == 3 ? scratch_at(2032) : pool_value();
            break;
        case 13: case 0x4205: {           // SETREGS/SETREGSET: its registers with a few words changed
            uint64_t *regs = (uint64_t *)(page + 1024);
            raw(101, 12, t, 0, (uint64_t)regs, 0, 0);
            for (int k = below(3); k >= 0; k--) regs[below(27)] = below(2) ? pool_value() : pool_pointer();
            if (r == 13) { a[3] = below(8) ? (uint64_t)regs : pool_pointer(); break; }
            uint64_t *iov = (uint64_t *)(page + 992);
            iov[0] = (uint64_t)regs; iov[1] = below(4) ? 216 : pool_value();
            a[2] = below(4) ? 1 : below(2) ? 2 : 0x202; a[3] = below(8) ? (uint64_t)iov : pool_pointer();
            break;
        }
        case 12: case 14: case 15:        // GETREGS, GET/SETFPREGS into (or from) the valid pages
            a[3] = below(6) ? scratch_at(1024) : pool_pointer();
            break;
        case 0x4204: {                    // GETREGSET
            uint64_t *iov = (uint64_t *)(page + 992);
            iov[0] = scratch_at(1024); iov[1] = below(4) ? 8 * below(300) : pool_value();
            a[2] = below(4) ? 1 : below(2) ? 2 : 0x202; a[3] = below(8) ? (uint64_t)iov : pool_pointer();
            break;
        }
        case 7: case 9: case 17: case 24: case 31: case 32:   // resumes, with a signal now and then
            a[2] = 0; a[3] = below(4) ? 0 : below(70);
            break;
        case 0x4200: case 0x4206:         // SETOPTIONS, SEIZE
            a[2] = 0; a[3] = below(4) ? below(0x100) | (below(2) ? 0x100000 : 0) : pool_value();
            break;
        case 0x4209: {                    // PEEKSIGINFO
            uint64_t *args = (uint64_t *)(page + 960);
            args[0] = below(4) ? below(4) : pool_value(); args[1] = below(4) ? (below(2) | ((uint64_t)below(8) << 32)) : pool_value();
            a[2] = (uint64_t)args; a[3] = below(4) ? scratch_at(1024) : pool_pointer();
            break;
        }
        case 0x420a: case 0x420b:         // GET/SETSIGMASK
            a[2] = below(4) ? 8 : pool_value(); a[3] = below(4) ? scratch_at(1024) : pool_pointer();
            break;
        case 0x420e:                      // GET_SYSCALL_INFO
            a[2] = below(4) ? 88 : pool_value(); a[3] = scratch_at(1024);
            break;
        }
        return 101;
    }
    case 1: {   // NUMA memory policies
        static const uint64_t maxn[] = { 0, 1, 2, 3, 64, 65, 128, 1024, 1025 };
        static const uint64_t mflags[] = { 0, 1 << 15, 1 << 14, 1 << 13, 3 << 14 };
        uint64_t *mask = (uint64_t *)(page + 2400);
        mask[0] = below(4) ? 1 : pool_value(); mask[1] = below(4) ? 0 : pool_value();
        uint64_t *mask2 = mask + 2;
        mask2[0] = below(4) ? 1 : pool_value(); mask2[1] = 0;
        uint64_t maxnode = below(8) ? maxn[below(9)] : pool_value();
        uint64_t mode = (below(8) ? below(7) : pool_value() & 0xffff) | mflags[below(5)];
        uint64_t start = below(4) ? (uint64_t)page + pagesz * below(3) : below(3) ? text_address() & ~(uint64_t)(pagesz - 1) : pool_pointer();
        uint64_t len = below(4) ? pagesz * below(4) : pool_value();
        uint64_t pid = below(4) ? 0 : below(2) ? (uint64_t)me : tracee > 0 ? (uint64_t)tracee : pool_value();
        switch (below(6)) {
        case 0:   // mbind(start, len, mode, nmask, maxnode, flags)
            a[0] = start; a[1] = len; a[2] = mode; a[3] = below(8) ? (uint64_t)mask : pool_pointer(); a[4] = maxnode;
            a[5] = below(3) ? 0 : below(2) ? (uint64_t)(1 << below(3)) : pool_value();
            return 237;
        case 1:   // set_mempolicy(mode, nmask, maxnode)
            a[0] = mode; a[1] = below(8) ? (uint64_t)mask : pool_pointer(); a[2] = maxnode;
            return 238;
        case 2:   // get_mempolicy(&mode, nmask, maxnode, addr, flags)
            a[0] = below(4) ? scratch_at(2440) : pool_pointer(); a[1] = below(4) ? scratch_at(2448) : pool_pointer(); a[2] = maxnode;
            a[3] = start; a[4] = below(4) ? below(8) : pool_value();
            return 239;
        case 3:   // migrate_pages(pid, maxnode, old, new)
            a[0] = pid; a[1] = maxnode; a[2] = (uint64_t)mask; a[3] = below(8) ? (uint64_t)mask2 : pool_pointer();
            return 256;
        case 4: { // move_pages(pid, count, pages, nodes, status, flags)
            uint64_t *pages = (uint64_t *)(page + 2464);
            int32_t *nodes = (int32_t *)(page + 2600), *status = (int32_t *)(page + 2700);
            int n = below(8) ? (int)below(9) : (int)below(24);
            for (int i = 0; i < n && i < 16; i++) { pages[i] = below(3) ? (uint64_t)page + pagesz * below(4) + below(2) * below(4096) : pool_pointer(); nodes[i] = below(4) ? 0 : (int32_t)pool_value(); }
            a[0] = pid; a[1] = below(8) ? (uint64_t)n : pool_value(); a[2] = below(8) ? (uint64_t)pages : pool_pointer();
            a[3] = below(2) ? (uint64_t)nodes : below(2) ? 0 : pool_pointer(); a[4] = below(8) ? (uint64_t)status : pool_pointer();
            a[5] = below(2) ? 0 : below(2) ? 2 : below(2) ? 4 : pool_value();
            return 279;
        }
        default:  // set_mempolicy_home_node(start, len, node, flags)
            a[0] = start; a[1] = len; a[2] = below(4) ? below(2) : pool_value(); a[3] = below(4) ? 0 : pool_value();
            return 450;
        }
    }
    case 2: {   // process_vm_readv/writev on our tracee or our parent: its copy of our pages, its code
        pid_t t = below(4) ? some_tracee() : (pid_t)raw(110, 0, 0, 0, 0, 0, 0);
        if (t == 1) t = me;
        uint64_t *local = (uint64_t *)(page + 1024), *remote = (uint64_t *)(page + 1152);
        int nl = below(8) ? 1 + below(4) : below(1100), nr = below(8) ? 1 + below(4) : below(1100);
        for (int i = 0; i < 4; i++) {
            local[2 * i] = below(6) ? scratch_at(below(2048)) : pool_pointer(); local[2 * i + 1] = below(6) ? below(512) : pool_value();
            remote[2 * i] = below(3) ? scratch_at(below(2048)) : below(2) ? text_address() : pool_pointer();
            remote[2 * i + 1] = below(6) ? below(512) : pool_value();
        }
        a[0] = t; a[1] = (uint64_t)local; a[2] = nl; a[3] = (uint64_t)remote; a[4] = nr; a[5] = below(8) ? 0 : pool_value();
        return below(2) ? 310 : 311;
    }
    case 3: {   // /proc/PID/mem of ourselves or our tracee: reads, and writes of what is there
        char *path = page + 2800;
        pid_t t = below(2) ? me : some_tracee();
        if (below(4) == 0) strcpy(path, "/proc/self/mem"); else snprintf(path, 64, "/proc/%d/mem", t > 0 ? t : me);
        long fd = raw(2, (uint64_t)path, below(3) ? 2 : 0, 0, 0, 0, 0);
        if (fd < 0) return -1;
        char *buf = page + 1024;
        uint64_t at;
        switch (below(8)) {
        case 0: case 1: at = (uint64_t)page + below(3 * pagesz); break;
        case 2: at = (uint64_t)ropage + below(64); break;                       // read-only: a forced write
        case 3: case 4: at = text_address(); break;                             // our code (maybe a patched site)
        case 5: at = 0xffffffffff600000ULL + below(4096); break;                // vsyscall page
        case 6: at = pool_value(); break;                                       // unsigned offsets past 2^63 too
        default: at = pool_pointer(); break;
        }
        uint64_t n = below(4) ? below(64) : below(2) ? pagesz * below(3) + below(16) : pool_value();
        uint64_t m = n > 1024 ? 1024 : n;
        switch (below(4)) {
        case 0: raw(17, fd, (uint64_t)buf, n, at, 0, 0); break;                // pread
        case 1: {  // write back what is there (never changes our code), or pool values into our data
            long got = raw(17, fd, (uint64_t)buf, m, at, 0, 0);
            if (at >= (uint64_t)__executable_start && at < (uint64_t)etext) { if (got > 0) raw(18, fd, (uint64_t)buf, got, at, 0, 0); }
            else if (at < (uint64_t)page || at >= (uint64_t)page + 3 * pagesz || below(2)) raw(18, fd, (uint64_t)buf, got > 0 ? (uint64_t)got : n, at, 0, 0);
            else raw(18, fd, scratch_at(below(2048)), below(64), at, 0, 0);
            break;
        }
        case 2: {  // lseek and read, or readv/writev over iovecs
            raw(8, fd, at, below(8) ? 0 : below(5), 0, 0, 0);
            if (below(2)) raw(0, fd, (uint64_t)buf, n, 0, 0, 0);
            else if (at < (uint64_t)__executable_start || at >= (uint64_t)etext) raw(below(2) ? 19 : 20, fd, some_iovec(3), below(4), 0, 0, 0);
            break;
        }
        default:   // preadv2/pwritev2 with flags
            if (at >= (uint64_t)__executable_start && at < (uint64_t)etext) raw(327, fd, some_iovec(3), below(4), at, 0, below(4) ? 0 : pool_value());
            else raw(below(2) ? 327 : 328, fd, some_iovec(3), below(4), at, 0, below(4) ? 0 : pool_value());
            break;
        }
        raw(3, fd, 0, 0, 0, 0, 0);
        return -1;
    }
    case 4: {   // int $0x80 (SIGSEGV on the kernel the sentry presents), in a grandchild
        pid_t p = (pid_t)raw(57, 0, 0, 0, 0, 0, 0);
        if (p == 0) {
            drop_shared();
            raw(157, 1, SIGKILL, 0, 0, 0, 0);
            uint64_t nr = below(4) ? below(460) : pool_value();
            uint64_t b = pool_arg(), c = pool_arg(), d = pool_arg(), si = pool_arg(), di = pool_arg();
            __asm__ volatile("int $0x80" : "+a"(nr), "+b"(b), "+c"(c), "+d"(d), "+S"(si), "+D"(di) : : "memory");
            raw(60, 0, 0, 0, 0, 0, 0);
        }
        if (p > 0) raw(61, p, 0, 0x40000000, 0, 0, 0);
        return -1;
    }
    case 5: {   // the vsyscall page: calls at its entries, and odd ones in a grandchild
        uint64_t entry = 0xffffffffff600000ULL + 0x400 * below(3);
        uint64_t di = below(3) ? scratch_at(8 * below(64)) : 0, si = below(3) ? scratch_at(512 + 8 * below(64)) : 0, dx = pool_value();
        if (below(3)) {
            uint64_t ret = entry;
            __asm__ volatile("sub $128, %%rsp\n\tcall *%%rax\n\tadd $128, %%rsp"
                             : "+a"(ret), "+D"(di), "+S"(si), "+d"(dx) : : "rcx", "r8", "r9", "r10", "r11", "memory");
            return -1;
        }
        pid_t p = (pid_t)raw(57, 0, 0, 0, 0, 0, 0);
        if (p == 0) {
            drop_shared();
            raw(157, 1, SIGKILL, 0, 0, 0, 0);
            // Misaligned entries, pointers that fault, a return address read from a random stack.
            if (below(2)) entry = 0xffffffffff600000ULL + below(4096);
            di = below(2) ? pool_pointer() : di; si = below(2) ? pool_pointer() : si;
            uint64_t sp = below(2) ? pool_pointer() : 0;
            if (sp) __asm__ volatile("mov %4, %%rsp\n\tjmp *%%rax" : "+a"(entry), "+D"(di), "+S"(si), "+d"(dx) : "r"(sp) : "memory");
            __asm__ volatile("sub $128, %%rsp\n\tcall *%%rax\n\tadd $128, %%rsp"
                             : "+a"(entry), "+D"(di), "+S"(si), "+d"(dx) : : "rcx", "r8", "r9", "r10", "r11", "memory");
            raw(60, 0, 0, 0, 0, 0, 0);
        }
        if (p > 0) raw(61, p, 0, 0x40000000, 0, 0, 0);
        return -1;
    }
    case 6: {   // fork, then both sides write: neither sees the other's writes (copy-on-write, 64 KiB granules)
        uint64_t len = below(2) ? pagesz * (1 + below(40)) : 65536 * (1 + below(3)) + pagesz * below(17);
        uint64_t *m = (uint64_t *)raw(9, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0);
        if ((uint64_t)m > (uint64_t)-4096) return -1;
        uint64_t words = len / 8, tag = rnd() | 1;
#define COWVAL(i) (((uint64_t)(i) * 0x9E3779B97F4A7C15ULL) ^ tag)
        for (uint64_t i = 0; i < words; i++) m[i] = COWVAL(i);
        // Pages the parent never touched read as zero on both sides.
        uint64_t hole = below(2) ? below(len / pagesz) : (uint64_t)-1;
        if (hole != (uint64_t)-1) raw(28, (uint64_t)m + hole * pagesz, pagesz, 4, 0, 0, 0);   // MADV_DONTNEED
        int check = !g_threaded && !filtered;
        pid_t p = (pid_t)raw(57, 0, 0, 0, 0, 0, 0);
        if (p == 0) raw(157, 1, SIGKILL, 0, 0, 0, 0);
        // Opened after the fork: an fd of /proc/self/mem stays with the mm it was opened on.
        int fd = below(4) == 0 ? (int)raw(2, (uint64_t)"/proc/self/mem", 2, 0, 0, 0, 0) : -1;
        // Each side writes ~value at offsets of its own, so a write that leaks to the other side shows.
        uint64_t side = p == 0 ? 0x1111111111111111ULL : 0x2222222222222222ULL;
        if (p == 0) rs ^= 0xC0FFEE;
        uint64_t wrote[32]; int nw = (int)below(32);
        for (int k = 0; k < nw; k++) {
            wrote[k] = below(words);
            uint64_t v = COWVAL(wrote[k]) ^ side;
            if (fd >= 0 && below(2)) raw(18, fd, (uint64_t)&v, 8, (uint64_t)&m[wrote[k]], 0, 0);   // through /proc/self/mem
            else m[wrote[k]] = v;
        }
        if (p > 0) raw(61, p, 0, 0x40000000, 0, 0, 0);
        if (check && p >= 0) {
            __atomic_fetch_add(&sh->cowchecked, 1, __ATOMIC_RELAXED);
            for (uint64_t i = 0; i < words; i++) {
                uint64_t want = (i / (pagesz / 8) == hole) ? 0 : COWVAL(i);
                for (int k = 0; k < nw; k++) if (wrote[k] == i) want = COWVAL(i) ^ side;
                if (m[i] != want) {
                    note_bad(&sh->cowbad, p == 0 ? "fork: child reads" : "fork: parent reads", i * 8, m[i], want);
                    break;
                }
            }
        }
#undef COWVAL
        if (p == 0) raw(60, 0, 0, 0, 0, 0, 0);
        if (fd >= 0) raw(3, fd, 0, 0, 0, 0, 0);
        raw(11, (uint64_t)m, len, 0, 0, 0, 0);
        return -1;
    }
    default: {  // a JIT: syscall thunks written, run (patched on systrap after two traps), rewritten, run again
        static uint8_t *jit;
        static const uint32_t nrs[] = { 39, 110, 102, 104 };   // getpid, getppid, getuid, getgid
        if (!jit) {
            jit = (uint8_t *)raw(9, 0, 2 * pagesz, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0);
            if ((uint64_t)jit > (uint64_t)-4096) { jit = 0; return -1; }
        }
        // Thunk at an offset (sometimes across the page boundary): mov $nr,%eax (or %rax); syscall; ret.
        uint64_t off = below(4) ? 16 * below(16) : pagesz - 1 - below(8);
        uint32_t n = nrs[below(4)];
        uint8_t code[16]; int len = 0;
        if (below(2)) { code[len++] = 0xb8; }
        else { code[len++] = 0x48; code[len++] = 0xc7; code[len++] = 0xc0; }
        memcpy(code + len, &n, 4); len += 4;
        code[len++] = 0x0f; code[len++] = 0x05; code[len++] = 0xc3;
        int how = (int)below(5);
        (void)0;
        long mp;
        switch (how) {
        case 0:    // mprotect writable, write, executable again
            raw(10, (uint64_t)jit, 2 * pagesz, PROT_READ | PROT_WRITE, 0, 0, 0);
            memcpy(jit + off, code, len);
            mp = raw(10, (uint64_t)jit, 2 * pagesz, PROT_READ | PROT_EXEC, 0, 0, 0);
            break;
        case 1: {  // a forced write through /proc/self/mem over executable, unwritable code
            // Half the time a thunk is there already, run (patched), and only
            // its number is rewritten, as a debugger or JIT changing an
            // immediate would: the mov's other bytes must stay the guest's.
            int imm = below(2);
            if (imm) {
                uint8_t old[16]; memcpy(old, code, len);
                uint32_t other = nrs[below(4)]; memcpy(old + len - 7, &other, 4);
                raw(10, (uint64_t)jit, 2 * pagesz, PROT_READ | PROT_WRITE, 0, 0, 0);
                memcpy(jit + off, old, len);
                raw(10, (uint64_t)jit, 2 * pagesz, PROT_READ | PROT_EXEC, 0, 0, 0);
                for (int k = 0; k < 3; k++) ((long (*)(void))(jit + off))();
            }
            raw(10, (uint64_t)jit, 2 * pagesz, PROT_READ | PROT_EXEC, 0, 0, 0);
            long fd = raw(2, (uint64_t)"/proc/self/mem", 2, 0, 0, 0, 0);
            if (imm) mp = fd < 0 ? fd : raw(18, fd, (uint64_t)code + len - 7, 4, (uint64_t)jit + off + len - 7, 0, 0) == 4 ? 0 : -1;
            else mp = fd < 0 ? fd : raw(18, fd, (uint64_t)code, len, (uint64_t)jit + off, 0, 0) == len ? 0 : -1;
            if (fd >= 0) raw(3, fd, 0, 0, 0, 0, 0);
            break;
        }
        case 2:    // a fresh mapping over the old code, written, then made executable
            mp = raw(9, (uint64_t)jit, 2 * pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, (uint64_t)-1, 0);
            if ((uint64_t)mp == (uint64_t)jit) { memcpy(jit + off, code, len); mp = raw(10, (uint64_t)jit, 2 * pagesz, PROT_READ | PROT_EXEC, 0, 0, 0); }
            break;
        case 3:    // our own text made writable and executable, then back (nothing written)
            mp = raw(10, text_address() & ~(uint64_t)(pagesz - 1), pagesz * (1 + below(3)), PROT_READ | PROT_WRITE | PROT_EXEC, 0, 0, 0);
            raw(10, text_address() & ~(uint64_t)(pagesz - 1), pagesz * (1 + below(3)), PROT_READ | PROT_EXEC, 0, 0, 0);
            return -1;
        default:   // mremap the code elsewhere and back (its patches must follow or go)
            raw(10, (uint64_t)jit, 2 * pagesz, PROT_READ | PROT_WRITE, 0, 0, 0);
            memcpy(jit + off, code, len);
            mp = raw(10, (uint64_t)jit, 2 * pagesz, PROT_READ | PROT_EXEC, 0, 0, 0);
            if (mp == 0) {
                for (int k = 0; k < 3; k++) ((long (*)(void))(jit + off))();   // patched here, then moved
                uint64_t dst = raw(9, 0, 2 * pagesz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0);
                uint64_t moved = dst > (uint64_t)-4096 ? dst : raw(25, (uint64_t)jit, 2 * pagesz, 2 * pagesz, 3, dst, 0);   // MAYMOVE|FIXED
                if (moved <= (uint64_t)-4096) jit = (uint8_t *)moved;
                else if (dst <= (uint64_t)-4096) raw(11, dst, 2 * pagesz, 0, 0, 0, 0);
            }
            break;
        }
        if (mp != 0) return -1;
        long want = raw(n, 0, 0, 0, 0, 0, 0);
        if (!g_threaded && !filtered) __atomic_fetch_add(&sh->jitchecked, 1, __ATOMIC_RELAXED);
        for (int k = 0; k < 4; k++) {
            long got = ((long (*)(void))(jit + off))();
            if (got != want && !g_threaded && !filtered) { note_bad(&sh->jitbad, n == 39 ? "jit getpid" : "jit call", (uint64_t)jit + off, (uint64_t)got, (uint64_t)want); break; }
        }
        return -1;
    }
    }
}

static long structured(uint64_t *a) {
    uint64_t alen = 0;
    pid_t me = (pid_t)raw(39, 0, 0, 0, 0, 0, 0);
    // A third of them go to the surfaces merged since the first runs.
    if (below(3) == 0) return new_surface(a, me);
    switch (below(16)) {
    case 0: {   // futex_waitv: an array of waiters on words in the valid pages
        uint64_t *w = (uint64_t *)(page + 512);
        int n = below(8) ? (int)below(6) : (int)below(200);
        for (int i = 0; i < n && i < 20; i++) {
            w[3 * i] = below(2) ? 0 : pool_value();
            w[3 * i + 1] = below(6) ? scratch_at(4 * below(64)) : pool_pointer();
            w[3 * i + 2] = below(6) ? (2 | (below(2) ? 128 : 0)) : pool_value();
        }
        uint64_t *ts = (uint64_t *)(page + 480);
        ts[0] = below(8) ? 0 : pool_value(); ts[1] = below(8) ? below(1000000) : pool_value();   // absolute: long past
        a[0] = (uint64_t)w; a[1] = (uint64_t)n; a[2] = below(8) ? 0 : pool_value(); a[3] = below(16) ? (uint64_t)ts : pool_arg(); a[4] = below(2) ? 1 : below(12);
        return 449;
    }
    case 1: {   // PI futexes on a word holding 0, our tid, another's, waiters or owner-died bits
        static const uint64_t ops[] = { 6, 7, 8, 11, 12, 13 };
        uint32_t *f = (uint32_t *)(page + 256);
        // Owners: none, ourselves, a tid that does not exist, init (waits until the child's timeout), junk.
        uint32_t vals[] = { 0, (uint32_t)me, (uint32_t)me | 0x80000000u, (uint32_t)me | 0x40000000u, 0x3ffff000u, 0xc0000001u, (uint32_t)pool_value(), 1 };
        f[0] = vals[below(16) ? below(7) : 7]; f[1] = vals[below(7)];
        a[0] = below(8) ? (uint64_t)f : pool_pointer(); a[1] = ops[below(6)] | (below(2) ? 128 : 0) | (below(4) ? 0 : 256);
        uint64_t *ts = (uint64_t *)(page + 480);
        ts[0] = below(8) ? 0 : pool_value(); ts[1] = below(8) ? below(1000000) : pool_value();
        a[2] = below(3) ? below(3) : pool_value(); a[3] = below(8) ? (uint64_t)ts : below(2) ? 0 : pool_value();
        a[4] = below(2) ? (uint64_t)(f + 1) : pool_pointer(); a[5] = below(2) ? f[1] : pool_value();
        return 202;
    }
    case 2: {   // rseq: an aligned area, sometimes a critical section descriptor in it
        uint32_t *r = (uint32_t *)(page + 64 * below(8));
        uint64_t *cs = (uint64_t *)(page + 2944);
        cs[0] = below(6) ? 0 : pool_value(); cs[1] = below(2) ? pool_pointer() : 0x400000 + below(0x1000);
        cs[2] = below(2) ? below(4096) : pool_value(); cs[3] = below(2) ? cs[1] + below(8192) : pool_value();
        r[0] = 0; r[1] = (uint32_t)-1; *(uint64_t *)(r + 2) = below(2) ? (uint64_t)cs : 0; r[4] = below(8) ? 0 : (uint32_t)pool_value();
        a[0] = below(8) ? (uint64_t)r : pool_pointer(); a[1] = below(6) ? 32 : pool_value(); a[2] = below(3) ? 0 : below(3) ? 1 : pool_value();
        a[3] = below(2) ? 0x53053053 : pool_value();
        return 334;
    }
    case 3: {   // mq_open with attributes
        static const char *names[] = { "/fq", "/fq2", "fq", "/", "/a/b", "" };
        char *n = page + 2816;
        strcpy(n, names[below(6)]);
        int64_t *attr = (int64_t *)(page + 2880);
        attr[0] = 0; attr[1] = (int64_t)(below(4) ? 1 + below(16) : pool_value()); attr[2] = (int64_t)(below(4) ? 1 + below(8192) : pool_value()); attr[3] = 0;
        a[0] = below(8) ? (uint64_t)n : pool_pointer(); a[1] = below(2) ? (0100 | 2 | (below(2) ? 04000 : 0)) : pool_value();
        a[2] = below(2) ? 0600 : pool_value(); a[3] = below(3) ? (uint64_t)attr : below(2) ? 0 : pool_pointer();
        return 240;
    }
    case 4: {   // mq_timedsend / mq_timedreceive / mq_notify / mq_getsetattr on a likely fd
        uint64_t *ts = (uint64_t *)(page + 480);
        ts[0] = below(4) ? 0 : pool_value(); ts[1] = below(4) ? below(1000000) : pool_value();
        a[0] = 3 + below(12);
        switch (below(4)) {
        case 0: a[1] = scratch_at(below(1024)); a[2] = below(4) ? below(8192) : pool_value(); a[3] = below(32768); a[4] = below(8) ? (uint64_t)ts : 0; return 242;
        case 1: a[1] = scratch_at(below(1024)); a[2] = below(4) ? 8192 + below(8192) : pool_value(); a[3] = below(2) ? scratch_at(1000) : 0; a[4] = below(8) ? (uint64_t)ts : 0; return 243;
        case 2: {
            int32_t *ev = (int32_t *)(page + 2880);
            *(uint64_t *)ev = pool_value(); ev[2] = (int32_t)below(40); ev[3] = (int32_t)below(4);
            a[1] = below(4) ? (uint64_t)ev : pool_arg(); return 244;
        }
        default: a[1] = below(2) ? scratch_at(2880) : 0; a[2] = below(2) ? scratch_at(2944) : 0; return 245;
        }
    }
    case 5: {   // seccomp: a filter (or other operations), with flags
        static const uint64_t flags[] = { 0, 1, 2, 4, 8, 16, 32, 1 | 8, 8 | 32, 1 | 16 };
        a[0] = below(3) ? below(4) : 1; a[1] = below(8) ? flags[below(10)] : pool_value(); a[2] = some_bpf();
        if (a[0] == 2) { *(uint32_t *)(page + 2880) = (uint32_t)pool_value(); a[2] = scratch_at(2880); }
        return 317;
    }
    case 6:     // prctl(PR_SET_SYSCALL_USER_DISPATCH): a range and a selector byte
        // Mostly a selector saying ALLOW (the child goes on); BLOCK or junk ends it at its next call.
        *(uint8_t *)(page + 2900) = (uint8_t)(below(8) ? 0 : below(3));
        a[0] = 59; a[1] = below(3) ? 0 : below(4) ? 1 : below(3); a[2] = below(2) ? (uint64_t)page : pool_value(); a[3] = below(2) ? below(1 << 20) : pool_value();
        a[4] = below(8) ? scratch_at(2900) : pool_pointer(); a[5] = 0;
        return 157;
    case 7: {   // other prctls with plausible options
        static const uint64_t opts[] = { 1, 2, 3, 4, 15, 16, 22, 23, 24, 36, 37, 38, 39, 40, 41, 47, 53, 57, 59, 65, 66, 1499557217 };
        a[0] = opts[below(sizeof opts / sizeof opts[0])]; a[1] = below(3) ? below(4) : pool_arg(); a[2] = pool_arg(); a[3] = below(2) ? 0 : pool_arg(); a[4] = below(2) ? 0 : pool_arg();
        return 157;
    }
    case 8: {   // process_vm_readv/writev on ourselves, iovecs both sides
        a[0] = below(8) ? (uint64_t)me : pool_value(); a[1] = some_iovec(4); a[2] = below(6) ? below(5) : pool_value();
        a[3] = scratch_at(1024 + 64 * 2); a[4] = below(6) ? below(3) : pool_value(); a[5] = below(8) ? 0 : pool_value();
        return below(2) ? 310 : 311;
    }
    case 9:     // kcmp against ourselves or our parent
        a[0] = below(6) ? (uint64_t)me : pool_value(); a[1] = below(2) ? (uint64_t)me : (uint64_t)raw(110, 0, 0, 0, 0, 0, 0);
        a[2] = below(8) ? below(8) : pool_value(); a[3] = below(4) ? below(12) : pool_value(); a[4] = below(4) ? below(12) : pool_arg();
        return 312;
    case 10: {  // socket / socketpair with real families and types
        static const uint64_t fam[] = { 1, 2, 10, 16 };
        static const uint64_t typ[] = { 1, 2, 5, 3, 1 | 04000, 2 | 02000000 };
        a[0] = below(8) ? fam[below(4)] : pool_value(); a[1] = below(8) ? typ[below(6)] : pool_value(); a[2] = below(4) ? 0 : pool_value();
        a[3] = scratch_at(2700);
        return below(3) ? 41 : 53;
    }
    case 11:    // bind / connect / sendto with real addresses
        a[0] = 3 + below(14); a[1] = some_sock_addr(&alen); a[2] = alen;
        switch (below(3)) {
        case 0: return 49;
        case 1: return 42;
        default: a[4] = a[1]; a[5] = a[2]; a[1] = scratch_at(below(2048)); a[2] = below(512); a[3] = below(2) ? 0 : pool_value() & 0x4fff; return 44;
        }
    case 12:    // sendmsg / recvmsg with control messages
        // MSG_DONTWAIT mostly: a blocked child only waits for its timeout.
        a[0] = 3 + below(14); a[1] = some_msghdr(); a[2] = (below(8) ? 0x40 : 0) | (below(2) ? 0 : pool_value() & 0x4fff);
        return below(2) ? 46 : 47;
    case 13: {  // setsockopt / getsockopt at real levels
        static const uint64_t lv[] = { 1, 0, 6, 17, 41, 270 };
        *(int32_t *)(page + 2900) = (int32_t)pool_value(); *(uint32_t *)(page + 2904) = (uint32_t)(below(4) ? 4 : pool_value());
        a[0] = 3 + below(14); a[1] = lv[below(6)]; a[2] = below(70); a[3] = scratch_at(2900); a[4] = below(2) ? (below(2) ? 4 : below(64)) : scratch_at(2904);
        return below(2) ? 54 : 55;
    }
    case 14:    // listen / accept4 / shutdown / sendmmsg / recvmmsg
        a[0] = 3 + below(14);
        switch (below(5)) {
        case 0: a[1] = pool_value() & 0xff; return 50;
        case 1: a[1] = scratch_at(2048); *(uint32_t *)(page + 2200) = 128; a[2] = below(2) ? scratch_at(2200) : 0; a[3] = below(2) ? 04000 : pool_value(); return 288;
        case 2: a[1] = below(4); return 48;
        default: {
            uint64_t *mm = (uint64_t *)(page + 1800);
            for (int i = 0; i < 2; i++) { memcpy(mm + 8 * i, (void *)some_msghdr(), 56); mm[8 * i + 7] = 0; }
            a[1] = (uint64_t)mm; a[2] = below(4) ? below(3) : pool_value(); a[3] = below(2) ? 0x40 : pool_value() & 0x4fff; a[4] = 0;
            return below(2) ? 307 : 299;
        }
        }
    default: {  // clone3 with a sized struct (made safe in one_call)
        uint64_t *ca = (uint64_t *)page;
        ca[0] = below(2) ? 0 : pool_value(); ca[1] = below(2) ? 0 : scratch_at(2000); ca[2] = below(2) ? 0 : scratch_at(2008);
        ca[3] = below(2) ? 0 : scratch_at(2016); ca[4] = below(2) ? SIGCHLD : pool_value(); ca[7] = below(2) ? 0 : pool_value();
        ca[8] = below(2) ? 0 : scratch_at(2100); ca[9] = below(2) ? 0 : below(4); ca[10] = below(2) ? 0 : pool_value();
        return 435;
    }
    }
}

static void one_call(int me) {
    long nr;
    uint64_t a[6];
    if (safe_mode) nr = safe_calls[below(sizeof safe_calls / sizeof safe_calls[0])];
    else if (below(50) == 0) nr = 460 + below(MAXNR - 460);
    else if (below(400) == 0) nr = (long)pool_value();
    else nr = below(460);
    for (int i = 0; i < 6; i++) a[i] = pool_arg();
    // One call in six targets a newer surface with well-formed structs.
    if (!safe_mode && below(6) == 0) { nr = structured(a); if (nr < 0) { sh->calls[me]++; return; } }
    if (nr >= 0 && nr < MAXNR) sh->seen[nr] = 1;
    sh->calls[me]++;
    volatile uint64_t *rec = sh->last[me][tslot];
    rec[0] = (uint64_t)nr;
    for (int i = 0; i < 6; i++) rec[i + 1] = a[i];
    if (safe_mode) { raw(nr, 0, 0, 0, 0, 0, 0); return; }
    switch (nr) {
    case 62: case 200: case 129:  // kill, tkill, rt_sigqueueinfo: never init (nor everyone)
    case 297: case 234:           // rt_tgsigqueueinfo, tgkill
    case 310: case 311: case 302: // process_vm_readv/writev, prlimit64
    case 312: case 256: case 279: // kcmp, migrate_pages, move_pages
    case 424: case 434:           // pidfd_send_signal, pidfd_open
    case 144: case 145: case 203: case 204: // sched_{set,get}scheduler, sched_{set,get}affinity
        // (kill(0, ...) stays: the child is in a session of its own.)
        if ((int32_t)a[0] == 1 || (int32_t)a[0] == -1 || ((int32_t)a[0] == 0 && nr != 62)) a[0] = raw(39, 0, 0, 0, 0, 0, 0);
        if ((nr == 234 || nr == 297) && (int32_t)a[1] <= 1) a[1] = a[0];
        break;
    case 101:  // ptrace: its pid is the second argument; attaching to init would stop the run
        if ((int32_t)a[1] == 1 || (int32_t)a[1] <= 0) a[1] = raw(39, 0, 0, 0, 0, 0, 0);
        break;
    case 56: case 435: case 57: case 58:  // clone, clone3, fork, vfork
        // A child whose parent dies first is reparented to init, and its exit
        // signal should become SIGCHLD (Linux resets it); init has a handler for
        // every signal but SIGKILL, SIGSTOP and glibc's own 32 and 33, which
        // would end or stop the run.
        if (nr == 56) {
            a[0] &= ~(uint64_t)CLONE_UNSAFE; a[1] = 0;
            if (!init_handles(a[0] & 0xff)) a[0] = (a[0] & ~0xffULL) | SIGCHLD;
        }
        if (nr == 435) {  // clone3 with a struct made safe the same way
            uint64_t *ca = (uint64_t *)page;
            ca[0] &= ~(uint64_t)CLONE_UNSAFE;
            if (ca[4] < 65 && !init_handles(ca[4])) ca[4] = SIGCHLD;
            ca[5] = ca[6] = 0;  // stack, stack_size
            a[0] = (uint64_t)page; a[1] = below(4) ? 88 : pool_value();
        }
        raw_forky(nr, a[0], a[1], a[2], a[3], a[4]);
        return;
    case 285: case 40: case 275: case 276: case 326: case 77: // fallocate, sendfile, splice, tee, copy_file_range, ftruncate
        // Sizes that would fill the host disk through the rw bind: keep the
        // overflowing ones (>= 2^62), shrink the merely large.
        for (int i = 1; i < 6; i++) if (a[i] > (1ULL << 24) && a[i] < (1ULL << 62)) a[i] &= 0xffffff;
        break;
    case 9: // mmap: MAP_POPULATE|MAP_LOCKED of terabytes would only measure the host's RAM
        if (a[1] > (1ULL << 30) && a[1] < (1ULL << 62)) a[3] &= ~(uint64_t)(0x8000 | 0x2000);
        break;
    case 169: // reboot: would end the sandbox, which is what Linux does too
        if (below(8)) return;
        a[0] = a[1] = 0;   // wrong magic: EINVAL
        break;
    case 61: case 247: // wait4, waitid: the child has no children to wait for but forks
        break;
    }
    long r = raw(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    // (SUD, rseq and a tracer can only end the child, not change an answer.)
    if (r >= 0 && (nr == 317 || (nr == 157 && a[0] == 22))) filtered = 1;
}

// Init survives signals from its children with a handler for each: Linux's
// pid-namespace init ignores those it has no handler for, which a fuzzer
// should not depend on. It counts them.
static volatile long init_signals;
static void count_signal(int sig) { (void)sig; init_signals++; }

static int g_calls, g_me;
static void *thread_main(void *arg) {
    tslot = (int)((uintptr_t)arg & 3);
    rs = (uint64_t)(uintptr_t)arg | 4;
    for (int i = 0; i < g_calls / 2; i++) one_call(g_me);
    return 0;
}

static void child(uint64_t seed, int me, long nth, int calls, int threads) {
    rs = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)nth * 0xBF58476D1CE4E5B9ULL + 1;
    raw(112, 0, 0, 0, 0, 0, 0);  // setsid: kill(0, ...) reaches only this child
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0); dup2(null, 1); dup2(null, 2);
    // Some fds of every kind to act on.
    open("/tmp/fuzz/a", O_RDWR);
    open("/tmp/fuzz/dir", O_RDONLY | O_DIRECTORY);
    int p[2]; pipe(p);
    open("/scratch/f", O_RDWR);
    open("/proc/self/maps", O_RDONLY);
    open("/ro/file", O_RDONLY);
    syscall(SYS_eventfd2, 0, 0);
    syscall(SYS_epoll_create1, 0);
    refill();
    if (threads && !safe_mode && below(4) == 0) {
        g_calls = calls; g_me = me; g_threaded = 1;
        pthread_t t[2];
        for (int i = 0; i < 2; i++) pthread_create(&t[i], 0, thread_main, (void *)(uintptr_t)((rnd() & ~3ULL) | (uint64_t)(i + 1)));
    }
    for (int i = 0; i < calls; i++) {
        if (i % 16 == 0) refill();
        one_call(me);
    }
    raw(231, 0, 0, 0, 0, 0, 0);
}

// A child's count, bounded by what it can make (its calls, and half as many
// on each of two threads): a child may still overwrite it (a random
// process_vm_writev or /proc/self/mem write), which must not end the run.
static uint64_t calls_of(int i) {
    uint64_t c = sh->calls[i];
    return c > 2 * CALLS_PER_CHILD ? 2 * CALLS_PER_CHILD : c;
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
    int argi = 1;
    if (argc > 1 && !strcmp(argv[1], "--safe")) { safe_mode = 1; argi++; }
    if (argc - argi < 2) { fprintf(stderr, "usage: fuzz [--safe] SEED NCALLS [NCHILDREN [THREADS]]\n"); return 2; }
    uint64_t seed = strtoull(argv[argi], 0, 0);
    uint64_t ncalls = strtoull(argv[argi + 1], 0, 0);
    int nchildren = argc > argi + 2 ? atoi(argv[argi + 2]) : 4;
    int threads = argc > argi + 3 ? atoi(argv[argi + 3]) : 1;
    if (nchildren < 1) nchildren = 1;
    if (nchildren > 64) nchildren = 64;
    if (getpid() != 1 && !safe_mode) {
        fprintf(stderr, "fuzz: not pid 1: run me only as the sentry's init (or with --safe)\n");
        return 2;
    }
    setvbuf(stdout, 0, _IOLBF, 0);
    struct sigaction sa = { 0 };
    sa.sa_handler = count_signal;
    for (int sig = 1; sig < 65; sig++) if (sig != SIGCHLD && sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &sa, 0);
    printf("fuzz: seed=%llu calls=%llu children=%d threads=%d%s\n", (unsigned long long)seed,
           (unsigned long long)ncalls, nchildren, threads, safe_mode ? " safe" : "");

    // The shared counts sit between two 1 MiB PROT_NONE gaps: a child's own
    // random mprotect of its guard page plus a long read into its valid
    // pages (Linux would do the same) must not reach them.
    char *reserve = mmap(0, (2 << 20) + sizeof *sh, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    sh = reserve == MAP_FAILED ? MAP_FAILED : mmap(reserve + (1 << 20), sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    page = mmap(0, NPAGES * pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(page + (NPAGES - 1) * pagesz, pagesz, PROT_NONE);
    ropage = mmap(0, pagesz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pathbuf = mmap(0, NPATHS * 256, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    longpath = malloc(PATH_MAX + 64);
    memset(longpath, 'a', PATH_MAX + 63); longpath[PATH_MAX + 63] = 0;
    for (int i = 1; i < PATH_MAX + 63; i += 200) longpath[i] = '/';
    if (sh == MAP_FAILED || page == MAP_FAILED || ropage == MAP_FAILED || pathbuf == MAP_FAILED) { perror("fuzz: mmap"); return 1; }
    mkdir("/tmp/fuzz", 0777);
    mkdir("/tmp/fuzz/dir", 0777);
    close(open("/tmp/fuzz/a", O_CREAT | O_RDWR, 0666));
    symlink("/scratch/f", "/tmp/fuzz/link");

    // Child slot i counts its calls in sh->calls[i]; a reaped child's count
    // goes into `reaped`.
    pid_t pids[64] = { 0 };
    long starts[64] = { 0 };
    uint64_t reaped = 0, done = 0;
    long children = 0, exited = 0, signaled = 0, timeouts = 0, stuck = 0;
    long killed_at[64] = { 0 };
    int running = 0;
    for (;;) {
        done = reaped;
        for (int i = 0; i < nchildren; i++) if (pids[i]) done += calls_of(i);
        for (int i = 0; i < nchildren; i++) {
            if (pids[i]) continue;
            uint64_t planned = done + (uint64_t)running * CALLS_PER_CHILD;
            if (planned >= ncalls) break;
            int calls = ncalls - planned < CALLS_PER_CHILD ? (int)(ncalls - planned) : CALLS_PER_CHILD;
            sh->calls[i] = 0;
            memset((void *)sh->last[i], 0, sizeof sh->last[i]);
            pid_t pid = fork();
            if (pid == 0) {
                sa.sa_handler = SIG_DFL;
                for (int sig = 1; sig < 65; sig++) sigaction(sig, &sa, 0);
                child(seed, i, children, calls, threads);
            }
            if (pid < 0) { perror("fuzz: fork"); break; }
            pids[i] = pid; starts[i] = now_ms(); killed_at[i] = 0;
            children++; running++;
        }
        if (running == 0) break;
        int status;
        pid_t w = waitpid(-1, &status, WNOHANG);
        if (w > 0) {
            for (int i = 0; i < nchildren; i++) {
                if (pids[i] != w) continue;
                pids[i] = 0; running--;
                reaped += calls_of(i);
                if (WIFSIGNALED(status)) signaled++; else exited++;
            }
            continue;
        }
        if (w < 0 && errno != EINTR) { fprintf(stderr, "fuzz: waitpid: %s with %d running\n", strerror(errno), running); return 1; }
        // A child blocked too long is killed: a hang is not what is measured.
        long t = now_ms();
        for (int i = 0; i < nchildren; i++) {
            if (!pids[i]) continue;
            if (!killed_at[i] && t - starts[i] > CHILD_TIMEOUT_MS) { kill(pids[i], SIGKILL); killed_at[i] = t; timeouts++; }
            // SIGKILL must end any task: one still there 10 s later is a sentry bug.
            if (killed_at[i] && t - killed_at[i] > 10000) {
                char path[64], buf[512] = "";
                snprintf(path, sizeof path, "/proc/%d/stat", pids[i]);
                int fd = open(path, O_RDONLY);
                if (fd >= 0) { ssize_t n = read(fd, buf, sizeof buf - 1); if (n > 0) buf[n] = 0; close(fd); }
                printf("fuzz: STUCK child %d survives SIGKILL: %s\n", pids[i], buf);
                for (int k = 0; k < 3; k++) {
                    volatile uint64_t *r = sh->last[i][k];
                    if (r[0] || r[1]) printf("fuzz: STUCK child %d thread %d last call %llu(%#llx, %#llx, %#llx, %#llx, %#llx, %#llx)\n", pids[i], k,
                        (unsigned long long)r[0], (unsigned long long)r[1], (unsigned long long)r[2], (unsigned long long)r[3],
                        (unsigned long long)r[4], (unsigned long long)r[5], (unsigned long long)r[6]);
                }
                pids[i] = 0; running--; stuck++;
            }
        }
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, 0);
    }
    unsigned distinct = 0;
    printf("fuzz: seen");
    for (int i = 0; i < MAXNR; i++) if (sh->seen[i]) { distinct++; printf(" %d", i); }
    printf("\n");
    if (sh->cowbad || sh->jitbad) printf("fuzz: MEMORY WRONG cowbad=%llu jitbad=%llu first: %s\n", (unsigned long long)sh->cowbad, (unsigned long long)sh->jitbad, sh->bad);
    printf("fuzz: done seed=%llu calls=%llu distinct=%u children=%ld exited=%ld signaled=%ld timeouts=%ld init-signals=%ld stuck=%ld cowbad=%llu/%llu jitbad=%llu/%llu\n",
           (unsigned long long)seed, (unsigned long long)done, distinct, children, exited, signaled, timeouts, init_signals, stuck,
           (unsigned long long)sh->cowbad, (unsigned long long)sh->cowchecked, (unsigned long long)sh->jitbad, (unsigned long long)sh->jitchecked);
    return 0;
}
