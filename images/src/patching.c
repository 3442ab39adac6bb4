// Syscall sites that systrap patches (`mov $nr, %eax; syscall`), run the
// ways patching must not be seen: threads racing through a site while it
// is patched, a JIT that writes, runs and rewrites its code, signals that
// interrupt a patched blocking call (SA_RESTART or not, and the rip its
// handler sees), fork and exec of a patched image. Everything it prints is
// what Linux gives, except `code`, which says what a guest reading its own
// code sees (README, "Syscall patching").
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

// The sites, written out so that their bytes are known: b8 imm32 0f 05.
extern const unsigned char getppid_site[], read_syscall[];
__attribute__((noinline)) static long site_getppid(void) {
    long r;
    __asm__ volatile(".globl getppid_site\n getppid_site: mov $110, %%eax\n syscall" : "=a"(r) : : "rcx", "r11", "memory");
    return r;
}
__attribute__((noinline)) static long site_read(int fd, void *buf, size_t n) {
    long r;
    __asm__ volatile("mov $0, %%eax\n .globl read_syscall\n read_syscall: syscall"
                     : "=a"(r) : "D"((long)fd), "S"(buf), "d"(n) : "rcx", "r11", "memory");
    return r;
}

static int code(void) {
    for (int i = 0; i < 10; i++) site_getppid();
    printf("getppid site: %s\n", getppid_site[0] == 0xe9 ? "patched (jmp)" : getppid_site[0] == 0xb8 ? "original (mov)" : "other");
    printf("syscall instruction kept: %s\n", getppid_site[5] == 0x0f && getppid_site[6] == 0x05 ? "yes" : "no");
    return 0;
}

enum { THREADS = 4, CALLS = 5000 };
static pthread_barrier_t start;
static long want_ppid;
static void *racer(void *arg) {
    long *wrong = arg;
    pthread_barrier_wait(&start);
    for (int i = 0; i < CALLS; i++) if (site_getppid() != want_ppid) (*wrong)++;
    return NULL;
}
static int threads(void) {
    want_ppid = getppid();
    pthread_t t[THREADS];
    long wrong[THREADS] = {0};
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, racer, &wrong[i]);
    long all = 0;
    for (int i = 0; i < THREADS; i++) { pthread_join(t[i], NULL); all += wrong[i]; }
    printf("threads: %d calls through one site, %ld wrong\n", THREADS * CALLS, all);
    return all != 0;
}

static int jit(void) {
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char *p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    static const unsigned char getpid_code[] = { 0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xc3 };   // mov $39,%eax; syscall; ret
    memcpy(p + 64, getpid_code, sizeof getpid_code);
    if (mprotect(p, pg, PROT_READ | PROT_EXEC)) { perror("mprotect rx"); return 1; }
    long (*f)(void) = (long (*)(void))(p + 64);
    int bad = 0;
    for (int i = 0; i < 10; i++) if (f() != getpid()) bad++;
    printf("jit getpid: %s\n", bad ? "wrong" : "ok");
    if (mprotect(p, pg, PROT_READ | PROT_WRITE)) { perror("mprotect rw"); return 1; }
    printf("jit code made writable again:");
    for (int i = 0; i < 8; i++) printf(" %02x", p[64 + i]);
    printf("\n");
    p[65] = 110;   // getppid
    if (mprotect(p, pg, PROT_READ | PROT_EXEC)) { perror("mprotect rx 2"); return 1; }
    bad = 0;
    for (int i = 0; i < 10; i++) if (f() != getppid()) bad++;
    printf("jit rewritten to getppid: %s\n", bad ? "wrong" : "ok");
    return 0;
}

static volatile sig_atomic_t got;
static volatile unsigned long handler_rip;
static void on_alarm(int sig, siginfo_t *si, void *ucv) {
    (void)sig; (void)si;
    ucontext_t *uc = ucv;
    handler_rip = uc->uc_mcontext.gregs[REG_RIP];
    got = 1;
}
static int pipefd[2];
static void *late_writer(void *arg) {
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    while (!got) usleep(1000);
    usleep(20000);
    if (write(pipefd[1], "x", 1) != 1) perror("write");
    return NULL;
}
// One blocking read at the patched site, interrupted by SIGALRM. Returns
// 0 if the signal came while the read was blocked (what is reported), -1 if
// it came elsewhere (a loaded machine ran late): the caller tries again.
static int interrupted_read(int flags, const char *name) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_alarm;
    sa.sa_flags = SA_SIGINFO | flags;
    sigaction(SIGALRM, &sa, NULL);
    got = 0;
    handler_rip = 0;
    char c = 0;
    // Warm the site up (systrap patches it on its second trap).
    if (write(pipefd[1], "ab", 2) != 2) perror("write");
    site_read(pipefd[0], &c, 1);
    site_read(pipefd[0], &c, 1);
    pthread_t w;
    pthread_create(&w, NULL, late_writer, NULL);
    struct itimerval it = { { 0, 0 }, { 0, 100000 } };
    setitimer(ITIMER_REAL, &it, NULL);
    long r = site_read(pipefd[0], &c, 1);
    pthread_join(w, NULL);
    if (r != 1) site_read(pipefd[0], &c, 1);   // the late byte
    const char *where = handler_rip == (unsigned long)read_syscall ? "the syscall (restart)"
                        : handler_rip == (unsigned long)read_syscall + 2 ? "after the syscall" : NULL;
    if (!where) return -1;
    if (r == 1) printf("%s: read %ld byte '%c', handler saw rip at %s\n", name, r, c, where);
    else printf("%s: read %s, handler saw rip at %s\n", name, r == -EINTR ? "-EINTR" : "something else", where);
    return 0;
}
static int signals(void) {
    if (pipe(pipefd)) { perror("pipe"); return 1; }
    int tries = 0;
    while (interrupted_read(SA_RESTART, "SA_RESTART") && ++tries < 20) {}
    while (interrupted_read(0, "no SA_RESTART") && ++tries < 40) {}
    return tries >= 40;
}

static int forks(const char *self) {
    long pid = getpid();
    for (int i = 0; i < 10; i++) site_getppid();
    pid_t c = fork();
    if (c == 0) {
        int bad = 0;
        for (int i = 0; i < 1000; i++) if (site_getppid() != pid) bad++;
        printf("fork child: 1000 calls of the parent's site, %d wrong\n", bad);
        fflush(stdout);
        _exit(bad != 0);
    }
    int st;
    waitpid(c, &st, 0);
    printf("parent: child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    fflush(stdout);
    c = fork();
    if (c == 0) {
        execl(self, self, "exec", (char *)NULL);
        _exit(127);
    }
    waitpid(c, &st, 0);
    printf("parent: exec'd child exited %d, our site still works: %s\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
           site_getppid() == getppid() ? "yes" : "no");
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(mode, "code")) return code();
    if (!strcmp(mode, "threads")) return threads();
    if (!strcmp(mode, "jit")) return jit();
    if (!strcmp(mode, "signals")) return signals();
    if (!strcmp(mode, "fork")) return forks(argv[0]);
    if (!strcmp(mode, "exec")) {
        // A new image is a fresh copy of the file: no patch of the old one.
        printf("exec'd image: site bytes %s\n", getppid_site[0] == 0xb8 ? "as in the file" : "changed");
        int bad = 0;
        for (int i = 0; i < 100; i++) if (site_getppid() != getppid()) bad++;
        printf("exec'd image: 100 calls, %d wrong\n", bad);
        return 0;
    }
    fprintf(stderr, "usage: patching code|threads|jit|signals|fork\n");
    return 2;
}
