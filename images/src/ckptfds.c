// A guest for checkpoint/restore with descriptors of the kinds a program
// keeps open between calls: a tmpfs directory and a host directory half
// listed, an O_PATH descriptor, /proc/self/status half read, a timerfd that
// expired unread and one still armed, a signalfd with its signal pending, a
// pidfd of a live child, a tmpfs file unlinked while open, one unlinked
// while mapped MAP_SHARED, an O_TMPFILE file, a pty pair with a line being
// edited, output for the master and a window size, an inotify watch with an
// event unread, a netlink socket with a link dump not yet read. It prints "ready", waits until the file MARKER
// exists (the checkpoint comes meanwhile; the test makes MARKER before the
// restore), and uses each. The output does not depend on listing order, so
// it is the same natively, in one run and across a checkpoint and restore.
//   ckptfds MARKER
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXN 512
typedef char Names[MAXN][256];
static Names tnames, hnames;

// Up to `max` entries from the directory, appended to names from *n; the
// cursor is left after the last one taken (lseek to its d_off).
static void list(int fd, int max, Names names, int *n) {
    char buf[4096];
    int taken = 0;
    while (taken < max) {
        long r = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (r <= 0) break;
        for (long off = 0; off < r && taken < max;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            if (*n < MAXN) snprintf(names[(*n)++], 256, "%s", d->d_name);
            taken++;
            off += d->d_reclen;
            if (taken == max) lseek(fd, d->d_off, SEEK_SET);
        }
    }
}

static int cmp(const void *a, const void *b) { return strcmp(a, b); }

