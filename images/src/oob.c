// Out-of-band data (MSG_OOB) on TCP over 127.0.0.1 and on AF_UNIX stream
// pairs: the urgent byte, reads that stop at the mark, SIOCATMARK, POLLPRI
// in poll, select's exceptfds and epoll, SIGURG to the F_SETOWN owner,
// SO_OOBINLINE, a second urgent byte, and the errors. Usage: oob
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t urgs;
static void onurg(int sig) { (void)sig; urgs++; }

static const char *err(int e) {
    switch (e) {
    case EAGAIN: return "EAGAIN"; case EINVAL: return "EINVAL"; case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOTCONN: return "ENOTCONN"; case EFAULT: return "EFAULT"; case ESRCH: return "ESRCH";
    case EPIPE: return "EPIPE"; default: return strerror(e);
    }
}

static void sent(const char *what, ssize_t n) {
    if (n < 0) printf("  %s: -1 %s\n", what, err(errno)); else printf("  %s: %zd\n", what, n);
}

// One recvmsg: its count, the bytes and the flags it reports.
static void rd(const char *what, int fd, size_t len, int flags) {
    char buf[64] = {0};
    struct iovec iov = {buf, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n = recvmsg(fd, &m, flags);
    if (n < 0) { printf("  %s: -1 %s\n", what, err(errno)); return; }
    printf("  %s: %zd \"%.*s\"%s%s\n", what, n, (int)n, buf, m.msg_flags & MSG_OOB ? " MSG_OOB" : "",
           m.msg_flags & MSG_TRUNC ? " MSG_TRUNC" : "");
}

static void mark(const char *what, int fd) {
    int at = -1;
    if (ioctl(fd, SIOCATMARK, &at) != 0) printf("  %s atmark: -1 %s\n", what, err(errno));
    else printf("  %s atmark: %d (sockatmark %d)\n", what, at, sockatmark(fd));
}

// poll, select's three sets and epoll, none waiting.
static void ready(const char *what, int fd) {
    struct pollfd p = {fd, POLLIN | POLLPRI | POLLOUT, 0};
    poll(&p, 1, 0);
    fd_set r, w, x;
    FD_ZERO(&r); FD_ZERO(&w); FD_ZERO(&x);
    FD_SET(fd, &r); FD_SET(fd, &x);
    struct timeval tv = {0, 0};
    select(fd + 1, &r, &w, &x, &tv);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLPRI}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    int n = epoll_wait(ep, &out, 1, 0);
    close(ep);
    printf("  %s: poll%s%s select%s%s epoll%s%s\n", what, p.revents & POLLIN ? " IN" : "", p.revents & POLLPRI ? " PRI" : "",
           FD_ISSET(fd, &r) ? " read" : "", FD_ISSET(fd, &x) ? " except" : "",
           n > 0 && out.events & EPOLLIN ? " IN" : "", n > 0 && out.events & EPOLLPRI ? " PRI" : "");
}

static int tcp;

// TCP on the loopback may deliver after the send returns: wait until the
// receiver's FIONREAD (which stops at an urgent byte not inline) is `want`;
// -1 where it does not move (the loopback delivers within the send on
// Linux in practice, and always in the sandbox).
static void settle(int fd, int want) {
    if (!tcp || want < 0) return;
    for (int i = 0; i < 2000; i++) {
        int n = 0;
        ioctl(fd, FIONREAD, &n);
        if (n >= want) return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, 0);
    }
    printf("  (FIONREAD never reached %d)\n", want);
}

// A signal sent from the receive path may come a little later on Linux.
static void waitsig(int want) {
    for (int i = 0; i < 2000 && urgs < want; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, 0);
    }
}

