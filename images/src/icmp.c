// Raw ICMP sockets, ping sockets and ICMP errors for UDP on the loopback.
// With no argument (run as root, compared with the native run): raw
// sockets (echo with the IPv4 header, ICMP_FILTER, IP_HDRINCL), the
// EPERM/EACCES refusals after dropping privileges, and a UDP datagram to a
// closed port (ECONNREFUSED on a connected socket, the port unreachable a
// raw socket sees), a raw socket's own UDP datagrams and the errors they
// draw (raw_icmp_error), a protocol unreachable; IPv6 headers a program writes itself
// (IPPROTO_RAW, IPV6_HDRINCL) and the parameter problem an unknown next header draws; a raw
// socket's TCP segments to a closed port and the resets they draw. "ping": ping sockets (IPv4 and IPv6), which need a
// net.ipv4.ping_group_range that holds the caller's group.
// Prints no identifiers or ports, so runs agree.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "udpdrops.h"

#ifndef ICMP_FILTER
#define ICMP_FILTER 1
#endif

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static uint16_t checksum(const void *p, size_t n) {
    const uint8_t *b = p;
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)b[i] << 8 | b[i + 1];
    if (n & 1) sum += (uint32_t)b[n - 1] << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return htons((uint16_t)~sum);
}

static struct sockaddr_in lo4(unsigned short port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return a;
}

/// An echo request: identifier, sequence, 8 bytes of data; checksum filled in if asked.
static size_t echo(uint8_t *buf, uint8_t type, uint16_t id, uint16_t seq, int sum) {
    memset(buf, 0, 16);
    buf[0] = type;
    buf[4] = id >> 8; buf[5] = id & 0xff;
    buf[6] = seq >> 8; buf[7] = seq & 0xff;
    memcpy(buf + 8, "sentry!!", 8);
    if (sum) { uint16_t c = checksum(buf, 16); memcpy(buf + 2, &c, 2); }
    return 16;
}

static int readable(int s, int ms) {
    struct pollfd p = {.fd = s, .events = POLLIN};
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/// Reads raw IPv4 packets until one from the loopback carries ICMP with our
/// identifier (or, for errors, any type 3), and describes it. Other ICMP on
/// the host (the native run sees all of it) is skipped.
static void raw_next(int s, uint16_t id, const char *what) {
    for (int tries = 0; tries < 64; tries++) {
        if (!readable(s, 2000)) { printf("%s: nothing\n", what); return; }
        uint8_t buf[2048];
        struct sockaddr_in from; socklen_t fl = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n < 28) { show(what, n); return; }
        struct iphdr *ip = (struct iphdr *)buf;
        int ihl = ip->ihl * 4;
        uint8_t *icmp = buf + ihl;
        if (ip->saddr != htonl(INADDR_LOOPBACK)) continue;
        uint16_t got = icmp[4] << 8 | icmp[5];
        if (icmp[0] != ICMP_DEST_UNREACH && got != id) continue;
        printf("%s: %zd bytes, v%d ihl %d tot_len ok %d proto %d ttl %d hdrsum ok %d from %s port %d len %d, "
               "icmp type %d code %d sum ok %d",
               what, n, ip->version, ihl, ntohs(ip->tot_len) == n, ip->protocol, ip->ttl,
               checksum(buf, ihl) == 0, inet_ntoa(from.sin_addr), ntohs(from.sin_port), fl,
               icmp[0], icmp[1], checksum(icmp, n - ihl) == 0);
        if (icmp[0] == ICMP_DEST_UNREACH) {
            struct iphdr *inner = (struct iphdr *)(icmp + 8);
            uint8_t *udp = icmp + 8 + inner->ihl * 4;
            printf(", inner proto %d to %s, udp length %d", inner->protocol, inet_ntoa(*(struct in_addr *)&inner->daddr),
                   udp[4] << 8 | udp[5]);
        } else {
            printf(", seq %d data %.8s", icmp[6] << 8 | icmp[7], icmp + 8);
        }
        printf("\n");
        return;
    }
    printf("%s: only others' packets\n", what);
}

static void raw_tests(void) {
    show("raw proto 0", socket(AF_INET, SOCK_RAW, 0));
    int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    show("raw icmp", s >= 0 ? 0 : -1);
    int v = -1; socklen_t l = sizeof v;
    getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l); printf("SO_TYPE %d\n", v);
    getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &l); printf("SO_PROTOCOL %d\n", v);
    struct sockaddr_in me; socklen_t ml = sizeof me;
    getsockname(s, (struct sockaddr *)&me, &ml);
    printf("raw name %s port %d\n", inet_ntoa(me.sin_addr), ntohs(me.sin_port));

    uint16_t id = 0x5e00 | (getpid() & 0xff);
    uint8_t req[64];
    struct sockaddr_in to = lo4(0);
    size_t n = echo(req, ICMP_ECHO, id, 1, 1);
    show("raw send echo", sendto(s, req, n, 0, (struct sockaddr *)&to, sizeof to));
    raw_next(s, id, "raw got");   // our own request crosses lo too
    raw_next(s, id, "raw got");   // and the loopback's reply
    // A bad checksum: the stack drops the request, no reply comes.
    n = echo(req, ICMP_ECHO, id, 2, 0);
    req[2] = 0x12;
    show("raw send bad sum", sendto(s, req, n, 0, (struct sockaddr *)&to, sizeof to));
    raw_next(s, id, "raw got");
    printf("reply to bad sum: %s\n", readable(s, 300) ? "yes" : "no");

    // ICMP_FILTER: drop echo requests, keep replies.
    uint32_t filter = 1u << ICMP_ECHO, back = 0; socklen_t bl = sizeof back;
    show("ICMP_FILTER set", setsockopt(s, SOL_RAW, ICMP_FILTER, &filter, sizeof filter));
    show("ICMP_FILTER get", getsockopt(s, SOL_RAW, ICMP_FILTER, &back, &bl));
    printf("filter %#x len %d\n", back, bl);
    n = echo(req, ICMP_ECHO, id, 3, 1);
    show("raw send filtered", sendto(s, req, n, 0, (struct sockaddr *)&to, sizeof to));
    raw_next(s, id, "raw got");
    filter = 0;
    setsockopt(s, SOL_RAW, ICMP_FILTER, &filter, sizeof filter);
    show("SOL_RAW unknown", setsockopt(s, SOL_RAW, 7, &filter, sizeof filter));

    // IP_HDRINCL: our header, source, id and checksum left for the kernel.
    int one = 1;
    show("IP_HDRINCL", setsockopt(s, IPPROTO_IP, IP_HDRINCL, &one, sizeof one));
    v = 0; l = sizeof v;
    getsockopt(s, IPPROTO_IP, IP_HDRINCL, &v, &l); printf("IP_HDRINCL reads %d\n", v);
    uint8_t pkt[64] = {0};
    struct iphdr *ip = (struct iphdr *)pkt;
    ip->version = 4; ip->ihl = 5; ip->ttl = 33; ip->protocol = IPPROTO_ICMP;
    ip->daddr = htonl(INADDR_LOOPBACK);
    n = echo(pkt + 20, ICMP_ECHO, id, 4, 1);
    show("hdrincl send", sendto(s, pkt, 20 + n, 0, (struct sockaddr *)&to, sizeof to));
    raw_next(s, id, "raw got");
    raw_next(s, id, "raw got");
    show("hdrincl short", sendto(s, pkt, 12, 0, (struct sockaddr *)&to, sizeof to));
    pkt[0] = 0x4f;
    show("hdrincl ihl past end", sendto(s, pkt, 36, 0, (struct sockaddr *)&to, sizeof to));
    close(s);

    int u = socket(AF_INET, SOCK_DGRAM, 0);
    show("IP_HDRINCL on udp", setsockopt(u, IPPROTO_IP, IP_HDRINCL, &one, sizeof one));
    show("ICMP_FILTER on udp", setsockopt(u, SOL_RAW, ICMP_FILTER, &filter, sizeof filter));
    close(u);
    int r2 = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
    show("ICMP_FILTER on raw udp", setsockopt(r2, SOL_RAW, ICMP_FILTER, &filter, sizeof filter));
    close(r2);
}

