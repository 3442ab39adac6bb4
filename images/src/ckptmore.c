// A guest for checkpoint/restore with state that names files and processes
// in ways a checkpoint once refused. Each part sets its state up, prints
// "ready", waits until the file MARKER exists (the checkpoint comes
// meanwhile; the test makes MARKER before the restore), then uses it and
// prints what it sees. The output is the same natively, in one run, and
// across a checkpoint and restore.
//   ckptmore shared MARKER DIR   a host file in DIR mapped MAP_SHARED
//   ckptmore pipe MARKER         a pipe's inode number
//   ckptmore links MARKER        tmpfs files with hard links, some names unlinked while open
//   ckptmore pidfd MARKER        a pidfd of a child already reaped
//   ckptmore icmp MARKER         ping and raw sockets, an ICMP error queued (root, a ping_group_range with its group)
//   ckptmore vfork MARKER        a vfork child that has not exec'd yet, its parent waiting in vfork
//   ckptmore deleted MARKER DIR  a host file in DIR mapped MAP_SHARED and deleted
//   ckptmore landlock MARKER DIR a task confined by two Landlock layers (rules on directories, one renamed
//                                since, and on a file), a child in the same domain, a ruleset fd kept open
//   ckptmore lowat MARKER        SO_RCVLOWAT on an AF_UNIX stream; a splice adding pages to a write's last skb
//   ckptmore renamed MARKER DIR  a host file in DIR mapped MAP_SHARED and renamed in its directory
//   ckptmore leave MARKER DIR    a counter in a host file in DIR mapped MAP_SHARED, for --leave-running
//   ckptmore unotify MARKER [late|killable]  a seccomp USER_NOTIF listener, a call waiting for its
//                                notification's answer (received by the supervisor, or with "late" not yet
//                                received; "killable": the filter has SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <dirent.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int wait_for(const char *marker) {
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; access(marker, F_OK) != 0; i++) {
        if (i == 30000) { fprintf(stderr, "ckptmore: no %s after 5 minutes\n", marker); return -1; }
        usleep(10000);
    }
    return 0;
}

// The /proc/self/maps line of the mapping at `addr`: perms, offset, the file's name.
static void maps_at(const void *addr) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        if (strtoul(line, NULL, 16) != (unsigned long)addr) continue;
        char perms[8] = "", off[32] = "";
        sscanf(line, "%*s %7s %31s", perms, off);
        line[strcspn(line, "\n")] = 0;
        char *name = strrchr(line, '/');
        printf("maps: %s %s %s\n", perms, off, name ? name + 1 : "?");
    }
    if (f) fclose(f);
}

// A host file of 10000 bytes (its third page partly past the end) mapped
// shared twice over the same range (read-write and read-only) by a process
// and its child: page 0 synced before the checkpoint, page 1 written and
// not synced, a byte past the end written (kept in memory, never in the
// file). After: both mappings see it all, the child writes page 2 through
// its copy of the mapping, msync, and the file holds what was written.
static int shared(const char *marker, const char *dir) {
    const long size = 10000, len = 3 * 4096;
    char path[512];
    snprintf(path, sizeof path, "%s/ckptmore.data", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, size) != 0) { perror(path); return 1; }
    char *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *b = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (a == MAP_FAILED || b == MAP_FAILED) { perror("mmap"); return 1; }
    strcpy(a, "page 0, synced before");
    if (msync(a, 4096, MS_SYNC) != 0) { perror("msync"); return 1; }
    strcpy(a + 4096, "page 1, written before, not synced");
    a[size + 5] = 'X';
    int go[2];
    if (pipe(go) != 0) return 1;
    pid_t child = fork();
    if (child == 0) {
        close(go[1]);
        char c;
        while (read(go[0], &c, 1) > 0) {}
        strcpy(a + 8192, "page 2, by the child");
        _exit(0);
    }
    close(go[0]);
    if (wait_for(marker) != 0) return 1;

    printf("the read-only mapping: '%s', '%s', past the end '%c'\n", b, b + 4096, b[size + 5] ? b[size + 5] : '0');
    close(go[1]);
    int st = 0;
    waitpid(child, &st, 0);
    printf("the child: status %d; page 2 through the read-only mapping: '%s'\n", WEXITSTATUS(st), b + 8192);
    strcpy(a + 4096 + 40, "and after");
    maps_at(a);
    maps_at(b);
    if (msync(a, len, MS_SYNC) != 0) { perror("msync"); return 1; }
    char buf[10000];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    printf("the file: %zd bytes: '%s', '%s', '%s', '%s'\n", n, buf, buf + 4096, buf + 4096 + 40, buf + 8192);
    munmap(a, len);
    munmap(b, len);
    struct stat s;
    fstat(fd, &s);
    printf("its size after munmap: %ld\n", (long)s.st_size);
    return 0;
}

