// A guest for the checkpoint benchmark: MIB mebibytes resident, every
// other page holding data and the rest written with zeros (a checkpoint
// skips those), then it waits in 1 ms sleeps. Once the file MARKER exists
// (made just before the restore) it prints CLOCK_REALTIME in ns, checks its
// pages and exits: the restore's latency is that time minus the restore's
// start. Without MARKER: after a pause of more than half a second (a
// checkpoint and restore slower than that; a faster pair goes unnoticed).
//   ckptmem MIB [MARKER]
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static long long now(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
    size_t size = mib << 20, page = 4096;
    unsigned char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) { perror("mmap"); return 1; }
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (size_t p = 0; p < size; p += page) {
        if ((p / page) % 2) { memset(m + p, 0, page); continue; }
        for (size_t i = 0; i < page; i += 8) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; memcpy(m + p + i, &x, 8); }
    }
    printf("ready %zu MiB\n", mib);
    fflush(stdout);
    long long last = now(CLOCK_REALTIME);
    for (;;) {
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
        if (argc > 2) {
            if (access(argv[2], F_OK) == 0) break;
            continue;
        }
        long long t = now(CLOCK_REALTIME);
        if (t - last > 500000000LL) break;
        last = t;
    }
    long long resumed = now(CLOCK_REALTIME);
    uint64_t y = 0x9e3779b97f4a7c15ULL;
    int bad = 0;
    for (size_t p = 0; p < size && !bad; p += 2 * page)
        for (size_t i = 0; i < page; i += 8) {
            y ^= y << 13; y ^= y >> 7; y ^= y << 17;
            uint64_t v;
            memcpy(&v, m + p + i, 8);
            if (v != y) { bad = 1; break; }
        }
    printf("resumed %lld pages %s\n", resumed, bad ? "differ" : "intact");
    return bad;
}
