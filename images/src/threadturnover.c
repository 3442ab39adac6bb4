// Thread turnover: threads made one after another and in bursts larger
// than what a platform keeps for reuse (systrap keeps a thread's stub
// parked for the process's next thread), each checking that it starts
// fresh: its own tid, a CPU clock and a system time (RUSAGE_THREAD) that
// do not carry an earlier thread's (the sentry keeps the host thread that
// served a task for the next one), a working syscall path; a fork between
// bursts; and a process whose main thread has exited while a worker goes
// on making threads.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long threadCPU(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// The calling thread's system time: the kernel's time serving its calls.
static long long threadSystem(void) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_stime.tv_sec * 1000000000LL + ru.ru_stime.tv_usec * 1000LL;
}

static long long wallNow(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// What a burner spends: far more than a thread's own start costs, even under
// emulation (the VM's TCG, where a start took over 15 ms of CPU on ptrace).
#define BURN_NS 100000000LL

struct job { int index; int burn, burnSystem; pid_t tid; long long startCPU, startSystem; int ok; };

static int fds[2];
static pid_t parent;   // the process's parent, as the main thread saw it

static void *work(void *a) {
    struct job *j = a;
    j->startCPU = threadCPU();
    j->startSystem = threadSystem();
    j->tid = (pid_t)syscall(SYS_gettid);
    j->ok = getpid() != j->tid && getppid() == parent;
    // Burn CPU time, which must not show up in a later thread's clock.
    if (j->burn) { long long until = j->startCPU + BURN_NS; while (threadCPU() < until) {} }
    // And system time, in calls (bounded by 5 s of wall time on a slow host).
    if (j->burnSystem) {
        long long until = j->startSystem + BURN_NS, deadline = wallNow() + 5000000000LL;
        while (threadSystem() < until && wallNow() < deadline) syscall(SYS_getppid);
    }
    char c = (char)j->index;
    if (write(fds[1], &c, 1) != 1) j->ok = 0;
    if (j->index % 2) pthread_exit(NULL);
    return NULL;
}

static int drain(int n) {
    int got = 0;
    char buf[64];
    while (got < n) { ssize_t r = read(fds[0], buf, sizeof buf < (size_t)(n - got) ? sizeof buf : (size_t)(n - got)); if (r <= 0) break; got += (int)r; }
    return got;
}

static void *lateWorker(void *a) {
    (void)a;
    usleep(20000);   // the main thread has exited by now
    int ok = 1;
    for (int i = 0; i < 20; i++) {
        struct job j = { .index = i };
        pthread_t t;
        if (pthread_create(&t, NULL, work, &j) != 0 || pthread_join(t, NULL) != 0 || !j.ok) ok = 0;
    }
    printf("after main exited: 20 threads made and joined by a worker: %d, bytes %d\n", ok, drain(20));
    fflush(stdout);
    return NULL;
}

int main(void) {
    if (pipe(fds) != 0) return 1;
    parent = getppid();
    // One after another: each may reuse the last one's host side.
    enum { SEQ = 60 };
    static struct job seq[SEQ];
    int ok = 1, distinct = 1, fresh = 1, freshSystem = 1;
    for (int i = 0; i < SEQ; i++) {
        seq[i] = (struct job){ .index = i, .burn = i % 20 == 0, .burnSystem = i % 20 == 10 };
        pthread_t t;
        if (pthread_create(&t, NULL, work, &seq[i]) != 0 || pthread_join(t, NULL) != 0) ok = 0;
        ok &= seq[i].ok;
        for (int k = 0; k < i; k++) if (seq[k].tid == seq[i].tid) distinct = 0;
        // The thread after a burner starts far below what it burned.
        if (i > 0 && seq[i - 1].burn && seq[i].startCPU >= BURN_NS / 2) fresh = 0;
        if (i > 0 && seq[i - 1].burnSystem && seq[i].startSystem >= BURN_NS / 2) freshSystem = 0;
    }
    printf("sequential: %d threads ok %d, distinct tids %d, fresh CPU clocks %d, fresh system times %d, bytes %d\n",
           SEQ, ok, distinct, fresh, freshSystem, drain(SEQ));

    // Bursts: more threads at once than are kept between bursts.
    for (int round = 0; round < 4; round++) {
        enum { N = 16 };
        struct job js[N];
        pthread_t ts[N];
        int made = 0, good = 1;
        for (int i = 0; i < N; i++) {
            js[i] = (struct job){ .index = i };
            if (pthread_create(&ts[i], NULL, work, &js[i]) == 0) made++;
        }
        for (int i = 0; i < made; i++) { pthread_join(ts[i], NULL); good &= js[i].ok; }
        for (int i = 0; i < N; i++) for (int k = 0; k < i; k++) if (js[k].tid == js[i].tid) good = 0;
        printf("burst %d: %d threads, ok %d, bytes %d\n", round, made, good, drain(made));
    }

    // A fork after the bursts: the child's threads are its own.
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        parent = getppid();
        int good = 1;
        for (int i = 0; i < 5; i++) {
            struct job j = { .index = i };
            pthread_t t;
            if (pthread_create(&t, NULL, work, &j) != 0 || pthread_join(t, NULL) != 0 || !j.ok) good = 0;
        }
        printf("child: 5 threads ok %d, bytes %d\n", good, drain(5));
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    printf("child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    fflush(stdout);

    pthread_t w;
    pthread_create(&w, NULL, lateWorker, NULL);
    pthread_exit(NULL);
}