// A pipe's inode number, as fstat and /proc/self/fd name it, is the same
// after; a pipe made after has another.
static int pipe_inode(const char *marker) {
    int p[2];
    if (pipe(p) != 0) return 1;
    struct stat before, after, fresh;
    char link[64] = "", path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
    if (fstat(p[0], &before) != 0 || readlink(path, link, sizeof link - 1) < 0) { perror("pipe"); return 1; }
    char expect[64];
    snprintf(expect, sizeof expect, "pipe:[%lu]", (unsigned long)before.st_ino);
    printf("the link names its inode: %s\n", strcmp(link, expect) == 0 ? "yes" : link);
    if (wait_for(marker) != 0) return 1;

    char now[64] = "";
    fstat(p[1], &after);
    if (readlink(path, now, sizeof now - 1) < 0) return 1;
    int q[2];
    if (pipe(q) != 0) return 1;
    fstat(q[0], &fresh);
    printf("after: the same inode %s, the same link %s, a new pipe's inode another %s\n", after.st_ino == before.st_ino ? "yes" : "no",
           strcmp(now, link) == 0 ? "yes" : now, fresh.st_ino != before.st_ino ? "yes" : "no");
    return 0;
}

static void put(const char *path, const char *text) {
    int f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (f < 0 || write(f, text, strlen(text)) != (ssize_t)strlen(text)) perror(path);
    close(f);
}

static void get(const char *path, char *buf, size_t n) {
    memset(buf, 0, n);
    int f = open(path, O_RDONLY);
    if (f < 0 || read(f, buf, n - 1) < 0) snprintf(buf, n, "%s", strerror(errno));
    if (f >= 0) close(f);
}

// What /proc/self/fd/FD names, and the file's link count.
static void describe(const char *what, int fd) {
    char path[64], link[256] = "";
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    struct stat st;
    fstat(fd, &st);
    printf("%s: names %s, %ld links\n", what, link, (long)st.st_nlink);
}

// In a tmpfs directory: a file with three names (e, f, g), one with two
// (a, b) open by a and a unlinked, one with two (c, d) open by each and
// both unlinked, one (h, i) mapped shared by h and h unlinked. After: the
// names, link counts and contents are as they were, and a write by one
// name or descriptor shows through the others.
static int links(const char *marker) {
    const char *d = "/tmp/ckptmore.links";
    char p[9][64], buf[64];
    mkdir(d, 0755);
    for (int i = 0; i < 9; i++) { snprintf(p[i], sizeof p[i], "%s/%c", d, 'a' + i); unlink(p[i]); }
    put(p[0], "two names");
    put(p[2], "two names, both gone");
    put(p[4], "three names");
    put(p[7], "mapped");
    if (link(p[0], p[1]) || link(p[2], p[3]) || link(p[4], p[5]) || link(p[4], p[6]) || link(p[7], p[8])) { perror("link"); return 1; }
    int fa = open(p[0], O_RDWR), fc = open(p[2], O_RDWR), fd2 = open(p[3], O_RDONLY), fh = open(p[7], O_RDWR);
    if (fa < 0 || fc < 0 || fd2 < 0 || fh < 0) { perror("open"); return 1; }
    char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fh, 0);
    if (m == MAP_FAILED) { perror("mmap"); return 1; }
    close(fh);
    unlink(p[0]);
    unlink(p[2]);
    unlink(p[3]);
    unlink(p[7]);
    if (wait_for(marker) != 0) return 1;

    describe("a, unlinked, b kept", fa);
    describe("c, both names unlinked", fc);
    describe("d, both names unlinked", fd2);
    if (pwrite(fa, "TWO", 3, 0) != 3) perror("pwrite");
    get(p[1], buf, sizeof buf);
    printf("b after a write through a: '%s'\n", buf);
    if (pwrite(fc, "TWO", 3, 0) != 3) perror("pwrite");
    memset(buf, 0, sizeof buf);
    printf("d read after a write through c: %zd '%s'\n", pread(fd2, buf, sizeof buf - 1, 0), buf);
    struct stat e, f, g;
    stat(p[4], &e); stat(p[5], &f); stat(p[6], &g);
    printf("e, f, g: %ld links, one inode %s\n", (long)e.st_nlink, e.st_ino == f.st_ino && f.st_ino == g.st_ino ? "yes" : "no");
    put(p[4], "changed by e");
    get(p[6], buf, sizeof buf);
    printf("g after a write to e: '%s'\n", buf);
    unlink(p[5]);
    stat(p[6], &g);
    printf("g once f is unlinked: %ld links\n", (long)g.st_nlink);
    memcpy(m, "MAPPED", 6);
    get(p[8], buf, sizeof buf);
    stat(p[8], &g);
    printf("i after a write through h's mapping: '%s', %ld link\n", buf, (long)g.st_nlink);
    maps_at(m);
    for (int i = 0; i < 9; i++) unlink(p[i]);
    return 0;
}

