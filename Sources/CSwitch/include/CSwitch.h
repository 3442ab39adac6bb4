// CSwitch: the only code that touches raw machine state. Everything here is
// something Swift cannot express: variadic calls (ptrace, syscall, prctl,
// seccomp_rule_add), register layouts, the stub's machine code, fork children
// that may only make raw system calls.
#ifndef CSWITCH_H
#define CSWITCH_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/user.h>
#include <signal.h>
#include <linux/stat.h>     // struct statx (glibc hides it without _GNU_SOURCE)
#include <fcntl.h>
#include <sys/statfs.h>
#include <sys/uio.h>
typedef struct statfs sw_statfs;   // Swift sees the function statfs, not the struct
#include <sys/random.h>
#include <sys/auxv.h>
#include <sys/sysinfo.h>
#include <poll.h>

// Constants Swift's Glibc module hides behind _GNU_SOURCE.
#define SW_O_PATH 010000000
#define SW_AT_EMPTY_PATH 0x1000
#define SW_AT_SYMLINK_NOFOLLOW 0x100

// ---- ptrace (ptrace.c) ----------------------------------------------------

typedef struct user_regs_struct sw_regs;

long sw_ptrace(int request, pid_t pid, unsigned long addr, unsigned long data);
int sw_getregs(pid_t pid, sw_regs *regs);        // PTRACE_GETREGSET NT_PRSTATUS
int sw_setregs(pid_t pid, const sw_regs *regs);  // PTRACE_SETREGSET NT_PRSTATUS
// FPU/vector state as the kernel's XSAVE image (NT_X86_XSTATE). Returns the
// number of bytes the kernel filled, or -errno.
long sw_getfpregs(pid_t pid, void *buf, size_t len);
long sw_setfpregs(pid_t pid, const void *buf, size_t len);
int sw_getsiginfo(pid_t pid, siginfo_t *info);
int sw_sysemu(pid_t pid, int sig);               // PTRACE_SYSEMU
int sw_cont(pid_t pid, int sig);                 // PTRACE_CONT
// PTRACE_SEIZE with options, then PTRACE_INTERRUPT: the tracee stops soon.
int sw_seize(pid_t pid, unsigned long options);
// Writes only rax (PTRACE_POKEUSER): the cheap reply to a trapped syscall.
int sw_set_rax(pid_t pid, uint64_t rax);
// waitpid(__WALL) retrying on EINTR; returns pid or -errno.
pid_t sw_wait(pid_t pid, int *status);

// siginfo accessors: the kernel union is awkward from Swift.
uint64_t sw_siginfo_addr(const siginfo_t *info);
int sw_siginfo_code(const siginfo_t *info);

// ---- the stub (stub.c) ------------------------------------------------------

// Layout of the stub region: code page then data page (the seccomp program).
#define SW_STUB_PAGES 2
#define SW_STUB_DATA_OFFSET 4096
#define SW_STUB_FILTER_OFFSET (SW_STUB_DATA_OFFSET + 64)
#define SW_TASK_SIZE 0x7ffffffff000UL

// The stub's machine code, position independent; copied into the memory file.
// Offsets: the `syscall; int3` gadget, and the clone gadget (parent stops on
// int3, the child spins until a tracer attaches).
const uint8_t *sw_stub_code(size_t *len, size_t *syscall_gadget_offset, size_t *clone_gadget_offset);

// Start a stub process: exec the stub image `elffd` (a memfd holding a tiny
// static ELF: the stub code and data pages) from a vfork child that keeps
// only `memfd` open and is traced by the calling thread (PTRACE_TRACEME).
// Returns the pid, which stops with SIGTRAP after its exec, or -errno.
pid_t sw_stub_spawn(int memfd, int elffd);

// systrap: offsets of the trap handler and of the park entry in the stub code.
size_t sw_systrap_handler_offset(void);
size_t sw_systrap_park_offset(void);
size_t sw_systrap_init_offset(void);
// systrap syscall-site patching: the entry a patched site's trampoline
// jumps to, and the range of stub code a kick may interrupt on that path.
size_t sw_systrap_patched_offset(void);
size_t sw_systrap_patched_after_offset(void);

