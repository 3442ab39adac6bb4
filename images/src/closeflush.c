// What closing a descriptor does besides dropping it (filp_close): the
// process's POSIX record locks on the file go whichever of its descriptors
// closes, by close, dup2 onto it or exec's close-on-exec; and a queue's
// mq_notify registration goes when the registering process closes a
// descriptor of it, exec's close-on-exec included, but an exec that keeps
// the descriptor keeps the registration. Run in a writable directory;
// "mq" adds the queue half (needs /dev/mqueue). Compared with Linux's output.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

// Whether another process sees a write lock on `path` held by `owner`.
static const char *lock_state(const char *path, pid_t owner) {
    pid_t c = fork();
    if (c == 0) {
        int fd = open(path, O_RDWR);
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        if (fcntl(fd, F_GETLK, &fl) != 0) _exit(3);
        _exit(fl.l_type == F_UNLCK ? 0 : fl.l_pid == owner ? 1 : 2);
    }
    int st;
    waitpid(c, &st, 0);
    switch (WEXITSTATUS(st)) {
    case 0: return "unlocked";
    case 1: return "locked by us";
    case 2: return "locked by another";
    default: return "F_GETLK failed";
    }
}

static int locked_file(const char *path, int flags) {
    int fd = open(path, O_RDWR | O_CREAT | flags, 0600);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fcntl(fd, F_SETLK, &fl) != 0) perror("F_SETLK");
    return fd;
}

static void notify_pid(const char *label, const char *name) {
    char path[128], line[256] = {0};
    snprintf(path, sizeof path, "/dev/mqueue/%s", name + 1);
    int fd = open(path, O_RDONLY);
    read(fd, line, sizeof line - 1);
    close(fd);
    char *p = strstr(line, "NOTIFY_PID:");
    printf("%s queue registered by us: %s\n", label, p && atoi(p + 11) == getpid() ? "yes" : p && atoi(p + 11) == 0 ? "no one" : "another");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int mq = argc > 2 && strcmp(argv[2], "mq") == 0;
    char qkept[64], qgone[64];
    snprintf(qkept, sizeof qkept, "/closeflush-kept-%d", (int)getpid());
    snprintf(qgone, sizeof qgone, "/closeflush-gone-%d", (int)getpid());
    if (argc > 3 && strcmp(argv[3], "after-exec") == 0) {
        printf("after exec: close-on-exec file %s, kept file %s\n",
               lock_state("cloexec.lock", getpid()), lock_state("kept.lock", getpid()));
        if (mq) {
            snprintf(qkept, sizeof qkept, "/closeflush-kept-%s", argv[4]);
            snprintf(qgone, sizeof qgone, "/closeflush-gone-%s", argv[4]);
            notify_pid("the kept", qkept);
            notify_pid("the closed", qgone);
            mq_unlink(qkept);
            mq_unlink(qgone);
        }
        return 0;
    }
    if (chdir(argv[1]) != 0) { perror("chdir"); return 1; }

    int a = locked_file("close.lock", 0);
    int b = open("close.lock", O_RDWR);
    printf("two descriptors, one locked: %s\n", lock_state("close.lock", getpid()));
    close(b);
    printf("after closing the other one: %s\n", lock_state("close.lock", getpid()));
    close(a);

    int d = locked_file("dup.lock", 0);
    int other = open("/dev/null", O_RDONLY);
    printf("before dup2: %s\n", lock_state("dup.lock", getpid()));
    dup2(other, d);
    printf("after dup2 onto it: %s\n", lock_state("dup.lock", getpid()));

    locked_file("cloexec.lock", O_CLOEXEC);
    locked_file("kept.lock", 0);
    if (mq) {
        struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
        mqd_t k = mq_open(qkept, O_CREAT | O_RDWR, 0600, NULL);
        mqd_t g = mq_open(qgone, O_CREAT | O_RDWR, 0600, NULL);
        fcntl(k, F_SETFD, 0);   // mq_open's descriptors are close-on-exec; keep this one
        printf("mq_notify: %d %d\n", mq_notify(k, &ev), mq_notify(g, &ev));
    }
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    execl("/proc/self/exe", argv[0], argv[1], mq ? "mq" : "-", "after-exec", pid, (char *)NULL);
    perror("execl");
    return 1;
}