// A pidfd of a child that exited and was waited for: after, it polls
// readable, a signal through it is ESRCH, waitid on it ECHILD, pidfd_getfd
// ESRCH; a new child's pidfd is another process's.
static int pidfd_reaped(const char *marker) {
    int hold[2];
    if (pipe(hold) != 0) return 1;
    pid_t child = fork();
    if (child == 0) {
        char c;
        close(hold[1]);
        while (read(hold[0], &c, 1) > 0) {}
        _exit(3);
    }
    close(hold[0]);
    int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
    if (pidfd < 0) { perror("pidfd_open"); return 1; }
    close(hold[1]);
    int st = 0;
    pid_t w = waitpid(child, &st, 0);
    printf("reaped: %s, status %d\n", w == child ? "yes" : strerror(errno), WEXITSTATUS(st));
    if (wait_for(marker) != 0) return 1;

    struct pollfd p = { .fd = pidfd, .events = POLLIN };
    int n = poll(&p, 1, 0);
    printf("poll: %d, POLLIN %s\n", n, p.revents & POLLIN ? "yes" : "no");
    long r = syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    printf("pidfd_send_signal: %ld %s\n", r, r < 0 ? strerror(errno) : "");
    r = syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0);
    printf("pidfd_send_signal 0: %ld %s\n", r, r < 0 ? strerror(errno) : "");
    siginfo_t info = {0};
    r = syscall(SYS_waitid, P_PIDFD, pidfd, &info, WEXITED | WNOHANG, NULL);
    printf("waitid(P_PIDFD): %ld %s\n", r, r < 0 ? strerror(errno) : "");
    r = syscall(SYS_pidfd_getfd, pidfd, 0, 0);
    printf("pidfd_getfd: %ld %s\n", r, r < 0 ? strerror(errno) : "");
    char path[64], link[64] = "";
    snprintf(path, sizeof path, "/proc/self/fd/%d", pidfd);
    ssize_t l = readlink(path, link, sizeof link - 1);
    link[l > 0 ? l : 0] = 0;
    printf("names %s\n", link);
    return 0;
}

#ifndef ICMP_FILTER
#define ICMP_FILTER 1
#endif

static void echo(int ping, unsigned short seq) {
    struct sockaddr_in lo = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct { struct icmphdr h; char data[8]; } req = { .h = { .type = ICMP_ECHO, .un.echo.sequence = htons(seq) } };
    memcpy(req.data, "sentry!!", 8);
    if (sendto(ping, &req, sizeof req, 0, (struct sockaddr *)&lo, sizeof lo) != sizeof req) perror("ping sendto");
}

static void ping_reply(int ping, unsigned short ident) {
    struct { struct icmphdr h; char data[8]; } rep = {0};
    struct pollfd p = { .fd = ping, .events = POLLIN };
    poll(&p, 1, 5000);
    ssize_t n = recv(ping, &rep, sizeof rep, MSG_DONTWAIT);
    printf("ping reply: %zd bytes, type %d, id ours %d, seq %d, data %.8s\n", n, rep.h.type, rep.h.un.echo.id == htons(ident),
           ntohs(rep.h.un.echo.sequence), rep.data);
}

// The ICMP type of each packet queued on a raw ICMP socket (with the IPv4 header).
static void raw_queue(int raw, const char *when) {
    unsigned char buf[256];
    ssize_t n;
    printf("raw %s:", when);
    while ((n = recv(raw, buf, sizeof buf, MSG_DONTWAIT)) > 0) printf(" type %d", buf[(buf[0] & 15) * 4]);
    printf("\n");
}

// A ping socket with an echo reply unread, a raw ICMP socket filtering out
// echo requests with the replies queued, a UDP socket with IP_RECVERR and
// a port unreachable in its error queue. After: each reads what it had,
// keeps its options, and a new echo goes out and comes back to both.
static int icmp(const char *marker) {
    int ping = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    int udp = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
    if (ping < 0 || raw < 0 || udp < 0) { perror("socket"); return 1; }
    unsigned int filter = 1 << ICMP_ECHO;
    if (setsockopt(raw, SOL_RAW, ICMP_FILTER, &filter, sizeof filter) != 0) { perror("ICMP_FILTER"); return 1; }
    echo(ping, 1);
    struct sockaddr_in me;
    socklen_t ml = sizeof me;
    getsockname(ping, (struct sockaddr *)&me, &ml);
    unsigned short ident = ntohs(me.sin_port);
    struct sockaddr_in closed = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(9) };
    setsockopt(udp, IPPROTO_IP, IP_RECVERR, &one, sizeof one);
    if (sendto(udp, "abc", 3, 0, (struct sockaddr *)&closed, sizeof closed) != 3) perror("udp sendto");
    usleep(20000);
    if (wait_for(marker) != 0) return 1;

    ping_reply(ping, ident);
    raw_queue(raw, "before");
    unsigned int f = 0;
    socklen_t fl = sizeof f;
    getsockopt(raw, SOL_RAW, ICMP_FILTER, &f, &fl);
    int v = 0;
    socklen_t vl = sizeof v;
    getsockopt(udp, IPPROTO_IP, IP_RECVERR, &v, &vl);
    printf("ICMP_FILTER 0x%x, IP_RECVERR %d\n", f, v);
    char data[4], ctl[128];
    struct iovec iv = { data, sizeof data };
    struct msghdr mh = { .msg_iov = &iv, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl };
    ssize_t got = recvmsg(udp, &mh, MSG_ERRQUEUE);
    struct cmsghdr *c = got >= 0 ? CMSG_FIRSTHDR(&mh) : NULL;
    struct sock_extended_err *ee = c ? (struct sock_extended_err *)CMSG_DATA(c) : NULL;
    printf("error queue: %zd bytes '%.3s', errno %s, origin %d type %d code %d\n", got, data, ee ? strerror(ee->ee_errno) : strerror(errno),
           ee ? ee->ee_origin : -1, ee ? ee->ee_type : -1, ee ? ee->ee_code : -1);
    echo(ping, 2);
    ping_reply(ping, ident);
    usleep(20000);
    raw_queue(raw, "after");
    return 0;
}

