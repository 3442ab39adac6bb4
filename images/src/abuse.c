// A guest abusing the stub (argv[1] picks how): each must end in an
// errno or a clean kill of the guest, never harm the sentry or the host.
// The stub sits at 0x7e0000000000: code, its seccomp program, then one
// 64 KiB area per task (systrap).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <errno.h>
int main(int argc, char **argv) {
    unsigned long base = 0x7e0000000000UL;
    const char *what = argc > 1 ? argv[1] : "";
    if (!strcmp(what, "munmap")) { int r = munmap((void *)base, 8192); printf("munmap stub: %d %s\n", r, strerror(errno)); return 0; }
    if (!strcmp(what, "mprotect")) { int r = mprotect((void *)base, 4096, PROT_READ|PROT_WRITE); printf("mprotect stub: %d %s\n", r, strerror(errno)); return 0; }
    if (!strcmp(what, "mmap")) { void *p = mmap((void *)base, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0); printf("mmap over stub: %p %s\n", p, strerror(errno)); return 0; }
    if (!strcmp(what, "jump")) { printf("jumping\n"); fflush(stdout); ((void (*)(void))(base + 0x40))(); printf("returned\n"); return 0; }
    if (!strcmp(what, "selector")) { printf("selector\n"); fflush(stdout); *(volatile char *)(base + 0x10000 + 112) = 7; printf("wrote\n"); return 0; }
    if (!strcmp(what, "area")) { printf("area\n"); fflush(stdout); memset((void *)(base + 0x10000), 0x41, 1024); printf("wrote area\n"); return 0; }
    if (!strcmp(what, "code")) { *(volatile char *)base = 0xcc; printf("wrote code\n"); return 0; }
    return 2;
}
