// Sockets beyond the sandbox (--network=host) and the sandbox's own
// /proc/net. `client PORT` talks to a server on 127.0.0.1:PORT; `server
// PORT` listens there and answers one client; `proc` lists its own sockets
// through /proc/net. Bounded waits only: every blocking call has a timeout.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stddef.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static struct sockaddr_in loopback(unsigned short port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return a;
}

static void timeouts(int s, int seconds) {
    struct timeval tv = {.tv_sec = seconds};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int client(unsigned short port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeouts(s, 10);
    int on = 1, v = 0; socklen_t vl = sizeof v;
    show("setsockopt TCP_NODELAY", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on));
    getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &vl);
    printf("TCP_NODELAY: %d\n", v != 0);
    struct sockaddr_in a = loopback(port);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) { show("connect", -1); return 0; }
    show("connect", 0);
    struct sockaddr_in p; socklen_t pl = sizeof p;
    getpeername(s, (struct sockaddr *)&p, &pl);
    printf("peer is the server: %d\n", ntohs(p.sin_port) == port && p.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    show("send", send(s, "ping\n", 5, 0));
    struct pollfd pf = {.fd = s, .events = POLLIN};
    show("poll", poll(&pf, 1, 10000));
    char buf[64] = {0};
    long n = recv(s, buf, sizeof buf - 1, MSG_WAITALL);
    printf("got: %s", n > 0 ? buf : "nothing\n");
    v = -1; vl = sizeof v;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &v, &vl);
    printf("SO_ERROR: %d\n", v);
    close(s);
    return 0;
}

static int server(unsigned short port) {
    int l = socket(AF_INET, SOCK_STREAM, 0), on = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    timeouts(l, 20);
    struct sockaddr_in a = loopback(port);
    show("bind", bind(l, (struct sockaddr *)&a, sizeof a));
    show("listen", listen(l, 4));
    struct sockaddr_in name; socklen_t nl = sizeof name;
    getsockname(l, (struct sockaddr *)&name, &nl);
    printf("bound to the port: %d\n", ntohs(name.sin_port) == port);
    int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    show("accept", c < 0 ? -1 : 0);
    if (c < 0) return 1;
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
    show("epoll_wait", epoll_wait(ep, &ev, 1, 10000));
    char buf[64] = {0};
    long n = read(c, buf, sizeof buf - 1);
    printf("got: %s", n > 0 ? buf : "nothing\n");
    show("write", write(c, "pong\n", 5));
    shutdown(c, SHUT_WR);
    n = read(c, buf, sizeof buf);   // the client's close
    show("read at end", n);
    return 0;
}

/// Whether /proc/net/FILE has a line holding every one of `needles`.
static int listed(const char *file, const char *a, const char *b) {
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/net/%s", file);
    FILE *f = fopen(path, "r");
    if (!f) { printf("%s: %s\n", path, strerrorname_np(errno)); return 0; }
    int found = 0;
    while (fgets(line, sizeof line, f)) if (strstr(line, a) && (!b || strstr(line, b))) found = 1;
    fclose(f);
    return found;
}