static void pair(int sv[2]) {
    if (!tcp) { socketpair(AF_UNIX, SOCK_STREAM, 0, sv); return; }
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(l, (struct sockaddr *)&a, sizeof a);
    listen(l, 1);
    getsockname(l, (struct sockaddr *)&a, &len);
    sv[0] = socket(AF_INET, SOCK_STREAM, 0);
    connect(sv[0], (struct sockaddr *)&a, sizeof a);
    sv[1] = accept(l, 0, 0);
    int one = 1;
    setsockopt(sv[0], IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
    close(l);
}

static void put(int fd, const char *s, int flags, int settleFd, int want) {
    char what[32];
    snprintf(what, sizeof what, "send \"%s\"%s", s, flags & MSG_OOB ? " OOB" : "");
    sent(what, send(fd, s, strlen(s), flags));
    settle(settleFd, want);
}

static void scenarios(void) {
    int sv[2];
    printf("basic\n");
    pair(sv);
    ready("before", sv[1]);
    put(sv[0], "abc", MSG_OOB, sv[1], 2);
    ready("urgent queued", sv[1]);
    mark("before reading", sv[1]);
    rd("read 60", sv[1], 60, MSG_DONTWAIT);
    mark("after the read", sv[1]);
    ready("at the mark", sv[1]);
    rd("read OOB", sv[1], 60, MSG_OOB);
    rd("read OOB again", sv[1], 60, MSG_OOB);
    mark("after OOB", sv[1]);
    ready("after OOB", sv[1]);
    rd("read 60", sv[1], 60, MSG_DONTWAIT);
    mark("at the end", sv[1]);
    close(sv[0]); close(sv[1]);

    printf("peek\n");
    pair(sv);
    put(sv[0], "hij", MSG_OOB, sv[1], 2);
    rd("peek OOB", sv[1], 60, MSG_OOB | MSG_PEEK);
    rd("peek 60", sv[1], 60, MSG_PEEK | MSG_DONTWAIT);
    rd("read OOB", sv[1], 60, MSG_OOB);
    rd("read 60", sv[1], 60, MSG_DONTWAIT);
    put(sv[0], "kl", 0, sv[1], -1);
    rd("read 60 (blocking)", sv[1], 60, 0);
    close(sv[0]); close(sv[1]);

    printf("read across the mark\n");
    pair(sv);
    put(sv[0], "mn", MSG_OOB, sv[1], 1);
    put(sv[0], "op", 0, sv[1], -1);
    rd("read 60", sv[1], 60, MSG_DONTWAIT);
    mark("at the mark", sv[1]);
    rd("peek 60", sv[1], 60, MSG_PEEK | MSG_DONTWAIT);
    rd("read 60", sv[1], 60, MSG_DONTWAIT);
    mark("past it", sv[1]);
    rd("read OOB", sv[1], 60, MSG_OOB);
    ready("past it", sv[1]);
    close(sv[0]); close(sv[1]);

    printf("SO_OOBINLINE\n");
    pair(sv);
    int one = 1, got = 0;
    socklen_t len = sizeof got;
    setsockopt(sv[1], SOL_SOCKET, SO_OOBINLINE, &one, sizeof one);
    getsockopt(sv[1], SOL_SOCKET, SO_OOBINLINE, &got, &len);
    printf("  SO_OOBINLINE reads %d\n", got);
    put(sv[0], "qr", MSG_OOB, sv[1], 2);
    put(sv[0], "s", 0, sv[1], 3);
    rd("read OOB", sv[1], 60, MSG_OOB);
    rd("read 60", sv[1], 60, MSG_DONTWAIT);
    mark("at the mark", sv[1]);
    ready("at the mark", sv[1]);
    rd("peek 60", sv[1], 60, MSG_PEEK | MSG_DONTWAIT);
    rd("read 60", sv[1], 60, MSG_DONTWAIT);
    mark("past it", sv[1]);
    ready("past it", sv[1]);
    close(sv[0]); close(sv[1]);

    printf("a second urgent byte at the read position\n");
    pair(sv);
    put(sv[0], "t", MSG_OOB, sv[1], -1);
    put(sv[0], "u", MSG_OOB, sv[1], -1);
    rd("read OOB", sv[1], 60, MSG_OOB);
    rd("read 60", sv[1], 60, MSG_DONTWAIT);
    rd("read 60", sv[1], 60, MSG_DONTWAIT);
    close(sv[0]); close(sv[1]);

    printf("a second urgent byte further on\n");
    pair(sv);
    put(sv[0], "ab", 0, sv[1], 2);
    put(sv[0], "c", MSG_OOB, sv[1], 2);
    put(sv[0], "d", MSG_OOB, sv[1], 3);
    mark("at the start", sv[1]);
    rd("read OOB", sv[1], 60, MSG_OOB);
    rd("read 60", sv[1], 60, MSG_DONTWAIT);
    mark("then", sv[1]);
    rd("read 60", sv[1], 60, MSG_DONTWAIT);
    close(sv[0]); close(sv[1]);

    if (!tcp) {
        // 6.1 keeps each consumed oob_skb in the queue, empty, until a read
        // reaches it (which stops there, or says EAGAIN if it read nothing and
        // may not wait) or the next urgent byte right after it is taken.
        printf("consumed urgent bytes stay in the queue\n");
        pair(sv);
        put(sv[0], "x", MSG_OOB, sv[1], -1);
        rd("read OOB", sv[1], 60, MSG_OOB);
        put(sv[0], "1", 0, sv[1], -1);
        put(sv[0], "y", MSG_OOB, sv[1], -1);
        rd("read OOB", sv[1], 60, MSG_OOB);
        put(sv[0], "2", 0, sv[1], -1);
        ready("two taken", sv[1]);
        rd("read 60", sv[1], 60, MSG_DONTWAIT);
        rd("read 60", sv[1], 60, MSG_DONTWAIT);
        rd("read 60", sv[1], 60, MSG_DONTWAIT);
        rd("read 60", sv[1], 60, MSG_DONTWAIT);
        close(sv[0]); close(sv[1]);

        printf("a consumed urgent byte before a new one\n");
        pair(sv);
        put(sv[0], "a", MSG_OOB, sv[1], -1);
        rd("read OOB", sv[1], 60, MSG_OOB);
        put(sv[0], "b", MSG_OOB, sv[1], -1);
        put(sv[0], "cd", 0, sv[1], -1);
        mark("then", sv[1]);
        rd("read 60", sv[1], 60, MSG_DONTWAIT);
        rd("read 60", sv[1], 60, MSG_DONTWAIT);
        rd("read 60", sv[1], 60, MSG_DONTWAIT);
        close(sv[0]); close(sv[1]);

        printf("taking the next urgent byte drops the consumed one before it\n");
        pair(sv);
        put(sv[0], "e", MSG_OOB, sv[1], -1);
        rd("read OOB", sv[1], 60, MSG_OOB);
        put(sv[0], "f", MSG_OOB, sv[1], -1);
        rd("read OOB", sv[1], 60, MSG_OOB);
        put(sv[0], "g", 0, sv[1], -1);
        rd("read 60", sv[1], 60, MSG_DONTWAIT);
        rd("read 60", sv[1], 60, MSG_DONTWAIT);
        rd("read 60", sv[1], 60, MSG_DONTWAIT);
        close(sv[0]); close(sv[1]);
    }

    printf("MSG_WAITALL stops at the mark\n");
    pair(sv);
    put(sv[0], "wxyz", MSG_OOB, sv[1], 3);
    rd("read 10 WAITALL", sv[1], 10, MSG_WAITALL);
    rd("read OOB into 0 bytes", sv[1], 0, MSG_OOB);
    rd("read OOB", sv[1], 60, MSG_OOB);
    close(sv[0]); close(sv[1]);

    printf("SIGURG\n");
    pair(sv);
    signal(SIGURG, onurg);
    urgs = 0;
    put(sv[0], "1", MSG_OOB, sv[1], -1);
    printf("  no owner: %d SIGURG\n", urgs);
    int set = fcntl(sv[1], F_SETOWN, getpid());
    printf("  F_SETOWN self: %d, F_GETOWN is self: %d\n", set, fcntl(sv[1], F_GETOWN) == getpid());
    put(sv[0], "2", MSG_OOB, sv[1], -1);
    waitsig(1);
    printf("  owner self: %d SIGURG\n", urgs);
    struct f_owner_ex ex = {F_OWNER_TID, (pid_t)syscall(SYS_gettid)}, back = {0, 0};
    printf("  F_SETOWN_EX tid: %d\n", fcntl(sv[1], F_SETOWN_EX, &ex));
    fcntl(sv[1], F_GETOWN_EX, &back);
    printf("  F_GETOWN_EX: type %d is tid %d\n", back.type, back.pid == ex.pid);
    put(sv[0], "3", MSG_OOB, sv[1], -1);
    waitsig(2);
    printf("  owner thread: %d SIGURG\n", urgs);
    int pg = -getpgrp(), who = 0;
    printf("  SIOCSPGRP group: %d\n", ioctl(sv[1], SIOCSPGRP, &pg));
    ioctl(sv[1], FIOGETOWN, &who);
    printf("  FIOGETOWN is -group: %d, F_GETOWN too: %d\n", who == -getpgrp(), fcntl(sv[1], F_GETOWN) == -getpgrp());
    put(sv[0], "4", MSG_OOB, sv[1], -1);
    waitsig(3);
    printf("  owner group: %d SIGURG\n", urgs);
    printf("  F_SETOWN 0: %d\n", fcntl(sv[1], F_SETOWN, 0));
    fcntl(sv[1], F_GETOWN_EX, &back);
    printf("  F_GETOWN_EX: type %d pid %d\n", back.type, back.pid);
    put(sv[0], "5", MSG_OOB, sv[1], -1);
    printf("  no owner: %d SIGURG\n", urgs);
    close(sv[0]); close(sv[1]);

    printf("errors\n");
    pair(sv);
    sent("send 0 bytes OOB", send(sv[0], "", 0, MSG_OOB));
    int r = fcntl(sv[0], F_SETOWN, 0x3fffff00);
    printf("  F_SETOWN to no process: %d %s\n", r, err(errno));
    ex.type = 7;
    r = fcntl(sv[0], F_SETOWN_EX, &ex);
    printf("  F_SETOWN_EX bad type: %d %s\n", r, err(errno));
    if (!tcp) {   // (TCP takes data for a reader that shut down)
        shutdown(sv[1], SHUT_RD);
        sent("send OOB to a shut reader", send(sv[0], "x", 1, MSG_OOB | MSG_NOSIGNAL));
    }
    close(sv[0]); close(sv[1]);
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    printf("== TCP\n");
    tcp = 1;
    scenarios();
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(l, (struct sockaddr *)&a, sizeof a);
    listen(l, 1);
    rd("listener: read OOB", l, 60, MSG_OOB);
    close(l);
    printf("== AF_UNIX stream\n");
    tcp = 0;
    scenarios();
    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    rd("unconnected: read OOB", u, 60, MSG_OOB);
    close(u);
    printf("== AF_UNIX datagram and seqpacket\n");
    int types[] = {SOCK_DGRAM, SOCK_SEQPACKET};
    for (int i = 0; i < 2; i++) {
        int sv[2];
        socketpair(AF_UNIX, types[i], 0, sv);
        sent(i ? "seqpacket send OOB" : "dgram send OOB", send(sv[0], "x", 1, MSG_OOB));
        send(sv[0], "y", 1, 0);
        rd("read OOB", sv[1], 60, MSG_OOB);
        mark("", sv[1]);
        close(sv[0]); close(sv[1]);
    }
    return 0;
}
