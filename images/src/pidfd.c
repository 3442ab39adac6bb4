// pidfds: pidfd_open, CLONE_PIDFD through clone3, poll readiness at exit,
// pidfd_send_signal, pidfd_getfd, waitid(P_PIDFD), and their errnos.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int readable(int fd) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, 0);
    return r < 0 ? -1 : p.revents;
}

static void check(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
    else printf("%s: ok\n", what);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int sync[2], data[2];
    pipe(sync);
    pid_t c = fork();
    if (c == 0) {
        pipe(data);
        dup2(data[0], 42);
        write(data[1], "from the child", 15);
        write(sync[1], "r", 1);
        for (;;) pause();
    }
    char b;
    read(sync[0], &b, 1);
    int pfd = syscall(SYS_pidfd_open, c, 0);
    check("pidfd_open", pfd);
    printf("close-on-exec %d, readable while it runs: %d\n", !!(fcntl(pfd, F_GETFD) & FD_CLOEXEC), readable(pfd));
    int got = syscall(SYS_pidfd_getfd, pfd, 42, 0);
    char buf[32] = {0};
    read(got, buf, sizeof buf - 1);
    printf("pidfd_getfd read \"%s\"\n", buf);
    check("pidfd_getfd of a closed fd", syscall(SYS_pidfd_getfd, pfd, 99, 0));
    check("pidfd_send_signal 0", syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0));
    check("pidfd_send_signal SIGTERM", syscall(SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0));
    struct pollfd p = {pfd, POLLIN, 0};
    poll(&p, 1, 5000);
    printf("after its death: revents %#x\n", p.revents);
    siginfo_t si = {0};
    check("waitid P_PIDFD", waitid(P_PIDFD, pfd, &si, WEXITED));
    printf("code %d status %d\n", si.si_code, si.si_status);
    check("pidfd_send_signal after reaping", syscall(SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0));
    check("waitid P_PIDFD again", waitid(P_PIDFD, pfd, &si, WEXITED));
    check("read from a pidfd", read(pfd, buf, 8));
    close(pfd);

    // clone3 with CLONE_PIDFD.
    int cfd = -1;
    struct clone_args args = {0};
    args.flags = CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)&cfd;
    args.exit_signal = SIGCHLD;
    long r = syscall(SYS_clone3, &args, sizeof args);
    if (r == 0) _exit(7);
    printf("clone3 returned a pid: %d, a pidfd: %d\n", r > 0, cfd >= 0);
    poll(&(struct pollfd){cfd, POLLIN, 0}, 1, 5000);
    check("waitid P_PIDFD of the clone3 child", waitid(P_PIDFD, cfd, &si, WEXITED));
    printf("code %d status %d\n", si.si_code, si.si_status);
    args.flags = CLONE_PIDFD | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
    check("CLONE_PIDFD with CLONE_THREAD", syscall(SYS_clone3, &args, sizeof args));

    check("pidfd_open(-1)", syscall(SYS_pidfd_open, -1, 0));
    check("pidfd_open flags", syscall(SYS_pidfd_open, getpid(), 1));
    check("pidfd_open of no process", syscall(SYS_pidfd_open, 4000000, 0));
    check("pidfd_send_signal on stdin", syscall(SYS_pidfd_send_signal, 0, SIGTERM, NULL, 0));
    int self = syscall(SYS_pidfd_open, getpid(), O_NONBLOCK);
    check("waitid P_PIDFD of itself", waitid(P_PIDFD, self, &si, WEXITED));
    printf("O_NONBLOCK kept: %d\n", !!(fcntl(self, F_GETFL) & O_NONBLOCK));
    return 0;
}
