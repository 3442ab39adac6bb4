#define _GNU_SOURCE   // REG_RAX, gettid
// Guest seccomp as kernel/seccomp.c has it: the queries, the verifier's
// refusals, NO_NEW_PRIVS, every action (ERRNO, TRAP with its siginfo,
// KILL_PROCESS, KILL_THREAD, TRACE and USER_NOTIF with nobody to answer, LOG),
// stacking, inheritance across fork and execve, TSYNC, a USER_NOTIF
// supervisor (RECV, ID_VALID, SEND, CONTINUE, ADDFD, close), strict mode,
// /proc/self/status. Each case runs in a child; prints what it sees.
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define ON_NR(nr, action) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, (action))
#define ALLOW_ALL BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static long sc(unsigned op, unsigned flags, void *args) { return syscall(SYS_seccomp, op, flags, args); }

static long install(struct sock_filter *f, unsigned short n, unsigned flags) {
    struct sock_fprog prog = { n, f };
    return sc(SECCOMP_SET_MODE_FILTER, flags, &prog);
}

static void say(const char *what, long r) { printf("%s: %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "ok"); }

static void status(const char *what, int st) {
    if (WIFSIGNALED(st)) printf("%s: killed by signal %d\n", what, WTERMSIG(st));
    else printf("%s: exited %d\n", what, WEXITSTATUS(st));
}

static void run(const char *what, void (*body)(void)) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) { body(); fflush(stdout); _exit(0); }
    int st;
    waitpid(pid, &st, 0);
    status(what, st);
}

static void proc_status(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "Seccomp", 7) == 0 || strncmp(line, "NoNewPrivs", 10) == 0) fputs(line, stdout);
    if (f) fclose(f);
}

static void nnp(void) { prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }

// getpid from a known place: outside_after is its return address.
long outside_getpid(void);
asm(".text\n.globl outside_getpid\noutside_getpid:\n  mov $39, %eax\n  syscall\n"
    ".globl outside_after\noutside_after:\n  ret\n");
extern char outside_after[];

static void queries(void) {
    unsigned actions[] = { SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO,
                           SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE, SECCOMP_RET_LOG, SECCOMP_RET_ALLOW, 0x12340000, 0x7fff0001 };
    for (unsigned i = 0; i < sizeof actions / sizeof *actions; i++) {
        char what[64];
        snprintf(what, sizeof what, "action %#x available", actions[i]);
        say(what, sc(SECCOMP_GET_ACTION_AVAIL, 0, &actions[i]));
    }
    say("action avail with flags", sc(SECCOMP_GET_ACTION_AVAIL, 1, &actions[0]));
    say("action avail EFAULT", sc(SECCOMP_GET_ACTION_AVAIL, 0, (void *)8));
    struct seccomp_notif_sizes sizes = { 0 };
    say("notif sizes", sc(SECCOMP_GET_NOTIF_SIZES, 0, &sizes));
    printf("sizes: notif=%u resp=%u data=%u\n", sizes.seccomp_notif, sizes.seccomp_notif_resp, sizes.seccomp_data);
    say("bad op", sc(9, 0, NULL));
    say("strict with flags", sc(SECCOMP_SET_MODE_STRICT, 1, NULL));
    say("strict with args", sc(SECCOMP_SET_MODE_STRICT, 0, &sizes));
    say("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    say("PR_SET_SECCOMP bad mode", prctl(PR_SET_SECCOMP, 7, 0, 0, 0));
    proc_status();
}

static void verifier(void) {
    struct sock_filter ok[] = { ALLOW_ALL };
    nnp();
    say("unknown flag", install(ok, 1, 1u << 9));
    say("TSYNC with a listener", install(ok, 1, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_NEW_LISTENER));
    say("killable recv without a listener", install(ok, 1, 1u << 5));
    say("empty program", install(ok, 0, 0));
    struct sock_filter big[4097];
    for (int i = 0; i < 4097; i++) big[i] = (struct sock_filter)ALLOW_ALL;
    say("4097 instructions", install(big, 4097, 0));
    struct sock_fprog bad = { 1, (struct sock_filter *)8 };
    say("unreadable program", sc(SECCOMP_SET_MODE_FILTER, 0, &bad));
    say("unreadable fprog", sc(SECCOMP_SET_MODE_FILTER, 0, (void *)8));
    struct sock_filter half[] = { BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0), ALLOW_ALL };
    say("16-bit load", install(half, 2, 0));
    struct sock_filter odd[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), ALLOW_ALL };
    say("misaligned load", install(odd, 2, 0));
    struct sock_filter past[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), ALLOW_ALL };
    say("load past the data", install(past, 2, 0));
    struct sock_filter noret[] = { LOAD_NR };
    say("no RET at the end", install(noret, 1, 0));
    struct sock_filter far[] = { BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 0), ALLOW_ALL };
    say("jump out of the program", install(far, 2, 0));
    struct sock_filter ja[] = { BPF_STMT(BPF_JMP | BPF_JA, 1), ALLOW_ALL };
    say("JA out of the program", install(ja, 2, 0));
    struct sock_filter mem[] = { BPF_STMT(BPF_LD | BPF_MEM, 3), ALLOW_ALL };
    say("scratch read before a store", install(mem, 2, 0));
    struct sock_filter cell[] = { BPF_STMT(BPF_ST, 16), ALLOW_ALL };
    say("scratch cell 16", install(cell, 2, 0));
    struct sock_filter div0[] = { BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), ALLOW_ALL };
    say("division by constant 0", install(div0, 2, 0));
    struct sock_filter sh[] = { BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 32), ALLOW_ALL };
    say("shift by 32", install(sh, 2, 0));
    struct sock_filter mod[] = { BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, 3), ALLOW_ALL };
    say("modulo (classic, not seccomp)", install(mod, 2, 0));
    struct sock_filter junk[] = { { 0xffff, 0, 0, 0 }, ALLOW_ALL };
    say("unknown code", install(junk, 2, 0));
    // A program using the arithmetic, scratch memory, X and the length load:
    // the answer is computed, ERRNO(nr*2+len-64+1) for getppid.
    struct sock_filter calc[] = {
        LOAD_NR,
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 1, 0),
        ALLOW_ALL,
        BPF_STMT(BPF_ST, 0),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
        BPF_STMT(BPF_LDX | BPF_W | BPF_LEN, 0),
        BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
        BPF_STMT(BPF_ALU | BPF_SUB | BPF_K, 63),
        BPF_STMT(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
        BPF_STMT(BPF_RET | BPF_A, 0),
    };
    say("computed filter", install(calc, sizeof calc / sizeof *calc, 0));
    errno = 0;
    long r = syscall(SYS_getppid);
    printf("getppid under the computed filter: %ld errno=%d\n", r, errno);
}

