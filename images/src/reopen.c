/* Reopening files through their /proc/self/fd magic links never gives more
 * than was granted. Standard input must be a read-only description of a
 * file (the test gives a host file); each path argument names a file on a
 * read-only mount. Prints one line per attempt: the errno name or "ok". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *name(int e) {
    switch (e) {
    case 0: return "ok";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case EINVAL: return "EINVAL";
    case ENXIO: return "ENXIO";
    case EPERM: return "EPERM";
    case EBADF: return "EBADF";
    default: return strerror(e);
    }
}

static int try(const char *label, const char *path, int flags) {
    int fd = open(path, flags);
    int e = fd < 0 ? errno : 0;
    printf("%s: %s\n", label, name(e));
    if (fd >= 0 && (flags & O_ACCMODE) != O_RDONLY) {
        /* Granted write access by mistake: show that it reaches the file. */
        if (write(fd, "PWNED\n", 6) == 6) printf("%s: WROTE\n", label);
    }
    return fd;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("stdin flags: %s\n", (fcntl(0, F_GETFL) & O_ACCMODE) == O_RDONLY ? "O_RDONLY" : "writable");
    try("fd/0 O_RDWR", "/proc/self/fd/0", O_RDWR);
    try("fd/0 O_WRONLY", "/proc/self/fd/0", O_WRONLY);
    try("fd/0 O_WRONLY|O_APPEND", "/proc/self/fd/0", O_WRONLY | O_APPEND);
    try("fd/0 O_RDONLY|O_TRUNC", "/proc/self/fd/0", O_RDONLY | O_TRUNC);
    try("/dev/stdin O_WRONLY", "/dev/stdin", O_WRONLY);
    try("/dev/fd/0 O_RDWR|O_CREAT", "/dev/fd/0", O_RDWR | O_CREAT);
    char self[64];
    snprintf(self, sizeof self, "/proc/%d/fd/0", getpid());
    try("/proc/PID/fd/0 O_RDWR", self, O_RDWR);
    int fd = try("fd/0 O_RDONLY", "/proc/self/fd/0", O_RDONLY);
    if (fd >= 0) {
        char buf[64] = {0};
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        printf("fd/0 reads: %s", n > 0 ? buf : "(nothing)\n");
        close(fd);
    }
    for (int i = 1; i < argc; i++) {
        int ro = open(argv[i], O_RDONLY);
        if (ro < 0) { printf("%s: open %s\n", argv[i], name(errno)); continue; }
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", ro);
        printf("[read-only mount]\n");
        try("fd/N O_RDWR", link, O_RDWR);
        try("fd/N O_WRONLY|O_TRUNC", link, O_WRONLY | O_TRUNC);
        int again = try("fd/N O_RDONLY", link, O_RDONLY);
        if (again >= 0) close(again);
        close(ro);
    }
    return 0;
}
