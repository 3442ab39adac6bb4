// Linux AIO through the raw syscalls (as libaio makes them): a context's
// ring, reads and writes at offsets (plain and vectored), fsync, an
// eventfd told of each completion, batches that stop at a bad iocb, and
// the errnos of fs/aio.c, io_pgetevents's signal mask and the signals that
// cut either call short. Compared with Linux's output. Run in a writable
// directory.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static void check(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
    else printf("%s: %ld\n", what, r);
}

static aio_context_t ctx;
static long setup(unsigned n, aio_context_t *c) { return syscall(SYS_io_setup, n, c); }
static long submit(aio_context_t c, long n, struct iocb **v) { return syscall(SYS_io_submit, c, n, v); }
static long getevents(aio_context_t c, long min, long n, struct io_event *e, struct timespec *t) {
    return syscall(SYS_io_getevents, c, min, n, e, t);
}

static long pgetevents(aio_context_t c, long min, long n, struct io_event *e, struct timespec *t, void *usig) {
    return syscall(SYS_io_pgetevents, c, min, n, e, t, usig);
}

struct aio_sigset { const sigset_t *sigmask; size_t sigsetsize; };
static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

// One SIGALRM 30 ms from now.
static void alarm_soon(void) {
    struct itimerval it = { .it_value = { 0, 30000 } };
    setitimer(ITIMER_REAL, &it, NULL);
}

static int alrm_blocked(void) {
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    return sigismember(&now, SIGALRM);
}

struct ring { unsigned id, nr, head, tail, magic, compat, incompat, header_length; };

static void reap(const char *what, struct iocb *expect) {
    struct io_event ev[4];
    long n = getevents(ctx, 1, 4, ev, NULL);
    check(what, n);
    for (long i = 0; i < n; i++)
        printf("  event data=%llu obj-is-iocb=%d res=%lld res2=%lld\n", (unsigned long long)ev[i].data,
               ev[i].obj == (uintptr_t)expect, (long long)ev[i].res, (long long)ev[i].res2);
}

