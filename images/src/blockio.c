// Block I/O accounting (task_io_accounting: ru_inblock/ru_oublock and
// /proc/PID/io's read_bytes/write_bytes): pages a write dirties count as
// written once each, a read that reaches the disk counts what it read,
// tmpfs counts nothing, a reaped child's count goes to its parent's
// RUSAGE_CHILDREN and /proc/PID/io. argv[1]: a directory on a disk;
// argv[2]: a tmpfs directory; argv[3]: a file on the disk whose pages
// are not in the page cache (the caller dropped them), read whole.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static long io(const char *path, const char *key) {
    char buf[512];
    int fd = open(path, O_RDONLY);
    long n = fd < 0 ? 0 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    buf[n > 0 ? n : 0] = 0;
    char *p = strstr(buf, key);
    return p ? atol(p + strlen(key) + 2) : -1;
}

static void writeFile(const char *dir, const char *name, int kib) {
    char path[4096], chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    for (int done = 0; done < kib; done += 64) write(fd, chunk, sizeof chunk);
    fsync(fd);
    close(fd);
}

static void show(const char *what) {
    struct rusage self, thread, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_THREAD, &thread);
    getrusage(RUSAGE_CHILDREN, &children);
    printf("%s: self in %ld out %ld, thread in %ld out %ld, children in %ld out %ld; "
           "io read_bytes %ld write_bytes %ld, thread-self read_bytes %ld write_bytes %ld\n", what,
           self.ru_inblock, self.ru_oublock, thread.ru_inblock, thread.ru_oublock, children.ru_inblock, children.ru_oublock,
           io("/proc/self/io", "read_bytes"), io("/proc/self/io", "write_bytes"),
           io("/proc/thread-self/io", "read_bytes"), io("/proc/thread-self/io", "write_bytes"));
}

int main(int argc, char **argv) {
    if (argc < 4) return 1;
    show("start");
    writeFile(argv[2], "tmpfs-file", 512);
    show("512 KiB to tmpfs");
    writeFile(argv[1], "disk-file", 1024);
    show("1 MiB to disk");
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) { writeFile(argv[1], "child-file", 256); _exit(0); }
    int st;
    struct rusage ru;
    wait4(p, &st, 0, &ru);
    printf("child: in %ld out %ld\n", ru.ru_inblock, ru.ru_oublock);
    show("after the child");
    int fd = open(argv[3], O_RDONLY);
    char buf[65536];
    long total = 0, n;
    while ((n = read(fd, buf, sizeof buf)) > 0) total += n;
    close(fd);
    printf("read %ld bytes\n", total);
    show("after the read");
    return 0;
}