static void needs_nnp(void) {
    struct sock_filter ok[] = { ALLOW_ALL };
    if (geteuid() == 0) {
        // Root has CAP_SYS_ADMIN and needs no NO_NEW_PRIVS: drop to a user that has neither.
        say("filter as root without nnp", install(ok, 1, 0));
        if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) { perror("setresuid"); return; }
    }
    say("filter without nnp", install(ok, 1, 0));
    say("prctl filter without nnp", prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &(struct sock_fprog){ 1, ok }));
    nnp();
    say("filter with nnp", install(ok, 1, 0));
    proc_status();
}

static void errno_action(void) {
    struct sock_filter f[] = { LOAD_NR, ON_NR(SYS_getppid, SECCOMP_RET_ERRNO | EPERM), ON_NR(SYS_getuid, SECCOMP_RET_ERRNO | 5000),
                               ON_NR(SYS_getgid, SECCOMP_RET_TRACE), ON_NR(SYS_geteuid, SECCOMP_RET_USER_NOTIF),
                               ON_NR(SYS_getegid, SECCOMP_RET_LOG), ALLOW_ALL };
    nnp();
    say("install", install(f, sizeof f / sizeof *f, 0));
    say("getppid", syscall(SYS_getppid));
    say("getuid (errno capped)", syscall(SYS_getuid));
    printf("errno value %d\n", errno);
    say("getgid (TRACE without a tracer)", syscall(SYS_getgid));
    say("geteuid (USER_NOTIF without a listener)", syscall(SYS_geteuid));
    say("getegid (LOG)", syscall(SYS_getegid) >= 0 ? 0 : -1);
    say("getpid", syscall(SYS_getpid) > 0 ? 0 : -1);
    say("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    say("strict after filter", sc(SECCOMP_SET_MODE_STRICT, 0, NULL));
    proc_status();
    // Inherited by a child, kept across execve.
    pid_t pid = fork();
    if (pid == 0) {
        errno = 0;
        long c = syscall(SYS_getppid);
        printf("child getppid: %ld %s\n", c, strerrorname_np(errno));
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    fflush(stdout);
    pid = fork();
    if (pid == 0) { execl("/proc/self/exe", "seccomp", "after-exec", (char *)NULL); _exit(127); }
    waitpid(pid, &st, 0);
    status("exec child", st);
}

static volatile int trapped, trap_code, trap_errno, trap_syscall, trap_at_return;
static volatile unsigned trap_arch;
static volatile long trap_rax;

static void on_sigsys(int sig, siginfo_t *si, void *p) {
    ucontext_t *uc = p;
    trapped++;
    trap_code = si->si_code; trap_errno = si->si_errno; trap_syscall = si->si_syscall; trap_arch = si->si_arch;
    trap_at_return = si->si_call_addr == (void *)outside_after;
    trap_rax = uc->uc_mcontext.gregs[REG_RAX];
    uc->uc_mcontext.gregs[REG_RAX] = 99;
    (void)sig;
}

static void trap_action(void) {
    struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
    sigaction(SIGSYS, &sa, NULL);
    struct sock_filter f[] = { LOAD_NR, ON_NR(SYS_getpid, SECCOMP_RET_TRAP | 0x42), ALLOW_ALL };
    nnp();
    say("install", install(f, sizeof f / sizeof *f, 0));
    long r = outside_getpid();
    printf("trap: ret=%ld trapped=%d code=%d errno=%d syscall=%d arch=%#x at_return=%d rax=%ld\n", r, trapped, trap_code,
           trap_errno, trap_syscall, trap_arch, trap_at_return, trap_rax);
}

static void kill_process(void) {
    struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
    sigaction(SIGSYS, &sa, NULL);   // no handler can catch it
    struct sock_filter f[] = { LOAD_NR, ON_NR(SYS_getppid, SECCOMP_RET_KILL_PROCESS), ALLOW_ALL };
    nnp();
    install(f, sizeof f / sizeof *f, 0);
    syscall(SYS_getppid);
    printf("survived KILL_PROCESS\n");
}

static void kill_thread_alone(void) {
    struct sock_filter f[] = { LOAD_NR, ON_NR(SYS_getppid, SECCOMP_RET_KILL_THREAD), ALLOW_ALL };
    nnp();
    install(f, sizeof f / sizeof *f, 0);
    syscall(SYS_getppid);
    printf("survived KILL_THREAD\n");
}

static void *killed_thread(void *arg) {
    struct sock_filter f[] = { LOAD_NR, ON_NR(SYS_getppid, SECCOMP_RET_KILL_THREAD), ALLOW_ALL };
    install(f, sizeof f / sizeof *f, 0);
    syscall(SYS_getppid);
    printf("thread survived KILL_THREAD\n");
    return arg;
}

static void kill_thread_only(void) {
    nnp();
    pthread_t t;
    pthread_create(&t, NULL, killed_thread, NULL);
    pthread_join(t, NULL);
    printf("main thread lives on, getppid %s\n", syscall(SYS_getppid) >= 0 ? "works" : "fails");
}

static void stacking(void) {
    struct sock_filter one[] = { LOAD_NR, ON_NR(SYS_getppid, SECCOMP_RET_ERRNO | 1), ON_NR(SYS_getuid, SECCOMP_RET_ERRNO | 3), ALLOW_ALL };
    struct sock_filter two[] = { LOAD_NR, ON_NR(SYS_getppid, SECCOMP_RET_ERRNO | 2), ON_NR(SYS_getuid, SECCOMP_RET_ALLOW), ALLOW_ALL };
    struct sock_filter three[] = { LOAD_NR, ON_NR(SYS_getppid, SECCOMP_RET_TRACE), ON_NR(SYS_getgid, SECCOMP_RET_KILL_PROCESS), ALLOW_ALL };
    nnp();
    install(one, sizeof one / sizeof *one, 0);
    install(two, sizeof two / sizeof *two, SECCOMP_FILTER_FLAG_LOG);
    syscall(SYS_getppid);
    printf("two ERRNOs: the newest wins: %d\n", errno);
    syscall(SYS_getuid);
    printf("ALLOW over ERRNO: the ERRNO wins: %d\n", errno);
    install(three, sizeof three / sizeof *three, 0);
    syscall(SYS_getppid);
    printf("ERRNO below TRACE wins: %d\n", errno);
    proc_status();
    fflush(stdout);
    syscall(SYS_getgid);
    printf("survived getgid\n");
}

static volatile int go, done_call;
static volatile long thread_result;
static void *waiter(void *arg) {
    while (!go) usleep(1000);
    errno = 0;
    thread_result = syscall(SYS_getppid) < 0 ? errno : 0;
    done_call = 1;
    return arg;
}

static void tsync(void) {
    nnp();
    pthread_t t;
    pthread_create(&t, NULL, waiter, NULL);
    struct sock_filter f[] = { LOAD_NR, ON_NR(SYS_getppid, SECCOMP_RET_ERRNO | EACCES), ALLOW_ALL };
    say("TSYNC", install(f, sizeof f / sizeof *f, SECCOMP_FILTER_FLAG_TSYNC));
    go = 1;
    pthread_join(t, NULL);
    printf("the other thread's getppid: errno %ld\n", thread_result);
}

static volatile int stage;
static void *diverging(void *arg) {
    struct sock_filter f[] = { LOAD_NR, ON_NR(SYS_getuid, SECCOMP_RET_ERRNO | 1), ALLOW_ALL };
    install(f, sizeof f / sizeof *f, 0);
    stage = 1;
    while (stage != 2) usleep(1000);
    return arg;
}

static void tsync_conflict(void) {
    nnp();
    pthread_t t;
    pthread_create(&t, NULL, diverging, NULL);
    while (stage != 1) usleep(1000);
    struct sock_filter f[] = { ALLOW_ALL };
    long r = install(f, 1, SECCOMP_FILTER_FLAG_TSYNC);
    printf("TSYNC against a diverged thread: %s\n", r > 0 && r != getpid() ? "its tid" : "something else");
    say("with TSYNC_ESRCH", install(f, 1, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH));
    stage = 2;
    pthread_join(t, NULL);
}

static volatile int listener = -1;
static char sup_log[8192], main_log[2048];
#define LOG(buf, ...) snprintf(buf + strlen(buf), sizeof buf - strlen(buf), __VA_ARGS__)
static volatile pid_t target_tid;
static void *supervisor(void *arg) {
    while (listener < 0) usleep(1000);
    int fd = listener;
    for (int round = 0; round < 4; round++) {
        struct pollfd p = { fd, POLLIN, 0 };
        int n = poll(&p, 1, 10000);
        struct seccomp_notif req;
        memset(&req, 0, sizeof req);
        long r = ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req);
        LOG(sup_log, "round %d: poll=%d revents=%#x recv=%ld nr=%d arch=%#x pid_is_target=%d arg0=%llu\n", round, n, p.revents, r,
               req.data.nr, req.data.arch, (pid_t)req.pid == target_tid, req.data.args[0]);
        LOG(sup_log, "  id valid: %d\n", ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id));
        struct seccomp_notif_resp resp = { .id = req.id };
        if (round == 0) resp.val = 4242;
        else if (round == 1) resp.error = -EPERM;
        else if (round == 2) resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        if (round == 3) {
            int devnull = open("/dev/null", O_RDONLY);
            struct seccomp_notif_addfd add = { .id = req.id, .flags = SECCOMP_ADDFD_FLAG_SEND, .srcfd = devnull };
            long fdnum = ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
            LOG(sup_log, "  addfd+send: %s\n", fdnum >= 3 ? "a new fd" : strerrorname_np(errno));
            close(devnull);
        } else {
            LOG(sup_log, "  send: %d\n", ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp));
        }
        // Answered: EINPROGRESS until the caller has taken the reply, ENOENT after.
        int again = ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
        int e = errno;
        LOG(sup_log, "  second send refused: %d\n", again == -1 && (e == EINPROGRESS || e == ENOENT));
    }
    int u = ioctl(fd, 0x1234, 0);
    LOG(sup_log, "unknown ioctl: %d %s\n", u, strerrorname_np(errno));
    close(fd);
    listener = -2;
    return arg;
}