// The name /proc/self/maps gives the mapping at `addr` (after the last '/').
static void maps_name(const char *when, const void *addr) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        if (strtoul(line, NULL, 16) != (unsigned long)addr) continue;
        line[strcspn(line, "\n")] = 0;
        char *name = strrchr(line, '/');
        printf("%s: %s\n", when, name ? name + 1 : "?");
    }
    if (f) fclose(f);
}

// A host file of two pages and a half mapped shared (read-write), written
// through the mapping, its fd closed and its name unlinked: the mapping
// keeps its pages, maps says "(deleted)". After: the pages are what was
// written, a forked child's write through its copy of the mapping is seen
// by the parent, and the directory has no such file.
static int deleted(const char *marker, const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/ckptmore.deleted", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 10000) != 0 || pwrite(fd, "from the file", 13, 4096) != 13) { perror(path); return 1; }
    char *a = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (a == MAP_FAILED) { perror("mmap"); return 1; }
    close(fd);
    strcpy(a, "page 0, written before");
    if (unlink(path) != 0) { perror("unlink"); return 1; }
    maps_name("maps before", a);
    if (wait_for(marker) != 0) return 1;
    printf("after: page 0 '%s', page 1 '%s', byte 9999 %d, the name gone %d\n", a, a + 4096, a[9999], access(path, F_OK) != 0);
    maps_name("maps after", a);
    pid_t child = fork();
    if (child == 0) { strcpy(a + 8192, "the child's"); _exit(0); }
    waitpid(child, NULL, 0);
    printf("page 2 after the child: '%s'\n", a + 8192);
    return 0;
}

// A host file of two pages mapped shared (read-write), page 0 written
// through the mapping, its fd closed, then renamed within its directory
// (ckptmore.before -> ckptmore.after). After: the mapping still shares
// the file's pages (a write to page 1 and msync reach the file by its new
// name), maps names the new name, and the old name is gone.
static int renamed(const char *marker, const char *dir) {
    char before[512], after[512];
    snprintf(before, sizeof before, "%s/ckptmore.before", dir);
    snprintf(after, sizeof after, "%s/ckptmore.after", dir);
    int fd = open(before, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 2 * 4096) != 0) { perror(before); return 1; }
    char *a = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (a == MAP_FAILED) { perror("mmap"); return 1; }
    close(fd);
    strcpy(a, "page 0, written before");
    if (rename(before, after) != 0) { perror("rename"); return 1; }
    if (wait_for(marker) != 0) return 1;

    strcpy(a + 4096, "page 1, written after");
    if (msync(a, 2 * 4096, MS_SYNC) != 0) { perror("msync"); return 1; }
    char buf[64] = "";
    fd = open(after, O_RDWR);
    if (fd < 0 || pread(fd, buf, sizeof buf - 1, 4096) < 0) { perror(after); return 1; }
    printf("after: page 0 '%s', the file's page 1 '%s', the old name gone %d\n", a, buf, access(before, F_OK) != 0);
    close(fd);
    maps_name("maps after", a);
    munmap(a, 2 * 4096);
    unlink(after);
    return 0;
}

// A host file mapped shared holding a counter, its fd kept open; each run
// of the part after the marker adds 1 through the mapping and msyncs.
// Checkpointed with --leave-running, the original goes on (1 -> 2); a
// restore of the snapshot after it finds the file as the original left it
// (2 -> 3), as a second process sharing the file would.
static int leave(const char *marker, const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/ckptmore.counter", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 4096) != 0) { perror(path); return 1; }
    int *c = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (c == MAP_FAILED) { perror("mmap"); return 1; }
    *c = 1;
    if (msync(c, 4096, MS_SYNC) != 0) { perror("msync"); return 1; }
    if (wait_for(marker) != 0) return 1;

    printf("counter: %d -> %d\n", *c, *c + 1);
    (*c)++;
    if (msync(c, 4096, MS_SYNC) != 0) { perror("msync"); return 1; }
    int in_file = 0;
    pread(fd, &in_file, sizeof in_file, 0);
    printf("in the file: %d\n", in_file);
    return 0;
}

// A word the vfork child writes and its parent reads: one memory.
static volatile int vfork_word;

