// Nothing of one child's mappings reaches the next child. The sandbox runs
// each process's code in a host process it recycles after an exit, and a
// new one keeps those of the last one's host mappings that it asks for
// itself; what it does not ask for must be gone, and what it asks for must
// hold its own memory, not the last child's. Each child:
//   - probes where the last child mapped memory of its own: must fault;
//   - maps that place itself: must read zeros;
//   - reads the parent's page, which the last child wrote (its own copy):
//     must read the parent's bytes;
//   - reads the parent's second page, which the last child made
//     inaccessible: must read the parent's bytes;
// then does what the next child checks. Prints what it checked.
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 60
#define OWN ((void *)0x3000000000)   // a child's own mapping, never the parent's
#define OWN_LEN (64 << 10)

static sigjmp_buf probe_env;
static void on_segv(int sig) { (void)sig; siglongjmp(probe_env, 1); }

// 1 if reading p faults.
static int faults(volatile unsigned char *p) {
    if (sigsetjmp(probe_env, 1)) return 1;
    (void)*p;
    return 0;
}

static int child(unsigned char *shared) {
    struct sigaction sa = { .sa_handler = on_segv };
    sigaction(SIGSEGV, &sa, NULL);
    if (!faults(OWN)) return 10;
    unsigned char *own = mmap(OWN, OWN_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (own != OWN) return 11;
    for (int i = 0; i < OWN_LEN; i++) if (own[i]) return 12;
    if (shared[0] != 'P' || shared[4096] != 'Q') return 13;
    // For the next child: its own memory written, the parent's page
    // written (a copy of its own), the parent's second page closed.
    memset(own, 0x5a, OWN_LEN);
    shared[0] = 'C';
    if (mprotect(shared + 4096, 4096, PROT_NONE) != 0) return 14;
    return 0;
}

int main(void) {
    unsigned char *shared = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) { perror("mmap"); return 1; }
    shared[0] = 'P';
    shared[4096] = 'Q';
    int ok = 0;
    for (int i = 0; i < CHILDREN; i++) {
        pid_t p = fork();
        if (p < 0) { perror("fork"); return 1; }
        if (p == 0) _exit(child(shared));
        int st;
        if (waitpid(p, &st, 0) != p) { perror("waitpid"); return 1; }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            printf("child %d: %s %d\n", i, WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            return 1;
        }
        ok++;
    }
    printf("%d children: none saw the last one's mappings\n", ok);
    return 0;
}