static void user_notif(void) {
    nnp();
    pthread_t t;
    pthread_create(&t, NULL, supervisor, NULL);   // made before the filter: not filtered itself
    target_tid = gettid();
    struct sock_filter f[] = { LOAD_NR, ON_NR(SYS_getppid, SECCOMP_RET_USER_NOTIF), ALLOW_ALL };
    long fd = install(f, sizeof f / sizeof *f, SECCOMP_FILTER_FLAG_NEW_LISTENER);
    printf("listener: %s cloexec=%d\n", fd >= 3 ? "an fd" : "none", fd >= 0 ? fcntl(fd, F_GETFD) : -1);
    struct sock_filter g[] = { ALLOW_ALL };
    say("a second listener", install(g, 1, SECCOMP_FILTER_FLAG_NEW_LISTENER));
    listener = fd;
    long r;
    errno = 0; r = syscall(SYS_getppid, 11); LOG(main_log, "value reply: %ld\n", r);
    errno = 0; r = syscall(SYS_getppid, 12); LOG(main_log, "error reply: %ld %s\n", r, strerrorname_np(errno));
    errno = 0; r = syscall(SYS_getppid, 13); LOG(main_log, "continue reply: %s\n", r >= 0 ? "the real call ran" : "failed");
    errno = 0; r = syscall(SYS_getppid, 14); LOG(main_log, "addfd reply: %s\n", r >= 3 && fcntl(r, F_GETFD) >= 0 ? "an open fd" : "no fd");
    pthread_join(t, NULL);
    fputs(main_log, stdout);
    fputs(sup_log, stdout);
    errno = 0; r = syscall(SYS_getppid, 15); printf("after the listener closed: %ld %s\n", r, strerrorname_np(errno));
}

