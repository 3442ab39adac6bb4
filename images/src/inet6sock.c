// AF_INET6 on the loopback: ::1, dual-stack :: listeners that IPv4 clients
// reach (peers shown as ::ffff:127.0.0.1), IPV6_V6ONLY, UDP. No port numbers
// are printed, so the native run and the sandbox's agree.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static const char *text(struct sockaddr_storage *a) {
    static char buf[64];
    if (a->ss_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *)a)->sin6_addr, buf, sizeof buf);
    else inet_ntop(AF_INET, &((struct sockaddr_in *)a)->sin_addr, buf, sizeof buf);
    return buf;
}

static unsigned short port_of(int s) {
    struct sockaddr_storage a; socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    return ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port : ((struct sockaddr_in *)&a)->sin_port);
}

static struct sockaddr_in6 six(const char *ip, unsigned short port) {
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    inet_pton(AF_INET6, ip, &a.sin6_addr);
    return a;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int l = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = six("::1", 0);
    show("bind ::1", bind(l, (struct sockaddr *)&a, sizeof a));
    show("listen", listen(l, 4));
    a = six("::1", port_of(l));
    int c = socket(AF_INET6, SOCK_STREAM, 0);
    show("connect ::1", connect(c, (struct sockaddr *)&a, sizeof a));
    struct sockaddr_storage p; socklen_t pl = sizeof p;
    int s = accept(l, (struct sockaddr *)&p, &pl);
    printf("  accepted peer %s len %d family %d\n", text(&p), pl, p.ss_family);
    pl = sizeof p;
    getsockname(c, (struct sockaddr *)&p, &pl);
    printf("  client name %s len %d\n", text(&p), pl);
    write(c, "six", 3);
    char buf[16] = {0};
    show("read", read(s, buf, sizeof buf));
    int v; socklen_t vl = sizeof v;
    getsockopt(c, SOL_SOCKET, SO_DOMAIN, &v, &vl); printf("  SO_DOMAIN %d\n", v);
    getsockopt(c, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl); printf("  IPV6_V6ONLY %d\n", v);
    close(s); close(c); close(l);

    // A dual-stack listener on :: hears IPv4 clients.
    l = socket(AF_INET6, SOCK_STREAM, 0);
    a = six("::", 0);
    show("bind ::", bind(l, (struct sockaddr *)&a, sizeof a));
    listen(l, 4);
    struct sockaddr_in four = {.sin_family = AF_INET, .sin_port = htons(port_of(l)), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    c = socket(AF_INET, SOCK_STREAM, 0);
    show("IPv4 connect to the dual-stack port", connect(c, (struct sockaddr *)&four, sizeof four));
    pl = sizeof p;
    s = accept(l, (struct sockaddr *)&p, &pl);
    printf("  accepted peer %s len %d\n", text(&p), pl);
    pl = sizeof p;
    getsockname(s, (struct sockaddr *)&p, &pl);
    printf("  server side name %s\n", text(&p));
    int l4 = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in any4 = {.sin_family = AF_INET, .sin_port = four.sin_port};
    show("IPv4 bind on the dual-stack port", bind(l4, (struct sockaddr *)&any4, sizeof any4));
    close(l4); close(s); close(c); close(l);