/// A UDP datagram to a port no one has: the loopback answers port
/// unreachable; a connected socket's next call says ECONNREFUSED.
static void udp_refused(void) {
    int raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    int probe = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = lo4(0); socklen_t al = sizeof a;
    bind(probe, (struct sockaddr *)&a, sizeof a);
    getsockname(probe, (struct sockaddr *)&a, &al);
    close(probe);   // a port that was just free, now closed

    int c = socket(AF_INET, SOCK_DGRAM, 0);
    show("udp connect", connect(c, (struct sockaddr *)&a, sizeof a));
    show("udp send 1", send(c, "abc", 3, 0));
    struct pollfd p = {.fd = c, .events = POLLIN};
    int r = poll(&p, 1, 2000);
    printf("poll %d revents POLLERR %d\n", r, !!(p.revents & POLLERR));
    raw_next(raw, 0, "raw sees");
    char buf[16];
    show("udp recv", recv(c, buf, sizeof buf, MSG_DONTWAIT));
    show("udp recv again", recv(c, buf, sizeof buf, MSG_DONTWAIT));
    show("udp send 2", send(c, "abc", 3, 0));
    poll(&p, 1, 2000);
    int e = -1; socklen_t el = sizeof e;
    getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el); printf("SO_ERROR %s\n", e ? strerrorname_np(e) : "0");
    getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el); printf("SO_ERROR again %s\n", e ? strerrorname_np(e) : "0");
    show("udp send 3", send(c, "abc", 3, 0));
    poll(&p, 1, 2000);
    show("udp send 4", send(c, "abc", 3, 0));
    show("udp send 5", send(c, "abc", 3, 0));
    close(c);

    // Unconnected: the error is ignored, unless IP_RECVERR.
    int d = socket(AF_INET, SOCK_DGRAM, 0);
    show("udp sendto", sendto(d, "abc", 3, 0, (struct sockaddr *)&a, sizeof a));
    raw_next(raw, 0, "raw sees");
    p.fd = d;
    printf("unconnected poll %d\n", poll(&p, 1, 200));
    getsockopt(d, SOL_SOCKET, SO_ERROR, &e, &el); printf("unconnected SO_ERROR %s\n", e ? strerrorname_np(e) : "0");
    int one = 1;
    show("IP_RECVERR", setsockopt(d, IPPROTO_IP, IP_RECVERR, &one, sizeof one));
    int v = 0; socklen_t vl = sizeof v;
    getsockopt(d, IPPROTO_IP, IP_RECVERR, &v, &vl); printf("IP_RECVERR reads %d\n", v);
    show("udp sendto recverr", sendto(d, "abc", 3, 0, (struct sockaddr *)&a, sizeof a));
    raw_next(raw, 0, "raw sees");
    getsockopt(d, SOL_SOCKET, SO_ERROR, &e, &el); printf("recverr SO_ERROR %s\n", e ? strerrorname_np(e) : "0");
    // The error queue outlives SO_ERROR: POLLERR, then MSG_ERRQUEUE reads it.
    p.fd = d; p.events = 0;
    int pr = poll(&p, 1, 0);
    printf("error queue poll %d POLLERR %d\n", pr, !!(p.revents & POLLERR));
    char data[2], ctl[128];
    struct sockaddr_in dst;
    struct iovec iv = {data, sizeof data};
    struct msghdr mh = {.msg_name = &dst, .msg_namelen = sizeof dst, .msg_iov = &iv, .msg_iovlen = 1,
                        .msg_control = ctl, .msg_controllen = sizeof ctl};
    ssize_t got = recvmsg(d, &mh, MSG_ERRQUEUE);
    show("MSG_ERRQUEUE", got);
    if (got >= 0) {
        printf("flags ERRQUEUE %d TRUNC %d CTRUNC %d, name %s port matches %d len %d, data %.2s\n",
               !!(mh.msg_flags & MSG_ERRQUEUE), !!(mh.msg_flags & MSG_TRUNC), !!(mh.msg_flags & MSG_CTRUNC),
               inet_ntoa(dst.sin_addr), dst.sin_port == a.sin_port, mh.msg_namelen, data);
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            struct sock_extended_err *ee = (struct sock_extended_err *)CMSG_DATA(c);
            struct sockaddr_in *off = (struct sockaddr_in *)SO_EE_OFFENDER(ee);
            printf("cmsg level %d type %d len %zu: errno %s origin %d type %d code %d info %u data %u offender %s family %d\n",
                   c->cmsg_level, c->cmsg_type, (size_t)c->cmsg_len, strerrorname_np(ee->ee_errno), ee->ee_origin,
                   ee->ee_type, ee->ee_code, ee->ee_info, ee->ee_data, inet_ntoa(off->sin_addr), off->sin_family);
        }
    }
    show("MSG_ERRQUEUE again", recvmsg(d, &mh, MSG_ERRQUEUE));
    getsockopt(d, SOL_SOCKET, SO_ERROR, &e, &el); printf("after SO_ERROR %s\n", e ? strerrorname_np(e) : "0");
    // A short control buffer: MSG_CTRUNC.
    sendto(d, "xyz", 3, 0, (struct sockaddr *)&a, sizeof a);
    raw_next(raw, 0, "raw sees");
    mh.msg_controllen = 20; mh.msg_namelen = sizeof dst;
    got = recvmsg(d, &mh, MSG_ERRQUEUE);
    show("MSG_ERRQUEUE short control", got);
    printf("flags CTRUNC %d controllen %zu\n", !!(mh.msg_flags & MSG_CTRUNC), (size_t)mh.msg_controllen);
    close(d);
    close(raw);
}

