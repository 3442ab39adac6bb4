// The memory manager as a program sees it: anonymous mmap, mprotect,
// munmap, brk, mremap, MADV_DONTNEED, and /proc/self/maps.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %d)\n", __LINE__, #c, errno); return 1; } } while (0)

int main(void) {
    size_t pg = 4096;
    char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    CHECK(p[0] == 0 && p[4 * pg - 1] == 0);
    memset(p, 'a', 4 * pg);
    CHECK(mprotect(p + pg, pg, PROT_READ) == 0);
    CHECK(p[pg] == 'a');
    CHECK(mprotect(p + pg, pg, PROT_READ | PROT_WRITE) == 0);
    p[pg] = 'b';
    CHECK(madvise(p, pg, MADV_DONTNEED) == 0 && p[0] == 0 && p[pg] == 'b');
    char *q = mremap(p, 4 * pg, 64 * pg, MREMAP_MAYMOVE);
    CHECK(q != MAP_FAILED && q[pg] == 'b' && q[2 * pg] == 'a' && q[63 * pg] == 0);
    CHECK(munmap(q + pg, pg) == 0);
    CHECK(munmap(q, 64 * pg) == 0);
    CHECK(munmap((void *)1, pg) == -1 && errno == EINVAL);
    CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL);
    CHECK(mprotect((void *)0x10000, pg, PROT_READ) == -1 && errno == ENOMEM);
    char *fixed = mmap((void *)0x200000000, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(fixed == (void *)0x200000000);
    CHECK(mmap((void *)0x200000000, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED && errno == EEXIST);
    char *b0 = sbrk(0);
    CHECK(sbrk(3 * pg) == b0);
    memset(b0, 'h', 3 * pg);
    CHECK(brk(b0) == 0 && sbrk(0) == b0);
    // A private file mapping is a copy of the file's pages.
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f != NULL);
    char line[512];
    int stack = 0, lines = 0;
    while (fgets(line, sizeof line, f)) { lines++; stack |= strstr(line, "[stack]") != NULL; }
    fclose(f);
    CHECK(stack && lines >= 4);
    printf("memory ok\n");
    return 0;
}
