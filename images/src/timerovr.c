// POSIX timer overruns (issue 17 item 3): expiries while the timer's signal
// is still queued count in si_overrun and timer_getoverrun, one signal only.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s, 0);
    timer_t t;
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
    timer_create(CLOCK_MONOTONIC, &ev, &t);
    struct itimerspec its = {{0, 1000000}, {0, 1000000}};
    timer_settime(t, 0, &its, 0);
    usleep(200000);
    siginfo_t si;
    sigwaitinfo(&s, &si);
    int after = timer_getoverrun(t);
    printf("one signal for many expiries, si_overrun > 50: %s\n", si.si_overrun > 50 ? "yes" : "no");
    printf("timer_getoverrun is the delivered si_overrun: %s\n", after == si.si_overrun ? "yes" : "no");
    struct timespec zero = {0, 0};
    sigset_t pend;
    sigpending(&pend);
    printf("si_code SI_TIMER: %s\n", si.si_code == SI_TIMER ? "yes" : "no");
    timer_delete(t);
    (void)zero; (void)pend;
    errno = 0;
    int r = timer_getoverrun(t);
    printf("deleted timer: %d %s\n", r, strerrorname_np(errno));
    return 0;
}