/// A UDP header and 4 bytes of data from `sport` to `dport`; checksum 0 (none) unless `sum`.
static size_t udp_dgram(uint8_t *b, uint16_t sport, uint16_t dport, int sum) {
    b[0] = sport >> 8; b[1] = sport & 0xff; b[2] = dport >> 8; b[3] = dport & 0xff;
    b[4] = 0; b[5] = 12; b[6] = 0; b[7] = 0;
    memcpy(b + 8, "raw!", 4);
    if (sum) {
        uint8_t ph[12 + 12];
        uint32_t lo = htonl(INADDR_LOOPBACK);
        memcpy(ph, &lo, 4); memcpy(ph + 4, &lo, 4);
        ph[8] = 0; ph[9] = IPPROTO_UDP; ph[10] = 0; ph[11] = 12;
        memcpy(ph + 12, b, 12);
        uint16_t c = checksum(ph, sizeof ph); memcpy(b + 6, &c, 2);
    }
    return 12;
}

static const char *soerror(int s) {
    int e = -1; socklen_t el = sizeof e;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el);
    return e ? strerrorname_np(e) : "0";
}

/// Reads one queued error (MSG_ERRQUEUE) and describes it: its bytes, the
/// name (the offending packet's destination, port 0 for raw sockets) and
/// the sock_extended_err.
static void errqueue(int s, const char *what) {
    uint8_t data[128], ctl[128];
    struct sockaddr_in dst = {0};
    struct iovec iv = {data, sizeof data};
    struct msghdr mh = {.msg_name = &dst, .msg_namelen = sizeof dst, .msg_iov = &iv, .msg_iovlen = 1,
                        .msg_control = ctl, .msg_controllen = sizeof ctl};
    ssize_t got = recvmsg(s, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
    show(what, got);
    if (got < 0) return;
    printf("  name %s port %d, first bytes %02x %02x", inet_ntoa(dst.sin_addr), ntohs(dst.sin_port), data[0], data[1]);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        struct sock_extended_err *ee = (struct sock_extended_err *)CMSG_DATA(c);
        struct sockaddr_in *off = (struct sockaddr_in *)SO_EE_OFFENDER(ee);
        printf(", errno %s origin %d type %d code %d info %u offender %s", strerrorname_np(ee->ee_errno), ee->ee_origin,
               ee->ee_type, ee->ee_code, ee->ee_info, inet_ntoa(off->sin_addr));
    }
    printf("\n");
}

