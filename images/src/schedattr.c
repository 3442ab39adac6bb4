// sched_setattr/sched_getattr (Linux 6.1): the struct's size rules (E2BIG
// with the kernel's size written back), flag and parameter validation,
// SCHED_FLAG_KEEP_POLICY/KEEP_PARAMS, nice through sched_attr, agreement
// with sched_getscheduler/getpriority, utilization clamps (EOPNOTSUPP on a
// kernel without CONFIG_UCLAMP_TASK), SCHED_DEADLINE's parameters, and what
// an unprivileged process may not do. Written to hold as root or not.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sched.h>

#define R(x) ({ long r_ = (long)(x); (int)(r_ < 0 ? -errno : r_); })

struct attr {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
    uint32_t util_min, util_max;
    unsigned char extra[16];
};

static int set(pid_t pid, struct attr *a, unsigned flags) { return R(syscall(SYS_sched_setattr, pid, a, flags)); }
static int get(pid_t pid, struct attr *a, unsigned size, unsigned flags) { return R(syscall(SYS_sched_getattr, pid, a, size, flags)); }

static void show(const char *what) {
    struct attr a;
    memset(&a, 0xee, sizeof a);
    int rc = get(0, &a, 56, 0);
    // Kernels after 6.1 report a fair task's slice as its runtime; 6.1 reports 0: only a deadline task's is shown.
    unsigned long long runtime = a.policy == SCHED_DEADLINE ? a.runtime : 0;
    printf("%s: get %d size %u policy %u flags %#llx nice %d prio %u rt %llu dl %llu per %llu util %u %u; getscheduler %#x nice %d\n",
           what, rc, a.size, a.policy, (unsigned long long)a.flags, a.nice, a.priority, runtime,
           (unsigned long long)a.deadline, (unsigned long long)a.period, a.util_min, a.util_max, sched_getscheduler(0),
           getpriority(PRIO_PROCESS, 0));
}

static struct attr mk(uint32_t policy, uint64_t flags, int nice, uint32_t prio) {
    struct attr a;
    memset(&a, 0, sizeof a);
    a.size = 56; a.policy = policy; a.flags = flags; a.nice = nice; a.priority = prio;
    return a;
}

static void unprivileged(void) {
    struct attr a;
    // 65534 (nobody): no capabilities left after setuid.
    if (setgid(65534) || setuid(65534)) { printf("setuid failed\n"); return; }
    printf("unpriv: nice 5: %d\n", (a = mk(SCHED_OTHER, 0, 5, 0), set(0, &a, 0)));
    printf("unpriv: nice 2 (lower): %d\n", (a = mk(SCHED_OTHER, 0, 2, 0), set(0, &a, 0)));
    printf("unpriv: nice 7: %d\n", (a = mk(SCHED_OTHER, 0, 7, 0), set(0, &a, 0)));
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_RTPRIO, &rl);
    printf("unpriv: FIFO 1 without RLIMIT_RTPRIO: %d\n", (a = mk(SCHED_FIFO, 0, 0, 1), set(0, &a, 0)));
    a = mk(SCHED_DEADLINE, 0, 0, 0);
    a.runtime = 1000000; a.deadline = 10000000; a.period = 10000000;
    printf("unpriv: DEADLINE: %d\n", set(0, &a, 0));
    printf("unpriv: util clamp: %d\n", (a = mk(SCHED_OTHER, SCHED_FLAG_UTIL_CLAMP_MIN, 7, 0), set(0, &a, 0)));
    printf("unpriv: RESET_ON_FORK: %d\n", (a = mk(SCHED_BATCH, SCHED_FLAG_RESET_ON_FORK, 7, 0), set(0, &a, 0)));
    printf("unpriv: dropping RESET_ON_FORK: %d\n", (a = mk(SCHED_BATCH, 0, 7, 0), set(0, &a, 0)));
    printf("unpriv: IDLE: %d\n", (a = mk(SCHED_IDLE, SCHED_FLAG_RESET_ON_FORK, 0, 0), set(0, &a, 0)));
    printf("unpriv: back to OTHER from IDLE: %d\n", (a = mk(SCHED_OTHER, SCHED_FLAG_RESET_ON_FORK, 7, 0), set(0, &a, 0)));
    printf("unpriv: the parent: %d\n", (a = mk(SCHED_OTHER, 0, 0, 0), set(getppid(), &a, 0)));
    show("unpriv");
}

