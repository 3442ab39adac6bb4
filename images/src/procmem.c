// process_madvise, process_mrelease, remap_file_pages, set_thread_area and
// get_thread_area (ENOSYS on x86-64), adjtimex and clock_adjtime, and the features the sandbox
// refuses (perf_event_open, bpf, userfaultfd, memfd_secret) as
// Linux 6.1 answers a process first with root's capabilities, then as
// nobody. Lines starting "6.1:" are where the host's newer kernel (or its
// settings: perf_event_paranoid, secretmem) answers otherwise; the
// test compares the rest with the native run.
#define _GNU_SOURCE
#include <asm/ldt.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void check(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
    else printf("%s: %ld\n", what, r);
}

static long pidfd_open(pid_t pid) { return syscall(SYS_pidfd_open, pid, 0); }

static void madvise_tests(const char *who, int self) {
    char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    m[0] = 1;
    struct iovec v[2] = {{m, 4096}, {m + 2 * 4096, 4096}};
    char what[128];
    snprintf(what, sizeof what, "%s: process_madvise COLD", who);
    long r = syscall(SYS_process_madvise, self, v, 2, MADV_COLD, 0);
    if (strcmp(who, "nobody") == 0) printf("6.1: "), fflush(stdout);   // 6.13 lets a process advise itself
    check(what, r);
    snprintf(what, sizeof what, "%s: process_madvise DONTNEED", who);
    printf("6.1: "), fflush(stdout);   // later kernels take MADV_DONTNEED too
    check(what, syscall(SYS_process_madvise, self, v, 2, MADV_DONTNEED, 0));
    snprintf(what, sizeof what, "%s: process_madvise flags", who);
    check(what, syscall(SYS_process_madvise, self, v, 2, MADV_COLD, 1));
    snprintf(what, sizeof what, "%s: process_madvise bad fd", who);
    check(what, syscall(SYS_process_madvise, 99, v, 2, MADV_COLD, 0));
    snprintf(what, sizeof what, "%s: process_madvise not a pidfd", who);
    check(what, syscall(SYS_process_madvise, 1, v, 2, MADV_COLD, 0));
    snprintf(what, sizeof what, "%s: process_madvise 1025 ranges", who);
    check(what, syscall(SYS_process_madvise, self, v, 1025, MADV_COLD, 0));
    munmap(m, 3 * 4096);
}

