// POSIX message queues as Linux 6.1 serves them: mq_open's names, flags
// and limits, priorities, O_NONBLOCK, timeouts, mq_getsetattr, mq_notify
// with SIGEV_SIGNAL, SIGEV_NONE and glibc's SIGEV_THREAD (a netlink socket
// carries the kernel's cookie), poll and epoll on a queue descriptor, the
// status line a read gives, RLIMIT_MSGQUEUE, and queues shared across fork.
// Queue names carry the pid so that native runs never meet; nothing printed
// depends on it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char names[8][64];

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static const char *qname(int i) { return names[i]; }

static struct timespec past(void) { struct timespec ts = {1, 0}; return ts; }
static struct timespec soon(long ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

static void statusLine(mqd_t q, const char *what) {
    char buf[128] = {0};
    lseek(q, 0, SEEK_SET);
    ssize_t n = read(q, buf, sizeof buf - 1);
    // NOTIFY_PID is the registrant's pid: shown as whether it is ours.
    char *p = strstr(buf, "NOTIFY_PID:");
    int mine = p && atoi(p + 11) == getpid();
    if (p) p[11] = 0;
    printf("%s: %zd bytes: %s%s\n", what, n, buf, p ? (mine ? "<me>" : "<none>") : "");
}

static void names_(void) {
    struct mq_attr a = {0, 4, 64, 0};
    char longName[300];
    memset(longName, 'x', sizeof longName);
    longName[0] = '/';
    longName[257] = 0;
    show("mq_open(\"noslash\") (glibc)", mq_open("noslash", O_RDWR | O_CREAT, 0600, &a));
    show("raw mq_open(\"\")", syscall(SYS_mq_open, "", O_RDWR | O_CREAT, 0600, &a));
    show("raw mq_open(\"a/b\")", syscall(SYS_mq_open, "a/b", O_RDWR | O_CREAT, 0600, &a));
    show("raw mq_open(\".\")", syscall(SYS_mq_open, ".", O_RDWR | O_CREAT, 0600, &a));
    show("raw mq_open(\"..\")", syscall(SYS_mq_open, "..", O_RDWR | O_CREAT, 0600, &a));
    show("256-byte name", mq_open(longName, O_RDWR | O_CREAT, 0600, &a));
    show("raw mq_open, name unreadable", syscall(SYS_mq_open, (char *)8, O_RDWR | O_CREAT, 0600, &a));
    show("raw mq_open, attr unreadable", syscall(SYS_mq_open, qname(0) + 1, O_RDWR | O_CREAT, 0600, (void *)8));
    show("missing, no O_CREAT", mq_open(qname(0), O_RDWR));
    struct mq_attr bad = {0, 0, 64, 0};
    show("mq_maxmsg 0", mq_open(qname(0), O_RDWR | O_CREAT, 0600, &bad));
    bad = (struct mq_attr){0, 4, 0, 0};
    show("mq_msgsize 0", mq_open(qname(0), O_RDWR | O_CREAT, 0600, &bad));
    bad = (struct mq_attr){0, -1, 64, 0};
    show("mq_maxmsg -1", mq_open(qname(0), O_RDWR | O_CREAT, 0600, &bad));
    bad = (struct mq_attr){0, 65537, 64, 0};
    show("mq_maxmsg past HARD_MSGMAX", mq_open(qname(0), O_RDWR | O_CREAT, 0600, &bad));
    bad = (struct mq_attr){0, 4, (16 << 20) + 1, 0};
    show("mq_msgsize past HARD_MSGSIZEMAX", mq_open(qname(0), O_RDWR | O_CREAT, 0600, &bad));
    mqd_t q = mq_open(qname(0), O_RDWR | O_CREAT | O_EXCL, 0640, &a);
    printf("created: %d\n", q >= 0);
    show("O_EXCL again", mq_open(qname(0), O_RDWR | O_CREAT | O_EXCL, 0600, &a));
    show("O_ACCMODE 3", mq_open(qname(0), O_RDWR | O_WRONLY));
    mqd_t again = mq_open(qname(0), O_RDONLY | O_CREAT, 0600, NULL);
    printf("opened again: %d\n", again >= 0);
    printf("close-on-exec: %d\n", fcntl(q, F_GETFD));
    struct stat st;
    fstat(q, &st);
    printf("fstat: regular %d, mode %o, size %ld\n", S_ISREG(st.st_mode), st.st_mode & 07777, (long)st.st_size);
    struct mq_attr got;
    mq_getattr(q, &got);
    printf("attr: flags %ld maxmsg %ld msgsize %ld curmsgs %ld\n", got.mq_flags, got.mq_maxmsg, got.mq_msgsize, got.mq_curmsgs);
    mq_close(again);
    mq_close(q);
    mqd_t d = mq_open(qname(1), O_RDWR | O_CREAT, 0600, NULL);
    mq_getattr(d, &got);
    printf("default attr: maxmsg %ld msgsize %ld\n", got.mq_maxmsg, got.mq_msgsize);
    mq_close(d);
    show("mq_unlink", mq_unlink(qname(1)));
    show("mq_unlink again", mq_unlink(qname(1)));
    show("raw mq_unlink(\"\")", syscall(SYS_mq_unlink, ""));
    show("raw mq_unlink(\"a/b\")", syscall(SYS_mq_unlink, "a/b"));
}

static void messages(void) {
    struct mq_attr a = {0, 4, 64, 0};
    mqd_t q = mq_open(qname(0), O_RDWR);
    char buf[128];
    unsigned prio;
    const char *texts[] = {"low", "high", "mid", "high2"};
    unsigned prios[] = {1, 9, 5, 9};
    for (int i = 0; i < 4; i++) show("send", mq_send(q, texts[i], strlen(texts[i]), prios[i]));
    statusLine(q, "read, four messages");
    struct timespec p = past();
    show("timedsend, full, past deadline", mq_timedsend(q, "x", 1, 0, &p));
    struct timespec s = soon(30);
    show("timedsend, full, 30 ms", mq_timedsend(q, "x", 1, 0, &s));
    struct mq_attr na = {O_NONBLOCK, 0, 0, 0}, old;
    show("setattr O_NONBLOCK", mq_setattr(q, &na, &old));
    printf("  old flags %ld curmsgs %ld\n", old.mq_flags, old.mq_curmsgs);
    show("send, full, O_NONBLOCK", mq_send(q, "x", 1, 0));
    show("receive, buffer too small", mq_receive(q, buf, 63, &prio));
    for (int i = 0; i < 4; i++) {
        ssize_t n = mq_receive(q, buf, sizeof buf, &prio);
        if (n >= 0) printf("receive: \"%.*s\" prio %u\n", (int)n, buf, prio);
        else show("receive", n);
    }
    show("receive, empty, O_NONBLOCK", mq_receive(q, buf, sizeof buf, &prio));
    na.mq_flags = 0;
    mq_setattr(q, &na, &old);
    printf("  old flags %ld\n", old.mq_flags);
    show("timedreceive, empty, past deadline", mq_timedreceive(q, buf, sizeof buf, &prio, &p));
    struct timespec badts = {0, 1000000000L};
    show("timedreceive, bad timeout", mq_timedreceive(q, buf, sizeof buf, &prio, &badts));
    show("timedreceive, unreadable timeout", syscall(SYS_mq_timedreceive, q, buf, sizeof buf, &prio, (void *)8));
    show("send, message too long", mq_send(q, buf, 65, 0));
    show("send, priority 32768", mq_send(q, "x", 1, 32768));
    show("send, priority 32767", mq_send(q, "x", 1, 32767));
    show("receive into unreadable prio", syscall(SYS_mq_timedreceive, q, buf, sizeof buf, (void *)8, NULL));
    show("the message went with the fault", mq_timedreceive(q, buf, sizeof buf, NULL, &p));
    na.mq_flags = O_NONBLOCK | O_RDWR;
    show("setattr, other flags", mq_setattr(q, &na, &old));
    show("getattr of stdin", mq_getattr(0, &old));
    show("send on stdout", mq_send(1, "x", 1, 0));
    show("send on 999", mq_send(999, "x", 1, 0));
    mqd_t ro = mq_open(qname(0), O_RDONLY), wo = mq_open(qname(0), O_WRONLY);
    show("send on O_RDONLY", mq_send(ro, "x", 1, 0));
    show("receive on O_WRONLY", mq_receive(wo, buf, sizeof buf, NULL));
    show("write(2) on a queue", write(wo, "x", 1));
    mq_close(ro);
    mq_close(wo);

    // poll and epoll.
    struct pollfd pf = {q, POLLIN | POLLOUT, 0};
    poll(&pf, 1, 0);
    printf("poll, empty: %#x\n", pf.revents);
    for (int i = 0; i < 4; i++) mq_send(q, "y", 1, 0);
    poll(&pf, 1, 0);
    printf("poll, full: %#x\n", pf.revents);
    mq_receive(q, buf, sizeof buf, NULL);
    poll(&pf, 1, 0);
    printf("poll, 3 of 4: %#x\n", pf.revents);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, q, &ev);
    printf("epoll, messages waiting: %d\n", epoll_wait(ep, &out, 1, 0));
    while (mq_timedreceive(q, buf, sizeof buf, NULL, &p) >= 0) {}
    printf("epoll, empty: %d\n", epoll_wait(ep, &out, 1, 0));
    // A child's send wakes the blocked receiver; its receive wakes our sender.
    pid_t c = fork();
    if (c == 0) {
        usleep(30000);
        mq_send(q, "from child", 10, 3);
        _exit(0);
    }
    printf("epoll_wait woken: %d\n", epoll_wait(ep, &out, 1, 5000));
    ssize_t n = mq_receive(q, buf, sizeof buf, &prio);
    printf("received \"%.*s\" prio %u\n", (int)n, buf, prio);
    waitpid(c, NULL, 0);
    close(ep);
    mq_close(q);
    (void)a;
}

