// AF_UNIX sockets: stream, datagram and seqpacket across fork, names,
// backlog, descriptor and credential passing, flags, options, readiness and
// Linux's errnos for bad input. Prints only what is the same on every run,
// natively and in the sandbox.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static socklen_t path_addr(struct sockaddr_un *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, path);
    return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path + 1, name, strlen(name));
    return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static void reap(void) {
    int st;
    while (wait(&st) > 0)
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) printf("child failed: %#x\n", st);
}

static void pingpong(int type, const char *name) {
    int sv[2];
    show(name, socketpair(AF_UNIX, type, 0, sv));
    if (fork() == 0) {
        close(sv[0]);
        char buf[64];
        for (int i = 0; i < 3; i++) {
            ssize_t n = read(sv[1], buf, sizeof buf);
            if (n <= 0) _exit(1);
            for (ssize_t j = 0; j < n; j++) buf[j] = buf[j] >= 'a' && buf[j] <= 'z' ? buf[j] - 32 : buf[j];
            if (write(sv[1], buf, n) != n) _exit(2);
        }
        _exit(0);
    }
    close(sv[1]);
    const char *msgs[] = {"ping", "hello world", "x"};
    for (int i = 0; i < 3; i++) {
        char buf[64] = {0};
        write(sv[0], msgs[i], strlen(msgs[i]));
        ssize_t n = read(sv[0], buf, sizeof buf - 1);
        printf("  %s -> %s (%zd)\n", msgs[i], buf, n);
    }
    reap();
    char c;
    if (type == SOCK_DGRAM) show("  read after peer exit", recv(sv[0], &c, 1, MSG_DONTWAIT));
    else show("  read after peer exit", read(sv[0], &c, 1));
    close(sv[0]);
}

static void boundaries(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    send(sv[0], "one", 3, 0);
    send(sv[0], "three", 5, 0);
    send(sv[0], "", 0, 0);
    char buf[16];
    int avail = -1;
    ioctl(sv[1], FIONREAD, &avail);
    printf("dgram FIONREAD: %d\n", avail);
    show("dgram recv 2 of 3", recv(sv[1], buf, 2, 0));
    show("dgram peek trunc", recv(sv[1], buf, 2, MSG_PEEK | MSG_TRUNC));
    struct iovec iov = {buf, 2};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    show("dgram recvmsg 2 of 5", recvmsg(sv[1], &m, 0));
    printf("  flags has MSG_TRUNC: %d\n", !!(m.msg_flags & MSG_TRUNC));
    show("dgram empty message", recv(sv[1], buf, sizeof buf, 0));
    show("dgram nothing left", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    close(sv[0]); close(sv[1]);

    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    send(sv[0], "abc", 3, 0);
    send(sv[0], "defgh", 5, 0);
    ioctl(sv[1], FIONREAD, &avail);
    printf("stream FIONREAD: %d\n", avail);
    memset(buf, 0, sizeof buf);
    show("stream peek", recv(sv[1], buf, 4, MSG_PEEK));
    printf("  peeked %s\n", buf);
    memset(buf, 0, sizeof buf);
    show("stream recv merges writes", recv(sv[1], buf, sizeof buf, 0));
    printf("  got %s\n", buf);
    if (fork() == 0) {
        usleep(50000);
        send(sv[0], "12", 2, 0);
        usleep(50000);
        send(sv[0], "345", 3, 0);
        _exit(0);
    }
    memset(buf, 0, sizeof buf);
    show("stream MSG_WAITALL 5", recv(sv[1], buf, 5, MSG_WAITALL));
    printf("  got %s\n", buf);
    reap();
    shutdown(sv[0], SHUT_WR);
    show("stream read after SHUT_WR", read(sv[1], buf, sizeof buf));
    show("stream write after SHUT_WR", send(sv[0], "x", 1, MSG_NOSIGNAL));
    show("stream reverse direction still works", send(sv[1], "y", 1, 0));
    show("stream read it", read(sv[0], buf, sizeof buf));
    close(sv[0]); close(sv[1]);
}

static volatile sig_atomic_t pipes;
static void on_pipe(int s) { (void)s; pipes++; }

static void sigpipe(void) {
    signal(SIGPIPE, on_pipe);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    close(sv[1]);
    show("write to closed peer", write(sv[0], "x", 1));
    printf("  SIGPIPE count: %d\n", pipes);
    show("send MSG_NOSIGNAL", send(sv[0], "x", 1, MSG_NOSIGNAL));
    printf("  SIGPIPE count: %d\n", pipes);
    struct pollfd p = {sv[0], POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&p, 1, 0);
    printf("  poll: %#x\n", p.revents);
    close(sv[0]);
    // Unread data at close: the peer's next read is ECONNRESET.
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[0], "data", 4);
    close(sv[1]);
    char c;
    show("read after peer closed with unread data", read(sv[0], &c, 1));
    show("then", read(sv[0], &c, 1));
    close(sv[0]);
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    close(sv[1]);
    show("seqpacket send to closed", send(sv[0], "x", 1, MSG_NOSIGNAL));
    show("seqpacket recv from closed", recv(sv[0], &c, 1, 0));
    close(sv[0]);
    signal(SIGPIPE, SIG_DFL);
}

