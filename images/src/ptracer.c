/* A small ptrace tracer: the guest-ptrace cases the sentry serves, printed
 * so that the native run and the sandboxed one can be compared line by line.
 * No pid, address or size that differs between runs is printed.
 *
 *   ptracer            every section below
 *   ptracer yama       PTRACE_ATTACH to the parent (EPERM under Yama scope 1)
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/ptrace.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG
#define PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG 0x4210
#define PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG 0x4211
struct ptrace_sud_config { uint64_t mode, selector, offset, len; };
#endif

static long pt(long req, pid_t pid, void *addr, void *data) { return syscall(SYS_ptrace, req, pid, addr, data); }

static volatile long cell = 0x1122334455667788;
static volatile int got_usr1;
static void on_usr1(int s) { (void)s; got_usr1 = 1; }

static void expect_errno(const char *what, long r, int want) {
    printf("%s: %s\n", what, r == -1 && errno == want ? "as expected" : "UNEXPECTED");
    if (!(r == -1 && errno == want)) printf("  r=%ld errno=%d\n", r, errno);
}

static pid_t traced_child(void) {
    pid_t c = fork();
    if (c == 0) {
        if (pt(PTRACE_TRACEME, 0, 0, 0) != 0) _exit(90);
        raise(SIGSTOP);
    }
    return c;
}

static int wait_stop(pid_t pid) {
    int st;
    if (waitpid(pid, &st, __WALL) != pid) { printf("waitpid: %s\n", strerror(errno)); exit(1); }
    return st;
}

static void describe(const char *who, int st) {
    if (WIFEXITED(st)) printf("%s: exited %d\n", who, WEXITSTATUS(st));
    else if (WIFSIGNALED(st)) printf("%s: killed by %d\n", who, WTERMSIG(st));
    else if (WIFSTOPPED(st)) printf("%s: stopped sig=%#x event=%d\n", who, WSTOPSIG(st), st >> 16);
    else printf("%s: status %#x\n", who, st);
}

/* Syscall stops: numbers, arguments, results, a signal, the exit event. */
static void section_syscalls(void) {
    printf("== syscalls\n");
    pid_t c = traced_child();
    if (c == 0) {
        signal(SIGUSR1, on_usr1);
        close(1234);   /* the marker: the tracer prints from here */
        int fd = open("/dev/null", O_WRONLY);
        long w = write(fd, "hello", 5);
        close(fd);
        kill(getpid(), SIGUSR1);
        syscall(SYS_getppid);
        _exit(got_usr1 && w == 5 ? 3 : 4);
    }
    int st = wait_stop(c);
    describe("child", st);
    siginfo_t si;
    if (pt(PTRACE_GETSIGINFO, c, 0, &si) == 0) printf("siginfo: signo=%d code=%d\n", si.si_signo, si.si_code);
    pt(PTRACE_SETOPTIONS, c, 0, (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXIT));
    int printing = 0, sig = 0, entries = 0;
    unsigned long long last_nr = 0;
    for (;;) {
        if (pt(PTRACE_SYSCALL, c, 0, (void *)(long)sig) != 0) { printf("PTRACE_SYSCALL: %s\n", strerror(errno)); break; }
        sig = 0;
        st = wait_stop(c);
        if (WIFEXITED(st) || WIFSIGNALED(st)) { describe("child", st); break; }
        if (WSTOPSIG(st) == (SIGTRAP | 0x80)) {
            struct ptrace_syscall_info info;
            long n = pt(PTRACE_GET_SYSCALL_INFO, c, (void *)sizeof info, &info);
            unsigned long msg = 0;
            pt(PTRACE_GETEVENTMSG, c, 0, &msg);
            struct user_regs_struct regs;
            pt(PTRACE_GETREGS, c, 0, &regs);
            if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
                if (info.entry.nr == SYS_close && info.entry.args[0] == 1234) printing = 1;
                if (!printing) continue;
                entries++;
                last_nr = info.entry.nr;
                printf("enter nr=%llu size=%ld msg=%lu rax=%lld orig_rax=%llu arch=%#x ip_ok=%d\n", info.entry.nr, n, msg,
                       (long long)regs.rax, regs.orig_rax, info.arch, info.instruction_pointer == regs.rip);
                if (info.entry.nr == SYS_write) printf("  write count=%llu\n", info.entry.args[2]);
            } else if (info.op == PTRACE_SYSCALL_INFO_EXIT) {
                if (!printing) continue;
                /* pids differ between runs: only their sign is printed. */
                long long rv = info.exit.rval;
                if ((last_nr == SYS_getpid || last_nr == SYS_getppid) && rv > 0) rv = 1;
                printf("exit rval=%lld is_error=%d size=%ld msg=%lu\n", rv, info.exit.is_error, n, msg);
            } else {
                printf("op=%d size=%ld\n", info.op, n);
            }
        } else if (st >> 16 == PTRACE_EVENT_EXIT) {
            unsigned long msg = 0;
            pt(PTRACE_GETEVENTMSG, c, 0, &msg);
            printf("exit event: status=%#lx\n", msg);
        } else if (WIFSTOPPED(st)) {
            pt(PTRACE_GETSIGINFO, c, 0, &si);
            printf("signal-delivery-stop sig=%d si_code=%d entries-so-far=%d\n", WSTOPSIG(st), si.si_code, entries);
            sig = WSTOPSIG(st);
        }
    }
}

