// Host system calls that glibc lacks or declares variadic.
#include <zlib.h>
#include <pthread.h>
#include "CSwitch.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sched.h>
#include <poll.h>
#include <sys/wait.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <time.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <sys/socket.h>
#include <unistd.h>

long sw_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how = { .flags = flags, .mode = mode, .resolve = resolve };
    long r = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    return r < 0 ? -errno : r;
}

long sw_faccessat2(int dirfd, const char *path, int mode, int flags) {
    long r = syscall(SYS_faccessat2, dirfd, path, mode, flags);
    return r < 0 ? -errno : r;
}

long sw_getdents64(int fd, void *buf, size_t len) {
    long r = syscall(SYS_getdents64, fd, buf, len);
    return r < 0 ? -errno : r;
}

int sw_open_rdonly(const char *path) {
    int r = open(path, O_RDONLY | O_CLOEXEC);
    return r < 0 ? -errno : r;
}

int sw_ioctl_ptr(int fd, unsigned long req, void *arg) {
    int r = ioctl(fd, req, arg);
    return r < 0 ? -errno : r;
}

int sw_fcntl_int(int fd, int cmd, int arg) {
    int r = fcntl(fd, cmd, arg);
    return r < 0 ? -errno : r;
}

int sw_memfd(const char *name) {
    int r = memfd_create(name, MFD_CLOEXEC);
    return r < 0 ? -errno : r;
}

long sw_statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *out) {
    long r = syscall(SYS_statx, dirfd, path, flags, mask, out);
    return r < 0 ? -errno : r;
}

int sw_punch_hole(int fd, uint64_t offset, uint64_t len) {
    int r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)len);
    return r < 0 ? -errno : 0;
}

int sw_sud_available(void) {
    // PR_SYS_DISPATCH_OFF is accepted wherever the feature is built in.
    return prctl(59 /* PR_SET_SYSCALL_USER_DISPATCH */, 0, 0, 0, 0) == 0;
}

int sw_sysinfo(struct sysinfo *info) { return sysinfo(info) < 0 ? -errno : 0; }

int sw_membarrier_global(void) { return syscall(SYS_membarrier, 1 /* MEMBARRIER_CMD_GLOBAL */, 0, 0) < 0 ? -errno : 0; }

static cpu_set_t sentry_cpus;
static int sentry_cpus_error;
static pthread_once_t sentry_cpus_once = PTHREAD_ONCE_INIT;
static void sentry_cpus_init(void) {
    if (sched_getaffinity(0, sizeof(sentry_cpus), &sentry_cpus) < 0) sentry_cpus_error = errno;
}

long sw_affinity_mask(uint64_t *mask) {
    pthread_once(&sentry_cpus_once, sentry_cpus_init);
    if (sentry_cpus_error) return -sentry_cpus_error;
    memcpy(mask, &sentry_cpus, sizeof(*mask));
    return 0;
}

long sw_set_affinity(int tid, uint64_t mask, int reset) {
    pthread_once(&sentry_cpus_once, sentry_cpus_init);
    if (sentry_cpus_error) return -sentry_cpus_error;
    cpu_set_t set;
    if (reset) {
        set = sentry_cpus;
    } else {
        uint64_t own;
        memcpy(&own, &sentry_cpus, sizeof(own));
        mask &= own;
        if (mask == 0) return -EINVAL;
        CPU_ZERO(&set);
        memcpy(&set, &mask, sizeof(mask));
    }
    return sched_setaffinity(tid, sizeof(set), &set) < 0 ? -errno : 0;
}

// The calling thread's host tid, kept per thread: the sentry asks at every
// task's start and exit, and its threads outlive their tasks (TaskThreads).
// A child of fork(2) starts with its own (the atfork handler clears the
// copy); the vfork child that execs a stub never asks.
static __thread int sw_tid_cached;
static void sw_tid_forget(void) { sw_tid_cached = 0; }
__attribute__((constructor)) static void sw_tid_at_fork(void) { pthread_atfork(NULL, NULL, sw_tid_forget); }
int sw_gettid(void) {
    int tid = sw_tid_cached;
    if (tid == 0) sw_tid_cached = tid = (int)syscall(SYS_gettid);
    return tid;
}