static void names(void) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/unixsock-%d", getpid());
    unlink(path);
    struct sockaddr_un a, b;
    socklen_t len = path_addr(&a, path);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    show("bind path", bind(l, (struct sockaddr *)&a, len));
    struct stat st;
    stat(path, &st);
    printf("  node is a socket: %d\n", S_ISSOCK(st.st_mode));
    show("bind again", bind(l, (struct sockaddr *)&a, len));
    int other = socket(AF_UNIX, SOCK_STREAM, 0);
    show("bind taken path", bind(other, (struct sockaddr *)&a, len));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect before listen", connect(c, (struct sockaddr *)&a, len));
    show("listen", listen(l, 2));
    socklen_t bl = sizeof b;
    getsockname(l, (struct sockaddr *)&b, &bl);
    printf("  getsockname len counts the NUL %d same %d\n", bl == len, strcmp(b.sun_path, path) == 0);
    show("connect", connect(c, (struct sockaddr *)&a, len));
    show("connect again", connect(c, (struct sockaddr *)&a, len));
    bl = sizeof b;
    int s = accept(l, (struct sockaddr *)&b, &bl);
    printf("accept: fd>2 %d, peer addr len %d\n", s > 2, bl);
    bl = sizeof b;
    getpeername(c, (struct sockaddr *)&b, &bl);
    printf("  client's peer is the path: %d\n", strcmp(b.sun_path, path) == 0);
    struct ucred cr; socklen_t crl = sizeof cr;
    getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &crl);
    printf("  SO_PEERCRED pid is ours: %d uid ok %d len %d\n", cr.pid == getpid(), cr.uid == getuid(), crl);
    write(c, "via path", 8);
    char buf[16] = {0};
    read(s, buf, sizeof buf);
    printf("  server got %s\n", buf);
    close(s); close(c);

    // Backlog: listen(l, 2) lets three wait; the fourth non-blocking one is EAGAIN.
    int cs[4];
    for (int i = 0; i < 4; i++) {
        cs[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        printf("backlog connect %d: ", i);
        show("", connect(cs[i], (struct sockaddr *)&a, len));
    }
    struct pollfd p = {l, POLLIN, 0};
    show("listener poll", poll(&p, 1, 0));
    printf("  revents %#x\n", p.revents);
    for (int i = 0; i < 4; i++) close(cs[i]);
    int n = 0;
    fcntl(l, F_SETFL, O_NONBLOCK);
    while ((s = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        char x;
        printf("  accepted conn %d: read %zd\n", n++, read(s, &x, 1));
        close(s);
    }
    show("accept on empty non-blocking listener", -1);
    close(l);
    show("connect after listener closed", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, len));
    unlink(path);
    show("connect to missing path", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, len));
    int f = open("/tmp", O_RDONLY);
    close(f);
    path_addr(&b, "/tmp");
    show("connect to a directory", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&b, path_addr(&b, "/tmp")));

    // Abstract names and autobind.
    len = abstract_addr(&a, "sentry-test-abstract");
    int d = socket(AF_UNIX, SOCK_DGRAM, 0);
    show("bind abstract", bind(d, (struct sockaddr *)&a, len));
    int d2 = socket(AF_UNIX, SOCK_DGRAM, 0);
    show("bind abstract taken", bind(d2, (struct sockaddr *)&a, len));
    struct sockaddr_un any = {.sun_family = AF_UNIX};
    show("autobind", bind(d2, (struct sockaddr *)&any, sizeof(sa_family_t)));
    bl = sizeof b;
    getsockname(d2, (struct sockaddr *)&b, &bl);
    printf("  autobound len %d abstract %d\n", bl, b.sun_path[0] == 0);
    show("sendto abstract", sendto(d2, "hey", 3, 0, (struct sockaddr *)&a, len));
    struct sockaddr_un from; socklen_t fl = sizeof from;
    memset(buf, 0, sizeof buf);
    show("recvfrom", recvfrom(d, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl));
    printf("  got %s from len %d matches %d\n", buf, fl, fl == bl && memcmp(&from, &b, bl) == 0);
    int u = socket(AF_UNIX, SOCK_DGRAM, 0);
    sendto(u, "anon", 4, 0, (struct sockaddr *)&a, len);
    fl = sizeof from;
    recvfrom(d, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    printf("  from an unbound sender: len %d\n", fl);
    show("connect dgram", connect(u, (struct sockaddr *)&a, len));
    show("send connected dgram", send(u, "c", 1, 0));
    show("recv", recv(d, buf, sizeof buf, 0));
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    show("dissolve", connect(u, &unspec, sizeof unspec));
    show("send unconnected", send(u, "c", 1, 0));
    show("connect dgram to stream name", connect(u, (struct sockaddr *)&a, len) < 0 ? -1 : 0);
    int st2 = socket(AF_UNIX, SOCK_STREAM, 0);
    show("stream connect to dgram name", connect(st2, (struct sockaddr *)&a, len));
    close(d);
    show("sendto closed name", sendto(u, "x", 1, 0, (struct sockaddr *)&a, len));
    close(d2); close(u); close(st2);
}