// The systrap area of one task: 64 KiB, 64 KiB aligned, shared with the
// sentry through the memory file; its upper part is the stub's signal stack.
#define SW_AREA_SIZE 65536
#define SW_AREA_STATE 0        // u32 futex word
#define SW_AREA_SIGNAL 4       // i32: the trap's signal (0: parked, ready)
#define SW_AREA_CODE 8         // i64 si_code
#define SW_AREA_ADDR 16        // u64 si_addr
#define SW_AREA_UC 24          // u64 stub address of the ucontext to resume
#define SW_AREA_FS 32          // u64 FS base to set before resuming
#define SW_AREA_SET_FS 40      // u64 nonzero: set it
#define SW_AREA_REQ_NR 48      // u64 syscall number of a request
#define SW_AREA_REQ_ARGS 56    // u64[6]
#define SW_AREA_REQ_RESULT 104 // u64
#define SW_AREA_SELECTOR 112   // u8 Syscall User Dispatch selector
#define SW_AREA_STACK_T 128    // stack_t for a sibling's sigaltstack
#define SW_AREA_CODE_START 152 // u64 stub code address (SUD allowed region)
#define SW_AREA_CODE_LEN 160   // u64
#define SW_AREA_SENTRY_WAITING 168 // u32: the sentry sleeps: on the state futex (1), or blocked in a guest call (2)
#define SW_SENTRY_BLOCKED 2    // SENTRY_WAITING's value while the task sleeps in the sentry
#define SW_AREA_STUB_WAITING 172   // u32: the stub sleeps on it
#define SW_AREA_SUD_RESULT 176  // i32: what the stub's prctl(PR_SET_SYSCALL_USER_DISPATCH) returned
#define SW_AREA_BATCH_COUNT 184 // u32: entries in a batch request
#define SW_AREA_RUN_TAKEN 192  // u32: the stub has taken the last RUN (set by the stub, cleared by the sentry)
// Patched syscall sites (see Sources/Sentry/Arch/SyscallSite.swift). The
// stub's GS base is its area while the guest's own is 0 (SystrapContext):
// a trampoline finds it with %gs:SELF and checks it with SELF + CHECK ==
// SW_PATCH_MAGIC (a guest with a GS base of its own falls back to its
// original, trapping, syscall).
#define SW_AREA_SELF 200       // u64: the area's own stub address
#define SW_AREA_CHECK 208      // u64: SW_PATCH_MAGIC - SELF
#define SW_AREA_PATCHED 216    // u32: the trap came through a patched site (resume with iretq from PFRAME)
#define SW_AREA_KICKED 220     // u32: a kick came while the stub ran its patched path: report it on resuming
#define SW_AREA_FP_SAVED 224   // u32: XBUF holds the guest's FPU state (FPSAVE); XRSTOR it on resuming
#define SW_AREA_GS 232         // u64 GS base to set before resuming
#define SW_AREA_SET_GS 240     // u64 nonzero: set it
#define SW_AREA_FS_NOW 248     // u64 the FS base at the trap (with SW_AREA_FSGSBASE)
#define SW_AREA_GS_NOW 256     // u64 the GS base at the trap
#define SW_AREA_FSGSBASE 264   // u32 nonzero: user mode has RDFSBASE/RDGSBASE (AT_HWCAP2)
#define SW_AREA_SAME_CPU 268   // u32 nonzero: the stub is held to its sentry thread's CPU, so neither spins for the other
#define SW_AREA_AFTER_RIP 272  // u64: a `syscall; <insn>` site's trap: the rip the guest sees (the syscall's + 2),
#define SW_AREA_AFTER_RESUME 280 // u64: and where the patched return goes instead (the trampoline's replay of <insn>)
#define SW_AREA_RUN_CALLS 288  // u32: BATCH entries the stub runs at RUN before any guest code (it clears
                               // this); one that fails ends them, reported as an interruption (SIGWINCH, code 0)
#define SW_AREA_RSEQ_DROPPED 292 // u32: the stub dropped its host rseq registration as it reported a trap of exit(2)
#define SW_AREA_RSEQ 296       // u64: the guest rseq area the stub has registered with the host (0: none)
#define SW_AREA_RSEQ_SIG 304   // u32: its signature
#define SW_AREA_USAGE_SET 308  // u32: USAGE holds the stub's getrusage(RUSAGE_SELF) from a trap of exit(2) or
                               // exit_group(2) (the stub sets it there and clears it at every RUN)