/// A raw socket's UDP datagrams reach the loopback's UDP: delivered to an
/// open port (unless the checksum is wrong), a port unreachable from a
/// closed one, which the raw sockets of UDP that may have sent it hear
/// (raw_icmp_error): connected ones as ECONNREFUSED, ones with IP_RECVERR
/// in their error queue (quoted from the UDP header on, or with IP_HDRINCL
/// from the IP header on), and the UDP socket bound at its source port.
/// A protocol no one takes draws a protocol unreachable.
static void raw_udp(void) {
    int icmp = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    int open_ = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in op = lo4(0); socklen_t ol = sizeof op;
    bind(open_, (struct sockaddr *)&op, sizeof op);
    getsockname(open_, (struct sockaddr *)&op, &ol);
    int probe = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in cp = lo4(0); socklen_t cl = sizeof cp;
    bind(probe, (struct sockaddr *)&cp, sizeof cp);
    getsockname(probe, (struct sockaddr *)&cp, &cl);
    close(probe);
    uint16_t openp = ntohs(op.sin_port), closedp = ntohs(cp.sin_port);
    struct sockaddr_in to = lo4(0);
    uint8_t d[64], buf[256];

    int r = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
    show("raw udp to open port", sendto(r, d, udp_dgram(d, 4242, openp, 0), 0, (struct sockaddr *)&to, sizeof to));
    struct sockaddr_in from; socklen_t fl = sizeof from;
    ssize_t n = recvfrom(open_, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
    show("udp socket got", n);
    if (n > 0) printf("  %.*s from %s port %d\n", (int)n, buf, inet_ntoa(from.sin_addr), ntohs(from.sin_port));
    n = recv(r, buf, sizeof buf, MSG_DONTWAIT);
    show("raw udp sees its own", n);
    if (n >= 28) printf("  proto %d udp length %d\n", buf[9], buf[24] << 8 | buf[25]);
    show("raw udp with its checksum", sendto(r, d, udp_dgram(d, 4242, openp, 1), 0, (struct sockaddr *)&to, sizeof to));
    show("udp socket got", recv(open_, buf, sizeof buf, MSG_DONTWAIT));
    udp_dgram(d, 4242, openp, 0);
    d[6] = 0x12; d[7] = 0x34;
    show("raw udp bad checksum", sendto(r, d, 12, 0, (struct sockaddr *)&to, sizeof to));
    show("udp socket got", recv(open_, buf, sizeof buf, MSG_DONTWAIT));
    d[4] = 0; d[5] = 40;
    show("raw udp length past end", sendto(r, d, 12, 0, (struct sockaddr *)&to, sizeof to));
    show("udp socket got", recv(open_, buf, sizeof buf, MSG_DONTWAIT));
    while (recv(r, buf, sizeof buf, MSG_DONTWAIT) > 0) {}

    // A closed port: unconnected and without IP_RECVERR, the raw socket hears nothing.
    show("raw udp to closed port", sendto(r, d, udp_dgram(d, 4242, closedp, 0), 0, (struct sockaddr *)&to, sizeof to));
    raw_next(icmp, 0, "raw icmp sees");
    printf("unconnected SO_ERROR %s\n", soerror(r));
    udp_dgram(d, 4242, closedp, 0);
    d[6] = 0x12; d[7] = 0x34;
    show("closed port, bad checksum", sendto(r, d, 12, 0, (struct sockaddr *)&to, sizeof to));
    printf("port unreachable for it: %s\n", readable(icmp, 300) ? "yes" : "no");
    while (recv(r, buf, sizeof buf, MSG_DONTWAIT) > 0) {}

    // Connected: the error is hard, so it is the socket's; it comes before
    // the socket's own datagram, and a send without IP_HDRINCL ignores it.
    struct sockaddr_in cto = lo4(closedp);
    show("raw udp connect", connect(r, (struct sockaddr *)&cto, sizeof cto));
    show("connected send", send(r, d, udp_dgram(d, 4242, closedp, 0), 0));
    raw_next(icmp, 0, "raw icmp sees");
    struct pollfd p = {.fd = r, .events = POLLIN};
    int pr = poll(&p, 1, 2000);
    printf("poll %d POLLIN %d POLLERR %d\n", pr, !!(p.revents & POLLIN), !!(p.revents & POLLERR));
    show("recv", recv(r, buf, sizeof buf, MSG_DONTWAIT));
    show("recv again", recv(r, buf, sizeof buf, MSG_DONTWAIT));
    show("connected send 2", send(r, d, 12, 0));
    raw_next(icmp, 0, "raw icmp sees");
    show("connected send 3", send(r, d, 12, 0));
    raw_next(icmp, 0, "raw icmp sees");
    printf("SO_ERROR %s\n", soerror(r));
    printf("SO_ERROR again %s\n", soerror(r));
    close(r);

    // IP_RECVERR, unconnected: queued, the quote from the UDP header on.
    r = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
    int one = 1;
    show("IP_RECVERR on raw udp", setsockopt(r, IPPROTO_IP, IP_RECVERR, &one, sizeof one));
    show("recverr send", sendto(r, d, udp_dgram(d, 4243, closedp, 0), 0, (struct sockaddr *)&to, sizeof to));
    raw_next(icmp, 0, "raw icmp sees");
    printf("recverr SO_ERROR %s\n", soerror(r));
    errqueue(r, "raw MSG_ERRQUEUE");
    errqueue(r, "raw MSG_ERRQUEUE again");
    // IP_HDRINCL: the quote starts at the IP header, and the next send fails.
    show("IP_HDRINCL on raw udp", setsockopt(r, IPPROTO_IP, IP_HDRINCL, &one, sizeof one));
    uint8_t pkt[64] = {0};
    struct iphdr *ip = (struct iphdr *)pkt;
    ip->version = 4; ip->ihl = 5; ip->ttl = 64; ip->protocol = IPPROTO_UDP;
    ip->daddr = htonl(INADDR_LOOPBACK);
    udp_dgram(pkt + 20, 4243, closedp, 0);
    show("hdrincl send", sendto(r, pkt, 32, 0, (struct sockaddr *)&to, sizeof to));
    raw_next(icmp, 0, "raw icmp sees");
    show("hdrincl send 2", sendto(r, pkt, 32, 0, (struct sockaddr *)&to, sizeof to));
    show("hdrincl send 3", sendto(r, pkt, 32, 0, (struct sockaddr *)&to, sizeof to));
    raw_next(icmp, 0, "raw icmp sees");
    errqueue(r, "hdrincl MSG_ERRQUEUE");
    errqueue(r, "hdrincl MSG_ERRQUEUE 2");
    errqueue(r, "hdrincl MSG_ERRQUEUE 3");
    printf("hdrincl SO_ERROR %s\n", soerror(r));
    close(r);

    // The UDP socket bound where the datagram came from, connected to where it went, hears it.
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in up = lo4(0); socklen_t ul = sizeof up;
    bind(u, (struct sockaddr *)&up, sizeof up);
    getsockname(u, (struct sockaddr *)&up, &ul);
    connect(u, (struct sockaddr *)&cto, sizeof cto);
    r = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    memset(pkt, 0, sizeof pkt);
    ip->version = 4; ip->ihl = 5; ip->ttl = 64; ip->protocol = IPPROTO_UDP;
    ip->daddr = htonl(INADDR_LOOPBACK);
    udp_dgram(pkt + 20, ntohs(up.sin_port), closedp, 0);
    show("IPPROTO_RAW udp send", sendto(r, pkt, 32, 0, (struct sockaddr *)&to, sizeof to));
    raw_next(icmp, 0, "raw icmp sees");
    show("bound udp socket recv", recv(u, buf, sizeof buf, MSG_DONTWAIT));
    printf("IPPROTO_RAW SO_ERROR %s\n", soerror(r));
    close(u);

    // A protocol nothing takes (253, for experiments): protocol unreachable.
    ip->protocol = 253;
    show("IPPROTO_RAW proto 253 send", sendto(r, pkt, 32, 0, (struct sockaddr *)&to, sizeof to));
    raw_next(icmp, 0, "raw icmp sees");
    int r253 = socket(AF_INET, SOCK_RAW, 253);
    show("with a raw 253 socket", sendto(r, pkt, 32, 0, (struct sockaddr *)&to, sizeof to));
    printf("unreachable: %s, the raw 253 socket got %zd\n", readable(icmp, 300) ? "yes" : "no", recv(r253, buf, sizeof buf, MSG_DONTWAIT));
    close(r253);
    close(r);
    close(open_);
    close(icmp);
}

/// A UDP datagram of `len` data bytes (at most 200) from `sport` to `dport`
/// on 127.0.0.1 with its checksum right, or wrong by one (`good` 0).
static size_t udp_sized(uint8_t *b, uint16_t sport, uint16_t dport, size_t len, int good) {
    size_t n = 8 + len;
    uint8_t ph[12 + 208];
    b[0] = sport >> 8; b[1] = sport & 0xff; b[2] = dport >> 8; b[3] = dport & 0xff;
    b[4] = n >> 8; b[5] = n & 0xff; b[6] = 0; b[7] = 0;
    for (size_t i = 0; i < len; i++) b[8 + i] = 'a' + i % 26;
    uint32_t lo = htonl(INADDR_LOOPBACK);
    memcpy(ph, &lo, 4); memcpy(ph + 4, &lo, 4);
    ph[8] = 0; ph[9] = IPPROTO_UDP; ph[10] = n >> 8; ph[11] = n & 0xff;
    memcpy(ph + 12, b, n);
    uint16_t c = checksum(ph, 12 + n);
    if (c == 0) c = 0xffff;
    if (!good) c = c == 0x0101 ? 0x0202 : 0x0101;
    memcpy(b + 6, &c, 2);
    return n;
}

/// A datagram with a wrong checksum: one of up to 76 bytes (CHECKSUM_BREAK)
/// is dropped on arrival; a longer one is queued, its reader woken, and
/// dropped when read (udp_recvmsg), peeked, asked for by FIONREAD or polled
/// on a blocking socket (first_packet_length), counted in /proc/net/udp's
/// drops; a non-blocking socket's poll says POLLIN for it. At a closed port
/// neither draws a port unreachable.
static void udp_late_checksum(void) {
    int icmp = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in up = lo4(0); socklen_t ul = sizeof up;
    bind(u, (struct sockaddr *)&up, sizeof up);
    getsockname(u, (struct sockaddr *)&up, &ul);
    uint16_t port = ntohs(up.sin_port);
    int r = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
    struct sockaddr_in to = lo4(0);
    uint8_t d[256], buf[256];
    int inq = -1;
    struct pollfd p = {.fd = u, .events = POLLIN};
#define SEND(len, good) sendto(r, d, udp_sized(d, 4444, port, len, good), 0, (struct sockaddr *)&to, sizeof to)

    show("late: short bad", SEND(40, 0));
    show("  recv", recv(u, buf, sizeof buf, MSG_DONTWAIT));
    printf("  drops %ld\n", udp_drops(port));
    show("late: long bad", SEND(100, 0));
    int pr = poll(&p, 1, 0);
    printf("  blocking poll %d revents %#x\n", pr, p.revents);
    printf("  drops %ld\n", udp_drops(port));
    show("late: long bad again", SEND(100, 0));
    fcntl(u, F_SETFL, O_NONBLOCK);
    pr = poll(&p, 1, 0);
    printf("  non-blocking poll %d revents %#x\n", pr, p.revents);
    show("  recv", recv(u, buf, sizeof buf, 0));
    printf("  drops %ld\n", udp_drops(port));
    fcntl(u, F_SETFL, 0);
    show("late: bad then good", SEND(100, 0));
    show("  good", SEND(120, 1));
    int ir = ioctl(u, FIONREAD, &inq);
    printf("  FIONREAD %d, %d\n", ir, inq);
    show("  recv", recv(u, buf, sizeof buf, MSG_DONTWAIT));
    printf("  drops %ld\n", udp_drops(port));
    show("late: bad then good, peeked", SEND(100, 0));
    show("  good", SEND(90, 1));
    show("  peek", recv(u, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT));
    show("  recv", recv(u, buf, sizeof buf, MSG_DONTWAIT));
    printf("  drops %ld\n", udp_drops(port));
    show("late: bad, blocking recv", SEND(100, 0));
    struct timeval tv = {0, 100000};
    setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    show("  recv", recv(u, buf, sizeof buf, 0));
    printf("  drops %ld\n", udp_drops(port));
    close(u);
    while (recv(icmp, buf, sizeof buf, MSG_DONTWAIT) > 0) {}
    show("late: long bad to the closed port", SEND(100, 0));
    printf("  port unreachable: %s\n", readable(icmp, 300) ? "yes" : "no");
    show("late: long good to the closed port", SEND(100, 1));
    printf("  port unreachable: %s\n", readable(icmp, 2000) ? "yes" : "no");
#undef SEND
    close(r);
    close(icmp);
}

/// The IPv6 side: a raw socket's UDP datagrams (whose checksum the program
/// computes; IPv6 has no "none") and the ICMPv6 port unreachable they draw.
static void raw_udp6(void) {
    struct sockaddr_in6 lo6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int open_ = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 op = lo6; socklen_t ol = sizeof op;
    if (bind(open_, (struct sockaddr *)&op, sizeof op)) { printf("raw udp6: no ::1 here\n"); close(open_); return; }
    getsockname(open_, (struct sockaddr *)&op, &ol);
    int probe = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 cp = lo6; socklen_t cl = sizeof cp;
    bind(probe, (struct sockaddr *)&cp, sizeof cp);
    getsockname(probe, (struct sockaddr *)&cp, &cl);
    close(probe);
    uint16_t openp = ntohs(op.sin6_port), closedp = ntohs(cp.sin6_port);
    uint8_t d[64], buf[256];
    int r = socket(AF_INET6, SOCK_RAW, IPPROTO_UDP);
    // UDP over IPv6 with its pseudo-header (::1 to ::1).
    #define UDP6(sport, dport, sum) do { \
        udp_dgram(d, sport, dport, 0); \
        if (sum) { uint8_t ph[40 + 12] = {0}; ph[15] = 1; ph[31] = 1; ph[35] = 12; ph[39] = IPPROTO_UDP; \
                   memcpy(ph + 40, d, 12); uint16_t c = checksum(ph, sizeof ph); memcpy(d + 6, &c, 2); } } while (0)
    UDP6(4242, openp, 0);
    show("raw udp6 no checksum to open port", sendto(r, d, 12, 0, (struct sockaddr *)&lo6, sizeof lo6));
    show("udp6 socket got", recv(open_, buf, sizeof buf, MSG_DONTWAIT));
    UDP6(4242, openp, 1);
    show("raw udp6 with its checksum", sendto(r, d, 12, 0, (struct sockaddr *)&lo6, sizeof lo6));
    struct sockaddr_in6 from; socklen_t fl = sizeof from;
    ssize_t n = recvfrom(open_, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
    show("udp6 socket got", n);
    if (n > 0) printf("  %.*s from port %d\n", (int)n, buf, ntohs(from.sin6_port));
    show("raw udp6 sees its own", recv(r, buf, sizeof buf, MSG_DONTWAIT));
    while (recv(r, buf, sizeof buf, MSG_DONTWAIT) > 0) {}

    // A closed port: no checksum is dropped; with one, unreachable, which the
    // connected socket hears before its own datagram.
    struct sockaddr_in6 cto = lo6;
    cto.sin6_port = 0;
    show("raw udp6 connect", connect(r, (struct sockaddr *)&cto, sizeof cto));
    UDP6(4242, closedp, 0);
    show("connected send, no checksum", send(r, d, 12, 0));
    show("recv", recv(r, buf, sizeof buf, MSG_DONTWAIT));
    show("recv again", recv(r, buf, sizeof buf, MSG_DONTWAIT));
    UDP6(4242, closedp, 1);
    show("connected send", send(r, d, 12, 0));
    struct pollfd p = {.fd = r, .events = POLLIN};
    poll(&p, 1, 2000);
    show("recv", recv(r, buf, sizeof buf, MSG_DONTWAIT));
    show("recv again", recv(r, buf, sizeof buf, MSG_DONTWAIT));
    close(r);

    // IPV6_RECVERR: queued, quoted from the UDP header on.
    r = socket(AF_INET6, SOCK_RAW, IPPROTO_UDP);
    int one = 1;
    show("IPV6_RECVERR", setsockopt(r, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one));
    UDP6(4243, closedp, 1);
    show("recverr send", sendto(r, d, 12, 0, (struct sockaddr *)&lo6, sizeof lo6));
    p.fd = r; p.events = 0;
    int pr = poll(&p, 1, 2000);
    printf("poll %d POLLERR %d\n", pr, !!(p.revents & POLLERR));
    uint8_t ctl[128];
    struct sockaddr_in6 dst = {0};
    struct iovec iv = {buf, sizeof buf};
    struct msghdr mh = {.msg_name = &dst, .msg_namelen = sizeof dst, .msg_iov = &iv, .msg_iovlen = 1,
                        .msg_control = ctl, .msg_controllen = sizeof ctl};
    n = recvmsg(r, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
    show("raw6 MSG_ERRQUEUE", n);
    if (n >= 2) {
        char txt[64];
        inet_ntop(AF_INET6, &dst.sin6_addr, txt, sizeof txt);
        printf("  name %s port %d, first bytes %02x %02x", txt, ntohs(dst.sin6_port), buf[0], buf[1]);
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            struct sock_extended_err *ee = (struct sock_extended_err *)CMSG_DATA(c);
            struct sockaddr_in6 *off = (struct sockaddr_in6 *)SO_EE_OFFENDER(ee);
            inet_ntop(AF_INET6, &off->sin6_addr, txt, sizeof txt);
            printf(", cmsg %d/%d errno %s origin %d type %d code %d offender %s", c->cmsg_level, c->cmsg_type,
                   strerrorname_np(ee->ee_errno), ee->ee_origin, ee->ee_type, ee->ee_code, txt);
        }
        printf("\n");
    }
    close(r);
    close(open_);
}

/// Dropping privileges: a group outside any ping_group_range and no
/// capabilities refuse both kinds.
/// The next ICMPv6 error from ::1 on a raw ICMPv6 socket, described (no
/// identifiers or ports).
static void icmp6_next(int s, const char *what) {
    uint8_t buf[2048];
    for (int tries = 0; tries < 64; tries++) {
        if (!readable(s, 2000)) { printf("%s: nothing\n", what); return; }
        ssize_t n = recv(s, buf, sizeof buf, 0);
        if (n < 8) { show(what, n); return; }
        if (buf[0] >= 128) continue;   // informational: neighbour discovery, echoes
        uint32_t word = (uint32_t)buf[4] << 24 | buf[5] << 16 | buf[6] << 8 | buf[7];
        printf("%s: %zd bytes, type %d code %d word %u", what, n, buf[0], buf[1], word);
        if (n >= 48) printf(", quoted version %d next header %d hop limit %d payload length %d, data %.8s",
                            buf[8] >> 4, buf[14], buf[15], buf[12] << 8 | buf[13], n >= 56 ? (char *)buf + 48 : "");
        printf("\n");
        return;
    }
    printf("%s: only others' packets\n", what);
}

/// IPv6 with the program's own header (IPPROTO_RAW, IPV6_HDRINCL): the
/// header crosses the loopback as written; a next header nothing takes
/// draws a parameter problem at its offset, unless a raw socket of that
/// protocol takes the packet; a bad version or a payload length past the
/// packet is dropped, a shorter one trims it.
static void raw6_hdrincl(void) {
    struct sockaddr_in6 lo6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int icmp6 = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    int r = socket(AF_INET6, SOCK_RAW, IPPROTO_RAW);
    int v = -1; socklen_t vl = sizeof v;
    show("raw6 IPV6_HDRINCL get", getsockopt(r, IPPROTO_IPV6, 36 /* IPV6_HDRINCL */, &v, &vl));
    printf("  IPPROTO_RAW's IPV6_HDRINCL %d\n", v);
    int u = socket(AF_INET6, SOCK_DGRAM, 0);
    show("udp6 IPV6_HDRINCL get", getsockopt(u, IPPROTO_IPV6, 36, &v, &vl));
    close(u);
    uint8_t pkt[56] = {0}, buf[256];
    pkt[0] = 0x60; pkt[5] = 8; pkt[6] = 253; pkt[7] = 33; pkt[23] = 1; pkt[39] = 1;   // ::1 to ::1, 8 bytes
    memcpy(pkt + 40, "sentry!!", 8);
    show("raw6 short header", sendto(r, pkt, 39, 0, (struct sockaddr *)&lo6, sizeof lo6));
    show("raw6 next header 253", sendto(r, pkt, 48, 0, (struct sockaddr *)&lo6, sizeof lo6));
    icmp6_next(icmp6, "icmp6 sees");
    int r253 = socket(AF_INET6, SOCK_RAW, 253);
    show("with a raw6 253 socket", sendto(r, pkt, 48, 0, (struct sockaddr *)&lo6, sizeof lo6));
    printf("parameter problem: %s\n", readable(icmp6, 300) ? "yes" : "no");
    ssize_t n = recv(r253, buf, sizeof buf, MSG_DONTWAIT);
    show("the raw6 253 socket got", n);
    if (n > 0) printf("  %.*s\n", (int)n, buf);
    pkt[5] = 4;
    show("payload length 4 of 8", sendto(r, pkt, 48, 0, (struct sockaddr *)&lo6, sizeof lo6));
    show("the raw6 253 socket got", recv(r253, buf, sizeof buf, MSG_DONTWAIT));
    pkt[5] = 16;
    show("payload length 16 of 8", sendto(r, pkt, 48, 0, (struct sockaddr *)&lo6, sizeof lo6));
    show("the raw6 253 socket got", recv(r253, buf, sizeof buf, MSG_DONTWAIT));
    pkt[5] = 8; pkt[0] = 0x40;
    show("version 4", sendto(r, pkt, 48, 0, (struct sockaddr *)&lo6, sizeof lo6));
    show("the raw6 253 socket got", recv(r253, buf, sizeof buf, MSG_DONTWAIT));
    pkt[0] = 0x60;
    close(r253);

    // Without IPV6_HDRINCL an IPPROTO_RAW socket's sin6_port names the next header.
    int off = 0;
    show("IPV6_HDRINCL short value", setsockopt(r, IPPROTO_IPV6, 36, &off, 2));
    show("IPV6_HDRINCL off", setsockopt(r, IPPROTO_IPV6, 36, &off, sizeof off));
    struct sockaddr_in6 to = lo6;
    to.sin6_port = htons(252);
    show("sin6_port 252 send", sendto(r, "sentry!!", 8, 0, (struct sockaddr *)&to, sizeof to));
    icmp6_next(icmp6, "icmp6 sees");
    to.sin6_port = htons(256);
    show("sin6_port 256 send", sendto(r, "sentry!!", 8, 0, (struct sockaddr *)&to, sizeof to));
    int r17 = socket(AF_INET6, SOCK_RAW, IPPROTO_UDP);
    to.sin6_port = htons(252);
    show("udp raw6 sin6_port 252", sendto(r17, "sentry!!", 8, 0, (struct sockaddr *)&to, sizeof to));
    close(r17);
    close(r);
    close(icmp6);
}

/// A TCP segment from 127.0.0.1:4242 (or ::1) to `port`, its checksum over
/// the pseudo-header unless `bad`.
static size_t tcp_segment(uint8_t *d, int v6, uint16_t port, uint8_t flags, uint32_t seq, uint32_t ack,
                          const char *data, int bad) {
    size_t n = 20 + strlen(data);
    memset(d, 0, 20);
    d[0] = 4242 >> 8; d[1] = 4242 & 0xff; d[2] = port >> 8; d[3] = port & 0xff;
    for (int i = 0; i < 4; i++) { d[4 + i] = seq >> (24 - 8 * i); d[8 + i] = ack >> (24 - 8 * i); }
    d[12] = 5 << 4; d[13] = flags; d[14] = 0x04;   // window 1024
    memcpy(d + 20, data, strlen(data));
    uint8_t ph[40 + 128] = {0};
    size_t pl;
    if (v6) { ph[15] = 1; ph[31] = 1; ph[34] = n >> 8; ph[35] = n & 0xff; ph[39] = IPPROTO_TCP; pl = 40; }
    else { ph[0] = 127; ph[3] = 1; ph[4] = 127; ph[7] = 1; ph[9] = IPPROTO_TCP; ph[10] = n >> 8; ph[11] = n & 0xff; pl = 12; }
    memcpy(ph + pl, d, n);
    uint16_t c = checksum(ph, pl + n);
    memcpy(d + 16, &c, 2);
    if (bad) d[16] ^= 0x55;
    return n;
}

/// Describes the next TCP segment a raw TCP socket reads (IPv4: with its IP
/// header), ports as "us" (4242) or "them".
static void tcp_next(int s, int v6, const char *what) {
    if (!readable(s, 1000)) { printf("%s: nothing\n", what); return; }
    uint8_t buf[256];
    ssize_t n = recv(s, buf, sizeof buf, 0);
    int ihl = v6 ? 0 : (buf[0] & 0x0f) * 4;
    if (n < ihl + 20) { show(what, n); return; }
    uint8_t *t = buf + ihl;
    uint32_t seq = (uint32_t)t[4] << 24 | t[5] << 16 | t[6] << 8 | t[7], ack = (uint32_t)t[8] << 24 | t[9] << 16 | t[10] << 8 | t[11];
    int sport = t[0] << 8 | t[1];
    printf("%s: %zd bytes", what, n);
    if (!v6) {
        struct iphdr *ip = (struct iphdr *)buf;
        printf(", ttl %d tos %#x df %d id %s hdrsum ok %d", ip->ttl, ip->tos, !!(ntohs(ip->frag_off) & 0x4000),
               ip->id ? "set" : "0", checksum(buf, ihl) == 0);
    }
    printf(", from %s, flags %#x seq %u ack %u doff %d window %d\n", sport == 4242 ? "us" : "them", t[13], seq, ack,
           t[12] >> 4, t[14] << 8 | t[15]);
}

/// A raw socket's TCP segments reach the loopback's TCP: one that finds no
/// socket is answered with a reset (tcp_v4_send_reset: ack of what it
/// carried, or the sequence number it acknowledged), which raw TCP sockets
/// see after the segment itself; a bad checksum or a reset draws nothing.
static void raw_tcp(int v6) {
    int probe = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    struct sockaddr *a = v6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4;
    socklen_t al = v6 ? sizeof a6 : sizeof a4;
    if (bind(probe, a, al)) { printf("raw tcp%s: no loopback\n", v6 ? "6" : ""); close(probe); return; }
    getsockname(probe, a, &al);
    uint16_t closed = ntohs(v6 ? a6.sin6_port : a4.sin_port);
    close(probe);
    if (v6) a6.sin6_port = 0; else a4.sin_port = 0;
    const char *tag = v6 ? "raw tcp6" : "raw tcp";
    char what[64];
    int r = socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW, IPPROTO_TCP);
    uint8_t d[64];
    struct { uint8_t flags; uint32_t seq, ack; const char *data; int bad; const char *name; } cases[] = {
        {0x02, 1000, 0, "", 0, "SYN"},
        {0x19, 2000, 7777, "sentry!!", 0, "ACK|PSH|FIN with 8 bytes"},
        {0x01, 3000, 0, "abc", 0, "FIN with 3 bytes"},
        {0x02, 4000, 0, "", 1, "SYN, bad checksum"},
        {0x04, 5000, 0, "", 0, "RST"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = tcp_segment(d, v6, closed, cases[i].flags, cases[i].seq, cases[i].ack, cases[i].data, cases[i].bad);
        snprintf(what, sizeof what, "%s %s", tag, cases[i].name);
        show(what, sendto(r, d, n, 0, a, al));
        tcp_next(r, v6, "  sees");
        tcp_next(r, v6, "  then");
    }
    close(r);
}

static void refusals(void) {
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) || setgid(4294967294u) || setuid(65534)) { perror("drop"); _exit(1); }
        show("nobody raw", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
        show("nobody raw6", socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6));
        show("nobody ping", socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP));
        show("nobody ping6", socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6));
        fflush(stdout);
        _exit(0);
    }
    int st; waitpid(pid, &st, 0);
}