// The vfork child waits for the marker (its parent blocked in vfork the
// while), writes a word into the memory it shares with its parent, and
// execs this program again ("vforkexec"). After: the parent's vfork
// returns only once the child has exec'd, with the child's pid, and the
// word is the one the child wrote.
static int vfork_parent(const char *marker) {
    char self[16];
    snprintf(self, sizeof self, "%d", (int)getpid());
    fflush(stdout);
    vfork_word = 1;
    pid_t child = vfork();
    if (child == 0) {
        // Only calls that leave the parent's stack and stdio alone.
        write(1, "ready\n", 6);
        for (int i = 0; access(marker, F_OK) != 0 && i < 30000; i++) usleep(10000);
        vfork_word = 42;
        char *args[] = { "ckptmore", "vforkexec", self, NULL };
        execv("/proc/self/exe", args);
        _exit(127);
    }
    int status = 0;
    pid_t reaped = waitpid(child, &status, 0);
    printf("vfork returned the child's pid: %s, the child's word: %d, its status: %d\n", reaped == child ? "yes" : "no", vfork_word,
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    // And a vfork after it: a child that exits.
    child = vfork();
    if (child == 0) { vfork_word = 7; _exit(3); }
    waitpid(child, &status, 0);
    printf("a second vfork: word %d, status %d\n", vfork_word, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

// The program the vfork child execs: its parent is the vfork's caller.
static int vfork_exec(const char *parent) {
    printf("exec'd after the vfork: parent is the vfork's caller: %s\n", atoi(parent) == getppid() ? "yes" : "no");
    return 5;
}

// The supervisor thread (made before the filter: not filtered itself)
// receives the main thread's first notified getppid, then the checkpoint
// comes. After: the id is still valid, ADDFD puts a pipe's write end into
// the caller, SEND answers with that fd's number; the next notification
// (an id after the first) is answered with CONTINUE, the third with
// ADDFD+SEND; the first id is gone (ENOENT).
static volatile int unotify_fd = -1;
static volatile pid_t unotify_caller;
static char unotify_log[2048];
#define ULOG(...) snprintf(unotify_log + strlen(unotify_log), sizeof unotify_log - strlen(unotify_log), __VA_ARGS__)
static const char *unotify_marker;
static int unotify_pipe[2], unotify_late;

static void *unotify_supervisor(void *arg) {
    while (unotify_fd < 0) usleep(1000);
    int fd = unotify_fd;
    struct seccomp_notif req;
    memset(&req, 0, sizeof req);
    long r = 0;
    if (unotify_late) {
        // Queued, not received, when the checkpoint comes.
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int n = poll(&p, 1, 10000);
        printf("poll: %d, revents %#x\n", n, p.revents);
        if (wait_for(unotify_marker) != 0) exit(1);
        r = ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req);
        ULOG("received after: %ld, getppid %d, arg %llu, from the caller %d\n", r, req.data.nr == SYS_getppid, req.data.args[0],
             (pid_t)req.pid == unotify_caller);
    } else {
        r = ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req);
        printf("received: %ld, getppid %d, arg %llu, from the caller %d\n", r, req.data.nr == SYS_getppid, req.data.args[0],
               (pid_t)req.pid == unotify_caller);
        if (wait_for(unotify_marker) != 0) exit(1);
    }
    ULOG("id valid after: %d\n", ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id));
    struct seccomp_notif_addfd add = { .id = req.id, .srcfd = unotify_pipe[1] };
    long added = ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
    ULOG("addfd: %s\n", added >= 3 ? "an fd" : strerror(errno));
    struct seccomp_notif_resp resp = { .id = req.id, .val = added };
    ULOG("send: %d\n", ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp));
    __u64 first = req.id;
    memset(&req, 0, sizeof req);
    r = ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req);
    ULOG("second: %ld, arg %llu, a later id %d\n", r, req.data.args[0], req.id > first);
    struct seccomp_notif_resp cont = { .id = req.id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE };
    ULOG("continue: %d\n", ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &cont));
    memset(&req, 0, sizeof req);
    r = ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req);
    int devnull = open("/dev/null", O_RDONLY);
    struct seccomp_notif_addfd send = { .id = req.id, .flags = SECCOMP_ADDFD_FLAG_SEND, .srcfd = devnull };
    ULOG("third: %ld, arg %llu, addfd+send %s\n", r, req.data.args[0], ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &send) >= 3 ? "an fd" : strerror(errno));
    resp.id = first;
    int again = ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    ULOG("the first id again: %d %s\n", again, strerror(errno));
    return arg;
}

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

static int unotify(const char *marker, const char *mode) {
    unotify_marker = marker;
    unotify_late = strcmp(mode, "late") == 0;
    unsigned long killable = strcmp(mode, "killable") == 0 ? SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV : 0;
    if (pipe(unotify_pipe) != 0) return 1;
    pid_t ppid = getppid();
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    pthread_t t;
    pthread_create(&t, NULL, unotify_supervisor, NULL);
    unotify_caller = gettid();
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof f / sizeof *f, f };
    long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER | killable, &prog);
    if (fd < 0) { perror("seccomp"); return 1; }
    unotify_fd = fd;
    long r = syscall(SYS_getppid, 1);
    char buf[4] = "";
    int wrote = r >= 3 && write(r, "hi", 2) == 2;
    read(unotify_pipe[0], buf, 2);
    char mine[256];
    snprintf(mine, sizeof mine, "first answered with the added fd: %d, read through it: %s\n", wrote, buf);
    r = syscall(SYS_getppid, 2);
    snprintf(mine + strlen(mine), sizeof mine - strlen(mine), "continued: the real getppid %d\n", r == ppid);
    r = syscall(SYS_getppid, 3);
    snprintf(mine + strlen(mine), sizeof mine - strlen(mine), "addfd+send: an open fd %d\n", r >= 3 && fcntl(r, F_GETFD) >= 0);
    pthread_join(t, NULL);
    fputs(unotify_log, stdout);
    fputs(mine, stdout);
    return 0;
}

