/* A debuggee for gdb inside the sandbox (GuestPtraceTests): built with -g -O0
 * so that a breakpoint, a backtrace and a variable read the same natively. */
#include <stdio.h>

static int twice(int x) { return x * 2; }

int main(void) {
    int r = twice(21);
    printf("%d\n", r);
    return 0;
}
