// O_ASYNC (fcntl F_SETFL) on a pipe and a socket pair: the owner F_SETOWN
// named gets SIGIO when data arrives, or F_SETSIG's signal with POLL_IN,
// its band and the fd; the write end gets POLL_OUT when a read makes room,
// and at a read that finds nothing;
// no owner, no signal. Then how many signals sockets send and for what
// (sk_wake_async): a reader one POLL_IN per arrival, a writer one POLL_OUT
// only after it found its buffer full, a peer's shutdown or close POLL_IN
// or POLL_HUP. Compared with Linux's output.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t sigio, rt;
static volatile int rt_code, rt_fd;
static volatile long rt_band;
static void on_sigio(int s) { (void)s; sigio++; }
static void on_rt(int s, siginfo_t *i, void *c) { (void)s; (void)c; rt++; rt_code = i->si_code; rt_fd = i->si_fd; rt_band = i->si_band; }

// Gives a pending signal the time to arrive (the sentry sends it from
// another thread): 50 ms, or what `fasync sockets MS` (or `pty MS`) says:
// the counts wait longer, for a loaded machine and for emulation.
static long settle_ms = 50;
static void settle(void) { struct timespec ts = { settle_ms / 1000, settle_ms % 1000 * 1000 * 1000 }; nanosleep(&ts, NULL); }
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

// Every queued F_SETSIG signal of the socket part, in order: its code and fd.
static volatile int log_code[4096], log_fd[4096];
static volatile sig_atomic_t logged;
static void on_log(int s, siginfo_t *i, void *c) {
    (void)s; (void)c;
    if (logged < 4096) { log_code[logged] = i->si_code; log_fd[logged] = i->si_fd; }
    logged++;
}

// Whether `show` prints the master's signals of a kind once: how many the
// kernel sends there is its own timing (n_tty's echo of a partial line, or
// of two lines, reaches the master in one push or two, as the flip
// buffer's worker runs).
static int collapse;

// The signals logged since the last call, as "fd:code ..." with fds named.
static void show(const char *what, const int *fds, const char *const *names, int n) {
    settle();
    printf("  %s:", what);
    int upto = logged < 64 ? logged : 64;
    if (upto == 0) printf(" none");
    // Sorted: signals of different sockets come in the order their events
    // happened, which two stacks need not share.
    char items[64][32];
    for (int i = 0; i < upto; i++) {
        const char *name = "?";
        for (int j = 0; j < n; j++) if (fds[j] == log_fd[i]) name = names[j];
        int c = log_code[i];
        snprintf(items[i], sizeof items[i], "%s:%s", name,
                 c == POLL_IN ? "IN" : c == POLL_OUT ? "OUT" : c == POLL_HUP ? "HUP" : c == POLL_ERR ? "ERR" : c == POLL_PRI ? "PRI" : "other");
    }
    qsort(items, upto, sizeof items[0], (int (*)(const void *, const void *))strcmp);
    for (int i = 0; i < upto; i++)
        if (!collapse || strncmp(items[i], "master:", 7) != 0 || i == 0 || strcmp(items[i], items[i - 1]) != 0)
            printf(" %s", items[i]);
    if (logged > upto) printf(" and %d more", logged - upto);
    printf("\n");
    logged = 0;
}

static void async_log(int fd) {
    fcntl(fd, F_SETOWN, getpid());
    fcntl(fd, F_SETSIG, SIGRTMIN + 1);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC | O_NONBLOCK);
}

// An AF_UNIX pair of `type`, both ends signalling (r is s[0], w is s[1]).
static void logged_pair(int type, int s[2]) {
    socketpair(AF_UNIX, type, 0, s);
    async_log(s[0]);
    async_log(s[1]);
}

// Fills `w` (non-blocking) with `chunk`-byte writes until EAGAIN; returns the writes that went whole.
static int fill(int w, int chunk, long *bytes) {
    static char buf[65536];
    int whole = 0;
    ssize_t n;
    *bytes = 0;
    while ((n = write(w, buf, chunk)) > 0) { *bytes += n; if (n == chunk) whole++; }
    return whole;
}

static void drain(int r, long bytes) {
    static char buf[4096];
    long got = 0;
    ssize_t n;
    while (got < bytes && (n = read(r, buf, sizeof buf)) > 0) got += n;
}

