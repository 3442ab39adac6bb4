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

static void one_call(int me) {
    long nr;
    uint64_t a[6];
    if (safe_mode) nr = safe_calls[below(sizeof safe_calls / sizeof safe_calls[0])];
    else if (below(50) == 0) nr = 460 + below(MAXNR - 460);
    else if (below(400) == 0) nr = (long)pool_value();
    else nr = below(460);
    for (int i = 0; i < 6; i++) a[i] = pool_arg();
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
