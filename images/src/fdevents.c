// timerfd and signalfd: expirations counted and read, intervals, absolute
// times, disarming, epoll readiness; signals read as records by the
// process that has them pending (across fork), mask updates, queued
// values, real-time signals queued several times; sigtimedwait woken by
// another process; and the errnos. Compared with Linux's output.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void check(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
    else printf("%s: ok\n", what);
}

static void timers(void) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    struct itimerspec its = {{0, 20 * 1000 * 1000}, {0, 50 * 1000 * 1000}}, cur;
    check("timerfd_settime", timerfd_settime(fd, 0, &its, NULL));
    timerfd_gettime(fd, &cur);
    printf("interval %ld ns, value set: %d\n", cur.it_interval.tv_nsec, cur.it_value.tv_nsec > 0 || cur.it_value.tv_sec > 0);
    int ep = epoll_create1(0);
    struct epoll_event ev = {EPOLLIN, {.fd = fd}}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    printf("epoll_wait: %d\n", epoll_wait(ep, &out, 1, 2000));
    unsigned long long n = 0;
    long r = read(fd, &n, sizeof n);
    printf("read %ld bytes, at least one expiration: %d\n", r, n >= 1);
    usleep(70 * 1000);
    read(fd, &n, sizeof n);
    // At least the periods that passed; more if this process was descheduled (overruns count).
    printf("after 70 ms of 20 ms periods: at least 2: %d\n", n >= 2);
    struct itimerspec off = {{0, 0}, {0, 0}};
    timerfd_settime(fd, 0, &off, &cur);
    printf("old interval %ld ns\n", cur.it_interval.tv_nsec);
    timerfd_gettime(fd, &cur);
    printf("disarmed: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
    int nb = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    check("read of an unexpired timer", read(nb, &n, sizeof n));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    now.tv_nsec += 30 * 1000 * 1000;
    if (now.tv_nsec >= 1000000000) { now.tv_sec++; now.tv_nsec -= 1000000000; }
    struct itimerspec abs = {{0, 0}, now};
    check("absolute CLOCK_REALTIME", timerfd_settime(nb, TFD_TIMER_ABSTIME, &abs, NULL));
    struct pollfd p = {nb, POLLIN, 0};
    poll(&p, 1, 2000);
    read(nb, &n, sizeof n);
    printf("expired once: %llu\n", n);
    check("timerfd_create bad clock", timerfd_create(99, 0));
    check("timerfd_create bad flags", timerfd_create(CLOCK_MONOTONIC, 1));
    check("timerfd_settime bad flags", timerfd_settime(fd, 8, &its, NULL));
    struct itimerspec bad = {{0, 0}, {0, 1000000000}};
    check("timerfd_settime bad nsec", timerfd_settime(fd, 0, &bad, NULL));
    int efd = eventfd(0, 0);
    check("timerfd_settime on an eventfd", timerfd_settime(efd, 0, &its, NULL));
    int small;
    check("read into 4 bytes", read(fd, &small, sizeof small));
}

static void signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1); sigaddset(&set, SIGUSR2); sigaddset(&set, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR1);
    int fd = signalfd(-1, &one, SFD_NONBLOCK);
    struct signalfd_siginfo si;
    check("read with nothing pending", read(fd, &si, sizeof si));
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR1);
    struct pollfd p = {fd, POLLIN, 0};
    printf("poll: %d\n", poll(&p, 1, 0));
    long r = read(fd, &si, sizeof si);
    printf("read %ld: signo %u code %d from me %d\n", r, si.ssi_signo, si.ssi_code, si.ssi_pid == (unsigned)getpid());
    check("the second SIGUSR1 coalesced", read(fd, &si, sizeof si));

    sigemptyset(&one);
    sigaddset(&one, SIGUSR2);
    sigaddset(&one, SIGRTMIN);
    check("signalfd update", signalfd(fd, &one, 0));
    union sigval v = {.sival_int = 42};
    for (int i = 0; i < 3; i++) sigqueue(getpid(), SIGRTMIN, v);
    struct signalfd_siginfo many[4];
    r = read(fd, many, sizeof many);
    printf("read %ld bytes: %ld records, signo %d, code %d, value %d\n", r, r / (long)sizeof si, many[0].ssi_signo == (unsigned)SIGRTMIN,
           many[2].ssi_code, many[2].ssi_int);

    pid_t parent = getpid();
    pid_t c = fork();
    if (c == 0) {
        // The child reads its own pending signals through the inherited fd.
        kill(getpid(), SIGUSR2);
        long cr = read(fd, &si, sizeof si);
        printf("child read %ld: signo %u\n", cr, si.ssi_signo);
        usleep(100 * 1000);
        kill(parent, SIGUSR2);
        _exit(0);
    }
    int blocking = signalfd(-1, &one, 0);
    r = read(blocking, &si, sizeof si);
    printf("blocking read woke with %u from the child %d\n", si.ssi_signo, si.ssi_pid == (unsigned)c);
    waitpid(c, NULL, 0);

    c = fork();
    if (c == 0) { usleep(100 * 1000); kill(parent, SIGUSR1); _exit(0); }
    struct timespec to = {5, 0};
    sigemptyset(&one);
    sigaddset(&one, SIGUSR1);
    printf("sigtimedwait: %d\n", sigtimedwait(&one, NULL, &to));
    waitpid(c, NULL, 0);

    char buf[100];
    check("read into 100 bytes", read(fd, buf, sizeof buf));
    check("signalfd4 sizemask 4", syscall(SYS_signalfd4, -1, &one, 4, 0));
    check("signalfd4 bad flags", signalfd(-1, &one, 1));
    int efd = eventfd(0, 0);
    check("signalfd on an eventfd", signalfd(efd, &one, 0));
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    timers();
    signals();
    return 0;
}