static volatile int threadNotified;
static int notePipe[2];
static void onNotify(union sigval v) {
    threadNotified = v.sival_int;
    write(notePipe[1], "n", 1);
}

static void notifications(void) {
    mqd_t q = mq_open(qname(0), O_RDWR);
    char buf[128];
    struct sigevent ev = {0};
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    ev.sigev_value.sival_int = 42;
    show("notify SIGEV_SIGNAL", mq_notify(q, &ev));
    statusLine(q, "read, registered");
    show("notify again", mq_notify(q, &ev));
    pid_t c = fork();
    if (c == 0) {
        show("  child: notify while the parent is registered", mq_notify(q, &ev));
        show("  child: unregister (not its registration)", mq_notify(q, NULL));
        _exit(0);
    }
    waitpid(c, NULL, 0);
    mq_send(q, "a", 1, 0);
    siginfo_t si;
    struct timespec wait = {5, 0};
    int sig = sigtimedwait(&set, &si, &wait);
    printf("signal %d code %d value %d from me %d\n", sig, si.si_code, si.si_value.sival_int, si.si_pid == getpid());
    statusLine(q, "read, fired");
    // Not empty: registering again and sending does not fire.
    show("notify again after it fired", mq_notify(q, &ev));
    mq_send(q, "b", 1, 0);
    struct timespec zero = {0, 0};
    printf("signal while not empty: %d\n", sigtimedwait(&set, &si, &zero));
    while (mq_receive(q, buf, sizeof buf, NULL) >= 0 && mq_getattr(q, &(struct mq_attr){0}) == 0) {
        struct mq_attr a;
        mq_getattr(q, &a);
        if (a.mq_curmsgs == 0) break;
    }
    show("unregister", mq_notify(q, NULL));
    show("unregister again", mq_notify(q, NULL));
    // A registration goes with its process, and with any close of one of
    // the queue's descriptors by it.
    pid_t r = fork();
    if (r == 0) { _exit(mq_notify(q, &ev) == 0 ? 0 : 1); }
    int rst;
    waitpid(r, &rst, 0);
    printf("child registered: %d\n", WIFEXITED(rst) && WEXITSTATUS(rst) == 0);
    show("notify after that child exited", mq_notify(q, &ev));
    mqd_t other = mq_open(qname(0), O_RDONLY);
    mq_close(other);
    show("notify after closing another descriptor", mq_notify(q, &ev));
    show("unregister", mq_notify(q, NULL));
    ev.sigev_notify = SIGEV_NONE;
    show("notify SIGEV_NONE", mq_notify(q, &ev));
    statusLine(q, "read, SIGEV_NONE");
    mq_send(q, "c", 1, 0);
    mq_receive(q, buf, sizeof buf, NULL);
    statusLine(q, "read, after SIGEV_NONE fired");
    ev.sigev_notify = 7;
    show("notify, sigev_notify 7", mq_notify(q, &ev));
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = 65;
    show("notify, signal 65", mq_notify(q, &ev));
    show("raw notify, unreadable sigevent", syscall(SYS_mq_notify, q, (void *)8));
    show("notify on stdin", mq_notify(0, &ev));
    struct { union sigval v; int signo, notify; } raw = {{.sival_ptr = buf}, 0, SIGEV_THREAD};
    show("raw notify SIGEV_THREAD, fd 0 (not a socket)", syscall(SYS_mq_notify, q, &raw));
    int udp = socket(AF_UNIX, SOCK_DGRAM, 0);
    raw.signo = udp;
    show("raw notify SIGEV_THREAD, an AF_UNIX socket", syscall(SYS_mq_notify, q, &raw));
    raw.signo = 999;
    show("raw notify SIGEV_THREAD, fd 999", syscall(SYS_mq_notify, q, &raw));
    raw.v.sival_ptr = (void *)8;
    show("raw notify SIGEV_THREAD, cookie unreadable", syscall(SYS_mq_notify, q, &raw));
    close(udp);

    // glibc's SIGEV_THREAD: its helper thread reads the kernel's cookie
    // from a netlink socket and starts the function.
    pipe(notePipe);
    ev = (struct sigevent){0};
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_notify_function = onNotify;
    ev.sigev_value.sival_int = 7;
    show("notify SIGEV_THREAD", mq_notify(q, &ev));
    statusLine(q, "read, SIGEV_THREAD");
    mq_send(q, "d", 1, 0);
    struct pollfd pf = {notePipe[0], POLLIN, 0};
    poll(&pf, 1, 5000);
    printf("thread notified with %d\n", threadNotified);
    mq_receive(q, buf, sizeof buf, NULL);
    show("notify SIGEV_THREAD again", mq_notify(q, &ev));
    show("unregister it", mq_notify(q, NULL));
    mq_close(q);
}

