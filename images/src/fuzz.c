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

static long structured(uint64_t *a) {
    uint64_t alen = 0;
    pid_t me = (pid_t)raw(39, 0, 0, 0, 0, 0, 0);
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
    if (!safe_mode && below(6) == 0) nr = structured(a);
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
    case 101: case 312:           // ptrace, kcmp
    case 424: case 434:           // pidfd_send_signal, pidfd_open
    case 144: case 145: case 203: case 204: // sched_{set,get}scheduler, sched_{set,get}affinity
        // (kill(0, ...) stays: the child is in a session of its own.)
        if ((int32_t)a[0] == 1 || (int32_t)a[0] == -1 || ((int32_t)a[0] == 0 && nr != 62)) a[0] = raw(39, 0, 0, 0, 0, 0, 0);
        if ((nr == 234 || nr == 297) && (int32_t)a[1] <= 1) a[1] = a[0];
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
    raw(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
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
        g_calls = calls; g_me = me;
        pthread_t t[2];
        for (int i = 0; i < 2; i++) pthread_create(&t[i], 0, thread_main, (void *)(uintptr_t)((rnd() & ~3ULL) | (uint64_t)(i + 1)));
    }
    for (int i = 0; i < calls; i++) {
        if (i % 16 == 0) refill();
        one_call(me);
    }
    raw(231, 0, 0, 0, 0, 0, 0);
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

    sh = mmap(0, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
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
        for (int i = 0; i < nchildren; i++) if (pids[i]) done += sh->calls[i];
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
                reaped += sh->calls[i];
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
    printf("fuzz: done seed=%llu calls=%llu distinct=%u children=%ld exited=%ld signaled=%ld timeouts=%ld init-signals=%ld stuck=%ld\n",
           (unsigned long long)seed, (unsigned long long)done, distinct, children, exited, signaled, timeouts, init_signals, stuck);
    return 0;
}
