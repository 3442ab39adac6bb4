/* What a socket's send queue ioctls say (SIOCOUTQ, SIOCOUTQNSD), against
 * SIOCINQ at the peer. TCP counts bytes the peer has not acknowledged
 * (write_seq - snd_una): on loopback a segment is acknowledged once it lands
 * in the peer's receive queue, so unread bytes there are not ours; only what
 * the peer's window left unsent is. AF_UNIX counts its send buffer in use
 * (sk_wmem_alloc: every unread skb's truesize, which only Linux sizes).
 * Lines print only what 6.1 and later kernels agree on: relations, not the
 * window's size. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

static int outq(int fd, unsigned long req) {
    int n = -1;
    if (ioctl(fd, req, &n) < 0) return -errno;
    return n;
}

static int inq(int fd) { int n = -1; return ioctl(fd, SIOCINQ, &n) < 0 ? -errno : n; }

/* A delayed acknowledgement may come a moment later natively: wait for the
 * queue to settle at `want` (or give up after a second and print what is). */
static int settle(int fd, unsigned long req, int want) {
    int v = outq(fd, req);
    for (int i = 0; i < 100 && v != want; i++) { usleep(10000); v = outq(fd, req); }
    return v;
}

static const char *err(int v) {
    static char b[32];
    if (v >= 0) { snprintf(b, sizeof b, "%d", v); return b; }
    return v == -EINVAL ? "EINVAL" : v == -ENOTTY ? "ENOTTY" : v == -EOPNOTSUPP ? "EOPNOTSUPP" : "other";
}

static void tcp(void) {
    printf("== TCP\n");
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    if (bind(l, (void *)&a, sizeof a) || listen(l, 1) || getsockname(l, (void *)&a, &al)) { perror("listen"); return; }
    printf("listener: outq %s", err(outq(l, SIOCOUTQ)));
    printf(" nsd %s inq %s\n", err(outq(l, SIOCOUTQNSD)), err(inq(l)));
    int c = socket(AF_INET, SOCK_STREAM, 0);
    printf("unconnected: outq %s nsd %s\n", err(outq(c, SIOCOUTQ)), err(outq(c, SIOCOUTQNSD)));
    if (connect(c, (void *)&a, sizeof a)) { perror("connect"); return; }
    int s = accept(l, 0, 0);
    printf("connected: outq %s", err(outq(c, SIOCOUTQ)));
    printf(" nsd %s\n", err(outq(c, SIOCOUTQNSD)));

    static char buf[65536];
    memset(buf, 'x', sizeof buf);
    long sent = write(c, buf, 1000);
    printf("1000 unread at the peer: outq %s", err(settle(c, SIOCOUTQ, 0)));
    printf(" nsd %s peer inq %d\n", err(settle(c, SIOCOUTQNSD, 0)), inq(s));
    if (write(s, buf, 10) != 10) perror("write");
    printf("the other way too: outq %s inq %d\n", err(settle(s, SIOCOUTQ, 0)), inq(c));

    /* Fill the peer's window and our send buffer. */
    fcntl(c, F_SETFL, O_NONBLOCK);
    sent = 1000;
    ssize_t w;
    while ((w = write(c, buf, sizeof buf)) > 0) sent += w;
    int q = outq(c, SIOCOUTQ), nsd = outq(c, SIOCOUTQNSD), in = inq(s);
    printf("full (%s): outq > 0 %d, nsd <= outq %d, outq + peer inq >= sent %d, peer inq < sent %d\n",
           w < 0 && errno == EAGAIN ? "EAGAIN" : "?", q > 0, nsd >= 0 && nsd <= q, q + in >= sent, in < sent);

    /* Read some: the window opens and queued bytes go out. */
    long got = 0;
    ssize_t r;
    while (got < sent / 2 && (r = read(s, buf, sizeof buf)) > 0) got += r;
    int q2 = outq(c, SIOCOUTQ);
    printf("half read: outq < before %d\n", q2 < q);
    while (got < sent && (r = read(s, buf, sizeof buf)) > 0) got += r;
    printf("all %s read: outq %s", got == sent ? "sent" : "?", err(settle(c, SIOCOUTQ, 0)));
    printf(" nsd %s peer inq %d\n", err(settle(c, SIOCOUTQNSD, 0)), inq(s));
    close(c); close(s); close(l);
}

static void unix_kind(int type, const char *name) {
    int p[2];
    if (socketpair(AF_UNIX, type, 0, p)) { perror("socketpair"); return; }
    printf("== AF_UNIX %s\n", name);
    printf("fresh: outq %s nsd %s\n", err(outq(p[0], SIOCOUTQ)), err(outq(p[0], SIOCOUTQNSD)));
    char buf[1000] = { 0 };
    if (write(p[0], buf, sizeof buf) != sizeof buf) perror("write");
    int q = outq(p[0], SIOCOUTQ);
    printf("1000 unread: outq >= 1000 %d, peer inq %d, the peer's outq %s\n", q >= 1000, inq(p[1]), err(outq(p[1], SIOCOUTQ)));
    if (write(p[0], buf, 10) != 10) perror("write");
    printf("10 more: outq grew by >= 10 %d\n", outq(p[0], SIOCOUTQ) >= q + 10);
    if (read(p[1], buf, sizeof buf) != sizeof buf) perror("read");
    if (read(p[1], buf, sizeof buf) != 10) perror("read");
    printf("read: outq %s\n", err(outq(p[0], SIOCOUTQ)));
    close(p[0]); close(p[1]);
}

static void unix_listener(void) {
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    memcpy(a.sun_path, "\0sockqueues", 11);
    if (bind(l, (void *)&a, offsetof(struct sockaddr_un, sun_path) + 11) || listen(l, 1)) { perror("bind"); return; }
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(c, (void *)&a, offsetof(struct sockaddr_un, sun_path) + 11)) { perror("connect"); return; }
    printf("== AF_UNIX listener\noutq %s nsd %s inq %s\n", err(outq(l, SIOCOUTQ)), err(outq(l, SIOCOUTQNSD)), err(inq(l)));
    close(c); close(l);
}

static void udp(void) {
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    if (bind(u, (void *)&a, sizeof a) || getsockname(u, (void *)&a, &al)) { perror("udp bind"); return; }
    char buf[100] = { 0 };
    sendto(u, buf, sizeof buf, 0, (void *)&a, sizeof a);
    /* The datagram is the receiver's once delivered. */
    printf("== UDP\nsent 100 to itself: outq %s nsd %s inq %d\n", err(settle(u, SIOCOUTQ, 0)), err(outq(u, SIOCOUTQNSD)), inq(u));
    close(u);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    tcp();
    unix_kind(SOCK_STREAM, "stream");
    unix_kind(SOCK_DGRAM, "dgram");
    unix_kind(SOCK_SEQPACKET, "seqpacket");
    unix_listener();
    udp();
    return 0;
}
