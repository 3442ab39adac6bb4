// Job control at a terminal (tty_jobctrl.c's __tty_check_change): on a pty
// that a session leader made its controlling terminal, a process of a
// background group that reads it is stopped by SIGTTIN, or gets EIO if it
// ignores or blocks SIGTTIN or its group is orphaned; a write is stopped by
// SIGTTOU only under TOSTOP, and a settings change always, unless SIGTTOU
// is ignored; a group orphaned while a member is stopped is hung up and
// continued. Compared with Linux's output.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int slave;
static volatile sig_atomic_t hung_up;
static void on_hup(int sig) { (void)sig; hung_up = 1; }

static void report(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
    else printf("%s: %ld\n", what, r);
}

enum act { READ, WRITE, SETATTR };

// A child in a group of its own does `act` at the terminal; its fate is printed.
static void background(const char *what, enum act act, int ignore, int block) {
    pid_t c = fork();
    if (c == 0) {
        setpgid(0, 0);
        int sig = act == READ ? SIGTTIN : SIGTTOU;
        if (ignore) signal(sig, SIG_IGN);
        if (block) { sigset_t s; sigemptyset(&s); sigaddset(&s, sig); sigprocmask(SIG_BLOCK, &s, NULL); }
        char b[8];
        struct termios t;
        tcgetattr(slave, &t);
        long r = act == READ ? read(slave, b, sizeof b) : act == WRITE ? write(slave, "x", 1) : tcsetattr(slave, TCSANOW, &t);
        report(what, r);
        _exit(0);
    }
    int st;
    waitpid(c, &st, WUNTRACED);
    if (WIFSTOPPED(st)) {
        printf("%s: stopped by %s\n", what, strsignal(WSTOPSIG(st)));
        kill(c, SIGKILL);
        waitpid(c, &st, 0);
    }
}

// The session leader: the pty is its controlling terminal, its group the foreground.
static void leader(const char *name) {
    setsid();
    slave = open(name, O_RDWR);
    if (slave < 0) { perror("open slave"); _exit(1); }
    printf("foreground is ours: %d\n", tcgetpgrp(slave) == getpgrp());
    background("background read", READ, 0, 0);
    background("background read, SIGTTIN ignored", READ, 1, 0);
    background("background read, SIGTTIN blocked", READ, 0, 1);
    background("background write", WRITE, 0, 0);
    background("background tcsetattr", SETATTR, 0, 0);
    background("background tcsetattr, SIGTTOU ignored", SETATTR, 1, 0);
    struct termios t;
    tcgetattr(slave, &t);
    t.c_lflag |= TOSTOP;
    report("TOSTOP set by the foreground", tcsetattr(slave, TCSANOW, &t));
    background("background write under TOSTOP", WRITE, 0, 0);
    background("background write under TOSTOP, SIGTTOU ignored", WRITE, 1, 0);

    // An orphaned group: its only member's parent has gone. The leader
    // waits for its report: once the leader exits, the terminal is no
    // session's and a read would just wait for input.
    // The orphan reads only once its parent is reaped: while the parent
    // is still exiting it counts, the group is not orphaned yet, and the
    // read would stop the orphan (which its parent's exit then hangs up).
    int done[2], go[2];
    pipe(done);
    pipe(go);
    pid_t mid = fork();
    if (mid == 0) {
        setpgid(0, 0);
        pid_t inner = fork();
        if (inner == 0) {
            char b[8];
            close(go[1]);
            read(go[0], b, 1);
            report("read from an orphaned background group", read(slave, b, sizeof b));
            write(done[1], "", 1);
            _exit(0);
        }
        _exit(0);
    }
    close(done[1]);
    close(go[0]);
    waitpid(mid, NULL, 0);
    write(go[1], "", 1);
    char b;
    read(done[0], &b, 1);

    // A group orphaned while a member is stopped is hung up and continued
    // (kill_orphaned_pgrp): the stopped member's parent exits.
    pipe(done);
    mid = fork();
    if (mid == 0) {
        setpgid(0, 0);
        pid_t inner = fork();
        if (inner == 0) {
            signal(SIGHUP, on_hup);
            raise(SIGSTOP);
            printf("the stopped orphan: %s\n", hung_up ? "hung up and continued" : "continued");
            write(done[1], "", 1);
            _exit(0);
        }
        int st;
        waitpid(inner, &st, WUNTRACED);
        printf("orphan-to-be stopped: %d\n", WIFSTOPPED(st));
        _exit(0);
    }
    close(done[1]);
    waitpid(mid, NULL, 0);
    read(done[0], &b, 1);
    _exit(0);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) || unlockpt(m)) { perror("pty"); return 1; }
    char name[64];
    snprintf(name, sizeof name, "%s", ptsname(m));
    pid_t l = fork();
    if (l == 0) leader(name);
    int st;
    waitpid(l, &st, 0);
    printf("leader: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}
