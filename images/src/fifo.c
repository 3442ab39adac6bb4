// FIFOs (fs/pipe.c fifo_open): a blocking open waits for the other side,
// O_WRONLY|O_NONBLOCK without a reader is ENXIO, O_RDONLY|O_NONBLOCK opens
// at once and reports no POLLHUP until a writer has come and gone, O_RDWR
// never waits, a signal interrupts a waiting open (EINTR, or a restart with
// SA_RESTART), and the buffer goes with the last open end. Run in a
// writable directory; compared with Linux's output.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void check(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
    else printf("%s: ok\n", what);
}

static void on_alarm(int sig) { (void)sig; }

static void show_poll(const char *what, struct pollfd *p) {
    p->revents = 0;
    int n = poll(p, 1, 0);
    printf("%s: %d revents %#x\n", what, n, p->revents);
}

// A child that opens the FIFO after `delay_ms` with `flags`, writes `msg` if
// it opened for writing, and exits.
static pid_t partner(const char *path, int flags, int delay_ms, const char *msg) {
    pid_t pid = fork();
    if (pid == 0) {
        usleep(delay_ms * 1000);
        int fd = open(path, flags);
        if (fd < 0) _exit(1);
        if (msg) write(fd, msg, strlen(msg));
        close(fd);
        _exit(0);
    }
    return pid;
}

static int reap(pid_t pid) {
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// A read whose buffer another thread unmaps while the read waits: EFAULT
// once the bytes come (pipe_read faults before it consumes), and the bytes
// stay for the next read.
static void *unmap_then_write(void *arg) {
    void **a = arg;
    usleep(200 * 1000);
    munmap(a[0], 4096);
    write((int)(long)a[1], "kept", 4);
    return NULL;
}

static void unmapped_while_waiting(const char *f) {
    int r = open(f, O_RDWR);
    int w = open(f, O_WRONLY);
    char *buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *args[2] = {buf, (void *)(long)w};
    pthread_t th;
    pthread_create(&th, NULL, unmap_then_write, args);
    ssize_t n = read(r, buf, 4096);
    if (n < 0) printf("read into a buffer unmapped meanwhile: -1 %s\n", strerror(errno));
    else printf("read into a buffer unmapped meanwhile: %zd\n", n);
    pthread_join(th, NULL);
    char good[16] = {0};
    fcntl(r, F_SETFL, O_NONBLOCK);
    n = read(r, good, sizeof good - 1);
    if (n < 0) printf("then: -1 %s\n", strerror(errno));
    else printf("then: %zd \"%s\"\n", n, good);
    close(w);
    close(r);
}

int main(int argc, char **argv) {
    if (argc > 1 && chdir(argv[1]) != 0) { perror("chdir"); return 1; }
    setvbuf(stdout, NULL, _IONBF, 0);   // children print too
    const char *f = "fifo.test";
    unlink(f);
    check("mkfifo", mkfifo(f, 0600));
    check("O_WRONLY|O_NONBLOCK, no reader", open(f, O_WRONLY | O_NONBLOCK));

    int r = open(f, O_RDONLY | O_NONBLOCK);
    check("O_RDONLY|O_NONBLOCK, no writer", r);
    struct pollfd p = { .fd = r, .events = POLLIN };
    show_poll("poll before any writer", &p);
    char buf[64] = {0};
    printf("read with no writer: %zd\n", read(r, buf, sizeof buf));
    int w = open(f, O_WRONLY | O_NONBLOCK);
    check("O_WRONLY|O_NONBLOCK, a reader", w);
    write(w, "abc", 3);
    close(w);
    show_poll("poll after a writer came and went", &p);
    memset(buf, 0, sizeof buf);
    printf("read: %zd \"%s\"\n", read(r, buf, sizeof buf - 1), buf);
    close(r);

    // A blocking reader waits for the writer the child opens later.
    pid_t c = partner(f, O_WRONLY, 100, "from the child");
    r = open(f, O_RDONLY);
    check("blocking O_RDONLY", r);
    memset(buf, 0, sizeof buf);
    ssize_t n, got = 0;
    while ((n = read(r, buf + got, sizeof buf - 1 - got)) > 0) got += n;
    printf("read until EOF: \"%s\"\n", buf);
    close(r);
    printf("writer child: %d\n", reap(c));

    // A blocking writer waits for the reader.
    c = fork();
    if (c == 0) {
        usleep(100 * 1000);
        int fd = open(f, O_RDONLY);
        char b[64] = {0};
        ssize_t k = read(fd, b, sizeof b - 1);
        printf("child read %zd \"%s\"\n", k, b);
        _exit(0);
    }
    w = open(f, O_WRONLY);
    check("blocking O_WRONLY", w);
    write(w, "to the child", 12);
    close(w);
    printf("reader child: %d\n", reap(c));

    // A signal interrupts a waiting open: EINTR without SA_RESTART.
    struct sigaction sa = { .sa_handler = on_alarm };
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    check("blocking O_RDONLY, SIGALRM without SA_RESTART", open(f, O_RDONLY));
    // With SA_RESTART the open goes on, and returns once a writer comes.
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    c = partner(f, O_WRONLY, 1500, "late");
    alarm(1);
    r = open(f, O_RDONLY);
    check("blocking O_RDONLY, SIGALRM with SA_RESTART", r);
    memset(buf, 0, sizeof buf);
    read(r, buf, sizeof buf - 1);
    printf("got \"%s\"\n", buf);
    close(r);
    reap(c);

    // O_RDWR never waits; the buffer goes with the last end.
    int rw = open(f, O_RDWR);
    check("O_RDWR", rw);
    write(rw, "xyz", 3);
    int avail = -1;
    ioctl(rw, FIONREAD, &avail);
    printf("FIONREAD: %d\n", avail);
    p = (struct pollfd){ .fd = rw, .events = POLLIN | POLLOUT };
    show_poll("poll O_RDWR", &p);
    close(rw);
    rw = open(f, O_RDWR);
    avail = -1;
    ioctl(rw, FIONREAD, &avail);
    printf("FIONREAD after every end closed: %d\n", avail);
    close(rw);
    unmapped_while_waiting(f);
    unlink(f);
    return 0;
}