// What a call returns: 0 (or a count), or -errno.
#define RES(x) ({ long r_ = (long)(x); r_ < 0 ? -errno : r_; })

static long ll_create(__u64 handled) {
    struct landlock_ruleset_attr a = { .handled_access_fs = handled };
    return syscall(SYS_landlock_create_ruleset, &a, sizeof a, 0);
}

// A path-beneath rule on `path` (opened O_PATH) granting `allowed`.
static long ll_rule(int rs, const char *path, __u64 allowed) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct landlock_path_beneath_attr a = { .allowed_access = allowed, .parent_fd = fd };
    long r = RES(syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &a, 0));
    close(fd);
    return r;
}

static long ll_open(const char *path, int flags) {
    int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    close(fd);
    return 0;
}

static long ll_readdir(const char *path) {
    DIR *d = opendir(path);
    if (!d) return -errno;
    closedir(d);
    return 0;
}

// The accesses a domain decides, each as 0 or -errno.
static void ll_try(const char *who, const char *d) {
    char p[8][600];
    snprintf(p[0], sizeof p[0], "%s/ro/f", d);
    snprintf(p[1], sizeof p[1], "%s/rw2/new", d);
    snprintf(p[2], sizeof p[2], "%s/out/f", d);
    snprintf(p[3], sizeof p[3], "%s/out", d);
    snprintf(p[4], sizeof p[4], "%s/rw2/g", d);
    snprintf(p[5], sizeof p[5], "%s/rw2/f", d);
    snprintf(p[6], sizeof p[6], "%s/ro", d);
    // In this order (a call's arguments are evaluated in none).
    long r[11];
    r[0] = ll_open(p[0], O_RDONLY); r[1] = ll_open(p[0], O_WRONLY); r[2] = ll_readdir(p[6]);
    r[3] = ll_open(p[1], O_WRONLY | O_CREAT); r[4] = ll_open(p[5], O_WRONLY); r[5] = RES(unlink(p[1]));
    r[6] = ll_open(p[2], O_RDONLY); r[7] = ll_open(p[2], O_WRONLY); r[8] = ll_readdir(p[3]);
    r[9] = RES(link(p[0], p[4])); r[10] = RES(rename(p[5], p[2]));
    printf("%s: ro/f read %ld, ro/f write %ld, ro list %ld, rw2/new create %ld, rw2/f write %ld, rw2/new unlink %ld\n", who,
           r[0], r[1], r[2], r[3], r[4], r[5]);
    printf("%s: out/f read %ld, out/f write %ld, out list %ld, link ro/f rw2/g %ld, rename rw2/f out/f %ld\n", who,
           r[6], r[7], r[8], r[9], r[10]);
    fflush(stdout);
}

