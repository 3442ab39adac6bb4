// A guest tracer for checkpoint/restore: a child traced with
// PTRACE_TRACEME, options set (TRACESYSGOOD, EXITKILL), and one line
// printed per stop, so an uninterrupted run and a checkpointed-and-restored
// one print the same.
//   ckptptrace STEPS SLEEP_MS syscall|signal|wait
// "syscall": PTRACE_SYSCALL; the child calls getppid STEPS times; the
// tracer sleeps in each syscall-entry stop (where a checkpoint mostly finds
// the child), checks the stop's siginfo, turns every third getppid into
// getpid at its entry and rewrites every getppid's result at its exit; the
// child's sum of results says what it saw.
// "signal": PTRACE_CONT; the child sends itself SIGUSR1 STEPS times; the
// tracer sleeps in each signal-delivery-stop, checks its siginfo and
// delivers every other signal (the handler counts them).
// "wait": as "signal", but the child sleeps before each signal and the
// tracer waits in waitpid while it runs.
// "fork", "vfork", "exec", "exit": PTRACE_EVENT stops. The child forks
// STEPS grandchildren (each _exits with its number, which the child's
// waitpid adds up), or vforks them ("vfork": each execs this program to
// exit), then execs this program, which exits 7. The tracer has every
// event on (fork, vfork, vfork-done, exec, exit), prints one line per
// event of the child and counts the grandchildren's stops; it holds the
// child HOLD_MS (default 2000) in one stop: the middle PTRACE_EVENT_FORK,
// the middle PTRACE_EVENT_VFORK_DONE, the PTRACE_EVENT_EXEC or the final
// PTRACE_EVENT_EXIT, after printing "holding", so a checkpoint taken then
// finds it there. "dead": as "fork", but the tracer holds off its wait
// after resuming the middle grandchild's PTRACE_EVENT_EXIT: the checkpoint
// finds that tracee dead and not waited for, its parent (the child) waiting.
// "seccomp": the child's seccomp filter traces getppid (SECCOMP_RET_TRACE,
// data 42) and it calls getppid STEPS times instead of forking; the tracer
// skips every other call with a result of its own (orig_rax -1) and lets
// the others run, and holds the child in the middle PTRACE_EVENT_SECCOMP.
// "vforkwait": as "vfork", but the child is held in the middle
// PTRACE_EVENT_VFORK, before its vfork wait, its grandchild not yet exec'd.
//   ckptptrace STEPS SLEEP_MS fork|vfork|vforkwait|exec|exit|dead|seccomp [HOLD_MS]
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void say(const char *s) { write(1, s, strlen(s)); }
static volatile sig_atomic_t handled;
static void on_usr1(int sig) { (void)sig; handled++; }

static void nap(int ms) {
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {}
}

// vforkwait's grandchildren whose first stop may go on at once (their
// parent's vfork event came first): `add` records one, else asks.
static pid_t releasedPids[64];
static int nreleased;
static int released(pid_t p, int add) {
    if (add) { releasedPids[nreleased++ % 64] = p; return 1; }
    for (int i = 0; i < nreleased && i < 64; i++) if (releasedPids[i] == p) return 1;
    return 0;
}