static void unix_stream_counts(void) {
    printf("unix stream signals:\n");
    int s[2];
    logged_pair(SOCK_STREAM, s);
    int fds[2] = { s[0], s[1] };
    const char *names[2] = { "r", "w" };
    show("O_ASYNC on", fds, names, 2);
    write(s[1], "a", 1);
    show("a write", fds, names, 2);
    char c;
    read(s[0], &c, 1);
    show("its read", fds, names, 2);
    long bytes;
    int writes = fill(s[1], 4096, &bytes);
    settle();
    int ins = 0, others = 0;
    for (int i = 0; i < logged; i++) { if (log_fd[i] == s[0] && log_code[i] == POLL_IN) ins++; else others++; }
    printf("  filled: POLL_IN to r per write %d, other signals %d\n", ins == writes + (bytes % 4096 != 0), others);
    logged = 0;
    drain(s[0], bytes);
    show("drained (w had found it full)", fds, names, 2);
    write(s[1], "b", 1);
    read(s[0], &c, 1);
    show("a write and read after", fds, names, 2);
    send(s[1], "u", 1, MSG_OOB);
    show("an urgent byte", fds, names, 2);
    recv(s[0], &c, 1, MSG_OOB);
    show("its read", fds, names, 2);
    shutdown(s[1], SHUT_WR);
    show("w shuts writing", fds, names, 2);
    shutdown(s[1], SHUT_RD);
    show("w shuts reading", fds, names, 2);
    close(s[1]);
    show("w closes", fds, names, 1);
    close(s[0]);

    socketpair(AF_UNIX, SOCK_STREAM, 0, s);
    async_log(s[0]);
    write(s[1], "x", 1);
    settle();
    logged = 0;
    close(s[1]);
    show("the peer closes", fds, names, 1);
    close(s[0]);
}

static volatile pid_t sleeper;

static void *blocking_read(void *arg) {
    char buf[8];
    sleeper = gettid();
    return (void *)(long)read(*(int *)arg, buf, sizeof buf);
}

static void *blocking_write(void *arg) {
    static char buf[65536];
    sleeper = gettid();
    return (void *)(long)write(*(int *)arg, buf, sizeof buf);
}