// Two layers: the first handles reading, writing, listing, making and
// removing files and REFER, with rules on ro (read, list), rw (read,
// write, make, remove) and the file out/f (read); the second handles
// writing, with a rule on rw. rw is renamed rw2 after the rules are made
// (the rule stays on the directory). A child in the same domain, and a
// ruleset descriptor (handling reading, a rule on ro) kept open. After:
// the same accesses are allowed and refused; the descriptor takes another
// rule (rw2) and becomes a third layer, which refuses reading out/f.
static int landlock(const char *marker, const char *dir) {
    char d[512], p[600];
    snprintf(d, sizeof d, "%s/ckptmore.landlock", dir);
    const char *names[] = { "", "/ro", "/rw", "/out" };
    for (int i = 0; i < 4; i++) { snprintf(p, sizeof p, "%s%s", d, names[i]); if (mkdir(p, 0755) != 0) { perror(p); return 1; } }
    const char *files[] = { "/ro/f", "/rw/f", "/out/f" };
    for (int i = 0; i < 3; i++) { snprintf(p, sizeof p, "%s%s", d, files[i]); put(p, "data"); }
    const __u64 rd = LANDLOCK_ACCESS_FS_READ_FILE, wr = LANDLOCK_ACCESS_FS_WRITE_FILE, ls = LANDLOCK_ACCESS_FS_READ_DIR;
    const __u64 mk = LANDLOCK_ACCESS_FS_MAKE_REG, rm = LANDLOCK_ACCESS_FS_REMOVE_FILE, refer = LANDLOCK_ACCESS_FS_REFER;
    int first = (int)ll_create(rd | wr | ls | mk | rm | refer), second = (int)ll_create(wr), kept = (int)ll_create(rd);
    if (first < 0 || second < 0 || kept < 0) { perror("landlock_create_ruleset"); return 1; }
    snprintf(p, sizeof p, "%s/ro", d);
    long r1 = ll_rule(first, p, rd | ls), r4 = ll_rule(kept, p, rd);
    snprintf(p, sizeof p, "%s/rw", d);
    long r2 = ll_rule(first, p, rd | wr | mk | rm), r5 = ll_rule(second, p, wr);
    snprintf(p, sizeof p, "%s/out/f", d);
    long r3 = ll_rule(first, p, rd);
    printf("rules: %ld %ld %ld %ld %ld\n", r1, r2, r3, r4, r5);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("no_new_privs"); return 1; }
    long s1 = RES(syscall(SYS_landlock_restrict_self, first, 0)), s2 = RES(syscall(SYS_landlock_restrict_self, second, 0));
    close(first);
    close(second);
    char from[600];
    snprintf(from, sizeof from, "%s/rw", d);
    snprintf(p, sizeof p, "%s/rw2", d);
    printf("restrict: %ld %ld, rename rw rw2 %ld\n", s1, s2, RES(rename(from, p)));
    ll_try("before", d);
    int go[2];
    if (pipe(go) != 0) return 1;
    pid_t child = fork();
    if (child == 0) {
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) == 1) ll_try("child", d);   // after its parent's lines
        _exit(0);
    }
    close(go[0]);
    if (wait_for(marker) != 0) return 1;

    ll_try("after", d);
    if (write(go[1], "g", 1) != 1) return 1;
    waitpid(child, NULL, 0);
    snprintf(p, sizeof p, "%s/rw2", d);
    long r6 = ll_rule(kept, p, rd), s3 = RES(syscall(SYS_landlock_restrict_self, kept, 0));
    char q[3][600];
    snprintf(q[0], sizeof q[0], "%s/out/f", d);
    snprintf(q[1], sizeof q[1], "%s/rw2/f", d);
    snprintf(q[2], sizeof q[2], "%s/ro/f", d);
    long o1 = ll_open(q[0], O_RDONLY), o2 = ll_open(q[1], O_RDONLY), o3 = ll_open(q[2], O_RDONLY);
    printf("the kept ruleset: rule %ld, restrict %ld; out/f read %ld, rw2/f read %ld, ro/f read %ld\n", r6, s3, o1, o2, o3);
    return 0;
}

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72
#endif

// SO_RCVLOWAT 10 on an AF_UNIX stream's reader, SO_SNDBUF and SO_RCVBUF
// set on its two ends (SO_BUF_LOCK reads 1 and 2); a writer whose send
// buffer is full, its last write (under a page: no page fragments) then
// given 5 pages by a splice (6.1's unix_stream_sendpage: 5 fragments on that
// skb). After: the mark and the locks read the same, a blocking read with
// 5 bytes queued waits for a child's 7 more (12), and a splice of 16 pages
// more takes the 12 the last skb has room for (17 fragments at most) and
// stops there (EAGAIN).
static int lowat(const char *marker) {
    int sv[2], fp[2], pp[2], mark = 10;
    static char page[4096];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || socketpair(AF_UNIX, SOCK_STREAM, 0, fp) || pipe(pp)) { perror("socketpair"); return 1; }
    if (setsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &mark, sizeof mark) != 0) { perror("SO_RCVLOWAT"); return 1; }
    int size = 65536;
    if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size) || setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof size)) {
        perror("SO_SNDBUF");
        return 1;
    }
    fcntl(fp[0], F_SETFL, O_NONBLOCK);
    fcntl(pp[1], F_SETFL, O_NONBLOCK);   // a kernel whose splice took nothing (6.5+) leaves the pipe full
    char chunk[1000] = {0};
    long filled = 0;
    ssize_t n;
    while ((n = write(fp[0], chunk, sizeof chunk)) > 0) filled += n;
    for (int i = 0; i < 5; i++) write(pp[1], page, sizeof page);
    n = splice(pp[0], NULL, fp[0], NULL, 5 * 4096, SPLICE_F_NONBLOCK);
    printf("full after %s bytes, then splice 5 pages: %zd\n", filled > 0 ? "some" : "no", n);
    if (wait_for(marker) != 0) return 1;

    int got = 0;
    socklen_t len = sizeof got;
    getsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &got, &len);
    int locks[2] = {0, 0};
    len = sizeof locks[0];
    getsockopt(sv[0], SOL_SOCKET, SO_BUF_LOCK, &locks[0], &len);
    getsockopt(sv[1], SOL_SOCKET, SO_BUF_LOCK, &locks[1], &len);
    printf("SO_RCVLOWAT after: %d, SO_BUF_LOCK %d %d\n", got, locks[0], locks[1]);
    if (write(sv[0], "12345", 5) != 5) return 1;
    pid_t child = fork();
    if (child == 0) { usleep(100000); _exit(write(sv[0], "abcdefg", 7) == 7 ? 0 : 1); }
    char buf[64] = "";
    n = read(sv[1], buf, sizeof buf - 1);
    printf("blocking read of 63 with 5 queued: %zd '%s'\n", n, n > 0 ? buf : "");
    waitpid(child, NULL, 0);
    for (int i = 0; i < 16; i++) write(pp[1], page, sizeof page);
    n = splice(pp[0], NULL, fp[0], NULL, 16 * 4096, SPLICE_F_NONBLOCK);
    int left = 0;
    ioctl(pp[0], FIONREAD, &left);
    printf("splice 16 pages more: %zd (%s), left in the pipe: %d\n", n, n < 0 ? strerror(errno) : "", left);
    return 0;
}

