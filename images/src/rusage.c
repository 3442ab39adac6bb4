#define _GNU_SOURCE
// Resource usage as getrusage(2), wait4(2), waitid(2) and times(2) report
// it: a child that burns CPU in its own code, makes calls, sleeps and touches
// memory; a thread that burns CPU and exits. Prints properties that hold
// natively on any machine (lower bounds, sums, errnos), not the amounts.
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long ms(struct timeval t) { return t.tv_sec * 1000 + t.tv_usec / 1000; }

static long cpu_ms(clockid_t c) {
    struct timespec ts;
    syscall(SYS_clock_gettime, c, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Burns `want` ms of CPU in user code, checking the clock every few million steps.
static volatile unsigned long sink;
static void burn(clockid_t c, long want) {
    long start = cpu_ms(c);
    while (cpu_ms(c) - start < want)
        for (unsigned long i = 0; i < 3000000; i++) sink += i * i;
}

static void *thread_burn(void *arg) { (void)arg; burn(CLOCK_THREAD_CPUTIME_ID, 150); return NULL; }

int main(int argc, char **argv) {
    struct rusage ru;
    if (argc > 1) {   // exec'd by a child that burned 300 ms: the time stays the process's
        getrusage(RUSAGE_SELF, &ru);
        // User and system time together: a kernel that splits by tick samples
        // (the VM's tinyconfig under emulation) may put much of a busy loop in stime.
        printf("CPU time survives exec: %d\n", ms(ru.ru_utime) + ms(ru.ru_stime) >= 250);
        return 0;
    }
    long r = getrusage(-2, &ru);   // RUSAGE_BOTH is the kernel's own
    printf("RUSAGE_BOTH: %ld %s\n", r, strerror(errno));
    r = getrusage(2, &ru);
    printf("who 2: %ld %s\n", r, strerror(errno));
    r = syscall(SYS_getrusage, RUSAGE_SELF, (void *)16);
    printf("bad pointer: %ld %s\n", r, strerror(errno));

    getrusage(RUSAGE_CHILDREN, &ru);
    printf("no children yet: utime=%ld stime=%ld maxrss=%ld\n", ms(ru.ru_utime), ms(ru.ru_stime), ru.ru_maxrss);

    // A child with little memory in use: 640 KiB filled in a small mapping
    // and 64 KiB at the top of an 8 MiB one (a stack's shape). Its maxrss
    // counts those pages and not the 8 MiB reserved (the sentry counts the
    // pages its runs hold in the memory file, skipping holes). First, before
    // the 48 MiB child's memory is freed: in the sandbox, memory reused from
    // a freed run keeps its zeroed pages, which count (README, Known gaps).
    pid_t small = fork();
    if (small == 0) {
        char *a = mmap(NULL, 640 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        char *b = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (a == MAP_FAILED || b == MAP_FAILED) _exit(1);
        memset(a, 1, 640 << 10);
        memset(b + (8 << 20) - (64 << 10), 1, 64 << 10);
        _exit(0);
    }
    struct rusage smallUsage;
    int smallStatus;
    memset(&smallUsage, 0, sizeof smallUsage);
    wait4(small, &smallStatus, 0, &smallUsage);
    printf("small child's maxrss has its 704 KiB, not its 8 MiB reserved: %d\n",
           smallUsage.ru_maxrss >= 704 && smallUsage.ru_maxrss < 6 * 1024);

    pid_t pid = fork();
    if (pid == 0) {
        size_t n = 48 << 20;
        char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        memset(p, 1, n);
        for (int i = 0; i < 3; i++) { struct timespec d = {0, 20 * 1000 * 1000}; nanosleep(&d, NULL); }
        burn(CLOCK_PROCESS_CPUTIME_ID, 300);
        _exit(0);
    }
    int status;
    struct rusage child;
    memset(&child, 0xff, sizeof child);
    pid_t got = wait4(pid, &status, 0, &child);
    printf("wait4: %s status=%d\n", got == pid ? "child" : "?", WEXITSTATUS(status));
    printf("child utime >= 250 ms: %d\n", ms(child.ru_utime) >= 250);
    printf("child utime+stime < 5 s: %d\n", ms(child.ru_utime) + ms(child.ru_stime) < 5000);
    printf("child maxrss >= 48 MiB: %d\n", child.ru_maxrss >= 48 * 1024);
    printf("child slept (nvcsw >= 3): %d\n", child.ru_nvcsw >= 3);
    printf("child minflt+majflt >= 0, no garbage: %d\n", child.ru_minflt >= 0 && child.ru_majflt >= 0 && child.ru_ixrss == 0);

    struct rusage children;
    getrusage(RUSAGE_CHILDREN, &children);
    printf("RUSAGE_CHILDREN has the child's time: %d\n", ms(children.ru_utime) >= ms(child.ru_utime) && ms(children.ru_utime) >= 250);
    printf("RUSAGE_CHILDREN has its maxrss: %d\n", children.ru_maxrss >= 48 * 1024);

    struct tms t;
    times(&t);
    long hz = sysconf(_SC_CLK_TCK);
    printf("times cutime >= 0.25 s: %d\n", t.tms_cutime >= hz / 4);
    printf("times own utime below the child's: %d\n", t.tms_utime < t.tms_cutime);

    // WNOHANG with nothing to reap: waitid leaves a zeroed rusage.
    pid_t idle = fork();
    if (idle == 0) { pause(); _exit(0); }
    siginfo_t si;
    memset(&ru, 0xff, sizeof ru);
    memset(&si, 0, sizeof si);
    r = syscall(SYS_waitid, P_PID, idle, &si, WEXITED | WNOHANG, &ru);
    printf("waitid WNOHANG: %ld pid=%d utime=%ld maxrss=%ld\n", r, si.si_pid, ms(ru.ru_utime), ru.ru_maxrss);
    kill(idle, SIGKILL);
    memset(&ru, 0, sizeof ru);
    r = syscall(SYS_waitid, P_PID, idle, &si, WEXITED, &ru);
    printf("waitid killed child: %ld code=%d utime small=%d\n", r, si.si_code, ms(ru.ru_utime) < 1000);

    // A thread's CPU time stays the process's after it exits; RUSAGE_THREAD
    // is the caller's own.
    pthread_t th;
    pthread_create(&th, NULL, thread_burn, NULL);
    pthread_join(th, NULL);
    struct rusage self, me;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_THREAD, &me);
    printf("RUSAGE_SELF has the exited thread's time: %d\n", ms(self.ru_utime) + ms(self.ru_stime) >= 120);
    printf("RUSAGE_THREAD is the caller's own: %d\n", ms(me.ru_utime) + ms(me.ru_stime) < ms(self.ru_utime) + ms(self.ru_stime));
    printf("RUSAGE_SELF maxrss > 0: %d\n", self.ru_maxrss > 0);
    fflush(stdout);

    if (fork() == 0) {
        burn(CLOCK_PROCESS_CPUTIME_ID, 300);
        execl("/proc/self/exe", argv[0], "after-exec", (char *)NULL);
        _exit(127);
    }
    wait(NULL);
    return 0;
}
