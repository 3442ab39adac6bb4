// A signal handler interrupts a blocking read: EINTR without SA_RESTART,
// a restarted read with it.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t hits;
static void on_alarm(int s) { (void)s; hits++; }

int main(void) {
    int p[2];
    pipe(p);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { {0, 0}, {0, 50000} };
    setitimer(ITIMER_REAL, &it, NULL);
    char c;
    ssize_t r = read(p[0], &c, 1);
    printf("no SA_RESTART: read=%zd errno=%s hits=%d\n", r, strerror(errno), hits);

    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    if (fork() == 0) { usleep(200000); write(p[1], "x", 1); _exit(0); }
    setitimer(ITIMER_REAL, &it, NULL);
    r = read(p[0], &c, 1);
    printf("SA_RESTART: read=%zd c=%c hits=%d\n", r, c, hits);
    return 0;
}