// Waits (up to 5 s) until the thread started is asleep (state S in its
// stat) in system call `nr` (its /proc syscall file): S alone can be a
// sleep before the call, which a loaded machine showed natively once.
static void asleep(long nr) {
    for (int i = 0; i < 5000; i++) {
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)sleeper);
        FILE *f = sleeper ? fopen(path, "r") : NULL;
        if (f) {
            char *end = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
            fclose(f);
            snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)sleeper);
            FILE *g = end && end[1] == ' ' && end[2] == 'S' ? fopen(path, "r") : NULL;
            long in = -2;
            if (g) { if (fscanf(g, "%ld", &in) != 1) in = -2; fclose(g); }
            if (in == nr) return;
        }
        struct timespec ts = { 0, 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

// A reader asleep in a stream receive is woken, not signalled
// (SOCKWQ_ASYNC_WAITDATA); a writer asleep for room likewise.
static void unix_stream_sleepers(void) {
    printf("unix stream sleepers:\n");
    int s[2];
    logged_pair(SOCK_STREAM, s);
    int fds[2] = { s[0], s[1] };
    const char *names[2] = { "r", "w" };
    fcntl(s[0], F_SETFL, fcntl(s[0], F_GETFL) & ~O_NONBLOCK);
    pthread_t th;
    void *got;
    // Linux wakes the reader before it tests the reader's WAITDATA bit
    // (sock_def_readable), so a reader woken on another CPU and quick to
    // clear it gets POLL_IN after all (CI's native run did, once in a few
    // dozen). Up to five tries: the first without a signal is shown.
    for (int try = 0; try < 5; try++) {
        sleeper = 0;
        pthread_create(&th, NULL, blocking_read, &s[0]);
        asleep(SYS_read);
        write(s[1], "a", 1);
        pthread_join(th, &got);
        settle();
        if (logged == 0) break;
        if (try < 4) logged = 0;
    }
    show("a write to a blocked reader", fds, names, 2);
    long bytes;
    fill(s[1], 4096, &bytes);
    fcntl(s[1], F_SETFL, fcntl(s[1], F_GETFL) & ~O_NONBLOCK);
    sleeper = 0;
    pthread_create(&th, NULL, blocking_write, &s[1]);
    asleep(SYS_write);
    settle();
    logged = 0;   // the reader's arrivals are counted above
    fcntl(s[0], F_SETFL, fcntl(s[0], F_GETFL) | O_NONBLOCK);
    // Read until the blocked write went through and everything is read.
    char buf[4096];
    long total = bytes + 65536, have = 0;
    for (int i = 0; i < 100000 && have < total; i++) {
        ssize_t n = read(s[0], buf, sizeof buf);
        if (n > 0) have += n; else { struct timespec ts = { 0, 100000 }; nanosleep(&ts, NULL); }
    }
    pthread_join(th, &got);
    settle();
    int outs = 0;
    for (int i = 0; i < logged; i++) if (log_fd[i] == s[1] && log_code[i] == POLL_OUT) outs++;
    printf("  drained under a blocked writer: all read %d, POLL_OUT to w %d\n", have == total, outs);
    logged = 0;
    close(s[0]);
    show("r closes", fds, names, 2);
    close(s[1]);
}

static void unix_dgram_counts(void) {
    printf("unix dgram signals:\n");
    int s[2];
    logged_pair(SOCK_DGRAM, s);
    int fds[2] = { s[0], s[1] };
    const char *names[2] = { "r", "w" };
    write(s[1], "a", 1);
    write(s[1], "bc", 2);
    show("two datagrams", fds, names, 2);
    char buf[8];
    read(s[0], buf, sizeof buf);
    read(s[0], buf, sizeof buf);
    show("both read", fds, names, 2);
    close(s[1]);
    show("w closes", fds, names, 1);
    close(s[0]);
}

static void tcp_counts(void) {
    printf("TCP signals:\n");
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    if (bind(l, (void *)&a, sizeof a) || listen(l, 4) || getsockname(l, (void *)&a, &al)) { perror("listen"); return; }
    int c = socket(AF_INET, SOCK_STREAM, 0);
    async_log(l);
    fcntl(c, F_SETOWN, getpid());
    fcntl(c, F_SETSIG, SIGRTMIN + 1);
    fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_ASYNC);
    connect(c, (void *)&a, sizeof a);
    fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
    int s = accept(l, 0, 0);
    int fds[3] = { l, c, s };
    const char *names[3] = { "listener", "c", "s" };
    show("connect and accept", fds, names, 2);
    async_log(s);
    write(c, "a", 1);
    show("a write", fds, names, 3);
    char ch;
    read(s, &ch, 1);
    show("its read", fds, names, 3);
    long bytes;
    fill(c, 65536, &bytes);
    settle();
    logged = 0;   // the segments, as the window lets them go, are the kernel's choice
    drain(s, bytes);
    settle();
    int outs = 0;
    for (int i = 0; i < logged; i++) if (log_fd[i] == c && log_code[i] == POLL_OUT) outs++;
    printf("  drained (c had found it full): POLL_OUT to c %d\n", outs);
    logged = 0;
    shutdown(c, SHUT_WR);
    show("c shuts writing", fds, names, 3);
    close(c);
    show("c closes", fds, names, 3);
    close(s);

    c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (void *)&a, sizeof a);
    s = accept(l, 0, 0);
    fds[1] = c; fds[2] = s;
    async_log(c);
    async_log(s);
    send(c, "u", 1, MSG_OOB);
    show("an urgent byte", fds, names, 3);
    close(s);
    show("s closes with data unread", fds, names, 3);
    close(c);
    close(l);
}

