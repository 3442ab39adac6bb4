// Sleep and timer latency, as cyclictest measures it: how late a 1 ms
// relative nanosleep, an absolute clock_nanosleep and a 1 ms periodic
// timerfd wake up, in µs (median, 99th percentile, worst) over N rounds.
//   sleeplat [N]
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static long long now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, long long *late, int n) {
    qsort(late, n, sizeof *late, cmp);
    printf("%-28s least %6.1f us  median %6.1f us  p99 %7.1f us  worst %8.1f us\n", what, late[0] / 1000.0, late[n / 2] / 1000.0,
           late[n * 99 / 100] / 1000.0, late[n - 1] / 1000.0);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 500;
    long long *late = calloc(n, sizeof *late);
    struct timespec ms = { 0, 1000000 };
    for (int i = 0; i < n; i++) {
        long long t0 = now();
        nanosleep(&ms, NULL);
        late[i] = now() - t0 - 1000000;
    }
    report("nanosleep 1 ms", late, n);
    for (int i = 0; i < n; i++) {
        long long due = now() + 1000000;
        struct timespec at = { due / 1000000000, due % 1000000000 };
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
        late[i] = now() - due;
    }
    report("clock_nanosleep abs 1 ms", late, n);
    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    long long start = now() + 1000000;
    struct itimerspec it = { { 0, 1000000 }, { start / 1000000000, start % 1000000000 } };
    timerfd_settime(fd, TFD_TIMER_ABSTIME, &it, NULL);
    long long expected = start;
    for (int i = 0; i < n; i++) {
        unsigned long long c;
        if (read(fd, &c, 8) != 8) return 1;
        expected += (long long)(c - 1) * 1000000;
        late[i] = now() - expected;
        expected += 1000000;
    }
    report("timerfd 1 ms period", late, n);
    return 0;
}
