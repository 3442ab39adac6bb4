// SO_RCVLOWAT on a TCP loopback connection and an AF_UNIX stream pair: the
// value as set and read back (0 reads 1, SO_SNDLOWAT cannot be set), a
// blocking read that waits until the mark's worth has come, a
// non-blocking one that takes what is there, and poll:
// TCP says POLLIN only once the mark's worth is queued, AF_UNIX at any byte.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static int getint(int s, int name) {
    int v = -7; socklen_t l = sizeof v;
    if (getsockopt(s, SOL_SOCKET, name, &v, &l)) return -errno;
    return v;
}

static int pollin(int s) {
    struct pollfd p = {.fd = s, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/// `r` reads what `w` writes; a child writes later so a blocking read must wait.
static void exercise(const char *kind, int r, int w) {
    printf("== %s\n", kind);
    int v = 10;
    printf("SO_RCVLOWAT default %d\n", getint(r, SO_RCVLOWAT));
    show("set SO_RCVLOWAT 10", setsockopt(r, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v));
    printf("SO_RCVLOWAT reads %d\n", getint(r, SO_RCVLOWAT));
    show("set SO_SNDLOWAT", setsockopt(r, SOL_SOCKET, SO_SNDLOWAT, &v, sizeof v));
    printf("SO_SNDLOWAT reads %d\n", getint(r, SO_SNDLOWAT));
    show("set short", setsockopt(r, SOL_SOCKET, SO_RCVLOWAT, &v, 2));

    char buf[100];
    write(w, "abcde", 5);
    usleep(50000);
    printf("5 queued: POLLIN %d\n", pollin(r));
    show("non-blocking read", recv(r, buf, sizeof buf, MSG_DONTWAIT));
    write(w, "fghij", 5);
    usleep(50000);
    show("peek", recv(r, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT));
    write(w, "klmno", 5);
    usleep(50000);
    printf("10 queued: POLLIN %d\n", pollin(r));
    show("read past the mark", recv(r, buf, sizeof buf, 0));

    // A blocking read with 4 bytes there takes them, then waits: TCP until 10
    // more have come (tcp_data_ready does not count what was taken), AF_UNIX
    // for any, until it has 10 in all. A child sends 2, 4, then 10.
    write(w, "1234", 4);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(200000); write(w, "56", 2);
        usleep(200000); write(w, "7890", 4);
        usleep(300000); write(w, "abcdefghij", 10);
        _exit(0);
    }
    ssize_t n = recv(r, buf, sizeof buf, 0);
    show("blocking read", n);
    if (n > 0) printf("  got %.*s\n", (int)n, buf);
    waitpid(pid, NULL, 0);
    usleep(50000);
    n = recv(r, buf, sizeof buf, MSG_DONTWAIT);
    show("what is left", n);
    if (n > 0) printf("  got %.*s\n", (int)n, buf);
    // A buffer shorter than the mark: the buffer is the target.
    write(w, "xyz", 3);
    show("read into 3", recv(r, buf, 3, 0));

    v = 0;
    setsockopt(r, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v);
    printf("after 0: %d\n", getint(r, SO_RCVLOWAT));
    write(w, "q", 1);
    usleep(50000);
    printf("mark 1, 1 queued: POLLIN %d\n", pollin(r));
    show("read", recv(r, buf, sizeof buf, 0));
    v = 1000;
    setsockopt(r, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v);
    // The writer goes away: end of file ends a read short of the mark.
    write(w, "end", 3);
    shutdown(w, SHUT_WR);
    usleep(50000);
    printf("EOF with 3 queued: POLLIN %d\n", pollin(r));
    show("read to EOF", recv(r, buf, sizeof buf, 0));
    show("read at EOF", recv(r, buf, sizeof buf, 0));
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    bind(l, (struct sockaddr *)&a, sizeof a);
    getsockname(l, (struct sockaddr *)&a, &al);
    listen(l, 1);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);   // no Nagle wait for the child's second write
    if (connect(c, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return 1; }
    int s = accept(l, NULL, NULL);
    exercise("TCP", s, c);
    close(s); close(c); close(l);

    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    exercise("AF_UNIX stream", sv[0], sv[1]);
    return 0;
}
