#define _GNU_SOURCE   // CPU_SET, sched_setaffinity
// The floor for any trap that hands a call to another process's thread, as
// systrap's patched sites do (the stub posts the call in a shared word and
// sleeps; the sentry's thread answers and wakes it): a request and its
// answer between two processes through one shared page, with nothing served.
// Prints the mean ns per round trip.
//   handoff-floor same|apart|spin N
// same:  both held to CPU 0 and each sleeps on a futex at once (systrap's
//        placement for a guest that traps often, StubPlacement.swift);
// apart: on two CPUs, each sleeping on a futex at once;
// spin:  on two CPUs, each spinning on the word (no sleep: the cost of a
//        hand-off when a whole CPU waits for each side).
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { IDLE, REQUEST, ANSWER, QUIT };

static _Atomic unsigned *word;
static int spin;

static long now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void pin(int cpu) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    if (sched_setaffinity(0, sizeof s, &s)) { perror("sched_setaffinity"); exit(1); }
}

// Sets the word to `to`, wakes the other side, and waits until it is no
// longer `to` (the other side's answer).
static unsigned post(unsigned to) {
    atomic_store(word, to);
    if (!spin) syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
    unsigned v;
    while ((v = atomic_load(word)) == to) {
        if (spin) __builtin_ia32_pause();
        else syscall(SYS_futex, word, FUTEX_WAIT, to, NULL, NULL, 0);
    }
    return v;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: handoff-floor same|apart|spin N\n"); return 2; }
    int n = atoi(argv[2]), same = strcmp(argv[1], "same") == 0;
    spin = strcmp(argv[1], "spin") == 0;
    if (!same && sysconf(_SC_NPROCESSORS_ONLN) < 2) { fprintf(stderr, "handoff-floor: needs two CPUs\n"); return 1; }
    word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (word == MAP_FAILED) { perror("mmap"); return 1; }
    pid_t server = fork();
    if (server < 0) { perror("fork"); return 1; }
    if (server == 0) {   // the sentry's side: answer every request
        pin(same ? 0 : 1);
        unsigned v = atomic_load(word);
        for (;;) {
            while (v == IDLE || v == ANSWER) {
                if (spin) __builtin_ia32_pause();
                else syscall(SYS_futex, word, FUTEX_WAIT, v, NULL, NULL, 0);
                v = atomic_load(word);
            }
            if (v == QUIT) _exit(0);
            v = post(ANSWER);
        }
    }
    pin(0);
    for (int i = 0; i < 1000; i++) post(REQUEST);   // both sides placed and warm
    long start = now();
    for (int i = 0; i < n; i++) post(REQUEST);
    long el = now() - start;
    atomic_store(word, QUIT);
    syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
    waitpid(server, NULL, 0);
    printf("%ld\n", el / n);
    return 0;
}
