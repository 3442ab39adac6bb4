// Copy-on-write fork: after fork, parent and child each see only their own
// writes to private memory, whoever writes it: the guest's own stores, the
// kernel's copy out (read(2), a signal frame, FUTEX_WAKE_OP, clear_child_tid),
// through mprotect, madvise, mremap and munmap; shared memory stays shared;
// vfork shares everything. Each line is compared with the native run.
// `cow bigfork MB`: times a fork of MB MiB of touched memory (stderr only).
// `cow readers MB`: a child reading its parent's MB MiB (see readingChild).
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define PAGES 96   // spans several 64 KiB granules and their edges

static char bss[PAGES * PAGE];                 // .bss
static char data[PAGES * PAGE] = { 1 };        // .data
static volatile uint32_t futexWord = 1000;     // FUTEX_WAKE_OP's target
static volatile uint32_t tidWord = 12345;      // a child thread's clear_child_tid
static char altStack[64 * 1024];               // a child's signal frames land here
static volatile sig_atomic_t handled;

static int toChild[2], toParent[2];

static void turn(int fd) { char c = 't'; if (write(fd, &c, 1) != 1) _exit(90); }
static void await(int fd) { char c; if (read(fd, &c, 1) != 1) _exit(91); }

// What a region holds: "all X", or "mixed".
static const char *holds(const char *p, size_t n, char *buf) {
    for (size_t i = 1; i < n; i++) if (p[i] != p[0]) return "mixed";
    snprintf(buf, 16, "all %c", p[0] ? p[0] : '0');
    return buf;
}

static void report(const char *who, const char *what, const char *p, size_t n) {
    char b[16];
    printf("%s %s: %s\n", who, what, holds(p, n, b));
    fflush(stdout);
}

static void onSignal(int sig) { (void)sig; handled = 1; }

static void *clearingThread(void *arg) {
    (void)arg;
    syscall(SYS_set_tid_address, &tidWord);
    syscall(SYS_exit, 0);   // the kernel writes 0 to tidWord and wakes it
    return NULL;
}

// Parent and child take turns writing the same pages of every kind of
// private memory; each checks it still sees only its own bytes.
static void turns(void) {
    char stack[8 * PAGE];
    char *heap = malloc(PAGES * PAGE);
    char *anon = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *shared = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    char *regions[] = { bss, data, stack, heap, anon };
    size_t sizes[] = { sizeof bss, sizeof data, sizeof stack, PAGES * PAGE, PAGES * PAGE };
    const char *names[] = { "bss", "data", "stack", "heap", "anon" };
    for (int i = 0; i < 5; i++) memset(regions[i], 'P', sizes[i]);
    memset(shared, 'S', PAGE);
    if (pipe(toChild) || pipe(toParent)) { perror("pipe"); exit(1); }
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 5; i++) report("child sees before writing", names[i], regions[i], sizes[i]);
        // Every other page, then all: partial copies next to whole ones.
        for (int i = 0; i < 5; i++) for (size_t o = 0; o < sizes[i]; o += 2 * PAGE) regions[i][o] = 'C';
        for (int i = 0; i < 5; i++) memset(regions[i], 'C', sizes[i]);
        memset(shared, 'c', PAGE);
        turn(toParent[1]);
        await(toChild[0]);
        for (int i = 0; i < 5; i++) report("child after the parent wrote", names[i], regions[i], sizes[i]);
        report("child", "shared", shared, PAGE);
        _exit(0);
    }
    await(toParent[0]);
    for (int i = 0; i < 5; i++) report("parent after the child wrote", names[i], regions[i], sizes[i]);
    report("parent", "shared (the child's write)", shared, PAGE);
    for (int i = 0; i < 5; i++) memset(regions[i], 'Q', sizes[i]);
    turn(toChild[1]);
    int st;
    waitpid(pid, &st, 0);
    printf("child exit %d\n", WEXITSTATUS(st));
    // The child is gone: the parent owns its pages alone again.
    for (int i = 0; i < 5; i++) { memset(regions[i], 'R', sizes[i]); report("parent alone", names[i], regions[i], sizes[i]); }
    close(toChild[0]); close(toChild[1]); close(toParent[0]); close(toParent[1]);
    munmap(anon, PAGES * PAGE);
    munmap(shared, PAGE);
    free(heap);
}

