// A bounded fork tree, an exec chain, and zombies reaped in any order.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int tree(int depth) {
    if (depth == 0) return 1;
    int total = 1;
    for (int i = 0; i < 2; i++) {
        pid_t p = fork();
        if (p == 0) _exit(tree(depth - 1));
        int st;
        waitpid(p, &st, 0);
        total += WEXITSTATUS(st);
    }
    return total;
}

int main(int argc, char **argv) {
    if (argc > 1) {   // exec chain: count down through execve
        int n = atoi(argv[1]);
        if (n == 0) { printf("exec chain done\n"); return 0; }
        char next[16];
        snprintf(next, sizeof next, "%d", n - 1);
        execl("/proc/self/exe", argv[0], next, (char *)NULL);
        perror("execl");
        return 127;
    }
    printf("processes in tree: %d\n", tree(5));
    // Zombies: ten children exit at once; reap them all with wait().
    for (int i = 0; i < 10; i++) if (fork() == 0) _exit(i);
    int sum = 0, st;
    pid_t p;
    while ((p = wait(&st)) > 0) sum += WEXITSTATUS(st);
    printf("reaped exit codes sum to %d\n", sum);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) { execl("/proc/self/exe", argv[0], "5", (char *)NULL); _exit(127); }
    waitpid(c, &st, 0);
    return WEXITSTATUS(st);
}
