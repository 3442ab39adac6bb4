// Extreme arguments a guest may pass: huge timeouts, bad signal numbers.
// Each must get Linux's answer, and none may hurt the kernel serving it.
#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void report(const char *what, long r) { printf("%-32s %ld %s\n", what, r, r < 0 ? strerror(errno) : ""); }

int main(void) {
    struct timespec huge = { 0x7fffffffffffffffLL, 0 };
    int word = 0;
    report("futex wait, huge timeout", syscall(SYS_futex, &word, FUTEX_WAIT, 1, &huge, 0, 0));
    struct itimerval it = { { 0x7fffffffffffffffLL, 0 }, { 0x7fffffffffffffffLL, 0 } }, off = { 0 };
    report("setitimer, huge", setitimer(ITIMER_REAL, &it, 0));
    report("setitimer, off", setitimer(ITIMER_REAL, &off, 0));
    struct timespec bad = { 1, 1000000000 };
    report("nanosleep, tv_nsec too big", syscall(SYS_nanosleep, &bad, 0));
    long child = syscall(SYS_clone, 200, 0, 0, 0, 0);   // legacy clone: any CSIGNAL value goes
    if (child == 0) _exit(7);
    int st = 0;
    report("clone, exit signal 200", child > 0 ? 1 : child);
    report("wait4 it with __WCLONE", waitpid((pid_t)child, &st, __WCLONE) == child ? (st >> 8) : -1);
    report("kill, signal 65", syscall(SYS_kill, getpid(), 65));
    report("rt_sigaction, signal 0", syscall(SYS_rt_sigaction, 0, 0, 0, 8));
    report("rt_sigaction, SIGKILL", syscall(SYS_rt_sigaction, SIGKILL, &(struct sigaction){0}, 0, 8));
    int p[2];
    pipe(p);
    write(p[1], "x", 1);
    struct pollfd pf = { p[0], POLLIN, 0 };
    report("poll, ready, huge timeout", syscall(SYS_ppoll, &pf, 1, &huge, 0, 8));
    report("select, nfds -1", syscall(SYS_select, -1, 0, 0, 0, 0));
    report("tgkill, tid 0", syscall(SYS_tgkill, getpid(), 0, SIGUSR1));
    report("wait4, no children", syscall(SYS_wait4, -1, 0, 0, 0));
    return 0;
}