// Extended attributes of a host file, named by path (the sentry passes /proc/self/fd/N of an O_PATH fd).
long sw_getxattr(const char *path, const char *name, void *value, unsigned long size) {
    long r = getxattr(path, name, value, size);
    return r < 0 ? -errno : r;
}
long sw_listxattr(const char *path, char *list, unsigned long size) {
    long r = listxattr(path, list, size);
    return r < 0 ? -errno : r;
}
long sw_setxattr(const char *path, const char *name, const void *value, unsigned long size, int flags) {
    return setxattr(path, name, value, size, flags) < 0 ? -errno : 0;
}
long sw_removexattr(const char *path, const char *name) {
    return removexattr(path, name) < 0 ? -errno : 0;
}

// glibc's getcpu goes through the vDSO: no system call.
long sw_getcpu(unsigned *cpu, unsigned *node) {
    return getcpu(cpu, node) < 0 ? -errno : 0;
}

// glibc's sched_getcpu reads the thread's own rseq area when glibc
// registered one (2.35 and later do), else the vDSO.
unsigned sw_current_cpu(void) {
    int c = sched_getcpu();
    return c < 0 ? 0 : (unsigned)c;
}

int sw_ppoll(struct pollfd *fds, unsigned long n, int64_t timeout_ns) {
    struct timespec ts, *tp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tp = &ts;
    }
    int r = ppoll(fds, n, tp, NULL);
    return r < 0 ? -errno : r;
}

int sw_accept4(int fd, void *addr, unsigned *len) {
    // SOCK_NONBLOCK | SOCK_CLOEXEC, at once: no window where a fork inherits it.
    long r = syscall(SYS_accept4, fd, addr, len, 04000 | 02000000);
    return r < 0 ? -errno : (int)r;
}

int sw_eventfd(void) {
    int r = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return r < 0 ? -errno : r;
}

uint32_t sw_atomic_load32(const void *p) {
    return __atomic_load_n((const uint32_t *)p, __ATOMIC_SEQ_CST);
}

int sw_atomic_cas32(void *p, uint32_t expected, uint32_t desired) {
    return __atomic_compare_exchange_n((uint32_t *)p, &expected, desired, 0,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

void sw_atomic_store32(void *p, uint32_t v) { __atomic_store_n((uint32_t *)p, v, __ATOMIC_SEQ_CST); }
uint64_t sw_atomic_load64(const void *p) { return __atomic_load_n((const uint64_t *)p, __ATOMIC_SEQ_CST); }
void sw_atomic_store64(void *p, uint64_t v) { __atomic_store_n((uint64_t *)p, v, __ATOMIC_SEQ_CST); }

int sw_signal_ignored(int sig) {
    struct sigaction act;
    return sigaction(sig, NULL, &act) == 0 && act.sa_handler == SIG_IGN;
}

long sw_futex_wake(uint32_t *word) {
    long r = syscall(SYS_futex, word, 1 /* FUTEX_WAKE */, 1, NULL, NULL, 0);
    return r < 0 ? -errno : r;
}

long sw_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    struct timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };
    long r = syscall(SYS_futex, word, 0 /* FUTEX_WAIT */, expected, timeout_ns >= 0 ? &ts : NULL, NULL, 0);
    return r < 0 ? -errno : r;
}

long sw_futex_wake_private(uint32_t *word) {
    long r = syscall(SYS_futex, word, 1 | 128 /* FUTEX_WAKE_PRIVATE */, 1, NULL, NULL, 0);
    return r < 0 ? -errno : r;
}