static int proc(void) {
    unsigned short port;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(0);
    bind(l, (struct sockaddr *)&a, sizeof a);
    listen(l, 4);
    socklen_t al = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &al);
    port = ntohs(a.sin_port);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    a = loopback(port);
    connect(c, (struct sockaddr *)&a, sizeof a);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in ua = loopback(0);
    bind(u, (struct sockaddr *)&ua, sizeof ua);
    al = sizeof ua;
    getsockname(u, (struct sockaddr *)&ua, &al);
    int x = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un xa = {.sun_family = AF_UNIX};
    memcpy(xa.sun_path, "\0hostnet-test", 13);
    bind(x, (struct sockaddr *)&xa, offsetof(struct sockaddr_un, sun_path) + 13);
    listen(x, 1);

    char mine[32], dest[32];
    snprintf(mine, sizeof mine, " 0100007F:%04X 00000000:0000 0A ", port);
    printf("tcp listener: %d\n", listed("tcp", mine, NULL));
    snprintf(dest, sizeof dest, ":%04X 01 ", port);
    printf("tcp connection: %d\n", listed("tcp", "0100007F:", dest));
    printf("tcp header: %d\n", listed("tcp", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode", NULL));
    snprintf(mine, sizeof mine, " 0100007F:%04X 00000000:0000 07 ", ntohs(ua.sin_port));
    printf("udp socket: %d\n", listed("udp", mine, NULL));
    printf("unix listener: %d\n", listed("unix", " 00010000 0001 01 ", "@hostnet-test"));
    printf("unix header: %d\n", listed("unix", "Num       RefCount Protocol Flags    Type St Inode Path", NULL));
    printf("dev lo: %d\n", listed("dev", "    lo: ", NULL));
    printf("tcp6 header: %d\n", listed("tcp6", "  sl  local_address                         remote_address", NULL));
    printf("udp6 header: %d\n", listed("udp6", "  sl  local_address                         remote_address", NULL));
    return 0;
}

static int alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

static void arm(int restart) {
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = restart ? SA_RESTART : 0};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {.it_value = {.tv_usec = 100000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

/// Blocking calls on a socket and signals: EINTR without SA_RESTART, a
/// restart with it, EAGAIN when SO_RCVTIMEO runs out, EINPROGRESS then
/// SO_ERROR for a non-blocking connect. Deterministic, so it matches native.
static int intr(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(0);
    bind(l, (struct sockaddr *)&a, sizeof a);
    listen(l, 4);
    socklen_t al = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &al);
    arm(0);
    show("accept, interrupted", accept(l, NULL, NULL));
    struct timeval tv = {.tv_usec = 200000};
    setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    show("accept, timed out", accept(l, NULL, NULL));
    // The alarm, not the timeout, must end this one: a timeout far longer
    // than the alarm keeps a loaded host from reordering them.
    tv = (struct timeval){.tv_sec = 10};
    setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    arm(1);
    show("accept, SA_RESTART but SO_RCVTIMEO", accept(l, NULL, NULL));
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show("non-blocking connect", connect(c, (struct sockaddr *)&a, sizeof a));
    struct pollfd pf = {.fd = c, .events = POLLOUT};
    show("poll", poll(&pf, 1, 5000));
    int e = -1; socklen_t el = sizeof e;
    getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el);
    printf("SO_ERROR: %d\n", e);
    int s = accept(l, NULL, NULL);
    show("accept", s < 0 ? -1 : 0);
    char buf[16];
    show("recv MSG_DONTWAIT", recv(s, buf, sizeof buf, MSG_DONTWAIT));
    struct timeval got = {0}; socklen_t gl = sizeof got;
    getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &got, &gl);
    printf("accepted socket inherits SO_RCVTIMEO: %d\n", got.tv_sec == 10 && got.tv_usec == 0);
    struct timeval none = {0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
    pid_t child = fork();
    if (child == 0) { usleep(300000); write(c, "late", 4); _exit(0); }
    arm(1);
    show("recv, restarted", recv(s, buf, sizeof buf, 0));
    waitpid(child, NULL, 0);
    write(c, "zz", 2);
    usleep(100000);
    show("recv into a bad buffer", recv(s, (void *)8, 4, 0));
    close(c);
    signal(SIGPIPE, SIG_IGN);
    usleep(100000);
    write(s, "x", 1);   // the peer is gone: a reset comes back
    usleep(100000);
    show("send after reset", send(s, "y", 1, 0));
    printf("alarms: %d\n", alarms);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 3 && !strcmp(argv[1], "client")) return client((unsigned short)atoi(argv[2]));
    if (argc == 3 && !strcmp(argv[1], "server")) return server((unsigned short)atoi(argv[2]));
    if (argc == 2 && !strcmp(argv[1], "proc")) return proc();
    if (argc == 2 && !strcmp(argv[1], "intr")) return intr();
    fprintf(stderr, "usage: hostnet client PORT | server PORT | proc | intr\n");
    return 2;
}
