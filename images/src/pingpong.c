// Parent and child bounce a counter through two pipes.
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int a[2], b[2];
    pipe(a); pipe(b);
    int rounds = 1000;
    pid_t pid = fork();
    if (pid == 0) {
        close(a[1]); close(b[0]);
        int v;
        while (read(a[0], &v, sizeof v) == sizeof v) { v++; write(b[1], &v, sizeof v); }
        _exit(0);
    }
    close(a[0]); close(b[1]);
    int v = 0;
    for (int i = 0; i < rounds; i++) { write(a[1], &v, sizeof v); read(b[0], &v, sizeof v); }
    close(a[1]);
    int st;
    waitpid(pid, &st, 0);
    printf("value=%d child=%d\n", v, WEXITSTATUS(st));
    return v == rounds ? 0 : 1;
}
