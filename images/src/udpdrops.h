// /proc/net/udp's drops column (the last) for the socket bound at `port` on
// 127.0.0.1, for the guests that compare sk_drops with Linux; -1 if none.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static long udp_drops(uint16_t port) {
    FILE *f = fopen("/proc/net/udp", "r");
    char line[512], want[16];
    long drops = -1;
    snprintf(want, sizeof want, ":%04X ", port);
    while (f && fgets(line, sizeof line, f)) {
        char *local = strchr(line, ':');
        if (!local || strncmp(local + 10, want, 6) != 0) continue;
        sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %ld", &drops);
    }
    if (f) fclose(f);
    return drops;
}
