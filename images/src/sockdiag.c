// NETLINK_SOCK_DIAG as iproute2's ss reads it: sets up TCP listeners on
// 127.0.0.1 and ::, a connection with unread bytes, a bound UDP socket and
// AF_UNIX listeners and pairs, then runs ss (argv[1..]) and waits for it.
// Compared with the native run (ss's lines sorted: the kernel's hash order
// is its own).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int tcp_listener(int family, int port) {
    int s = socket(family, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (bind(s, (struct sockaddr *)&a, sizeof a)) { perror("bind"); exit(1); }
    } else {
        setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        if (bind(s, (struct sockaddr *)&a, sizeof a)) { perror("bind6"); exit(1); }
    }
    listen(s, 7);
    return s;
}

int main(int argc, char **argv) {
    int l4 = tcp_listener(AF_INET, 47011);
    tcp_listener(AF_INET6, 47012);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(47011), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(47013), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(c, (struct sockaddr *)&from, sizeof from);
    if (connect(c, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return 1; }
    int srv = accept(l4, NULL, NULL);
    write(c, "hello", 5);   // unread at the server's end: its Recv-Q
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in ua = {.sin_family = AF_INET, .sin_port = htons(47014), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(u, (struct sockaddr *)&ua, sizeof ua);
    int ul = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    strcpy(un.sun_path + 1, "sockdiag-test");
    bind(ul, (struct sockaddr *)&un, offsetof(struct sockaddr_un, sun_path) + 1 + strlen("sockdiag-test"));
    listen(ul, 3);
    (void)srv;
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) { execv("/usr/bin/ss", argv + 1); perror("exec ss"); _exit(127); }
    int st;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
