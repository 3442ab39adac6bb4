// Syscall sites that systrap patches (`mov $nr, %eax; syscall`, and
// `syscall; cmp $imm32, %rax` whatever set rax), run the
// ways patching must not be seen: threads racing through a site while it
// is patched, a JIT that writes, runs and rewrites its code, signals that
// interrupt a patched blocking call (SA_RESTART or not, and the rip its
// handler sees), fork and exec of a patched image, clock reads the stub
// answers itself (`clocks`), rt_sigprocmask calls it answers itself
// (`sigmask`). Everything it prints is
// what Linux gives, except `code`, which says what a guest reading its own
// code sees (README, "Syscall patching").
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

// The sites, written out so that their bytes are known: b8 imm32 0f 05.
extern const unsigned char getppid_site[], read_syscall[];
__attribute__((noinline)) static long site_getppid(void) {
    long r;
    __asm__ volatile(".globl getppid_site\n getppid_site: mov $110, %%eax\n syscall" : "=a"(r) : : "rcx", "r11", "memory");
    return r;
}
__attribute__((noinline)) static long site_read(int fd, void *buf, size_t n) {
    long r;
    __asm__ volatile("mov $0, %%eax\n .globl read_syscall\n read_syscall: syscall"
                     : "=a"(r) : "D"((long)fd), "S"(buf), "d"(n) : "rcx", "r11", "memory");
    return r;
}

// An `after` site (`syscall; cmp $-4095,%rax`, as glibc's wrappers end):
// rax comes from a register, so only the instruction after the syscall
// makes it a site. after_fn(nr, a, b, c) returns the result, or 0x10000 |
// errno when the cmp's flags say it failed (jae); after_jump(v) jumps
// straight to the cmp with rax = v, as merged tails of compiled code may.
extern const unsigned char after_site[];
long after_fn(long nr, long a, long b, long c);
long after_jump(long v);
__asm__(".text\n"
        ".globl after_fn\n after_fn:\n"
        "  mov %rdi, %rax\n  mov %rsi, %rdi\n  mov %rdx, %rsi\n  mov %rcx, %rdx\n"
        ".globl after_site\n after_site: syscall\n"
        "after_cmp: cmp $-4095, %rax\n"
        "  jae 1f\n  ret\n"
        "1: neg %rax\n  or $0x10000, %rax\n  ret\n"
        ".globl after_jump\n after_jump:\n"
        "  mov %rdi, %rax\n  jmp after_cmp\n");

static int code(void) {
    for (int i = 0; i < 10; i++) site_getppid();
    printf("getppid site: %s\n", getppid_site[0] == 0xe9 ? "patched (jmp)" : getppid_site[0] == 0xb8 ? "original (mov)" : "other");
    printf("syscall instruction kept: %s\n", getppid_site[5] == 0x0f && getppid_site[6] == 0x05 ? "yes" : "no");
    return 0;
}

enum { THREADS = 4, CALLS = 5000 };
static pthread_barrier_t start;
static long want_ppid;
static void *racer(void *arg) {
    long *wrong = arg;
    pthread_barrier_wait(&start);
    for (int i = 0; i < CALLS; i++) if (site_getppid() != want_ppid) (*wrong)++;
    return NULL;
}
// THREADS threads run `fn` from one start; the wrong results they counted.
static long race(void *(*fn)(void *)) {
    want_ppid = getppid();
    pthread_t t[THREADS];
    long wrong[THREADS] = {0};
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, fn, &wrong[i]);
    long all = 0;
    for (int i = 0; i < THREADS; i++) { pthread_join(t[i], NULL); all += wrong[i]; }
    pthread_barrier_destroy(&start);
    return all;
}
static int threads(void) {
    long all = race(racer);
    printf("threads: %d calls through one site, %ld wrong\n", THREADS * CALLS, all);
    return all != 0;
}

