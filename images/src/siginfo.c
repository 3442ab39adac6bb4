#define _GNU_SOURCE
// One signal of each kind the sentry raises, for --strace's siginfo lines
// against strace's: kill (SI_USER), tgkill (SI_TKILL), sigqueue (SI_QUEUE
// with a value), alarm (SI_KERNEL), SIGPIPE, a POSIX timer (SI_TIMER), a
// child killed and one exited (SIGCHLD), and a fault that kills (SIGSEGV).
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static void h(int s, siginfo_t *i, void *c) { (void)s; (void)i; (void)c; }
int main(void) {
    struct sigaction sa = { .sa_sigaction = h, .sa_flags = SA_SIGINFO };
    for (int s = 1; s < 32; s++) if (s != 9 && s != 19) sigaction(s, &sa, NULL);
    sigaction(SIGRTMIN + 2, &sa, NULL);
    kill(getpid(), SIGUSR1);
    syscall(SYS_tgkill, getpid(), gettid(), SIGUSR2);
    union sigval v = { .sival_int = 77 };
    sigqueue(getpid(), SIGRTMIN + 2, v);
    alarm(1); pause();
    int p[2]; pipe(p); close(p[0]); write(p[1], "x", 1);
    timer_t t; struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGPROF, .sigev_value.sival_int = 5 };
    timer_create(CLOCK_MONOTONIC, &ev, &t);
    struct itimerspec its = { .it_value = { 0, 1000000 } };
    timer_settime(t, 0, &its, NULL); pause();
    pid_t c = fork(); if (c == 0) { pause(); _exit(0); }
    kill(c, SIGKILL); waitpid(c, NULL, 0);
    c = fork(); if (c == 0) _exit(3);
    waitpid(c, NULL, 0);
    signal(SIGSEGV, SIG_DFL);
    *(volatile int *)8 = 1;
    return 0;
}
