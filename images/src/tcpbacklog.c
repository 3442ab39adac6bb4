// A non-blocking TCP connect to a listener whose accept queue is full:
// Linux drops the SYN and the connect goes on in SYN_SENT (EINPROGRESS; no
// POLLOUT; another connect says EALREADY; SO_ERROR 0) until an accept makes
// room and a retransmitted SYN gets through; a listener that closes
// meanwhile refuses it (ECONNREFUSED). Prints no ports or times.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static const char *soerror(int s) {
    int e = -1; socklen_t el = sizeof e;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el);
    return e ? strerrorname_np(e) : "0";
}

static void pollout(const char *what, int s, int ms) {
    struct pollfd p = {.fd = s, .events = POLLOUT};
    int r = poll(&p, 1, ms);
    printf("%s: poll %d POLLOUT %d POLLERR %d\n", what, r, !!(p.revents & POLLOUT), !!(p.revents & POLLERR));
}

static int listener(struct sockaddr_in *a) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t al = sizeof *a;
    *a = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(l, (struct sockaddr *)a, sizeof *a);
    getsockname(l, (struct sockaddr *)a, &al);
    listen(l, 0);   // one connection waits; the next SYN is dropped
    return l;
}

static int nbconnect(const char *what, struct sockaddr_in *a) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show(what, connect(c, (struct sockaddr *)a, sizeof *a));
    return c;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sockaddr_in a;
    int l = listener(&a);
    int c1 = nbconnect("connect 1", &a);
    pollout("first", c1, 2000);
    int c2 = nbconnect("connect 2, queue full", &a);
    pollout("second, queue full", c2, 300);
    show("connect 2 again", connect(c2, (struct sockaddr *)&a, sizeof a));
    printf("SO_ERROR %s\n", soerror(c2));
    struct sockaddr_in peer; socklen_t pl = sizeof peer;
    show("getpeername", getpeername(c2, (struct sockaddr *)&peer, &pl));
    int s1 = accept(l, NULL, NULL);
    show("accept 1", s1 >= 0 ? 0 : -1);
    pollout("second, room made", c2, 5000);
    printf("SO_ERROR %s\n", soerror(c2));
    show("connect 2 again", connect(c2, (struct sockaddr *)&a, sizeof a));
    show("connect 2 once more", connect(c2, (struct sockaddr *)&a, sizeof a));
    int s2 = accept(l, NULL, NULL);
    show("accept 2", s2 >= 0 ? 0 : -1);
    show("send", send(c2, "hi", 2, 0));
    char buf[8];
    show("server reads", recv(s2, buf, sizeof buf, 0));
    close(s1); close(s2); close(c1); close(c2); close(l);

    // The listener goes away while a connect waits: refused.
    l = listener(&a);
    int c3 = nbconnect("connect 3", &a);
    pollout("third", c3, 2000);
    int c4 = nbconnect("connect 4, queue full", &a);
    close(l);
    pollout("fourth, listener closed", c4, 5000);
    printf("SO_ERROR %s\n", soerror(c4));
    close(c3); close(c4);
    return 0;
}
