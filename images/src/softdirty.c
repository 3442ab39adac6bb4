// /proc/self/pagemap, /proc/self/clear_refs and soft-dirty tracking
// (Documentation/admin-guide/mm/soft-dirty.rst, pagemap.rst). Lines
// starting "x: " are what Linux 6.1 with CONFIG_MEM_SOFT_DIRTY answers,
// checked against fixed values by the test (a host kernel without
// soft-dirty, or with a larger TASK_SIZE, answers otherwise); the test
// compares the rest with the native run.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL
#define SOFT_DIRTY (1ULL << 55)
#define EXCLUSIVE (1ULL << 56)
#define FILEPAGE (1ULL << 61)
#define SWAPPED (1ULL << 62)
#define PRESENT (1ULL << 63)

static int pagemap;

static uint64_t entry(const void *addr) {
    uint64_t e = 0;
    if (pread(pagemap, &e, 8, (uintptr_t)addr / PAGE * 8) != 8) printf("pread of %p's entry: %s\n", addr, strerror(errno));
    return e;
}

// Each page's present, swapped, file and exclusive bits: compared with the
// native run. Page frame numbers are counted apart: Linux shows them to
// CAP_SYS_ADMIN only, the sandbox to nobody.
static int pfns;
static void show(const char *what, const char *p, int pages) {
    printf("%s:", what);
    for (int i = 0; i < pages; i++) {
        uint64_t e = entry(p + i * PAGE);
        printf(" %c%c%c%c", e & PRESENT ? 'p' : '-', e & SWAPPED ? 's' : '-', e & FILEPAGE ? 'f' : '-', e & EXCLUSIVE ? 'x' : '-');
        pfns += (e & ((1ULL << 55) - 1)) != 0;
    }
    printf("\n");
}

// Each page's soft-dirty bit: 6.1's answers.
static void dirty(const char *what, const char *p, int pages) {
    printf("x: %s: ", what);
    for (int i = 0; i < pages; i++) putchar(entry(p + i * PAGE) & SOFT_DIRTY ? '1' : '0');
    printf("\n");
}

static long clear_refs(const char *value) {
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd < 0) return -1;
    long r = write(fd, value, strlen(value));
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

static void check(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
    else printf("%s: %ld\n", what, r);
}

// A mapping at a fixed place inside a PROT_NONE reservation, apart from
// others, so that no two merge (6.1 marks a merged VMA soft-dirty whole).
static char *area;
static int slot;
static char *map_at(int pages, int prot, int flags) {
    char *p = mmap(area + (slot++) * 64 * PAGE, pages * PAGE, prot, flags | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); _exit(1); }
    // Untouched pages: a native fresh mapping has none; the sandbox's may
    // reuse pages of memory freed before, which this drops.
    madvise(p, pages * PAGE, MADV_DONTNEED);
    return p;
}

