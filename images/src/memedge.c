// Memory calls at their edges (issue 17 item 5): MAP_FIXED_NOREPLACE,
// MAP_GROWSDOWN, MREMAP_DONTUNMAP, madvise's fork advice and FREE/POPULATE,
// membarrier. One line per check; compared with the native run.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

static void show(const char *what, long r) {
    if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static void showp(const char *what, void *p) {
    if (p == MAP_FAILED) printf("%s: %s\n", what, strerrorname_np(errno));
    else printf("%s: ok\n", what);
}

/// mremap by the syscall itself: glibc's wrapper passes whatever is in the
/// fifth register as the new address, which MREMAP_DONTUNMAP reads as a hint.
static void *remap(void *old, size_t ol, size_t nl, int flags, void *na) {
    return (void *)syscall(SYS_mremap, old, ol, nl, flags, na);
}

static long membarrier(int cmd, unsigned flags, int cpu) { return syscall(SYS_membarrier, cmd, flags, cpu); }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    long pg = 4096;

    // MAP_FIXED_NOREPLACE: EEXIST over a mapping, fine in a hole.
    char *a = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    showp("NOREPLACE over a mapping", mmap(a + pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
    munmap(a + 2 * pg, pg);
    char *b = mmap(a + 2 * pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    printf("NOREPLACE in a hole: %s\n", b == a + 2 * pg ? "at the address" : b == MAP_FAILED ? strerrorname_np(errno) : "elsewhere");
    showp("NOREPLACE overlapping the hole's edge", mmap(a + 2 * pg, 2 * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
    munmap(a, 4 * pg);

    // MREMAP_DONTUNMAP: the data moves, the old range stays mapped and empty.
    char *src = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(src, 'x', 2 * pg);
    char *dst = remap(src, 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
    if (dst == MAP_FAILED) printf("DONTUNMAP: %s\n", strerrorname_np(errno));
    else printf("DONTUNMAP: moved %s, new holds the data: %s, old reads zero: %s\n", dst != src ? "yes" : "no",
                dst[pg] == 'x' ? "yes" : "no", src[pg] == 0 ? "yes" : "no");
    show("DONTUNMAP without MAYMOVE", remap(src, 2 * pg, 2 * pg, MREMAP_DONTUNMAP, NULL) == MAP_FAILED ? -1 : 0);
    show("DONTUNMAP growing", remap(src, 2 * pg, 3 * pg, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL) == MAP_FAILED ? -1 : 0);
    show("DONTUNMAP to a misaligned hint", remap(src, 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, (void *)0x12345) == MAP_FAILED ? -1 : 0);
    show("DONTUNMAP onto itself", remap(src, 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED, src + pg) == MAP_FAILED ? -1 : 0);
    char *spot = mmap(NULL, 2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *there = remap(dst, 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED, spot);
    printf("DONTUNMAP with FIXED: %s, data there: %s\n", there == spot ? "at the address" : "elsewhere", there[0] == 'x' ? "yes" : "no");
    char *shared = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    // madvise: fork advice.
    char *keep = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *wipe = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *gone = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    keep[0] = wipe[0] = gone[0] = 7;
    show("MADV_WIPEONFORK", madvise(wipe, pg, MADV_WIPEONFORK));
    show("MADV_DONTFORK", madvise(gone, pg, MADV_DONTFORK));
    show("MADV_WIPEONFORK on shared memory", madvise(shared, pg, MADV_WIPEONFORK));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        printf("child: plain %d, wiped %d\n", keep[0], wipe[0]);
        fflush(stdout);
        volatile char x = gone[0];   // not in the child: SIGSEGV
        (void)x;
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    printf("child touching DONTFORK memory: %s\n", WIFSIGNALED(st) ? sigabbrev_np(WTERMSIG(st)) : "survived");
    printf("parent still has: %d %d %d\n", keep[0], wipe[0], gone[0]);
    show("MADV_KEEPONFORK", madvise(wipe, pg, MADV_KEEPONFORK));
    show("MADV_DOFORK", madvise(gone, pg, MADV_DOFORK));
    c = fork();
    if (c == 0) { printf("child after KEEP/DO: %d %d\n", wipe[0], gone[0]); _exit(0); }
    waitpid(c, &st, 0);

    // FREE, POPULATE, a bad advice, an unmapped range.
    show("MADV_FREE", madvise(keep, pg, MADV_FREE));
    show("MADV_POPULATE_READ", madvise(keep, pg, MADV_POPULATE_READ));
    show("MADV_POPULATE_WRITE", madvise(keep, pg, MADV_POPULATE_WRITE));
    char *ro = mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    show("MADV_POPULATE_WRITE on read-only", madvise(ro, pg, MADV_POPULATE_WRITE));
    show("MADV_HUGEPAGE", madvise(keep, pg, MADV_HUGEPAGE));
    show("advice 99", madvise(keep, pg, 99));
    munmap(ro, pg);
    show("MADV_DONTNEED unmapped", madvise(ro, pg, MADV_DONTNEED));

    // MAP_GROWSDOWN: a stack that grows as it is touched below.
    char *gd = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
    showp("MAP_GROWSDOWN", gd);

    // membarrier.
    long q = membarrier(MEMBARRIER_CMD_QUERY, 0, 0);
    printf("membarrier QUERY has GLOBAL, PRIVATE_EXPEDITED, SYNC_CORE, RSEQ: %s %s %s %s\n",
           q & MEMBARRIER_CMD_GLOBAL ? "yes" : "no", q & MEMBARRIER_CMD_PRIVATE_EXPEDITED ? "yes" : "no",
           q & MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE ? "yes" : "no", q & MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ ? "yes" : "no");
    show("membarrier QUERY with flags", membarrier(MEMBARRIER_CMD_QUERY, 1, 0));
    show("membarrier PRIVATE_EXPEDITED unregistered", membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
    show("membarrier REGISTER_PRIVATE_EXPEDITED", membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0));
    show("membarrier PRIVATE_EXPEDITED", membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
    show("membarrier SYNC_CORE unregistered", membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0));
    show("membarrier GLOBAL", membarrier(MEMBARRIER_CMD_GLOBAL, 0, 0));
    show("membarrier GLOBAL_EXPEDITED", membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0));
    show("membarrier REGISTER_GLOBAL_EXPEDITED", membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0));
    show("membarrier RSEQ with FLAG_CPU", membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_FLAG_CPU, 0));
    show("membarrier bad command", membarrier(3, 0, 0));
    c = fork();
    if (c == 0) { show("membarrier PRIVATE_EXPEDITED in a fork child", membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0)); _exit(0); }
    waitpid(c, &st, 0);
    return 0;
}
