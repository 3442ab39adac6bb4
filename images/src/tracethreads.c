// A second thread reads a file and writes a line while main waits for it:
// each task's own syscalls are the same on every run (the tracer tests
// compare them with strace -f's, futex waits aside).
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

static void *reader(void *arg) {
    char buf[64];
    int fd = open("/etc/hostname", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
    if (fd >= 0) close(fd);
    const char *msg = n > 0 ? "thread read the hostname\n" : "thread could not read\n";
    write(1, msg, strlen(msg));
    return arg;
}

int main(void) {
    pthread_t t;
    write(1, "main starts a thread\n", 21);
    if (pthread_create(&t, NULL, reader, NULL) != 0) return 1;
    pthread_join(t, NULL);
    write(1, "main joined it\n", 15);
    return 0;
}
