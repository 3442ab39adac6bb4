// The scheduler calls: policies and priorities with their validation,
// nice values (setpriority/getpriority), affinity and getcpu.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define R(x) ({ long r_ = (long)(x); (int)(r_ < 0 ? -errno : r_); })

static int setsched(pid_t pid, int policy, int prio) {
    struct sched_param p = {prio};
    return R(syscall(SYS_sched_setscheduler, pid, policy, &p));
}

int main(void) {
    struct sched_param p = {-1};
    printf("policy: %d\n", sched_getscheduler(0));
    printf("getparam: %d, prio %d\n", R(sched_getparam(0, &p)), p.sched_priority);
    // (7 is SCHED_EXT on kernels after 6.1, which Linux 6.1 does not know.)
    int policies[] = {SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, 4, SCHED_IDLE, 6, 8, -1};
    for (int i = 0; i < 9; i++)
        printf("policy %d: max %d min %d\n", policies[i], R(sched_get_priority_max(policies[i])),
               R(sched_get_priority_min(policies[i])));
    printf("OTHER prio 1: %d\n", setsched(0, SCHED_OTHER, 1));
    printf("FIFO prio 0: %d\n", setsched(0, SCHED_FIFO, 0));
    printf("FIFO prio 100: %d\n", setsched(0, SCHED_FIFO, 100));
    printf("policy 4: %d\n", setsched(0, 4, 0));
    printf("DEADLINE: %d\n", setsched(0, SCHED_DEADLINE, 0));
    printf("policy -1: %d\n", setsched(0, -1, 0));
    printf("pid -1: %d\n", setsched(-1, SCHED_OTHER, 0));
    printf("no such pid: %d\n", setsched(99999, SCHED_OTHER, 0));
    printf("NULL param: %d\n", R(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL)));
    printf("getscheduler -1: %d\n", R(sched_getscheduler(-1)));
    printf("getparam NULL: %d\n", R(syscall(SYS_sched_getparam, 0, NULL)));

    printf("BATCH|RESET_ON_FORK: %d\n", setsched(0, SCHED_BATCH | SCHED_RESET_ON_FORK, 0));
    printf("policy now %#x\n", sched_getscheduler(0));
    struct timespec ts;
    // A fair-class slice depends on the kernel's scheduler (CFS in 6.1, EEVDF later): only the call is compared.
    printf("rr interval of BATCH: %d\n", R(sched_rr_get_interval(0, &ts)));
    fflush(stdout);
    if (fork() == 0) {
        printf("child policy %#x\n", sched_getscheduler(0));
        fflush(stdout);
        _exit(0);
    }
    wait(NULL);
    int rc = setsched(0, SCHED_OTHER | SCHED_RESET_ON_FORK, 0);
    printf("back to OTHER: %d, policy %#x\n", rc, sched_getscheduler(0));
    printf("dropping RESET_ON_FORK: %d\n", setsched(0, SCHED_OTHER, 0));

    // Real-time policies need CAP_SYS_NICE or RLIMIT_RTPRIO; the result is compared with Linux's.
    int rt = setsched(0, SCHED_RR, 5);
    printf("RR 5: %d\n", rt);
    if (rt == 0) {
        sched_getparam(0, &p);
        sched_rr_get_interval(0, &ts);
        printf("RR: policy %d prio %d interval %ld.%09ld\n", sched_getscheduler(0), p.sched_priority, ts.tv_sec, ts.tv_nsec);
        p.sched_priority = 7;
        printf("setparam 7: %d\n", R(sched_setparam(0, &p)));
        p.sched_priority = 0;
        printf("setparam 0 for RR: %d\n", R(sched_setparam(0, &p)));
        printf("FIFO 3: %d\n", setsched(0, SCHED_FIFO, 3));
        sched_rr_get_interval(0, &ts);
        printf("FIFO interval %ld.%09ld\n", ts.tv_sec, ts.tv_nsec);
        setsched(0, SCHED_OTHER, 0);
    }

    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0);
    printf("getpriority: %d errno %d\n", base, errno);
    rc = R(setpriority(PRIO_PROCESS, 0, base + 5));
    printf("setpriority +5: %d, now %d\n", rc, getpriority(PRIO_PROCESS, 0));
    rc = R(setpriority(PRIO_PROCESS, 0, 100));
    printf("setpriority 100 (clamped): %d, now %d\n", rc, getpriority(PRIO_PROCESS, 0));
    fflush(stdout);
    if (fork() == 0) {
        printf("child nice %d\n", getpriority(PRIO_PROCESS, 0));
        printf("child lowering nice: %d\n", R(setpriority(PRIO_PROCESS, 0, 0)));
        fflush(stdout);
        _exit(0);
    }
    wait(NULL);
    fflush(stdout);
    if (fork() == 0) {   // alone in a process group of its own
        setpgid(0, 0);
        setpriority(PRIO_PGRP, 0, 12);
        printf("own pgrp nice: %d\n", getpriority(PRIO_PGRP, 0));
        fflush(stdout);
        _exit(0);
    }
    wait(NULL);
    printf("no such pid: %d\n", R(setpriority(PRIO_PROCESS, 99999, 0)));
    printf("which 7: %d\n", R(setpriority(7, 0, 0)));
    errno = 0;
    getpriority(PRIO_USER, 0);   // every process of the uid: the host's differ from the sandbox's
    printf("user nice errno %d\n", errno);

    cpu_set_t all, one;
    sched_getaffinity(0, sizeof all, &all);
    int first = -1;
    for (int i = 0; i < CPU_SETSIZE && first < 0; i++) if (CPU_ISSET(i, &all)) first = i;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    printf("setaffinity one cpu: %d\n", R(sched_setaffinity(0, sizeof one, &one)));
    cpu_set_t now;
    sched_getaffinity(0, sizeof now, &now);
    printf("affinity count %d, is the first: %s\n", CPU_COUNT(&now), CPU_ISSET(first, &now) ? "yes" : "no");
    unsigned cpu = 999;
    rc = R(syscall(SYS_getcpu, &cpu, NULL, NULL));
    printf("getcpu: %d, on it: %s\n", rc, cpu == (unsigned)first ? "yes" : "no");
    cpu_set_t none;
    CPU_ZERO(&none);
    printf("setaffinity empty: %d\n", R(sched_setaffinity(0, sizeof none, &none)));
    printf("getaffinity len 4: %d\n", R(syscall(SYS_sched_getaffinity, 0, 4, &now)));
    printf("getaffinity len 12: %d\n", R(syscall(SYS_sched_getaffinity, 0, 12, &now)));
    sched_setaffinity(0, sizeof all, &all);
    printf("restored: %s\n", (sched_getaffinity(0, sizeof now, &now), CPU_EQUAL(&now, &all)) ? "yes" : "no");
    return 0;
}
