// A guest for checkpoint/restore: one wait with a relative timeout of
// 2 s (epoll_wait on an empty set, poll with no fds, or rt_sigtimedwait for
// a signal that never comes), checkpointed part of the way through. The
// call goes on to the end it had (a freeze has no effect but elapsed time,
// and the guest's CLOCK_MONOTONIC continues from the checkpoint): the wait
// takes about 2 s of that clock, not 2 s more after the restore.
//   ckpttimeout epoll|poll|sigtimedwait
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: ckpttimeout epoll|poll|sigtimedwait\n"); return 2; }
    const char *m = argv[1];
    int ep = epoll_create1(0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    struct epoll_event ev;
    struct timespec two = { 2, 0 };
    char line[128];
    snprintf(line, sizeof line, "waiting in %s\n", m);
    write(1, line, strlen(line));
    long start = now_ms();
    long r;
    if (strcmp(m, "epoll") == 0) r = epoll_wait(ep, &ev, 1, 2000);
    else if (strcmp(m, "poll") == 0) r = poll(NULL, 0, 2000);
    else r = sigtimedwait(&set, NULL, &two);
    int e = r < 0 ? errno : 0;
    long took = now_ms() - start;
    // The end is where it was: 2 s, with room for a loaded machine's
    // latency, and well short of the 2 s again that a restart from scratch adds.
    if (took >= 1990 && took < 2800) snprintf(line, sizeof line, "%s returned %ld errno %d after its 2 s\n", m, r, e);
    else snprintf(line, sizeof line, "%s returned %ld errno %d after %ld ms\n", m, r, e, took);
    write(1, line, strlen(line));
    return 0;
}