static int jit(void) {
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char *p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    static const unsigned char getpid_code[] = { 0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xc3 };   // mov $39,%eax; syscall; ret
    memcpy(p + 64, getpid_code, sizeof getpid_code);
    if (mprotect(p, pg, PROT_READ | PROT_EXEC)) { perror("mprotect rx"); return 1; }
    long (*f)(void) = (long (*)(void))(p + 64);
    int bad = 0;
    for (int i = 0; i < 10; i++) if (f() != getpid()) bad++;
    printf("jit getpid: %s\n", bad ? "wrong" : "ok");
    if (mprotect(p, pg, PROT_READ | PROT_WRITE)) { perror("mprotect rw"); return 1; }
    printf("jit code made writable again:");
    for (int i = 0; i < 8; i++) printf(" %02x", p[64 + i]);
    printf("\n");
    p[65] = 110;   // getppid
    if (mprotect(p, pg, PROT_READ | PROT_EXEC)) { perror("mprotect rx 2"); return 1; }
    bad = 0;
    for (int i = 0; i < 10; i++) if (f() != getppid()) bad++;
    printf("jit rewritten to getppid: %s\n", bad ? "wrong" : "ok");
    // An `after` site in JIT code: mov %edi,%eax; syscall; cmp $-4095,%rax; ret.
    static const unsigned char after_code[] = { 0x89, 0xf8, 0x0f, 0x05, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, 0xc3 };
    if (mprotect(p, pg, PROT_READ | PROT_WRITE)) { perror("mprotect rw 2"); return 1; }
    memcpy(p + 128, after_code, sizeof after_code);
    if (mprotect(p, pg, PROT_READ | PROT_EXEC)) { perror("mprotect rx 3"); return 1; }
    long (*g)(long) = (long (*)(long))(p + 128);
    bad = 0;
    for (int i = 0; i < 10; i++) if (g(SYS_getpid) != getpid() || g(SYS_getppid) != getppid()) bad++;
    printf("jit after site: %s\n", bad ? "wrong" : "ok");
    if (mprotect(p, pg, PROT_READ | PROT_WRITE)) { perror("mprotect rw 3"); return 1; }
    printf("jit after site made writable again:");
    for (int i = 0; i < (int)sizeof after_code; i++) printf(" %02x", p[128 + i]);
    printf("\n");
    return 0;
}

static int after_code(void) {
    for (int i = 0; i < 10; i++) after_fn(SYS_getppid, 0, 0, 0);
    const unsigned char *b = after_site;
    printf("after site: %s\n", b[0] == 0xeb && b[1] == 1 && b[2] == 0xcc && b[3] == 0xe9 ? "patched (jmp; int3; jmp)"
                              : b[0] == 0x0f && b[1] == 5 && b[2] == 0x48 && b[3] == 0x3d ? "original (syscall; cmp)" : "other");
    return 0;
}

static void *after_racer(void *arg) {
    long *wrong = arg;
    long pid = getpid();
    pthread_barrier_wait(&start);
    for (int i = 0; i < CALLS; i++) {
        if (after_fn(SYS_getppid, 0, 0, 0) != want_ppid) (*wrong)++;
        if (after_fn(SYS_getpid, 0, 0, 0) != pid) (*wrong)++;
        if (after_fn(SYS_close, -1, 0, 0) != (0x10000 | EBADF)) (*wrong)++;
    }
    return NULL;
}
// Calls through the `after` site: results and the cmp's flags, a jump into
// the cmp (before and after the site is patched), threads racing through it
// while it is patched, and a GS base of the guest's own (the trampoline's
// fallback: a mapped GS that is no stub area, and an unmapped one).
static int after(void) {
    int bad = 0;
    for (int i = 0; i < 20; i++) {
        if (after_fn(SYS_getppid, 0, 0, 0) != getppid()) bad++;
        if (after_fn(SYS_read, -1, 0, 0) != (0x10000 | EBADF)) bad++;
        if (after_jump(i) != i || after_jump(-i - 1) != (0x10000 | (i + 1))) bad++;
    }
    printf("after site: results and flags %s\n", bad ? "wrong" : "ok");
    char buf[4] = "";
    int p[2];
    if (pipe(p) || write(p[1], "abc", 3) != 3) { perror("pipe"); return 1; }
    long r = after_fn(SYS_read, p[0], (long)buf, sizeof buf);
    printf("after site: read %ld bytes '%s'\n", r, buf);
    long all = race(after_racer);
    printf("after site threads: %d calls, %ld wrong\n", THREADS * CALLS * 3, all);
    static char gsarea[8192];
    const unsigned long bases[] = { (unsigned long)gsarea, 0x23456000 };
    for (int k = 0; k < 2; k++) {
        if (syscall(SYS_arch_prctl, 0x1001 /* ARCH_SET_GS */, bases[k])) { perror("arch_prctl"); return 1; }
        bad = 0;
        for (int i = 0; i < 20; i++) {
            if (after_fn(SYS_getppid, 0, 0, 0) != want_ppid) bad++;
            if (after_fn(SYS_close, -1, 0, 0) != (0x10000 | EBADF)) bad++;
        }
        syscall(SYS_arch_prctl, 0x1001, 0);
        printf("after site with a GS base of the guest's own (%s): %s\n", k ? "unmapped" : "mapped", bad ? "wrong" : "ok");
    }
    return all != 0;
}

