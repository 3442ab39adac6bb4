// A bad pointer handed to the kernel is EFAULT for the caller, never a crash.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(void) {
    long r = syscall(SYS_write, 1, (void *)16, 10);
    printf("write(bad pointer) = %ld errno=%s\n", r, r < 0 ? strerror(errno) : "none");
    r = syscall(SYS_openat, -100, (void *)0x10, 0);
    printf("openat(bad path) = %ld errno=%s\n", r, r < 0 ? strerror(errno) : "none");
    return 0;
}