/* Registers: change an argument and a result, skip a call, putreg's checks,
 * PEEK/POKE of data and of struct user, FPU state, regsets. */
static void section_regs(void) {
    printf("== regs\n");
    pid_t c = traced_child();
    if (c == 0) {
        long w = syscall(SYS_write, 1, "AAAA\n", 5);
        printf("\nchild: write returned %ld\n", w);
        long p = syscall(SYS_getppid);
        printf("child: getppid returned %ld\n", p);
        printf("child: cell=%#lx\n", cell);
        _exit(0);
    }
    describe("child", wait_stop(c));
    struct user_regs_struct regs, saved;
    long word = 0;
    errno = 0;
    long r = pt(PTRACE_PEEKDATA, c, (void *)&cell, &word);
    printf("peekdata: r=%ld word=%#lx\n", r, word);
    r = pt(PTRACE_POKEDATA, c, (void *)&cell, (void *)0x42L);
    printf("pokedata: r=%ld\n", r);
    expect_errno("peekdata at 0", pt(PTRACE_PEEKDATA, c, 0, &word), EIO);
    expect_errno("pokedata at 0", pt(PTRACE_POKEDATA, c, 0, 0), EIO);
    /* struct user: registers, zeros past them, EIO misaligned or past the end. */
    pt(PTRACE_GETREGS, c, 0, &regs);
    long rip = 0;
    pt(PTRACE_PEEKUSR, c, (void *)offsetof(struct user_regs_struct, rip), &rip);
    printf("peekuser rip matches getregs: %d\n", rip == (long)regs.rip);
    long z = -1;
    r = pt(PTRACE_PEEKUSR, c, (void *)offsetof(struct user, u_tsize), &z);
    printf("peekuser u_tsize: r=%ld value=%ld\n", r, z);
    expect_errno("peekuser misaligned", pt(PTRACE_PEEKUSR, c, (void *)3, &z), EIO);
    /* The kernel's struct user is 928 bytes (glibc's omits its last two words). */
    expect_errno("peekuser past struct user", pt(PTRACE_PEEKUSR, c, (void *)928, &z), EIO);
    r = pt(PTRACE_PEEKUSR, c, (void *)920, &z);
    printf("peekuser fault_address: r=%ld\n", r);
    expect_errno("pokeuser u_tsize", pt(PTRACE_POKEUSR, c, (void *)offsetof(struct user, u_tsize), 0), EIO);
    /* putreg's checks. */
    saved = regs;
    regs.cs = 0;
    expect_errno("setregs cs=0", pt(PTRACE_SETREGS, c, 0, &regs), EIO);
    regs = saved; regs.ds = 0x10;   /* RPL 0 */
    expect_errno("setregs ds rpl 0", pt(PTRACE_SETREGS, c, 0, &regs), EIO);
    regs = saved; regs.fs_base = 1UL << 47;
    expect_errno("setregs fs_base past TASK_SIZE_MAX", pt(PTRACE_SETREGS, c, 0, &regs), EIO);
    expect_errno("pokeuser gs_base past TASK_SIZE_MAX",
                 pt(PTRACE_POKEUSR, c, (void *)offsetof(struct user_regs_struct, gs_base), (void *)(1UL << 47)), EIO);
    regs = saved; regs.eflags = saved.eflags ^ (0x200000 | 0x200 | 0x1);   /* ID and IF not the tracer's; CF is */
    printf("setregs eflags: r=%ld\n", pt(PTRACE_SETREGS, c, 0, &regs));
    pt(PTRACE_GETREGS, c, 0, &regs);
    printf("eflags: ID kept=%d IF kept=%d CF flipped=%d\n", (regs.eflags & 0x200000) == (saved.eflags & 0x200000),
           (regs.eflags & 0x200) == (saved.eflags & 0x200), (regs.eflags & 1) != (saved.eflags & 1));
    pt(PTRACE_SETREGS, c, 0, &saved);
    /* FPU state. */
    struct user_fpregs_struct fp;
    r = pt(PTRACE_GETFPREGS, c, 0, &fp);
    printf("getfpregs: r=%ld cwd=%#x mxcsr=%#x\n", r, fp.cwd, fp.mxcsr);
    struct user_fpregs_struct bad = fp;
    bad.mxcsr = 0xffffffff;
    expect_errno("setfpregs bad mxcsr", pt(PTRACE_SETFPREGS, c, 0, &bad), EINVAL);
    printf("setfpregs same: r=%ld\n", pt(PTRACE_SETFPREGS, c, 0, &fp));
    /* Regsets. */
    struct user_regs_struct rs;
    struct iovec iov = { &rs, sizeof rs };
    r = pt(PTRACE_GETREGSET, c, (void *)NT_PRSTATUS, &iov);
    printf("getregset prstatus: r=%ld len=%zu rip matches=%d\n", r, iov.iov_len, rs.rip == saved.rip);
    char big[8192];
    iov.iov_base = big; iov.iov_len = 1000;
    r = pt(PTRACE_GETREGSET, c, (void *)NT_PRSTATUS, &iov);
    printf("getregset prstatus, big buffer: r=%ld len=%zu\n", r, iov.iov_len);
    iov.iov_len = 10;
    expect_errno("getregset odd length", pt(PTRACE_GETREGSET, c, (void *)NT_PRSTATUS, &iov), EINVAL);
    iov.iov_len = sizeof big;
    r = pt(PTRACE_GETREGSET, c, (void *)NT_PRFPREG, &iov);
    printf("getregset fpregset: r=%ld len=%zu\n", r, iov.iov_len);
    iov.iov_len = sizeof big;
    r = pt(PTRACE_GETREGSET, c, (void *)NT_X86_XSTATE, &iov);
    printf("getregset xstate: r=%ld xstate-sized=%d\n", r, iov.iov_len >= 576 && iov.iov_len < sizeof big);
    iov.iov_len = sizeof big;
    expect_errno("getregset unknown note", pt(PTRACE_GETREGSET, c, (void *)0x999, &iov), EINVAL);
    /* write(1, "AAAA\n", 5): count 2 at entry, 77 as the result. */
    pt(PTRACE_SYSCALL, c, 0, 0);
    wait_stop(c);
    pt(PTRACE_GETREGS, c, 0, &regs);
    printf("entry: orig_rax=%llu rdx=%llu rax=%lld\n", regs.orig_rax, regs.rdx, (long long)regs.rax);
    regs.rdx = 2;
    pt(PTRACE_SETREGS, c, 0, &regs);
    pt(PTRACE_SYSCALL, c, 0, 0);
    wait_stop(c);
    pt(PTRACE_GETREGS, c, 0, &regs);
    printf("exit: rax=%lld\n", (long long)regs.rax);
    pt(PTRACE_POKEUSR, c, (void *)offsetof(struct user_regs_struct, rax), (void *)77L);
    /* getppid: skipped at entry (orig_rax -1), 42 in rax. */
    for (;;) {
        pt(PTRACE_SYSCALL, c, 0, 0);
        int st = wait_stop(c);
        if (!WIFSTOPPED(st)) { describe("child", st); return; }
        pt(PTRACE_GETREGS, c, 0, &regs);
        if (regs.orig_rax == SYS_getppid) break;
        pt(PTRACE_SYSCALL, c, 0, 0);   /* past its exit */
        wait_stop(c);
    }
    regs.orig_rax = -1;
    regs.rax = 42;
    pt(PTRACE_SETREGS, c, 0, &regs);
    pt(PTRACE_SYSCALL, c, 0, 0);
    wait_stop(c);
    pt(PTRACE_GETREGS, c, 0, &regs);
    printf("skipped call's exit: rax=%lld\n", (long long)regs.rax);
    pt(PTRACE_CONT, c, 0, 0);
    describe("child", wait_stop(c));
}