static volatile sig_atomic_t got;
static volatile unsigned long handler_rip;
static void on_alarm(int sig, siginfo_t *si, void *ucv) {
    (void)sig; (void)si;
    ucontext_t *uc = ucv;
    handler_rip = uc->uc_mcontext.gregs[REG_RIP];
    got = 1;
}
static int pipefd[2];
static void *late_writer(void *arg) {
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    while (!got) usleep(1000);
    usleep(20000);
    if (write(pipefd[1], "x", 1) != 1) perror("write");
    return NULL;
}
// One blocking read at the patched site, interrupted by SIGALRM. Returns
// 0 if the signal came while the read was blocked (what is reported), -1 if
// it came elsewhere (a loaded machine ran late): the caller tries again.
static long read_at_site(int fd, void *buf, size_t n) { return site_read(fd, buf, n); }
static long read_after_site(int fd, void *buf, size_t n) {
    long r = after_fn(SYS_read, fd, (long)buf, (long)n);
    return r & 0x10000 ? -(r & 0xffff) : r;
}
static int interrupted_read(int flags, const char *name, long (*rd)(int, void *, size_t), const unsigned char *sc) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_alarm;
    sa.sa_flags = SA_SIGINFO | flags;
    sigaction(SIGALRM, &sa, NULL);
    got = 0;
    handler_rip = 0;
    char c = 0;
    // Warm the site up (systrap patches it on its second trap).
    if (write(pipefd[1], "ab", 2) != 2) perror("write");
    rd(pipefd[0], &c, 1);
    rd(pipefd[0], &c, 1);
    pthread_t w;
    pthread_create(&w, NULL, late_writer, NULL);
    struct itimerval it = { { 0, 0 }, { 0, 100000 } };
    setitimer(ITIMER_REAL, &it, NULL);
    long r = rd(pipefd[0], &c, 1);
    pthread_join(w, NULL);
    if (r != 1) rd(pipefd[0], &c, 1);   // the late byte
    const char *where = handler_rip == (unsigned long)sc ? "the syscall (restart)"
                        : handler_rip == (unsigned long)sc + 2 ? "after the syscall" : NULL;
    if (!where) return -1;
    if (r == 1) printf("%s: read %ld byte '%c', handler saw rip at %s\n", name, r, c, where);
    else printf("%s: read %s, handler saw rip at %s\n", name, r == -EINTR ? "-EINTR" : "something else", where);
    return 0;
}
static int signals(void) {
    if (pipe(pipefd)) { perror("pipe"); return 1; }
    int tries = 0;
    while (interrupted_read(SA_RESTART, "SA_RESTART", read_at_site, read_syscall) && ++tries < 20) {}
    while (interrupted_read(0, "no SA_RESTART", read_at_site, read_syscall) && ++tries < 40) {}
    if (tries >= 40) return 1;
    tries = 0;
    while (interrupted_read(SA_RESTART, "after site, SA_RESTART", read_after_site, after_site) && ++tries < 20) {}
    while (interrupted_read(0, "after site, no SA_RESTART", read_after_site, after_site) && ++tries < 40) {}
    return tries >= 40;
}

