// A syscall number no kernel has: ENOSYS.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    long r = syscall(499);
    printf("syscall(499) = %ld errno=%s\n", r, strerror(errno));
    return 0;
}
