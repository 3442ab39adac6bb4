// The sandbox's OOM killer weighs oom_score_adj as Linux's oom_badness does:
// badness = resident pages + adj * (limit / 1000), the highest killed first,
// -1000 never. Run as init under `sentry run --memory 96M`:
//
//   C holds 40 MiB at -1000 (the largest, never a victim)
//   A holds 16 MiB at 0
//   B holds  8 MiB at +500 (badness 8 + 48 MiB: the first victim)
//   T grows 1 MiB at a time at 0 until it is killed: over the limit first
//     at about 30 MiB (B is chosen, not T nor A), then at about 38 MiB,
//     with B gone, T itself (38 > A's 16; C is skipped).
//
// Natively there is no such limit to run under (a cgroup the test cannot set).
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void set_adj(int adj) {
    char s[16];
    int fd = open("/proc/self/oom_score_adj", O_WRONLY);
    int n = snprintf(s, sizeof s, "%d", adj);
    if (fd < 0 || write(fd, s, n) != n) { perror("oom_score_adj"); _exit(3); }
    close(fd);
}

static void touch(size_t mib) {
    char *p = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); _exit(2); }
    for (size_t i = 0; i < mib << 20; i += 4096) p[i] = 1;
}

static pid_t holder(int mib, int adj, int ready) {
    pid_t p = fork();
    if (p == 0) {
        set_adj(adj);
        touch(mib);
        write(ready, "x", 1);
        for (;;) pause();
    }
    return p;
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    if (getpid() != 1) { fprintf(stderr, "oomadj: run me as the sandbox's init under --memory 96M\n"); return 2; }
    int ready[2];
    if (pipe(ready)) return 1;
    struct { const char *name; int mib, adj; pid_t pid; } h[3] = { { "C", 40, -1000 }, { "A", 16, 0 }, { "B", 8, 500 } };
    char c;
    for (int i = 0; i < 3; i++) { h[i].pid = holder(h[i].mib, h[i].adj, ready[1]); read(ready[0], &c, 1); }
    pid_t t = fork();
    if (t == 0) {
        set_adj(0);
        for (int i = 0; i < 90; i++) {
            touch(1);
            struct timespec ts = { 0, 10000000 };
            nanosleep(&ts, 0);
        }
        _exit(0);   // not reached: 40 + 16 + 90 MiB is past 96
    }
    for (int k = 0; k < 2; k++) {
        int st;
        pid_t w = waitpid(-1, &st, 0);
        char who[64] = "?";
        if (w == t) strcpy(who, "T (growing, 0)");
        for (int i = 0; i < 3; i++) if (w == h[i].pid) snprintf(who, sizeof who, "%s (%d MiB, %d)", h[i].name, h[i].mib, h[i].adj);
        if (WIFSIGNALED(st)) printf("%s: killed by signal %d\n", who, WTERMSIG(st));
        else printf("%s: exited %d\n", who, WEXITSTATUS(st));
    }
    for (int i = 0; i < 3; i++) {
        int st;
        if (waitpid(h[i].pid, &st, WNOHANG) == 0) {
            printf("%s (%d MiB, %d): alive\n", h[i].name, h[i].mib, h[i].adj);
            kill(h[i].pid, SIGKILL);
            waitpid(h[i].pid, &st, 0);
        }
    }
    return 0;
}