int main(void) {
    struct attr a;
    int rc;
    show("start");
    // Argument checks.
    printf("NULL attr: %d\n", R(syscall(SYS_sched_setattr, 0, NULL, 0)));
    printf("flags 1: %d\n", (a = mk(SCHED_OTHER, 0, 0, 0), set(0, &a, 1)));
    printf("pid -1: %d\n", (a = mk(SCHED_OTHER, 0, 0, 0), set(-1, &a, 0)));
    printf("no such pid: %d\n", (a = mk(SCHED_OTHER, 0, 0, 0), set(99999, &a, 0)));
    printf("bad address: %d\n", set(0, (struct attr *)8, 0));
    // Sizes: 0 is VER0; below 48 or above a page E2BIG with 56 written back.
    a = mk(SCHED_OTHER, 0, 0, 0); a.size = 0;
    rc = set(0, &a, 0);
    printf("size 0: %d size now %u\n", rc, a.size);
    a = mk(SCHED_OTHER, 0, 0, 0); a.size = 40;
    rc = set(0, &a, 0);
    printf("size 40: %d size now %u\n", rc, a.size);
    a = mk(SCHED_OTHER, 0, 0, 0); a.size = 8192;
    rc = set(0, &a, 0);
    printf("size 8192: %d size now %u\n", rc, a.size);
    a = mk(SCHED_OTHER, 0, 0, 0); a.size = 64;
    rc = set(0, &a, 0);
    printf("size 64 zero tail: %d size now %u\n", rc, a.size);
    a = mk(SCHED_OTHER, 0, 0, 0); a.size = 64; a.extra[3] = 1;
    rc = set(0, &a, 0);
    printf("size 64 non-zero tail: %d size now %u\n", rc, a.size);
    a = mk(SCHED_OTHER, SCHED_FLAG_UTIL_CLAMP_MAX, 0, 0); a.size = 48;
    printf("clamp with VER0: %d\n", set(0, &a, 0));
    // Policies, priorities, flags.
    printf("policy -1: %d\n", (a = mk((uint32_t)-1, 0, 0, 0), set(0, &a, 0)));
    printf("policy 4: %d\n", (a = mk(4, 0, 0, 0), set(0, &a, 0)));
    printf("policy 7: %d\n", (a = mk(7, 0, 0, 0), set(0, &a, 0)));
    printf("flag 0x80: %d\n", (a = mk(SCHED_OTHER, 0x80, 0, 0), set(0, &a, 0)));
    printf("OTHER prio 1: %d\n", (a = mk(SCHED_OTHER, 0, 0, 1), set(0, &a, 0)));
    printf("FIFO prio 0: %d\n", (a = mk(SCHED_FIFO, 0, 0, 0), set(0, &a, 0)));
    printf("FIFO prio 100: %d\n", (a = mk(SCHED_FIFO, 0, 0, 100), set(0, &a, 0)));
    a = mk(SCHED_DEADLINE, 0, 0, 0);
    printf("DEADLINE zero deadline: %d\n", set(0, &a, 0));
    a.runtime = 100; a.deadline = 1000000; a.period = 1000000;
    printf("DEADLINE tiny runtime: %d\n", set(0, &a, 0));
    a.runtime = 2000000;
    printf("DEADLINE runtime > deadline: %d\n", set(0, &a, 0));
    a.runtime = 10000; a.deadline = 50000; a.period = 50000;
    printf("DEADLINE period below 100us: %d\n", set(0, &a, 0));
    a.runtime = 10000; a.deadline = 50000000000ull; a.period = 0;
    printf("DEADLINE period above 4s: %d\n", set(0, &a, 0));
    a.runtime = 10000; a.deadline = 2000000; a.period = 1000000;
    printf("DEADLINE period < deadline: %d\n", set(0, &a, 0));
    printf("util clamp min: %d\n", (a = mk(SCHED_OTHER, SCHED_FLAG_UTIL_CLAMP_MIN, 0, 0), set(0, &a, 0)));
    // Nice through sched_attr, clamped to [-20, 19]; BATCH; KEEP_POLICY and KEEP_PARAMS.
    printf("OTHER nice 3: %d\n", (a = mk(SCHED_OTHER, 0, 3, 0), set(0, &a, 0)));
    show("nice 3");
    printf("BATCH nice 100: %d\n", (a = mk(SCHED_BATCH, 0, 100, 0), set(0, &a, 0)));
    show("batch 19");
    printf("KEEP_POLICY nice 4: %d\n", (a = mk(SCHED_IDLE, SCHED_FLAG_KEEP_POLICY, 4, 0), set(0, &a, 0)));
    show("keep policy");
    printf("KEEP_PARAMS IDLE: %d\n", (a = mk(SCHED_IDLE, SCHED_FLAG_KEEP_PARAMS, 12, 0), set(0, &a, 0)));
    show("keep params");
    printf("IDLE nice 6: %d\n", (a = mk(SCHED_IDLE, 0, 6, 0), set(0, &a, 0)));
    show("idle");
    printf("OTHER|RESET_ON_FORK nice 8: %d\n", (a = mk(SCHED_OTHER, SCHED_FLAG_RESET_ON_FORK, 8, 0), set(0, &a, 0)));
    show("reset on fork");
    struct sched_param sp = {0};
    printf("setscheduler BATCH keeps nice: %d\n", R(sched_setscheduler(0, SCHED_BATCH, &sp)));
    show("setscheduler");
    setpriority(PRIO_PROCESS, 0, 10);
    show("setpriority 10");
    // getattr's sizes and checks.
    memset(&a, 0xee, sizeof a);
    rc = get(0, &a, 48, 0);
    printf("getattr size 48: %d size %u util_min %#x\n", rc, a.size, a.util_min);
    memset(&a, 0xee, sizeof a);
    rc = get(0, &a, 72, 0);
    // 6.1 leaves a larger buffer's tail alone; later kernels (copy_struct_to_user) zero it: not shown.
    printf("getattr size 72: %d size %u\n", rc, a.size);
    printf("getattr size 47: %d\n", get(0, &a, 47, 0));
    printf("getattr size 4097: %d\n", get(0, &a, 4097, 0));
    printf("getattr flags 1: %d\n", get(0, &a, 56, 1));
    printf("getattr NULL: %d\n", R(syscall(SYS_sched_getattr, 0, NULL, 56, 0)));
    printf("getattr pid -1: %d\n", get(-1, &a, 56, 0));
    printf("getattr no such pid: %d\n", get(99999, &a, 56, 0));
    printf("getattr bad address: %d\n", get(0, (struct attr *)8, 56, 0));
    printf("OTHER nice 0: %d\n", (a = mk(SCHED_OTHER, 0, 0, 0), set(0, &a, 0)));
    fflush(stdout);
    if (fork() == 0) { unprivileged(); fflush(stdout); _exit(0); }
    wait(NULL);
    // SCHED_DEADLINE needs CAP_SYS_NICE; a deadline task cannot fork.
    a = mk(SCHED_DEADLINE, 0, 0, 0);
    a.runtime = 1000000; a.deadline = 10000000; a.period = 20000000;
    rc = set(0, &a, 0);
    printf("DEADLINE 1ms/10ms/20ms: %d\n", rc);
    if (rc == 0) {
        show("deadline");
        printf("DEADLINE fork: %d\n", R(fork()));
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(0, &one);
        printf("DEADLINE narrowing affinity: %d\n", R(sched_setaffinity(0, sizeof one, &one)));
        a = mk(SCHED_DEADLINE, 0, 0, 0);
        a.runtime = 900000000; a.deadline = 1000000000; a.period = 1000000000;
        printf("DEADLINE 90%%: %d\n", set(0, &a, 0));
        printf("back to OTHER: %d\n", (a = mk(SCHED_OTHER, 0, 0, 0), set(0, &a, 0)));
        show("after deadline");
    }
    return 0;
}
