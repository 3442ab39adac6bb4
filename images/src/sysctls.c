// The sysctls a sandbox keeps for itself: fs.protected_symlinks,
// protected_hardlinks, protected_fifos, protected_regular and
// net.ipv4.ping_group_range. Writes are read as 6.1's proc_dointvec_minmax
// and ipv4_ping_group_range read them (the expected answers below are
// Linux 6.1's, checked against a native kernel with values that change
// nothing); only root (euid 0) writes; the VFS and ping sockets obey the
// values written. Every result is printed, with MISMATCH where it differs.
// A native run would change the host's values: this runs in a sandbox only.
// Must start as root. argv[1]: a directory to work in; "checkpoint": writes
// two values, sleeps 3 s (for a checkpoint), prints them.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FS "/proc/sys/fs/"
#define PING "/proc/sys/net/ipv4/ping_group_range"

static int failures;

static void check(const char *what, long rc, long expected) {
    printf("%s: %ld%s\n", what, rc, rc == expected ? "" : " MISMATCH");
    if (rc != expected) failures++;
}

// write(2) of `s` (n bytes) to a fresh descriptor of `path`: the count, or -errno.
static long put(const char *path, const char *s, size_t n) {
    int fd = open(path, O_WRONLY);
    if (fd < 0) return -errno;
    long r = write(fd, s, n);
    if (r < 0) r = -errno;
    close(fd);
    return r;
}

static void value(const char *path, char *out, size_t size) {
    int fd = open(path, O_RDONLY);
    long n = fd < 0 ? -1 : read(fd, out, size - 1);
    if (fd >= 0) close(fd);
    out[n > 0 ? n : 0] = 0;
    char *nl = strchr(out, '\n');
    if (nl) *nl = 0;
}

static void expectValue(const char *path, const char *expected) {
    char buf[64];
    value(path, buf, sizeof buf);
    printf("%s reads \"%s\"%s\n", path, buf, strcmp(buf, expected) ? " MISMATCH" : "");
    if (strcmp(buf, expected)) failures++;
}

static void writeCase(const char *path, const char *s, long expected) {
    char what[128];
    snprintf(what, sizeof what, "write \"%s\" to %s", s, strrchr(path, '/') + 1);
    for (char *p = what; *p; p++) if (*p == '\n') *p = 'N'; else if (*p == '\t') *p = 'T';
    check(what, put(path, s, strlen(s)), expected);
}

static void set(const char *name, const char *v) {
    char path[128];
    snprintf(path, sizeof path, FS "%s", name);
    if (put(path, v, strlen(v)) != (long)strlen(v)) { printf("setting %s failed MISMATCH\n", name); failures++; }
}

static void as(uid_t uid) {
    if (setgroups(0, NULL) || setgid(uid) || setuid(uid)) { perror("drop"); _exit(100); }
}

// Runs `what` as user 1000 in a child: its -errno or 0.
static int as1000(int (*what)(void)) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) { as(1000); _exit(-what()); }
    int st;
    waitpid(p, &st, 0);
    return -WEXITSTATUS(st);
}

static int openWrite(const char *path) {
    int fd = open(path, O_WRONLY);
    if (fd < 0) return -errno;
    close(fd);
    return 0;
}
static int userOpensSymlinks(void) { return openWrite(FS "protected_symlinks"); }
static int userOpensPing(void) { return openWrite(PING); }
static int userLinks(void) { return link("secret", "sticky/hard") ? -errno : 0; }
static int userMakes(void) {
    if (symlink("target", "sticky/link") || mkfifo("sticky/fifo", 0666)) return -errno;
    int fd = open("sticky/file", O_CREAT | O_WRONLY, 0666);
    if (fd < 0) return -errno;
    close(fd);
    fd = open("gsticky/file", O_CREAT | O_WRONLY, 0666);
    if (fd < 0) return -errno;
    close(fd);
    return 0;
}

static int openrc(const char *path, int flags) {
    int fd = open(path, flags, 0666);
    if (fd < 0) return -errno;
    close(fd);
    return 0;
}

static int ping(void) {
    int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    if (s < 0) return -errno;
    close(s);
    return 0;
}

