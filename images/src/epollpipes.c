// Three children write into three pipes, one after another in the order
// 2, 1, 0 (each waits for its turn on a "go" pipe the parent writes when the
// previous message arrived); the parent collects everything with epoll
// until every writer has hung up. Deterministic under any scheduler.
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int fds[3], go[3];
    for (int i = 0; i < 3; i++) {
        int p[2], g[2];
        pipe(p);
        pipe(g);
        if (fork() == 0) {
            close(p[0]);
            close(g[1]);
            char c;
            read(g[0], &c, 1);   // my turn
            char msg[32];
            int n = snprintf(msg, sizeof msg, "child %d\n", i);
            write(p[1], msg, n);
            _exit(0);
        }
        close(p[1]);
        close(g[0]);
        fds[i] = p[0];
        go[i] = g[1];
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
        epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    }
    write(go[2], "g", 1);
    int open = 3, order[3], got = 0;
    while (open > 0) {
        struct epoll_event evs[4];
        int n = epoll_wait(ep, evs, 4, 5000);
        if (n <= 0) { printf("epoll_wait=%d\n", n); return 1; }
        for (int k = 0; k < n; k++) {
            int i = evs[k].data.u32;
            char buf[64];
            ssize_t r = read(fds[i], buf, sizeof buf);
            if (r > 0) {
                order[got++] = i;
                fwrite(buf, 1, r, stdout);
                if (i > 0) write(go[i - 1], "g", 1);   // the next one's turn
            } else {
                epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
                close(fds[i]);
                open--;
            }
        }
    }
    while (wait(NULL) > 0) {}
    printf("order %d%d%d\n", order[0], order[1], order[2]);
    return 0;
}