#define SW_AREA_USAGE 312      // struct rusage (144 bytes): the stub's usage (that trap's, or an emptying batch's)
#define SW_AREA_FAST_CLOCKS 456 // u64: clock ids (a bit each) whose patched clock_gettime the stub makes itself (0: none)
#define SW_AREA_FAST_RIP 464   // u64: that call's return address (rcx at the patched entry)
#define SW_AREA_FAST_RSP 472   // u64: the guest's rsp meanwhile
#define SW_AREA_FAST_FLAGS 480 // u64: the guest's rflags (pushed here with rsp at 488)
// The guest's signal mask kept in the stub (Kernel/GuestSideSignalMask.swift):
// a patched rt_sigprocmask is served there with no hand-off while MASK_ON.
#define SW_AREA_MASK_ON 1704   // u32 nonzero: SIGMASK is the task's mask, the stub's to change; 2: also
                               // at unpatched sites after their SIGSYS (the handler reads the code before them)
#define SW_AREA_FAST_REPORT 1708 // u32: the patched frame is an interruption at the return address, not a trap
#define SW_AREA_SIGMASK 1712   // u64: the task's blocked signals (bit n-1 for signal n)
#define SW_AREA_SIGPENDING 1720 // u64: signals pending for the task or its process (a superset)
#define SW_AREA_FAST_SAVE 1728 // u64[2]: rdx and r8 while the stub serves a call
// The robust-list head a guest's set_robust_list gives, recorded in the stub
// (Kernel/GuestSideRobustList.swift): served there with no hand-off while ROBUST_ON.
#define SW_AREA_ROBUST_ON 1744 // u32 nonzero: the stub serves set_robust_list(head, 24), at patched sites
                               // and after the SIGSYS of the others
#define SW_AREA_ROBUST_SET 1748 // u32: the stub recorded a head in this run (the sentry clears it before)
#define SW_AREA_ROBUST_HEAD 1752 // u64: that head
#define SW_AREA_PFRAME 1344    // a patched trap's registers, as a ucontext (304 bytes)
#define SW_AREA_IRET 1664      // the iretq frame of the patched return (5 u64)
#define SW_AREA_XBUF 4096      // FPSAVE's XSAVE image, 64-byte aligned, up to SW_AREA_XBUF_SIZE
#define SW_AREA_XBUF_SIZE 8192
#define SW_PATCH_MAGIC 0x5e477a11
#define SW_AREA_SCRATCH 512    // the trap handler's struct kernel_sigaction
#define SW_AREA_FRAME 1024     // a fresh ucontext for a task's first run
#define SW_AREA_BATCH 2048     // a batch request: u64[8] entries (nr, args[6], result)
#define SW_AREA_BATCH_MAX 32
#define SW_AREA_STACK 12288    // the signal stack: [12288, 65536)
enum { SW_STATE_RUN = 1, SW_STATE_TRAP = 2, SW_STATE_REQUEST = 3, SW_STATE_DONE = 4, SW_STATE_BATCH = 5,
       SW_STATE_FPSAVE = 6 };

// Shared (not private) futex operations on the sentry's view of an area.
long sw_futex_wake(uint32_t *word);
long sw_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);
// Private futex operations on a word of the sentry's own (a task's waker):
// no shared-mapping lookup. Each wakes one waiter / waits for a relative time (<0: none).
long sw_futex_wake_private(uint32_t *word);
long sw_futex_wait_private(uint32_t *word, uint32_t expected, int64_t timeout_ns);
// Shared-key futex calls for a sleep another thread may move (Kernel/ReadHandoff.swift):
// FUTEX_CMP_REQUEUE of one waiter from `word` (if it still holds `expected`) to
// `target`, waking none.
// A sentry thread's shared-key sleep that a stub's post for its own side
// (sw_futex_wake_stub: FUTEX_WAKE_BITSET) never wakes, though the stub's
// plain FUTEX_WAKE at a trap does; `timeout_ns` relative (-1: none).
long sw_futex_wait_sentry(uint32_t *word, uint32_t expected, int64_t timeout_ns);
long sw_futex_wake_stub(uint32_t *word);
long sw_futex_requeue_one(uint32_t *word, uint32_t *target, uint32_t expected);
// Atomic read-modify-write on a sentry word; each returns the old value.
uint32_t sw_atomic_or32(void *p, uint32_t bits);
uint32_t sw_atomic_xchg32(void *p, uint32_t v);
// pidfd_open(2), and whether the process behind a pidfd has exited.
int sw_pidfd_open(pid_t pid);
int sw_pidfd_exited(int pidfd, int64_t timeout_ns);
// Reaps the (exited) child behind a pidfd: stubs are children of the sentry.
int sw_pidfd_reap(int pidfd);

