// inotify: the calls' checks, the events each file operation sends (to a
// watched directory with the name, to a watched file without), cookies,
// coalescing, one-shot and MASK_ADD watches, read's record format and
// EINVAL/EAGAIN, FIONREAD, poll/epoll readiness, a blocking read woken by
// another process, a forked child sharing the instance, IN_Q_OVERFLOW,
// the /proc/sys limits and /proc/self/fdinfo. Everything happens in a
// fresh directory under /tmp; the output names watches and files by the
// test's own labels, never by inode numbers or times, so it can be
// compared with a native run.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static char dir[64];
static int labels_wd[16];
static const char *labels_name[16];
static int nlabels;

static void label(int wd, const char *name) { labels_wd[nlabels] = wd; labels_name[nlabels++] = name; }
static const char *wdname(int wd) {
    for (int i = nlabels - 1; i >= 0; i--) if (labels_wd[i] == wd) return labels_name[i];
    static char b[16];
    snprintf(b, sizeof b, "%d", wd);
    return b;
}

static const char *names[] = {"ACCESS", "MODIFY", "ATTRIB", "CLOSE_WRITE", "CLOSE_NOWRITE", "OPEN", "MOVED_FROM",
                              "MOVED_TO", "CREATE", "DELETE", "DELETE_SELF", "MOVE_SELF", "?", "UNMOUNT", "Q_OVERFLOW",
                              "IGNORED"};
static void maskstr(unsigned m, char *out) {
    out[0] = 0;
    for (int i = 0; i < 16; i++) if (m & (1u << i)) { strcat(out, out[0] ? "|" : ""); strcat(out, names[i]); }
    if (m & IN_ISDIR) strcat(out, "|ISDIR");
    if (m & ~(0xffffu | IN_ISDIR)) sprintf(out + strlen(out), "|0x%x", m & ~(0xffffu | IN_ISDIR));
}

static unsigned last_cookie;
// Prints every queued event (non-blocking fd), cookies as "c" (same as the
// previous nonzero one: "=") so values never show.
static int drain(int fd, const char *what) {
    char buf[65536] __attribute__((aligned(8)));
    int total = 0;
    printf("%s:\n", what);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) { if (errno != EAGAIN) printf("  read: %s\n", strerror(errno)); break; }
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            char m[256];
            maskstr(e->mask, m);
            const char *c = e->cookie == 0 ? "0" : e->cookie == last_cookie ? "=" : "c";
            if (e->cookie) last_cookie = e->cookie;
            int padok = e->len % 16 == 0;
            if (e->len) for (unsigned i = strlen(e->name); i < e->len; i++) if (e->name[i]) padok = 0;
            printf("  %s %s cookie=%s len=%u%s%s%s\n", wdname(e->wd), m, c, e->len, e->len ? " name=" : "",
                   e->len ? e->name : "", padok ? "" : " BAD-PADDING");
            p += sizeof *e + e->len;
            total++;
        }
    }
    return total;
}

static void check(const char *what, long r) {
    if (r < 0) printf("%s: %s\n", what, strerror(errno)); else printf("%s: ok\n", what);
}

static char *path(const char *name) {
    static char b[4][128];
    static int i;
    i = (i + 1) % 4;
    snprintf(b[i], sizeof b[i], "%s/%s", dir, name);
    return b[i];
}

static void put(const char *name, const char *s) {
    int fd = open(path(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (write(fd, s, strlen(s)) < 0) perror("write");
    close(fd);
}

static void fdinfo(int fd) {
    char p[64], line[512];
    snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
    FILE *f = fopen(p, "r");
    if (!f) { printf("fdinfo: %s\n", strerror(errno)); return; }
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "inotify ", 8) != 0) continue;
        unsigned wd, mask;
        char *w = strstr(line, "wd:"), *m = strstr(line, "mask:"), *ig = strstr(line, "ignored_mask:");
        int hasino = strstr(line, " ino:") != NULL, hassdev = strstr(line, " sdev:") != NULL;
        if (!w || !m || !ig || sscanf(w, "wd:%x", &wd) != 1 || sscanf(m, "mask:%x", &mask) != 1) { printf("fdinfo: bad line %s", line); continue; }
        printf("  fdinfo %s mask:%x %.14s ino:%d sdev:%d\n", wdname(wd), mask, ig, hasino, hassdev);
    }
    fclose(f);
}

