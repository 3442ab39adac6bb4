/* Blocked pipe reads under the races the direct hand-off from a writer to a
 * blocked reader must survive (Kernel/ReadHandoff.swift): many writer/reader
 * pairs (processes and threads) with short reads, signals arriving while
 * readers are blocked (with and without SA_RESTART), a reader killed while
 * blocked, a reader whose buffer another thread unmaps while it blocks
 * (EFAULT, the byte stays in the pipe; half of it: a short count), and a
 * writer writing as a signal hits the blocked reader, in both orders.
 * Everything printed is deterministic; compared with the native run.
 * `handoff pingpong N`: a plain ping-pong, which the tests trace.
 * `handoff async N`: a reader owning its pipe's O_ASYNC write end. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAIRS 4
#define ROUNDS 1000

static volatile sig_atomic_t hits;
static void onusr1(int s) { (void)s; hits++; }

/* Reads exactly n bytes in reads of at most `chunk` (short reads), retrying EINTR. */
static int readall(int fd, unsigned char *p, int n, int chunk) {
    int got = 0;
    while (got < n) {
        int want = n - got < chunk ? n - got : chunk;
        ssize_t r = read(fd, p + got, want);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            /* Never natively: the run then differs from native and says why. */
            fprintf(stderr, "pid %d: read(%d) = %zd (%s) after %d of %d bytes\n", (int)getpid(), fd, r,
                    r < 0 ? strerror(errno) : "end of file", got, n);
            return -1;
        }
        got += r;
    }
    return 0;
}

static int writeall(int fd, const unsigned char *p, int n) {
    int put = 0;
    while (put < n) {
        ssize_t r = write(fd, p + put, n - put);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            fprintf(stderr, "pid %d: write(%d) = %zd (%s) after %d of %d bytes\n", (int)getpid(), fd, r,
                    r < 0 ? strerror(errno) : "nothing", put, n);
            return -1;
        }
        put += r;
    }
    return 0;
}

/* The echo side: reads a message of 1 + i % 7 bytes in chunks of 3, answers each byte + 1. */
static int echo(int in, int out) {
    unsigned char m[8];
    for (int i = 0; i < ROUNDS; i++) {
        int k = 1 + i % 7;
        if (readall(in, m, k, 3) < 0) return 1;
        for (int j = 0; j < k; j++) m[j]++;
        if (writeall(out, m, k) < 0) return 1;
    }
    return 0;
}

/* The asking side: returns a checksum of every answer, or -1. */
static long ask(int out, int in, int seed) {
    unsigned char m[8], a[8];
    long sum = 0;
    for (int i = 0; i < ROUNDS; i++) {
        int k = 1 + i % 7;
        for (int j = 0; j < k; j++) m[j] = (unsigned char)(seed + i + j);
        if (writeall(out, m, k) < 0) return -1;
        if (readall(in, a, k, 8) < 0) return -1;
        for (int j = 0; j < k; j++) {
            if (a[j] != (unsigned char)(m[j] + 1)) return -1;
            sum += a[j];
        }
    }
    return sum;
}

static void handler(int restart) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = onusr1;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGUSR1, &sa, NULL);
}

