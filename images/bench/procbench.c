// Process-level microbenchmarks; prints the mean ns per operation.
//   procbench getppid N | clock N | openread N | mmap N | fork N | forkexec N | thread N | pipe N
//             tcprtt N | unixrtt N (1-byte round trips) | tcpstream N | unixstream N (N MiB, ns per MiB)
//             sha256 N (SHA-256 of N MiB in memory, almost no syscalls: ns per MiB; the digest first)
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

// SHA-256 (FIPS 180-4) over an in-memory buffer: the compute-bound row, where
// a runner should cost nothing because the guest makes almost no syscalls.
static const unsigned int shaK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
static void shaBlock(unsigned int h[8], const unsigned char *p) {
    unsigned int w[64], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 16; i++) w[i] = (unsigned)p[4 * i] << 24 | p[4 * i + 1] << 16 | p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        unsigned int s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        unsigned int s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    for (int i = 0; i < 64; i++) {
        unsigned int t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + shaK[i] + w[i];
        unsigned int t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

// The digest of n MiB: a 4 MiB pattern buffer hashed over and over (whole
// blocks only, so the padding is one block of its own).
static void sha256(int n, unsigned char out[32]) {
    enum { size = 4 << 20 };
    unsigned char *buf = malloc(size);
    for (int i = 0; i < size; i++) buf[i] = (unsigned char)((i * 2654435761u) >> 24);
    unsigned int h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    unsigned long long left = (unsigned long long)n << 20;
    while (left > 0) {
        unsigned long long chunk = left < size ? left : size;
        for (unsigned long long o = 0; o < chunk; o += 64) shaBlock(h, buf + o);
        left -= chunk;
    }
    unsigned char pad[64] = {0x80};
    unsigned long long bits = (unsigned long long)n << 23;
    for (int i = 0; i < 8; i++) pad[63 - i] = (unsigned char)(bits >> (8 * i));
    shaBlock(h, pad);
    for (int i = 0; i < 32; i++) out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
    free(buf);
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "nop") == 0) return 0;   // the exec target
    if (argc < 3) { fprintf(stderr, "usage: procbench getppid|clock|openread|mmap|fork|forkexec|thread|pipe|tcprtt|unixrtt|tcpstream|unixstream|sha256 N\n"); return 2; }
    int n = atoi(argv[2]);
    long long start = now();
    if (strcmp(argv[1], "getppid") == 0) {
        // libc's wrapper (mov $110, %eax; syscall): a site systrap patches,
        // as a program's own calls are; syscall(2) loads rax from a register.
        for (int i = 0; i < n; i++) getppid();
    } else if (strcmp(argv[1], "clock") == 0) {
        // libc's clock_gettime: the vDSO natively; in the sandbox (no
        // vDSO) its fallback `mov $228, %eax; syscall`, a site systrap patches.
        struct timespec ts;
        for (int i = 0; i < n; i++) clock_gettime(CLOCK_MONOTONIC, &ts);
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
    } else if (strcmp(argv[1], "sha256") == 0) {
        unsigned char d[32];
        sha256(n, d);
        long long el = now() - start;
        for (int i = 0; i < 32; i++) printf("%02x", d[i]);
        printf("\n%lld\n", el / (n > 0 ? n : 1));
        return 0;
    } else {
        fprintf(stderr, "unknown benchmark %s\n", argv[1]);
        return 2;
    }
    printf("%lld\n", (now() - start) / n);
    return 0;
}
