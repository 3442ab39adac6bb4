// A tmpfs file shared three ways: MAP_SHARED in two processes and read/write
// through fds; then record locks and flock between parent and child.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    // Its own name: native runs of this test for several platforms share the host's /dev/shm.
    char path[64];
    snprintf(path, sizeof path, "/dev/shm/sentry-shm-test-%d", (int)getpid());
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) { perror("open"); return 1; }
    ftruncate(fd, 8192);
    char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) { perror("mmap"); return 1; }
    pid_t c = fork();
    if (c == 0) { strcpy(m, "written by the child through its mapping"); _exit(0); }
    waitpid(c, NULL, 0);
    char buf[64] = {0};
    pread(fd, buf, sizeof buf - 1, 0);
    printf("read() sees: %s\n", buf);
    pwrite(fd, "via pwrite", 10, 4096);
    printf("mapping sees: %.10s\n", m + 4096);
    struct stat st; fstat(fd, &st);
    printf("size %lld\n", (long long)st.st_size);

    // fcntl locks: the child finds the parent's write lock and waits for it.
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
    fcntl(fd, F_SETLK, &fl);
    fflush(stdout);
    c = fork();
    if (c == 0) {
        int fd2 = open(path, O_RDWR);
        struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 10 };
        fcntl(fd2, F_GETLK, &q);
        printf("child F_GETLK: type %s start %lld len %lld pid-is-parent %d\n", q.l_type == F_WRLCK ? "F_WRLCK" : "other",
               (long long)q.l_start, (long long)q.l_len, q.l_pid == getppid());
        q.l_type = F_WRLCK;
        printf("child F_SETLK: %s\n", fcntl(fd2, F_SETLK, &q) < 0 ? "busy" : "got it");
        q.l_start = 200;
        printf("child F_SETLK elsewhere: %s\n", fcntl(fd2, F_SETLK, &q) < 0 ? "busy" : "got it");
        q.l_start = 50;
        fcntl(fd2, F_SETLKW, &q);   // blocks until the parent unlocks
        printf("child F_SETLKW: got it\n");
        fflush(stdout);
        _exit(0);
    }
    usleep(200000);
    fl.l_type = F_UNLCK;
    fcntl(fd, F_SETLK, &fl);
    waitpid(c, NULL, 0);

    // flock: exclusive in one description blocks another, LOCK_NB says so.
    int a = open(path, O_RDONLY), b = open(path, O_RDONLY);
    printf("flock a EX: %d\n", flock(a, LOCK_EX));
    printf("flock b EX|NB: %s\n", flock(b, LOCK_EX | LOCK_NB) < 0 ? "EWOULDBLOCK" : "got it");
    flock(a, LOCK_UN);
    printf("flock b after unlock: %d\n", flock(b, LOCK_EX | LOCK_NB));
    munmap(m, 8192);
    unlink(path);
    return 0;
}
