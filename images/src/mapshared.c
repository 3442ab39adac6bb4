// MAP_SHARED mappings of a file in a writable host directory: two separate
// mmaps (in two processes) see each other's stores; msync and munmap put
// changed pages in the file; a page nobody stored to never overwrites what
// was written to the file meanwhile; msync's argument checks.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static char byteAt(int fd, off_t at) {
    char c = '?';
    if (pread(fd, &c, 1, at) != 1) return '!';
    return c;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "mapshared.dat";
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror("open"); return 1; }
    char page[4096];
    memset(page, 'a', sizeof page);
    for (int i = 0; i < 3; i++) if (write(fd, page, sizeof page) != sizeof page) { perror("write"); return 1; }

    char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) { perror("mmap"); return 1; }
    pid_t child = fork();
    if (child == 0) {
        int cfd = open(path, O_RDWR);
        char *c = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
        if (c == MAP_FAILED) _exit(2);
        c[100] = 'X';
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    printf("child exited %d; parent's mapping sees '%c' at 100\n", WEXITSTATUS(status), m[100]);
    printf("after the child's munmap the file has '%c' at 100\n", byteAt(fd, 100));

    m[4096 + 5] = 'Y';
    printf("msync(MS_SYNC) = %d\n", msync(m, 3 * 4096, MS_SYNC));
    printf("after msync the file has '%c' at 4101\n", byteAt(fd, 4101));

    // Page 3 is not stored to through the mapping: a write to the file must survive munmap.
    if (pwrite(fd, "Z", 1, 8192 + 7) != 1) perror("pwrite");
    m[10] = 'W';
    printf("munmap = %d\n", munmap(m, 3 * 4096));
    printf("after munmap the file has '%c' at 10, '%c' at 8199\n", byteAt(fd, 10), byteAt(fd, 8199));

    char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int r;
    r = msync(p + 1, 10, MS_SYNC);
    printf("msync unaligned: %d %s\n", r, r ? strerror(errno) : "");
    r = msync(p, 4096, MS_SYNC | MS_ASYNC);
    printf("msync MS_SYNC|MS_ASYNC: %d %s\n", r, r ? strerror(errno) : "");
    r = msync(p, 4096, 8);
    printf("msync unknown flag: %d %s\n", r, r ? strerror(errno) : "");
    munmap(p + 4096, 4096);
    r = msync(p, 3 * 4096, MS_SYNC);
    printf("msync over a hole: %d %s\n", r, r ? strerror(errno) : "");
    r = msync(p, 4096, MS_ASYNC | MS_INVALIDATE);
    printf("msync MS_ASYNC|MS_INVALIDATE: %d %s\n", r, r ? strerror(errno) : "");
    unlink(path);
    return 0;
}
