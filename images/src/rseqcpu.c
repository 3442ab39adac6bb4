// rseq for real: per-CPU counters incremented in a restartable sequence
// (load cpu_id, load the CPU's counter, add one, commit store) by more
// threads than the host has CPUs, so the host preempts and migrates them
// inside their sections. Only aborts make that correct: an update is lost
// if two threads ever run one CPU's sequence at once. Run with glibc's own
// registration (2.36 registers every thread at start-up).
//   rseqcpu          the counters, getcpu against cpu_id, fork (while the
//                    workers run) keeping the child's registration,
//                    unregistration and registration again, exec dropping it
//   rseqcpu afterexec   (internal) what exec left
// Deterministic lines on stdout (compared with the native run); the abort
// counts, which depend on load, on stderr.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIG 0x53053053
#define NCOUNTERS 256
#define THREADS 6
#define ITERS 10000000L

static struct { volatile uint64_t n; char pad[56]; } counters[NCOUNTERS] __attribute__((aligned(64)));
static long aborts[THREADS + 1];
static volatile int badCPU;

static struct rseq *area(void) { return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset); }

// One increment of this CPU's counter: 0 if committed, 1 if aborted.
static int increment(struct rseq *rs) {
    int aborted = 0;
    __asm__ __volatile__(
        ".pushsection .data.rseqcpu, \"aw\"\n"
        ".balign 32\n"
        "3: .long 0, 0\n"
        ".quad 1f, (2f - 1f), 4f\n"
        ".popsection\n"
        "leaq 3b(%%rip), %%rax\n"
        "movq %%rax, %[cs]\n"
        "1:\n"
        "movl %[cpu], %%eax\n"
        "cmpl $" "255" ", %%eax\n"
        "ja 6f\n"
        "shlq $6, %%rax\n"
        "movq (%[base], %%rax), %%rcx\n"
        "addq $1, %%rcx\n"
        "movq %%rcx, (%[base], %%rax)\n"
        "2:\n"
        "jmp 5f\n"
        "6:\n"
        "movl $2, %[aborted]\n"
        "jmp 5f\n"
        ".long 0x53053053\n"
        "4:\n"
        "movl $1, %[aborted]\n"
        "5:\n"
        : [aborted] "+r"(aborted), [cs] "=m"(rs->rseq_cs)
        : [cpu] "m"(rs->cpu_id), [base] "r"(counters)
        : "rax", "rcx", "memory", "cc");
    return aborted;
}

static void count(long iters, long *aborted) {
    struct rseq *rs = area();
    for (long i = 0; i < iters;) {
        int r = increment(rs);
        if (r == 0) i++;
        else if (r == 1) (*aborted)++;
        else { badCPU = 1; return; }
    }
}

static void *worker(void *arg) {
    count(ITERS, &aborts[(long)arg]);
    return NULL;
}

static uint64_t total(void) {
    uint64_t t = 0;
    for (int i = 0; i < NCOUNTERS; i++) t += counters[i].n;
    return t;
}

static long rseq_(void *a, uint32_t len, int flags, uint32_t sig) { return syscall(SYS_rseq, a, len, flags, sig); }

// getcpu(2) and cpu_id agree (a migration between the reads can part them).
static int getcpuAgrees(void) {
    struct rseq *rs = area();
    for (int i = 0; i < 1000; i++) {
        unsigned a = rs->cpu_id, c = 0;
        if (syscall(SYS_getcpu, &c, NULL, NULL) != 0) return 0;
        if (a == c && rs->cpu_id == c && sched_getcpu() == (int)c) return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    int ncpu = (int)sysconf(_SC_NPROCESSORS_CONF);
    if (argc > 1 && strcmp(argv[1], "afterexec") == 0) {
        // glibc registered its area again at start-up: nothing was left over.
        printf("after exec: registered %d, cpu_id valid %d\n", __rseq_size > 0,
               __rseq_size > 0 && (int)area()->cpu_id >= 0 && (int)area()->cpu_id < ncpu);
        return 0;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    if (__rseq_size == 0) { printf("glibc did not register rseq\n"); return 1; }
    printf("registered: %d, cpu_id valid %d\n", __rseq_size > 0, (int)area()->cpu_id >= 0 && (int)area()->cpu_id < ncpu);
    printf("getcpu agrees with cpu_id: %d\n", getcpuAgrees());

    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    // A fork while the workers run: their areas' pages stay theirs, and
    // the child (one thread) keeps the caller's registration.
    pid_t pid = fork();
    if (pid == 0) {
        struct rseq *rs = area();
        int busy = rseq_(rs, sizeof *rs, 0, SIG) == -1 && errno == EBUSY;
        long ab = 0;
        uint64_t before = total();
        count(100000, &ab);
        _exit(busy && !badCPU && total() == before + 100000 ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("fork child kept its registration and counted: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    uint64_t want = (uint64_t)THREADS * ITERS;
    printf("counted %s (%d threads x %ld), cpu_id in range %d\n", total() == want ? "exactly" : "WRONG",
           THREADS, ITERS, !badCPU);
    long ab = 0;
    for (int i = 0; i < THREADS; i++) ab += aborts[i];
    fprintf(stderr, "rseqcpu: %lu of %lu, %ld aborts\n", (unsigned long)total(), (unsigned long)want, ab);

    // Unregistered: cpu_id reads "uninitialized"; registered again, a CPU.
    struct rseq *rs = area();
    printf("unregister: %ld\n", rseq_(rs, 32, RSEQ_FLAG_UNREGISTER, SIG));
    printf("cpu_id after unregister: %d\n", (int)rs->cpu_id);
    printf("register again: %ld\n", rseq_(rs, 32, 0, SIG));
    sched_yield();
    printf("cpu_id valid again %d\n", (int)rs->cpu_id >= 0 && (int)rs->cpu_id < ncpu);
    uint64_t before = total();
    count(200000, &aborts[THREADS]);
    printf("counted again %d\n", total() == before + 200000 && !badCPU);

    char *args[] = {argv[0], "afterexec", NULL};
    execv("/proc/self/exe", args);
    printf("exec: %s\n", strerror(errno));
    return 1;
}
