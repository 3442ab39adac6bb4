// ITIMER_VIRTUAL and ITIMER_PROF: the process's CPU time, not the wall
// clock: a busy loop gets its signals, a sleep does not; intervals reload;
// getitimer reports what is left; bad arguments get EINVAL.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t prof, virt;
static void onProf(int s) { (void)s; prof++; }
static void onVirt(int s) { (void)s; virt++; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGPROF, onProf);
    signal(SIGVTALRM, onVirt);
    // The first expiry after 200 ms of CPU: a 300 ms sleep must not reach it (a
    // wall-clock timer would), whatever the sentry spent setting things up.
    struct itimerval it = {{0, 20000}, {0, 200000}}, cur;
    printf("setitimer PROF %d\n", setitimer(ITIMER_PROF, &it, NULL));
    getitimer(ITIMER_PROF, &cur);
    // Linux rounds the value to its tick: only that some is left is certain.
    printf("interval %ld us, value left: %d\n", (long)cur.it_interval.tv_usec, cur.it_value.tv_sec > 0 || cur.it_value.tv_usec > 0);
    // Sleeping uses no CPU: no SIGPROF.
    usleep(300 * 1000);
    printf("after sleeping: %d\n", prof);
    time_t start = time(NULL);
    while (prof < 3 && time(NULL) - start < 20) {}
    printf("after spinning: at least 3: %d\n", prof >= 3);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_PROF, &off, &cur);
    printf("old interval %ld us\n", (long)cur.it_interval.tv_usec);
    getitimer(ITIMER_PROF, &cur);
    printf("disarmed: %ld %ld\n", (long)cur.it_value.tv_sec, (long)cur.it_value.tv_usec);

    struct itimerval once = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_VIRTUAL, &once, NULL);
    start = time(NULL);
    while (virt < 1 && time(NULL) - start < 20) {}
    printf("VIRTUAL fired once: %d\n", virt);
    getitimer(ITIMER_VIRTUAL, &cur);
    printf("not reloaded: %ld %ld\n", (long)cur.it_value.tv_sec, (long)cur.it_value.tv_usec);
    int r = setitimer(3, &it, NULL);
    printf("setitimer(3): %d %s\n", r, strerror(errno));
    return 0;
}
