// A guest for checkpoint/restore: state in memory (a heap table and a
// running sum), the MXCSR rounding mode (FPU state), a child blocked in
// read(2) on a pipe, a tmpfs file kept open for appending, an eventfd and a
// blocked, pending SIGUSR1 with a handler. Each step prints one line, then
// sleeps (nanosleep: restart_syscall when frozen). The final lines say what
// the child, the file, the eventfd and the signal saw: an uninterrupted run
// and a checkpointed-and-restored one print the same.
//   ckptcount STEPS [SLEEP_MS] [itimer|socket|unix|inet|ptimer|cputime|seccomp|sud|memfd|ipc|clock|numa|patch]
// "itimer": an ITIMER_REAL armed for 1000 s (its time left is printed at
// the end, in hundreds of seconds).
// "ptimer": POSIX timers: one armed for 1000 s, one SIGEV_NONE, and one
// every 2 ms overrunning with its signal blocked, the signal queued across
// the checkpoint. "cputime": ITIMER_PROF armed for 1000 s of CPU time and the
// process's CPU clock, which must not go back across a restore. "seccomp":
// two stacked filters answering getppid and getuid with errors. "sud":
// Syscall User Dispatch on, each step's getpid dispatched to a SIGSYS
// handler that emulates it. "memfd": a sealed memfd mapped MAP_SHARED by
// the parent and the child (each step stored through the mapping, the
// child's mark at the end), a memfd held by its mapping alone, and a tmpfs
// file mapped shared: the end reads them back through the files. "ipc":
// System V shared memory (one segment removed while attached), a semaphore
// set with the child's SEM_UNDO undone when it exits after the restore, a
// message queue, and POSIX message queues (one unlinked, still open).
// "clock": CLOCK_MONOTONIC read at every step: whether it ever went back,
// whether it jumped 900 s or more (an image restored in another boot goes on
// from its checkpoint's reading), and an absolute clock_nanosleep after.
// "numa": a process memory policy (interleave, static nodes), an mbind range
// with a home node and a MADV_DONTFORK page, read back at the end, and a
// child that touches the page it did not get.
// "unix" and "inet": a server child in a conversation with this process over
// a connection (AF_UNIX at a path in /tmp, or TCP on ::1), each step's
// reply left buffered across the sleep; a second connection waits
// unaccepted in the listener's backlog with the bytes it sent; "unix" also
// has a pipe in flight in an SCM_RIGHTS message on a seqpacket pair, a
// stream pair shut down for writing, and two datagrams queued at an
// abstract name; "inet" two UDP datagrams queued at a bound socket. The end
// reads them all back. "socket": a TCP socket, run with --network=host,
// which no image can hold (the host's): refused, the guest goes on.
// "landlock": the process confines itself with a Landlock domain (handling
// only MAKE_BLOCK, so nothing it does changes) with a rule on a directory
// it then removes: no path names the rule's file, so no image holds it: refused.
// "oom": /proc/self/oom_score_adj set to 321, read back at the end.
// "overlay" (run under --overlay): next to the binary, "gone" is removed (a
// whiteout) and "kept" appended to (copied up); the end reads both back.
// "patch": each step calls umask through one `mov $95, %eax; syscall` site
// 200 times (a hot site systrap patches), every answer checked; the end says
// how many were wrong, and (on stderr, as it differs by platform) whether the
// site held the patch's jmp, then makes the text writable, as a JIT would,
// and says what the site holds then (the original mov, on every platform).
// "ptrace": a child that asked to be traced, stopped in a ptrace stop all
// along (the image keeps the stop); the end lets it go.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <mqueue.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void say(const char *s) { write(1, s, strlen(s)); }
static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig) { (void)sig; got_usr1++; }
// The scratch files: in /tmp, or $CKPT_TMP (a test's native run), named
// by pid (native runs from several checkouts at once share the host's /tmp).
static char logpath[256], shmpath[256];
static void paths(void) {
    const char *d = getenv("CKPT_TMP");
    if (!d) d = "/tmp";
    snprintf(logpath, sizeof logpath, "%s/ckptcount-%d.log", d, (int)getpid());
    snprintf(shmpath, sizeof shmpath, "%s/ckpt-%d.shm", d, (int)getpid());
}

static int mode(int argc, char **argv, const char *m) { return argc > 3 && strcmp(argv[3], m) == 0; }