/* Resumes `c` until a PTRACE_EVENT stop, printing (and passing on) the signals on the way. */
static int cont_until_event(pid_t c, const char *who) {
    int sig = 0;
    for (;;) {
        pt(PTRACE_CONT, c, 0, (void *)(long)sig);
        int st = wait_stop(c);
        describe(who, st);
        if (!WIFSTOPPED(st) || st >> 16) return st;
        sig = WSTOPSIG(st);
    }
}

/* Following forks, vforks and execs (PTRACE_O_TRACEFORK/VFORK/EXEC). */
static void section_fork(const char *self) {
    printf("== fork\n");
    pid_t c = traced_child();
    if (c == 0) {
        pid_t g = fork();
        if (g == 0) { execl(self, self, "exec-child", (char *)0); _exit(99); }
        int st;
        waitpid(g, &st, 0);
        printf("child: grandchild status %d\n", WEXITSTATUS(st));
        pid_t v = vfork();
        if (v == 0) _exit(7);
        waitpid(v, &st, 0);
        printf("child: vfork child status %d\n", WEXITSTATUS(st));
        _exit(0);
    }
    describe("child", wait_stop(c));
    pt(PTRACE_SETOPTIONS, c, 0, (void *)(long)(PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEVFORKDONE | PTRACE_O_TRACEEXEC));
    cont_until_event(c, "child");
    unsigned long g = 0;
    pt(PTRACE_GETEVENTMSG, c, 0, &g);
    describe("grandchild", wait_stop(g));
    cont_until_event(g, "grandchild");
    unsigned long former = 0;
    pt(PTRACE_GETEVENTMSG, g, 0, &former);
    printf("exec event message is the grandchild's pid: %d\n", former == g);
    cont_until_event(g, "grandchild");
    cont_until_event(c, "child");
    unsigned long v = 0;
    pt(PTRACE_GETEVENTMSG, c, 0, &v);
    describe("vfork child", wait_stop(v));
    cont_until_event(v, "vfork child");
    cont_until_event(c, "child");
    unsigned long done = 0;
    pt(PTRACE_GETEVENTMSG, c, 0, &done);
    printf("vfork-done message is the vfork child's pid: %d\n", done == v);
    cont_until_event(c, "child");
}

