// Process turnover: bursts of children forked faster than a sentry's stub
// pool refills, a fork-exit-wait loop, forks from children, and the copy a
// fork makes of sparse private memory (pages here and there of a larger
// mapping: the child gets exactly those bytes and zeros elsewhere, and
// neither side sees the other's later writes). Prints what it checked.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define SPARSE_PAGES 256   // 1 MiB, of which a few pages are touched

static const int touched[] = {0, 5, 17, 100, 254, 255};
#define NTOUCHED (int)(sizeof touched / sizeof touched[0])

static int counter = 7;   // .data: copied at fork, private afterwards

static int sparse_ok(unsigned char *m, unsigned char tag) {
    for (int p = 0; p < SPARSE_PAGES; p++) {
        int want_touched = 0;
        for (int i = 0; i < NTOUCHED; i++) if (touched[i] == p) want_touched = 1;
        for (int off = 0; off < PAGE; off += 512) {
            unsigned char want = want_touched ? (unsigned char)(tag + p + off / 512) : 0;
            if (m[p * PAGE + off] != want) return 0;
        }
    }
    return 1;
}

static void sparse_fill(unsigned char *m, unsigned char tag) {
    for (int i = 0; i < NTOUCHED; i++)
        for (int off = 0; off < PAGE; off += 512) m[touched[i] * PAGE + off] = (unsigned char)(tag + touched[i] + off / 512);
}

int main(void) {
    // A burst: 40 children alive at once, each exiting with its index.
    pid_t kids[40];
    for (int i = 0; i < 40; i++) {
        kids[i] = fork();
        if (kids[i] < 0) { perror("fork"); return 1; }
        if (kids[i] == 0) { counter += i; _exit(counter - 7 == i ? i : 200); }
    }
    int sum = 0, st;
    for (int i = 39; i >= 0; i--) {   // reaped in the other order
        if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st)) { printf("burst: child %d lost\n", i); return 1; }
        sum += WEXITSTATUS(st);
    }
    printf("burst of 40: exit codes sum to %d, parent's counter %d\n", sum, counter);

    // Fork, exit, wait, 300 times in a row.
    int bad = 0;
    for (int i = 0; i < 300; i++) {
        pid_t p = fork();
        if (p == 0) _exit(i & 0x7f);
        if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != (i & 0x7f)) bad++;
    }
    printf("300 fork+exit+wait: %d wrong statuses\n", bad);

    // Children that fork grandchildren, two levels, all at once.
    for (int i = 0; i < 8; i++) {
        if (fork() == 0) {
            pid_t g[4];
            for (int j = 0; j < 4; j++) if ((g[j] = fork()) == 0) _exit(j + 1);
            int s = 0;
            for (int j = 0; j < 4; j++) { waitpid(g[j], &st, 0); s += WEXITSTATUS(st); }
            _exit(s);
        }
    }
    sum = 0;
    while (wait(&st) > 0) sum += WEXITSTATUS(st);
    printf("8 children of 4 grandchildren each: statuses sum to %d\n", sum);

    // Sparse private memory across fork.
    unsigned char *m = mmap(NULL, SPARSE_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) { perror("mmap"); return 1; }
    sparse_fill(m, 1);
    int fd[2];
    if (pipe(fd) != 0) { perror("pipe"); return 1; }
    pid_t p = fork();
    if (p == 0) {
        char ok = sparse_ok(m, 1) ? 'y' : 'n';
        sparse_fill(m, 50);
        ok = ok == 'y' && sparse_ok(m, 50) ? 'y' : 'n';
        write(fd[1], &ok, 1);
        _exit(0);
    }
    char child_ok = '?';
    read(fd[0], &child_ok, 1);
    waitpid(p, &st, 0);
    printf("sparse mapping: child saw the parent's pages %s, parent's still its own %s\n",
           child_ok == 'y' ? "yes" : "no", sparse_ok(m, 1) ? "yes" : "no");
    sparse_fill(m, 90);   // the parent writes after the child has gone
    printf("sparse mapping: parent's own writes after the child %s\n", sparse_ok(m, 90) ? "yes" : "no");

    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    printf("children's max RSS reported: %s\n", ru.ru_maxrss > 0 ? "yes" : "no");
    return 0;
}