long sw_futex_wait_private(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    struct timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };
    long r = syscall(SYS_futex, word, 0 | 128 /* FUTEX_WAIT_PRIVATE */, expected, timeout_ns >= 0 ? &ts : NULL, NULL, 0);
    return r < 0 ? -errno : r;
}

long sw_futex_wait_sentry(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline.
    struct timespec ts;
    if (timeout_ns >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + timeout_ns % 1000000000;
        ts.tv_sec += timeout_ns / 1000000000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
    }
    long r = syscall(SYS_futex, word, 9 /* FUTEX_WAIT_BITSET */, expected, timeout_ns >= 0 ? &ts : NULL, NULL, 2);
    return r < 0 ? -errno : r;
}

long sw_futex_wake_stub(uint32_t *word) {
    long r = syscall(SYS_futex, word, 10 /* FUTEX_WAKE_BITSET */, 1, NULL, NULL, 1);
    return r < 0 ? -errno : r;
}

long sw_futex_requeue_one(uint32_t *word, uint32_t *target, uint32_t expected) {
    // nr_wake 0, nr_requeue 1 (passed in the timeout slot, as the ABI says).
    long r = syscall(SYS_futex, word, 4 /* FUTEX_CMP_REQUEUE */, 0, (void *)1, target, expected);
    return r < 0 ? -errno : r;
}

uint32_t sw_atomic_or32(void *p, uint32_t bits) { return __atomic_fetch_or((uint32_t *)p, bits, __ATOMIC_SEQ_CST); }
uint32_t sw_atomic_xchg32(void *p, uint32_t v) { return __atomic_exchange_n((uint32_t *)p, v, __ATOMIC_SEQ_CST); }

int sw_pidfd_open(pid_t pid) {
    long r = syscall(SYS_pidfd_open, pid, 0);
    return r < 0 ? -errno : (int)r;
}

int sw_pidfd_exited(int pidfd, int64_t timeout_ns) {
    struct pollfd p = { pidfd, POLLIN, 0 };
    return sw_ppoll(&p, 1, timeout_ns) > 0;
}

void sw_pause(void) { __builtin_ia32_pause(); }

int sw_pidfd_reap(int pidfd) {
    siginfo_t info;
    return waitid((idtype_t)3 /* P_PIDFD */, (id_t)pidfd, &info, WEXITED | __WALL) < 0 ? -errno : 0;
}

long sw_renameat2(int olddir, const char *oldpath, int newdir, const char *newpath, unsigned int flags) {
    long r = syscall(SYS_renameat2, olddir, oldpath, newdir, newpath, flags);
    return r < 0 ? -errno : r;
}

int sw_fcntl_ptr(int fd, int cmd, void *arg) {
    return fcntl(fd, cmd, arg);
}

int sw_fallocate(int fd, int mode, int64_t offset, int64_t len) {
    long r = syscall(SYS_fallocate, fd, mode, offset, len);
    return r < 0 ? -errno : 0;
}

uint64_t sw_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

long sw_readv_nowait(int fd, const struct iovec *iov, int count, int socket) {
    if (socket) {
        struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)count};
        long r = recvmsg(fd, &m, MSG_DONTWAIT);
        return r < 0 ? -errno : r;
    }
    // preadv2's offset -1 is the file position (pos_l; pos_h is unused on 64-bit).
    long r = syscall(SYS_preadv2, fd, iov, count, -1L, 0L, 0x8 /* RWF_NOWAIT */);
    return r < 0 ? -errno : r;
}

int sw_sync_file_range(int fd, int64_t offset, int64_t len, unsigned int flags) {
    long r = syscall(SYS_sync_file_range, fd, offset, len, flags);
    return r < 0 ? -errno : 0;
}

// ---- process_vm_exec (patched kernels, images/kernel) ----

