// Restartable sequences: glibc 2.36's own registration at start-up
// (__rseq_offset, __rseq_size, sched_getcpu reading cpu_id), rseq(2)'s
// checks and errnos as Linux 6.1 orders them, inheritance over fork and
// threads, the reset at exec, a critical section aborted to its handler by
// a signal, SIGSEGV for a section whose abort signature is wrong, and
// membarrier's RSEQ command aborting another thread's section (`rseq membarrier`),
// and a thread whose exit(2) a seccomp filter refuses keeping its registration
// live (`rseq exitrefused`: cpu_id follows the thread from CPU to CPU after).
// Run as `rseq` (glibc registers) and `rseq own` with
// GLIBC_TUNABLES=glibc.pthread.rseq=0 (the program registers itself).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIG 0x53053053

struct area { uint32_t cpu_id_start, cpu_id; uint64_t rseq_cs; uint32_t flags; } __attribute__((aligned(32)));

static struct area mine, other;
static volatile int stop;
static int ncpu;

static long rseq_(void *a, uint32_t len, int flags, uint32_t sig) { return syscall(SYS_rseq, a, len, flags, sig); }

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static int validCPU(uint32_t c) { return (int)c >= 0 && (int)c < ncpu; }

static void onUsr1(int s) { (void)s; stop = 1; }

// Spins inside a critical section until told to stop; 2 if it was aborted
// to its handler, 1 if it ran to its end. `badSignature` puts another word
// before the abort handler.
static int criticalSection(volatile uint64_t *csField, int badSignature) {
    int result = 0;
    if (!badSignature) {
        __asm__ __volatile__(
            ".pushsection .data.rseqtest, \"aw\"\n"
            ".balign 32\n"
            "3: .long 0, 0\n"
            ".quad 1f, (2f - 1f), 4f\n"
            ".popsection\n"
            "leaq 3b(%%rip), %%rax\n"
            "movq %%rax, (%[cs])\n"
            "1:\n"
            "cmpl $0, %[stop]\n"
            "je 1b\n"
            "movl $1, %[result]\n"
            "2:\n"
            "jmp 5f\n"
            ".long 0x53053053\n"
            "4:\n"
            "movl $2, %[result]\n"
            "5:\n"
            : [result] "+m"(result)
            : [cs] "r"(csField), [stop] "m"(stop)
            : "rax", "memory", "cc");
    } else {
        __asm__ __volatile__(
            ".pushsection .data.rseqtest, \"aw\"\n"
            ".balign 32\n"
            "3: .long 0, 0\n"
            ".quad 1f, (2f - 1f), 4f\n"
            ".popsection\n"
            "leaq 3b(%%rip), %%rax\n"
            "movq %%rax, (%[cs])\n"
            "1:\n"
            "cmpl $0, %[stop]\n"
            "je 1b\n"
            "movl $1, %[result]\n"
            "2:\n"
            "jmp 5f\n"
            ".long 0x12345678\n"
            "4:\n"
            "movl $2, %[result]\n"
            "5:\n"
            : [result] "+m"(result)
            : [cs] "r"(csField), [stop] "m"(stop)
            : "rax", "memory", "cc");
    }
    *csField = 0;
    return result;
}

static void *tryRegister(void *arg) {
    (void)arg;
    static __thread struct area t;
    long r = rseq_(&t, 32, 0, SIG);
    printf("a new thread registers: %s\n", r == 0 ? "0" : strerrorname_np(errno));
    if (r == 0) rseq_(&t, 32, RSEQ_FLAG_UNREGISTER, SIG);
    return NULL;
}