static long readnum(const char *p) {
    FILE *f = fopen(p, "r");
    long v = -1;
    if (!f || fscanf(f, "%ld", &v) != 1) v = -1;
    if (f) fclose(f);
    return v;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    strcpy(dir, "/tmp/inotify.XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }

    // --- limits
    long maxq = readnum("/proc/sys/fs/inotify/max_queued_events");
    long maxi = readnum("/proc/sys/fs/inotify/max_user_instances");
    long maxw = readnum("/proc/sys/fs/inotify/max_user_watches");
    printf("max_queued_events %ld max_user_instances %ld max_user_watches in [8192,1048576]: %d\n", maxq, maxi,
           maxw >= 8192 && maxw <= 1048576);

    // --- inotify_init1's flags
    errno = 0;
    check("init1(IN_NONBLOCK|IN_CLOEXEC|1)", inotify_init1(IN_NONBLOCK | IN_CLOEXEC | 1));
    check("init1(O_RDWR)", inotify_init1(O_RDWR));
    int plain = inotify_init();
    printf("init: flags %o cloexec %d\n", fcntl(plain, F_GETFL) & ~O_LARGEFILE, fcntl(plain, F_GETFD));
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    printf("init1: flags %o cloexec %d\n", fcntl(fd, F_GETFL) & ~O_LARGEFILE, fcntl(fd, F_GETFD));
    char lnk[256] = {0};
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    if (readlink(self, lnk, sizeof lnk - 1) < 0) strcpy(lnk, strerror(errno));
    printf("fd link: %s\n", lnk);

    // --- inotify_add_watch's checks
    put("f", "hello\n");
    mkdir(path("sub"), 0755);
    symlink("f", path("lnk"));
    int pfd[2];
    if (pipe(pfd)) return 1;
    check("add_watch mask 0", inotify_add_watch(fd, dir, 0));
    check("add_watch unknown bit 0x1000", inotify_add_watch(fd, dir, 0x1000 | IN_CREATE));
    check("add_watch unknown bit 0x800000", inotify_add_watch(fd, dir, 0x800000 | IN_CREATE));
    check("add_watch bad fd", inotify_add_watch(999, dir, IN_CREATE));
    check("add_watch bad fd, mask 0", inotify_add_watch(999, dir, 0));
    check("add_watch pipe fd", inotify_add_watch(pfd[0], dir, IN_CREATE));
    check("add_watch MASK_ADD|MASK_CREATE", inotify_add_watch(fd, dir, IN_CREATE | IN_MASK_ADD | IN_MASK_CREATE));
    check("add_watch MASK_ADD|MASK_CREATE bad fd", inotify_add_watch(999, dir, IN_CREATE | IN_MASK_ADD | IN_MASK_CREATE));
    check("add_watch missing", inotify_add_watch(fd, path("missing"), IN_CREATE));
    check("add_watch ONLYDIR file", inotify_add_watch(fd, path("f"), IN_MODIFY | IN_ONLYDIR));
    check("add_watch ONLYDIR link to file", inotify_add_watch(fd, path("lnk"), IN_MODIFY | IN_ONLYDIR));
    check("add_watch NULL path", inotify_add_watch(fd, NULL, IN_CREATE));
    check("add_watch empty path", inotify_add_watch(fd, "", IN_CREATE));
    check("add_watch f/ (not a dir)", inotify_add_watch(fd, path("f/"), IN_MODIFY));
    check("rm_watch bad fd", inotify_rm_watch(999, 1));
    check("rm_watch pipe fd", inotify_rm_watch(pfd[0], 1));
    check("rm_watch unknown wd", inotify_rm_watch(fd, 12345));
    check("rm_watch wd -1", inotify_rm_watch(fd, -1));

    // wds: from 1, one per inode, the same inode the same wd.
    int wdD = inotify_add_watch(fd, dir, IN_ALL_EVENTS);
    int wdf = inotify_add_watch(fd, path("f"), IN_ALL_EVENTS);
    int wdl = inotify_add_watch(fd, path("lnk"), IN_ALL_EVENTS);
    int wdL = inotify_add_watch(fd, path("lnk"), IN_ATTRIB | IN_DONT_FOLLOW);
    printf("wds: dir %d file %d link-followed==file %d link-itself %d\n", wdD, wdf, wdl == wdf, wdL);
    label(wdD, "D"); label(wdf, "f"); label(wdL, "lnk");
    check("add_watch MASK_CREATE on watched", inotify_add_watch(fd, path("f"), IN_MODIFY | IN_MASK_CREATE));
    int wdS = inotify_add_watch(fd, path("sub"), IN_ALL_EVENTS | IN_MASK_CREATE);
    printf("MASK_CREATE new: %d\n", wdS);
    label(wdS, "sub");
    fdinfo(fd);
    drain(fd, "nothing yet");

    // Replacing and adding to a mask.
    printf("replace link mask: same wd %d\n", inotify_add_watch(fd, path("lnk"), IN_OPEN | IN_DONT_FOLLOW) == wdL);
    printf("MASK_ADD link mask: same wd %d\n", inotify_add_watch(fd, path("lnk"), IN_ATTRIB | IN_DONT_FOLLOW | IN_MASK_ADD) == wdL);
    fdinfo(fd);

    // --- events of each operation
    int f = open(path("f"), O_WRONLY | O_APPEND);
    drain(fd, "open for writing");
    if (write(f, "x", 1) != 1) perror("write");
    if (write(f, "y", 1) != 1) perror("write");
    drain(fd, "two writes (dir and file watched: nothing merges)");
    close(f);
    drain(fd, "close after writing");
    char buf[64];
    f = open(path("f"), O_RDONLY);
    if (read(f, buf, sizeof buf) < 0) perror("read");
    if (read(f, buf, sizeof buf) < 0) perror("read");   // at EOF: 0 bytes, no event
    close(f);
    drain(fd, "open, read, read at EOF, close");
    chmod(path("f"), 0600);
    drain(fd, "chmod");
    truncate(path("f"), 1);
    drain(fd, "truncate");
    f = open(path("f"), O_WRONLY | O_TRUNC);
    close(f);
    drain(fd, "open O_TRUNC, close");
    lchown(path("lnk"), getuid(), getgid());
    drain(fd, "lchown of the link");
    link(path("f"), path("f2"));
    drain(fd, "link");
    unlink(path("f2"));
    drain(fd, "unlink one of two names");
    rename(path("f"), path("g"));
    drain(fd, "rename f to g");
    rename(path("g"), path("sub/g"));
    drain(fd, "rename g to sub/g");
    rename(path("sub/g"), path("f"));
    drain(fd, "rename sub/g back to f");
    put("other", "o");
    drain(fd, "create other, write, close");
    rename(path("other"), path("f"));
    drain(fd, "rename other over f");
    mkdir(path("sub/deeper"), 0755);
    rmdir(path("sub/deeper"));
    drain(fd, "mkdir and rmdir in sub");
    DIR *d = opendir(dir);
    while (readdir(d)) {}
    closedir(d);
    drain(fd, "opendir, readdir, closedir");
    rename(path("sub"), path("sub2"));
    drain(fd, "rename sub to sub2");
    rmdir(path("sub2"));
    drain(fd, "rmdir sub2");
    unlink(path("f"));
    drain(fd, "unlink f");
    fdinfo(fd);
    unlink(path("lnk"));
    drain(fd, "unlink lnk");

    // --- coalescing: only the directory watched
    put("c", "");
    drain(fd, "create c");
    f = open(path("c"), O_WRONLY);
    for (int i = 0; i < 5; i++) if (write(f, "z", 1) != 1) perror("write");
    drain(fd, "five writes to c (merged into one)");
    close(f);
    drain(fd, "close");

    // --- one-shot, and rm_watch's IN_IGNORED
    int wdc = inotify_add_watch(fd, path("c"), IN_MODIFY | IN_ONESHOT);
    label(wdc, "c");
    inotify_rm_watch(fd, wdD);
    drain(fd, "rm_watch of the directory");
    check("rm_watch again", inotify_rm_watch(fd, wdD));
    f = open(path("c"), O_WRONLY);
    if (write(f, "1", 1) != 1) perror("write");
    if (write(f, "2", 1) != 1) perror("write");
    close(f);
    drain(fd, "two writes to a one-shot watch");
    check("rm_watch of the spent one-shot", inotify_rm_watch(fd, wdc));
    int wdD2 = inotify_add_watch(fd, dir, IN_CREATE | IN_DELETE);
    printf("a new watch of the directory gets a new wd: %d\n", wdD2 > wdc);
    label(wdD2, "D2");

    // --- read: the record, a buffer too small, FIONREAD
    put("a-name-longer-than-sixteen", "");
    int avail = -1;
    ioctl(fd, FIONREAD, &avail);
    printf("FIONREAD %d\n", avail);
    check("read 16 bytes (event needs more)", read(fd, buf, 16));
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    int pr = poll(&p, 1, 0);
    printf("poll: %d revents %x\n", pr, p.revents);
    drain(fd, "a long name");
    p.revents = 0;
    pr = poll(&p, 1, 0);
    printf("poll empty: %d revents %x\n", pr, p.revents);
    check("read empty, non-blocking", read(fd, buf, sizeof buf));

    // --- IN_EXCL_UNLINK: a second instance watches without it
    int other = inotify_init1(IN_NONBLOCK);
    int wdx = inotify_add_watch(fd, dir, IN_MODIFY | IN_EXCL_UNLINK | IN_MASK_ADD);
    int wdo = inotify_add_watch(other, dir, IN_MODIFY);
    label(wdx, "D2"); label(wdo, "D(other)");
    put("u", "");
    drain(fd, "create u");
    int wdu = inotify_add_watch(other, path("u"), IN_ALL_EVENTS);
    label(wdu, "u(other)");
    f = open(path("u"), O_WRONLY);
    int f2 = open(path("u"), O_RDONLY);
    unlink(path("u"));
    drain(fd, "unlink u, held open twice");
    if (write(f, "w", 1) != 1) perror("write");
    drain(fd, "write to unlinked u, EXCL_UNLINK watch");
    drain(other, "write to unlinked u, plain watches");
    close(f);
    drain(other, "close one (the file's DELETE_SELF waits for the last)");
    close(f2);
    drain(other, "close the last");
    close(other);

    // --- sendfile, copy_file_range, fallocate (splice sends nothing in 6.1)
    int sfd = inotify_init1(IN_NONBLOCK);
    label(inotify_add_watch(sfd, dir, IN_ACCESS | IN_MODIFY), "S");
    put("src", "0123456789");
    int in = open(path("src"), O_RDONLY), outf = open(path("dst"), O_WRONLY | O_CREAT, 0644);
    drain(sfd, "made src and dst");
    printf("sendfile: %zd\n", sendfile(outf, in, NULL, 4));
    drain(sfd, "sendfile src to dst");
    loff_t o = 0;
    printf("copy_file_range: %zd\n", copy_file_range(in, &o, outf, NULL, 3, 0));
    drain(sfd, "copy_file_range src to dst");
    printf("copy_file_range from the position: %zd\n", copy_file_range(in, NULL, outf, NULL, 3, 0));
    drain(sfd, "copy_file_range again");
    check("fallocate", fallocate(outf, 0, 0, 100));
    drain(sfd, "fallocate");
    label(inotify_add_watch(sfd, path("dst"), IN_ATTRIB), "dst");
    check("setxattr user.x", setxattr(path("dst"), "user.x", "1", 1, 0));
    check("removexattr user.x", removexattr(path("dst"), "user.x"));
    check("removexattr user.x again", removexattr(path("dst"), "user.x"));
    drain(sfd, "setxattr, removexattr (the dir watch has no IN_ATTRIB)");
    close(in); close(outf); close(sfd);
    unlink(path("src")); unlink(path("dst"));

    // --- epoll, and a blocking read woken by another process
    int blocking = inotify_init();
    int wdb = inotify_add_watch(blocking, dir, IN_CREATE);
    label(wdb, "B");
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, blocking, &ev);
    printf("epoll empty: %d\n", epoll_wait(ep, &out, 1, 0));
    pid_t child = fork();
    if (child == 0) {
        usleep(100000);
        put("from-child", "");
        _exit(0);
    }
    ssize_t n = read(blocking, buf, sizeof buf);
    struct inotify_event *e = (struct inotify_event *)buf;
    printf("blocking read: %zd bytes, %s %s\n", n, wdname(e->wd), n > 0 ? e->name : "");
    waitpid(child, NULL, 0);
    put("again", "");
    int er = epoll_wait(ep, &out, 1, 1000);
    printf("epoll: %d data %u events %x\n", er, out.data.u32, out.events);
    close(ep);

    // --- fork shares the instance: a watch the child adds is the parent's
    child = fork();
    if (child == 0) {
        int w = inotify_add_watch(blocking, path("c"), IN_ATTRIB);
        _exit(w > 0 ? w : 99);
    }
    int st;
    waitpid(child, &st, 0);
    int childwd = WEXITSTATUS(st);
    label(childwd, "c(child)");
    printf("child's wd is new: %d; parent removes it: %d\n", childwd > wdb, inotify_rm_watch(blocking, childwd));
    fcntl(blocking, F_SETFL, O_NONBLOCK);
    drain(blocking, "the shared instance");
    close(blocking);

    // --- overflow: events alternate between two watches so none merge
    int q = inotify_init1(IN_NONBLOCK);
    put("q", "");
    int wq1 = inotify_add_watch(q, dir, IN_MODIFY), wq2 = inotify_add_watch(q, path("q"), IN_MODIFY);
    f = open(path("q"), O_WRONLY);
    for (long i = 0; i < maxq / 2 + 10; i++) if (write(f, "q", 1) != 1) { perror("write"); break; }
    close(f);
    ioctl(q, FIONREAD, &avail);
    long expect = (maxq / 2) * (16 + 16) + (maxq / 2) * 16 + 16;
    printf("overflow: FIONREAD as expected %d\n", avail == expect);
    static char big[1 << 20];
    long count = 0, overflow = 0, lastwd = 0, wrong = 0;
    for (;;) {
        ssize_t r = read(q, big, sizeof big);
        if (r <= 0) break;
        for (char *pp = big; pp < big + r;) {
            struct inotify_event *qe = (struct inotify_event *)pp;
            if (qe->mask & IN_Q_OVERFLOW) { overflow++; lastwd = qe->wd; }
            else if (qe->wd != (count % 2 ? wq2 : wq1)) wrong++;
            count++;
            pp += sizeof *qe + qe->len;
        }
    }
    printf("overflow: %ld events (max %ld + 1), %ld IN_Q_OVERFLOW, wd %ld, out of order %ld\n", count, maxq, overflow, lastwd, wrong);
    close(q);

    // --- close drops the watches; instances per user are limited
    int opened = 0, lasterr = 0;
    int fds[1024];
    for (; opened < 1024; opened++) {
        fds[opened] = inotify_init();
        if (fds[opened] < 0) { lasterr = errno; break; }
    }
    printf("instances: stopped by %s within the limit: %d\n", strerror(lasterr), opened < maxi);
    for (int i = 0; i < opened; i++) close(fds[i]);
    int again = inotify_init();
    printf("after closing them: %s\n", again >= 0 ? "ok" : strerror(errno));

    // --- clean up
    close(fd);
    close(plain);
    unlink(path("c"));
    unlink(path("a-name-longer-than-sixteen"));
    unlink(path("from-child"));
    unlink(path("again"));
    unlink(path("q"));
    if (rmdir(dir)) perror("rmdir");
    return 0;
}