// XSAVE component 9, PKRU: left out of the images' loads and saves, since
// the kernel loads the guest's value itself (process_vm_exec_context.pkru)
// only while guest code runs.
#define XFEATURE_PKRU 9
#define XFEATURES_BUT_PKRU (~(1ull << XFEATURE_PKRU))

static inline void xsave_but_pkru(void *area) {
    __asm__ volatile("xsave64 (%0)" :: "r"(area), "a"((uint32_t)XFEATURES_BUT_PKRU), "d"((uint32_t)(XFEATURES_BUT_PKRU >> 32)) : "memory");
}
static inline void xrstor_but_pkru(const void *area) {
    __asm__ volatile("xrstor64 (%0)" :: "r"(area), "a"((uint32_t)XFEATURES_BUT_PKRU), "d"((uint32_t)(XFEATURES_BUT_PKRU >> 32)) : "memory");
}

size_t sw_xsave_size(void) {
    unsigned a = 0xd, b = 0, c = 0, d = 0;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return b;
}

static uint64_t xcr0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

// Where an XSAVE image (standard format) keeps PKRU, or 0 when the kernel
// has not enabled protection keys (OSPKE: without it RDPKRU faults and the
// kernel ignores the context's PKRU) or XSAVE does not manage PKRU.
static size_t pkru_offset(void) {
    static long known = -1;
    if (known < 0) {
        unsigned a = 7, b = 0, c = 0, d = 0;
        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        int ospke = (c >> 4) & 1;
        a = 0xd; b = 0; c = XFEATURE_PKRU; d = 0;
        if (ospke && (xcr0() & 1ull << XFEATURE_PKRU)) __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        known = b;
    }
    return (size_t)known;
}

int sw_host_protection_keys(void) { return pkru_offset() != 0; }

void sw_xsave_init(void *area, size_t size) {
    memset(area, 0, size);
    *(uint16_t *)area = 0x37f;                       // FCW
    *(uint32_t *)((char *)area + 24) = 0x1f80;       // MXCSR
    // PKRU as a fresh exec gets it (the kernel's init_pkru_value), which is
    // the sentry's own: equal values cost no PKRU write per call.
    size_t pkru_at = pkru_offset();
    if (pkru_at && pkru_at + 4 <= size) {
        uint32_t pkru;
        __asm__ volatile("rdpkru" : "=a"(pkru) : "c"(0) : "rdx");
        *(uint32_t *)((char *)area + pkru_at) = pkru;
        *(uint64_t *)((char *)area + 512) |= 1ull << XFEATURE_PKRU;   // XSTATE_BV
    }
}

// A guest's XSAVE image (from a signal frame it wrote) made safe for XRSTOR:
// only features this CPU has enabled, standard format, no reserved bits.
void sw_xsave_sanitize(void *area, size_t size) {
    if (size < 576) return;
    uint32_t *mxcsr = (uint32_t *)((char *)area + 24);
    *mxcsr &= 0xffff;
    uint64_t *header = (uint64_t *)((char *)area + 512);
    header[0] &= xcr0();   // XSTATE_BV
    for (int i = 1; i < 8; i++) header[i] = 0;   // XCOMP_BV and the reserved words
}