static void send_fds(int sock, int *fds, int n) {
    char cbuf[CMSG_SPACE(sizeof(int) * 8)] = {0};
    struct iovec iov = {"F", 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    show("sendmsg SCM_RIGHTS", sendmsg(sock, &m, 0));
}

static void fdpassing(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    if (fork() == 0) {
        close(sv[0]);
        char path[64];
        snprintf(path, sizeof path, "/tmp/unixsock-file-%d", getpid());
        int file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        write(file, "file contents", 13);
        lseek(file, 0, SEEK_SET);
        unlink(path);
        int p[2]; pipe(p);
        write(p[1], "pipe data", 9);
        int e = eventfd(42, 0);
        int inner[2]; socketpair(AF_UNIX, SOCK_DGRAM, 0, inner);
        send(inner[0], "sock data", 9, 0);
        int ep = epoll_create1(0);
        int fds[5] = {file, p[0], e, inner[1], ep};
        send_fds(sv[1], fds, 5);
        _exit(0);
    }
    close(sv[1]);
    reap();
    char cbuf[CMSG_SPACE(sizeof(int) * 8)];
    char data[4];
    struct iovec iov = {data, sizeof data};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    show("recvmsg", recvmsg(sv[0], &m, MSG_CMSG_CLOEXEC));
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    int n = c ? (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) : 0;
    printf("  level %d type %d fds %d\n", c ? c->cmsg_level : -1, c ? c->cmsg_type : -1, n);
    printf("  msg_flags %#x (the caller's MSG_CMSG_CLOEXEC echoed)\n", m.msg_flags);
    int fds[8];
    memcpy(fds, CMSG_DATA(c), n * sizeof(int));
    char buf[32];
    for (int i = 0; i < n; i++) {
        int fl = fcntl(fds[i], F_GETFD);
        memset(buf, 0, sizeof buf);
        ssize_t r;
        if (i == 2) { uint64_t v = 0; r = read(fds[i], &v, 8); snprintf(buf, sizeof buf, "%llu", (unsigned long long)v); }
        else if (i == 4) { struct epoll_event ev; r = epoll_wait(fds[i], &ev, 1, 0); strcpy(buf, "epoll"); }
        else r = read(fds[i], buf, sizeof buf - 1);
        printf("  fd %d: cloexec %d read %zd %s\n", i, fl & FD_CLOEXEC, r, buf);
        close(fds[i]);
    }
    close(sv[0]);

    // A control buffer too small for every descriptor: MSG_CTRUNC.
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    int three[3] = {0, 1, 2};
    send_fds(sv[0], three, 3);
    char small[CMSG_SPACE(sizeof(int))];
    m = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1, .msg_control = small, .msg_controllen = sizeof small};
    show("recvmsg small control", recvmsg(sv[1], &m, 0));
    c = CMSG_FIRSTHDR(&m);
    printf("  ctrunc %d fds %d controllen %zu\n", !!(m.msg_flags & MSG_CTRUNC), c ? (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)) : 0, m.msg_controllen);
    if (c) close(*(int *)CMSG_DATA(c));
    int bad = 999;
    send_fds(sv[0], &bad, 1);

    // Credentials: SO_PASSCRED on the receiver.
    int on = 1;
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    send(sv[0], "c", 1, 0);
    char cb[CMSG_SPACE(sizeof(struct ucred))];
    m = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb};
    show("recvmsg with SO_PASSCRED", recvmsg(sv[1], &m, 0));
    c = CMSG_FIRSTHDR(&m);
    struct ucred uc; memcpy(&uc, CMSG_DATA(c), sizeof uc);
    printf("  type %d pid ours %d uid ours %d\n", c->cmsg_type, uc.pid == getpid(), uc.uid == getuid());
    // SO_PASSCRED on an unbound sender autobinds it before it sends.
    int pc = socket(AF_UNIX, SOCK_DGRAM, 0);
    setsockopt(pc, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    struct sockaddr_un pa; socklen_t pal = sizeof pa;
    getsockname(pc, (struct sockaddr *)&pa, &pal);
    printf("  SO_PASSCRED sender unbound: len %d\n", pal);
    struct sockaddr_un dst; socklen_t dl = abstract_addr(&dst, "sentry-passcred");
    int pr = socket(AF_UNIX, SOCK_DGRAM, 0);
    bind(pr, (struct sockaddr *)&dst, dl);
    sendto(pc, "p", 1, 0, (struct sockaddr *)&dst, dl);
    pal = sizeof pa;
    getsockname(pc, (struct sockaddr *)&pa, &pal);
    printf("  after sending: len %d abstract %d\n", pal, pa.sun_path[0] == 0);
    close(pc); close(pr);
    // Sending someone else's pid is refused.
    char sc[CMSG_SPACE(sizeof(struct ucred))] = {0};
    m = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1, .msg_control = sc, .msg_controllen = sizeof sc};
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_CREDENTIALS; c->cmsg_len = CMSG_LEN(sizeof uc);
    uc.pid = getpid(); memcpy(CMSG_DATA(c), &uc, sizeof uc);
    show("sendmsg own SCM_CREDENTIALS", sendmsg(sv[0], &m, 0));
    recv(sv[1], data, sizeof data, 0);
    if (getuid() != 0) {
        uc.pid = 1; memcpy(CMSG_DATA(c), &uc, sizeof uc);
        show("sendmsg other pid", sendmsg(sv[0], &m, 0));
    } else printf("sendmsg other pid: -1 EPERM\n");
    close(sv[0]); close(sv[1]);
}