// ---- seccomp (seccomp.c) ----------------------------------------------------

// Loads a seccomp filter (`count` struct sock_filter at `program`) on the
// calling thread, or on every thread of the process with `all_threads`,
// after setting no_new_privs. 0 or -errno.
long sw_install_filter(const void *program, unsigned short count, int all_threads);

// Lays out the stub's filter: a struct sock_fprog followed by a prefix by
// hand and then `program` (`count` instructions, the rules for the stub's
// own calls), with the program pointer set as it will be seen at
// out_guest_addr. The rules hold only for syscalls made from the page at
// code_page (the stub's code); any other is killed, or with trap_outside
// gets SECCOMP_RET_TRAP (systrap's seccomp variant). Returns bytes written
// or -errno.
long sw_build_stub_filter(const void *program, int count, uint64_t code_page, int trap_outside,
                          void *out, size_t cap, uint64_t out_guest_addr);

// ---- host system calls glibc does not wrap, or wraps variadically (host.c) ---

long sw_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode,
                uint64_t resolve);
long sw_faccessat2(int dirfd, const char *path, int mode, int flags);
long sw_getdents64(int fd, void *buf, size_t len);
long sw_renameat2(int olddir, const char *oldpath, int newdir, const char *newpath, unsigned int flags);
int sw_fcntl_ptr(int fd, int cmd, void *arg);   // fcntl is variadic: record locks
int sw_fallocate(int fd, int mode, int64_t offset, int64_t len);
uint64_t sw_xcr0(void);   // XGETBV(0): the state components the host kernel enabled
int sw_sync_file_range(int fd, int64_t offset, int64_t len, unsigned int flags);   // glibc's needs _GNU_SOURCE
// A read of a host pipe or socket that does not sleep: -EAGAIN if nothing
// is there. A socket is asked with MSG_DONTWAIT, a pipe with RWF_NOWAIT
// (-EOPNOTSUPP on kernels whose pipes cannot say "would block", as 6.1).
long sw_readv_nowait(int fd, const struct iovec *iov, int count, int socket);

