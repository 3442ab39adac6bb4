#define _GNU_SOURCE
// CPU affinity as the code running sees it: pinned to each allowed CPU in
// turn, the thread runs there, and sched_getcpu (glibc reads rseq's
// cpu_id), the getcpu syscall and the rseq area's cpu_id all name that
// CPU; a second thread and a fork child pinned apart agree as well; a mask
// of several CPUs keeps the thread inside it. Prints no CPU numbers: the
// lines are the same on any machine, so the native run is the reference.
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static cpu_set_t allowed;

static int rseq_cpu(void) {
    if (__rseq_size == 0) return -2;
    struct rseq *r = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
    return (int)*(volatile __u32 *)&r->cpu_id;
}

static int sys_getcpu(void) {
    unsigned cpu = ~0u;
    return syscall(SYS_getcpu, &cpu, NULL, NULL) == 0 ? (int)cpu : -1;
}

static volatile unsigned long sink;
static void spin(void) {
    for (int round = 0; round < 5; round++) {
        for (unsigned long i = 0; i < 2000000; i++) sink += i;
        sched_yield();
    }
}

// Pinned to each allowed CPU in turn: how many CPUs were tried and how many
// times all three answers named the CPU pinned to (with rseq: or without it).
static void pin_each(const char *who) {
    int tried = 0, agreed = 0;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &allowed)) continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(c, &one);
        if (sched_setaffinity(0, sizeof one, &one) != 0) { perror("sched_setaffinity"); continue; }
        tried++;
        spin();
        int a = sched_getcpu(), b = sys_getcpu(), r = rseq_cpu();
        if (a == c && b == c && (r == c || r == -2)) agreed++;
        else printf("%s: pinned to %d: sched_getcpu %d getcpu %d rseq %d\n", who, c, a, b, r);
    }
    printf("%s: every allowed CPU agreed: %d (of %s)\n", who, tried > 0 && agreed == tried, tried == CPU_COUNT(&allowed) ? "all" : "some");
    sched_setaffinity(0, sizeof allowed, &allowed);
}

static void *thread_main(void *arg) { pin_each(arg); return NULL; }

int main(void) {
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) { perror("sched_getaffinity"); return 1; }
    printf("rseq registered: %d\n", __rseq_size > 0);
    pin_each("main");

    pthread_t th;
    pthread_create(&th, NULL, thread_main, "thread");
    pthread_join(th, NULL);

    // A child inherits the mask and runs inside it.
    int last = -1;
    for (int c = 0; c < CPU_SETSIZE; c++) if (CPU_ISSET(c, &allowed)) last = c;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(last, &one);
    sched_setaffinity(0, sizeof one, &one);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        cpu_set_t got;
        sched_getaffinity(0, sizeof got, &got);
        spin();
        int ok = CPU_EQUAL(&got, &one) && sched_getcpu() == last && sys_getcpu() == last && (rseq_cpu() == last || rseq_cpu() == -2);
        printf("child inherits the mask and runs in it: %d\n", ok);
        fflush(stdout);
        sched_setaffinity(0, sizeof allowed, &allowed);
        pin_each("child");
        fflush(stdout);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    sched_setaffinity(0, sizeof allowed, &allowed);

    // Back to every CPU: a mask of all of them, and the thread stays inside it.
    spin();
    int c = sched_getcpu();
    printf("unpinned: inside the mask: %d\n", c >= 0 && CPU_ISSET(c, &allowed) && sys_getcpu() >= 0 && CPU_ISSET(sys_getcpu(), &allowed));
    return 0;
}