// The event stops' tracer and tracee (see the top).
static int events(int steps, int ms, const char *mode, int hold, char *self) {
    int vfwait = strcmp(mode, "vforkwait") == 0, vf = vfwait || strcmp(mode, "vfork") == 0;
    char line[256];
    pid_t child = fork();
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        raise(SIGSTOP);
        long sum = 0;
        int forks = 0;
        if (strcmp(mode, "seccomp") == 0) {
            // getppid traced by the filter: the real parent's pid, or the tracer's result.
            long parent = getppid(), real = 0;
            struct sock_filter code[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | 42),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            };
            struct sock_fprog prog = { sizeof code / sizeof code[0], code };
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) _exit(126);
            for (int i = 1; i <= steps; i++) {
                long r = syscall(SYS_getppid);
                if (r == parent) real++; else sum += r;
            }
            snprintf(line, sizeof line, "child: %ld real getppid, sum %ld\n", real, sum);
            say(line);
            execl(self, "ckptptrace", "exit-with", "7", (char *)NULL);
            _exit(127);
        }
        for (int i = 1; i <= steps; i++) {
            char num[16];
            snprintf(num, sizeof num, "%d", i);
            pid_t g = vf ? vfork() : fork();
            if (g == 0) {
                if (vf) { execl(self, "ckptptrace", "exit-with", num, (char *)NULL); _exit(127); }
                _exit(i);
            }
            if (g < 0) continue;
            forks++;
            int st;
            if (waitpid(g, &st, 0) == g && WIFEXITED(st)) sum += WEXITSTATUS(st);
        }
        snprintf(line, sizeof line, "child: %d forks, sum %ld\n", forks, sum);
        say(line);
        execl(self, "ckptptrace", "exit-with", "7", (char *)NULL);
        _exit(127);
    }
    int st;
    if (waitpid(child, &st, 0) != child || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGSTOP) { say("no first stop\n"); return 1; }
    ptrace(PTRACE_SETOPTIONS, child, NULL, (void *)(long)(PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEVFORKDONE |
                                                         PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_TRACESECCOMP |
                                                         PTRACE_O_EXITKILL));
    ptrace(PTRACE_CONT, child, NULL, NULL);
    pid_t parked[64];
    int nparked = 0;
    int seccompEvents = 0, forkEvents = 0, doneEvents = 0, gStops = 0, gExecs = 0, gExitEvents = 0, gExits = 0, wrong = 0;
    while (1) {
        pid_t w = waitpid(-1, &st, __WALL);
        if (w < 0) { say("waitpid failed\n"); return 1; }
        unsigned long msg = 0;
        int event = WIFSTOPPED(st) ? st >> 16 : 0;
        if (event) ptrace(PTRACE_GETEVENTMSG, w, NULL, &msg);
        if (w != child) {
            // A grandchild: counted, never printed (its stops race the child's).
            if (WIFEXITED(st)) { gExits++; continue; }
            if (!WIFSTOPPED(st)) { wrong++; continue; }
            if (event == PTRACE_EVENT_EXIT) {
                gExitEvents++;
                if ((msg >> 8) == 0 || (msg & 0x7f)) wrong++;
                if (strcmp(mode, "dead") == 0 && gExitEvents == (steps + 1) / 2) {
                    ptrace(PTRACE_CONT, w, NULL, NULL);
                    say("holding\n");
                    nap(hold);   // it dies meanwhile, not yet waited for
                    continue;
                }
            }
            else if (event == PTRACE_EVENT_EXEC) { gExecs++; if (msg != (unsigned long)w) wrong++; }
            else if (!event && WSTOPSIG(st) == SIGSTOP) {
                gStops++;
                // vforkwait: a grandchild waits in its first stop until its
                // parent's vfork event is through (and held), so it cannot
                // exec before the checkpoint whichever stop comes first.
                if (vfwait && !released(w, 0)) { parked[nparked++ % 64] = w; continue; }
            }
            else wrong++;
            ptrace(PTRACE_CONT, w, NULL, NULL);
            continue;
        }
        if (WIFEXITED(st)) { snprintf(line, sizeof line, "tracer: child exited %d\n", WEXITSTATUS(st)); say(line); break; }
        if (WIFSIGNALED(st)) { snprintf(line, sizeof line, "tracer: child killed %d\n", WTERMSIG(st)); say(line); break; }
        siginfo_t si;
        memset(&si, 0, sizeof si);
        long gs = ptrace(PTRACE_GETSIGINFO, child, NULL, &si);
        int ok = gs == 0 && si.si_signo == SIGTRAP && si.si_code == (SIGTRAP | event << 8) && WSTOPSIG(st) == SIGTRAP;
        int held = 0;
        switch (event) {
        case PTRACE_EVENT_FORK: case PTRACE_EVENT_VFORK:
            forkEvents++;
            ok = ok && msg > 0 && event == (vf ? PTRACE_EVENT_VFORK : PTRACE_EVENT_FORK);
            snprintf(line, sizeof line, "%s event %d: %s\n", vf ? "vfork" : "fork", forkEvents, ok ? "ok" : "wrong");
            held = (vf ? vfwait : strcmp(mode, "fork") == 0) && forkEvents == (steps + 1) / 2;
            break;
        case PTRACE_EVENT_VFORK_DONE:
            doneEvents++;
            snprintf(line, sizeof line, "vfork-done event %d: %s\n", doneEvents, ok && msg > 0 ? "ok" : "wrong");
            held = vf && !vfwait && doneEvents == (steps + 1) / 2;
            break;
        case PTRACE_EVENT_SECCOMP: {
            struct user_regs_struct r;
            seccompEvents++;
            ptrace(PTRACE_GETREGS, child, NULL, &r);
            ok = ok && msg == 42 && r.orig_rax == SYS_getppid;
            if (seccompEvents % 2 == 0) {   // skipped, with a result of the tracer's
                r.orig_rax = -1;
                r.rax = 1000 + seccompEvents;
                ptrace(PTRACE_SETREGS, child, NULL, &r);
            }
            snprintf(line, sizeof line, "seccomp event %d: %s, %s\n", seccompEvents, ok ? "ok" : "wrong", seccompEvents % 2 ? "runs" : "skipped");
            held = strcmp(mode, "seccomp") == 0 && seccompEvents == (steps + 1) / 2;
            break;
        }
        case PTRACE_EVENT_EXEC:
            snprintf(line, sizeof line, "exec event: former tid %s\n", ok && msg == (unsigned long)child ? "ok" : "wrong");
            held = strcmp(mode, "exec") == 0;
            break;
        case PTRACE_EVENT_EXIT:
            snprintf(line, sizeof line, "exit event: status 0x%lx %s\n", msg, ok ? "ok" : "wrong");
            held = strcmp(mode, "exit") == 0;
            break;
        default:
            snprintf(line, sizeof line, "stop: signal %d event %d\n", WSTOPSIG(st), event);
        }
        say(line);
        if (held) { say("holding\n"); nap(hold); }
        else nap(ms);
        ptrace(PTRACE_CONT, child, NULL, NULL);
        if (vfwait && event == PTRACE_EVENT_VFORK) {
            int found = 0;
            for (int i = 0; i < nparked && i < 64; i++)
                if (parked[i] == (pid_t)msg) { parked[i] = 0; found = 1; ptrace(PTRACE_CONT, (pid_t)msg, NULL, NULL); }
            if (!found) released((pid_t)msg, 1);
        }
    }
    snprintf(line, sizeof line, "tracer: grandchildren %d stops, %d execs, %d exit events, %d exits, %d wrong\n",
             gStops, gExecs, gExitEvents, gExits, wrong);
    say(line);
    return 0;
}