static void limits(void) {
    // Everything a queue takes counts against RLIMIT_MSGQUEUE: 10 messages
    // of 8192 bytes and the kernel's bookkeeping for them come to 82880.
    struct rlimit rl = {82880, 82880};
    show("setrlimit 82880", setrlimit(RLIMIT_MSGQUEUE, &rl));
    struct mq_attr a = {0, 10, 8192, 0}, small = {0, 1, 1, 0};
    mqd_t q1 = mq_open(qname(2), O_RDWR | O_CREAT, 0600, &a);
    printf("exactly at the limit: %d\n", q1 >= 0);
    show("one more, however small", mq_open(qname(3), O_RDWR | O_CREAT, 0600, &small));
    mq_unlink(qname(2));
    show("still open after unlink: send", mq_send(q1, "z", 1, 0));
    show("while the unlinked one is open", mq_open(qname(3), O_RDWR | O_CREAT, 0600, &small));
    mq_close(q1);
    mqd_t q3 = mq_open(qname(3), O_RDWR | O_CREAT, 0600, &small);
    printf("after its last close: %d\n", q3 >= 0);
    mq_close(q3);
    mq_unlink(qname(3));
    rl.rlim_cur = rl.rlim_max = 82879;
    setrlimit(RLIMIT_MSGQUEUE, &rl);
    show("a queue 1 byte past RLIMIT_MSGQUEUE", mq_open(qname(2), O_RDWR | O_CREAT, 0600, &a));
}