// Of the sentry's own FPU state only what the C ABI says a call preserves
// needs restoring: the MXCSR and x87 control words. Vector registers are the
// caller's to lose. PKRU never changes here: the guest's goes to the kernel
// in the context and comes back in it (into the image, where signal frames
// and sigreturn find it), and the kernel writes PKRU only when the guest's
// value differs from the sentry's (QEMU flushes its whole TLB on every
// change), putting the sentry's back before it touches the sentry's memory.
long sw_vmexec_run(long nr, pid_t pid, sw_vmexec_context *ctx, siginfo_t *info, const uint64_t *mask, void *guest_fpu) {
    uint32_t mxcsr;
    uint16_t fcw;
    uint64_t *xstate_bv = (uint64_t *)((char *)guest_fpu + 512);
    size_t pkru_at = pkru_offset();
    // A component absent from XSTATE_BV is in its initial state: PKRU 0.
    ctx->pkru = pkru_at && (*xstate_bv & 1ull << XFEATURE_PKRU) ? *(uint32_t *)((char *)guest_fpu + pkru_at) : 0;
    __asm__ volatile("stmxcsr %0\n fnstcw %1" : "=m"(mxcsr), "=m"(fcw));
    xrstor_but_pkru(guest_fpu);
    long r;
    register long r10 __asm__("r10") = (long)info;
    register long r8 __asm__("r8") = (long)mask;
    register long r9 __asm__("r9") = 8;
    __asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"((long)pid), "S"(ctx), "d"(0L), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    xsave_but_pkru(guest_fpu);
    // An empty x87 stack and the sentry's own control words, as the ABI expects.
    __asm__ volatile("fninit\n fldcw %1\n ldmxcsr %0" :: "m"(mxcsr), "m"(fcw));
    if (pkru_at) {
        *(uint32_t *)((char *)guest_fpu + pkru_at) = ctx->pkru;
        *xstate_bv |= 1ull << XFEATURE_PKRU;
    }
    return r;
}

int sw_setns_net(int fd) { return setns(fd, CLONE_NEWNET) < 0 ? -errno : 0; }

int sw_siginfo_value_int(const siginfo_t *info) { return info->si_value.sival_int; }

// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the one iSCSI and
// ext4 use: with SSE4.2 one crc32 instruction per 8 bytes (several GB/s, so
// checking a page store costs little next to copying it); a table per byte
// on a host without it.
static uint32_t crc32c_table[256];
static int crc32c_hw = -1;

// Three streams at once: the crc32 instruction's latency is three times
// its throughput, so one dependent chain uses a third of the unit. A buffer
// is taken in blocks of 3 x CRC32C_LANE bytes, the second and third lanes
// started from a zero register, and the three folded together: the register
// is linear in (register, data), so R(r, A|B|C) = Z2(R(r, A)) ^ Z1(R(0, B)) ^
// R(0, C), where Zk appends k x CRC32C_LANE zero bytes (a 32x32 matrix over
// GF(2), made once, as zlib's crc32_combine makes its operators).
#define CRC32C_LANE 1024
static uint32_t crc32c_zeros1[32], crc32c_zeros2[32];

static uint32_t gf2_times(const uint32_t *mat, uint32_t vec) {
    uint32_t sum = 0;
    for (; vec; vec >>= 1, mat++) if (vec & 1) sum ^= *mat;
    return sum;
}

// out = a after b (both operators; out may not alias either).
static void gf2_compose(uint32_t *out, const uint32_t *a, const uint32_t *b) {
    for (int i = 0; i < 32; i++) out[i] = gf2_times(a, b[i]);
}

static void crc32c_make_zeros(void) {
    uint32_t bit[32], byte[32], t[32], acc[32];
    // One zero bit: the reflected register shifts right, the polynomial folded in from bit 0.
    bit[0] = 0x82F63B78u;
    for (int i = 1; i < 32; i++) bit[i] = 1u << (i - 1);
    gf2_compose(t, bit, bit);      // 2 bits
    gf2_compose(byte, t, t);       // 4 bits
    memcpy(t, byte, sizeof t);
    gf2_compose(byte, t, t);       // 8 bits: one zero byte
    // acc = byte^CRC32C_LANE by squaring (CRC32C_LANE is a power of two).
    memcpy(acc, byte, sizeof acc);
    for (int n = 1; n < CRC32C_LANE; n *= 2) {
        gf2_compose(t, acc, acc);
        memcpy(acc, t, sizeof acc);
    }
    memcpy(crc32c_zeros1, acc, sizeof acc);
    gf2_compose(crc32c_zeros2, acc, acc);
}