// The registration this thread has: glibc's or ours.
static struct area *current(int own) {
    if (own) return &mine;
    return (struct area *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

static void sectionTests(struct area *a) {
    struct sigaction sa = {0};
    sa.sa_handler = onUsr1;
    sigaction(SIGUSR1, &sa, NULL);
    // A signal from another process ends the spin; the section is aborted.
    stop = 0;
    pid_t me = getpid();
    pid_t k = fork();
    if (k == 0) { usleep(50000); kill(me, SIGUSR1); _exit(0); }
    int r = criticalSection((volatile uint64_t *)&a->rseq_cs, 0);
    waitpid(k, NULL, 0);
    printf("critical section interrupted by a signal: %s\n", r == 2 ? "aborted to its handler" : "ran to its end");
    printf("rseq_cs cleared: %d\n", a->rseq_cs == 0);

    // A wrong signature before the abort handler: SIGSEGV.
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        stop = 0;
        criticalSection((volatile uint64_t *)&current(a == &mine)->rseq_cs, 1);
        _exit(0);
    }
    usleep(50000);
    kill(c, SIGUSR1);
    int st;
    waitpid(c, &st, 0);
    printf("wrong abort signature: %s\n", WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "exited");
}

// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ): another thread spinning
// in a critical section (and re-entering it after each abort) is aborted by
// the time the call returns, or soon after: its abort handler counts.
static volatile int spinnerStarted, spinnerAborts, spinnerEnd;
static void *spinner(void *arg) {
    (void)arg;
    struct area *a = current(0);
    spinnerStarted = 1;
    for (;;) {
        int r = criticalSection(&a->rseq_cs, 0);
        if (r != 2) { spinnerEnd = r; break; }
        __atomic_add_fetch(&spinnerAborts, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void membarrierRseq(void) {
    enum { PRIVATE_EXPEDITED_RSEQ = 128, REGISTER_PRIVATE_EXPEDITED_RSEQ = 256 };
    show("membarrier rseq before registering", syscall(SYS_membarrier, PRIVATE_EXPEDITED_RSEQ, 0, 0));
    show("register private expedited rseq", syscall(SYS_membarrier, REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0));
    pthread_t th;
    pthread_create(&th, NULL, spinner, NULL);
    while (!spinnerStarted) sched_yield();
    int seen = 0;
    for (int attempt = 0; attempt < 20 && !seen; attempt++) {
        int before = __atomic_load_n(&spinnerAborts, __ATOMIC_SEQ_CST);
        if (syscall(SYS_membarrier, PRIVATE_EXPEDITED_RSEQ, 0, 0) != 0) break;
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do {
            if (__atomic_load_n(&spinnerAborts, __ATOMIC_SEQ_CST) > before) { seen = 1; break; }
            clock_gettime(CLOCK_MONOTONIC, &t);
        } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 100000000L);
    }
    printf("membarrier rseq aborts the other thread's section: %s\n", seen ? "yes" : "no");
    stop = 1;
    pthread_join(th, NULL);
    printf("the other thread then ran its section to the end: %d\n", spinnerEnd);
}

// A thread's exit(42) refused by its own filter (EPERM): the thread goes on,
// and the kernel still keeps its rseq area's cpu_id as it moves between CPUs.
static void *exitRefused(void *arg) {
    (void)arg;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 42, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof f / sizeof f[0], f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
        printf("filter: %s\n", strerrorname_np(errno));
        return NULL;
    }
    show("exit(42)", syscall(SYS_exit, 42));
    struct area *a = current(0);
    cpu_set_t all;
    sched_getaffinity(0, sizeof all, &all);
    int follows = 1, tried = 0;
    for (int round = 0; round < 3; round++) {
        for (int c = 0; c < CPU_SETSIZE; c++) {
            if (!CPU_ISSET(c, &all)) continue;
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(c, &one);
            if (sched_setaffinity(0, sizeof one, &one)) continue;
            sched_yield();
            unsigned cpu = 0;
            syscall(SYS_getcpu, &cpu, NULL, NULL);
            tried++;
            if (a->cpu_id != cpu || a->cpu_id_start != cpu) follows = 0;
        }
    }
    sched_setaffinity(0, sizeof all, &all);
    printf("cpu_id follows getcpu after the refused exit: %d (%d)\n", follows, tried > 0);
    show("register again", rseq_(a, 32, 0, SIG));
    return NULL;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    ncpu = sysconf(_SC_NPROCESSORS_CONF);
    int own = argc > 1 && strcmp(argv[1], "own") == 0;
    if (argc > 1 && strcmp(argv[1], "membarrier") == 0) { membarrierRseq(); return 0; }
    if (argc > 1 && strcmp(argv[1], "exitrefused") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, exitRefused, NULL);
        pthread_join(t, NULL);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        // After execve nothing is registered: a fresh registration works.
        show("after exec, register", rseq_(&mine, 32, 0, SIG));
        return 0;
    }
    printf("glibc: __rseq_size %u, registered: %d\n", __rseq_size, __rseq_size > 0);
    if (!own) {
        struct area *a = current(0);
        printf("cpu_id valid: %d, cpu_id_start same: %d\n", validCPU(a->cpu_id), a->cpu_id_start == a->cpu_id);
        int c = sched_getcpu();
        printf("sched_getcpu valid: %d\n", validCPU(c));
        show("register again", rseq_(a, 32, 0, SIG));
        show("register again, other signature", rseq_(a, 32, 0, 1));
        show("register another area", rseq_(&other, 32, 0, SIG));
        pthread_t t;
        pthread_create(&t, NULL, tryRegister, NULL);
        pthread_join(t, NULL);
        sectionTests(a);
        return 0;
    }

    show("unaligned", rseq_((char *)&mine + 4, 32, 0, SIG));
    show("length 20", rseq_(&mine, 20, 0, SIG));
    show("flags 2", rseq_(&mine, 32, 2, SIG));
    show("unregister, none registered", rseq_(&mine, 32, RSEQ_FLAG_UNREGISTER, SIG));
    void *hole = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    show("unreadable area", rseq_(hole, 32, 0, SIG));
    show("area above the user range", rseq_((void *)0x7ffffffff000ul, 32, 0, SIG));
    show("area at 2^63", rseq_((void *)(1ul << 63), 32, 0, SIG));
    munmap(hole, 4096);
    mine.rseq_cs = 0x1234;
    mine.cpu_id = 12345;
    show("register", rseq_(&mine, 32, 0, SIG));
    printf("rseq_cs cleared: %d, cpu_id valid: %d, cpu_id_start same: %d\n", mine.rseq_cs == 0, validCPU(mine.cpu_id),
           mine.cpu_id_start == mine.cpu_id);
    show("register again", rseq_(&mine, 32, 0, SIG));
    show("register again, other signature", rseq_(&mine, 32, 0, 1));
    show("register again, length 64", rseq_(&mine, 64, 0, 1));
    show("register another area", rseq_(&other, 32, 0, SIG));
    pid_t c = fork();
    if (c == 0) {
        show("child of fork, register again", rseq_(&mine, 32, 0, SIG));
        _exit(0);
    }
    waitpid(c, NULL, 0);
    pthread_t t;
    pthread_create(&t, NULL, tryRegister, NULL);
    pthread_join(t, NULL);
    sectionTests(&mine);
    show("unregister, other signature", rseq_(&mine, 32, RSEQ_FLAG_UNREGISTER, 1));
    show("unregister, other area", rseq_(&other, 32, RSEQ_FLAG_UNREGISTER, SIG));
    show("unregister, length 33", rseq_(&mine, 33, RSEQ_FLAG_UNREGISTER, SIG));
    show("unregister, flags 3", rseq_(&mine, 32, 3, SIG));
    show("unregister", rseq_(&mine, 32, RSEQ_FLAG_UNREGISTER, SIG));
    printf("cpu_id %d, cpu_id_start %u\n", (int)mine.cpu_id, mine.cpu_id_start);
    show("unregister again", rseq_(&mine, 32, RSEQ_FLAG_UNREGISTER, SIG));
    // 6.1 takes only the original 32-byte struct; 6.3 made it extensible.
    static struct { struct area a; char more[32]; } big __attribute__((aligned(32)));
    long r = rseq_(&big, 64, 0, SIG);
    show("register, length 64", r);
    if (r == 0) rseq_(&big, 64, RSEQ_FLAG_UNREGISTER, SIG);
    show("register", rseq_(&mine, 32, 0, SIG));
    fflush(stdout);
    c = fork();
    if (c == 0) {
        execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
        _exit(127);
    }
    waitpid(c, NULL, 0);
    return 0;
}