int main(int argc, char **argv) {
    if (argc > 1 && chdir(argv[1]) != 0) { perror("chdir"); return 1; }
    aio_context_t bad = 1;
    check("io_setup 0 events", setup(0, &ctx));
    check("io_setup with *ctxp set", setup(8, &bad));
    check("io_setup bad ctxp", setup(8, (aio_context_t *)8));
    check("io_setup 8", setup(8, &ctx));
    struct ring *r = (struct ring *)ctx;
    printf("ring magic %#x head %u tail %u header_length %u\n", r->magic, r->head, r->tail, r->header_length);

    int f = open("aio.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
    write(f, "0123456789abcdef", 16);
    struct iocb w = {.aio_data = 42, .aio_lio_opcode = IOCB_CMD_PWRITE, .aio_fildes = f,
                     .aio_buf = (uintptr_t)"hello aio", .aio_nbytes = 9, .aio_offset = 4};
    struct iocb *v[3] = {&w};
    check("io_submit a write", submit(ctx, 1, v));
    printf("ring head %u tail %u before io_getevents\n", r->head, r->tail);
    reap("io_getevents", &w);
    printf("ring head %u tail %u after\n", r->head, r->tail);
    char buf[32] = {0};
    pread(f, buf, 16, 0);
    printf("file: %s\n", buf);

    char a[6] = {0}, b[6] = {0};
    struct iovec iov[2] = {{a, 5}, {b, 5}};
    struct iocb rv = {.aio_data = 7, .aio_lio_opcode = IOCB_CMD_PREADV, .aio_fildes = f,
                      .aio_buf = (uintptr_t)iov, .aio_nbytes = 2, .aio_offset = 2};
    v[0] = &rv;
    check("io_submit a vectored read", submit(ctx, 1, v));
    reap("io_getevents", &rv);
    printf("a=%s b=%s\n", a, b);
    struct iocb past = {.aio_data = 8, .aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = f,
                        .aio_buf = (uintptr_t)buf, .aio_nbytes = 4, .aio_offset = 100};
    struct iocb sync = {.aio_data = 9, .aio_lio_opcode = IOCB_CMD_FSYNC, .aio_fildes = f};
    struct iocb fault = {.aio_data = 10, .aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = f,
                         .aio_buf = 4096, .aio_nbytes = 4, .aio_offset = 0};
    v[0] = &past; v[1] = &sync; v[2] = &fault;
    check("io_submit three", submit(ctx, 3, v));
    struct io_event ev[8];
    long n = getevents(ctx, 3, 8, ev, NULL);
    check("io_getevents three", n);
    // FSYNC completes from a workqueue in Linux: the order of completions is not the submission's.
    for (long i = 0; i < n; i++)
        for (long j = i + 1; j < n; j++)
            if (ev[j].data < ev[i].data) { struct io_event x = ev[i]; ev[i] = ev[j]; ev[j] = x; }
    for (long i = 0; i < n; i++) printf("  event data=%llu res=%lld\n", (unsigned long long)ev[i].data, (long long)ev[i].res);
    struct timespec zero = {0, 0};
    check("io_getevents, nothing there, zero timeout", getevents(ctx, 1, 8, ev, &zero));
    struct timespec shortwait = {0, 20 * 1000 * 1000};
    check("io_getevents, nothing there, 20 ms", getevents(ctx, 1, 8, ev, &shortwait));

    int efd = eventfd(0, 0);
    struct iocb we = {.aio_data = 11, .aio_lio_opcode = IOCB_CMD_PWRITE, .aio_fildes = f, .aio_buf = (uintptr_t)"x",
                      .aio_nbytes = 1, .aio_offset = 0, .aio_flags = IOCB_FLAG_RESFD, .aio_resfd = efd};
    v[0] = &we;
    check("io_submit with an eventfd", submit(ctx, 1, v));
    uint64_t count = 0;
    read(efd, &count, 8);
    printf("eventfd counted %llu\n", (unsigned long long)count);
    check("io_cancel a completed request", syscall(SYS_io_cancel, ctx, &we, ev));
    reap("io_getevents", &we);

    // Checks, in fs/aio.c's order.
    struct iocb badfd = {.aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = 99, .aio_buf = (uintptr_t)buf, .aio_nbytes = 1};
    struct iocb badop = {.aio_lio_opcode = 99, .aio_fildes = f};
    struct iocb reserved = {.aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = f, .aio_buf = (uintptr_t)buf, .aio_nbytes = 1, .aio_reserved2 = 1};
    struct iocb badresfd = {.aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = f, .aio_buf = (uintptr_t)buf, .aio_nbytes = 1,
                            .aio_flags = IOCB_FLAG_RESFD, .aio_resfd = f};
    int wo = open("aio.dat", O_WRONLY);
    struct iocb wrongmode = {.aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = wo, .aio_buf = (uintptr_t)buf, .aio_nbytes = 1};
    struct iocb kernelbuf = {.aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = f, .aio_buf = 0xffff800000000000ULL, .aio_nbytes = 1};
    struct iocb *one[1];
    one[0] = &badfd; check("a bad fd", submit(ctx, 1, one));
    one[0] = &badop; check("a bad opcode", submit(ctx, 1, one));
    one[0] = &reserved; check("aio_reserved2 set", submit(ctx, 1, one));
    one[0] = &badresfd; check("a resfd that is no eventfd", submit(ctx, 1, one));
    one[0] = &wrongmode; check("a read on a write-only fd", submit(ctx, 1, one));
    one[0] = &kernelbuf; check("a kernel address", submit(ctx, 1, one));
    struct iocb good = {.aio_data = 12, .aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = f, .aio_buf = (uintptr_t)buf, .aio_nbytes = 2};
    v[0] = &good; v[1] = &badfd; v[2] = &good;
    check("a batch stopping at its bad second iocb", submit(ctx, 3, v));
    reap("io_getevents", &good);
    check("io_submit 0", submit(ctx, 0, v));
    check("io_submit -1", submit(ctx, -1, v));
    check("io_submit a bad context", submit(12345, 1, v));
    check("io_submit a bad vector", submit(ctx, 1, (struct iocb **)8));
    check("io_getevents min_nr > nr", getevents(ctx, 2, 1, ev, &zero));
    check("io_getevents a bad context", getevents(12345, 0, 1, ev, &zero));
    check("io_cancel a bad context", syscall(SYS_io_cancel, 12345, &good, ev));

    // A timeout is not range-checked (timespec64_to_ktime): 1 s less 999 ms is 1 ms.
    struct timespec odd = { 1, -999000000 };
    check("io_getevents, a timeout of 1 s and -999 ms", getevents(ctx, 1, 8, ev, &odd));
    // A signal (its handler with SA_RESTART) ends the wait: EINTR, never restarted.
    struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
    sigaction(SIGALRM, &sa, NULL);
    alarm_soon();
    check("io_getevents, a signal", getevents(ctx, 1, 8, ev, NULL));
    printf("alarms %d\n", (int)alarms);
    // io_pgetevents: SIGALRM blocked outside, let in by the call's mask only.
    sigset_t block, open_mask;
    sigemptyset(&block); sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    sigemptyset(&open_mask);
    struct aio_sigset us = { &open_mask, 8 };
    alarm_soon();
    check("io_pgetevents, SIGALRM let in by its mask", pgetevents(ctx, 1, 8, ev, NULL, &us));
    printf("alarms %d, SIGALRM blocked again %d\n", (int)alarms, alrm_blocked());
    // Blocked through the call: the 60 ms timeout ends it, the signal stays pending.
    struct aio_sigset keep = { &block, 8 };
    struct timespec sixty = { 0, 60000000 };
    alarm_soon();
    check("io_pgetevents, SIGALRM kept blocked", pgetevents(ctx, 1, 8, ev, &sixty, &keep));
    sigset_t pending;
    sigpending(&pending);
    printf("alarms %d, SIGALRM pending %d\n", (int)alarms, sigismember(&pending, SIGALRM));
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    printf("alarms %d after unblocking\n", (int)alarms);
    struct aio_sigset nomask = { NULL, 4 }, badsize = { &open_mask, 4 };
    check("io_pgetevents, no mask (its size unread)", pgetevents(ctx, 1, 8, ev, &zero, &nomask));
    check("io_pgetevents, no usig", pgetevents(ctx, 1, 8, ev, &zero, NULL));
    check("io_pgetevents, sigsetsize 4", pgetevents(ctx, 1, 8, ev, &zero, &badsize));
    check("io_pgetevents, a bad usig", pgetevents(ctx, 1, 8, ev, &zero, (void *)8));
    check("io_pgetevents, a bad timeout", pgetevents(ctx, 1, 8, ev, (struct timespec *)8, &us));
    check("io_pgetevents, a bad context", pgetevents(12345, 0, 1, ev, &zero, &us));
    // An event there: io_pgetevents takes it as io_getevents does.
    struct iocb again = {.aio_data = 13, .aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = f, .aio_buf = (uintptr_t)buf, .aio_nbytes = 2};
    v[0] = &again;
    check("io_submit one more", submit(ctx, 1, v));
    long got = pgetevents(ctx, 1, 4, ev, NULL, &us);
    check("io_pgetevents", got);
    for (long i = 0; i < got; i++) printf("  event data=%llu res=%lld\n", (unsigned long long)ev[i].data, (long long)ev[i].res);
    // O_APPEND (the file's flag) and RWF_APPEND (the iocb's) write at the end, whatever the offset.
    int ap = open("aio.dat", O_WRONLY | O_APPEND);
    struct iocb atend = {.aio_data = 14, .aio_lio_opcode = IOCB_CMD_PWRITE, .aio_fildes = ap, .aio_buf = (uintptr_t)"AP", .aio_nbytes = 2};
    struct iocb rwfappend = {.aio_data = 15, .aio_lio_opcode = IOCB_CMD_PWRITE, .aio_fildes = f, .aio_buf = (uintptr_t)"RW", .aio_nbytes = 2,
                             .aio_rw_flags = RWF_APPEND};
    v[0] = &atend; v[1] = &rwfappend;
    check("io_submit two appending writes", submit(ctx, 2, v));
    got = getevents(ctx, 2, 4, ev, NULL);
    for (long i = 0; i < got; i++) printf("  event data=%llu res=%lld\n", (unsigned long long)ev[i].data, (long long)ev[i].res);
    char whole[64] = "";
    long wn = pread(f, whole, sizeof whole - 1, 0);
    printf("file now %ld bytes: %.*s; position %ld\n", wn, (int)(wn > 0 ? wn : 0), whole, (long)lseek(ap, 0, SEEK_CUR));
    close(ap);
    check("io_destroy", syscall(SYS_io_destroy, ctx));
    check("io_destroy again", syscall(SYS_io_destroy, ctx));
    check("io_submit after io_destroy", submit(ctx, 1, v));
    unlink("aio.dat");
    return 0;
}