static void options(void) {
    int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    int v; socklen_t l = sizeof v;
    getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l); printf("SO_TYPE %d len %d\n", v, l);
    getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &l); printf("SO_DOMAIN %d\n", v);
    getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &l); printf("SO_PROTOCOL %d\n", v);
    getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, &l); printf("SO_ACCEPTCONN %d\n", v);
    getsockopt(s, SOL_SOCKET, SO_ERROR, &v, &l); printf("SO_ERROR %d\n", v);
    v = 10000; setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    getsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, &l); printf("SO_SNDBUF after 10000: %d\n", v);
    v = 1; setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
    getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &l); printf("SO_RCVBUF after 1: %d\n", v);
    v = 1; show("SO_REUSEADDR", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v));
    getsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, &l); printf("  reads %d\n", v);
    show("short optlen", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, 2));
    show("unknown option", setsockopt(s, SOL_SOCKET, 999, &v, sizeof v));
    show("get unknown option", getsockopt(s, SOL_SOCKET, 999, &v, &l));
    show("other level", setsockopt(s, 6 /* TCP */, 1, &v, sizeof v));
    show("bad optval", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, (void *)8, sizeof v));
    short sh; l = sizeof sh;
    getsockopt(s, SOL_SOCKET, SO_TYPE, &sh, &l); printf("short getsockopt len %d value %d\n", l, sh);
    struct timeval tv = {0, 100000};
    show("SO_RCVTIMEO", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    tv.tv_usec = 2000000;
    show("SO_RCVTIMEO bad usec", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    show("listen unbound", listen(s, 1));
    show("accept unbound", accept(s, NULL, NULL));
    close(s);

    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    tv = (struct timeval){0, 100000};
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c;
    show("recv with SO_RCVTIMEO", recv(sv[0], &c, 1, 0));
    // Back-pressure: a small send buffer fills and non-blocking sends stop.
    v = 4096; setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    char big[1024] = {0};
    long total = 0; ssize_t n;
    while ((n = write(sv[0], big, sizeof big)) > 0) total += n;
    printf("filled: stopped with %s, bounded %d\n", strerrorname_np(errno), total > 0 && total <= 65536);
    struct pollfd p = {sv[0], POLLOUT, 0};
    poll(&p, 1, 0);
    printf("  POLLOUT while full: %d\n", !!(p.revents & POLLOUT));
    long drained = 0; char sink[4096];
    while (drained < total && (n = read(sv[1], sink, sizeof sink)) > 0) drained += n;
    printf("  drained all: %d\n", drained == total);
    poll(&p, 1, 0);
    printf("  POLLOUT after drain: %d\n", !!(p.revents & POLLOUT));
    close(sv[0]); close(sv[1]);

    // A flood of empty datagrams, or of descriptors, fills the send buffer too.
    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv);
    int sent = 0;
    while (send(sv[0], "", 0, 0) == 0 && sent < 100000) sent++;
    printf("empty datagrams before %s: bounded %d\n", strerrorname_np(errno), sent > 10 && sent < 100000);
    close(sv[0]); close(sv[1]);
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
    sent = 0;
    for (;;) {
        int fds[1] = {1};
        char cbuf[CMSG_SPACE(sizeof(int))] = {0};
        struct iovec fiov = {"F", 1};
        struct msghdr fm = {.msg_iov = &fiov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
        struct cmsghdr *fc = CMSG_FIRSTHDR(&fm);
        fc->cmsg_level = SOL_SOCKET; fc->cmsg_type = SCM_RIGHTS; fc->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(fc), fds, sizeof fds);
        if (sendmsg(sv[0], &fm, 0) != 1 || ++sent >= 100000) break;
    }
    printf("descriptor messages before %s: bounded %d\n", strerrorname_np(errno), sent > 10 && sent < 100000);
    close(sv[0]); close(sv[1]);

    // Bad input.
    show("socket bad family", socket(9999, SOCK_STREAM, 0));
    show("socket bad type", socket(AF_UNIX, 12, 0));
    show("socket type 0", socket(AF_UNIX, 0, 0));
    show("socket bad flags", socket(AF_UNIX, SOCK_STREAM | 0x100, 0));
    show("socket bad protocol", socket(AF_UNIX, SOCK_STREAM, 7));
    int *badsv = (int *)8;
    __asm__("" : "+r"(badsv));
    show("socketpair bad pointer", socketpair(AF_UNIX, SOCK_STREAM, 0, badsv));
    show("not a socket", listen(0, 1));
    show("bad fd", listen(999, 1));
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_INET};
    show("bind wrong family", bind(s, (struct sockaddr *)&a, sizeof a));
    show("bind too long", bind(s, (struct sockaddr *)&a, 200));
    show("bind short", bind(s, (struct sockaddr *)&a, 1));
    show("bind bad pointer", bind(s, (struct sockaddr *)8, 20));
    show("connect bad pointer", connect(s, (struct sockaddr *)8, 20));
    show("getpeername unconnected", getpeername(s, (struct sockaddr *)&a, &l));
    show("send unconnected", send(s, "x", 1, MSG_NOSIGNAL));
    show("recv unconnected", recv(s, &c, 1, 0));
    show("shutdown bad how", shutdown(s, 7));
    show("shutdown unconnected", shutdown(s, SHUT_RDWR));
    show("dgram listen", listen(socket(AF_UNIX, SOCK_DGRAM, 0), 1));
    show("accept4 bad flags", accept4(s, NULL, NULL, 0x10));
    l = -1;
    show("getsockname negative len", getsockname(s, (struct sockaddr *)&a, &l));
    show("getsockname bad len pointer", getsockname(s, (struct sockaddr *)&a, (socklen_t *)8));
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    char *huge = calloc(1, 300000);
    show("dgram too big", send(sv[0], huge, 300000, 0));
    show("send bad buffer", send(sv[0], (void *)8, 10, 0));
    free(huge);
    close(sv[0]); close(sv[1]); close(s);
}