int main(void) {
    int self = pidfd_open(getpid());

    // process_mrelease: a live process is EINVAL, one whose memory is gone ESRCH.
    check("process_mrelease self", syscall(SYS_process_mrelease, self, 0));
    check("process_mrelease flags", syscall(SYS_process_mrelease, self, 1));
    check("process_mrelease bad fd", syscall(SYS_process_mrelease, 99, 0));
    pid_t child = fork();
    if (child == 0) { pause(); _exit(0); }
    int cfd = pidfd_open(child);
    check("process_mrelease live child", syscall(SYS_process_mrelease, cfd, 0));
    kill(child, SIGKILL);
    siginfo_t si;
    waitid(P_PIDFD, cfd, &si, WEXITED | WNOWAIT);
    check("process_mrelease zombie", syscall(SYS_process_mrelease, cfd, 0));
    waitpid(child, NULL, 0);

    madvise_tests("root", self);

    // remap_file_pages: a shared mapping of a file shows page 2 first.
    int mf = memfd_create("pages", 0);
    char page[4096];
    for (int i = 0; i < 3; i++) { memset(page, 'A' + i, sizeof page); write(mf, page, sizeof page); }
    char *sm = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mf, 0);
    check("remap_file_pages page 2 to the start", remap_file_pages(sm, 4096, 0, 2, 0));
    printf("pages now %c%c%c\n", sm[0], sm[4096], sm[8192]);
    check("remap_file_pages unaligned start and size", remap_file_pages(sm + 4096 + 5, 4096 + 7, 0, 0, 0));
    printf("pages now %c%c%c\n", sm[0], sm[4096], sm[8192]);
    sm[4096] = 'x';
    char back;
    pread(mf, &back, 1, 0);
    printf("a write through the remapped page reaches file page 0: %c\n", back);
    check("remap_file_pages prot", remap_file_pages(sm, 4096, PROT_READ, 0, 0));
    check("remap_file_pages size 0", remap_file_pages(sm, 0, 0, 0, 0));
    check("remap_file_pages past the mapping", remap_file_pages(sm, 4 * 4096, 0, 0, 0));
    char *pm = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, mf, 0);
    check("remap_file_pages private", remap_file_pages(pm, 4096, 0, 1, 0));
    munmap(pm, 4096);
    check("remap_file_pages unmapped", remap_file_pages(pm, 4096, 0, 1, 0));

    // The i386 TLS calls have no entry in the x86-64 table.
    struct user_desc d = {.entry_number = -1, .base_addr = 0x12345000, .limit = 0xfffff, .seg_32bit = 1};
    check("set_thread_area", syscall(SYS_set_thread_area, &d));
    check("get_thread_area", syscall(SYS_get_thread_area, &d));

    // adjtimex: reading is allowed; root's invalid changes fail validation first.
    struct timex tx = {0};
    long st = adjtimex(&tx);
    printf("6.1: adjtimex read: %ld status %#x tick %ld constant %ld\n", st, tx.status, tx.tick, tx.constant);
    tx = (struct timex){.modes = ADJ_OFFSET_SS_READ};
    check("adjtimex ADJ_OFFSET_SS_READ ok", adjtimex(&tx) >= 0 ? 0 : -1);
    tx = (struct timex){.modes = ADJ_TICK, .tick = 5};
    check("root: adjtimex bad tick", adjtimex(&tx));
    tx = (struct timex){.modes = ADJ_FREQUENCY, .freq = 1L << 60};
    check("root: adjtimex bad frequency", adjtimex(&tx));
    tx = (struct timex){.modes = ADJ_SETOFFSET, .time = {.tv_sec = 0, .tv_usec = 1000000}};
    check("root: adjtimex bad offset", adjtimex(&tx));
    tx = (struct timex){.modes = 0x8000};
    check("adjtimex ADJ_ADJTIME alone", adjtimex(&tx));
    check("adjtimex bad address", syscall(SYS_adjtimex, (void *)8));
    tx = (struct timex){0};
    check("clock_adjtime REALTIME ok", syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx) >= 0 ? 0 : -1);
    check("clock_adjtime MONOTONIC", syscall(SYS_clock_adjtime, CLOCK_MONOTONIC, &tx));
    check("clock_adjtime 10", syscall(SYS_clock_adjtime, 10, &tx));
    check("clock_adjtime 100", syscall(SYS_clock_adjtime, 100, &tx));
    check("clock_adjtime a CPU clock", syscall(SYS_clock_adjtime, -6, &tx));
    check("clock_adjtime a bad fd clock", syscall(SYS_clock_adjtime, (~99 << 3) | 3, &tx));
    check("clock_adjtime MONOTONIC bad address", syscall(SYS_clock_adjtime, CLOCK_MONOTONIC, (void *)8));

    // Now as nobody.
    if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) { perror("drop"); return 1; }
    madvise_tests("nobody", self);
    tx = (struct timex){.modes = ADJ_FREQUENCY, .freq = 10};
    check("nobody: adjtimex set frequency", adjtimex(&tx));
    tx = (struct timex){.modes = ADJ_OFFSET_SINGLESHOT, .offset = 10};
    check("nobody: adjtimex singleshot", adjtimex(&tx));
    tx = (struct timex){.modes = ADJ_OFFSET_SS_READ};
    check("nobody: adjtimex ADJ_OFFSET_SS_READ ok", adjtimex(&tx) >= 0 ? 0 : -1);
    tx = (struct timex){.modes = ADJ_TICK, .tick = 5};
    check("nobody: adjtimex bad tick", adjtimex(&tx));

    char attr[128] = {0};
    *(unsigned *)(attr + 4) = sizeof attr;   // PERF_TYPE_HARDWARE, CPU cycles
    printf("6.1: "), fflush(stdout);
    check("nobody: perf_event_open", syscall(SYS_perf_event_open, attr, 0, -1, -1, 0));
    check("nobody: perf_event_open flags", syscall(SYS_perf_event_open, attr, 0, -1, -1, 0x100));
    char battr[128] = {0};
    printf("6.1: "), fflush(stdout);   // later kernels check the attributes first (EINVAL)
    check("nobody: bpf BPF_MAP_CREATE", syscall(SYS_bpf, 0, battr, sizeof battr));
    check("nobody: bpf BPF_PROG_LOAD", syscall(SYS_bpf, 5, battr, sizeof battr));
    check("nobody: userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC));
    printf("6.1: "), fflush(stdout);
    check("nobody: memfd_secret", syscall(SYS_memfd_secret, 0));
    return 0;
}