static int forks(const char *self) {
    long pid = getpid();
    for (int i = 0; i < 10; i++) site_getppid();
    pid_t c = fork();
    if (c == 0) {
        int bad = 0;
        for (int i = 0; i < 1000; i++) if (site_getppid() != pid) bad++;
        printf("fork child: 1000 calls of the parent's site, %d wrong\n", bad);
        fflush(stdout);
        _exit(bad != 0);
    }
    int st;
    waitpid(c, &st, 0);
    printf("parent: child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    fflush(stdout);
    c = fork();
    if (c == 0) {
        execl(self, self, "exec", (char *)NULL);
        _exit(127);
    }
    waitpid(c, &st, 0);
    printf("parent: exec'd child exited %d, our site still works: %s\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
           site_getppid() == getppid() ? "yes" : "no");
    return 0;
}

// Clock reads a systrap stub answers itself at a patched site
// (Kernel/GuestSideClockReads.swift): a clock_gettime site as glibc's
// fallback without a vDSO writes it, the result as Linux's syscall gives
// it (EFAULT, EINVAL), threads racing through it while signals land in
// the loop, and a forked child whose first write is to a copy-on-write page.
__attribute__((noinline)) static long site_clock(long id, struct timespec *ts) {
    long r;
    __asm__ volatile("mov $228, %%eax\n syscall" : "=a"(r) : "D"(id), "S"(ts) : "rcx", "r11", "memory");
    return r;
}
static long long ns(const struct timespec *t) { return t->tv_sec * 1000000000LL + t->tv_nsec; }
static volatile sig_atomic_t ticks;
static void on_tick(int sig) { (void)sig; ticks++; }
static void *clock_racer(void *arg) {
    (void)arg;
    struct timespec prev = {0, 0}, t;
    long backwards = 0, failed = 0;
    pthread_barrier_wait(&start);
    for (int i = 0; i < 20000; i++) {
        if (site_clock(CLOCK_MONOTONIC, &t) != 0) failed++;
        else if (ns(&t) < ns(&prev)) backwards++;
        prev = t;
    }
    return (void *)(backwards * 1000 + failed);
}
static struct timespec in_data;
static int clocks(void) {
    struct timespec t, start_t;
    // Each case eight times: the site is patched by then.
    long fault = 0, readonly = 0, gone = 0, cpu = 0, bad = 0, negative = 0, wall = 0;
    char *ro = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *unmapped = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(unmapped, 4096);
    for (int i = 0; i < 8; i++) {
        fault += site_clock(CLOCK_REALTIME, (void *)1) == -EFAULT;
        readonly += site_clock(CLOCK_MONOTONIC, (void *)ro) == -EFAULT;
        gone += site_clock(CLOCK_BOOTTIME, (void *)unmapped) == -EFAULT;
        cpu += site_clock(CLOCK_PROCESS_CPUTIME_ID, &t) == 0 && ns(&t) > 0;
        bad += site_clock(10, &t) == -EINVAL;
        negative += site_clock(-1, &t) == -EINVAL;
        time_t before = time(NULL);
        wall += site_clock(CLOCK_REALTIME, &t) == 0 && t.tv_sec >= before && t.tv_sec <= before + 1;
    }
    printf("EFAULT: bad pointer %ld, read-only page %ld, unmapped page %ld of 8\n", fault, readonly, gone);
    printf("CPU clock %ld, EINVAL for id 10 %ld and -1 %ld, realtime agrees with time() %ld of 8\n", cpu, bad, negative, wall);
    if (ro[0] != 0) printf("read-only page written\n");

    // Threads through the one site.
    pthread_t th[4];
    pthread_barrier_init(&start, NULL, 4);
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, clock_racer, NULL);
    long bad_threads = 0;
    for (int i = 0; i < 4; i++) { void *r; pthread_join(th[i], &r); bad_threads += r != NULL; }
    printf("threads: %ld saw a failed or backward read\n", bad_threads);

    // Signals land in a loop of nothing but clock reads (a 1 ms timer, 20 ticks).
    signal(SIGALRM, on_tick);
    struct itimerval it = { {0, 1000}, {0, 1000} };
    setitimer(ITIMER_REAL, &it, NULL);
    site_clock(CLOCK_MONOTONIC, &start_t);
    do site_clock(CLOCK_MONOTONIC, &t); while (ticks < 20 && ns(&t) - ns(&start_t) < 10000000000LL);
    struct itimerval off = { {0, 0}, {0, 0} };
    setitimer(ITIMER_REAL, &off, NULL);
    printf("timer signals reached the loop: %s\n", ticks >= 20 ? "yes" : "no");

    // Copy-on-write: the child's first write to its data page, then the parent's.
    in_data.tv_sec = 7;
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 8; i++) if (site_clock(CLOCK_REALTIME, &in_data) != 0) _exit(1);
        _exit(in_data.tv_sec > 7 ? 0 : 2);
    }
    int status;
    waitpid(pid, &status, 0);
    int parent_kept = in_data.tv_sec == 7;
    for (int i = 0; i < 8; i++) site_clock(CLOCK_REALTIME, &in_data);
    printf("fork: child wrote its copy %s, parent's untouched %s, then written %s\n",
           WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes" : "no", parent_kept ? "yes" : "no",
           in_data.tv_sec > 7 ? "yes" : "no");
    return 0;
}

// A guest seccomp filter (here with TSYNC from another thread) turns
// the stub's own clock reads off: a sibling spinning on the patched site
// gets the filter's EPERM, as on Linux.
static volatile int filter_on;
static void *clock_spinner(void *arg) {
    (void)arg;
    struct timespec t, s0;
    site_clock(CLOCK_MONOTONIC, &s0);
    for (;;) {
        long r = site_clock(CLOCK_MONOTONIC, &t);
        if (r == -EPERM) return (void *)1;
        if (r == 0 && filter_on && ns(&t) - ns(&s0) > 10000000000LL) return (void *)0;
    }
}
static int clock_filter(void) {
    struct timespec t;
    for (int i = 0; i < 8; i++) site_clock(CLOCK_MONOTONIC, &t);
    pthread_t th;
    pthread_create(&th, NULL, clock_spinner, NULL);
    usleep(20000);
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 228, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof code / sizeof code[0], code };
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0) { perror("seccomp"); return 1; }
    filter_on = 1;
    long eperm = 0;
    for (int i = 0; i < 8; i++) eperm += site_clock(CLOCK_MONOTONIC, &t) == -EPERM;
    void *r;
    pthread_join(th, &r);
    printf("filter: EPERM %ld of 8 here, the spinning sibling's %s\n", eperm, r ? "EPERM" : "reads went on");
    return 0;
}