static void seqpacket_server(void) {
    struct sockaddr_un a;
    socklen_t len = abstract_addr(&a, "sentry-seqpacket");
    int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    bind(l, (struct sockaddr *)&a, len);
    listen(l, 4);
    if (fork() == 0) {
        int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
        if (connect(c, (struct sockaddr *)&a, len) < 0) _exit(1);
        send(c, "first record", 12, 0);
        send(c, "second", 6, 0);
        char b[8];
        ssize_t n = recv(c, b, sizeof b, 0);
        _exit(n == 3 ? 0 : 2);
    }
    int s = accept(l, NULL, NULL);
    char buf[8] = {0};
    show("seqpacket recv 5 of 12", recv(s, buf, 5, 0));
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    show("seqpacket next record", recvmsg(s, &m, 0));
    printf("  truncated %d\n", !!(m.msg_flags & MSG_TRUNC));
    send(s, "ack", 3, 0);
    reap();
    show("seqpacket EOF", recv(s, buf, sizeof buf, 0));
    close(s); close(l);
}

static volatile sig_atomic_t alarms;
static void on_alarm(int s) { (void)s; alarms++; }

static void interrupts(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);   // no SA_RESTART
    if (fork() == 0) { usleep(100000); kill(getppid(), SIGALRM); _exit(0); }
    char c;
    show("recv interrupted", recv(sv[0], &c, 1, 0));
    reap();
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    if (fork() == 0) { usleep(100000); kill(getppid(), SIGALRM); usleep(100000); write(sv[1], "r", 1); _exit(0); }
    show("recv restarted", recv(sv[0], &c, 1, 0));
    reap();
    struct timeval tv = {2, 0};
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (fork() == 0) { usleep(100000); kill(getppid(), SIGALRM); _exit(0); }
    show("recv with timeout not restarted", recv(sv[0], &c, 1, 0));
    reap();
    printf("alarms %d\n", alarms);
    close(sv[0]); close(sv[1]);
}