// Syscall User Dispatch: the selector byte and what the handler saw.
static volatile char selector;
static volatile int dispatched;
static void on_sigsys(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    selector = 0;   // SYSCALL_DISPATCH_FILTER_ALLOW: the handler's rt_sigreturn goes through
    ucontext_t *uc = ctx;
    if (si->si_code == 2 && si->si_syscall == SYS_getpid) uc->uc_mcontext.gregs[REG_RAX] = 1000 + ++dispatched;
}

// A patchable syscall site: umask(mask), its number set by the mov right before the syscall.
extern const unsigned char umask_site[];
__attribute__((noinline)) static long site_umask(long mask) {
    long r;
    __asm__ volatile(".globl umask_site\n umask_site: mov $95, %%eax\n syscall" : "=a"(r) : "D"(mask) : "rcx", "r11", "memory");
    return r;
}
// Read through a volatile pointer: the site is const to the compiler, which may not reload it after the mprotect.
static const char *site_bytes(void) {
    unsigned char b = *(const volatile unsigned char *)umask_site;
    return b == 0xe9 ? "jmp" : b == 0xb8 ? "mov" : "other";
}

static long cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

// A filter answering syscall `nr` with errno `e`, everything else allowed.
static void deny(int nr, int e) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | e),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof f / sizeof f[0], f };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) perror("seccomp");
}

// "unix" / "inet": the conversation's sockets, and its server child.
static int sock_conv = -1, sock_late = -1, sock_pair[2] = { -1, -1 }, sock_half[2] = { -1, -1 };
static int sock_rx = -1, sock_tx = -1, sock_urg[2] = { -1, -1 };
static pid_t sock_server;

static ssize_t full_read(int fd, char *b, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return got ? (ssize_t)got : r;
        got += r;
    }
    return got;
}

// Answers each 16-byte ping with a running hash of the numbers so far; at
// EOF, takes the connection that waited in the backlog and echoes it.
static void serve(int l) {
    int c = accept(l, NULL, NULL);
    char buf[17], reply[17];
    unsigned long acc = 7;
    while (full_read(c, buf, 16) == 16) {
        buf[16] = 0;
        acc = acc * 31 + strtoul(buf + 5, NULL, 10);
        snprintf(reply, sizeof reply, "pong %011lx", acc & 0xfffffffffffUL);
        write(c, reply, 16);
    }
    int d = accept(l, NULL, NULL);
    char late[80] = "late: ";
    ssize_t n = read(d, late + 6, sizeof late - 7);
    if (n > 0) write(d, late, 6 + n);
    close(d);
    _exit(0);
}

static void sockets_start(int inet, int keep_out) {
    struct sockaddr_storage ss = { 0 };
    socklen_t len;
    int family = inet ? AF_INET6 : AF_UNIX;
    int l = socket(family, SOCK_STREAM, 0);
    if (inet) {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        if (bind(l, (struct sockaddr *)&a, sizeof a) != 0) perror("bind");
    } else {
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        snprintf(a.sun_path, sizeof a.sun_path, "%s.sock", shmpath);
        unlink(a.sun_path);
        if (bind(l, (struct sockaddr *)&a, sizeof a) != 0) perror("bind");
    }
    listen(l, 4);
    len = sizeof ss;
    getsockname(l, (struct sockaddr *)&ss, &len);
    sock_server = fork();
    if (sock_server == 0) { close(keep_out); serve(l); }
    close(l);
    sock_conv = socket(family, SOCK_STREAM, 0);
    if (connect(sock_conv, (struct sockaddr *)&ss, len) != 0) perror("connect");
    sock_late = socket(family, SOCK_STREAM, 0);
    if (connect(sock_late, (struct sockaddr *)&ss, len) != 0) perror("connect");
    write(sock_late, "sent before the checkpoint", 26);
    if (!inet) {
        unlink(((struct sockaddr_un *)&ss)->sun_path);   // the name goes; the connections stay
        // A pipe with bytes in it, in flight in an SCM_RIGHTS message.
        int q[2];
        pipe(q);
        write(q[1], "through a pipe in flight", 24);
        socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sock_pair);
        char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
        struct iovec iov = { "rights", 6 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET; cm->cmsg_type = SCM_RIGHTS; cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &q[0], sizeof(int));
        if (sendmsg(sock_pair[0], &mh, 0) != 6) perror("sendmsg");
        close(q[0]); close(q[1]);
        // A stream pair shut down for writing after some bytes.
        socketpair(AF_UNIX, SOCK_STREAM, 0, sock_half);
        write(sock_half[0], "before shutdown", 15);
        shutdown(sock_half[0], SHUT_WR);
        // Two datagrams queued at an abstract name, from another.
        struct sockaddr_un rx = { .sun_family = AF_UNIX }, tx = { .sun_family = AF_UNIX };
        int rl = snprintf(rx.sun_path + 1, sizeof rx.sun_path - 1, "ckpt-rx-%d", (int)getpid()) + 1;
        int tl = snprintf(tx.sun_path + 1, sizeof tx.sun_path - 1, "ckpt-tx-%d", (int)getpid()) + 1;
        sock_rx = socket(AF_UNIX, SOCK_DGRAM, 0);
        sock_tx = socket(AF_UNIX, SOCK_DGRAM, 0);
        bind(sock_rx, (struct sockaddr *)&rx, offsetof(struct sockaddr_un, sun_path) + rl);
        bind(sock_tx, (struct sockaddr *)&tx, offsetof(struct sockaddr_un, sun_path) + tl);
        sendto(sock_tx, "first datagram", 14, 0, (struct sockaddr *)&rx, offsetof(struct sockaddr_un, sun_path) + rl);
        sendto(sock_tx, "second", 6, 0, (struct sockaddr *)&rx, offsetof(struct sockaddr_un, sun_path) + rl);
        // A stream pair with an urgent byte queued between ordinary ones.
        socketpair(AF_UNIX, SOCK_STREAM, 0, sock_urg);
        send(sock_urg[0], "ab", 2, 0);
        send(sock_urg[0], "c", 1, MSG_OOB);
        send(sock_urg[0], "d", 1, 0);
    } else {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        sock_rx = socket(AF_INET, SOCK_DGRAM, 0);
        sock_tx = socket(AF_INET, SOCK_DGRAM, 0);
        bind(sock_rx, (struct sockaddr *)&a, sizeof a);
        bind(sock_tx, (struct sockaddr *)&a, sizeof a);
        socklen_t al = sizeof a;
        getsockname(sock_rx, (struct sockaddr *)&a, &al);
        sendto(sock_tx, "first datagram", 14, 0, (struct sockaddr *)&a, sizeof a);
        sendto(sock_tx, "second", 6, 0, (struct sockaddr *)&a, sizeof a);
    }
}