// A signal while a notified call waits: the call is withdrawn and, under
// SA_RESTART, made again (a new notification); with WAIT_KILLABLE_RECV, once
// received it waits for its answer and the handler runs after.
static volatile int usr1_count, killable_mode;
static void on_usr1(int sig) { usr1_count++; (void)sig; }

static void *signalling_supervisor(void *arg) {
    while (listener < 0) usleep(1000);
    int fd = listener;
    struct seccomp_notif req;
    memset(&req, 0, sizeof req);
    ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req);
    __u64 first = req.id;
    syscall(SYS_tgkill, getpid(), target_tid, SIGUSR1);
    if (killable_mode) {
        usleep(100000);
        LOG(sup_log, "still valid after the signal: %d\n", ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &first) == 0);
    } else {
        int withdrawn = 0;
        for (int i = 0; i < 5000 && !withdrawn; i++) {
            withdrawn = ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &first) != 0;
            if (!withdrawn) usleep(1000);
        }
        LOG(sup_log, "withdrawn after the signal: %d\n", withdrawn);
        memset(&req, 0, sizeof req);
        ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req);
        LOG(sup_log, "notified again: %d same args: %d\n", req.id != first, req.data.args[0] == 21);
    }
    struct seccomp_notif_resp resp = { .id = req.id, .val = killable_mode ? 4343 : 4242 };
    LOG(sup_log, "send: %d\n", ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp));
    return arg;
}

