// Process-level microbenchmarks; prints the mean ns per operation.
//   procbench getppid N | openread N | mmap N | fork N | forkexec N | thread N | pipe N
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

static long long now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}
static void *nothing(void *a) { return a; }

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "nop") == 0) return 0;   // the exec target
    if (argc < 3) { fprintf(stderr, "usage: procbench getppid|openread|mmap|fork|forkexec|thread|pipe N\n"); return 2; }
    int n = atoi(argv[2]);
    long long start = now();
    if (strcmp(argv[1], "getppid") == 0) {
        for (int i = 0; i < n; i++) syscall(SYS_getppid);
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
    } else {
        fprintf(stderr, "unknown benchmark %s\n", argv[1]);
        return 2;
    }
    printf("%lld\n", (now() - start) / n);
    return 0;
}