// /dev/mqueue, where Debian mounts the mqueue filesystem.
static void listing(const char *when) {
    DIR *d = opendir("/dev/mqueue");
    if (!d) { printf("%s: opendir: %s\n", when, strerrorname_np(errno)); return; }
    printf("%s:", when);
    struct dirent *e;
    while ((e = readdir(d))) if (e->d_name[0] != '.') printf(" %s", e->d_name);
    printf("\n");
    closedir(d);
}

static void devMqueue(void) {
    struct statfs fs;
    statfs("/dev/mqueue", &fs);
    printf("/dev/mqueue is mqueue: %d\n", fs.f_type == 0x19800202);
    struct mq_attr a = {0, 4, 64, 0};
    mqd_t q = mq_open("/devtest", O_RDWR | O_CREAT, 0600, &a);
    mq_send(q, "abc", 3, 1);
    mq_send(q, "defg", 4, 2);
    listing("after mq_open");
    char line[128] = {0};
    int fd = open("/dev/mqueue/devtest", O_RDONLY);
    read(fd, line, sizeof line - 1);
    printf("%s", line);
    struct stat st;
    fstat(fd, &st);
    printf("regular %d mode %o size %ld\n", S_ISREG(st.st_mode), st.st_mode & 07777, (long)st.st_size);
    close(fd);
    mq_unlink("/devtest");
    listing("after mq_unlink");
    mq_close(q);

    // The directory's own calls: open(O_CREAT) makes a queue with the
    // default attributes, unlink removes it; nothing else can be made.
    int c = open("/dev/mqueue/devmade", O_CREAT | O_RDWR, 0640);
    printf("open O_CREAT: %s\n", c >= 0 ? "ok" : strerror(errno));
    struct mq_attr attr;
    mq_getattr(c, &attr);
    printf("maxmsg %ld msgsize %ld\n", attr.mq_maxmsg, attr.mq_msgsize);
    printf("mq_send on it: %d\n", mq_send(c, "hi", 2, 0));
    fstat(c, &st);
    printf("mode %o\n", st.st_mode & 07777);
    listing("after open O_CREAT");
    show("O_CREAT|O_EXCL again", open("/dev/mqueue/devmade", O_CREAT | O_EXCL | O_RDWR, 0600));
    show("mkdir", mkdir("/dev/mqueue/dir", 0700));
    show("symlink", symlink("devmade", "/dev/mqueue/link"));
    show("rmdir of a queue", rmdir("/dev/mqueue/devmade"));
    show("unlink", unlink("/dev/mqueue/devmade"));
    listing("after unlink");
    printf("still usable while open: %d\n", mq_send(c, "x", 1, 0));
    close(c);
}