// The kernel's own writes into memory still shared copy-on-write.
static void kernelWrites(void) {
    memset(bss, 'P', sizeof bss);
    memset(altStack, 'P', sizeof altStack);
    int p[2], q[2];
    if (pipe(p) || pipe(q)) { perror("pipe"); exit(1); }
    pid_t pid = fork();
    if (pid == 0) {
        // A read(2) that blocks until the parent writes, into a granule the
        // child never touched: whoever completes it copies it apart first.
        if (read(q[0], bss + 40 * PAGE + 9, 200) != 200) _exit(94);
        report("child blocked read(2) into bss", "the bytes read", bss + 40 * PAGE + 9, 200);
        report("child blocked read(2) into bss", "the page before", bss + 39 * PAGE, PAGE);
        // read(2) into the middle of a granule and across into the next.
        char src[3 * PAGE];
        memset(src, 'r', sizeof src);
        if (write(p[1], src, sizeof src) != (ssize_t)sizeof src) _exit(92);
        if (read(p[0], bss + 15 * PAGE + 100, sizeof src) != (ssize_t)sizeof src) _exit(93);
        report("child read(2) into bss", "the bytes read", bss + 15 * PAGE + 100, sizeof src);
        report("child read(2) into bss", "the page before", bss + 14 * PAGE, PAGE);
        // FUTEX_WAKE_OP: *futexWord = 7, done by the kernel.
        long r = syscall(SYS_futex, &futexWord, FUTEX_WAKE_OP, 0, NULL, &futexWord, FUTEX_OP(FUTEX_OP_SET, 7, FUTEX_OP_CMP_EQ, 0));
        printf("child FUTEX_WAKE_OP %ld, word %u\n", r, futexWord);
        // A signal frame on an alternate stack in copy-on-write memory.
        stack_t ss = { .ss_sp = altStack, .ss_size = sizeof altStack };
        sigaltstack(&ss, NULL);
        struct sigaction sa = { .sa_handler = onSignal, .sa_flags = SA_ONSTACK };
        sigaction(SIGUSR1, &sa, NULL);
        raise(SIGUSR1);
        int touched = 0;
        for (size_t i = 0; i < sizeof altStack; i++) if (altStack[i] != 'P') { touched = 1; break; }
        printf("child handled %d, frame written on the alternate stack %d\n", (int)handled, touched);
        // A thread of the child whose exit clears a word of copy-on-write memory.
        pthread_t t;
        pthread_create(&t, NULL, clearingThread, NULL);
        while (tidWord != 0) {
            uint32_t v = tidWord;
            if (v) syscall(SYS_futex, &tidWord, FUTEX_WAIT, v, NULL, NULL, 0);
        }
        printf("child clear_child_tid word %u\n", tidWord);
        fflush(stdout);
        _exit(0);
    }
    // Most likely after the child blocked (either way the output is the same).
    usleep(50000);
    char answer[200];
    memset(answer, 'b', sizeof answer);
    if (write(q[1], answer, sizeof answer) != (ssize_t)sizeof answer) { perror("write"); exit(1); }
    int st;
    waitpid(pid, &st, 0);
    printf("child exit %d\n", WEXITSTATUS(st));
    report("parent after the child's read(2)", "bss", bss, sizeof bss);
    printf("parent futex word %u, tid word %u\n", futexWord, tidWord);
    report("parent", "alternate stack buffer", altStack, sizeof altStack);
    close(p[0]); close(p[1]); close(q[0]); close(q[1]);
}