/// `unixsock bind PATH`: bind, listen and connect at PATH (a mount's rules apply).
static int bind_at(const char *path) {
    struct sockaddr_un a;
    socklen_t len = path_addr(&a, path);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    show("bind", bind(l, (struct sockaddr *)&a, len));
    show("listen", listen(l, 1));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect", connect(c, (struct sockaddr *)&a, len));
    int s = accept(l, NULL, NULL);
    char buf[8] = {0};
    write(c, "hi", 2);
    show("read", read(s, buf, sizeof buf));
    struct stat st;
    show("stat", stat(path, &st));
    printf("socket node %d\n", S_ISSOCK(st.st_mode));
    return 0;
}

/// `unixsock cycles`: sockets queued inside themselves, then closed, as
/// many times as the kernel lets descriptors stay in flight.
static int cycles(void) {
    for (int i = 0; i < 5000; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0) { printf("socketpair: %s\n", strerrorname_np(errno)); return 1; }
        char cbuf[CMSG_SPACE(sizeof(int))] = {0};
        struct iovec iov = {"C", 1};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &sv[0], sizeof(int));
        if (sendmsg(sv[1], &m, 0) < 0) { printf("stopped after %d: %s\n", i, strerrorname_np(errno)); return 0; }
        close(sv[0]); close(sv[1]);
    }
    printf("all 5000 sent\n");
    return 0;
}

// Receive buffers that fault: a stream keeps its bytes (EFAULT), a
// datagram is dequeued before the copy and lost; an empty queue is EAGAIN
// whatever the buffer.
static void faults(void) {
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(p + 4096, 4096);
    char msg[100], got[100];
    memset(msg, 'f', sizeof msg);
    for (int type = SOCK_STREAM; type <= SOCK_DGRAM; type++) {
        const char *name = type == SOCK_STREAM ? "stream" : "dgram";
        int sv[2];
        socketpair(AF_UNIX, type, 0, sv);
        printf("%s:\n", name);
        show("  recv into a hole, queue empty", recv(sv[1], p + 4096, 100, MSG_DONTWAIT));
        send(sv[0], msg, sizeof msg, 0);
        show("  recv across the hole's edge", recv(sv[1], p + 4096 - 10, 100, MSG_DONTWAIT));
        show("  then", recv(sv[1], got, sizeof got, MSG_DONTWAIT));
        send(sv[0], msg, 5, 0);
        show("  recv into a hole", recv(sv[1], p + 4096, 100, MSG_DONTWAIT));
        show("  peek into a hole", recv(sv[1], p + 4096, 100, MSG_DONTWAIT | MSG_PEEK));
        show("  then", recv(sv[1], got, sizeof got, MSG_DONTWAIT));
        close(sv[0]); close(sv[1]);
    }
    munmap(p, 4096);
}

