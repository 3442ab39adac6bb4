#define _GNU_SOURCE   // REG_RAX
// The floor for systrap: an in-process SIGSYS round trip. getppid is
// trapped by Syscall User Dispatch (or, with "seccomp", by a seccomp
// SECCOMP_RET_TRAP filter) in this very process; the handler answers it
// and returns. Prints the mean ns per call.
//   sigsys sud|seccomp N
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static volatile char selector;   // 0 allow, 1 block

static void on_sigsys(int s, siginfo_t *si, void *p) {
    (void)s; (void)si;
    ucontext_t *uc = p;
    uc->uc_mcontext.gregs[REG_RAX] = 1;   // the answer
    selector = 0;                         // let the return path's rt_sigreturn through
}

static long now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: sigsys sud|seccomp N\n"); return 2; }
    int n = atoi(argv[2]), sud = strcmp(argv[1], "sud") == 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, NULL);
    if (sud) {
        if (prctl(59 /* PR_SET_SYSCALL_USER_DISPATCH */, 1, 0, 0, &selector)) { perror("SUD"); return 1; }
    } else {
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { 4, f };
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) { perror("seccomp"); return 1; }
    }
    long start = now();
    for (int i = 0; i < n; i++) {
        selector = 1;
        syscall(SYS_getppid);
    }
    long el = now() - start;
    selector = 0;
    printf("%ld\n", el / n);
    return 0;
}