    // IPV6_V6ONLY: IPv4 clients are refused and the IPv4 port is free.
    l = socket(AF_INET6, SOCK_STREAM, 0);
    v = 1;
    show("IPV6_V6ONLY", setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v));
    a = six("::", 0);
    bind(l, (struct sockaddr *)&a, sizeof a);
    listen(l, 4);
    show("IPV6_V6ONLY after bind", setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v));
    four.sin_port = htons(port_of(l));
    c = socket(AF_INET, SOCK_STREAM, 0);
    show("IPv4 connect to a v6-only port", connect(c, (struct sockaddr *)&four, sizeof four));
    close(c);
    l4 = socket(AF_INET, SOCK_STREAM, 0);
    any4.sin_port = four.sin_port;
    show("IPv4 bind beside a v6-only socket", bind(l4, (struct sockaddr *)&any4, sizeof any4));
    close(l4); close(l);

    // UDP over ::1.
    int u1 = socket(AF_INET6, SOCK_DGRAM, 0), u2 = socket(AF_INET6, SOCK_DGRAM, 0);
    a = six("::1", 0);
    bind(u1, (struct sockaddr *)&a, sizeof a);
    a = six("::1", port_of(u1));
    show("sendto ::1", sendto(u2, "datagram", 8, 0, (struct sockaddr *)&a, sizeof a));
    pl = sizeof p;
    show("recvfrom", recvfrom(u1, buf, sizeof buf, 0, (struct sockaddr *)&p, &pl));
    printf("  from %s len %d port matches %d\n", text(&p), pl, ntohs(((struct sockaddr_in6 *)&p)->sin6_port) == port_of(u2));
    close(u1); close(u2);

    // RFC 3542 ancillary data on UDPv6: the hop limit and traffic class a
    // datagram was sent with (per send, or the socket's), when asked for.
    u1 = socket(AF_INET6, SOCK_DGRAM, 0); u2 = socket(AF_INET6, SOCK_DGRAM, 0);
    a = six("::1", 0);
    bind(u1, (struct sockaddr *)&a, sizeof a);
    a = six("::1", port_of(u1));
    socklen_t ol = sizeof v;
    show("IPV6_UNICAST_HOPS", getsockopt(u2, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &v, &ol));
    printf("  %d\n", v);
    v = 1;
    show("IPV6_RECVHOPLIMIT", setsockopt(u1, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &v, sizeof v));
    show("IPV6_RECVTCLASS", setsockopt(u1, IPPROTO_IPV6, IPV6_RECVTCLASS, &v, sizeof v));
    v = 300;
    show("IPV6_TCLASS 300", setsockopt(u2, IPPROTO_IPV6, IPV6_TCLASS, &v, sizeof v));
    for (int round = 0; round < 3; round++) {
        union { char b[CMSG_SPACE(sizeof(int)) * 2]; struct cmsghdr align; } ctl;
        memset(&ctl, 0, sizeof ctl);
        struct iovec io = {"hop", 3};
        struct msghdr m = {.msg_name = &a, .msg_namelen = sizeof a, .msg_iov = &io, .msg_iovlen = 1};
        if (round == 1) {   // a hop limit and a traffic class for this datagram only
            m.msg_control = ctl.b; m.msg_controllen = sizeof ctl.b;
            struct cmsghdr *c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = IPPROTO_IPV6; c->cmsg_type = IPV6_HOPLIMIT; c->cmsg_len = CMSG_LEN(sizeof(int));
            *(int *)CMSG_DATA(c) = 2;
            c = CMSG_NXTHDR(&m, c);
            c->cmsg_level = IPPROTO_IPV6; c->cmsg_type = IPV6_TCLASS; c->cmsg_len = CMSG_LEN(sizeof(int));
            *(int *)CMSG_DATA(c) = 0x20;
        }
        if (round == 2) {   // the socket's own, then a bad per-send value
            v = 5; setsockopt(u2, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &v, sizeof v);
            v = 0x10; setsockopt(u2, IPPROTO_IPV6, IPV6_TCLASS, &v, sizeof v);
        }
        show("sendmsg", sendmsg(u2, &m, 0));
        char rb[16];
        struct iovec ri = {rb, sizeof rb};
        struct msghdr r = {.msg_iov = &ri, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
        show("recvmsg", recvmsg(u1, &r, 0));
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&r); c; c = CMSG_NXTHDR(&r, c))
            printf("  cmsg level %d type %s value %d\n", c->cmsg_level,
                   c->cmsg_type == IPV6_HOPLIMIT ? "IPV6_HOPLIMIT" : c->cmsg_type == IPV6_TCLASS ? "IPV6_TCLASS" : "other", *(int *)CMSG_DATA(c));
        // Room for one: the second is cut (MSG_CTRUNC).
        if (round == 2) {
            sendmsg(u2, &m, 0);
            r.msg_control = ctl.b; r.msg_controllen = CMSG_SPACE(sizeof(int));
            show("recvmsg, room for one", recvmsg(u1, &r, 0));
            printf("  flags MSG_CTRUNC %d, controllen %zu\n", !!(r.msg_flags & MSG_CTRUNC), (size_t)r.msg_controllen);
            struct cmsghdr *c = CMSG_FIRSTHDR(&m);
            m.msg_control = ctl.b; m.msg_controllen = CMSG_SPACE(sizeof(int));
            c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = IPPROTO_IPV6; c->cmsg_type = IPV6_HOPLIMIT; c->cmsg_len = CMSG_LEN(sizeof(int));
            *(int *)CMSG_DATA(c) = 256;
            show("sendmsg IPV6_HOPLIMIT 256", sendmsg(u2, &m, 0));
        }
    }
    close(u1); close(u2);

    // UDP-Lite over ::1: datagrams as UDP's, its own protocol number.
    u1 = socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDPLITE); u2 = socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDPLITE);
    a = six("::1", 0);
    show("bind UDP-Lite", bind(u1, (struct sockaddr *)&a, sizeof a));
    ol = sizeof v;
    getsockopt(u1, SOL_SOCKET, SO_PROTOCOL, &v, &ol);
    printf("  SO_PROTOCOL %d\n", v);
    a = six("::1", port_of(u1));
    show("sendto UDP-Lite", sendto(u2, "lite", 4, 0, (struct sockaddr *)&a, sizeof a));
    show("recv UDP-Lite", recv(u1, buf, sizeof buf, 0));
    close(u1); close(u2);

    // Bad input.
    s = socket(AF_INET6, SOCK_STREAM, 0);
    show("bind short sockaddr_in6", bind(s, (struct sockaddr *)&a, 20));
    show("bind sockaddr_in on AF_INET6", bind(s, (struct sockaddr *)&four, 24 < sizeof four ? sizeof four : 24));
    a = six("fd00::99", 0);
    show("bind non-local address", bind(s, (struct sockaddr *)&a, sizeof a));
    show("IPV6_V6ONLY on AF_INET", setsockopt(socket(AF_INET, SOCK_STREAM, 0), IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v));
    close(s);
    return 0;
}
