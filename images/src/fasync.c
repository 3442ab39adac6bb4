// O_ASYNC (fcntl F_SETFL) on a pipe and a socket pair: the owner F_SETOWN
// named gets SIGIO when data arrives, or F_SETSIG's signal with POLL_IN,
// its band and the fd; the write end gets POLL_OUT when a read makes room;
// no owner, no signal. Compared with Linux's output.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t sigio, rt;
static volatile int rt_code, rt_fd;
static volatile long rt_band;
static void on_sigio(int s) { (void)s; sigio++; }
static void on_rt(int s, siginfo_t *i, void *c) { (void)s; (void)c; rt++; rt_code = i->si_code; rt_fd = i->si_fd; rt_band = i->si_band; }

// Gives a pending signal the time to arrive (the sentry sends it from another thread).
static void settle(void) { struct timespec ts = { 0, 50 * 1000 * 1000 }; nanosleep(&ts, NULL); }
// Waits (up to 5 s) for a signal that should come.
static void until(volatile sig_atomic_t *count) {
    struct timespec ts = { 0, 1000 * 1000 };
    for (int i = 0; i < 5000 && *count == 0; i++) nanosleep(&ts, NULL);
}

static void async_on(int fd, int sig) {
    fcntl(fd, F_SETOWN, getpid());
    if (sig) fcntl(fd, F_SETSIG, sig);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC | O_NONBLOCK);
}

static void exercise(const char *what, int r, int w) {
    char buf[4096];
    sigio = 0;
    async_on(r, 0);
    write(w, "x", 1);
    until(&sigio);
    printf("%s: SIGIO after a write: %s\n", what, sigio > 0 ? "yes" : "no");
    while (read(r, buf, sizeof buf) > 0) {}
    fcntl(r, F_SETFL, fcntl(r, F_GETFL) & ~O_ASYNC);
    settle();
    sigio = 0;
    write(w, "y", 1);
    settle();
    printf("%s: O_ASYNC off, SIGIO: %s\n", what, sigio > 0 ? "yes" : "no");
    while (read(r, buf, sizeof buf) > 0) {}

    rt = 0;
    async_on(r, SIGRTMIN);
    write(w, "z", 1);
    until(&rt);
    printf("%s: F_SETSIG: %d signal(s), code %d (POLL_IN %d), band %#lx, fd is the descriptor %d\n",
           what, rt > 0, rt_code, POLL_IN, rt_band, rt_fd == r);
    while (read(r, buf, sizeof buf) > 0) {}
    fcntl(r, F_SETFL, fcntl(r, F_GETFL) & ~O_ASYNC);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGIO, on_sigio);
    struct sigaction sa = { .sa_sigaction = on_rt, .sa_flags = SA_SIGINFO };
    sigaction(SIGRTMIN, &sa, NULL);

    int p[2];
    pipe(p);
    exercise("pipe", p[0], p[1]);
    int s[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, s);
    exercise("unix stream", s[0], s[1]);

    // The write end of a full pipe hears POLL_OUT when a read makes room.
    fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
    char big[4096] = {0};
    while (write(p[1], big, sizeof big) > 0) {}
    async_on(p[1], SIGRTMIN);
    settle();
    rt = 0;
    read(p[0], big, sizeof big);
    until(&rt);
    settle();   // and no second one
    printf("pipe write end: %d signal(s) after a read made room, code %d (POLL_OUT %d), band %#lx\n", rt, rt_code, POLL_OUT, rt_band);

    // No owner: O_ASYNC alone signals no one.
    int q[2];
    pipe(q);
    sigio = 0;
    fcntl(q[0], F_SETFL, O_ASYNC | O_NONBLOCK);
    write(q[1], "n", 1);
    settle();
    printf("no owner: SIGIO %s\n", sigio > 0 ? "yes" : "no");
    return 0;
}
