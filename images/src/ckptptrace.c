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
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
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

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: ckptptrace STEPS SLEEP_MS syscall|signal|wait\n"); return 2; }
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