// SOL_SOCKET options a socket records, across a checkpoint: a UDP socket
// with SO_PRIORITY, SO_MARK, bound to lo, SO_TIMESTAMPNS and SO_RXQ_OVFL
// on, a datagram queued before (stamped then) and its cookie. After: the
// same readings, the datagram's stamp from before the marker, the same
// cookie, and a new socket's cookie another.
static int sockopts(const char *marker) {
    int r = socket(AF_INET, SOCK_DGRAM, 0), w = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int prio = 5, mark = 7, on = 1;
    if (bind(r, (struct sockaddr *)&a, sizeof a) || getsockname(r, (struct sockaddr *)&a, &al) ||
        setsockopt(r, SOL_SOCKET, SO_PRIORITY, &prio, sizeof prio) || setsockopt(r, SOL_SOCKET, SO_MARK, &mark, sizeof mark) ||
        setsockopt(r, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) || setsockopt(r, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) ||
        setsockopt(r, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on)) {
        perror("sockopts");
        return 1;
    }
    uint64_t cookie = 0, again = 0, other = 0;
    socklen_t cl = sizeof cookie;
    getsockopt(r, SOL_SOCKET, SO_COOKIE, &cookie, &cl);
    // Linux stamps arrivals only once the first socket asking for stamps
    // has flipped its deferred switch (net_enable_timestamp's work item);
    // until then a datagram is stamped when read. Give the switch time.
    nanosleep(&(struct timespec){0, 100000000}, NULL);
    struct timespec sent;
    clock_gettime(CLOCK_REALTIME, &sent);
    sendto(w, "before", 6, 0, (struct sockaddr *)&a, sizeof a);
    if (wait_for(marker) != 0) return 1;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int v[4] = {0};
    socklen_t vl = sizeof v[0];
    getsockopt(r, SOL_SOCKET, SO_PRIORITY, &v[0], &vl);
    getsockopt(r, SOL_SOCKET, SO_MARK, &v[1], &vl);
    getsockopt(r, SOL_SOCKET, SO_TIMESTAMPNS, &v[2], &vl);
    getsockopt(r, SOL_SOCKET, SO_BINDTOIFINDEX, &v[3], &vl);
    printf("after: priority %d mark %d timestampns %d ifindex %d\n", v[0], v[1], v[2], v[3]);
    char data[16], ctl[128];
    struct iovec iv = {data, sizeof data};
    struct msghdr mh = {.msg_iov = &iv, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    ssize_t n = recvmsg(r, &mh, MSG_DONTWAIT);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    struct timespec ts = {0};
    if (c && c->cmsg_type == SO_TIMESTAMPNS) memcpy(&ts, CMSG_DATA(c), sizeof ts);
    int64_t at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    int64_t lo = (int64_t)sent.tv_sec * 1000000000 + sent.tv_nsec, hi = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    printf("queued before: %zd bytes, stamped when sent: %d\n", n, at >= lo && at <= hi);
    cl = sizeof again;
    getsockopt(r, SOL_SOCKET, SO_COOKIE, &again, &cl);
    int fresh = socket(AF_INET, SOCK_DGRAM, 0);
    getsockopt(fresh, SOL_SOCKET, SO_COOKIE, &other, &cl);
    printf("cookie kept: %d, a new socket's another: %d\n", cookie == again, other != cookie && other != 0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "shared") == 0) return shared(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "pipe") == 0) return pipe_inode(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "links") == 0) return links(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "pidfd") == 0) return pidfd_reaped(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "icmp") == 0) return icmp(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "vfork") == 0) return vfork_parent(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "deleted") == 0) return deleted(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "vforkexec") == 0) return vfork_exec(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "unotify") == 0) return unotify(argv[2], argc >= 4 ? argv[3] : "");
    if (argc >= 4 && strcmp(argv[1], "landlock") == 0) return landlock(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "lowat") == 0) return lowat(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "sockopts") == 0) return sockopts(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "renamed") == 0) return renamed(argv[2], argv[3]);
    if (argc >= 4 && strcmp(argv[1], "leave") == 0) return leave(argv[2], argv[3]);
    fprintf(stderr, "usage: ckptmore shared MARKER DIR | pipe MARKER | links MARKER | pidfd MARKER | icmp MARKER | vfork MARKER | deleted MARKER DIR | unotify MARKER [late|killable] | landlock MARKER DIR | lowat MARKER | sockopts MARKER | renamed MARKER DIR | leave MARKER DIR\n");
    return 2;
}
