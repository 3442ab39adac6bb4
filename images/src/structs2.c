/* More struct and flag arguments as strace decodes them: run with a scratch directory. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <signal.h>
#include <sched.h>
#include <time.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <linux/fs.h>
int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char a[256], b[256], f[256];
    snprintf(a, sizeof a, "%s/a", dir); snprintf(b, sizeof b, "%s/b", dir); snprintf(f, sizeof f, "%s/fifo", dir);
    int m = syscall(SYS_memfd_create, "x", MFD_CLOEXEC | MFD_ALLOW_SEALING); close(m);
    int p = syscall(SYS_pidfd_open, getpid(), 0); close(p);
    close(open(a, O_CREAT | O_WRONLY, 0600));
    syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_NOREPLACE);
    syscall(SYS_mknodat, AT_FDCWD, f, S_IFIFO | 0644, 0);
    int t = syscall(SYS_timerfd_create, CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    struct itimerspec its = {{0, 0}, {100, 0}}, old;
    syscall(SYS_timerfd_settime, t, 0, &its, &old);
    syscall(SYS_timerfd_gettime, t, &old);
    timer_t id; struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2, .sigev_value.sival_int = 5};
    syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &id);
    syscall(SYS_timer_settime, id, 0, &its, NULL);
    syscall(SYS_timer_gettime, id, &old);
    sigset_t set; sigemptyset(&set); sigaddset(&set, SIGUSR1);
    int s = syscall(SYS_signalfd4, -1, &set, 8, SFD_CLOEXEC | SFD_NONBLOCK); close(s);
    struct statfs st; syscall(SYS_statfs, dir, &st); syscall(SYS_fstatfs, t, &st);
    cpu_set_t cs; CPU_ZERO(&cs); CPU_SET(0, &cs); syscall(SYS_sched_setaffinity, 0, sizeof cs, &cs);
    pid_t c = fork(); if (c == 0) _exit(3);
    siginfo_t si; syscall(SYS_waitid, P_PID, c, &si, WEXITED, NULL);
    unlink(b); unlink(f);
    return 0;
}