// mprotect, madvise, mremap and munmap on memory shared copy-on-write.
static void mappingCalls(void) {
    size_t n = 40 * PAGE;
    char *a = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *b = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *c = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *w = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(a, 'P', n); memset(b, 'P', n); memset(c, 'P', n); memset(w, 'P', n);
    madvise(w, n, MADV_WIPEONFORK);
    // Read-only at fork, made writable in the child.
    mprotect(c, n, PROT_READ);
    pid_t pid = fork();
    if (pid == 0) {
        report("child", "wipe-on-fork", w, n);
        madvise(a, 10 * PAGE, MADV_DONTNEED);
        report("child after MADV_DONTNEED", "those pages", a, 10 * PAGE);
        report("child after MADV_DONTNEED", "the rest", a + 10 * PAGE, n - 10 * PAGE);
        char *m = mremap(b, n, 2 * n, MREMAP_MAYMOVE);
        report("child after mremap", "the old contents", m, n);
        memset(m, 'M', 2 * n);
        munmap(a + 20 * PAGE, 5 * PAGE);
        mprotect(a, 20 * PAGE, PROT_READ);
        mprotect(a, 20 * PAGE, PROT_READ | PROT_WRITE);
        memset(a, 'C', 20 * PAGE);
        mprotect(c, n, PROT_READ | PROT_WRITE);
        report("child after mprotect", "read-only at fork", c, n);
        memset(c, 'C', n);
        report("child", "after writing it", c, n);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("child exit %d\n", WEXITSTATUS(st));
    report("parent", "madvised in the child", a, n);
    report("parent", "mremapped in the child", b, n);
    report("parent", "read-only at fork", c, n);
    report("parent", "wipe-on-fork", w, n);
    munmap(a, n); munmap(b, n); munmap(c, n); munmap(w, n);
}

// vfork shares the memory; fork of a fork copies twice.
static void vforkAndGrandchildren(void) {
    static volatile int seen = 1;
    pid_t pid = vfork();
    if (pid == 0) { seen = 2; _exit(0); }
    int st;
    waitpid(pid, &st, 0);
    printf("after vfork the parent sees %d\n", seen);
    memset(data, 'P', sizeof data);
    pid = fork();
    if (pid == 0) {
        memset(data, 'C', PAGES * PAGE / 2);
        pid_t g = fork();
        if (g == 0) {
            report("grandchild sees", "data's first half", data, PAGES * PAGE / 2);
            memset(data, 'G', sizeof data);
            report("grandchild", "data", data, sizeof data);
            _exit(0);
        }
        waitpid(g, &st, 0);
        report("child after the grandchild", "data's first half", data, PAGES * PAGE / 2);
        report("child after the grandchild", "data's second half", data + PAGES * PAGE / 2, PAGES * PAGE / 2);
        fflush(stdout);
        _exit(0);
    }
    waitpid(pid, &st, 0);
    report("parent after both", "data", data, sizeof data);
}

static void bigFork(size_t mb) {
    size_t n = mb << 20;
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(1); }
    memset(p, 1, n);
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid == 0) { p[n / 2] = 2; _exit(0); }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int st;
    waitpid(pid, &st, 0);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    p[0] = 3;
    fprintf(stderr, "fork of %zu MiB touched: fork returned after %.3f ms, child reaped after %.3f ms\n", mb,
            (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
            (t2.tv_sec - t0.tv_sec) * 1e3 + (t2.tv_nsec - t0.tv_nsec) / 1e6);
}

