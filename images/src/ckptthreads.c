// A multi-threaded guest for checkpoint/restore: two threads play
// ping-pong through a mutex and a condition variable (futex waits), a third
// waits on a condition variable until the end, and the main thread prints
// a line per step. The output does not depend on timing, so a run
// checkpointed and restored prints what an uninterrupted one does.
//   ckptthreads STEPS ROUNDS
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER, done_cond = PTHREAD_COND_INITIALIZER;
static int turn, rounds, finished;
static uint64_t trail = 1469598103934665603ULL;
static __thread uint64_t mine;   // TLS: fs_base must come back

static void nap(long us) { struct timespec ts = { 0, us * 1000 }; nanosleep(&ts, NULL); }

static void *player(void *arg) {
    int me = (int)(intptr_t)arg;
    mine = 1000 + me;
    for (int r = 0; r < rounds; r++) {
        pthread_mutex_lock(&m);
        while (turn != me) pthread_cond_wait(&turn_changed, &m);
        trail = (trail ^ (uint64_t)(r * 2 + me) ^ mine) * 1099511628211ULL;
        turn = 1 - me;
        pthread_cond_broadcast(&turn_changed);
        pthread_mutex_unlock(&m);
        nap(3000);
    }
    return (void *)(intptr_t)mine;
}

static void *waiter(void *arg) {
    (void)arg;
    pthread_mutex_lock(&m);
    while (!finished) pthread_cond_wait(&done_cond, &m);
    pthread_mutex_unlock(&m);
    return NULL;
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 50;
    rounds = argc > 2 ? atoi(argv[2]) : 100;
    pthread_t a, b, w;
    pthread_create(&w, NULL, waiter, NULL);
    pthread_create(&a, NULL, player, (void *)0);
    pthread_create(&b, NULL, player, (void *)1);
    char line[128];
    for (int i = 1; i <= steps; i++) {
        snprintf(line, sizeof line, "step %d\n", i);
        write(1, line, strlen(line));
        nap(20000);
    }
    void *ra, *rb;
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    pthread_mutex_lock(&m);
    finished = 1;
    pthread_cond_broadcast(&done_cond);
    pthread_mutex_unlock(&m);
    pthread_join(w, NULL);
    snprintf(line, sizeof line, "rounds %d trail %016llx tls %ld %ld\n", rounds, (unsigned long long)trail,
             (long)(intptr_t)ra, (long)(intptr_t)rb);
    write(1, line, strlen(line));
    return 0;
}