/* PTRACE_GET/SET_SYSCALL_USER_DISPATCH_CONFIG: the v15 series' get_set_sud, rewritten. */
static char selector;
static void section_sud(void) {
    printf("== sud config\n");
    pid_t c = traced_child();
    if (c == 0) { for (;;) pause(); }
    describe("child", wait_stop(c));
    struct ptrace_sud_config cfg;
    memset(&cfg, 0xff, sizeof cfg);
    long r = pt(PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG, c, (void *)sizeof cfg, &cfg);
    printf("get: r=%ld mode=%llu selector=%#llx offset=%#llx len=%#llx\n", r, (unsigned long long)cfg.mode,
           (unsigned long long)cfg.selector, (unsigned long long)cfg.offset, (unsigned long long)cfg.len);
    struct ptrace_sud_config on = { 1, (uint64_t)(uintptr_t)&selector, 0x1000, 0x2000 };
    r = pt(PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG, c, (void *)sizeof on, &on);
    printf("set on: r=%ld\n", r);
    r = pt(PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG, c, (void *)sizeof cfg, &cfg);
    printf("get: r=%ld same=%d\n", r, memcmp(&cfg, &on, sizeof on) == 0);
    expect_errno("get with a wrong size", pt(PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG, c, (void *)8, &cfg), EINVAL);
    expect_errno("set with a wrong size", pt(PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG, c, (void *)40, &on), EINVAL);
    expect_errno("get into an unmapped buffer", pt(PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG, c, (void *)sizeof cfg, (void *)8), EFAULT);
    struct ptrace_sud_config bad = { 2, 0, 0, 0 };
    expect_errno("set mode 2", pt(PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG, c, (void *)sizeof bad, &bad), EINVAL);
    struct ptrace_sud_config offbad = { 0, 0, 0x1000, 0 };
    expect_errno("set off with an offset", pt(PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG, c, (void *)sizeof offbad, &offbad), EINVAL);
    struct ptrace_sud_config wrap = { 1, 0, ~0ULL - 10, 100 };
    expect_errno("set a region that wraps", pt(PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG, c, (void *)sizeof wrap, &wrap), EINVAL);
    struct ptrace_sud_config off = { 0, 0, 0, 0 };
    printf("set off: r=%ld\n", pt(PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG, c, (void *)sizeof off, &off));
    pt(PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG, c, (void *)sizeof cfg, &cfg);
    printf("get: mode=%llu\n", (unsigned long long)cfg.mode);
    printf("kill: r=%ld\n", pt(PTRACE_KILL, c, 0, 0));
    describe("child", wait_stop(c));
}

