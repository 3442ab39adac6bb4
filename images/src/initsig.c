/* Run as a pid namespace's init (pid 1): signals from inside the namespace
 * that init has no handler for do nothing, SIGKILL and SIGSTOP included; a
 * handled one is delivered; a blocked one waits and is dropped when taken
 * without a handler; an orphan's clone exit signal becomes SIGCHLD when it
 * is reparented to init. Natively: unshare --pid --fork. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int sig) { got = sig; }

/* A child that sends `sigs` to init, then exits 0. */
static void child_sends(const int *sigs, int n) {
    pid_t c = fork();
    if (c == 0) {
        for (int i = 0; i < n; i++)
            if (kill(1, sigs[i]) != 0) { printf("kill(1, %d): %s\n", sigs[i], strerror(errno)); _exit(1); }
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    printf("child sending %d signal(s): exit %d\n", n, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* A child forks a grandchild whose exit signal is `exitsig` and exits at
 * once; the grandchild outlives it, is reparented to init, and exits 7. */
static void orphan(int exitsig) {
    int p[2];
    if (pipe(p) != 0) { perror("pipe"); exit(1); }
    pid_t c = fork();
    if (c == 0) {
        pid_t parent = getpid();
        pid_t g = syscall(SYS_clone, exitsig, 0, 0, 0, 0);
        if (g == 0) {
            while (getppid() == parent) usleep(1000);   /* until reparented to init */
            _exit(7);
        }
        if (write(p[1], &g, sizeof g) != sizeof g) _exit(2);
        _exit(0);
    }
    close(p[1]);
    pid_t g = 0;
    if (read(p[0], &g, sizeof g) != sizeof g) { printf("no grandchild\n"); exit(1); }
    int st;
    waitpid(c, &st, 0);
    /* The grandchild's exit signal is SIGCHLD now: a plain wait sees it. */
    pid_t w = waitpid(g, &st, 0);
    printf("orphan with exit signal %d: waitpid %s, exit %d\n", exitsig,
           w == g ? "found it" : strerror(errno), w == g && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    close(p[0]);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("pid %d\n", getpid());
    if (getpid() != 1) return 2;

    int fatal[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGSEGV, SIGUSR2, SIGALRM, SIGKILL, SIGSTOP, SIGCONT};
    child_sends(fatal, sizeof fatal / sizeof fatal[0]);
    printf("init survived its children's signals\n");

    /* tgkill and sigqueue from inside are the same. */
    pid_t c = fork();
    if (c == 0) {
        union sigval v = {.sival_int = 1};
        syscall(SYS_tgkill, 1, 1, SIGKILL);
        sigqueue(1, SIGTERM, v);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    printf("init survived tgkill and sigqueue\n");

    /* Init kills itself from inside: the same. */
    kill(1, SIGTERM);
    raise(SIGKILL);
    printf("init survived its own kill\n");

    /* A handled signal is delivered. */
    signal(SIGUSR1, on_usr1);
    int usr1[] = {SIGUSR1};
    child_sends(usr1, 1);
    while (!got) pause();
    printf("handled signal %d\n", got);

    /* Blocked: queued while blocked, dropped when unblocked without a handler. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, &old);
    int term[] = {SIGTERM};
    child_sends(term, 1);
    sigset_t pend;
    sigpending(&pend);
    printf("blocked SIGTERM pending: %s\n", sigismember(&pend, SIGTERM) ? "yes" : "no");
    sigprocmask(SIG_SETMASK, &old, NULL);
    sigpending(&pend);
    printf("after unblocking: pending %s, init alive\n", sigismember(&pend, SIGTERM) ? "yes" : "no");

    /* Orphans whose clone exit signal would slay init. */
    orphan(SIGKILL);
    orphan(SIGTERM);
    orphan(0);

    printf("init exits on its own\n");
    return 0;
}
