// A guest for checkpoint/restore: one wait with a relative timeout of
// 2 s (epoll_wait on an empty set, poll with no fds, or rt_sigtimedwait for
// a signal that never comes), checkpointed part of the way through. The
// call goes on to the end it had (a freeze has no effect but elapsed time,
// and the guest's CLOCK_MONOTONIC continues from the checkpoint): the wait
// takes about 2 s of that clock, not 2 s more after the restore.
// "pipe": one blocking write of 1 MiB into a pipe a child starts reading
// only after 1.5 s; checkpointed while the write waits, it goes on after
// the bytes it had written: one write with the full count, and the child
// gets every byte in order.
// "socket": the same through an AF_UNIX stream socketpair and send(2).
// "uptime": a 2 s nanosleep measured by /proc/uptime: the uptime goes on
// across the restore (the sandbox's boot is in the image).
// "rcvtimeo": recv on an AF_UNIX stream socket with SO_RCVTIMEO of 2 s and
// nothing to read; "sndtimeo": send on one whose peer's queue is full, with
// SO_SNDTIMEO of 2 s. Each ends in EAGAIN after its timeout.
// SECONDS (default 2) stretches every window, for machines (an emulated VM)
// where a checkpoint command takes longer than 2 s to start: the waits last
// SECONDS, and the pipe's child starts reading after SECONDS - 0.5.
//   ckpttimeout epoll|poll|sigtimedwait|uptime|rcvtimeo|sndtimeo|pipe|socket [SECONDS]
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

// /proc/uptime in ms (it has hundredths of a second).
static long uptime_ms(void) {
    char b[64] = "";
    FILE *f = fopen("/proc/uptime", "r");
    if (!f) return -1;
    long s = 0, cs = 0;
    if (fgets(b, sizeof b, f)) sscanf(b, "%ld.%ld", &s, &cs);
    fclose(f);
    return s * 1000 + cs * 10;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: ckpttimeout epoll|poll|sigtimedwait|uptime|rcvtimeo|sndtimeo|pipe|socket [SECONDS]\n"); return 2; }
    const char *m = argv[1];
    long secs = argc > 2 ? atol(argv[2]) : 2;
    if (secs < 1) { fprintf(stderr, "ckpttimeout: SECONDS must be at least 1\n"); return 2; }
    int sock = strcmp(m, "socket") == 0;
    if (strcmp(m, "pipe") == 0 || sock) {
        enum { size = 1 << 20 };
        int p[2];
        if ((sock ? socketpair(AF_UNIX, SOCK_STREAM, 0, p) : pipe(p)) != 0) return 1;
        unsigned char *buf = malloc(size);
        for (int i = 0; i < size; i++) buf[i] = (unsigned char)(i * 7 + i / 4096);
        pid_t child = fork();
        if (child == 0) {
            close(sock ? p[0] : p[1]);
            if (sock) p[0] = p[1];
            struct timespec wait = { secs - 1, 500000000 };
            nanosleep(&wait, NULL);
            long got = 0, wrong = 0;
            unsigned char in[8192];
            ssize_t n;
            while ((n = read(p[0], in, sizeof in)) > 0) {
                for (ssize_t k = 0; k < n; k++) if (in[k] != (unsigned char)((got + k) * 7 + (got + k) / 4096)) wrong++;
                got += n;
            }
            char line[128];
            snprintf(line, sizeof line, "child read %ld bytes, %ld wrong\n", got, wrong);
            write(1, line, strlen(line));
            _exit(0);
        }
        close(sock ? p[1] : p[0]);
        if (sock) p[1] = p[0];
        write(1, "writing\n", 8);
        ssize_t w = sock ? send(p[1], buf, size, 0) : write(p[1], buf, size);
        char line[128];
        snprintf(line, sizeof line, "one write of %ld bytes\n", (long)w);
        write(1, line, strlen(line));
        close(p[1]);
        int st;
        waitpid(child, &st, 0);
        return 0;
    }
    int ep = epoll_create1(0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    struct epoll_event ev;
    struct timespec window = { secs, 0 };
    char line[128];
    // A socket with its timeout set, and for "sndtimeo" its peer's queue full.
    int sp[2] = { -1, -1 }, rcv = strcmp(m, "rcvtimeo") == 0, snd = strcmp(m, "sndtimeo") == 0;
    char byte = 'x';
    if (rcv || snd) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0) return 1;
        struct timeval tv = { secs, 0 };
        if (setsockopt(sp[0], SOL_SOCKET, rcv ? SO_RCVTIMEO : SO_SNDTIMEO, &tv, sizeof tv) != 0) return 1;
        if (snd) {
            static char fill[4096];
            while (send(sp[0], fill, sizeof fill, MSG_DONTWAIT) > 0) {}
            if (errno != EAGAIN) return 1;
        }
    }
    snprintf(line, sizeof line, "waiting in %s\n", m);
    write(1, line, strlen(line));
    int up = strcmp(m, "uptime") == 0;
    long start = up ? uptime_ms() : now_ms();
    long r;
    if (up) r = nanosleep(&window, NULL);
    else if (strcmp(m, "epoll") == 0) r = epoll_wait(ep, &ev, 1, (int)(secs * 1000));
    else if (strcmp(m, "poll") == 0) r = poll(NULL, 0, (int)(secs * 1000));
    else if (rcv) r = recv(sp[0], &byte, 1, 0);
    else if (snd) r = send(sp[0], &byte, 1, 0);
    else r = sigtimedwait(&set, NULL, &window);
    int e = r < 0 ? errno : 0;
    long took = (up ? uptime_ms() : now_ms()) - start;
    // The end is where it was: SECONDS, with room for a loaded machine's
    // latency (40%), and well short of the SECONDS again that a restart from
    // scratch adds.
    if (took >= secs * 1000 - 10 && took < secs * 1400) snprintf(line, sizeof line, "%s returned %ld errno %d after its %ld s\n", m, r, e, secs);
    else snprintf(line, sizeof line, "%s returned %ld errno %d after %ld ms\n", m, r, e, took);
    write(1, line, strlen(line));
    return 0;
}
