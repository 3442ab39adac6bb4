// The FPU and SSE state a new task starts with: its parent's, as Linux's
// fpu_clone copies it for fork, vfork and threads (the SSE rounding mode
// in MXCSR, the x87 precision and rounding in its control word, an SSE
// register's value), also when a signal reaches the child before it has
// run at all (its handler's frame holds the inherited state, the handler
// itself starts from the initial state as every handler does, and
// sigreturn brings the inherited one back); exec starts from the initial state.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

// MXCSR's rounding control (bits 13-14), read and set directly.
static unsigned mxcsr(void) { unsigned m; __asm__ volatile("stmxcsr %0" : "=m"(m)); return m; }
static void set_mxcsr(unsigned m) { __asm__ volatile("ldmxcsr %0" : : "m"(m)); }
enum { NEAREST = 0, DOWN = 1, UP = 2, ZERO = 3 };
static void set_rounding(unsigned r) { set_mxcsr((mxcsr() & ~0x6000u) | r << 13); }
static const char *rounding(void) {
    static const char *names[] = { "to nearest", "downward", "upward", "toward zero" };
    return names[(mxcsr() >> 13) & 3];
}

static unsigned short fcw(void) { unsigned short w; __asm__ volatile("fnstcw %0" : "=m"(w)); return w; }
static void set_fcw(unsigned short w) { __asm__ volatile("fldcw %0" : : "m"(w)); }

static volatile sig_atomic_t handled;
static char seen[64];
static void on_usr1(int sig) {
    (void)sig;
    snprintf(seen, sizeof seen, "%s, fcw %#x", rounding(), fcw());
    set_rounding(NEAREST);   // undone by sigreturn
    handled = 1;
}

static void *thread(void *a) {
    (void)a;
    printf("thread: %s, fcw %#x\n", rounding(), fcw());
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1) { printf("after exec: %s, fcw %#x\n", rounding(), fcw()); return 0; }
    set_rounding(UP);
    set_fcw((fcw() & ~0x300) | 0x200);   // double precision
    fflush(stdout);

    pid_t p = fork();
    if (p == 0) { printf("fork child: %s, fcw %#x\n", rounding(), fcw()); fflush(stdout); _exit(0); }
    waitpid(p, NULL, 0);

    p = vfork();
    if (p == 0) { char b[64]; int n = snprintf(b, sizeof b, "vfork child: %s\n", rounding()); write(1, b, n); _exit(0); }
    waitpid(p, NULL, 0);

    pthread_t t;
    pthread_create(&t, NULL, thread, NULL);
    pthread_join(t, NULL);
    fflush(stdout);   // no buffered line for the children below to write again

    // A child signalled at once: often before its first instruction.
    struct sigaction sa = { .sa_handler = on_usr1 };
    sigaction(SIGUSR1, &sa, NULL);
    for (int i = 0; i < 20; i++) {
        p = fork();
        if (p == 0) {
            while (!handled) sched_yield();   // no pause(): a handler run between the test and the call would leave it asleep
            // The handler starts from the initial state (fpu__clear_user_states); sigreturn brings the inherited one back.
            if (strcmp(seen, "to nearest, fcw 0x37f") != 0 || strcmp(rounding(), "upward") != 0) {
                printf("signalled child %d: handler saw %s, then %s\n", i, seen, rounding());
            }
            fflush(stdout);
            _exit(0);
        }
        kill(p, SIGUSR1);
        int st;
        waitpid(p, &st, 0);
        if (!WIFEXITED(st)) printf("signalled child %d: ended by signal %d\n", i, WTERMSIG(st));
    }
    printf("20 signalled children checked\n");
    handled = 0;
    raise(SIGUSR1);
    printf("the parent's own handler saw %s; after it, %s\n", seen, rounding());
    fflush(stdout);

    p = fork();
    if (p == 0) { execl("/proc/self/exe", argv[0], "exec", (char *)NULL); _exit(127); }
    waitpid(p, NULL, 0);
    printf("parent: %s, fcw %#x\n", rounding(), fcw());
    return 0;
}