/* seccomp's RET_TRACE with PTRACE_O_TRACESECCOMP, and without. */
static void section_seccomp(void) {
    printf("== seccomp trace\n");
    pid_t c = traced_child();
    if (c == 0) {
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | 0x55),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { 4, f };
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) _exit(91);
        long a = syscall(SYS_getppid);
        long b = syscall(SYS_getppid);
        long self = syscall(SYS_getpid);
        errno = 0;
        long d = syscall(SYS_getppid);
        printf("child: skipped=%ld redirected-to-getpid=%d untraced: r=%ld errno=%s\n", a, b == self, d, strerror(errno));
        _exit(0);
    }
    describe("child", wait_stop(c));
    pt(PTRACE_SETOPTIONS, c, 0, (void *)(long)PTRACE_O_TRACESECCOMP);
    pt(PTRACE_CONT, c, 0, 0);
    int st = wait_stop(c);
    describe("child", st);
    unsigned long msg = 0;
    pt(PTRACE_GETEVENTMSG, c, 0, &msg);
    struct ptrace_syscall_info info;
    long n = pt(PTRACE_GET_SYSCALL_INFO, c, (void *)sizeof info, &info);
    printf("seccomp stop: msg=%#lx op=%d size=%ld nr=%llu ret_data=%#x\n", msg, info.op, n, info.seccomp.nr, info.seccomp.ret_data);
    struct user_regs_struct regs;
    pt(PTRACE_GETREGS, c, 0, &regs);
    regs.orig_rax = -1; regs.rax = 1234;
    pt(PTRACE_SETREGS, c, 0, &regs);
    pt(PTRACE_CONT, c, 0, 0);
    st = wait_stop(c);
    describe("child", st);
    pt(PTRACE_GETREGS, c, 0, &regs);
    regs.orig_rax = SYS_getpid;
    pt(PTRACE_SETREGS, c, 0, &regs);
    pt(PTRACE_SETOPTIONS, c, 0, 0);
    pt(PTRACE_CONT, c, 0, 0);
    describe("child", wait_stop(c));
}

