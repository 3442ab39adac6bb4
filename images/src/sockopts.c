// SOL_SOCKET options a socket records (sk_getsockopt/sk_setsockopt): fresh
// values, the capability and range checks, IP_TOS setting the priority,
// SO_BUF_LOCK and the buffer sizes, SO_BINDTODEVICE/SO_BINDTOIFINDEX (a
// socket bound to another device hears nothing on lo), SO_PEERNAME,
// SO_SELECT_ERR_QUEUE's POLLPRI, cookies. Run as root in its own network
// namespace; compared with Linux's output.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "udpdrops.h"

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72
#endif
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif

static void get(int s, const char *what, int opt) {
    unsigned char b[64] = {0};
    socklen_t l = sizeof b;
    if (getsockopt(s, SOL_SOCKET, opt, b, &l) < 0) { printf("  %s: -1 %s\n", what, strerrorname_np(errno)); return; }
    int v; memcpy(&v, b, sizeof v);
    printf("  %s: len %u val %d\n", what, l, l >= 4 ? v : -999);
}

static void set(int s, const char *what, int opt, int v) {
    int r = setsockopt(s, SOL_SOCKET, opt, &v, sizeof v);
    printf("  set %s %d: %s\n", what, v, r < 0 ? strerrorname_np(errno) : "0");
}

static void fresh(int s) {
    get(s, "SO_DEBUG", SO_DEBUG); get(s, "SO_NO_CHECK", SO_NO_CHECK); get(s, "SO_PRIORITY", SO_PRIORITY);
    get(s, "SO_BSDCOMPAT", SO_BSDCOMPAT); get(s, "SO_BINDTODEVICE", SO_BINDTODEVICE);
    get(s, "SO_GET_FILTER", SO_GET_FILTER); get(s, "SO_MARK", SO_MARK); get(s, "SO_WIFI_STATUS", SO_WIFI_STATUS);
    get(s, "SO_NOFCS", SO_NOFCS); get(s, "SO_LOCK_FILTER", SO_LOCK_FILTER);
    get(s, "SO_SELECT_ERR_QUEUE", SO_SELECT_ERR_QUEUE); get(s, "SO_BUSY_POLL", SO_BUSY_POLL);
    get(s, "SO_BPF_EXTENSIONS", SO_BPF_EXTENSIONS); get(s, "SO_INCOMING_CPU", SO_INCOMING_CPU);
    get(s, "SO_INCOMING_NAPI_ID", SO_INCOMING_NAPI_ID); get(s, "SO_BINDTOIFINDEX", SO_BINDTOIFINDEX);
    get(s, "SO_PREFER_BUSY_POLL", SO_PREFER_BUSY_POLL); get(s, "SO_BUF_LOCK", SO_BUF_LOCK);
}

static uint64_t cookie(int s, int opt, socklen_t len) {
    uint64_t c = 0; socklen_t l = len;
    if (getsockopt(s, SOL_SOCKET, opt, &c, &l) < 0) return (uint64_t)-errno;
    return c;
}

