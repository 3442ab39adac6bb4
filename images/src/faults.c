#define _GNU_SOURCE
// Page faults and context switches as getrusage(2), wait4(2) and /proc
// report them: fresh pages touched count as minor faults (at least one a
// page: Linux may count more, never fewer, with huge pages off for the
// range), a child's reach its parent through wait4 and RUSAGE_CHILDREN,
// an exited thread's stay its process's, exec keeps them, and /proc's
// stat and status agree with getrusage read around them. Prints
// properties, not amounts, so the native run is the reference.
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { PAGES = 2000 };

static void touch(int pages) {
    long ps = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, pages * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(1); }
    madvise(p, pages * ps, MADV_NOHUGEPAGE);   // one fault a page, not one a 2 MiB
    for (int i = 0; i < pages; i++) p[i * ps] = 1;
}

static long minflt(int who) {
    struct rusage ru;
    getrusage(who, &ru);
    return ru.ru_minflt;
}

// Fields 10-13 of a stat file (minflt, cminflt, majflt, cmajflt).
static int stat_faults(const char *path, long f[4]) {
    char buf[1024];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *s = strrchr(buf, ')');
    if (!s) return -1;
    char state;
    long flags;
    int ppid, pgrp, sess, tty, tpgid;
    return sscanf(s + 1, " %c %d %d %d %d %d %ld %ld %ld %ld %ld", &state, &ppid, &pgrp, &sess, &tty, &tpgid, &flags,
                  &f[0], &f[1], &f[2], &f[3]) == 11 ? 0 : -1;
}

static long status_field(const char *name) {
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *s = strstr(buf, name);
    return s ? atol(s + strlen(name) + 1) : -1;
}

static void *thread_touch(void *arg) { (void)arg; touch(PAGES); return NULL; }

int main(int argc, char **argv) {
    if (argc > 1) {   // exec'd by a child that touched PAGES pages first
        printf("faults survive exec: %d\n", minflt(RUSAGE_SELF) >= PAGES);
        return 0;
    }
    long before = minflt(RUSAGE_SELF), tbefore = minflt(RUSAGE_THREAD);
    touch(PAGES);
    long after = minflt(RUSAGE_SELF), tafter = minflt(RUSAGE_THREAD);
    printf("RUSAGE_SELF minflt grew by >= %d: %d\n", PAGES, after - before >= PAGES);
    printf("RUSAGE_THREAD minflt grew by >= %d: %d\n", PAGES, tafter - tbefore >= PAGES);
    printf("fewer than 4x as many as pages: %d\n", after - before < 4 * PAGES);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("majflt and nivcsw sane: %d\n", ru.ru_majflt >= 0 && ru.ru_majflt < PAGES && ru.ru_nivcsw >= 0);

    // A thread's faults stay the process's once it is gone.
    pthread_t th;
    long pbefore = minflt(RUSAGE_SELF);
    pthread_create(&th, NULL, thread_touch, NULL);
    pthread_join(th, NULL);
    printf("an exited thread's faults stay the process's: %d\n", minflt(RUSAGE_SELF) - pbefore >= PAGES);
    printf("and are not the caller's: %d\n", minflt(RUSAGE_THREAD) - tafter < PAGES);

    // A child's faults reach the parent.
    pid_t pid = fork();
    if (pid == 0) { touch(3 * PAGES); _exit(0); }
    int status;
    struct rusage child;
    memset(&child, 0xff, sizeof child);
    pid_t got = wait4(pid, &status, 0, &child);
    printf("wait4: %d child minflt >= %d: %d\n", got == pid, 3 * PAGES, child.ru_minflt >= 3 * PAGES);
    printf("child majflt sane: %d\n", child.ru_majflt >= 0 && child.ru_majflt < PAGES);
    struct rusage children;
    getrusage(RUSAGE_CHILDREN, &children);
    printf("RUSAGE_CHILDREN minflt is the child's: %d\n", children.ru_minflt == child.ru_minflt);
    printf("own minflt below the child's: %d\n", minflt(RUSAGE_SELF) < children.ru_minflt);

    // /proc/self/stat: the process's faults (between getrusage before and
    // after reading it), its children's exactly as RUSAGE_CHILDREN.
    long f[4];
    long r1 = minflt(RUSAGE_SELF);
    int ok = stat_faults("/proc/self/stat", f);
    long r2 = minflt(RUSAGE_SELF);
    printf("stat read: %d\n", ok == 0);
    printf("stat minflt within getrusage's: %d\n", r1 <= f[0] && f[0] <= r2);
    printf("stat cminflt is RUSAGE_CHILDREN's: %d\n", f[1] == children.ru_minflt);
    printf("stat cmajflt is RUSAGE_CHILDREN's: %d\n", f[3] == children.ru_majflt);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/stat", (long)syscall(SYS_gettid));
    r1 = minflt(RUSAGE_THREAD);
    ok = stat_faults(path, f);
    r2 = minflt(RUSAGE_THREAD);
    printf("task stat minflt within RUSAGE_THREAD's: %d %d\n", ok == 0, r1 <= f[0] && f[0] <= r2);

    // /proc/self/status: the leader's (the caller's) context switches.
    struct rusage a, b;
    getrusage(RUSAGE_THREAD, &a);
    long vol = status_field("voluntary_ctxt_switches:");
    long invol = status_field("nonvoluntary_ctxt_switches:");
    getrusage(RUSAGE_THREAD, &b);
    printf("status voluntary within RUSAGE_THREAD's: %d\n", a.ru_nvcsw <= vol && vol <= b.ru_nvcsw);
    printf("status nonvoluntary within RUSAGE_THREAD's: %d\n", a.ru_nivcsw <= invol && invol <= b.ru_nivcsw);
    fflush(stdout);

    // Exec keeps the thread's counts.
    if (fork() == 0) {
        touch(PAGES);
        execl("/proc/self/exe", argv[0], "after-exec", (char *)NULL);
        _exit(127);
    }
    wait(NULL);
    return 0;
}