int main(int argc, char **argv) {
    // A vfork'd grandchild, or the child after its exec: exits with the number given.
    if (argc == 3 && strcmp(argv[1], "exit-with") == 0) {
        if (atoi(argv[2]) == 7) say("child: exec'd\n");
        return atoi(argv[2]);
    }
    if (argc >= 4 && (!strcmp(argv[3], "fork") || !strcmp(argv[3], "vfork") || !strcmp(argv[3], "vforkwait") || !strcmp(argv[3], "exec")
                      || !strcmp(argv[3], "exit")
                      || !strcmp(argv[3], "dead") || !strcmp(argv[3], "seccomp")))
        return events(atoi(argv[1]), atoi(argv[2]), argv[3], argc > 4 ? atoi(argv[4]) : 2000, argv[0]);
    if (argc < 4) { fprintf(stderr, "usage: ckptptrace STEPS SLEEP_MS syscall|signal|wait|fork|vfork|vforkwait|exec|exit|dead|seccomp [HOLD_MS]\n"); return 2; }
    int steps = atoi(argv[1]), ms = atoi(argv[2]);
    const char *mode = argv[3];
    int sys = strcmp(mode, "syscall") == 0, waits = strcmp(mode, "wait") == 0;
    char line[256];
    pid_t child = fork();
    if (child == 0) {
        signal(SIGUSR1, on_usr1);
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        raise(SIGSTOP);
        long sum = 0;
        for (int i = 0; i < steps; i++) {
            if (sys) sum += syscall(SYS_getppid);
            else {
                if (waits) nap(ms);
                syscall(SYS_kill, getpid(), SIGUSR1);
            }
        }
        snprintf(line, sizeof line, "child: sum %ld handled %d\n", sum, (int)handled);
        say(line);
        _exit(7);
    }
    int st;
    if (waitpid(child, &st, 0) != child || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGSTOP) { say("no first stop\n"); return 1; }
    ptrace(PTRACE_SETOPTIONS, child, NULL, (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL));
    int request = sys ? PTRACE_SYSCALL : PTRACE_CONT;
    ptrace(request, child, NULL, NULL);   // the SIGSTOP suppressed
    int n = 0, entries = 0, getppids = 0, signals = 0;
    int inside = 0;   // the next syscall stop is an exit
    while (1) {
        if (waitpid(child, &st, 0) != child) { say("waitpid failed\n"); return 1; }
        if (WIFEXITED(st)) { snprintf(line, sizeof line, "tracer: child exited %d\n", WEXITSTATUS(st)); say(line); break; }
        if (WIFSIGNALED(st)) { snprintf(line, sizeof line, "tracer: child killed %d\n", WTERMSIG(st)); say(line); break; }
        siginfo_t si;
        memset(&si, 0, sizeof si);
        long gs = ptrace(PTRACE_GETSIGINFO, child, NULL, &si);
        struct user_regs_struct r;
        ptrace(PTRACE_GETREGS, child, NULL, &r);
        int resume = 0;
        n++;
        if (WSTOPSIG(st) == (SIGTRAP | 0x80)) {
            int ok = gs == 0 && si.si_signo == SIGTRAP && si.si_code == (SIGTRAP | 0x80) && si.si_pid == child;
            if (!inside) {
                entries++;
                if (r.orig_rax == SYS_getppid) {
                    nap(ms);   // the child waits in its syscall-entry stop
                    if (++getppids % 3 == 0) { r.orig_rax = SYS_getpid; ptrace(PTRACE_SETREGS, child, NULL, &r); }
                }
                snprintf(line, sizeof line, "stop %d: entry %llu siginfo %s\n", n, r.orig_rax, ok ? "ok" : "wrong");
            } else {
                if (r.orig_rax == SYS_getppid || r.orig_rax == SYS_getpid) { r.rax = 1000 + getppids; ptrace(PTRACE_SETREGS, child, NULL, &r); }
                snprintf(line, sizeof line, "stop %d: exit %llu\n", n, r.orig_rax);
            }
            inside = !inside;
        } else {
            int sig = WSTOPSIG(st);
            int ok = gs == 0 && si.si_signo == sig && (sig != SIGUSR1 || (si.si_code == SI_USER && si.si_pid == child));
            if (sig == SIGUSR1) {
                signals++;
                if (!waits) nap(ms);   // the child waits in its signal-delivery-stop
                resume = signals % 2 ? SIGUSR1 : 0;
            } else resume = sig;
            snprintf(line, sizeof line, "stop %d: signal %d siginfo %s, %s\n", n, sig, ok ? "ok" : "wrong", resume ? "delivered" : "suppressed");
        }
        say(line);
        ptrace(request, child, NULL, (void *)(long)resume);
    }
    snprintf(line, sizeof line, "tracer: %d stops, %d entries, %d signals\n", n, entries, signals);
    say(line);
    return 0;
}