static struct sockaddr_in lo4(unsigned short port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return a;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// Receives one message on `s` and describes its timestamp control message:
// type, length and whether the time lies between `before` and now (a
// timeval's microseconds are cut, so the window starts a microsecond early).
static void stamp(int s, const char *what, int64_t before) {
    char data[64], ctl[256];
    struct iovec iv = {data, sizeof data};
    struct msghdr mh = {.msg_iov = &iv, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    ssize_t n = recvmsg(s, &mh, MSG_DONTWAIT);
    int64_t after = now_ns();
    if (n < 0) { printf("  %s: -1 %s\n", what, strerrorname_np(errno)); return; }
    printf("  %s: %zd bytes, controllen %zu", what, n, (size_t)mh.msg_controllen);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        int64_t t = 0, a, b;
        memcpy(&a, CMSG_DATA(c), 8); memcpy(&b, CMSG_DATA(c) + 8, 8);
        int ns = c->cmsg_type == SO_TIMESTAMPNS || c->cmsg_type == 64;
        t = a * 1000000000 + (ns ? b : b * 1000);
        printf(", level %d type %d len %zu in window %d", c->cmsg_level, c->cmsg_type, (size_t)c->cmsg_len,
               t >= before - 1000 && t <= after);
    }
    printf("\n");
}

// Receive timestamps: SO_TIMESTAMP (timeval), SO_TIMESTAMPNS (timespec)
// and the _NEW forms, on UDP, AF_UNIX datagrams (each datagram), TCP (the
// segment read) and AF_UNIX streams (none); a datagram queued before the
// option was set is stamped at the read.
static void timestamps(void) {
    printf("timestamps:\n");
    int r = socket(AF_INET, SOCK_DGRAM, 0), w = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = lo4(0); socklen_t al = sizeof a;
    bind(r, (struct sockaddr *)&a, sizeof a);
    getsockname(r, (struct sockaddr *)&a, &al);
    const struct { const char *name; int opt; } forms[] = {
        {"SO_TIMESTAMP", SO_TIMESTAMP}, {"SO_TIMESTAMPNS", SO_TIMESTAMPNS}, {"SO_TIMESTAMP_NEW", 63}, {"SO_TIMESTAMPNS_NEW", 64}};
    for (int i = 0; i < 4; i++) {
        set(r, forms[i].name, forms[i].opt, 1);
        get(r, "SO_TIMESTAMP", SO_TIMESTAMP); get(r, "SO_TIMESTAMPNS", SO_TIMESTAMPNS);
        get(r, "SO_TIMESTAMP_NEW", 63); get(r, "SO_TIMESTAMPNS_NEW", 64);
        int64_t before = now_ns();
        sendto(w, "stamp", 5, 0, (struct sockaddr *)&a, sizeof a);
        stamp(r, "udp", before);
    }
    set(r, "SO_TIMESTAMP", SO_TIMESTAMP, 0);
    get(r, "SO_TIMESTAMPNS_NEW", 64);
    sendto(w, "none", 4, 0, (struct sockaddr *)&a, sizeof a);
    stamp(r, "udp, off", 0);
    int64_t before = now_ns();
    sendto(w, "early", 5, 0, (struct sockaddr *)&a, sizeof a);
    set(r, "SO_TIMESTAMP", SO_TIMESTAMP, 1);
    stamp(r, "udp, queued before", before);
    close(r); close(w);

    int u[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, u);
    set(u[1], "SO_TIMESTAMPNS", SO_TIMESTAMPNS, 1);
    before = now_ns();
    send(u[0], "dgram", 5, 0);
    stamp(u[1], "unix dgram", before);
    close(u[0]); close(u[1]);
    socketpair(AF_UNIX, SOCK_STREAM, 0, u);
    set(u[1], "SO_TIMESTAMP", SO_TIMESTAMP, 1);
    send(u[0], "stream", 6, 0);
    stamp(u[1], "unix stream", 0);
    close(u[0]); close(u[1]);

    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in la = lo4(0); socklen_t ll = sizeof la;
    bind(l, (struct sockaddr *)&la, sizeof la);
    getsockname(l, (struct sockaddr *)&la, &ll);
    listen(l, 1);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&la, sizeof la);
    int acc = accept(l, NULL, NULL);
    set(acc, "SO_TIMESTAMP", SO_TIMESTAMP, 1);
    before = now_ns();
    send(c, "tcp", 3, 0);
    struct pollfd p = {.fd = acc, .events = POLLIN};
    poll(&p, 1, 2000);
    // Linux turns stamping on for every packet a moment after the first
    // socket asks (a deferred static key), so natively this one may not be.
    stamp(acc, "natively timed: tcp", before);
    close(acc); close(c); close(l);
}

