// An epoll echo server with forked clients, over AF_UNIX (a path in /tmp)
// or, given "inet", over 127.0.0.1. Prints only totals.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

enum { CLIENTS = 64, ROUNDS = 20 };
static int inet;
static struct sockaddr_storage addr;
static socklen_t addrlen;

static int make(void) { return socket(inet ? AF_INET : AF_UNIX, SOCK_STREAM, 0); }

static int client(int id) {
    int s = make();
    if (connect(s, (struct sockaddr *)&addr, addrlen) < 0) { perror("connect"); return 1; }
    for (int r = 0; r < ROUNDS; r++) {
        char msg[64], back[64];
        int n = snprintf(msg, sizeof msg, "client %d round %d", id, r);
        if (write(s, msg, n) != n) return 2;
        int got = 0;
        while (got < n) {
            ssize_t k = read(s, back + got, n - got);
            if (k <= 0) return 3;
            got += k;
        }
        if (memcmp(msg, back, n) != 0) return 4;
    }
    shutdown(s, SHUT_WR);
    char c;
    return read(s, &c, 1) == 0 ? 0 : 5;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    inet = argc > 1 && strcmp(argv[1], "inet") == 0;
    int l = make();
    if (inet) {
        struct sockaddr_in *a = (struct sockaddr_in *)&addr;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = 0;
        addrlen = sizeof *a;
        int on = 1;
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (bind(l, (struct sockaddr *)a, addrlen) < 0) { perror("bind"); return 1; }
        getsockname(l, (struct sockaddr *)&addr, &addrlen);
    } else {
        struct sockaddr_un *a = (struct sockaddr_un *)&addr;
        a->sun_family = AF_UNIX;
        snprintf(a->sun_path, sizeof a->sun_path, "/tmp/sockecho-%d", getpid());
        unlink(a->sun_path);
        addrlen = sizeof *a;
        if (bind(l, (struct sockaddr *)a, addrlen) < 0) { perror("bind"); return 1; }
    }
    if (listen(l, 64) < 0) { perror("listen"); return 1; }
    for (int i = 0; i < CLIENTS; i++)
        if (fork() == 0) _exit(client(i));
    fcntl(l, F_SETFL, O_NONBLOCK);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    int accepted = 0, closed = 0;
    long bytes = 0;
    while (closed < CLIENTS) {
        struct epoll_event evs[16];
        int n = epoll_wait(ep, evs, 16, 10000);
        if (n <= 0) { printf("epoll_wait: %d %s\n", n, strerror(errno)); return 1; }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == l) {
                int c;
                while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    accepted++;
                    struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
                }
                if (errno != EAGAIN) { perror("accept4"); return 1; }
                continue;
            }
            char buf[4096];
            ssize_t k;
            while ((k = read(fd, buf, sizeof buf)) > 0) {
                bytes += k;
                if (write(fd, buf, k) != k) { perror("write"); return 1; }
            }
            if (k == 0) { epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL); close(fd); closed++; }
            else if (errno != EAGAIN) { perror("read"); return 1; }
        }
    }
    int failures = 0, st;
    while (wait(&st) > 0) if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) failures++;
    printf("accepted %d closed %d bytes %ld failures %d\n", accepted, closed, bytes, failures);
    if (!inet) unlink(((struct sockaddr_un *)&addr)->sun_path);
    return 0;
}