static void checkpointed(void) {
    set("protected_symlinks", "0");
    long r = put(PING, "100 200", 7);
    char a[64], b[64];
    value(FS "protected_symlinks", a, sizeof a);
    value(PING, b, sizeof b);
    printf("before: symlinks %s ping %s (%ld)\n", a, b, r);
    fflush(stdout);
    sleep(3);
    value(FS "protected_symlinks", a, sizeof a);
    value(PING, b, sizeof b);
    printf("after: symlinks %s ping %s\n", a, b);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "checkpoint") == 0) { checkpointed(); return 0; }
    if (argc < 2 || chdir(argv[1])) { perror("chdir"); return 1; }
    expectValue(FS "protected_symlinks", "1");
    expectValue(FS "protected_hardlinks", "1");
    expectValue(FS "protected_fifos", "1");
    expectValue(FS "protected_regular", "2");
    expectValue(PING, "0\t2147483647");

    // proc_dointvec_minmax: one int in C's bases, then its range.
    const char *f = FS "protected_fifos";
    struct { const char *s; long r; } ints[] = {
        {"3", -EINVAL}, {"-1", -EINVAL}, {"abc", -EINVAL}, {"  \n", -EINVAL}, {"0abc", -EINVAL},
        {"+0", -EINVAL}, {"99999999999999999999999", -EINVAL}, {"0x", -EINVAL}, {"-", -EINVAL},
        {"2147483648", -EINVAL}, {"000000000000000000000", -EINVAL}, {"0 1", 2}, {"0x0", 3},
        {"00", 2}, {"0\n\n  ", 5}, {"-0", 2}, {" 0", 2}, {"0\t", 2}, {"2", 1}, {"0x1", 3},
    };
    for (unsigned i = 0; i < sizeof ints / sizeof *ints; i++) writeCase(f, ints[i].s, ints[i].r);
    check("write of nothing", put(f, "", 0), 0);
    expectValue(f, "1");
    // A write after the file's first bytes is taken and ignored (sysctl_writes_strict).
    int fd = open(f, O_RDWR);
    char b[8];
    long n = read(fd, b, sizeof b);
    check("write after a read", write(fd, "2", 1), 1);
    close(fd);
    check("the read", n, 2);
    expectValue(f, "1");
    writeCase(FS "protected_symlinks", "2", -EINVAL);
    writeCase(FS "protected_hardlinks", "2", -EINVAL);
    writeCase(FS "protected_regular", "3", -EINVAL);

    // ipv4_ping_group_range: two gids below (gid_t)-1; one alone keeps the other.
    struct { const char *s; long r; const char *after; } pings[] = {
        {"4294967295 0", -EINVAL, "0\t2147483647"}, {"4294967296 0", -EINVAL, "0\t2147483647"},
        {"-1 0", -EINVAL, "0\t2147483647"}, {"1 x", -EINVAL, "0\t2147483647"}, {"1 0x", -EINVAL, "0\t2147483647"},
        {"5", 1, "5\t2147483647"}, {"0x1 0", 5, "1\t0"}, {"7 9 11", 4, "7\t9"}, {"10", 2, "1\t0"},
        {"1\t0\n", 4, "1\t0"}, {"0 4294967294", 12, "0\t4294967294"},
    };
    for (unsigned i = 0; i < sizeof pings / sizeof *pings; i++) {
        writeCase(PING, pings[i].s, pings[i].r);
        expectValue(PING, pings[i].after);
    }

    // sysctl_perm: 0644, root's; others may not open for writing.
    check("user 1000 opens protected_symlinks to write", as1000(userOpensSymlinks), -EACCES);
    check("user 1000 opens ping_group_range to write", as1000(userOpensPing), -EACCES);

    // The VFS obeys the values: sticky is root's, world-writable and sticky;
    // gsticky only group-writable (group 2000), sticky.
    umask(0);
    mkdir("sticky", 01777);
    mkdir("gsticky", 01770);
    chown("gsticky", 0, 2000);
    chmod("gsticky", 01777);
    fd = open("sticky/target", O_CREAT | O_WRONLY, 0666); close(fd);
    fd = open("secret", O_CREAT | O_WRONLY, 0600); close(fd);
    check("user 1000 makes a link, a FIFO and files", as1000(userMakes), 0);
    chmod("gsticky", 01770);
    check("protected_hardlinks 1: user 1000 links root's 0600 file", as1000(userLinks), -EPERM);
    check("symlinks 1: root follows 1000's link", openrc("sticky/link", O_RDONLY), -EACCES);
    check("fifos 1: root O_CREAT-opens 1000's FIFO", openrc("sticky/fifo", O_CREAT | O_RDWR), -EACCES);
    check("regular 2: root O_CREAT-opens 1000's file in a group-writable sticky dir",
          openrc("gsticky/file", O_CREAT | O_WRONLY), -EACCES);
    set("protected_regular", "1");
    check("regular 1: the same", openrc("gsticky/file", O_CREAT | O_WRONLY), 0);
    check("regular 1: in a world-writable sticky dir", openrc("sticky/file", O_CREAT | O_WRONLY), -EACCES);
    set("protected_symlinks", "0");
    set("protected_hardlinks", "0");
    set("protected_fifos", "0");
    set("protected_regular", "0");
    check("hardlinks 0: user 1000 links root's 0600 file", as1000(userLinks), 0);
    check("symlinks 0: root follows 1000's link", openrc("sticky/link", O_RDONLY), 0);
    check("fifos 0: root O_CREAT-opens 1000's FIFO", openrc("sticky/fifo", O_CREAT | O_RDWR), 0);
    check("regular 0: root O_CREAT-opens 1000's file", openrc("sticky/file", O_CREAT | O_WRONLY), 0);
    set("protected_fifos", "2");
    chmod("sticky", 01775);
    chown("sticky", 0, 2000);
    check("fifos 2: a group-writable sticky dir", openrc("sticky/fifo", O_CREAT | O_RDWR), -EACCES);

    // ping_group_range: the effective gid (or a supplementary one) in range.
    put(PING, "1 0", 3);
    check("ping socket with range 1 0", ping(), -EACCES);
    put(PING, "0 0", 3);
    check("ping socket with range 0 0", ping(), 0);
    put(PING, "5 10", 4);
    check("ping socket with range 5 10", ping(), -EACCES);
    gid_t g[1] = {7};
    setgroups(1, g);
    check("ping socket with range 5 10, group 7", ping(), 0);
    printf("%d mismatches\n", failures);
    return failures != 0;
}