// SO_RXQ_OVFL: a datagram carries the count of drops its socket had when
// it was queued; none while there were none.
static void drop_counts(void) {
    printf("drop counts:\n");
    int r = socket(AF_INET, SOCK_DGRAM, 0), w = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = lo4(0); socklen_t al = sizeof a;
    bind(r, (struct sockaddr *)&a, sizeof a);
    getsockname(r, (struct sockaddr *)&a, &al);
    set(r, "SO_RXQ_OVFL", 40, 1); get(r, "SO_RXQ_OVFL", 40);
    set(r, "SO_RCVBUF", SO_RCVBUF, 4096);
    char big[1000] = {0};
    for (int i = 0; i < 64; i++) sendto(w, big, sizeof big, 0, (struct sockaddr *)&a, sizeof a);
    char data[1024], ctl[128];
    struct iovec iv = {data, sizeof data};
    struct msghdr mh = {.msg_iov = &iv, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    recvmsg(r, &mh, MSG_DONTWAIT);
    int first_counted = mh.msg_controllen != 0;
    sendto(w, "late", 4, 0, (struct sockaddr *)&a, sizeof a);
    long drops = udp_drops(ntohs(a.sin_port));
    int counted_before = 0, last_count = -1, last_len = -1;
    for (;;) {
        mh.msg_controllen = sizeof ctl;
        ssize_t n = recvmsg(r, &mh, MSG_DONTWAIT);
        if (n < 0) break;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        int count = -1;
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == 40) memcpy(&count, CMSG_DATA(c), 4);
        if (n == 1000 && count >= 0) counted_before = 1;
        last_count = count; last_len = (int)n;
    }
    printf("  dropped some: %d; a count before the drops: %d; the late one (%d bytes) counts the drops: %d\n",
           drops > 0, first_counted || counted_before, last_len, last_count == drops);
    set(r, "SO_RXQ_OVFL", 40, 0);
    sendto(w, "off", 3, 0, (struct sockaddr *)&a, sizeof a);
    mh.msg_controllen = sizeof ctl;
    recvmsg(r, &mh, MSG_DONTWAIT);
    printf("  off: controllen %zu\n", (size_t)mh.msg_controllen);
    close(r); close(w);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const struct { const char *name; int family, type; } kinds[] = {
        {"tcp", AF_INET, SOCK_STREAM}, {"udp", AF_INET, SOCK_DGRAM}, {"udp6", AF_INET6, SOCK_DGRAM},
        {"unix stream", AF_UNIX, SOCK_STREAM}, {"unix dgram", AF_UNIX, SOCK_DGRAM}};
    for (int k = 0; k < 5; k++) {
        int s = socket(kinds[k].family, kinds[k].type, 0);
        printf("%s, fresh:\n", kinds[k].name);
        fresh(s);
        close(s);
    }
    int t = socket(AF_INET, SOCK_STREAM, 0);
    get(t, "tcp SO_TXREHASH", 74);

    // Setting, as root.
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    printf("udp, set as root:\n");
    set(u, "SO_PRIORITY", SO_PRIORITY, 6); set(u, "SO_PRIORITY", SO_PRIORITY, 7); get(u, "SO_PRIORITY", SO_PRIORITY);
    set(u, "SO_MARK", SO_MARK, 42); get(u, "SO_MARK", SO_MARK);
    set(u, "SO_DEBUG", SO_DEBUG, 1); get(u, "SO_DEBUG", SO_DEBUG);
    set(u, "SO_BUSY_POLL", SO_BUSY_POLL, 50); get(u, "SO_BUSY_POLL", SO_BUSY_POLL);
    set(u, "SO_BUSY_POLL", SO_BUSY_POLL, -1);
    set(u, "SO_INCOMING_CPU", SO_INCOMING_CPU, 1); get(u, "SO_INCOMING_CPU", SO_INCOMING_CPU);
    set(u, "SO_LOCK_FILTER", SO_LOCK_FILTER, 1); set(u, "SO_LOCK_FILTER", SO_LOCK_FILTER, 0);
    set(u, "SO_WIFI_STATUS", SO_WIFI_STATUS, 5); get(u, "SO_WIFI_STATUS", SO_WIFI_STATUS);
    set(u, "SO_BSDCOMPAT", SO_BSDCOMPAT, 1); get(u, "SO_BSDCOMPAT", SO_BSDCOMPAT);
    set(t, "tcp SO_TXREHASH", 74, 0); get(t, "tcp SO_TXREHASH", 74);
    set(t, "tcp SO_TXREHASH", 74, -1); get(t, "tcp SO_TXREHASH", 74);
    set(t, "tcp SO_TXREHASH", 74, 2);
    // IP_TOS sets the priority (rt_tos2priority).
    int tos = 0x10;
    printf("  IP_TOS 0x10: %d\n", setsockopt(u, IPPROTO_IP, IP_TOS, &tos, sizeof tos));
    get(u, "SO_PRIORITY after IP_TOS", SO_PRIORITY);
    tos = 0x08;
    setsockopt(u, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
    get(u, "SO_PRIORITY after IP_TOS 0x08", SO_PRIORITY);
    // Buffers and their locks.
    get(u, "SO_BUF_LOCK", SO_BUF_LOCK);
    set(u, "SO_SNDBUF", SO_SNDBUF, 8192); get(u, "SO_BUF_LOCK", SO_BUF_LOCK);
    set(u, "SO_RCVBUF", SO_RCVBUF, 8192); get(u, "SO_BUF_LOCK", SO_BUF_LOCK);
    set(u, "SO_BUF_LOCK", SO_BUF_LOCK, 1); get(u, "SO_BUF_LOCK", SO_BUF_LOCK);
    set(u, "SO_BUF_LOCK", SO_BUF_LOCK, 4);
    set(u, "SO_SNDBUFFORCE", SO_SNDBUFFORCE, 4096); get(u, "SO_SNDBUF", SO_SNDBUF);

    // Devices: lo is the only one.
    printf("devices:\n");
    printf("  SO_BINDTODEVICE eth9: %s\n", setsockopt(u, SOL_SOCKET, SO_BINDTODEVICE, "eth9", 5) < 0 ? strerrorname_np(errno) : "0");
    printf("  SO_BINDTODEVICE lo: %s\n", setsockopt(u, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) < 0 ? strerrorname_np(errno) : "0");
    char dev[32] = {0}; socklen_t dl = sizeof dev;
    int r = getsockopt(u, SOL_SOCKET, SO_BINDTODEVICE, dev, &dl);
    printf("  get: %d len %u \"%s\"\n", r, dl, dev);
    dl = 4;
    printf("  get into 4 bytes: %s\n", getsockopt(u, SOL_SOCKET, SO_BINDTODEVICE, dev, &dl) < 0 ? strerrorname_np(errno) : "0");
    get(u, "SO_BINDTOIFINDEX", SO_BINDTOIFINDEX);
    printf("  unbind with \"\": %s\n", setsockopt(u, SOL_SOCKET, SO_BINDTODEVICE, "", 0) < 0 ? strerrorname_np(errno) : "0");
    get(u, "SO_BINDTOIFINDEX", SO_BINDTOIFINDEX);
    // A socket bound to a device that is not lo hears nothing sent on lo.
    int rx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = lo4(0); socklen_t al = sizeof a;
    bind(rx, (struct sockaddr *)&a, sizeof a);
    getsockname(rx, (struct sockaddr *)&a, &al);
    int tx = socket(AF_INET, SOCK_DGRAM, 0);
    for (int idx = 5; idx >= 0; idx -= 4) {
        set(rx, "SO_BINDTOIFINDEX", SO_BINDTOIFINDEX, idx);
        sendto(tx, "hi", 2, 0, (struct sockaddr *)&a, sizeof a);
        char b[8];
        ssize_t n = recv(rx, b, sizeof b, MSG_DONTWAIT);
        printf("  bound to %d: recv %zd %s\n", idx, n, n < 0 ? strerrorname_np(errno) : "");
    }

    // SO_PEERNAME.
    printf("peer names:\n");
    char pn[128]; socklen_t pl = sizeof pn;
    printf("  unconnected udp: %s\n", getsockopt(tx, SOL_SOCKET, SO_PEERNAME, pn, &pl) < 0 ? strerrorname_np(errno) : "0");
    connect(tx, (struct sockaddr *)&a, sizeof a);
    pl = sizeof pn;
    printf("  connected udp, 128 bytes: %s\n", getsockopt(tx, SOL_SOCKET, SO_PEERNAME, pn, &pl) < 0 ? strerrorname_np(errno) : "0");
    pl = sizeof(struct sockaddr_in);
    r = getsockopt(tx, SOL_SOCKET, SO_PEERNAME, pn, &pl);
    printf("  connected udp, 16 bytes: %d len %u port ok %d\n", r, pl, ((struct sockaddr_in *)pn)->sin_port == a.sin_port);
    int sp[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
    pl = 2;
    r = getsockopt(sp[0], SOL_SOCKET, SO_PEERNAME, pn, &pl);
    printf("  socketpair, 2 bytes: %d len %u family %d\n", r, pl, ((struct sockaddr *)pn)->sa_family);

    // SO_SELECT_ERR_QUEUE: a queued error is POLLPRI too.
    printf("error queue:\n");
    int one = 1;
    int e = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(e, IPPROTO_IP, IP_RECVERR, &one, sizeof one);
    struct sockaddr_in closed = lo4(0);
    int probe = socket(AF_INET, SOCK_DGRAM, 0);
    bind(probe, (struct sockaddr *)&closed, sizeof closed); al = sizeof closed;
    getsockname(probe, (struct sockaddr *)&closed, &al);
    close(probe);
    sendto(e, "x", 1, 0, (struct sockaddr *)&closed, sizeof closed);
    struct pollfd p = {.fd = e, .events = POLLIN | POLLPRI};
    poll(&p, 1, 2000);
    printf("  without: revents %#x\n", p.revents);
    set(e, "SO_SELECT_ERR_QUEUE", SO_SELECT_ERR_QUEUE, 1);
    p.revents = 0;
    poll(&p, 1, 0);
    printf("  with: revents %#x\n", p.revents);

    // Cookies: one per socket, the same one on every ask; one namespace.
    uint64_t c1 = cookie(u, SO_COOKIE, 8), c1b = cookie(u, SO_COOKIE, 8), c2 = cookie(t, SO_COOKIE, 8);
    printf("cookies: nonzero %d stable %d distinct %d, short buffer %s\n", c1 != 0, c1 == c1b, c1 != c2,
           cookie(u, SO_COOKIE, 4) == (uint64_t)-EINVAL ? "EINVAL" : "?");
    uint64_t n1 = cookie(u, SO_NETNS_COOKIE, 8), n2 = cookie(sp[0], SO_NETNS_COOKIE, 8);
    printf("netns cookie: nonzero %d same %d, 16-byte buffer %s\n", n1 != 0, n1 == n2,
           cookie(u, SO_NETNS_COOKIE, 16) == (uint64_t)-EINVAL ? "EINVAL" : "?");

    timestamps();
    drop_counts();

    // Without privileges.
    pid_t c = fork();
    if (c == 0) {
        setuid(65534);
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        printf("nobody:\n");
        set(s, "SO_PRIORITY", SO_PRIORITY, 6); set(s, "SO_PRIORITY", SO_PRIORITY, 7);
        set(s, "SO_MARK", SO_MARK, 1); set(s, "SO_DEBUG", SO_DEBUG, 1); set(s, "SO_DEBUG", SO_DEBUG, 0);
        // 6.1 lets only CAP_NET_ADMIN raise it; later kernels let anyone.
        int ten = 10, r = setsockopt(s, SOL_SOCKET, SO_BUSY_POLL, &ten, sizeof ten);
        printf("  6.1 only: set SO_BUSY_POLL 10: %s\n", r < 0 ? strerrorname_np(errno) : "0");
        set(s, "SO_BUSY_POLL", SO_BUSY_POLL, 0);
        set(s, "SO_PREFER_BUSY_POLL", SO_PREFER_BUSY_POLL, 1);
        set(s, "SO_BUSY_POLL_BUDGET", 70, 8); set(s, "SO_BUSY_POLL_BUDGET", 70, 0); set(s, "SO_BUSY_POLL_BUDGET", 70, -1);
        set(s, "SO_SNDBUFFORCE", SO_SNDBUFFORCE, 4096); set(s, "SO_RCVBUFFORCE", SO_RCVBUFFORCE, 4096);
        set(s, "SO_BINDTOIFINDEX", SO_BINDTOIFINDEX, 1); set(s, "SO_BINDTOIFINDEX", SO_BINDTOIFINDEX, 0);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    return 0;
}