static void notif_signal(unsigned flags) {
    nnp();
    struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
    sigaction(SIGUSR1, &sa, NULL);
    killable_mode = flags != 0;
    pthread_t t;
    pthread_create(&t, NULL, signalling_supervisor, NULL);
    target_tid = gettid();
    struct sock_filter f[] = { LOAD_NR, ON_NR(SYS_getppid, SECCOMP_RET_USER_NOTIF), ALLOW_ALL };
    listener = install(f, sizeof f / sizeof *f, SECCOMP_FILTER_FLAG_NEW_LISTENER | flags);
    long r = syscall(SYS_getppid, 21);
    pthread_join(t, NULL);
    fputs(sup_log, stdout);
    printf("call returned %ld, handler ran %d time(s)\n", r, usr1_count);
}

static void notif_interrupted(void) { notif_signal(0); }
static void notif_killable(void) { notif_signal(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV); }

// The listener of a filter no task holds any more reports POLLHUP.
static volatile long orphan_fd = -1;
static void *filtered_thread(void *arg) {
    struct sock_filter f[] = { LOAD_NR, ON_NR(SYS_getppid, SECCOMP_RET_USER_NOTIF), ALLOW_ALL };
    orphan_fd = install(f, sizeof f / sizeof *f, SECCOMP_FILTER_FLAG_NEW_LISTENER);
    return arg;
}

static void notif_hangup(void) {
    nnp();
    pthread_t t;
    pthread_create(&t, NULL, filtered_thread, NULL);
    pthread_join(t, NULL);
    struct pollfd p = { (int)orphan_fd, POLLIN, 0 };
    int n = poll(&p, 1, 10000);
    printf("listener of a dead thread's filter: poll=%d revents=%#x\n", n, p.revents);
}

static void strict(void) {
    const char m[] = "strict: write works\n";
    fflush(stdout);
    say("strict", prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0));
    fflush(stdout);
    syscall(SYS_write, 1, m, sizeof m - 1);
    syscall(SYS_getpid);
    syscall(SYS_write, 1, "survived\n", 9);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "after-exec") == 0) {
        errno = 0;
        long r = syscall(SYS_getppid);
        printf("after exec getppid: %ld %s\n", r, strerrorname_np(errno));
        proc_status();
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    run("queries", queries);
    run("verifier", verifier);
    run("no_new_privs", needs_nnp);
    run("errno", errno_action);
    run("trap", trap_action);
    run("kill process", kill_process);
    run("kill thread, alone", kill_thread_alone);
    run("kill thread, others live", kill_thread_only);
    run("stacking", stacking);
    run("tsync", tsync);
    run("tsync conflict", tsync_conflict);
    run("user notif", user_notif);
    run("user notif interrupted", notif_interrupted);
    run("user notif, killable once received", notif_killable);
    run("user notif, nobody left", notif_hangup);
    run("strict", strict);
    return 0;
}
