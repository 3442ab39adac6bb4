// Every new process starts clean, whatever ran before it: its CPU clock
// starts near zero, and nothing an exited sibling mapped is reachable.
// (The sentry reuses the host stubs of exited processes.)
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET_AT ((void *)0x200000000000)

static long cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static sigjmp_buf env;
static void on_segv(int sig) { (void)sig; siglongjmp(env, 1); }

int main(void) {
    for (int round = 0; round < 3; round++) {
        pid_t p = fork();
        if (p == 0) {
            long start = cpu_ns();
            signal(SIGSEGV, on_segv);
            int reachable = 0;
            if (sigsetjmp(env, 1) == 0) { reachable = *(volatile char *)SECRET_AT == 's'; }
            // Leave a secret and burn 200 ms of CPU for the next one to see
            // (a new process starts well under 100 ms, even emulated).
            char *m = mmap(SECRET_AT, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
            if (m != MAP_FAILED) strcpy(m, "secret");
            while (cpu_ns() - start < 200000000) {}
            printf("round %d: cpu clock started under 100 ms: %s; earlier secret reachable: %s\n",
                   round, start < 100000000 ? "yes" : "no", reachable ? "yes" : "no");
            fflush(stdout);
            _exit(0);
        }
        waitpid(p, NULL, 0);
    }
    return 0;
}