static void crc32c_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
        crc32c_table[i] = c;
    }
    crc32c_make_zeros();
    // SSE4.2 (CPUID.1:ECX bit 20) asked here, at the first checksum, with
    // one cpuid: __builtin_cpu_supports would link libgcc's
    // __cpu_indicator_init, a constructor that runs a dozen cpuids at every
    // start, each a VM exit of about 10 us on a virtual machine.
    unsigned a = 1, b = 0, c = 0, d = 0;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    __atomic_store_n(&crc32c_hw, (int)((c >> 20) & 1), __ATOMIC_RELEASE);
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t c, const unsigned char *b, size_t n) {
    for (; n >= 3 * CRC32C_LANE; n -= 3 * CRC32C_LANE, b += 3 * CRC32C_LANE) {
        uint64_t a = c, m = 0, z = 0;
        for (size_t i = 0; i < CRC32C_LANE; i += 8) {
            uint64_t wa, wm, wz;
            memcpy(&wa, b + i, 8);
            memcpy(&wm, b + CRC32C_LANE + i, 8);
            memcpy(&wz, b + 2 * CRC32C_LANE + i, 8);
            a = __builtin_ia32_crc32di(a, wa);
            m = __builtin_ia32_crc32di(m, wm);
            z = __builtin_ia32_crc32di(z, wz);
        }
        c = gf2_times(crc32c_zeros2, (uint32_t)a) ^ gf2_times(crc32c_zeros1, (uint32_t)m) ^ (uint32_t)z;
    }
    uint64_t c64 = c;
    for (; n >= 8; n -= 8, b += 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        c64 = __builtin_ia32_crc32di(c64, w);
    }
    c = (uint32_t)c64;
    for (; n > 0; n--, b++) c = __builtin_ia32_crc32qi(c, *b);
    return c;
}

uint32_t sw_crc32c(uint32_t crc, const void *p, size_t n) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, crc32c_init);
    const unsigned char *b = p;
    uint32_t c = ~crc;
    if (__atomic_load_n(&crc32c_hw, __ATOMIC_ACQUIRE) == 1) c = crc32c_sse42(c, b, n);
    else for (size_t i = 0; i < n; i++) c = crc32c_table[(c ^ b[i]) & 0xff] ^ (c >> 8);
    return ~c;
}

int sw_all_zero(const void *p, size_t n) {
    const unsigned char *b = p;
    if (n == 0) return 1;
    // The first byte is zero and every byte equals the one after it.
    return b[0] == 0 && memcmp(b, b + 1, n - 1) == 0;
}

size_t sw_deflate_bound(size_t n) { return compressBound(n); }

int sw_deflate(void *dst, size_t *dst_len, const void *src, size_t n) {
    uLongf len = *dst_len;
    // Level 1: the image is written while the sandbox is frozen, speed first.
    int r = compress2(dst, &len, src, n, 1);
    *dst_len = len;
    return r;
}

int sw_inflate(void *dst, size_t *dst_len, const void *src, size_t n) {
    uLongf len = *dst_len;
    int r = uncompress(dst, &len, src, n);
    *dst_len = len;
    return r;
}


long sw_open_watch(const char *path) {
    long fd = syscall(SYS_inotify_init1, IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return -errno;
    if (syscall(SYS_inotify_add_watch, (int)fd, path, IN_OPEN | IN_CLOSE) < 0) {
        int e = errno;
        close((int)fd);
        return -e;
    }
    return fd;
}

#ifndef SPLICE_F_NONBLOCK
#define SPLICE_F_NONBLOCK 0x02
#endif

long sw_tee_nonblock(int in, int out, unsigned long len) {
    long r = syscall(SYS_tee, in, out, len, SPLICE_F_NONBLOCK);
    return r < 0 ? -errno : r;
}

long sw_pipe2(int *fds, int flags) {
    long r = syscall(SYS_pipe2, fds, flags);
    return r < 0 ? -errno : r;
}
