// splice(2): file to pipe at an offset (the file position untouched), pipe
// to file at an offset, pipe to pipe, and the errnos: no pipe on either
// side, an offset on a pipe, a pipe into itself, bad flags; and the bytes
// an output pipe refuses (full: EAGAIN; no reader: EPIPE) stay in the pipe. Run
// in a writable directory; compared with Linux's output.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static void check(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
    else printf("%s: %ld\n", what, r);
}

int main(int argc, char **argv) {
    if (argc > 1 && chdir(argv[1]) != 0) { perror("chdir"); return 1; }
    int p[2], q[2];
    pipe(p); pipe(q);
    int f = open("splice.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
    write(f, "0123456789abcdef", 16);
    off_t off = 3;
    check("file to pipe at 3", splice(f, &off, p[1], NULL, 5, 0));
    printf("offset now %lld, position %ld\n", (long long)off, (long)lseek(f, 0, SEEK_CUR));
    char buf[32] = {0};
    check("read the pipe", read(p[0], buf, sizeof buf - 1));
    printf("got \"%s\"\n", buf);
    write(p[1], "hello", 5);
    off = 1;
    check("pipe to file at 1", splice(p[0], NULL, f, &off, 5, 0));
    memset(buf, 0, sizeof buf);
    pread(f, buf, 8, 0);
    printf("file starts \"%s\"\n", buf);
    write(p[1], "xy", 2);
    check("pipe to pipe", splice(p[0], NULL, q[1], NULL, 10, 0));
    memset(buf, 0, sizeof buf);
    read(q[0], buf, sizeof buf - 1);
    printf("got \"%s\"\n", buf);
    check("empty pipe, SPLICE_F_NONBLOCK", splice(p[0], NULL, q[1], NULL, 10, SPLICE_F_NONBLOCK));
    check("no pipe", splice(f, NULL, f, NULL, 3, 0));
    off = 0;
    check("an offset on a pipe", splice(p[0], &off, q[1], NULL, 3, 0));
    check("a pipe into itself", splice(p[0], NULL, p[1], NULL, 3, 0));
    check("bad flags", splice(p[0], NULL, q[1], NULL, 3, 0x100));
    check("length 0", splice(f, NULL, p[1], NULL, 0, 0));
    unlink("splice.dat");

    signal(SIGPIPE, SIG_IGN);
    int o[2];
    pipe(o);
    fcntl(o[1], F_SETFL, O_NONBLOCK);
    static char fill[4096];
    long filled = 0, w;
    while ((w = write(o[1], fill, sizeof fill)) > 0) filled += w;
    printf("output pipe full: %s\n", filled > 0 && errno == EAGAIN ? "yes" : "no");
    fcntl(o[1], F_SETFL, 0);
    write(p[1], "keepme", 6);
    check("pipe to a full pipe, SPLICE_F_NONBLOCK", splice(p[0], NULL, o[1], NULL, 6, SPLICE_F_NONBLOCK));
    close(o[0]);
    check("pipe to a pipe with no reader", splice(p[0], NULL, o[1], NULL, 6, SPLICE_F_NONBLOCK));
    memset(buf, 0, sizeof buf);
    check("the pipe still holds", read(p[0], buf, sizeof buf - 1));
    printf("got \"%s\"\n", buf);
    return 0;
}
