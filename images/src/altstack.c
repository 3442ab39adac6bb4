// Unbounded recursion overflows the stack; a SIGSEGV handler running on
// an alternate signal stack reports it and exits cleanly.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char stack[65536];
static void on_segv(int s, siginfo_t *si, void *uc) {
    (void)uc;
    stack_t ss;
    sigaltstack(NULL, &ss);
    char msg[96];
    int n = snprintf(msg, sizeof msg, "caught %s on the alternate stack: %s\n",
                     s == SIGSEGV ? "SIGSEGV" : "?", (ss.ss_flags & SS_ONSTACK) ? "yes" : "no");
    write(1, msg, n);
    (void)si;
    _exit(0);
}
static int depth(int n) { volatile char pad[1024]; pad[0] = (char)n; return n + depth(n + 1) + pad[0]; }

int main(void) {
    stack_t ss = { .ss_sp = stack, .ss_size = sizeof stack, .ss_flags = 0 };
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    return depth(0);
}
