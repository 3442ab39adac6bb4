/* select and pselect6: sets, timeouts, the sigmask argument, what is ready after. */
#define _GNU_SOURCE
#include <sys/select.h>
#include <sys/syscall.h>
#include <signal.h>
#include <unistd.h>
int main(void) {
    int p[2]; pipe(p); write(p[1], "x", 1);
    fd_set r, w; FD_ZERO(&r); FD_ZERO(&w); FD_SET(p[0], &r); FD_SET(p[1], &w); FD_SET(0, &r);
    struct timeval tv = {1, 0};
    syscall(SYS_select, p[1] + 1, &r, &w, NULL, &tv);
    FD_ZERO(&r); FD_SET(p[1], &r); tv.tv_sec = 0; tv.tv_usec = 1000;
    syscall(SYS_select, p[1] + 1, &r, NULL, NULL, &tv);
    FD_ZERO(&r); FD_SET(p[0], &r);
    struct timespec ts = {2, 0}; sigset_t m; sigemptyset(&m); sigaddset(&m, SIGUSR1);
    struct { const sigset_t *ss; size_t len; } data = { &m, 8 };
    syscall(SYS_pselect6, p[0] + 1, &r, NULL, NULL, &ts, &data);
    FD_ZERO(&r); FD_SET(p[0], &r);
    syscall(SYS_pselect6, p[0] + 1, &r, NULL, NULL, NULL, NULL);
    return 0;
}