/* Process pairs, a signaller hitting every process while they run. */
static void processes(void) {
    pid_t kids[2 * PAIRS];
    int pfd[PAIRS][2];
    for (int i = 0; i < PAIRS; i++) {
        int a[2], b[2];
        pipe(a); pipe(b);
        pipe(pfd[i]);
        /* Installed before the fork: the signaller may hit the child at once. */
        handler(i % 2);
        pid_t e = fork();
        if (e == 0) {
            close(a[1]); close(b[0]);
            _exit(echo(a[0], b[1]));
        }
        handler(i % 2 == 0);
        pid_t q = fork();
        if (q == 0) {
            close(a[0]); close(b[1]);
            long s = ask(a[1], b[0], i * 31);
            write(pfd[i][1], &s, sizeof s);
            _exit(s < 0);
        }
        close(a[0]); close(a[1]); close(b[0]); close(b[1]);
        kids[2 * i] = e; kids[2 * i + 1] = q;
    }
    /* The signaller: until every asker has reported. */
    long sums[PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        int flags = fcntl(pfd[i][0], F_GETFL);
        fcntl(pfd[i][0], F_SETFL, flags | O_NONBLOCK);
    }
    int done = 0, have[PAIRS] = {0}, st[2 * PAIRS], reaped[2 * PAIRS] = {0};
    while (done < PAIRS) {
        for (int i = 0; i < PAIRS; i++) {
            if (!have[i] && read(pfd[i][0], &sums[i], sizeof sums[i]) == sizeof sums[i]) { have[i] = 1; done++; }
            if (have[i]) continue;
            /* A child that ended early (an asker gone without its sum would
             * leave this loop waiting for ever): said on stderr as it goes. */
            for (int k = 2 * i; k < 2 * i + 2; k++) {
                if (reaped[k] || waitpid(kids[k], &st[k], WNOHANG) != kids[k]) continue;
                reaped[k] = 1;
                if (!WIFEXITED(st[k]) || WEXITSTATUS(st[k]) != 0) fprintf(stderr, "process %d ended early: %#x\n", k, st[k]);
            }
            if (reaped[2 * i + 1] && read(pfd[i][0], &sums[i], sizeof sums[i]) != sizeof sums[i]) {
                sums[i] = -2;
                have[i] = 1;
                done++;
                continue;
            }
            if (reaped[2 * i + 1]) { have[i] = 1; done++; continue; }
            kill(kids[2 * i], SIGUSR1);
            kill(kids[2 * i + 1], SIGUSR1);
        }
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < 2 * PAIRS; i++) {
        if (!reaped[i]) waitpid(kids[i], &st[i], 0);
        if (!WIFEXITED(st[i]) || WEXITSTATUS(st[i]) != 0) printf("process %d failed: %#x\n", i, st[i]);
    }
    for (int i = 0; i < PAIRS; i++) printf("process pair %d: sum %ld\n", i, sums[i]);
}

struct tpair { int a[2], b[2], seed; long sum; };
static void *techo(void *p) { struct tpair *t = p; return (void *)(long)echo(t->a[0], t->b[1]); }
static void *task(void *p) { struct tpair *t = p; t->sum = ask(t->a[1], t->b[0], t->seed); return NULL; }

/* Thread pairs in one process (the writer copies into its own mm), signals to the threads. */
static void threads(void) {
    struct tpair t[PAIRS];
    pthread_t th[2 * PAIRS];
    handler(1);
    for (int i = 0; i < PAIRS; i++) {
        pipe(t[i].a); pipe(t[i].b);
        t[i].seed = 7 * i + 1;
        pthread_create(&th[2 * i], NULL, techo, &t[i]);
        pthread_create(&th[2 * i + 1], NULL, task, &t[i]);
    }
    for (int k = 0; k < 50; k++) {
        for (int i = 0; i < 2 * PAIRS; i++) pthread_kill(th[i], SIGUSR1);
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < 2 * PAIRS; i++) {
        void *r;
        pthread_join(th[i], &r);
        if (i % 2 == 0 && r != NULL) printf("echo thread %d failed\n", i / 2);
    }
    for (int i = 0; i < PAIRS; i++) printf("thread pair %d: sum %ld\n", i, t[i].sum);
}

/* Whether pid sleeps (state S in /proc/PID/stat). */
static int sleeping(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] == 'S';
}

/* A reader killed while blocked: a byte written after its death stays. */
static void killed(void) {
    int p[2];
    pipe(p);
    pid_t c = fork();
    if (c == 0) {
        char x;
        read(p[0], &x, 1);
        _exit(3);
    }
    while (!sleeping(c)) usleep(1000);
    kill(c, SIGKILL);
    int st;
    waitpid(c, &st, 0);
    write(p[1], "k", 1);
    char x = 0;
    ssize_t r = read(p[0], &x, 1);
    printf("killed reader: %s, byte %s\n", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? "SIGKILL" : "?",
           r == 1 && x == 'k' ? "stays" : "lost");
    /* Kills racing writes: the byte is read by the dying reader or stays;
     * nothing else (no crash, no hang, never two copies). */
    int bad = 0;
    for (int i = 0; i < 100; i++) {
        c = fork();
        if (c == 0) {
            char y;
            read(p[0], &y, 1);
            _exit(3);
        }
        if (i % 2) while (!sleeping(c)) usleep(200);
        kill(c, SIGKILL);
        write(p[1], "r", 1);
        waitpid(c, &st, 0);
        int fl = fcntl(p[0], F_GETFL);
        fcntl(p[0], F_SETFL, fl | O_NONBLOCK);
        char y[4];
        ssize_t n = read(p[0], y, sizeof y);
        if (n > 1) bad++;
        fcntl(p[0], F_SETFL, fl);
    }
    printf("kill races: %s\n", bad ? "a byte doubled" : "ok");
    close(p[0]); close(p[1]);
}