static void errnos(void) {
    uint64_t e[4];
    check("pread offset 4", pread(pagemap, e, 8, 4));
    check("pread count 12", pread(pagemap, e, 12, 0));
    check("pread count 0", pread(pagemap, e, 0, 8));
    check("pread 16 at 0", pread(pagemap, e, 16, 0));
    check("entries at 0 and 8 are 0", e[0] == 0 && e[1] == 0);
    check("lseek SEEK_END", lseek(pagemap, 0, SEEK_END));
    check("lseek SEEK_SET 4096", lseek(pagemap, 4096, SEEK_SET));
    check("read 16", read(pagemap, e, 16));
    check("lseek SEEK_CUR 0", lseek(pagemap, 0, SEEK_CUR));
    check("read at 2^63", pread(pagemap, e, 16, (off_t)1 << 62));
    check("read to a bad buffer", pread(pagemap, (void *)8, 16, 0));
    check("write", pwrite(pagemap, e, 8, 0));
    int rw = open("/proc/self/pagemap", O_RDWR);
    if (rw < 0) check("pagemap O_RDWR", -1);
    else { check("pagemap write", pwrite(rw, e, 8, 0)); close(rw); }
    // Reads of more than 1 MiB (512 MiB of address space) are served whole;
    // a count not a multiple of 8 is EINVAL before anything is read, and a
    // buffer that ends early is EFAULT, the position kept past what was copied.
    size_t big = (3 << 20) + 8 * 5;
    uint64_t *b = mmap(NULL, big + PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("read 3 MiB + 40", pread(pagemap, b, big, 0));
    check("read 3 MiB + 41", pread(pagemap, b, big + 1, 0));
    munmap((char *)b + (2 << 20), big + PAGE - (2 << 20));
    lseek(pagemap, 0, SEEK_SET);
    check("read 3 MiB into 2 MiB", read(pagemap, b, big));
    check("  position after", lseek(pagemap, 0, SEEK_CUR));
    check("read 1 MiB after", read(pagemap, b, 1 << 20));
    check("  position after", lseek(pagemap, 0, SEEK_CUR));
    munmap(b, 2 << 20);
    // TASK_SIZE (47-bit user space): the last entry, then nothing.
    printf("x: ");
    check("read across TASK_SIZE", pread(pagemap, e, 32, (0x7ffffffff000UL / PAGE - 1) * 8));
    // Another process's pagemap: the ptrace read check (a non-dumpable one
    // needs CAP_SYS_PTRACE, and its /proc files are root's).
    for (int dumpable = 1; dumpable >= 0; dumpable--) {
        int ready[2], done[2];
        pipe(ready); pipe(done);
        pid_t c = fork();
        if (c == 0) {
            prctl(PR_SET_DUMPABLE, dumpable);
            write(ready[1], "r", 1);
            char b;
            read(done[0], &b, 1);
            _exit(0);
        }
        char b, path[64];
        read(ready[0], &b, 1);
        snprintf(path, sizeof path, "/proc/%d/pagemap", c);
        int fd = open(path, O_RDONLY);
        printf("%s child's pagemap: ", dumpable ? "a dumpable" : "a non-dumpable");
        if (fd < 0) check("open", -1);
        else { check("read", pread(fd, e, 16, 0)); close(fd); }
        write(done[1], "d", 1);
        waitpid(c, NULL, 0);
        close(ready[0]); close(ready[1]); close(done[0]); close(done[1]);
    }
    struct stat st;
    stat("/proc/self/pagemap", &st);
    printf("pagemap mode %o\n", st.st_mode & 07777);
    stat("/proc/self/clear_refs", &st);
    printf("clear_refs mode %o\n", st.st_mode & 07777);
    static const char *values[] = {"0", "6", "-1", "abc", "0x4", "4 4", "99999999999", "1", "2", "3", "5", " 5\n", "+3",
                                   "4\n", "3\0garbage"};
    for (unsigned i = 0; i < sizeof values / sizeof *values; i++) {
        char what[64];
        snprintf(what, sizeof what, "clear_refs \"%s\"", values[i]);
        check(what, clear_refs(values[i]));
    }
    // A write longer than PROC_NUMBUF - 1 takes 12 bytes.
    check("clear_refs \"1\" and 20 spaces", clear_refs("1                    "));
    int fd = open("/proc/self/clear_refs", O_RDONLY);
    if (fd < 0) check("clear_refs O_RDONLY", -1);
    else { char b[8]; check("clear_refs read", read(fd, b, sizeof b)); close(fd); }
    fd = open("/proc/self/clear_refs", O_WRONLY);
    check("clear_refs bad buffer", write(fd, (void *)8, 2));
    close(fd);
}

static void presence(void) {
    char *p = map_at(8, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    show("fresh", p, 8);
    p[PAGE] = 1; p[3 * PAGE] = 1; p[7 * PAGE + 5] = 1;
    show("written 1 3 7", p, 8);
    madvise(p + 3 * PAGE, PAGE, MADV_DONTNEED);
    show("after DONTNEED of 3", p, 8);
    // A read spanning two mappings and the hole between.
    char *q = map_at(2, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    q[0] = 1;
    munmap(p + 6 * PAGE, 2 * PAGE);
    uint64_t e[80];
    long n = pread(pagemap, e, sizeof e, (uintptr_t)(p + 5 * PAGE) / PAGE * 8);
    int present = 0, zero = 0;
    for (long i = 0; i < n / 8; i++) { present += (e[i] & PRESENT) != 0; zero += (e[i] & ~SOFT_DIRTY) == 0; }
    printf("spanning read: %ld bytes, %d present, %d zero\n", n, present, zero);
    // Shared anonymous memory: shmem's pages are file pages.
    char *s = map_at(4, PROT_READ | PROT_WRITE, MAP_SHARED);
    s[2 * PAGE] = 1;
    show("shared written 2", s, 4);
    // After fork: the parent's written pages are mapped twice (not exclusive) in the child.
    char *f = map_at(32, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    memset(f, 1, 32 * PAGE);
    pid_t c = fork();
    if (c == 0) { show("child before writes", f, 2); fflush(stdout); _exit(0); }
    waitpid(c, NULL, 0);
    munmap(f, 32 * PAGE);
    munmap(p, 6 * PAGE);
    munmap(q, 2 * PAGE);
    munmap(s, 4 * PAGE);
}

static void *write_page(void *p) {
    *(char *)p = 9;
    return NULL;
}

// Threads started after clear_refs 4: the second most likely on the first's
// stack, which glibc keeps, its rseq area (registered with the host on
// systrap) on a page made clean meanwhile.
static void threads(void) {
    char *t = map_at(4, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    pthread_t first = 0;
    for (int i = 0; i < 2; i++) {
        check("clear_refs 4 before a thread", clear_refs("4"));
        pthread_t th;
        pthread_create(&th, NULL, write_page, t + (1 + 2 * i) * PAGE);
        if (i == 0) first = th;
        else printf("the second thread reuses the first's stack: %s\n", th == first ? "yes" : "no");
        pthread_join(th, NULL);
        dirty(i == 0 ? "a thread wrote 1" : "another thread wrote 3", t, 4);
    }
    printf("threads' writes: %d %d\n", t[PAGE], t[3 * PAGE]);
}

static void tracking(void) {
    char *p = map_at(8, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    p[0] = 1;
    dirty("new mapping", p, 8);
    check("clear_refs 4", clear_refs("4"));
    dirty("after clear_refs 4", p, 8);
    p[1 * PAGE] = 1; p[4 * PAGE + 100] = 2;
    dirty("written 1 4", p, 8);
    int fds[2];
    pipe(fds);
    write(fds[1], "abc", 3);
    // 3 bytes into a buffer of 2 pages: the page they land in alone is written.
    check("read from a pipe into 6", read(fds[0], p + 6 * PAGE + 10, 2 * PAGE - 10));
    dirty("read into 6", p, 8);
    mprotect(p, 8 * PAGE, PROT_READ);
    mprotect(p, 8 * PAGE, PROT_READ | PROT_WRITE);
    dirty("mprotect away and back", p, 8);
    p[7 * PAGE] = 3;
    dirty("written 7", p, 8);
    pid_t c = fork();
    if (c == 0) {
        // The parent's pagemap descriptor shows the parent's memory: the child opens its own.
        dirty("child through the parent's pagemap", p, 8);
        close(pagemap);
        pagemap = open("/proc/self/pagemap", O_RDONLY);
        dirty("child inherits", p, 8);
        p[2 * PAGE] = 1;
        dirty("child wrote 2", p, 8);
        check("child clear_refs 4", clear_refs("4"));
        p[3 * PAGE] = 1;
        dirty("child cleared, wrote 3", p, 8);
        write(fds[1], "de", 2);
        check("child reads from a pipe into 5", read(fds[0], p + 5 * PAGE, 2));
        dirty("child's read into 5", p, 8);
        int parent = open("/proc/self/pagemap", O_RDONLY);
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/pagemap", getppid());
        close(pagemap);
        pagemap = open(path, O_RDONLY);
        dirty("the parent's, opened by the child", p, 8);
        close(parent);
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    dirty("parent after the child", p, 8);
    printf("pipe bytes kept: %s\n", memcmp(p + 6 * PAGE + 10, "abc", 3) == 0 ? "yes" : "no");
    // Another process's clear_refs 4 (this one waits meanwhile, out of its code).
    c = fork();
    if (c == 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/clear_refs", getppid());
        int fd = open(path, O_WRONLY);
        check("child clears the parent's", write(fd, "4", 1));
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    dirty("cleared by the child", p, 8);
    p[0] = 4; p[7 * PAGE + 1] = 4;
    dirty("then written 0 7", p, 8);
    // Cleared by another process while this one runs its own code: a write
    // made once that clear_refs returned is seen.
    volatile char *flag = map_at(1, PROT_READ | PROT_WRITE, MAP_SHARED);
    memset(p, 4, 8 * PAGE);
    c = fork();
    if (c == 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/clear_refs", getppid());
        int fd = open(path, O_WRONLY);
        write(fd, "4", 1);
        *flag = 1;
        _exit(0);
    }
    while (!*flag) {}
    p[2 * PAGE] = 5;
    waitpid(c, NULL, 0);
    dirty("written while another process cleared", p, 8);
    // Another mapping made now is soft-dirty, the old one stays as it was.
    char *q = map_at(2, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    dirty("new mapping after clear", q, 2);
    check("clear_refs 4 again", clear_refs("4"));
    dirty("cleared again", p, 8);
    // Writes by the sentry: /proc/self/mem and process_vm_writev.
    int mem = open("/proc/self/mem", O_RDWR);
    check("/proc/self/mem write into 5", pwrite(mem, "xy", 2, (uintptr_t)(p + 5 * PAGE)));
    close(mem);
    char src[2] = {7, 8};
    struct iovec l = {src, 2}, r = {p + 2 * PAGE + PAGE - 1, 2};
    check("process_vm_writev across 2 and 3", process_vm_writev(getpid(), &l, 1, &r, 1, 0));
    dirty("sentry wrote 2 3 5", p, 8);
    // The guest writes those pages afterwards as it would any.
    p[5 * PAGE + 2] = 'z'; p[3 * PAGE + 8] = 9;
    printf("writes after the sentry's: %c%c%c %d %d\n", p[5 * PAGE], p[5 * PAGE + 1], p[5 * PAGE + 2], p[3 * PAGE], p[3 * PAGE + 8]);
    dirty("guest wrote 5 3", p, 8);
    // Dropped pages lose their mark.
    madvise(p, 8 * PAGE, MADV_DONTNEED);
    dirty("after DONTNEED", p, 8);
    dirty("an older mapping after DONTNEED elsewhere", q, 2);
    char *q2 = map_at(2, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    q2[0] = 1;
    madvise(q2, 2 * PAGE, MADV_DONTNEED);
    dirty("a new mapping keeps VM_SOFTDIRTY after DONTNEED", q2, 2);
    // Shared memory is tracked too.
    char *s = map_at(4, PROT_READ | PROT_WRITE, MAP_SHARED);
    s[0] = 1;
    check("clear_refs 4 with shared memory", clear_refs("4"));
    s[PAGE] = 1; s[3 * PAGE] = 1;
    dirty("shared written 1 3", s, 4);
    write(fds[1], "fg", 2);
    check("read from a pipe into shared 2", read(fds[0], s + 2 * PAGE, 2));
    s[2 * PAGE + 2] = 'h';
    dirty("shared read into 2, then written", s, 4);
    printf("shared contents: %d %d %d %.3s\n", s[0], s[PAGE], s[3 * PAGE], s + 2 * PAGE);
    // mremap: the pages moved are soft-dirty.
    char *o = map_at(4, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    memset(o, 1, 4 * PAGE);   // (the sandbox copies a moved range whole: untouched pages would come present)
    check("clear_refs 4 before mremap", clear_refs("4"));
    char *m = mremap(o, 4 * PAGE, 4 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, area + (slot++) * 64 * PAGE);
    if (m == MAP_FAILED) { perror("mremap"); _exit(1); }
    dirty("mremap'd", m, 4);
    printf("mremap'd contents: %d %d %d %d\n", m[0], m[PAGE], m[2 * PAGE], m[3 * PAGE]);
    // brk: the heap grown, old pages too (do_brk_flags sets VM_SOFTDIRTY on the VMA it grows).
    char *b = sbrk(0);
    long pad = (PAGE - (uintptr_t)b % PAGE) % PAGE;
    sbrk(pad + 2 * PAGE);
    b += pad;
    b[0] = 1; b[PAGE] = 1;
    check("clear_refs 4 before brk", clear_refs("4"));
    dirty("heap cleared", b, 2);
    sbrk(2 * PAGE);
    dirty("heap grown", b, 4);
    // A new mapping Linux merges with its neighbour marks the neighbour's pages too.
    char *a = map_at(2, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    a[0] = 1;
    check("clear_refs 4 before a neighbour", clear_refs("4"));
    dirty("the mapping before its neighbour", a, 2);
    char *n = mmap(a + 2 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    dirty("merged with a new neighbour", a, 4);
    char *u = mmap(n + 3 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    check("clear_refs 4 before an unlike neighbour", clear_refs("4"));
    mmap(u + PAGE, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    dirty("an unlike neighbour marks nothing more", n, 5);
    char *big = map_at(40, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    memset(big, 5, 40 * PAGE);
    check("clear_refs 4 with 40 pages", clear_refs("4"));
    for (int i = 0; i < 40; i += 3) big[i * PAGE] = 6;
    dirty("every third of 40", big, 40);
    int sum = 0;
    for (int i = 0; i < 40; i++) sum += big[i * PAGE];
    printf("sum of firsts: %d\n", sum);
}

// The marks across a checkpoint taken during the sleep (no pagemap open then).
static void across_checkpoint(void) {
    char *p = map_at(4, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    memset(p, 1, 4 * PAGE);
    clear_refs("4");
    p[PAGE] = 2;
    dirty("before", p, 4);
    close(pagemap);
    sleep(3);
    p[2 * PAGE] = 3;
    pagemap = open("/proc/self/pagemap", O_RDONLY);
    dirty("after", p, 4);
    printf("contents: %d %d %d %d\n", p[0], p[PAGE], p[2 * PAGE], p[3 * PAGE]);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    pagemap = open("/proc/self/pagemap", O_RDONLY);
    if (pagemap < 0) { perror("open pagemap"); return 1; }
    area = mmap(NULL, 64 * 64 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (argc > 1 && strcmp(argv[1], "checkpoint") == 0) { across_checkpoint(); return 0; }
    errnos();
    presence();
    tracking();
    threads();
    printf("x: entries with a page frame number: %d\n", pfns);
    return 0;
}