// /proc/sys/fs/mqueue: read, written by root, refused to others.
static void sysctls(void) {
    const char *files[] = { "msg_default", "msg_max", "msgsize_default", "msgsize_max", "queues_max" };
    char path[96], buf[64];
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "/proc/sys/fs/mqueue/%s", files[i]);
        int fd = open(path, O_RDONLY);
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[n > 0 ? n : 0] = 0;
        printf("%s: %s", files[i], buf);
    }
    int fd = open("/proc/sys/fs/mqueue/msg_default", O_WRONLY);
    show("write msg_default 5", write(fd, "5\n", 2));
    show("write 7 after it (ignored)", write(fd, "7", 1));
    show("pwrite msg_default 0", pwrite(fd, "0", 1, 0));
    show("pwrite msg_default 65537", pwrite(fd, "65537", 5, 0));
    show("pwrite msg_default abc", pwrite(fd, "abc", 3, 0));
    close(fd);
    mqd_t q = mq_open(qname(6), O_RDWR | O_CREAT, 0600, NULL);
    struct mq_attr a;
    mq_getattr(q, &a);
    printf("a queue made with no attributes: maxmsg %ld\n", a.mq_maxmsg);
    mq_close(q);
    mq_unlink(qname(6));
    fd = open("/proc/sys/fs/mqueue/msg_default", O_WRONLY);
    write(fd, "10", 2);
    close(fd);
    pid_t c = fork();
    if (c == 0) {
        setgid(65534);
        setuid(65534);
        show("open for writing as nobody", open("/proc/sys/fs/mqueue/msg_max", O_WRONLY));
        _exit(0);
    }
    waitpid(c, NULL, 0);
}

