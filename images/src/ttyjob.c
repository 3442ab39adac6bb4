// Job control at the controlling terminal the program was started on
// (stdin must be it; under the sandbox, the sentry's own host terminal):
// a background process group's read is stopped by SIGTTIN, and is EIO
// where SIGTTIN is ignored. The work is
// done in a child: a group whose only outside parent is init is orphaned
// (in the sandbox this program is init), and an orphaned group gets EIO.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int work(void) {
    pid_t c = fork();
    if (c == 0) {
        setpgid(0, 0);
        char b;
        read(0, &b, 1);
        _exit(3);
    }
    setpgid(c, c);
    int st;
    waitpid(c, &st, WUNTRACED);
    if (WIFSTOPPED(st)) printf("background read: stopped by %s\n", sigabbrev_np(WSTOPSIG(st)));
    else printf("background read: status %#x\n", st);
    kill(c, SIGKILL);
    waitpid(c, &st, 0);
    fflush(stdout);
    c = fork();
    if (c == 0) {
        setpgid(0, 0);
        signal(SIGTTIN, SIG_IGN);
        char b;
        ssize_t r = read(0, &b, 1);
        printf("background read ignoring SIGTTIN: %zd %s\n", r, r < 0 ? strerrorname_np(errno) : "");
        fflush(stdout);
        _exit(0);
    }
    setpgid(c, c);
    waitpid(c, &st, 0);
    return 0;
}

int main(void) {
    if (!isatty(0)) { printf("stdin is not a terminal\n"); return 1; }
    fflush(stdout);
    pid_t w = fork();
    if (w == 0) _exit(work());
    int st;
    waitpid(w, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
