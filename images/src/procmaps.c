// Reads /proc/self/maps with the parser procps and glibc's pthread_getattr_np
// use (sscanf "%lx-%lx %4s %lx %x:%x %lu"), and checks that mappings it made
// itself appear with the right bounds and permissions.
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct want { unsigned long start, end; const char *perms; int found; };

int main(void) {
    long pg = sysconf(_SC_PAGESIZE);
    char *a = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(a + pg, pg, PROT_READ);                 // splits the mapping in three
    char *b = mmap(NULL, 2 * pg, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct want w[] = {
        { (unsigned long)a, (unsigned long)a + pg, "rw-p", 0 },
        { (unsigned long)a + pg, (unsigned long)a + 2 * pg, "r--p", 0 },
        { (unsigned long)a + 2 * pg, (unsigned long)a + 4 * pg, "rw-p", 0 },
        { (unsigned long)b, (unsigned long)b + 2 * pg, "r-xs", 0 },
    };
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) { perror("maps"); return 1; }
    char line[512];
    int lines = 0, bad = 0, stack = 0, sorted = 1;
    unsigned long last = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e, off, ino; unsigned maj, min; char perms[5]; int n = 0;
        if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu %n", &s, &e, perms, &off, &maj, &min, &ino, &n) < 7) { bad++; continue; }
        lines++;
        if (s < last || e <= s) sorted = 0;
        last = e;
        if (strstr(line + n, "[stack]")) stack = 1;
        for (unsigned i = 0; i < sizeof w / sizeof w[0]; i++)
            if (w[i].start == s && w[i].end == e && strcmp(w[i].perms, perms) == 0) w[i].found = 1;
    }
    printf("parsed: %s, unparsed lines: %d, sorted: %d, stack: %d\n", lines > 3 ? "yes" : "no", bad, sorted, stack);
    for (unsigned i = 0; i < sizeof w / sizeof w[0]; i++) printf("mapping %u %s: %s\n", i, w[i].perms, w[i].found ? "found" : "MISSING");
    return 0;
}
