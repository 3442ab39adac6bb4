// siginfo's layout follows the code, not the signal (siginfo_layout): a
// SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS or SIGCHLD sent by kill
// carries the sender's pid and uid (SIL_KILL); a real fault carries its
// address, a child's exit its pid and status. Compared with Linux's output.
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static siginfo_t got;
static sigjmp_buf back;
static void h(int s, siginfo_t *i, void *c) { (void)s; (void)c; got = *i; }
static void fault(int s, siginfo_t *i, void *c) { (void)s; (void)c; got = *i; siglongjmp(back, 1); }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa = { .sa_sigaction = h, .sa_flags = SA_SIGINFO };
    int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGCHLD };
    for (int i = 0; i < 7; i++) {
        sigaction(sigs[i], &sa, NULL);
        memset(&got, 0, sizeof got);
        kill(getpid(), sigs[i]);
        printf("kill %s: code %d pid-is-self %d uid %u\n", sigabbrev_np(sigs[i]), got.si_code, got.si_pid == getpid(), got.si_uid);
    }
    sa.sa_sigaction = fault;
    sigaction(SIGSEGV, &sa, NULL);
    if (sigsetjmp(back, 1) == 0) *(volatile int *)16 = 1;
    printf("fault SIGSEGV: code %d addr %p\n", got.si_code, got.si_addr);
    sa.sa_sigaction = h;
    sigaction(SIGCHLD, &sa, NULL);
    // SIGCHLD held until the wait, so it cannot come before `got` is cleared.
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    memset(&got, 0, sizeof got);
    pid_t c = fork();
    if (c == 0) _exit(7);
    while (got.si_signo == 0) sigsuspend(&old);
    printf("child exit SIGCHLD: code %d pid-is-child %d status %d\n", got.si_code, got.si_pid == c, got.si_status);
    waitpid(c, NULL, 0);
    return 0;
}