// A child that only reads its parent's MB MiB: under --memory smaller
// than twice that, both live, since a page is counted once until copied.
static void readingChild(size_t mb) {
    size_t n = mb << 20;
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(1); }
    memset(p, 1, n);
    pid_t pid = fork();
    if (pid == 0) {
        size_t sum = 0;
        for (size_t i = 0; i < n; i += 512) sum += (unsigned char)p[i];
        printf("child read %zu\n", sum);
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("child %s %d\n", WIFEXITED(st) ? "exit" : "killed by signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    memset(p, 2, n);
    printf("parent wrote its %zu MiB\n", mb);
}

// Forty private mappings apart (a page of no access between each), each
// holding more than a 64 KiB granule of data, so that fork shares them all:
// more calls than a stub's batch takes at once (the child's mirror in two
// batches; the parent's write-protection too many to ride on its next RUN).
// Each side then writes its own.
static void manyMappings(void) {
    enum { N = 40, LEN = 20 * PAGE, STEP = LEN + PAGE };
    char *base = mmap(NULL, (size_t)N * STEP, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) { printf("many: mmap failed\n"); return; }
    for (int i = 0; i < N; i++) {
        if (mprotect(base + (size_t)i * STEP, LEN, PROT_READ | PROT_WRITE) != 0) { printf("many: mprotect failed\n"); return; }
        memset(base + (size_t)i * STEP, 'a' + i % 26, LEN);
    }
    pid_t pid = fork();
    if (pid == 0) {
        int bad = 0;
        for (int i = 0; i < N; i++) {
            char *p = base + (size_t)i * STEP, buf[16];
            if (strcmp(holds(p, LEN, buf), (char[]){ 'a', 'l', 'l', ' ', (char)('a' + i % 26), 0 }) != 0) bad++;
            memset(p, 'Z', LEN);
        }
        _exit(bad);
    }
    for (int i = 0; i < N; i++) memset(base + (size_t)i * STEP + (i % 2) * PAGE, 'P', PAGE);
    int st, bad = 0;
    waitpid(pid, &st, 0);
    for (int i = 0; i < N; i++) {
        char *p = base + (size_t)i * STEP;
        for (int j = 0; j < 20; j++) {
            char want = j == i % 2 ? 'P' : (char)('a' + i % 26), buf[16];
            if (strcmp(holds(p + (size_t)j * PAGE, PAGE, buf), (char[]){ 'a', 'l', 'l', ' ', want, 0 }) != 0) bad++;
        }
    }
    printf("many mappings: child %s %d, parent's pages wrong %d\n", WIFEXITED(st) ? "exit" : "signal",
           WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), bad);
    munmap(base, (size_t)N * STEP);
}

// A signal sent at once after fork, often before the child first runs: its
// frame goes on the child's stack, shared copy-on-write, and its handler
// writes into shared memory; the parent's copy stays as it was.
static void earlyHandler(int sig) { (void)sig; memset(bss, 'h', PAGE); handled = 1; }

static void earlySignal(void) {
    memset(bss, 'e', sizeof bss);
    signal(SIGUSR1, earlyHandler);
    handled = 0;
    pid_t pid = fork();
    if (pid == 0) {
        while (!handled) { }
        char buf[16];
        _exit(strcmp(holds(bss, PAGE, buf), "all h") == 0 && strcmp(holds(bss + PAGE, sizeof bss - PAGE, buf), "all e") == 0 ? 0 : 1);
    }
    kill(pid, SIGUSR1);
    int st;
    waitpid(pid, &st, 0);
    char buf[16];
    printf("early signal: child %s %d, parent holds %s\n", WIFEXITED(st) ? "exit" : "signal",
           WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), holds(bss, sizeof bss, buf));
    signal(SIGUSR1, SIG_DFL);
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "bigfork") == 0) { bigFork((size_t)atol(argv[2])); return 0; }
    if (argc > 2 && strcmp(argv[1], "readers") == 0) { readingChild((size_t)atol(argv[2])); return 0; }
    setvbuf(stdout, NULL, _IOLBF, 0);
    turns();
    kernelWrites();
    mappingCalls();
    vforkAndGrandchildren();
    manyMappings();
    earlySignal();
    return 0;
}
