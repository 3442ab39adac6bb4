// tee(2) and vmsplice(2): tee duplicates a pipe's bytes into another pipe
// without consuming them; vmsplice moves user memory into a pipe opened for
// writing, or a pipe's bytes into user memory from one opened for reading.
// Their errnos in fs/splice.c's order. Compared with Linux's output.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static void check(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
    else printf("%s: %ld\n", what, r);
}

static void drain(const char *what, int fd) {
    char buf[64] = {0};
    long n = read(fd, buf, sizeof buf - 1);
    printf("%s: %ld \"%s\"\n", what, n, n > 0 ? buf : "");
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    int p[2], q[2];
    pipe(p); pipe(q);

    // tee copies without consuming.
    write(p[1], "hello ", 6);
    write(p[1], "world", 5);
    check("tee 8 of 11", tee(p[0], q[1], 8, 0));
    drain("the copy", q[0]);
    check("tee all", tee(p[0], q[1], 100, 0));
    drain("the copy", q[0]);
    drain("the original, unconsumed", p[0]);

    // Argument checks, in do_tee's order.
    check("len 0 with bad fds", tee(-1, -1, 0, 0));
    check("bad flags", tee(p[0], q[1], 1, 0x10));
    check("bad input fd", tee(99, q[1], 1, 0));
    check("bad output fd", tee(p[0], 99, 1, 0));
    check("input is a write end", tee(p[1], q[1], 1, 0));
    check("output is a read end", tee(p[0], q[0], 1, 0));
    check("a pipe into itself", tee(p[0], p[1], 1, 0));
    int f = open("/proc/self/status", O_RDONLY);
    check("a file as input", tee(f, q[1], 1, 0));
    check("empty, SPLICE_F_NONBLOCK", tee(p[0], q[1], 1, SPLICE_F_NONBLOCK));
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    check("empty, O_NONBLOCK input", tee(p[0], q[1], 1, 0));
    fcntl(p[0], F_SETFL, 0);

    // A full output pipe: EAGAIN without waiting.
    int r[2];
    pipe(r);
    fcntl(r[1], F_SETPIPE_SZ, 4096);
    fcntl(r[1], F_SETFL, O_NONBLOCK);
    char page[4096];
    memset(page, 'z', sizeof page);
    check("fill the output", write(r[1], page, sizeof page));
    write(p[1], "abc", 3);
    check("full output, SPLICE_F_NONBLOCK", tee(p[0], r[1], 3, SPLICE_F_NONBLOCK));
    check("full output, O_NONBLOCK output", tee(p[0], r[1], 3, 0));
    close(r[0]);
    check("no reader left", tee(p[0], r[1], 3, 0));
    close(r[1]);
    drain("the input still", p[0]);

    // No writer left and nothing buffered: 0 at once.
    int s[2];
    pipe(s);
    close(s[1]);
    check("empty, no writer", tee(s[0], q[1], 5, 0));

    // vmsplice into a pipe: gathered from the iovecs.
    struct iovec iov[3] = {{"abc", 3}, {"", 0}, {"def", 3}};
    check("vmsplice in", vmsplice(q[1], iov, 3, 0));
    check("vmsplice in with SPLICE_F_GIFT", vmsplice(q[1], iov, 1, SPLICE_F_GIFT));
    drain("the pipe", q[0]);
    // vmsplice out of a pipe: scattered to the iovecs.
    write(q[1], "0123456789", 10);
    char a[4] = {0}, b[4] = {0};
    struct iovec out[2] = {{a, 3}, {b, 3}};
    check("vmsplice out", vmsplice(q[0], out, 2, 0));
    printf("a=\"%s\" b=\"%s\"\n", a, b);
    drain("left", q[0]);
    check("vmsplice out of an empty pipe, NONBLOCK", vmsplice(q[0], out, 2, SPLICE_F_NONBLOCK));
    check("vmsplice out, no writer", vmsplice(s[0], out, 2, 0));

    // vmsplice's checks.
    check("bad flags", vmsplice(q[1], iov, 1, 0x20));
    check("bad fd", vmsplice(99, iov, 1, 0));
    check("a file", vmsplice(f, iov, 1, 0));
    struct iovec none = {a, 0};
    check("a file, nothing to move", vmsplice(f, &none, 1, 0));
    check("1025 iovecs", vmsplice(q[1], iov, 1025, 0));
    check("no iovecs", vmsplice(q[1], iov, 0, 0));
    struct iovec bad = {(void *)8, 4};
    check("a bad address in", vmsplice(q[1], &bad, 1, 0));
    check("a bad vector", vmsplice(q[1], (struct iovec *)8, 1, 0));
    int t[2];
    pipe(t);
    close(t[0]);
    check("in, no reader", vmsplice(t[1], iov, 1, 0));
    return 0;
}