// rt_sigprocmask at one patched site: systrap's stub answers it itself
// while the task's mask is kept in its area (GuestSideSignalMask.swift).
// Every call also checks that the registers the syscall instruction
// keeps are kept (the stub has to borrow some).
static long clobbered;
__attribute__((noinline)) static long site_mask(long how, const unsigned long *set, unsigned long *old, long size) {
    long r;
    register long r10 __asm__("r10") = size;
    register long r8 __asm__("r8") = 0x0123456789abcdefL;
    register long r9 __asm__("r9") = 0x1122334455667788L;
    long how0 = how, size0 = size;
    const unsigned long *set0 = set;
    unsigned long *old0 = old;
    __asm__ volatile("mov $14, %%eax\n syscall"
                     : "=a"(r), "+D"(how), "+S"(set), "+d"(old), "+r"(r10), "+r"(r8), "+r"(r9) : : "rcx", "r11", "memory");
    if (how != how0 || set != set0 || old != old0 || r10 != size0 || r8 != 0x0123456789abcdefL || r9 != 0x1122334455667788L)
        clobbered++;
    return r;
}
#define BIT(s) (1UL << ((s) - 1))
static unsigned long mask_now(void) { unsigned long m = 0; site_mask(SIG_BLOCK, NULL, &m, 8); return m; }
static volatile long usr1_got, usr2_got;
static void on_usr1(int sig) { (void)sig; usr1_got++; }
static void on_usr2(int sig) { (void)sig; usr2_got++; }
static unsigned long in_handler;
static void on_usr1_look(int sig) { (void)sig; in_handler = mask_now(); }
static volatile int toggle_stop, spin_release;
static volatile pid_t toggler_tid;
static void *toggler(void *arg) {
    unsigned long sig = BIT((long)arg), none = 0;
    site_mask(SIG_SETMASK, &none, NULL, 8);
    toggler_tid = gettid();
    while (!toggle_stop) {
        site_mask(SIG_BLOCK, &sig, NULL, 8);
        site_mask(SIG_UNBLOCK, &sig, NULL, 8);
    }
    return NULL;
}
static void *mask_then_spin(void *arg) {
    (void)arg;
    unsigned long m = BIT(SIGHUP) | BIT(SIGUSR1) | BIT(SIGKILL);
    site_mask(SIG_SETMASK, &m, NULL, 8);
    toggler_tid = gettid();
    while (!spin_release) {}   // no call: the mask stays the stub's
    return NULL;
}
// Waits up to 10 s for *count to pass `before`.
static int waited(volatile long *count, long before) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        if (*count > before) return 1;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (ns(&t) - ns(&t0) < 10000000000LL);
    return 0;
}
// 200 signals `sig`, each waited for, to a thread toggling its mask
// (`to_thread`) or to the process; how many its handler took.
static long toggled(int sig, volatile long *count, int to_thread) {
    long delivered = 0;
    pthread_t th;
    toggle_stop = 0;
    toggler_tid = 0;
    pthread_create(&th, NULL, toggler, (void *)(long)sig);
    while (!toggler_tid) {}
    for (int i = 0; i < 200; i++) {
        long before = *count;
        if (to_thread) syscall(SYS_tgkill, getpid(), toggler_tid, sig); else kill(getpid(), sig);
        delivered += waited(count, before);
    }
    toggle_stop = 1;
    pthread_join(th, NULL);
    return delivered;
}
static int masks(const char *self) {
    unsigned long none = 0, m, old;
    for (int i = 0; i < 8; i++) site_mask(SIG_SETMASK, &none, NULL, 8);
    // What each form of the call does, eight times each.
    long ok = 0, einval_how = 0, null_how = 0, einval_size = 0, efault_set = 0, efault_old = 0, ro_old = 0, gone_old = 0, ro_set = 0;
    char *ro = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *(unsigned long *)ro = BIT(SIGCHLD);
    mprotect(ro, 4096, PROT_READ);
    char *unmapped = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(unmapped, 4096);
    for (int i = 0; i < 8; i++) {
        site_mask(SIG_SETMASK, &none, NULL, 8);
        m = BIT(SIGUSR1) | BIT(SIGKILL) | BIT(SIGSTOP);
        ok += site_mask(SIG_BLOCK, &m, &old, 8) == 0 && old == 0 && mask_now() == BIT(SIGUSR1);
        m = BIT(SIGUSR2) | BIT(SIGTERM);
        ok += site_mask(SIG_BLOCK, &m, &old, 8) == 0 && old == BIT(SIGUSR1) && mask_now() == (BIT(SIGUSR1) | m);
        m = BIT(SIGUSR1) | BIT(SIGINT);
        ok += site_mask(SIG_UNBLOCK, &m, &old, 8) == 0 && mask_now() == (BIT(SIGUSR2) | BIT(SIGTERM));
        m = ~0UL;
        ok += site_mask(SIG_SETMASK, &m, &old, 8) == 0 && old == (BIT(SIGUSR2) | BIT(SIGTERM))
              && mask_now() == ~(BIT(SIGKILL) | BIT(SIGSTOP));
        m = BIT(SIGQUIT);
        site_mask(SIG_SETMASK, &m, NULL, 8);
        einval_how += site_mask(3, &m, &old, 8) == -EINVAL && mask_now() == BIT(SIGQUIT);
        einval_how += site_mask(-1, &m, &old, 8) == -EINVAL;
        old = 0;
        null_how += site_mask(7, NULL, &old, 8) == 0 && old == BIT(SIGQUIT);
        einval_size += site_mask(SIG_BLOCK, &m, &old, 4) == -EINVAL && site_mask(SIG_BLOCK, &m, &old, 16) == -EINVAL;
        efault_set += site_mask(SIG_SETMASK, (void *)1, &old, 8) == -EFAULT && mask_now() == BIT(SIGQUIT);
        m = BIT(SIGALRM);
        efault_old += site_mask(SIG_BLOCK, &m, (void *)1, 8) == -EFAULT && mask_now() == (BIT(SIGQUIT) | BIT(SIGALRM));
        m = BIT(SIGPIPE);
        ro_old += site_mask(SIG_SETMASK, &m, (void *)ro, 8) == -EFAULT && mask_now() == BIT(SIGPIPE);
        m = BIT(SIGVTALRM);
        gone_old += site_mask(SIG_SETMASK, &m, (void *)unmapped, 8) == -EFAULT && mask_now() == BIT(SIGVTALRM);
        ro_set += site_mask(SIG_SETMASK, (void *)ro, &old, 8) == 0 && old == BIT(SIGVTALRM) && mask_now() == BIT(SIGCHLD);
    }
    printf("block, unblock, setmask %ld of 32; EINVAL for how 3 and -1 %ld of 16, no set any how %ld of 8\n", ok, einval_how, null_how);
    printf("EINVAL for sizes 4 and 16 %ld, EFAULT for a bad set %ld, a bad oldset %ld, a read-only oldset %ld, an unmapped one %ld; a read-only set %ld of 8\n",
           einval_size, efault_set, efault_old, ro_old, gone_old, ro_set);

    // A pending signal the call lets through is delivered as it returns.
    signal(SIGUSR1, on_usr1);
    long on_return = 0, group_on_return = 0;
    for (int i = 0; i < 8; i++) {
        m = BIT(SIGUSR1);
        site_mask(SIG_SETMASK, &m, NULL, 8);
        long before = usr1_got;
        syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1);
        long held = usr1_got == before;
        site_mask(SIG_UNBLOCK, &m, NULL, 8);
        on_return += held && usr1_got == before + 1;
        site_mask(SIG_BLOCK, &m, NULL, 8);
        before = usr1_got;
        kill(getpid(), SIGUSR1);
        held = usr1_got == before;
        site_mask(SIG_SETMASK, &none, NULL, 8);
        group_on_return += held && usr1_got == before + 1;
    }
    printf("pending signal delivered as the unblocking call returns: thread's %ld, process's %ld of 8\n", on_return, group_on_return);

    // A handler runs with its mask; the mask comes back after it.
    struct sigaction sa = { .sa_handler = on_usr1_look };
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGWINCH);
    sigaction(SIGUSR1, &sa, NULL);
    m = BIT(SIGHUP);
    site_mask(SIG_SETMASK, &m, NULL, 8);
    raise(SIGUSR1);
    printf("in the handler %#lx, after it %#lx\n", in_handler, mask_now());
    signal(SIGUSR1, on_usr1);

    // sigsuspend takes a signal blocked at the site; the mask comes back.
    m = BIT(SIGUSR1);
    site_mask(SIG_SETMASK, &m, NULL, 8);
    raise(SIGUSR1);
    sigset_t empty;
    sigemptyset(&empty);
    long before = usr1_got;
    int r = sigsuspend(&empty);
    printf("sigsuspend: %d %s, handler ran %s, mask after %#lx\n", r, errno == EINTR ? "EINTR" : "?", usr1_got == before + 1 ? "yes" : "no", mask_now());

    // Another thread's mask, set at the site while it spins, as /proc shows it.
    site_mask(SIG_SETMASK, &none, NULL, 8);
    pthread_t th;
    toggler_tid = 0;
    pthread_create(&th, NULL, mask_then_spin, NULL);
    while (!toggler_tid) {}
    char path[64], line[256], blk[64] = "?";
    snprintf(path, sizeof path, "/proc/self/task/%d/status", toggler_tid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) if (!strncmp(line, "SigBlk:", 7)) sscanf(line + 7, "%63s", blk);
    if (f) fclose(f);
    spin_release = 1;
    pthread_join(th, NULL);
    printf("a spinning sibling's SigBlk: %s\n", blk);

    // Signals to a thread toggling its mask at the site: none lost. Then
    // to the process, which only the toggling thread takes.
    long delivered = toggled(SIGUSR1, &usr1_got, 1);
    signal(SIGUSR2, on_usr2);
    m = BIT(SIGUSR2);
    site_mask(SIG_BLOCK, &m, NULL, 8);
    long group_delivered = toggled(SIGUSR2, &usr2_got, 0);
    printf("signals to a thread toggling its mask: %ld of 200; to its process: %ld of 200\n", delivered, group_delivered);

    // A fork's child and an exec keep the mask set at the site.
    m = BIT(SIGTTOU) | BIT(SIGUSR2);
    site_mask(SIG_SETMASK, &m, NULL, 8);
    pid_t pid = fork();
    if (pid == 0) {
        if (mask_now() != m) _exit(1);
        execl(self, self, "sigmaskexec", (char *)NULL);
        _exit(2);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("fork and exec: %s\n", WIFEXITED(status) ? (WEXITSTATUS(status) == 0 ? "kept" : "lost") : "killed");
    printf("registers the call keeps: clobbered %ld times\n", clobbered);
    return 0;
}


