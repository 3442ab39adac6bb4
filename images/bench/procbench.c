// Process-level microbenchmarks; prints the mean ns per operation.
//   procbench getppid N | openread N | mmap N | fork N | forkexec N | thread N | pipe N
//             tcprtt N | unixrtt N (1-byte round trips) | tcpstream N | unixstream N (N MiB, ns per MiB)
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static long long now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}
static void *nothing(void *a) { return a; }

// A connected pair: over 127.0.0.1 (TCP_NODELAY both ways) or socketpair(AF_UNIX).
static int connectedPair(int tcp, int fds[2]) {
    if (!tcp) return socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000001);
    socklen_t len = sizeof a;
    if (bind(l, (struct sockaddr *)&a, len) || listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &len)) return -1;
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fds[0], (struct sockaddr *)&a, len)) return -1;
    fds[1] = accept(l, NULL, NULL);
    close(l);
    setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fds[1] < 0 ? -1 : 0;
}

// Round trips of one byte to a forked echoer: ns each.
static long long roundTrips(int tcp, int n) {
    int s[2];
    if (connectedPair(tcp, s)) return -1;
    char c = 0;
    pid_t p = fork();
    if (p == 0) { close(s[0]); while (read(s[1], &c, 1) == 1) write(s[1], &c, 1); _exit(0); }
    close(s[1]);
    long long start = now();
    for (int i = 0; i < n; i++) { write(s[0], &c, 1); if (read(s[0], &c, 1) != 1) return -1; }
    long long el = now() - start;
    close(s[0]);
    waitpid(p, NULL, 0);
    return el / n;
}

// n MiB from a forked writer in 64 KiB writes: ns per MiB.
static long long stream(int tcp, int n) {
    int s[2];
    if (connectedPair(tcp, s)) return -1;
    static char buf[65536];
    pid_t p = fork();
    if (p == 0) {
        close(s[1]);
        for (long long left = (long long)n << 20; left > 0;) {
            long w = write(s[0], buf, left < (long long)sizeof buf ? left : (long long)sizeof buf);
            if (w <= 0) _exit(1);
            left -= w;
        }
        _exit(0);
    }
    close(s[0]);
    long long start = now(), got = 0;
    for (long r; (r = read(s[1], buf, sizeof buf)) > 0;) got += r;
    long long el = now() - start;
    waitpid(p, NULL, 0);
    return got == (long long)n << 20 ? el / n : -1;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "nop") == 0) return 0;   // the exec target
    if (argc < 3) { fprintf(stderr, "usage: procbench getppid|openread|mmap|fork|forkexec|thread|pipe|tcprtt|unixrtt|tcpstream|unixstream N\n"); return 2; }
    int n = atoi(argv[2]);
    long long start = now();
    if (strcmp(argv[1], "getppid") == 0) {
        // libc's wrapper (mov $110, %eax; syscall): a site systrap patches,
        // as a program's own calls are; syscall(2) loads rax from a register.
        for (int i = 0; i < n; i++) getppid();
    } else if (strcmp(argv[1], "openread") == 0) {
        char buf[256];
        for (int i = 0; i < n; i++) {
            int fd = open("/etc/hostname", O_RDONLY);
            if (fd < 0 || read(fd, buf, sizeof buf) < 0) return 1;
            close(fd);
        }
    } else if (strcmp(argv[1], "mmap") == 0) {
        for (int i = 0; i < n; i++) {
            char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) return 1;
            p[0] = 1;
            munmap(p, 65536);
        }
    } else if (strcmp(argv[1], "fork") == 0) {
        for (int i = 0; i < n; i++) {
            pid_t p = fork();
            if (p == 0) _exit(0);
            waitpid(p, NULL, 0);
        }
    } else if (strcmp(argv[1], "forkexec") == 0) {
        for (int i = 0; i < n; i++) {
            pid_t p = fork();
            if (p == 0) { execl("/proc/self/exe", "procbench", "nop", (char *)NULL); _exit(127); }
            waitpid(p, NULL, 0);
        }
    } else if (strcmp(argv[1], "thread") == 0) {
        for (int i = 0; i < n; i++) {
            pthread_t t;
            pthread_create(&t, NULL, nothing, NULL);
            pthread_join(t, NULL);
        }
    } else if (strcmp(argv[1], "pipe") == 0) {
        int a[2], b[2];
        pipe(a); pipe(b);
        pid_t p = fork();
        char c = 0;
        if (p == 0) {
            close(a[1]); close(b[0]);
            while (read(a[0], &c, 1) == 1) write(b[1], &c, 1);
            _exit(0);
        }
        close(a[0]); close(b[1]);
        start = now();
        for (int i = 0; i < n; i++) { write(a[1], &c, 1); read(b[0], &c, 1); }
        long long el = now() - start;
        close(a[1]);
        waitpid(p, NULL, 0);
        printf("%lld\n", el / n);
        return 0;
    } else if (strcmp(argv[1], "tcprtt") == 0 || strcmp(argv[1], "unixrtt") == 0) {
        long long v = roundTrips(argv[1][0] == 't', n);
        if (v < 0) return 1;
        printf("%lld\n", v);
        return 0;
    } else if (strcmp(argv[1], "tcpstream") == 0 || strcmp(argv[1], "unixstream") == 0) {
        long long v = stream(argv[1][0] == 't', n);
        if (v < 0) return 1;
        printf("%lld\n", v);
        return 0;
    } else {
        fprintf(stderr, "unknown benchmark %s\n", argv[1]);
        return 2;
    }
    printf("%lld\n", (now() - start) / n);
    return 0;
}