// A checkpoint keeps /proc/sys/fs/mqueue: set msg_default, say so, sleep
// (a checkpoint comes meanwhile), then make a queue with the defaults.
static void sysctlAcrossCheckpoint(void) {
    int fd = open("/proc/sys/fs/mqueue/msg_default", O_WRONLY);
    show("write msg_default 3", write(fd, "3", 1));
    close(fd);
    fflush(stdout);
    sleep(3);
    mqd_t q = mq_open(qname(7), O_RDWR | O_CREAT, 0600, NULL);
    struct mq_attr a;
    mq_getattr(q, &a);
    printf("a queue made with no attributes: maxmsg %ld\n", a.mq_maxmsg);
    mq_unlink(qname(7));
}

// Waits until `pid` sleeps (in the call it was started into), then a little more.
static void until_asleep(pid_t pid) {
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    for (int i = 0; i < 2000; i++) {
        int fd = open(path, O_RDONLY);
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[n > 0 ? n : 0] = 0;
        char *p = strrchr(buf, ')');
        if (p && p[2] == 'S') break;
        usleep(1000);
    }
    usleep(20000);
}

// Blocked receivers are served in arrival order (pipelined_send), and
// blocked senders' messages enter a full queue in arrival order, whatever
// their priorities (pipelined_receive).
static void waiters(void) {
    struct mq_attr one = { .mq_maxmsg = 1, .mq_msgsize = 16 };
    mqd_t q = mq_open(qname(5), O_RDWR | O_CREAT, 0600, &one);
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            char m[16] = {0};
            mq_receive(q, m, sizeof m, NULL);
            _exit(m[0] - '0');
        }
        until_asleep(kids[i]);
    }
    for (int i = 1; i <= 3; i++) { char m = '0' + i; mq_send(q, &m, 1, 0); }
    for (int i = 0; i < 3; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        printf("receiver %d got message %d\n", i + 1, WEXITSTATUS(st));
    }
    mq_send(q, "first", 5, 0);
    const unsigned prio[3] = { 1, 5, 3 };
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            char m = 'a' + i;
            _exit(mq_send(q, &m, 1, prio[i]) == 0 ? 0 : 1);
        }
        until_asleep(kids[i]);
    }
    for (int i = 0; i < 4; i++) {
        char m[16] = {0};
        unsigned p = 0;
        mq_receive(q, m, sizeof m, &p);
        printf("received %s (priority %u)\n", m, p);
    }
    for (int i = 0; i < 3; i++) waitpid(kids[i], NULL, 0);
    mq_close(q);
    mq_unlink(qname(5));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    umask(022);
    for (int i = 0; i < 8; i++) snprintf(names[i], sizeof names[i], "/sentry-mq-%d-%d", (int)getpid(), i);
    // RLIMIT_MSGQUEUE is charged to the user across the whole host: only a
    // fresh namespace (a sandbox) gives a known starting point.
    if (argc > 1 && strcmp(argv[1], "limits") == 0) { limits(); return 0; }
    if (argc > 1 && strcmp(argv[1], "dev") == 0) { devMqueue(); return 0; }
    if (argc > 1 && strcmp(argv[1], "sysctl") == 0) { sysctls(); return 0; }
    if (argc > 1 && strcmp(argv[1], "sysctl-checkpoint") == 0) { sysctlAcrossCheckpoint(); return 0; }
    names_();
    messages();
    notifications();
    waiters();
    show("unlink the first", mq_unlink(qname(0)));
    return 0;
}