// One step: the reply to the last ping (buffered over the sleep), the next ping.
static void sockets_reply(char *line, size_t size) {
    char r[17];
    if (full_read(sock_conv, r, 16) != 16) strcpy(r, "no reply");
    r[16] = 0;
    snprintf(line, size, "reply %s\n", r);
    say(line);
}

static void sockets_step(int i, char *line, size_t size) {
    if (i > 1) sockets_reply(line, size);
    char m[17];
    snprintf(m, sizeof m, "ping %011d", i);
    write(sock_conv, m, 16);
}

static void sockets_end(int inet, char *line, size_t size) {
    char buf[80];
    sockets_reply(line, size);   // the last reply
    struct ucred cred;
    socklen_t cl = sizeof cred;
    getsockopt(sock_conv, SOL_SOCKET, SO_PEERCRED, &cred, &cl);
    // A unix connection's peer credentials are the listener's at listen(2): this process's.
    snprintf(line, size, "peer credentials from this process %d\n", cred.pid == getpid());
    say(line);
    close(sock_conv);
    ssize_t n = full_read(sock_late, buf, 32);
    snprintf(line, size, "%.*s\n", (int)(n > 0 ? n : 0), buf);
    say(line);
    int status;
    waitpid(sock_server, &status, 0);
    struct sockaddr_storage from;
    for (int k = 0; k < 2; k++) {
        socklen_t fl = sizeof from;
        n = recvfrom(sock_rx, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        struct sockaddr_storage mine;
        socklen_t ml = sizeof mine;
        getsockname(sock_tx, (struct sockaddr *)&mine, &ml);
        snprintf(line, size, "datagram '%.*s' from the sender %d\n", (int)(n > 0 ? n : 0), buf, fl == ml && memcmp(&from, &mine, ml) == 0);
        say(line);
    }
    if (inet) return;
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { buf, sizeof buf };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
    n = recvmsg(sock_pair[1], &mh, 0);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    int fd = -1;
    if (cm && cm->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    char got[40] = "";
    ssize_t g = fd >= 0 ? read(fd, got, sizeof got - 1) : -1;
    ssize_t eof = fd >= 0 ? read(fd, got + 39, 1) : -1;
    snprintf(line, size, "'%.*s' carried '%.*s', then %zd\n", (int)(n > 0 ? n : 0), buf, (int)(g > 0 ? g : 0), got, eof);
    say(line);
    n = full_read(sock_half[1], buf, sizeof buf);
    errno = 0;
    ssize_t w = send(sock_half[0], "x", 1, MSG_NOSIGNAL);
    snprintf(line, size, "half '%.*s' then EOF; a write after shutdown %zd %s\n", (int)(n > 0 ? n : 0), buf, w, strerror(errno));
    say(line);
    // The urgent mark came through: a read stops at it, recv(MSG_OOB) takes the byte.
    char a[8] = "", o[8] = "", d[8] = "";
    ssize_t na = recv(sock_urg[1], a, sizeof a, MSG_DONTWAIT);
    int at = sockatmark(sock_urg[1]);
    ssize_t no = recv(sock_urg[1], o, sizeof o, MSG_OOB | MSG_DONTWAIT);
    // Blocking: 6.1 says EAGAIN once to a non-blocking read at the consumed byte, later kernels do not.
    ssize_t nd = recv(sock_urg[1], d, sizeof d, 0);
    snprintf(line, size, "urgent: '%.*s' atmark %d, MSG_OOB '%.*s', then '%.*s'\n", (int)(na > 0 ? na : 0), a, at,
             (int)(no > 0 ? no : 0), o, (int)(nd > 0 ? nd : 0), d);
    say(line);
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 50;
    long ms = argc > 2 ? atol(argv[2]) : 20;
    char line[256];
    paths();

    // Round toward +infinity: a restore that loses MXCSR prints other bits.
    unsigned mxcsr = 0x1f80 | (2u << 13);
    __asm__ volatile("ldmxcsr %0" :: "m"(mxcsr));

    char *numa = NULL;
    if (mode(argc, argv, "numa")) {
        unsigned long nodes[1] = { 3 }, zero[1] = { 1 };
        // MPOL_INTERLEAVE | MPOL_F_STATIC_NODES, nodes 0-1: reported back as given.
        if (syscall(SYS_set_mempolicy, 3 | (1 << 15), nodes, 64) != 0) perror("set_mempolicy");
        numa = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (syscall(SYS_mbind, numa + 4096, 4096, 2 /* MPOL_BIND */, zero, 64, 0) != 0) perror("mbind");
        if (syscall(SYS_set_mempolicy_home_node, numa + 4096, 4096, 0, 0) != 0) perror("home node");
        if (madvise(numa + 8192, 4096, MADV_DONTFORK) != 0) perror("madvise");
    }
    int mfd = -1;
    char *shared = NULL, *only = NULL, *shm = NULL;
    if (mode(argc, argv, "memfd")) {
        mfd = memfd_create("ckpt", MFD_ALLOW_SEALING);
        if (ftruncate(mfd, 8192) != 0) perror("ftruncate");
        pwrite(mfd, "written by pwrite", 17, 4096);
        shared = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
        fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
        lseek(mfd, 1234, SEEK_SET);
        int ofd = memfd_create("only", 0);
        write(ofd, "kept by its mapping", 19);
        only = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ofd, 0);
        close(ofd);
        int sfd = open(shmpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (ftruncate(sfd, 4096) != 0) perror("ftruncate");
        shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
        close(sfd);
        if (shared == MAP_FAILED || only == MAP_FAILED || shm == MAP_FAILED) { perror("mmap"); return 1; }
    }

    int shmid = -1, semid = -1, msgid = -1;
    char *seg = NULL, *gone = NULL;
    mqd_t mq = (mqd_t)-1, mqgone = (mqd_t)-1;
    if (mode(argc, argv, "ipc")) {
        shmid = shmget(IPC_PRIVATE, 10000, 0600);
        seg = shmat(shmid, NULL, 0);
        int goneid = shmget(IPC_PRIVATE, 4096, 0600);
        gone = shmat(goneid, NULL, 0);
        strcpy(gone, "removed but attached");
        shmctl(goneid, IPC_RMID, NULL);
        semid = semget(IPC_PRIVATE, 2, 0600);
        semctl(semid, 0, SETVAL, 5);
        struct sembuf up = { 1, 3, SEM_UNDO };
        semop(semid, &up, 1);
        msgid = msgget(IPC_PRIVATE, 0600);
        for (long t = 1; t <= 3; t++) {
            struct { long type; char text[16]; } m = { t, "" };
            snprintf(m.text, sizeof m.text, "msg type %ld", t);
            msgsnd(msgid, &m, strlen(m.text) + 1, 0);
        }
        struct mq_attr attr = { .mq_maxmsg = 5, .mq_msgsize = 64 };
        mq_unlink("/ckpt");
        mq = mq_open("/ckpt", O_CREAT | O_RDWR, 0600, &attr);
        mq_send(mq, "low", 4, 1);
        mq_send(mq, "high", 5, 7);
        mqgone = mq_open("/ckpt-gone", O_CREAT | O_RDWR, 0600, &attr);
        mq_unlink("/ckpt-gone");
        mq_send(mqgone, "unlinked", 9, 0);
        if (seg == (void *)-1 || gone == (void *)-1 || semid < 0 || msgid < 0 || mq == (mqd_t)-1 || mqgone == (mqd_t)-1) {
            perror("ipc"); return 1;
        }
    }

    int p[2];
    if (pipe(p) != 0) { perror("pipe"); return 1; }
    pid_t child = fork();
    if (child == 0) {
        close(p[1]);
        if (seg) { struct sembuf up = { 1, 2, SEM_UNDO }; semop(semid, &up, 1); }
        unsigned long sum = 0, bytes = 0;
        char buf[64];
        ssize_t n;
        while ((n = read(p[0], buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < n; i++) sum = sum * 31 + (unsigned char)buf[i];
            bytes += n;
        }
        snprintf(line, sizeof line, "child read %lu bytes, sum %lu\n", bytes, sum);
        say(line);
        if (shared) strcpy(shared + 200, "child was here");
        if (seg) strcpy(seg + 5000, "child was here");
        _exit(0);
    }
    close(p[0]);

    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    raise(SIGUSR1);   // pending, blocked, until the end

    if (argc > 3 && strcmp(argv[3], "itimer") == 0) {
        signal(SIGALRM, SIG_IGN);
        struct itimerval it = { { 1000, 0 }, { 1000, 0 } };
        setitimer(ITIMER_REAL, &it, NULL);
    }
    if (argc > 3 && strcmp(argv[3], "socket") == 0) socket(AF_INET, SOCK_STREAM, 0);
    if (mode(argc, argv, "landlock")) {
        uint64_t handled = 1 << 11;   // LANDLOCK_ACCESS_FS_MAKE_BLOCK
        int rs = syscall(SYS_landlock_create_ruleset, &handled, sizeof handled, 0);
        char gone[64];
        snprintf(gone, sizeof gone, "/tmp/ckptcount.landlock.%d", (int)getpid());
        mkdir(gone, 0755);
        int dir = open(gone, O_PATH | O_CLOEXEC);
        struct { uint64_t allowed; int32_t fd; } __attribute__((packed)) rule = { handled, dir };
        if (dir < 0 || syscall(SYS_landlock_add_rule, rs, 1 /* LANDLOCK_RULE_PATH_BENEATH */, &rule, 0) != 0) perror("landlock_add_rule");
        close(dir);
        rmdir(gone);
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (rs < 0 || syscall(SYS_landlock_restrict_self, rs, 0) != 0) perror("landlock");
        close(rs);
    }
    if (mode(argc, argv, "oom")) {
        int fd = open("/proc/self/oom_score_adj", O_WRONLY);
        if (fd < 0 || write(fd, "321\n", 4) != 4) perror("oom_score_adj");
        close(fd);
    }
    char whited[300], kept[300];
    snprintf(whited, sizeof whited, "%s", argv[0]);
    char *slash = strrchr(whited, '/');
    if (slash) *slash = 0; else strcpy(whited, ".");
    snprintf(kept, sizeof kept, "%s/kept", whited);
    strcat(whited, "/gone");
    if (mode(argc, argv, "overlay")) {
        if (unlink(whited) != 0) perror("unlink");
        int fd = open(kept, O_WRONLY | O_APPEND);
        if (fd < 0 || write(fd, "the guest's line\n", 17) != 17) perror("kept");
        close(fd);
    }
    pid_t tracee = 0;
    if (mode(argc, argv, "ptrace")) {
        tracee = fork();
        if (tracee == 0) {
            close(p[1]);
            ptrace(PTRACE_TRACEME, 0, NULL, NULL);
            raise(SIGSTOP);
            _exit(7);
        }
        int st;
        waitpid(tracee, &st, 0);   // its signal-delivery stop
    }
    int sockmode = mode(argc, argv, "unix") || mode(argc, argv, "inet");
    if (sockmode) sockets_start(mode(argc, argv, "inet"), p[1]);

    timer_t armed = 0, quiet = 0, overran = 0;
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN + 1);
    if (mode(argc, argv, "ptimer")) {
        sigprocmask(SIG_BLOCK, &rt, NULL);
        struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN };
        ev.sigev_value.sival_int = 77;
        signal(SIGRTMIN, SIG_IGN);
        timer_create(CLOCK_MONOTONIC, &ev, &armed);
        struct itimerspec its = { { 1000, 0 }, { 1000, 0 } };
        timer_settime(armed, 0, &its, NULL);
        struct sigevent none = { .sigev_notify = SIGEV_NONE };
        timer_create(CLOCK_REALTIME, &none, &quiet);
        struct itimerspec far = { { 0, 0 }, { 2000, 0 } };
        timer_settime(quiet, 0, &far, NULL);
        // Every millisecond, its signal blocked: one queued, the rest overruns.
        struct sigevent rtev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 1 };
        rtev.sigev_value.sival_int = 99;
        timer_create(CLOCK_MONOTONIC, &rtev, &overran);
        // (Left armed: a kernel after 6.12 drops the queued signal of a timer disarmed since.)
        struct itimerspec fast = { { 0, 2000000 }, { 0, 2000000 } };
        timer_settime(overran, 0, &fast, NULL);
        struct timespec wait = { 0, 30000000 };
        nanosleep(&wait, NULL);
    }
    long cpu_before = 0;
    if (mode(argc, argv, "cputime")) {
        signal(SIGPROF, SIG_IGN);
        struct itimerval it = { { 1000, 0 }, { 1000, 0 } };
        setitimer(ITIMER_PROF, &it, NULL);
        // Some CPU time a restored clock starting at zero would not reach.
        while (cpu_ns() < 60000000L) {}
        cpu_before = cpu_ns();
    }
    if (mode(argc, argv, "seccomp")) {
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        deny(SYS_getppid, 13);
        deny(SYS_getuid, 14);
    }
    if (mode(argc, argv, "sud")) {
        struct sigaction sys = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
        sigaction(SIGSYS, &sys, NULL);
        if (prctl(59 /* PR_SET_SYSCALL_USER_DISPATCH */, 1, 0, 0, &selector) != 0) perror("prctl");
    }
    long patch_wrong = 0;
    if (mode(argc, argv, "patch")) site_umask(022);
    long sud_last = 0;
    struct timespec mono_last = { 0, 0 };
    int mono_back = 0, mono_jump = 0;

    int log = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    int efd = eventfd(0, 0);
    uint64_t *table = calloc(4096, sizeof *table);
    uint64_t sum = 0;
    volatile double x = 1.0;
    for (int i = 1; i <= steps; i++) {
        table[(i * 7919) % 4096] += (uint64_t)i * i;
        for (int k = 0; k < 4096; k += 64) sum = sum * 6364136223846793005ULL + table[k] + (uint64_t)i;
        x = x / 3.0 + 1.0;
        uint64_t bits;
        double y = x;
        memcpy(&bits, &y, sizeof bits);
        snprintf(line, sizeof line, "step %d sum %016llx fp %016llx\n", i, (unsigned long long)sum, (unsigned long long)bits);
        say(line);
        if (i % 5 == 0) {
            snprintf(line, sizeof line, "message %d\n", i);
            write(p[1], line, strlen(line));
            uint64_t one = 1;
            write(efd, &one, sizeof one);
        }
        write(log, line, strlen(line));
        if (sockmode) sockets_step(i, line, sizeof line);
        if (shared) { memcpy(shared + 100, &i, sizeof i); memcpy(shm + 8, &i, sizeof i); }
        if (seg) memcpy(seg + 8, &i, sizeof i);
        if (mode(argc, argv, "clock")) {
            struct timespec m;
            clock_gettime(CLOCK_MONOTONIC, &m);
            if (mono_last.tv_sec && (m.tv_sec < mono_last.tv_sec || (m.tv_sec == mono_last.tv_sec && m.tv_nsec < mono_last.tv_nsec))) mono_back = 1;
            if (mono_last.tv_sec && m.tv_sec - mono_last.tv_sec >= 900) mono_jump = 1;
            mono_last = m;
        }
        if (mode(argc, argv, "sud")) {
            selector = 1;   // SYSCALL_DISPATCH_FILTER_BLOCK
            sud_last = syscall(SYS_getpid);
            selector = 0;
        }
        if (mode(argc, argv, "patch"))
            for (int k = 0; k < 200; k++) if (site_umask(022) != 022) patch_wrong++;
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    close(p[1]);
    int status;
    waitpid(child, &status, 0);
    close(log);

    int in = open(logpath, O_RDONLY);
    unsigned long fsum = 0, fbytes = 0;
    char buf[512];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) fsum = fsum * 33 + (unsigned char)buf[i];
        fbytes += n;
    }
    uint64_t events = 0;
    read(efd, &events, sizeof events);
    sigprocmask(SIG_UNBLOCK, &usr1, NULL);
    snprintf(line, sizeof line, "file %lu bytes, sum %lu; eventfd %llu; usr1 %d; child status %d\n",
             fbytes, fsum, (unsigned long long)events, (int)got_usr1, WEXITSTATUS(status));
    say(line);
    if (argc > 3 && strcmp(argv[3], "itimer") == 0) {
        struct itimerval it;
        getitimer(ITIMER_REAL, &it);
        snprintf(line, sizeof line, "itimer %ld00 s left, interval %ld s\n", (long)it.it_value.tv_sec / 100, (long)it.it_interval.tv_sec);
        say(line);
    }
    if (mode(argc, argv, "ptimer")) {
        struct itimerspec cur;
        timer_gettime(armed, &cur);
        snprintf(line, sizeof line, "ptimer %ld00 s left, interval %ld s\n", (long)cur.it_value.tv_sec / 100, (long)cur.it_interval.tv_sec);
        say(line);
        timer_gettime(quiet, &cur);
        snprintf(line, sizeof line, "quiet %ld00 s left\n", (long)cur.it_value.tv_sec / 100);
        say(line);
        siginfo_t si;
        struct timespec zero = { 0, 0 };
        int sig = sigtimedwait(&rt, &si, &zero);
        int overrun = timer_getoverrun(overran);
        snprintf(line, sizeof line, "queued %d value %d code %d overran %s, getoverrun agrees %d\n", sig == SIGRTMIN + 1,
                 si.si_value.sival_int, si.si_code, si.si_overrun > 5 ? "yes" : "no", overrun == si.si_overrun);
        say(line);
        timer_t next;
        struct sigevent none = { .sigev_notify = SIGEV_NONE };
        timer_create(CLOCK_MONOTONIC, &none, &next);
        snprintf(line, sizeof line, "timers %ld %ld %ld, next %ld\n", (long)armed, (long)quiet, (long)overran, (long)next);
        say(line);
    }
    if (numa) {
        int pmode = -1, m0 = -1, m1 = -1;
        unsigned long mask[1] = { 0 };
        syscall(SYS_get_mempolicy, &pmode, mask, 64, NULL, 0);
        syscall(SYS_get_mempolicy, &m0, NULL, 0, numa, 2 /* MPOL_F_ADDR */);
        syscall(SYS_get_mempolicy, &m1, NULL, 0, numa + 4096, 2);
        // Another home node on page 1 works only if its BIND policy is still there.
        long home = syscall(SYS_set_mempolicy_home_node, numa + 4096, 4096, 0, 0);
        pid_t c = fork();
        if (c == 0) { numa[8192] = 1; _exit(0); }
        int st = 0;
        waitpid(c, &st, 0);
        snprintf(line, sizeof line, "numa policy %#x mask %lx; pages %d %d; home %ld; dontfork child %s\n", pmode, mask[0], m0, m1,
                 home, WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "exited");
        say(line);
    }
    if (mode(argc, argv, "cputime")) {
        struct itimerval it;
        getitimer(ITIMER_PROF, &it);
        snprintf(line, sizeof line, "prof %ld00 s left, interval %ld s; cpu clock went on %d\n",
                 (long)it.it_value.tv_sec / 100, (long)it.it_interval.tv_sec, cpu_ns() >= cpu_before);
        say(line);
    }
    if (mode(argc, argv, "seccomp")) {
        long a = syscall(SYS_getppid); int ea = errno;
        long b = syscall(SYS_getuid); int eb = errno;
        char status[4096] = "";
        int fd = open("/proc/self/status", O_RDONLY);
        ssize_t got = read(fd, status, sizeof status - 1);
        if (got > 0) status[got] = 0;
        close(fd);
        char *f = strstr(status, "Seccomp_filters:");
        snprintf(line, sizeof line, "seccomp getppid %ld/%d getuid %ld/%d filters %d\n", a, ea, b, eb, f ? atoi(f + 16) : -1);
        say(line);
    }
    if (shared) {
        int via_file = 0, shm_file = 0;
        char mark[32] = "", pw[18] = "";
        pread(mfd, &via_file, sizeof via_file, 100);
        pread(mfd, mark, 20, 200);
        pread(mfd, pw, 17, 4096);
        int sfd = open(shmpath, O_RDONLY);
        pread(sfd, &shm_file, sizeof shm_file, 8);
        close(sfd);
        struct stat st;
        fstat(mfd, &st);
        char fdpath[64], target[128] = "";
        snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", mfd);
        readlink(fdpath, target, sizeof target - 1);
        snprintf(line, sizeof line, "memfd %s size %ld seals 0x%x offset %ld; step %d; '%s'; '%s'; '%.19s'; tmpfs %d; grow %s\n",
                 target, (long)st.st_size, fcntl(mfd, F_GET_SEALS), (long)lseek(mfd, 0, SEEK_CUR), via_file, mark, pw, only,
                 shm_file, ftruncate(mfd, 16384) == 0 ? "allowed" : strerror(errno));
        say(line);
    }
    if (seg) {
        struct shmid_ds ds;
        shmctl(shmid, IPC_STAT, &ds);
        int step;
        memcpy(&step, seg + 8, sizeof step);
        snprintf(line, sizeof line, "shm step %d '%s' '%s' size %zu attached %lu; sem %d %d\n", step, seg + 5000, gone,
                 ds.shm_segsz, (unsigned long)ds.shm_nattch, semctl(semid, 0, GETVAL), semctl(semid, 1, GETVAL));
        say(line);
        struct { long type; char text[16]; } m;
        for (long want = 2; msgrcv(msgid, &m, sizeof m.text, want, IPC_NOWAIT) > 0; want = 0) {
            snprintf(line, sizeof line, "msg '%s'\n", m.text);
            say(line);
        }
        char buf[64];
        unsigned prio;
        struct mq_attr attr;
        mq_getattr(mq, &attr);
        snprintf(line, sizeof line, "mq %ld of %ld\n", attr.mq_curmsgs, attr.mq_maxmsg);
        say(line);
        while (mq_timedreceive(mq, buf, sizeof buf, &prio, &(struct timespec){0, 0}) > 0) {
            snprintf(line, sizeof line, "mq '%s' prio %u\n", buf, prio);
            say(line);
        }
        if (mq_timedreceive(mqgone, buf, sizeof buf, &prio, &(struct timespec){0, 0}) > 0) {
            snprintf(line, sizeof line, "mq '%s' prio %u\n", buf, prio);
            say(line);
        }
        mq_unlink("/ckpt");
        semctl(semid, 0, IPC_RMID);
        msgctl(msgid, IPC_RMID, NULL);
        shmctl(shmid, IPC_RMID, NULL);
    }
    if (mode(argc, argv, "clock")) {
        struct timespec until, after;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += 20000000;
        if (until.tv_nsec >= 1000000000) { until.tv_sec++; until.tv_nsec -= 1000000000; }
        int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
        clock_gettime(CLOCK_MONOTONIC, &after);
        int slept = after.tv_sec > until.tv_sec || (after.tv_sec == until.tv_sec && after.tv_nsec >= until.tv_nsec);
        snprintf(line, sizeof line, "monotonic went back %d, jumped 900 s %d; absolute sleep %d until %d\n", mono_back, mono_jump, r, slept);
        say(line);
    }
    if (mode(argc, argv, "sud")) {
        snprintf(line, sizeof line, "sud dispatched %d, last %ld\n", dispatched, sud_last);
        say(line);
    }
    if (mode(argc, argv, "patch")) {
        fprintf(stderr, "site before mprotect: %s\n", site_bytes());
        long pg = sysconf(_SC_PAGESIZE);
        void *code = (void *)((uintptr_t)umask_site & ~(uintptr_t)(pg - 1));
        int r = mprotect(code, (size_t)pg, PROT_READ | PROT_WRITE | PROT_EXEC);
        snprintf(line, sizeof line, "patch calls %d wrong %ld; writable %d, site %s\n", steps * 200, patch_wrong, r, site_bytes());
        say(line);
    }
    if (sockmode) sockets_end(mode(argc, argv, "inet"), line, sizeof line);
    if (mode(argc, argv, "oom")) {
        char adj[16] = "";
        int fd = open("/proc/self/oom_score_adj", O_RDONLY);
        ssize_t n = read(fd, adj, sizeof adj - 1);
        close(fd);
        snprintf(line, sizeof line, "oom_score_adj %.*s", (int)(n > 0 ? n : 0), adj);
        say(line);
    }
    if (mode(argc, argv, "overlay")) {
        char text[128] = "";
        int fd = open(kept, O_RDONLY);
        ssize_t n = read(fd, text, sizeof text - 1);
        close(fd);
        snprintf(line, sizeof line, "gone %s; kept '%.*s'\n", access(whited, F_OK) == 0 ? "is back" : "stays gone", (int)(n > 0 ? n : 0), text);
        say(line);
    }
    if (tracee) {
        int st;
        ptrace(PTRACE_CONT, tracee, NULL, NULL);   // the SIGSTOP suppressed
        waitpid(tracee, &st, 0);
        snprintf(line, sizeof line, "tracee exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        say(line);
    }
    return 0;
}