// set_robust_list at one site (a stub may record the head itself: at the
// site once patched, after its SIGSYS before), with the registers the
// syscall instruction keeps checked as site_mask checks them.
__attribute__((noinline)) static long site_robust(void *head, long len) {
    long r;
    register long r10 __asm__("r10") = 0x0123456789abcdefL;
    register long r8 __asm__("r8") = 0x1122334455667788L;
    void *head0 = head;
    long len0 = len;
    __asm__ volatile("mov $273, %%eax\n syscall" : "=a"(r), "+D"(head), "+S"(len), "+r"(r10), "+r"(r8) : : "rcx", "r11", "memory");
    if (head != head0 || len != len0 || r10 != 0x0123456789abcdefL || r8 != 0x1122334455667788L) clobbered++;
    return r;
}
static void *robust_of(int tid) {
    void *head = 0;
    size_t len = 0;
    if (syscall(SYS_get_robust_list, tid, &head, &len) != 0 || len != 24) return (void *)-1;
    return head;
}
static struct robust_list_head { void *next; long offset; void *pending; } fake_heads[2];
static volatile int robust_spin, robust_tid;
static void *robust_spinner(void *arg) {
    (void)arg;
    void *own = robust_of(0);
    robust_tid = (int)syscall(SYS_gettid);
    site_robust(&fake_heads[1], 24);
    robust_spin = 1;
    while (robust_spin == 1) {}
    site_robust(own, 24);
    return 0;
}
static pthread_mutex_t *robust_mutex;
static void *robust_dier(void *arg) {
    (void)arg;
    pthread_mutex_lock(robust_mutex);
    return 0;   // exits holding it: its robust list says so
}
static void robust_mutex_init(pthread_mutex_t *m, int shared) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (shared) pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(m, &a);
}
static int robust_taken(pthread_mutex_t *m) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += 5;
    int e = pthread_mutex_timedlock(m, &t);
    if (e == EOWNERDEAD) { pthread_mutex_consistent(m); pthread_mutex_unlock(m); return 1; }
    if (e == 0) pthread_mutex_unlock(m);
    return 0;
}
static int robust(void) {
    fake_heads[0].next = &fake_heads[0];
    fake_heads[1].next = &fake_heads[1];
    void *own = robust_of(0);
    long set = 0, einval = 0;
    for (int i = 0; i < 8; i++) {
        set += site_robust(&fake_heads[0], 24) == 0 && robust_of(0) == &fake_heads[0];
        einval += site_robust(own, 23) == -EINVAL && site_robust(own, 25) == -EINVAL && robust_of(0) == &fake_heads[0];
        set += site_robust(own, 24) == 0 && robust_of(0) == own;
    }
    printf("set and read back %ld of 16; EINVAL for sizes 23 and 25, head kept, %ld of 8\n", set, einval);
    // Another thread's head, read while it runs guest code.
    robust_spin = 0;
    pthread_t t;
    pthread_create(&t, 0, robust_spinner, 0);
    while (robust_spin == 0) {}
    int seen = robust_of(robust_tid) == &fake_heads[1];
    robust_spin = 2;
    pthread_join(t, 0);
    printf("a spinning thread's head read by another: %s\n", seen ? "as it set it" : "not");
    // Threads dying with a robust mutex held: the list glibc gave at each
    // thread's start (a stub may have recorded it) releases it at exit.
    static pthread_mutex_t m;
    robust_mutex = &m;
    robust_mutex_init(&m, 0);
    int owner_dead = 0;
    for (int i = 0; i < 8; i++) {
        pthread_create(&t, 0, robust_dier, 0);
        pthread_join(t, 0);
        owner_dead += robust_taken(&m);
    }
    printf("EOWNERDEAD after a thread died holding it: %d of 8\n", owner_dead);
    // The same across processes: each forked child's head (its own call, in glibc's fork).
    pthread_mutex_t *shared = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    robust_mutex_init(shared, 1);
    owner_dead = 0;
    for (int i = 0; i < 4; i++) {
        pid_t c = fork();
        if (c == 0) { pthread_mutex_lock(shared); _exit(0); }
        waitpid(c, 0, 0);
        owner_dead += robust_taken(shared);
    }
    printf("EOWNERDEAD after a child died holding it: %d of 4\n", owner_dead);
    printf("registers clobbered: %ld\n", clobbered);
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(mode, "code")) return code();
    if (!strcmp(mode, "threads")) return threads();
    if (!strcmp(mode, "jit")) return jit();
    if (!strcmp(mode, "signals")) return signals();
    if (!strcmp(mode, "fork")) return forks(argv[0]);
    if (!strcmp(mode, "after")) return after();
    if (!strcmp(mode, "clocks")) return clocks();
    if (!strcmp(mode, "clockfilter")) return clock_filter();
    if (!strcmp(mode, "clockcount")) {   // a hundred reads of one patched site, for a tracer to count
        struct timespec t;
        for (int i = 0; i < 100; i++) if (site_clock(CLOCK_MONOTONIC, &t) != 0) return 1;
        return 0;
    }
    if (!strcmp(mode, "sigmask")) return masks(argv[0]);
    if (!strcmp(mode, "robust")) return robust();
    if (!strcmp(mode, "robustcount")) {   // a hundred calls at one site, for a tracer to count
        fake_heads[0].next = &fake_heads[0];   // an empty list, for the exit's walk
        printf("%p\n", (void *)&fake_heads[0]);
        for (int i = 0; i < 100; i++) if (site_robust(&fake_heads[0], 24) != 0) return 1;
        return 0;
    }
    if (!strcmp(mode, "sigmaskexec")) {
        sigset_t now;
        sigprocmask(SIG_BLOCK, NULL, &now);
        return sigismember(&now, SIGTTOU) && sigismember(&now, SIGUSR2) && !sigismember(&now, SIGUSR1) ? 0 : 3;
    }
    if (!strcmp(mode, "sigmaskcount")) {   // a hundred calls at one patched site, for a tracer to count
        unsigned long urg = BIT(SIGURG);
        for (int i = 0; i < 100; i++) if (site_mask(SIG_BLOCK, &urg, NULL, 8) != 0) return 1;
        return 0;
    }
    if (!strcmp(mode, "spinserved")) {   // nothing but calls a stub may serve itself, forever: for a live tracer
        unsigned long urg = BIT(SIGURG);
        struct timespec t;
        void *own = robust_of(0);
        printf("ready\n");
        for (;;) { site_clock(CLOCK_MONOTONIC, &t); site_mask(SIG_BLOCK, &urg, NULL, 8); site_robust(own, 24); }
    }
    if (!strcmp(mode, "aftercode")) return after_code();
    if (!strcmp(mode, "exec")) {
        // A new image is a fresh copy of the file: no patch of the old one.
        printf("exec'd image: site bytes %s\n", getppid_site[0] == 0xb8 ? "as in the file" : "changed");
        int bad = 0;
        for (int i = 0; i < 100; i++) if (site_getppid() != getppid()) bad++;
        printf("exec'd image: 100 calls, %d wrong\n", bad);
        return 0;
    }
    fprintf(stderr, "usage: patching code|threads|jit|signals|fork|after|aftercode\n");
    return 2;
}
