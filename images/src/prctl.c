// prctl: names, dumpable, parent-death signals (delivered for real when the
// parent dies), child subreapers, no_new_privs, keepcaps, timer slack, the
// bounding set, and EINVAL for what Linux does not know.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define R(x) ({ long r_ = (long)(x); (int)(r_ < 0 ? -errno : r_); })

static void show(const char *path, const char *key) {
    FILE *f = fopen(path, "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (!key || !strncmp(line, key, strlen(key))) printf("%s: %s", path, line);
    if (f) fclose(f);
}

// A thread forks a child that asks for SIGUSR2 when its parent dies, then
// the thread exits: the parent is the thread, so the child gets the signal
// although its process lives on.
static int thread_pipe[2];
static void *forking_thread(void *arg) {
    (void)arg;
    if (fork() == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR2);
        sigprocmask(SIG_BLOCK, &set, NULL);
        prctl(PR_SET_PDEATHSIG, SIGUSR2);
        write(thread_pipe[1], "r", 1);
        struct timespec ts = {5, 0};
        int got = sigtimedwait(&set, NULL, &ts);
        char line[100];
        int n = snprintf(line, sizeof line, "child of the thread: signal %d\n", got);
        write(thread_pipe[1], line, n);
        _exit(0);
    }
    char c;
    read(thread_pipe[0], &c, 1);
    return NULL;
}

int main(void) {
    char name[32] = {0};
    printf("PR_SET_NAME: %d\n", R(prctl(PR_SET_NAME, "a-very-long-name-indeed")));
    prctl(PR_GET_NAME, name);
    printf("PR_GET_NAME: %s\n", name);
    show("/proc/self/comm", NULL);
    show("/proc/self/status", "Name:");
    printf("PR_SET_NAME bad pointer: %d\n", R(prctl(PR_SET_NAME, (char *)8)));

    printf("dumpable: %d\n", prctl(PR_GET_DUMPABLE));
    int rc = R(prctl(PR_SET_DUMPABLE, 0));
    printf("set dumpable 0: %d, now %d\n", rc, prctl(PR_GET_DUMPABLE));
    printf("set dumpable 2: %d\n", R(prctl(PR_SET_DUMPABLE, 2)));
    prctl(PR_SET_DUMPABLE, 1);

    int sig = -1;
    printf("set pdeathsig 65: %d\n", R(prctl(PR_SET_PDEATHSIG, 65)));
    printf("set pdeathsig SIGUSR1: %d\n", R(prctl(PR_SET_PDEATHSIG, SIGUSR1)));
    prctl(PR_GET_PDEATHSIG, &sig);
    printf("get pdeathsig: %d\n", sig);
    prctl(PR_SET_PDEATHSIG, 0);

    printf("no_new_privs: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    printf("set no_new_privs 0: %d\n", R(prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0)));
    printf("set no_new_privs 1,1: %d\n", R(prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0)));
    printf("get no_new_privs 1: %d\n", R(prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0)));

    printf("keepcaps: %d\n", prctl(PR_GET_KEEPCAPS));
    printf("set keepcaps 2: %d\n", R(prctl(PR_SET_KEEPCAPS, 2)));
    rc = R(prctl(PR_SET_KEEPCAPS, 1));
    printf("set keepcaps 1: %d, now %d\n", rc, prctl(PR_GET_KEEPCAPS));
    prctl(PR_SET_KEEPCAPS, 0);

    printf("capbset cap 0: %d\n", R(prctl(PR_CAPBSET_READ, 0)));
    printf("capbset cap 41: %d\n", R(prctl(PR_CAPBSET_READ, 41)));
    printf("seccomp: %d\n", R(prctl(PR_GET_SECCOMP)));
    printf("unknown option: %d\n", R(prctl(12345, 0, 0, 0, 0)));

    int slack = prctl(PR_GET_TIMERSLACK);
    printf("timerslack: %d\n", slack);
    prctl(PR_SET_TIMERSLACK, 1000);
    printf("timerslack set 1000: %d\n", prctl(PR_GET_TIMERSLACK));
    prctl(PR_SET_TIMERSLACK, 0);
    printf("timerslack back to default: %s\n", prctl(PR_GET_TIMERSLACK) == slack ? "yes" : "no");

    // A subreaper adopts its orphaned grandchild, which gets its
    // parent-death signal when the middle process dies.
    int reaper = -1;
    printf("set subreaper: %d\n", R(prctl(PR_SET_CHILD_SUBREAPER, 1)));
    prctl(PR_GET_CHILD_SUBREAPER, &reaper);
    printf("get subreaper: %d\n", reaper);
    int ready[2], report[2];
    pipe(ready);
    pipe(report);
    fflush(stdout);
    pid_t top = getpid();
    pid_t middle = fork();
    if (middle == 0) {
        int inherited = -1;
        prctl(PR_GET_PDEATHSIG, &inherited);
        pid_t me = getpid();
        if (fork() == 0) {
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, SIGUSR1);
            sigprocmask(SIG_BLOCK, &set, NULL);
            prctl(PR_SET_PDEATHSIG, SIGUSR1);
            write(ready[1], "x", 1);
            siginfo_t si;
            struct timespec ts = {5, 0};
            int got = sigtimedwait(&set, &si, &ts);
            char line[200];
            int n = snprintf(line, sizeof line, "grandchild: signal %d, from the dead parent %s, code SI_USER %s, now child of the subreaper %s\n",
                             got, si.si_pid == me ? "yes" : "no", si.si_code == SI_USER ? "yes" : "no",
                             getppid() == top ? "yes" : "no");
            write(report[1], line, n);
            _exit(0);
        }
        char c;
        read(ready[0], &c, 1);
        printf("middle: pdeathsig after fork %d\n", inherited);
        fflush(stdout);
        _exit(0);
    }
    waitpid(middle, NULL, 0);
    char line[200] = {0};
    read(report[0], line, sizeof line - 1);
    fputs(line, stdout);
    int st;
    pid_t adopted = wait(&st);
    printf("subreaper reaped the grandchild: %s\n", adopted > 0 && WIFEXITED(st) ? "yes" : "no");

    pipe(thread_pipe);
    fflush(stdout);
    pthread_t th;
    pthread_create(&th, NULL, forking_thread, NULL);
    pthread_join(th, NULL);
    char tl[100] = {0};
    read(thread_pipe[0], tl, sizeof tl - 1);
    fputs(tl, stdout);
    wait(NULL);
    return 0;
}