static void ping_tests(void) {
    int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    show("ping socket", s >= 0 ? 0 : -1);
    if (s < 0) return;
    int v = -1; socklen_t l = sizeof v;
    getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l); printf("SO_TYPE %d\n", v);
    getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &l); printf("SO_PROTOCOL %d\n", v);
    struct sockaddr_in me; socklen_t ml = sizeof me;
    getsockname(s, (struct sockaddr *)&me, &ml);
    printf("unbound port %d\n", ntohs(me.sin_port));
    uint8_t req[64], rep[64];
    struct sockaddr_in to = lo4(0);
    show("ping send reply type", sendto(s, req, echo(req, ICMP_ECHOREPLY, 0, 1, 0), 0, (struct sockaddr *)&to, sizeof to));
    show("ping send short", sendto(s, req, 4, 0, (struct sockaddr *)&to, sizeof to));
    show("ping send no address", send(s, req, echo(req, ICMP_ECHO, 0, 1, 0), 0));
    ml = sizeof me;
    getsockname(s, (struct sockaddr *)&me, &ml);
    uint16_t ident = ntohs(me.sin_port);
    printf("autobound: identifier set %d\n", ident != 0);
    show("ping send", sendto(s, req, echo(req, ICMP_ECHO, 0x4321, 7, 0), 0, (struct sockaddr *)&to, sizeof to));
    struct sockaddr_in from; socklen_t fl = sizeof from;
    ssize_t n = recvfrom(s, rep, sizeof rep, 0, (struct sockaddr *)&from, &fl);
    show("ping recv", n);
    if (n >= 8)
        printf("reply type %d code %d id is ours %d seq %d sum ok %d data %.8s from %s port %d\n", rep[0], rep[1],
               (rep[4] << 8 | rep[5]) == ident, rep[6] << 8 | rep[7], checksum(rep, n) == 0, rep + 8,
               inet_ntoa(from.sin_addr), ntohs(from.sin_port));
    show("bind again", bind(s, (struct sockaddr *)&to, sizeof to));
    close(s);

    // Bound to an identifier; connected; MSG_TRUNC.
    s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    struct sockaddr_in b = lo4(4242);
    show("ping bind 4242", bind(s, (struct sockaddr *)&b, sizeof b));
    int s2 = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    show("second bind 4242", bind(s2, (struct sockaddr *)&b, sizeof b));
    close(s2);
    struct sockaddr_in far = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000001)};
    show("ping bind 10.0.0.1", bind(socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), (struct sockaddr *)&far, sizeof far));
    show("ping connect", connect(s, (struct sockaddr *)&to, sizeof to));
    show("ping send connected", send(s, req, echo(req, ICMP_ECHO, 0, 9, 0), 0));
    n = recv(s, rep, 4, MSG_TRUNC);
    show("ping recv trunc", n);
    show("nothing more", recv(s, rep, sizeof rep, MSG_DONTWAIT));
    close(s);

    int s6 = socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
    show("ping6 socket", s6 >= 0 ? 0 : -1);
    if (s6 < 0) return;
    struct sockaddr_in6 to6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    show("ping6 send", sendto(s6, req, echo(req, ICMP6_ECHO_REQUEST, 0, 5, 0), 0, (struct sockaddr *)&to6, sizeof to6));
    if (readable(s6, 2000)) {
        struct sockaddr_in6 f6; socklen_t f6l = sizeof f6;
        n = recvfrom(s6, rep, sizeof rep, 0, (struct sockaddr *)&f6, &f6l);
        char txt[64];
        inet_ntop(AF_INET6, &f6.sin6_addr, txt, sizeof txt);
        printf("ping6 reply %zd type %d seq %d data %.8s from %s\n", n, rep[0], rep[6] << 8 | rep[7], rep + 8, txt);
    } else {
        printf("ping6: no reply (no ::1 here?)\n");
    }
    close(s6);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "ping") == 0) { ping_tests(); return 0; }
    raw_tests();
    udp_refused();
    raw_udp();
    udp_late_checksum();
    raw_udp6();
    raw6_hdrincl();
    raw_tcp(0);
    raw_tcp(1);
    refusals();
    return 0;
}
