// A guest for checkpoint/restore: state in memory (a heap table and a
// running sum), the MXCSR rounding mode (FPU state), a child blocked in
// read(2) on a pipe, a tmpfs file kept open for appending, an eventfd and a
// blocked, pending SIGUSR1 with a handler. Each step prints one line, then
// sleeps (nanosleep: restart_syscall when frozen). The final lines say what
// the child, the file, the eventfd and the signal saw: an uninterrupted run
// and a checkpointed-and-restored one print the same.
//   ckptcount STEPS [SLEEP_MS] [itimer|socket]
// "itimer": an ITIMER_REAL armed for 1000 s (its time left is printed at
// the end, in hundreds of seconds). "socket": a socketpair, which a
// checkpoint does not hold yet, so it must refuse and leave the guest be.
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void say(const char *s) { write(1, s, strlen(s)); }
static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig) { (void)sig; got_usr1++; }

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 50;
    long ms = argc > 2 ? atol(argv[2]) : 20;
    char line[256];

    // Round toward +infinity: a restore that loses MXCSR prints other bits.
    unsigned mxcsr = 0x1f80 | (2u << 13);
    __asm__ volatile("ldmxcsr %0" :: "m"(mxcsr));

    int p[2];
    if (pipe(p) != 0) { perror("pipe"); return 1; }
    pid_t child = fork();
    if (child == 0) {
        close(p[1]);
        unsigned long sum = 0, bytes = 0;
        char buf[64];
        ssize_t n;
        while ((n = read(p[0], buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < n; i++) sum = sum * 31 + (unsigned char)buf[i];
            bytes += n;
        }
        snprintf(line, sizeof line, "child read %lu bytes, sum %lu\n", bytes, sum);
        say(line);
        _exit(0);
    }
    close(p[0]);

    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    raise(SIGUSR1);   // pending, blocked, until the end

    if (argc > 3 && strcmp(argv[3], "itimer") == 0) {
        signal(SIGALRM, SIG_IGN);
        struct itimerval it = { { 1000, 0 }, { 1000, 0 } };
        setitimer(ITIMER_REAL, &it, NULL);
    }
    int sv[2];
    if (argc > 3 && strcmp(argv[3], "socket") == 0) socketpair(AF_UNIX, SOCK_STREAM, 0, sv);

    // Per process: native runs of this test from several checkouts share the host's /tmp.
    char logpath[64];
    snprintf(logpath, sizeof logpath, "/tmp/ckptcount-%d.log", (int)getpid());
    int log = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    int efd = eventfd(0, 0);
    uint64_t *table = calloc(4096, sizeof *table);
    uint64_t sum = 0;
    volatile double x = 1.0;
    for (int i = 1; i <= steps; i++) {
        table[(i * 7919) % 4096] += (uint64_t)i * i;
        for (int k = 0; k < 4096; k += 64) sum = sum * 6364136223846793005ULL + table[k] + (uint64_t)i;
        x = x / 3.0 + 1.0;
        uint64_t bits;
        double y = x;
        memcpy(&bits, &y, sizeof bits);
        snprintf(line, sizeof line, "step %d sum %016llx fp %016llx\n", i, (unsigned long long)sum, (unsigned long long)bits);
        say(line);
        if (i % 5 == 0) {
            snprintf(line, sizeof line, "message %d\n", i);
            write(p[1], line, strlen(line));
            uint64_t one = 1;
            write(efd, &one, sizeof one);
        }
        write(log, line, strlen(line));
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    close(p[1]);
    int status;
    waitpid(child, &status, 0);
    close(log);

    int in = open(logpath, O_RDONLY);
    unsigned long fsum = 0, fbytes = 0;
    char buf[512];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) fsum = fsum * 33 + (unsigned char)buf[i];
        fbytes += n;
    }
    uint64_t events = 0;
    read(efd, &events, sizeof events);
    sigprocmask(SIG_UNBLOCK, &usr1, NULL);
    snprintf(line, sizeof line, "file %lu bytes, sum %lu; eventfd %llu; usr1 %d; child status %d\n",
             fbytes, fsum, (unsigned long long)events, (int)got_usr1, WEXITSTATUS(status));
    say(line);
    if (argc > 3 && strcmp(argv[3], "itimer") == 0) {
        struct itimerval it;
        getitimer(ITIMER_REAL, &it);
        snprintf(line, sizeof line, "itimer %ld00 s left, interval %ld s\n", (long)it.it_value.tv_sec / 100, (long)it.it_interval.tv_sec);
        say(line);
    }
    return 0;
}