/* PTRACE_SEIZE, INTERRUPT, a group-stop and LISTEN. */
static void section_seize(void) {
    printf("== seize\n");
    pid_t c = fork();
    if (c == 0) {
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        for (int i = 0; i < 500; i++) nanosleep(&ts, 0);
        _exit(0);
    }
    /* No PTRACE_O_TRACEEXIT: 6.1 makes no exit stop for a SIGKILL, 6.18 does. */
    long r = pt(PTRACE_SEIZE, c, 0, 0);
    printf("seize: r=%ld\n", r);
    expect_errno("seize twice", pt(PTRACE_SEIZE, c, 0, 0), EPERM);
    expect_errno("a request while it runs", pt(PTRACE_GETREGS, c, 0, &r), ESRCH);
    expect_errno("seize with addr", pt(PTRACE_SEIZE, getpid(), (void *)1, 0), EIO);
    printf("interrupt: r=%ld\n", pt(PTRACE_INTERRUPT, c, 0, 0));
    int st = wait_stop(c);
    describe("child", st);
    siginfo_t si;
    pt(PTRACE_GETSIGINFO, c, 0, &si);
    printf("siginfo: signo=%d code=%#x\n", si.si_signo, si.si_code);
    pt(PTRACE_CONT, c, 0, 0);
    kill(c, SIGSTOP);
    st = wait_stop(c);
    describe("child (signal-delivery-stop)", st);
    pt(PTRACE_CONT, c, 0, (void *)SIGSTOP);
    st = wait_stop(c);
    describe("child (group-stop)", st);
    printf("listen: r=%ld\n", pt(PTRACE_LISTEN, c, 0, 0));
    kill(c, SIGCONT);
    st = wait_stop(c);
    describe("child (listening, continued)", st);
    pt(PTRACE_CONT, c, 0, 0);
    st = wait_stop(c);
    describe("child (SIGCONT)", st);
    pt(PTRACE_CONT, c, 0, 0);
    kill(c, SIGKILL);
    describe("child", wait_stop(c));
}

/* process_vm_readv/writev on a child, and /proc/PID/status's TracerPid. */
static void section_vm(void) {
    printf("== process_vm, /proc/PID/mem and TracerPid\n");
    int ready[2];
    if (pipe(ready) != 0) return;
    pid_t c = traced_child();
    if (c == 0) {
        char line[256], buf[4096];
        FILE *f = fopen("/proc/self/status", "r");
        long tracer = -1;
        while (f && fgets(line, sizeof line, f)) sscanf(line, "TracerPid: %ld", &tracer);
        if (f) fclose(f);
        printf("child: TracerPid is the parent: %d\n", tracer == getppid());
        (void)buf;
        write(ready[1], "x", 1);
        for (;;) pause();
    }
    describe("child", wait_stop(c));
    pt(PTRACE_CONT, c, 0, 0);
    char x;
    read(ready[0], &x, 1);
    long got = 0, put = 0x5566;
    struct iovec local = { &got, sizeof got }, remote = { (void *)&cell, sizeof cell };
    long n = process_vm_readv(c, &local, 1, &remote, 1, 0);
    printf("process_vm_readv: n=%ld value=%#lx\n", n, got);
    local.iov_base = &put;
    n = process_vm_writev(c, &local, 1, &remote, 1, 0);
    local.iov_base = &got;
    got = 0;
    process_vm_readv(c, &local, 1, &remote, 1, 0);
    printf("process_vm_writev: n=%ld then %#lx\n", n, got);
    expect_errno("process_vm_readv flags", process_vm_readv(c, &local, 1, &remote, 1, 1), EINVAL);
    struct iovec bad = { (void *)8, 8 };
    expect_errno("process_vm_readv unmapped", process_vm_readv(c, &local, 1, &bad, 1, 0), EFAULT);
    /* A remote range that runs into an unmapped page: what comes before it. */
    char two[2 * 4096];
    struct iovec lbig = { two, sizeof two };
    struct iovec rpart[2] = { { (void *)&cell, 8 }, { (void *)8, 8 } };
    printf("process_vm_readv partial: n=%ld\n", process_vm_readv(c, &lbig, 1, rpart, 2, 0));
    /* /proc/PID/mem: offsets are addresses. */
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", c);
    int mfd = open(path, O_RDWR);
    long word = 0, seven = 0x77;
    printf("/proc/PID/mem open: %s\n", mfd >= 0 ? "ok" : strerror(errno));
    ssize_t got_n = pread(mfd, &word, 8, (off_t)(uintptr_t)&cell);
    printf("pread: n=%zd value=%#lx\n", got_n, word);
    printf("pwrite: n=%zd\n", pwrite(mfd, &seven, 8, (off_t)(uintptr_t)&cell));
    pread(mfd, &word, 8, (off_t)(uintptr_t)&cell);
    printf("then: %#lx\n", word);
    expect_errno("pread at 8", pread(mfd, &word, 8, 8), EIO);
    expect_errno("lseek SEEK_END", lseek(mfd, 0, SEEK_END), EINVAL);
    printf("lseek SEEK_SET: matches=%d\n", lseek(mfd, (off_t)(uintptr_t)&cell, SEEK_SET) == (off_t)(uintptr_t)&cell);
    word = 0;
    got_n = read(mfd, &word, 8);
    printf("read: n=%zd value=%#lx\n", got_n, word);
    close(mfd);
    kill(c, SIGKILL);
    int st;
    while (waitpid(c, &st, __WALL) == c && !WIFSIGNALED(st)) {}
    describe("child", st);
    close(ready[0]); close(ready[1]);
}

