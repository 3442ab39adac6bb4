// memfd sealing: which files can be sealed, each seal's effect on write,
// truncate and mmap, F_SEAL_WRITE refused while a shared writable mapping
// exists, F_SEAL_SEAL final. Compared with Linux's output.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void check(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
    else printf("%s: %ld\n", what, r);
}

int main(void) {
    int plain = memfd_create("plain", 0);
    check("F_GET_SEALS of a memfd without MFD_ALLOW_SEALING", fcntl(plain, F_GET_SEALS));
    check("F_ADD_SEALS there", fcntl(plain, F_ADD_SEALS, F_SEAL_WRITE));
    check("F_GET_SEALS of stdin", fcntl(0, F_GET_SEALS));
    int fd = memfd_create("sealed", MFD_ALLOW_SEALING);
    check("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
    write(fd, "0123456789", 10);
    check("F_ADD_SEALS unknown bit", fcntl(fd, F_ADD_SEALS, 0x100));
    check("F_SEAL_SHRINK", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
    check("shrink", ftruncate(fd, 5));
    check("grow", ftruncate(fd, 20));
    check("F_SEAL_GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
    check("grow again", ftruncate(fd, 40));
    check("write inside", pwrite(fd, "ab", 2, 0));
    check("write past the end", pwrite(fd, "ab", 2, 19));
    char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    check("F_SEAL_WRITE while mapped shared writable", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    munmap(m, 4096);
    check("F_SEAL_WRITE", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    check("write", pwrite(fd, "ab", 2, 0));
    check("mmap shared writable", (long)mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == -1 ? -1 : 0);
    char *r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    check("mmap shared read-only", r == MAP_FAILED ? -1 : 0);
    check("mprotect it writable", mprotect(r, 4096, PROT_READ | PROT_WRITE));
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    check("mmap private writable", p == MAP_FAILED ? -1 : 0);
    printf("contents: %.10s\n", r);
    check("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
    check("F_SEAL_SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
    check("after F_SEAL_SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
    return 0;
}
