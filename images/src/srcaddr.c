// The local address a loopback socket bound to the wildcard (or not bound)
// takes when it connects or sends to 127.x.y.z: the local route's preferred
// source, 127.0.0.1 (ip_route_output's fib_prefsrc), as the peer sees it
// too; a UDP disconnect takes it back. Compared with Linux's output.
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
static void udp(void) {
    const char *dests[] = { "127.0.0.2", "127.1.2.3", "127.0.0.1" };
    for (int i = 0; i < 3; i++) {
        int r = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET };
        inet_pton(AF_INET, dests[i], &a.sin_addr);
        socklen_t n = sizeof a;
        bind(r, (void *)&a, n); getsockname(r, (void *)&a, &n);
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        sendto(s, "x", 1, 0, (void *)&a, n);
        struct sockaddr_in from; socklen_t fn = sizeof from; char b;
        recvfrom(r, &b, 1, 0, (void *)&from, &fn);
        char buf[32]; inet_ntop(AF_INET, &from.sin_addr, buf, sizeof buf);
        struct sockaddr_in me; socklen_t mn = sizeof me; getsockname(s, (void *)&me, &mn);
        char mb[32]; inet_ntop(AF_INET, &me.sin_addr, mb, sizeof mb);
        printf("to %s: from %s (sender bound to %s)\n", dests[i], buf, mb);
        int c = socket(AF_INET, SOCK_DGRAM, 0);
        connect(c, (void *)&a, n);
        mn = sizeof me; getsockname(c, (void *)&me, &mn);
        inet_ntop(AF_INET, &me.sin_addr, mb, sizeof mb);
        printf("  connected UDP to %s: local %s\n", dests[i], mb);
    }
}
static void tcp(void) {
    const char *dests[] = { "127.0.0.2", "0.0.0.0" };
    for (int i = 0; i < 2; i++) {
        int l = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET };
        inet_pton(AF_INET, i == 0 ? dests[0] : "0.0.0.0", &a.sin_addr);
        socklen_t n = sizeof a;
        bind(l, (void *)&a, n); listen(l, 1); getsockname(l, (void *)&a, &n);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        connect(c, (void *)&a, n);
        int s = accept(l, NULL, NULL);
        struct sockaddr_in me, peer; socklen_t mn = sizeof me, pn = sizeof peer;
        getsockname(c, (void *)&me, &mn); getpeername(s, (void *)&peer, &pn);
        char mb[32], pb[32]; inet_ntop(AF_INET, &me.sin_addr, mb, 32); inet_ntop(AF_INET, &peer.sin_addr, pb, 32);
        struct sockaddr_in sl; socklen_t sn = sizeof sl; getsockname(s, (void *)&sl, &sn); char sb[32]; inet_ntop(AF_INET, &sl.sin_addr, sb, 32);
        printf("connect to %s: client local %s, server sees peer %s, accepted local %s\n", dests[i], mb, pb, sb);
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    udp();
    tcp();
    // AF_UNSPEC dissolves a UDP connection and the address it chose.
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9) };
    inet_pton(AF_INET, "127.0.0.5", &a.sin_addr);
    connect(c, (void *)&a, sizeof a);
    struct sockaddr_in u = { .sin_family = AF_UNSPEC };
    connect(c, (void *)&u, sizeof u);
    struct sockaddr_in me; socklen_t mn = sizeof me; getsockname(c, (void *)&me, &mn);
    char mb[32]; inet_ntop(AF_INET, &me.sin_addr, mb, sizeof mb);
    printf("after AF_UNSPEC: local %s, same port %d\n", mb, me.sin_port != 0);
    return 0;
}
