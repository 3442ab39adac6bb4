// AF_INET on the loopback: TCP ports, connect/accept, non-blocking connect,
// half-close, reset, UDP datagrams, options and errnos. Prints no port
// numbers, so the native run and the sandbox's agree.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static struct sockaddr_in loopback(unsigned short port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return a;
}

static unsigned short port_of(int s) {
    struct sockaddr_in a; socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    return ntohs(a.sin_port);
}

static int listener(unsigned short *port) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(0);
    bind(l, (struct sockaddr *)&a, sizeof a);
    listen(l, 8);
    *port = port_of(l);
    return l;
}

// sendfile into a non-blocking socket until it says EAGAIN: the file's
// position stays with what was sent, and the reader gets every byte (Go's
// io.Copy to a TCP connection). Then a peer that has closed: a writer is
// told (EPIPE or ECONNRESET) within a few writes, not after a gigabyte.
static void full_socket_and_closed_peer(void) {
    unsigned short port;
    int l = listener(&port);
    struct sockaddr_in a = loopback(port);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    int s = accept(l, NULL, NULL);
    close(l);
    char path[] = "/tmp/inetsock.XXXXXX";
    int f = mkstemp(path);
    unlink(path);
    static char block[1 << 16];
    for (int i = 0; i < 256; i++) { memset(block, i, sizeof block); write(f, block, sizeof block); }   // 16 MiB
    lseek(f, 0, SEEK_SET);
    fcntl(c, F_SETFL, O_NONBLOCK);
    long sent = 0, r;
    while ((r = sendfile(c, f, NULL, 1 << 20)) > 0) sent += r;
    printf("sendfile until %s: position follows what was sent: %d\n", strerrorname_np(errno), lseek(f, 0, SEEK_CUR) == sent);
    long got = 0;
    fcntl(s, F_SETFL, O_NONBLOCK);
    // Loopback TCP may still be moving bytes natively (softirq): wait for them.
    while (got < sent) {
        struct pollfd p = {s, POLLIN, 0};
        if (poll(&p, 1, 2000) != 1 || (r = read(s, block, sizeof block)) <= 0) break;
        got += r;
    }
    printf("the reader got every byte sent: %d\n", got == sent);
    close(f);

    close(s);
    usleep(20000);
    static char big[8 << 20];
    int failed = 0, tries = 0;
    long first = -1;
    for (; tries < 20 && !failed; tries++) {
        r = send(c, big, sizeof big, MSG_NOSIGNAL);
        if (first < 0) first = r;
        if (r < 0 && errno == EAGAIN) { struct pollfd p = {c, POLLOUT, 0}; poll(&p, 1, 100); continue; }
        if (r < 0) failed = errno;
    }
    printf("to a closed peer: the first write takes less than 8 MiB: %d; then %s\n", first < (long)sizeof big,
           failed == EPIPE || failed == ECONNRESET ? "EPIPE or ECONNRESET" : "no error");
    close(c);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    unsigned short port;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(0);
    show("bind 127.0.0.1:0", bind(l, (struct sockaddr *)&a, sizeof a));
    port = port_of(l);
    printf("  ephemeral port in range: %d\n", port >= 1024);
    show("bind again", bind(l, (struct sockaddr *)&a, sizeof a));
    int l2 = socket(AF_INET, SOCK_STREAM, 0);
    a = loopback(port);
    show("bind taken port", bind(l2, (struct sockaddr *)&a, sizeof a));
    show("listen", listen(l, 4));
    int on = 1; socklen_t ol = sizeof on;
    getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &on, &ol); printf("  SO_ACCEPTCONN %d\n", on);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    show("connect", connect(c, (struct sockaddr *)&a, sizeof a));
    struct sockaddr_in peer; socklen_t pl = sizeof peer;
    int s = accept(l, (struct sockaddr *)&peer, &pl);
    printf("accept: peer len %d family %d addr %s port matches %d\n", pl, peer.sin_family, inet_ntoa(peer.sin_addr), ntohs(peer.sin_port) == port_of(c));
    struct sockaddr_in me; socklen_t ml = sizeof me;
    getsockname(s, (struct sockaddr *)&me, &ml);
    printf("  server side name %s same port %d\n", inet_ntoa(me.sin_addr), ntohs(me.sin_port) == port);
    pl = sizeof peer;
    getpeername(c, (struct sockaddr *)&peer, &pl);
    printf("  client's peer port matches %d\n", ntohs(peer.sin_port) == port);
    int v; socklen_t vl = sizeof v;
    getsockopt(c, SOL_SOCKET, SO_TYPE, &v, &vl); printf("  SO_TYPE %d\n", v);
    getsockopt(c, SOL_SOCKET, SO_PROTOCOL, &v, &vl); printf("  SO_PROTOCOL %d\n", v);
    getsockopt(c, SOL_SOCKET, SO_DOMAIN, &v, &vl); printf("  SO_DOMAIN %d\n", v);
    v = 1; show("TCP_NODELAY", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v));
    getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &vl); printf("  reads %d\n", v);
    v = 1; show("SO_KEEPALIVE", setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v));
    getsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &v, &vl); printf("  reads %d\n", v);
    getsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &v, &vl); printf("  TCP_KEEPIDLE %d\n", v);
    show("unknown TCP option", setsockopt(c, IPPROTO_TCP, 999, &v, sizeof v));
    show("unknown IP option", getsockopt(c, IPPROTO_IP, 999, &v, &vl));
    // IPv4 options as do_ip_setsockopt checks them (Go's net tests set IP_TTL).
    vl = sizeof v; getsockopt(c, IPPROTO_IP, IP_TTL, &v, &vl); printf("  IP_TTL %d\n", v);
    v = 1; show("IP_TTL 1", setsockopt(c, IPPROTO_IP, IP_TTL, &v, sizeof v));
    vl = sizeof v; getsockopt(c, IPPROTO_IP, IP_TTL, &v, &vl); printf("  reads %d\n", v);
    v = 256; show("IP_TTL 256", setsockopt(c, IPPROTO_IP, IP_TTL, &v, sizeof v));
    v = 0; show("IP_TTL 0", setsockopt(c, IPPROTO_IP, IP_TTL, &v, sizeof v));
    v = -1; show("IP_TTL -1", setsockopt(c, IPPROTO_IP, IP_TTL, &v, sizeof v));
    vl = sizeof v; getsockopt(c, IPPROTO_IP, IP_TTL, &v, &vl); printf("  reads %d\n", v);
    unsigned char ttl = 9; show("IP_TTL as a byte", setsockopt(c, IPPROTO_IP, IP_TTL, &ttl, 1));
    vl = sizeof v; getsockopt(c, IPPROTO_IP, IP_TTL, &v, &vl); printf("  reads %d\n", v);
    v = 0x1ff; show("IP_TOS 0x1ff", setsockopt(c, IPPROTO_IP, IP_TOS, &v, sizeof v));
    vl = sizeof v; getsockopt(c, IPPROTO_IP, IP_TOS, &v, &vl); printf("  reads %#x (a stream keeps its ECN bits)\n", v);
    v = 3; show("IP_MULTICAST_TTL on a stream", setsockopt(c, IPPROTO_IP, IP_MULTICAST_TTL, &v, sizeof v));
    vl = sizeof v; getsockopt(c, IPPROTO_IP, IP_MULTICAST_LOOP, &v, &vl); printf("  IP_MULTICAST_LOOP %d\n", v);

    // Half-close: the server reads EOF and can still answer.
    write(c, "request", 7);
    shutdown(c, SHUT_WR);
    char buf[32] = {0};
    show("server reads", read(s, buf, sizeof buf));
    show("server reads EOF", read(s, buf, sizeof buf));
    show("server answers", write(s, "reply", 5));
    memset(buf, 0, sizeof buf);
    show("client reads", read(c, buf, sizeof buf));
    printf("  %s\n", buf);
    close(s);
    show("client reads EOF", read(c, buf, sizeof buf));
    close(c);

    // A write after the peer closed is taken; the peer's reset makes the next one EPIPE.
    signal(SIGPIPE, SIG_IGN);
    c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    s = accept(l, NULL, NULL);
    close(s);
    usleep(20000);
    struct pollfd fin = {c, POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&fin, 1, 0);
    printf("poll after the peer's FIN: %#x\n", fin.revents);
    show("read after FIN", read(c, buf, sizeof buf));
    show("write after FIN", write(c, "late", 4));
    usleep(20000);
    poll(&fin, 1, 0);
    printf("poll after the reset: %#x\n", fin.revents);
    show("write after reset", write(c, "later", 5));
    close(c);
    signal(SIGPIPE, SIG_DFL);

    // Close with unread data resets the connection.
    c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    s = accept(l, NULL, NULL);
    write(c, "unread", 6);
    usleep(20000);
    close(s);
    usleep(20000);
    show("read after reset", read(c, buf, sizeof buf));
    close(c);

    // Non-blocking connect: EINPROGRESS, then writable with SO_ERROR 0.
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show("non-blocking connect", connect(c, (struct sockaddr *)&a, sizeof a));
    struct pollfd p = {c, POLLOUT, 0};
    show("poll", poll(&p, 1, 1000));
    printf("  revents %#x\n", p.revents);
    int err = -1; socklen_t el = sizeof err;
    getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el); printf("  SO_ERROR %d\n", err);
    // The first connect after completion says 0, the next EISCONN (SS_CONNECTING, then SS_CONNECTED).
    show("connect again", connect(c, (struct sockaddr *)&a, sizeof a));
    show("and again", connect(c, (struct sockaddr *)&a, sizeof a));
    s = accept(l, NULL, NULL);
    close(s); close(c);
    close(l);

    // Refused, blocking and not.
    c = socket(AF_INET, SOCK_STREAM, 0);
    show("connect to closed port", connect(c, (struct sockaddr *)&a, sizeof a));
    close(c);
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show("non-blocking connect to closed port", connect(c, (struct sockaddr *)&a, sizeof a));
    p = (struct pollfd){c, POLLOUT, 0};
    poll(&p, 1, 1000);
    printf("  revents %#x\n", p.revents);
    getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el); printf("  SO_ERROR %s\n", strerrorname_np(err));
    close(c);

    // A refused non-blocking connect, retried once something listens: the
    // refusal (or ECONNABORTED once SO_ERROR took it), then a fresh connect.
    for (int takeError = 0; takeError < 2; takeError++) {
        l = socket(AF_INET, SOCK_STREAM, 0);
        a = loopback(0);
        socklen_t al = sizeof a;
        bind(l, (struct sockaddr *)&a, sizeof a);
        getsockname(l, (struct sockaddr *)&a, &al);
        c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        show("connect to a bound port", connect(c, (struct sockaddr *)&a, sizeof a));
        p = (struct pollfd){c, POLLOUT, 0};
        poll(&p, 1, 1000);
        if (takeError) { getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el); printf("  SO_ERROR %s\n", strerrorname_np(err)); }
        listen(l, 1);
        show("retry", connect(c, (struct sockaddr *)&a, sizeof a));
        show("retry again", connect(c, (struct sockaddr *)&a, sizeof a));
        p = (struct pollfd){c, POLLOUT, 0};
        poll(&p, 1, 1000);
        getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el); printf("  SO_ERROR %d\n", err);
        close(c); close(l);
    }

    // An empty send after the peer's FIN is 0 (CLOSE_WAIT still sends);
    // after our own shutdown it is EPIPE.
    l = listener(&port);
    a = loopback(port);
    c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    s = accept(l, NULL, NULL);
    close(c);
    show("read the FIN", read(s, buf, sizeof buf));
    show("empty send after the FIN", send(s, "", 0, MSG_NOSIGNAL));
    shutdown(s, SHUT_WR);
    show("empty send after SHUT_WR", send(s, "", 0, MSG_NOSIGNAL));
    close(s); close(l);

    // SO_LINGER with a zero timeout closes with a reset: the peer is
    // unconnected at once, reads what came first, then ECONNRESET, then EOF.
    l = listener(&port);
    a = loopback(port);
    c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    s = accept(l, NULL, NULL);
    struct linger lg = {1, 0};
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    send(c, "xy", 2, 0);
    close(c);
    usleep(20000);
    struct sockaddr_in pa; socklen_t pal = sizeof pa;
    show("getpeername after a reset", getpeername(s, (struct sockaddr *)&pa, &pal));
    show("read what came before", read(s, buf, sizeof buf));
    show("then", read(s, buf, sizeof buf));
    show("and then", read(s, buf, sizeof buf));
    close(s); close(l);

    // SO_REUSEADDR lets a new listener take a port whose old socket is gone.
    l = listener(&port);
    close(l);
    l = socket(AF_INET, SOCK_STREAM, 0);
    v = 1; setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v);
    a = loopback(port);
    show("rebind with SO_REUSEADDR", bind(l, (struct sockaddr *)&a, sizeof a));
    close(l);
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_ANY)};
    l = socket(AF_INET, SOCK_STREAM, 0);
    show("bind 0.0.0.0", bind(l, (struct sockaddr *)&any, sizeof any));
    listen(l, 1);
    a = loopback(port_of(l));
    c = socket(AF_INET, SOCK_STREAM, 0);
    show("connect through 127.0.0.1", connect(c, (struct sockaddr *)&a, sizeof a));
    close(c); close(l);

    // UDP keeps datagram boundaries and says who sent.
    int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
    a = loopback(0);
    bind(u1, (struct sockaddr *)&a, sizeof a);
    a = loopback(port_of(u1));
    show("sendto", sendto(u2, "first", 5, 0, (struct sockaddr *)&a, sizeof a));
    show("sendto", sendto(u2, "second!", 7, 0, (struct sockaddr *)&a, sizeof a));
    struct sockaddr_in from; socklen_t fl = sizeof from;
    show("recvfrom 3 of 5", recvfrom(u1, buf, 3, 0, (struct sockaddr *)&from, &fl));
    printf("  from %s port matches %d\n", inet_ntoa(from.sin_addr), ntohs(from.sin_port) == port_of(u2));
    show("recv whole second", recv(u1, buf, sizeof buf, 0));
    show("nothing more", recv(u1, buf, sizeof buf, MSG_DONTWAIT));
    show("send unconnected udp", send(u2, "x", 1, 0));
    show("connect udp", connect(u2, (struct sockaddr *)&a, sizeof a));
    show("send connected udp", send(u2, "x", 1, 0));
    show("recv", recv(u1, buf, sizeof buf, 0));
    pl = sizeof peer;
    show("getpeername udp", getpeername(u2, (struct sockaddr *)&peer, &pl));
    // sendmmsg and recvmmsg keep each datagram whole.
    struct mmsghdr mm[4];
    struct iovec mi[4];
    char mb[4][16];
    const char *words[3] = {"alpha", "be", "gamma!"};
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        mi[i] = (struct iovec){(void *)words[i], strlen(words[i])};
        mm[i].msg_hdr.msg_iov = &mi[i]; mm[i].msg_hdr.msg_iovlen = 1;
    }
    show("sendmmsg", sendmmsg(u2, mm, 3, 0));
    printf("  lengths %u %u %u\n", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 4; i++) {
        mi[i] = (struct iovec){mb[i], sizeof mb[i]};
        mm[i].msg_hdr.msg_iov = &mi[i]; mm[i].msg_hdr.msg_iovlen = 1;
    }
    show("recvmmsg MSG_WAITFORONE", recvmmsg(u1, mm, 4, MSG_WAITFORONE, NULL));
    printf("  lengths %u %u %u\n", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
    close(u1); close(u2);

    // The interface ioctls see lo.
    printf("if_nametoindex(lo) %u, if_indextoname(1) %s\n", if_nametoindex("lo"), if_indextoname(1, (char[IF_NAMESIZE]){0}));
    int q = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    show("SIOCGIFFLAGS", ioctl(q, SIOCGIFFLAGS, &ifr));
    printf("  up %d loopback %d running %d\n", !!(ifr.ifr_flags & IFF_UP), !!(ifr.ifr_flags & IFF_LOOPBACK), !!(ifr.ifr_flags & IFF_RUNNING));
    show("SIOCGIFMTU", ioctl(q, SIOCGIFMTU, &ifr));
    printf("  mtu %d\n", ifr.ifr_mtu);
    show("SIOCGIFADDR", ioctl(q, SIOCGIFADDR, &ifr));
    printf("  %s\n", inet_ntoa(((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr));
    struct ifreq reqs[8];
    struct ifconf conf = {.ifc_len = sizeof reqs, .ifc_req = reqs};
    show("SIOCGIFCONF", ioctl(q, SIOCGIFCONF, &conf));
    printf("  first %s %s\n", reqs[0].ifr_name, inet_ntoa(((struct sockaddr_in *)&reqs[0].ifr_addr)->sin_addr));
    strcpy(ifr.ifr_name, "nosuch0");
    show("SIOCGIFINDEX of a missing interface", ioctl(q, SIOCGIFINDEX, &ifr));
    close(q);

    // getifaddrs reads NETLINK_ROUTE dumps: lo with 127.0.0.1 and ::1.
    struct ifaddrs *ifa;
    show("getifaddrs", getifaddrs(&ifa));
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        if (strcmp(i->ifa_name, "lo") != 0) continue;
        char host[64] = "-";
        int fam = i->ifa_addr ? i->ifa_addr->sa_family : -1;
        if (fam == AF_INET || fam == AF_INET6)
            getnameinfo(i->ifa_addr, fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6), host, sizeof host, NULL, 0, NI_NUMERICHOST);
        printf("  %s family %d flags %#x %s\n", i->ifa_name, fam, i->ifa_flags, host);
    }
    freeifaddrs(ifa);
    show("netlink with an unknown protocol", socket(AF_NETLINK, SOCK_RAW, 31));

    // Bad input.
    show("socket seqpacket inet", socket(AF_INET, SOCK_SEQPACKET, 0));
    show("socket tcp with udp protocol", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
    show("socketpair inet", socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0}));
    c = socket(AF_INET, SOCK_STREAM, 0);
    show("bind short", bind(c, (struct sockaddr *)&any, 8));
    struct sockaddr_in6 six = {.sin6_family = AF_INET6};
    show("bind wrong family", bind(c, (struct sockaddr *)&six, sizeof six));
    struct sockaddr_in far = {.sin_family = AF_INET, .sin_addr.s_addr = inet_addr("10.1.2.3")};
    show("bind non-local address", bind(c, (struct sockaddr *)&far, sizeof far));
    show("recv unconnected tcp", recv(c, buf, 1, 0));
    show("send unconnected tcp", send(c, buf, 1, MSG_NOSIGNAL));
    show("shutdown unconnected tcp", shutdown(c, SHUT_RDWR));
    pl = sizeof peer;
    show("getpeername unconnected", getpeername(c, (struct sockaddr *)&peer, &pl));
    close(c);
    full_socket_and_closed_peer();
    return 0;
}