// Whether the names read (before and after) are a fresh listing's, as sets.
static int same_as_fresh(const char *path, Names names, int n) {
    static Names fresh;
    int m = 0;
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) && m < MAXN) snprintf(fresh[m++], 256, "%s", e->d_name);
    if (d) closedir(d);
    qsort(names, n, 256, cmp);
    qsort(fresh, m, 256, cmp);
    if (m != n) return 0;
    for (int i = 0; i < n; i++) if (strcmp(names[i], fresh[i])) return 0;
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: ckptfds MARKER\n"); return 2; }
    const long secs = 2;
    mkdir("/tmp/ckptfds", 0755);
    unlink("/tmp/ckptfds/named");   // an earlier native run's
    for (const char *s = "abcdefgh"; *s; s++) {
        char p[64];
        snprintf(p, sizeof p, "/tmp/ckptfds/%c", *s);
        int f = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (write(f, p, strlen(p)) < 0) return 1;
        close(f);
    }
    // Unlinked while open, and while mapped; an O_TMPFILE file (made before the listing: none is in it).
    int gone = open("/tmp/ckptfds/gone", O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (write(gone, "unlinked but open", 17) != 17) return 1;
    unlink("/tmp/ckptfds/gone");
    lseek(gone, 9, SEEK_SET);
    int mf = open("/tmp/ckptfds/mapped", O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (ftruncate(mf, 4096) != 0) return 1;
    char *mp = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mf, 0);
    if (mp == MAP_FAILED) return 1;
    strcpy(mp, "a shared page");
    close(mf);
    unlink("/tmp/ckptfds/mapped");
    int tmpf = open("/tmp/ckptfds", O_TMPFILE | O_RDWR, 0600);
    if (tmpf < 0) printf("O_TMPFILE: %s\n", strerror(errno));
    else if (write(tmpf, "made by O_TMPFILE", 17) != 17) return 1;

    int ptm = posix_openpt(O_RDWR | O_NOCTTY);
    if (ptm < 0 || grantpt(ptm) != 0 || unlockpt(ptm) != 0) { perror("ptmx"); return 1; }
    int pts = open(ptsname(ptm), O_RDWR | O_NOCTTY);
    if (pts < 0) { perror("pts"); return 1; }
    struct winsize ws = { .ws_row = 24, .ws_col = 80 };
    ioctl(pts, TIOCSWINSZ, &ws);
    if (write(ptm, "hel", 3) != 3) return 1;
    // Linux echoes from a work queue: the echo first, then the slave's line, in that order for the master.
    struct pollfd echoed1 = { .fd = ptm, .events = POLLIN };
    poll(&echoed1, 1, 5000);
    if (write(pts, "from the slave\n", 15) != 15) return 1;

    int tdir = open("/tmp/ckptfds", O_RDONLY | O_DIRECTORY);
    int hdir = open("/etc", O_RDONLY | O_DIRECTORY);
    int tn = 0, hn = 0;
    list(tdir, 3, tnames, &tn);
    list(hdir, 5, hnames, &hn);
    int opath = open("/tmp/ckptfds/c", O_PATH);
    int status = open("/proc/self/status", O_RDONLY);
    char head[8] = "";
    if (read(status, head, 6) != 6) return 1;   // "Name:\t"

    int expired = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    struct itimerspec soon = { .it_value = { 0, 1000000 } };
    timerfd_settime(expired, 0, &soon, NULL);
    int armed = timerfd_create(CLOCK_MONOTONIC, 0);
    // Armed for longer than the wait natively (the marker is there at once).
    struct itimerspec later = { .it_value = { secs + 1, 0 }, .it_interval = { 0, 0 } };
    timerfd_settime(armed, 0, &later, NULL);

    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    raise(SIGUSR1);
    int sfd = signalfd(-1, &usr1, SFD_NONBLOCK);

    int hold[2];
    if (pipe(hold) != 0) return 1;
    pid_t child = fork();
    if (child == 0) {
        close(hold[1]);
        char c;
        while (read(hold[0], &c, 1) > 0) {}
        _exit(7);
    }
    close(hold[0]);
    int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
    int in = inotify_init1(IN_NONBLOCK);
    mkdir("/tmp/ckptfds.w", 0755);   // not the half-listed directory: a name made there could change its listing
    int wd = inotify_add_watch(in, "/tmp/ckptfds.w", IN_CREATE | IN_DELETE);
    close(open("/tmp/ckptfds.w/watched", O_WRONLY | O_CREAT, 0600));
    int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    struct sockaddr_nl nla = { .nl_family = AF_NETLINK };
    if (nl < 0 || bind(nl, (struct sockaddr *)&nla, sizeof nla) != 0) { perror("netlink"); return 1; }
    struct { struct nlmsghdr h; struct ifinfomsg i; } req = {
        { sizeof req, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0 }, { .ifi_family = AF_UNSPEC } };
    if (send(nl, &req, sizeof req, 0) != sizeof req) { perror("netlink send"); return 1; }
    usleep(20000);   // the 1 ms timer has expired
    printf("ready: %d tmpfs entries and %d of /etc listed, pidfd %s\n", tn, hn, pidfd >= 0 ? "open" : strerror(errno));
    fflush(stdout);

    for (int i = 0; access(argv[1], F_OK) != 0; i++) {
        if (i == 30000) { fprintf(stderr, "ckptfds: no %s after 5 minutes\n", argv[1]); return 1; }
        usleep(10000);
    }

    list(tdir, 1 << 30, tnames, &tn);
    list(hdir, 1 << 30, hnames, &hn);
    printf("tmpfs directory: %d entries in all, the same as a fresh listing: %s\n", tn, same_as_fresh("/tmp/ckptfds", tnames, tn) ? "yes" : "no");
    printf("/etc: the same as a fresh listing: %s\n", same_as_fresh("/etc", hnames, hn) ? "yes" : "no");
    struct stat st;
    char fdpath[64], link[256] = "?";
    snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", opath);
    ssize_t ln = readlink(fdpath, link, sizeof link - 1);
    if (ln > 0) link[ln] = 0;
    int fs = fstat(opath, &st);
    printf("O_PATH: fstat %s, size %ld, names %s\n", fs == 0 ? "ok" : strerror(errno), fs == 0 ? (long)st.st_size : -1L, link);
    char rest[64] = "";
    ssize_t r = read(status, rest, sizeof rest - 1);
    if (r > 0) rest[strcspn(rest, "\n")] = 0;
    printf("/proc/self/status: '%s' then '%s'\n", head[0] == 'N' ? "Name:" : head, rest);

    char got[32] = "";
    ssize_t gr = read(gone, got, sizeof got - 1);
    snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", gone);
    ln = readlink(fdpath, link, sizeof link - 1);
    link[ln > 0 ? ln : 0] = 0;
    fstat(gone, &st);
    printf("unlinked file: read %zd '%s', %ld links, names %s\n", gr, got, (long)st.st_nlink, link);
    printf("unlinked mapping: '%s'\n", mp);
    if (tmpf >= 0) {
        snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", tmpf);
        int l = linkat(AT_FDCWD, fdpath, AT_FDCWD, "/tmp/ckptfds/named", AT_SYMLINK_FOLLOW);
        char t[32] = "";
        int nf = open("/tmp/ckptfds/named", O_RDONLY);
        ssize_t tn2 = nf >= 0 ? read(nf, t, sizeof t - 1) : -1;
        fstat(tmpf, &st);
        printf("O_TMPFILE: linkat %d, now %ld link, reads %zd '%s'\n", l, (long)st.st_nlink, tn2, t);
        unlink("/tmp/ckptfds/named");
    }

    if (write(ptm, "lo\n", 3) != 3) return 1;
    char line[64] = "", echoed[128] = "";
    ssize_t pl = read(pts, line, sizeof line - 1);
    size_t el = 0;
    // The master's bytes: the echo of "hel", the slave's line, the echo of "lo\n" (ONLCR: \r\n).
    struct pollfd pm = { .fd = ptm, .events = POLLIN };
    while (el < 24 && poll(&pm, 1, 5000) == 1) {
        ssize_t k = read(ptm, echoed + el, sizeof echoed - 1 - el);
        if (k <= 0) break;
        el += (size_t)k;
    }
    for (size_t i = 0; i < el; i++) if (echoed[i] == '\r') echoed[i] = 'R'; else if (echoed[i] == '\n') echoed[i] = 'N';
    if (pl > 0 && line[pl - 1] == '\n') line[pl - 1] = 0;
    struct winsize now = {0};
    ioctl(ptm, TIOCGWINSZ, &now);
    printf("pty: the slave read %zd '%s', the master %zu '%s', window %dx%d\n", pl, line, el, echoed, now.ws_row, now.ws_col);

    close(open("/tmp/ckptfds.w/after", O_WRONLY | O_CREAT, 0600));
    unlink("/tmp/ckptfds.w/after");
    char evbuf[4096];
    ssize_t en = read(in, evbuf, sizeof evbuf);
    for (ssize_t off = 0; off < en;) {
        struct inotify_event *ev = (struct inotify_event *)(evbuf + off);
        printf("inotify: wd %s, %s %s\n", ev->wd == wd ? "the watch's" : "another", ev->mask & IN_CREATE ? "create" : ev->mask & IN_DELETE ? "delete" : "other",
               ev->len ? ev->name : "");
        off += sizeof *ev + ev->len;
    }
    unlink("/tmp/ckptfds.w/watched");

    // The dump, read only now: is lo in it, and is the port still the pid's?
    int lo = 0, done = 0;
    char nb[16384];
    while (!done) {
        ssize_t k = recv(nl, nb, sizeof nb, 0);
        if (k <= 0) break;
        for (struct nlmsghdr *h = (struct nlmsghdr *)nb; NLMSG_OK(h, (size_t)k); h = NLMSG_NEXT(h, k)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) { done = 1; break; }
            if (h->nlmsg_type != RTM_NEWLINK) continue;
            struct ifinfomsg *ifi = NLMSG_DATA(h);
            int len = h->nlmsg_len - NLMSG_LENGTH(sizeof *ifi);
            for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len))
                if (a->rta_type == IFLA_IFNAME && strcmp(RTA_DATA(a), "lo") == 0) lo = 1;
        }
    }
    socklen_t nll = sizeof nla;
    getsockname(nl, (struct sockaddr *)&nla, &nll);
    printf("netlink: the dump %s, lo in it %s, the port is the pid %s\n", done ? "ended" : "cut short", lo ? "yes" : "no",
           nla.nl_pid == (unsigned)getpid() ? "yes" : "no");

    unsigned long long n = 0;
    ssize_t tr = read(expired, &n, 8);
    printf("expired timerfd: read %zd, %llu expiration\n", tr, n);
    struct itimerspec cur;
    timerfd_gettime(armed, &cur);
    printf("armed timerfd: still armed %s, at most its %ld s left %s\n", cur.it_value.tv_sec || cur.it_value.tv_nsec ? "yes" : "no",
           secs + 1, cur.it_value.tv_sec <= secs + 1 ? "yes" : "no");
    n = 0;
    tr = read(armed, &n, 8);
    printf("armed timerfd: blocking read %zd, %llu expiration\n", tr, n);

    struct signalfd_siginfo si;
    ssize_t sr = read(sfd, &si, sizeof si);
    printf("signalfd: read %zd, signal %u\n", sr, sr == sizeof si ? si.ssi_signo : 0);
    sr = read(sfd, &si, sizeof si);
    printf("signalfd again: %s\n", sr < 0 ? strerror(errno) : "a second signal");

    struct pollfd p = { .fd = pidfd, .events = POLLIN };
    printf("pidfd: ready while the child lives: %d\n", poll(&p, 1, 0));
    close(hold[1]);
    printf("pidfd: ready once it exits: %d\n", poll(&p, 1, 10000));
    siginfo_t info = {0};
    int w = (int)syscall(SYS_waitid, P_PIDFD, pidfd, &info, WEXITED, NULL);
    printf("waitid(P_PIDFD): %d, the child's status %d\n", w, info.si_status);
    return 0;
}