static int up[2];
static char *page;
static ssize_t ures;
static int uerr;
static volatile pid_t utid;
static void *ureader(void *arg) {
    (void)arg;
    utid = gettid();
    ures = read(up[0], page, 1);
    uerr = errno;
    return NULL;
}

/* Waits (up to 5 s) until thread tid of this process sleeps. */
static void thread_sleeps(pid_t tid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    for (int i = 0; i < 5000; i++) {
        FILE *f = fopen(path, "r");
        if (!f) break;
        size_t m = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[m] = 0;
        char *p = strrchr(buf, ')');
        if (p && p[2] == 'S') break;
        usleep(1000);
    }
}

/* A blocked reader's buffer unmapped by another thread: EFAULT, the byte stays. */
static void unmapped(void) {
    pipe(up);
    page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pthread_t th;
    pthread_create(&th, NULL, ureader, NULL);
    while (!utid) usleep(1000);
    thread_sleeps(utid);
    munmap(page, 4096);
    write(up[1], "u", 1);
    pthread_join(th, NULL);
    char x = 0;
    int fl = fcntl(up[0], F_GETFL);
    fcntl(up[0], F_SETFL, fl | O_NONBLOCK);
    ssize_t r = read(up[0], &x, 1);
    printf("unmapped buffer: read %zd %s, byte %s\n", ures, ures < 0 ? strerror(uerr) : "", r == 1 && x == 'u' ? "stays" : "lost");
}

/* A blocked reader's buffer of two pages whose second page another thread
 * unmaps while it blocks; an 8 KiB write then: Linux copies the first page
 * and stops at the fault (a short count), the rest stays in the pipe. */
static char *two;
static void *treader(void *arg) {
    (void)arg;
    utid = gettid();
    ures = read(up[0], two, 8192);
    uerr = errno;
    return NULL;
}

static void partly_unmapped(void) {
    pipe(up);
    two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    utid = 0;
    pthread_t th;
    pthread_create(&th, NULL, treader, NULL);
    while (!utid) usleep(1000);
    thread_sleeps(utid);
    munmap(two + 4096, 4096);
    static char data[8192];
    memset(data, 'p', sizeof data);
    write(up[1], data, sizeof data);
    pthread_join(th, NULL);
    int fl = fcntl(up[0], F_GETFL);
    fcntl(up[0], F_SETFL, fl | O_NONBLOCK);
    ssize_t rest = read(up[0], data, sizeof data);
    printf("partly unmapped buffer: read %zd %s, %zd stay\n", ures, ures < 0 ? strerror(uerr) : "", rest);
    close(up[0]); close(up[1]);
}

/* A reader thread blocked in read while the main thread signals it and
 * writes, in either order, round after round: each byte arrives exactly
 * once and in order, with SA_RESTART or after EINTR. */
static int sp[2];
static volatile int srounds;
static void *sreader(void *arg) {
    (void)arg;
    utid = gettid();
    for (int i = 0; i < srounds; i++) {
        unsigned char x;
        ssize_t r;
        while ((r = read(sp[0], &x, 1)) < 0 && errno == EINTR) {}
        if (r != 1 || x != (unsigned char)i) return (void *)1;
        if (write(up[1], &x, 1) != 1) return (void *)1;
    }
    return NULL;
}

static void signal_races(int restart, int rounds) {
    handler(restart);
    pipe(sp); pipe(up);
    srounds = rounds;
    utid = 0;
    pthread_t th;
    pthread_create(&th, NULL, sreader, NULL);
    while (!utid) usleep(1000);
    int bad = 0;
    for (int i = 0; i < rounds && !bad; i++) {
        unsigned char x = (unsigned char)i, y;
        if (i % 2) pthread_kill(th, SIGUSR1);
        if (write(sp[1], &x, 1) != 1) bad = 1;
        if (i % 2 == 0) pthread_kill(th, SIGUSR1);
        ssize_t r;
        while ((r = read(up[0], &y, 1)) < 0 && errno == EINTR) {}
        if (r != 1 || y != x) bad = 1;
    }
    void *res;
    pthread_join(th, &res);
    printf("signal races (%s): %s\n", restart ? "SA_RESTART" : "EINTR", bad || res ? "bytes lost or doubled" : "ok");
    close(sp[0]); close(sp[1]); close(up[0]); close(up[1]);
}

