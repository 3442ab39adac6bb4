// A guest for checkpoint/restore: the numbers the sandbox hands out go on
// across a restore. It takes one of each (an AF_UNIX socket's inode, an
// autobind name, an ephemeral TCP port on the loopback, a tmpfs file's and
// a memfd's inode numbers) and lets them go (so the next ones are not
// those of the objects a restore makes again), takes one of each and keeps
// them, reads its start time from /proc/self/stat,
// sleeps SECONDS (default 2; the checkpoint comes then), takes one of each
// again and prints them all: a restored run prints what an uninterrupted
// one does, its start time unchanged.
//   ckptids [SECONDS]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct ids { unsigned long sock, tmpfs, memfd; char autobind[16]; int port; unsigned long long start; };

static unsigned long ino(int fd) { struct stat st; return fstat(fd, &st) == 0 ? (unsigned long)st.st_ino : 0; }

// Field 22 of /proc/self/stat: the start time in clock ticks after boot.
static unsigned long long start_time(void) {
    char b[1024] = "";
    int fd = open("/proc/self/stat", O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n <= 0) return 0;
    b[n] = 0;
    char *p = strrchr(b, ')');
    unsigned long long v = 0;
    // After the comm: state is field 3, so starttime is the 20th field after ')'.
    for (int field = 2; p && field < 22; field++) p = strchr(p + 1, ' ');
    if (p) v = strtoull(p + 1, NULL, 10);
    return v;
}

static void take(struct ids *x, int round, int keep) {
    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    x->sock = ino(u);
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    socklen_t len = sizeof un;
    x->autobind[0] = 0;
    if (bind(u, (struct sockaddr *)&un, sizeof(sa_family_t)) == 0 && getsockname(u, (struct sockaddr *)&un, &len) == 0 && len > 3)
        snprintf(x->autobind, sizeof x->autobind, "%.*s", (int)(len - sizeof(sa_family_t) - 1), un.sun_path + 1);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    len = sizeof in;
    x->port = bind(t, (struct sockaddr *)&in, sizeof in) == 0 && getsockname(t, (struct sockaddr *)&in, &len) == 0 ? ntohs(in.sin_port) : -1;
    char path[64];
    snprintf(path, sizeof path, "/tmp/ckptids-%d", round);
    int f = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    x->tmpfs = ino(f);
    int m = memfd_create("ckptids", 0);
    x->memfd = ino(m);
    x->start = start_time();
    if (!keep) { close(u); close(t); close(f); unlink(path); close(m); }
}

int main(int argc, char **argv) {
    long secs = argc > 1 ? atol(argv[1]) : 2;
    struct ids gone, a, b;
    take(&gone, 0, 0);
    take(&a, 1, 1);
    write(1, "taken\n", 6);
    struct timespec ts = { secs, 0 };
    while (nanosleep(&ts, &ts) != 0) {}
    take(&b, 2, 1);
    char line[512];
    for (int i = 0; i < 2; i++) {
        struct ids *x = i ? &b : &a;
        snprintf(line, sizeof line, "round %d: socket inode %lu, autobind %s, port %d, tmpfs inode %lu, memfd inode %lu\n",
                 i + 1, x->sock, x->autobind, x->port, x->tmpfs, x->memfd);
        write(1, line, strlen(line));
    }
    snprintf(line, sizeof line, "start time %s\n", a.start == b.start ? "unchanged" : "changed");
    write(1, line, strlen(line));
    return 0;
}