// When a sender's buffer counts as having room again (unix_write_space:
// a quarter or less of SO_SNDBUF in use): a blocked writer and
// edge-triggered EPOLLOUT hear of it then, not at every read. A small
// buffer drained in small reads still lets a blocked writer finish; a
// bigger SO_SNDBUF wakes a writer blocked on a full one.
struct blocked_send { int fd; long sent; };
static void *send_blocking(void *arg) {
    struct blocked_send *b = arg;
    char buf[3000];
    memset(buf, 'w', sizeof buf);
    b->sent = send(b->fd, buf, sizeof buf, 0);
    return NULL;
}

static void writespace(void) {
    int sv[2], v = 4608;
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    pid_t p = fork();
    if (p == 0) {
        // 256 KiB through a 9 KiB buffer, read 100 bytes at a time.
        close(sv[0]);
        long got = 0, sum = 0; ssize_t n; unsigned char b[100];
        while ((n = read(sv[1], b, sizeof b)) > 0) {
            for (ssize_t i = 0; i < n; i++) sum += b[i];
            got += n;
        }
        printf("write space: small reads took %ld bytes, sum %ld\n", got, sum);
        _exit(0);
    }
    close(sv[1]);
    unsigned char chunk[65536];
    for (int i = 0; i < (int)sizeof chunk; i++) chunk[i] = (unsigned char)(i * 7);
    long put = 0;
    for (int i = 0; i < 4; i++) {
        ssize_t n = write(sv[0], chunk, sizeof chunk);
        if (n > 0) put += n;
    }
    printf("write space: blocking writes put %ld\n", put);
    close(sv[0]);
    waitpid(p, NULL, 0);

    // Edge-triggered EPOLLOUT: not after a read that leaves the buffer over
    // a quarter full, then once a read takes it below.
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    v = 8192; setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    char msg[512] = {0};
    int writes = 0;
    while (write(sv[0], msg, sizeof msg) > 0) writes++;
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLOUT | EPOLLET, .data.fd = sv[0]}, got;
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &e);
    printf("write space: EPOLLOUT when full: %d\n", epoll_wait(ep, &got, 1, 0));
    char sink[512];
    read(sv[1], sink, sizeof sink);
    printf("write space: EPOLLOUT after one of %s writes read: %d\n", writes > 4 ? "many" : "few", epoll_wait(ep, &got, 1, 0));
    for (int i = 1; i < writes; i++) read(sv[1], sink, sizeof sink);
    printf("write space: EPOLLOUT after all read: %d\n", epoll_wait(ep, &got, 1, 0));
    close(ep); close(sv[0]); close(sv[1]);

    // A writer blocked on a full buffer, which then grows.
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    v = 4608; setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    while (write(sv[0], msg, sizeof msg) > 0) {}
    fcntl(sv[0], F_SETFL, 0);
    struct blocked_send b = {sv[0], 0};
    pthread_t t;
    pthread_create(&t, NULL, send_blocking, &b);
    usleep(50000);
    v = 65536; setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    alarm(10);
    pthread_join(t, NULL);
    alarm(0);
    printf("write space: a send blocked until SO_SNDBUF grew sent %ld\n", b.sent);
    close(sv[0]); close(sv[1]);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 2 && strcmp(argv[1], "cycles") == 0) return cycles();
    if (argc == 3 && strcmp(argv[1], "bind") == 0) return bind_at(argv[2]);
    pingpong(SOCK_STREAM, "stream pair");
    pingpong(SOCK_DGRAM, "dgram pair");
    pingpong(SOCK_SEQPACKET, "seqpacket pair");
    boundaries();
    sigpipe();
    names();
    fdpassing();
    options();
    seqpacket_server();
    interrupts();
    faults();
    writespace();
    return 0;
}