/* PTRACE_SINGLESTEP: one instruction at a time (static and not PIE: the
 * addresses are the same natively), across the syscalls raise() makes. */
static void section_step(void) {
    printf("== singlestep\n");
    pid_t c = traced_child();
    if (c == 0) { syscall(SYS_getpid); _exit(0); }
    describe("child", wait_stop(c));
    for (int i = 0; i < 60; i++) {
        if (pt(PTRACE_SINGLESTEP, c, 0, 0) != 0) { printf("singlestep: %s\n", strerror(errno)); break; }
        int st = wait_stop(c);
        if (!WIFSTOPPED(st)) { describe("child", st); return; }
        struct user_regs_struct regs;
        siginfo_t si;
        pt(PTRACE_GETREGS, c, 0, &regs);
        pt(PTRACE_GETSIGINFO, c, 0, &si);
        printf("step %d: sig=%d code=%d rip=%#llx tf=%d\n", i, WSTOPSIG(st), si.si_code, regs.rip, (int)(regs.eflags >> 8) & 1);
    }
    pt(PTRACE_CONT, c, 0, 0);
    describe("child", wait_stop(c));
}

/* Detach: the tracee runs on untraced, and its real parent reaps it. */
static void section_detach(void) {
    printf("== detach\n");
    pid_t c = traced_child();
    if (c == 0) _exit(12);
    describe("child", wait_stop(c));
    printf("detach: r=%ld\n", pt(PTRACE_DETACH, c, 0, 0));
    expect_errno("a request after detach", pt(PTRACE_GETREGS, c, 0, 0), ESRCH);
    int st;
    waitpid(c, &st, 0);
    describe("child", st);
}

int main(int argc, char **argv) {
    setvbuf(stdout, 0, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "exec-child") == 0) return 5;
    if (argc > 1 && strcmp(argv[1], "yama") == 0) {
        pid_t c = fork();
        if (c == 0) {
            long r = pt(PTRACE_ATTACH, getppid(), 0, 0);
            printf("attach to parent: %s\n", r == 0 ? "ok" : strerror(errno));
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/mem", getppid());
            int fd = open(path, O_RDONLY);
            printf("parent's /proc/PID/mem: %s\n", fd >= 0 ? "ok" : strerror(errno));
            _exit(0);
        }
        int st;
        waitpid(c, &st, 0);
        return 0;
    }
    section_syscalls();
    section_regs();
    section_fork("/proc/self/exe");
    section_sud();
    section_seccomp();
    section_seize();
    section_detach();
    section_vm();
    section_step();
    return 0;
}