/* A ping-pong between two processes (what --strace shows of it is checked by the test). */
static void pingpong(int rounds) {
    int a[2], b[2];
    pipe(a); pipe(b);
    pid_t c = fork();
    if (c == 0) {
        for (int i = 0; i < rounds; i++) {
            char x;
            if (read(a[0], &x, 1) != 1 || write(b[1], &x, 1) != 1) _exit(1);
        }
        _exit(0);
    }
    int bad = 0;
    for (int i = 0; i < rounds; i++) {
        char x = 'a' + i % 26, y = 0;
        if (write(a[1], &x, 1) != 1 || read(b[0], &y, 1) != 1 || y != x) bad = 1;
    }
    int st;
    waitpid(c, &st, 0);
    printf("ping-pong: %d rounds %s\n", rounds, bad || !WIFEXITED(st) || WEXITSTATUS(st) ? "failed" : "ok");
}

/* A reader thread owns (F_SETOWN_EX, its tid) the O_ASYNC write end of the
 * pipe it reads, with F_SETSIG's SIGUSR2: its own read's kill_fasync
 * (POLL_OUT to the writers' owner, at the end of pipe_read) makes the
 * signal pending on itself before the read returns, so its handler has run
 * by the next instruction, whoever copied the bytes. (6.1 also sends one
 * before each sleep, which interrupts the read: SA_RESTART restarts it.) */
static int ap[2], aq[2];
static volatile sig_atomic_t outs;
static volatile int arounds;
static void onusr2(int s, siginfo_t *si, void *uc) { (void)s; (void)uc; if (si->si_code == POLL_OUT) outs++; }

static void *areader(void *arg) {
    (void)arg;
    struct f_owner_ex own = { F_OWNER_TID, gettid() };
    if (fcntl(ap[1], F_SETOWN_EX, &own) < 0 || fcntl(ap[1], F_SETSIG, SIGUSR2) < 0 ||
        fcntl(ap[1], F_SETFL, fcntl(ap[1], F_GETFL) | O_ASYNC) < 0) return (void *)1;
    if (write(aq[1], "r", 1) != 1) return (void *)1;
    for (int i = 0; i < arounds; i++) {
        sig_atomic_t before = outs;
        unsigned char x;
        ssize_t r = read(ap[0], &x, 1);
        int late = outs == before;
        if (r != 1 || x != (unsigned char)i || late) {
            fprintf(stderr, "async round %d: read %zd, byte %d, %s\n", i, r, x, late ? "no POLL_OUT yet" : "POLL_OUT in");
            unsigned char stop = (unsigned char)(i ^ 0x80);   /* not the byte the writer waits for: it stops */
            write(aq[1], &stop, 1);
            return (void *)1;
        }
        if (write(aq[1], &x, 1) != 1) return (void *)1;
    }
    return NULL;
}

static void async_owner(int rounds) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = onusr2;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGUSR2, &sa, NULL);
    pipe(ap); pipe(aq);
    arounds = rounds;
    pthread_t th;
    pthread_create(&th, NULL, areader, NULL);
    unsigned char y;
    int bad = read(aq[0], &y, 1) != 1;
    for (int i = 0; i < rounds && !bad; i++) {
        unsigned char x = (unsigned char)i;
        if (write(ap[1], &x, 1) != 1 || read(aq[0], &y, 1) != 1 || y != x) bad = 1;
    }
    void *res;
    pthread_join(th, &res);
    printf("async owner: %d rounds %s\n", rounds, bad || res ? "failed" : "ok");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 2 && strcmp(argv[1], "pingpong") == 0) {
        pingpong(atoi(argv[2]));
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "async") == 0) {
        async_owner(atoi(argv[2]));
        return 0;
    }
    processes();
    threads();
    killed();
    unmapped();
    partly_unmapped();
    signal_races(1, 2000);
    signal_races(0, 2000);
    return 0;
}