// A pty pair: n_tty signals the slave's reader when a line (canonical) or
// input (raw) is in, the master's reader when the slave's output or echo
// comes, a writer that found the buffer full when a read makes room.
// Linux moves pty bytes in a worker: wait (up to 5 s) until `fd` has
// `bytes` to read (FIONREAD), so its signals have been sent before show().
static void arrived(int fd, int bytes) {
    for (int i = 0; i < 5000; i++) {
        int n = 0;
        if (ioctl(fd, FIONREAD, &n) == 0 && n >= bytes) return;
        struct timespec ts = { 0, 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

static void pty_counts(void) {
    printf("pty signals:\n");
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) || unlockpt(m)) { perror("ptmx"); return; }
    int s = open(ptsname(m), O_RDWR | O_NOCTTY);
    int fds[2] = { m, s };
    const char *names[2] = { "master", "slave" };
    async_log(m);
    async_log(s);
    show("O_ASYNC on", fds, names, 2);
    write(m, "ab", 2);
    arrived(m, 2);
    collapse = 1;
    show("a partial line in (echoed, the master's once)", fds, names, 2);
    collapse = 0;
    write(m, "\n", 1);
    arrived(s, 3);
    arrived(m, 4);
    show("its end", fds, names, 2);
    char buf[64];
    read(s, buf, sizeof buf);
    show("the line read", fds, names, 2);
    read(m, buf, sizeof buf);
    show("the echo read", fds, names, 2);
    write(s, "xyz", 3);
    arrived(m, 3);
    show("output", fds, names, 2);
    read(m, buf, sizeof buf);
    show("output read", fds, names, 2);
    write(m, "c\nd\n", 4);
    arrived(s, 4);
    arrived(m, 6);
    collapse = 1;
    show("two lines in one write (the master's once)", fds, names, 2);
    collapse = 0;
    read(s, buf, sizeof buf);
    read(s, buf, sizeof buf);
    read(m, buf, sizeof buf);
    show("read", fds, names, 2);

    struct termios t;
    tcgetattr(s, &t);
    cfmakeraw(&t);
    tcsetattr(s, TCSANOW, &t);
    show("raw mode", fds, names, 2);
    write(m, "xy", 2);
    arrived(s, 2);
    show("raw input", fds, names, 2);
    read(s, buf, sizeof buf);
    show("its read", fds, names, 2);
    // The master fills the slave's input until EAGAIN, then the slave reads it all.
    static char big[4096];
    long in = 0;
    ssize_t n;
    while ((n = write(m, big, sizeof big)) > 0) in += n;
    settle();
    int ins = 0, others = 0;
    for (int i = 0; i < logged; i++) { if (log_fd[i] == s && log_code[i] == POLL_IN) ins++; else others++; }
    printf("  filled: POLL_IN to the slave %d, others %d\n", ins > 0, others);
    logged = 0;
    long got = 0;
    for (int i = 0; i < 100000 && got < in; i++) {
        n = read(s, big, sizeof big);
        if (n > 0) got += n; else { struct timespec ts = { 0, 100000 }; nanosleep(&ts, NULL); }
    }
    settle();
    // Linux's input passes through the tty's flip buffers into n_tty as room
    // comes, each batch a POLL_IN to the slave: only the master's are counted.
    int outs = 0;
    for (int i = 0; i < logged; i++) if (log_fd[i] == m && log_code[i] == POLL_OUT) outs++;
    printf("  drained (the master had found it full): all read %d, POLL_OUT to the master %d\n", got == in, outs);
    logged = 0;
    close(s);
    show("the slave closes", fds, names, 2);
    close(m);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGIO, on_sigio);
    struct sigaction sa = { .sa_sigaction = on_rt, .sa_flags = SA_SIGINFO };
    sigaction(SIGRTMIN, &sa, NULL);
    struct sigaction sl = { .sa_sigaction = on_log, .sa_flags = SA_SIGINFO | SA_RESTART };
    sigaction(SIGRTMIN + 1, &sl, NULL);
    // `fasync sockets`: the counts (TCP needs the host's loopback to compare).
    if (argc > 1 && strcmp(argv[1], "pty") == 0) {
        if (argc > 2) settle_ms = atol(argv[2]);
        pty_counts();
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "sockets") == 0) {
        if (argc > 2) settle_ms = atol(argv[2]);
        unix_stream_counts();
        unix_stream_sleepers();
        unix_dgram_counts();
        tcp_counts();
        return 0;
    }

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

    // pipe_read's kill_fasync(POLL_OUT) comes at the end of every read,
    // one that found the pipe empty (EAGAIN) too. (6.1 also sends one
    // before a read sleeps, which interrupts a reader owning the write
    // end; later kernels do not, so that is not compared.)
    int reads = 0;
    rt = 0;
    while (read(p[0], big, sizeof big) > 0) reads++;
    int again = errno == EAGAIN;
    until(&rt);
    settle();
    printf("pipe drained in %d reads and an EAGAIN (%d): %d POLL_OUT signal(s), code %d\n", reads, again, rt, rt_code);

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