// process_vm_exec (patched kernels, images/kernel). The guest's FPU state
// but PKRU is loaded around the call and saved after it (the kernel leaves the FPU as
// the guest left it); of the sentry's own, the control words a call must
// preserve are put back. Images are XSAVE areas, 64-byte aligned.
size_t sw_xsave_size(void);
void sw_xsave_init(void *area, size_t size);
void sw_xsave_sanitize(void *area, size_t size);
// struct process_vm_exec_context (version 2): a version, a size, the
// registers in struct user_regs_struct's layout, and the guest's PKRU, which
// the kernel loads only while guest code runs (the images leave it out).
typedef struct { uint32_t version, size; struct user_regs_struct regs; uint32_t pkru, reserved; } sw_vmexec_context;
long sw_vmexec_run(long nr, pid_t pid, sw_vmexec_context *ctx, siginfo_t *info, const uint64_t *mask, void *guest_fpu);
typedef struct flock sw_flock;   // Swift sees the function flock, not the struct
long sw_statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *out);
int sw_open_rdonly(const char *path);
int sw_ioctl_ptr(int fd, unsigned long req, void *arg);
int sw_fcntl_int(int fd, int cmd, int arg);
int sw_memfd(const char *name);
// fallocate(PUNCH_HOLE|KEEP_SIZE): drop pages so they read back as zeros.
int sw_punch_hole(int fd, uint64_t offset, uint64_t len);
// Whether prctl(PR_SET_SYSCALL_USER_DISPATCH) exists (Linux 5.11+).
int sw_sud_available(void);
int sw_sysinfo(struct sysinfo *info);
/// membarrier(MEMBARRIER_CMD_GLOBAL) on the host: every CPU passes a full
/// barrier (synchronize_rcu) before it returns. 0 or -errno.
int sw_membarrier_global(void);
// The first 64 CPUs of the sentry's affinity mask as it was at the first
// call (sched_getaffinity is _GNU_SOURCE): threads narrowed since for a
// guest's affinity do not narrow it.
long sw_affinity_mask(uint64_t *mask);
// sched_setaffinity of host thread `tid` (0: the caller) to `mask` (the
// first 64 CPUs) within the sentry's own set, or with `reset` to that whole
// set again. 0 or -errno.
long sw_set_affinity(int tid, uint64_t mask, int reset);
// The calling thread's host tid.
int sw_gettid(void);
// Extended attributes of a host file by path; -errno on failure.
long sw_getxattr(const char *path, const char *name, void *value, unsigned long size);
long sw_listxattr(const char *path, char *list, unsigned long size);
long sw_setxattr(const char *path, const char *name, const void *value, unsigned long size, int flags);
long sw_removexattr(const char *path, const char *name);
/// A non-blocking inotify descriptor watching `path` for opens and closes (a host FIFO's partners); -errno.
long sw_open_watch(const char *path);
/// tee(2) of up to `len` bytes with SPLICE_F_NONBLOCK; -errno.
long sw_tee_nonblock(int in, int out, unsigned long len);
/// pipe2(2); -errno.
long sw_pipe2(int *fds, int flags);
// setns(fd, CLONE_NEWNET) (a _GNU_SOURCE call): an OCI bundle's network namespace; -errno on failure.
int sw_setns_net(int fd);
// si_value.sival_int of a sigqueue'd signal.
int sw_siginfo_value_int(const siginfo_t *info);
// The CPU and NUMA node the calling host thread runs on.
long sw_getcpu(unsigned *cpu, unsigned *node);
// Just the CPU, as cheaply as the host allows (every return to an rseq guest asks).
unsigned sw_current_cpu(void);

// ppoll with a nanosecond timeout (-1: none); -errno on failure.

int sw_ppoll(struct pollfd *fds, unsigned long n, int64_t timeout_ns);
// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC (a host socket the sentry keeps); -errno on failure.
int sw_accept4(int fd, void *addr, unsigned *len);
// A nonblocking, close-on-exec eventfd: how a blocked sentry thread is woken.
int sw_eventfd(void);
// Whether the process ignores `sig` (SIG_IGN): comparing handlers is C work.
int sw_signal_ignored(int sig);
// Atomic access to guest words in the memory file (futexes, robust lists).
uint32_t sw_atomic_load32(const void *p);
void sw_pause(void);   // the x86 PAUSE instruction, for spin loops
int sw_atomic_cas32(void *p, uint32_t expected, uint32_t desired);
void sw_atomic_store32(void *p, uint32_t v);
// The same for 64-bit words a stub shares (SW_AREA_SIGMASK, SW_AREA_SIGPENDING).
uint64_t sw_atomic_load64(const void *p);
void sw_atomic_store64(void *p, uint64_t v);
// Whether the host kernel uses protection keys, with which a mapping that
// is PROT_EXEC alone is execute-only: its bytes cannot be read.
int sw_host_protection_keys(void);

// Checkpoint images: CRC32C of a run of bytes, continuing from `crc` (0 to
// start; hardware crc32 where the CPU has SSE4.2), and whether a run is all zeros.
uint32_t sw_crc32c(uint32_t crc, const void *p, size_t n);
int sw_all_zero(const void *p, size_t n);
// A page store's optional compression (zlib, deflate): the room a run may
// need, and one run each way. 0 on success, else zlib's error.
size_t sw_deflate_bound(size_t n);
int sw_deflate(void *dst, size_t *dst_len, const void *src, size_t n);
int sw_inflate(void *dst, size_t *dst_len, const void *src, size_t n);

#endif
