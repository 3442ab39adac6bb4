#define _GNU_SOURCE
#include <sys/time.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/statfs.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <signal.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <stdio.h>
/* Struct arguments as strace decodes them: run with a scratch file path. */
int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/tmp/structs-file";
    struct itimerval it = {{0, 0}, {0, 0}}, old;
    syscall(SYS_getitimer, ITIMER_REAL, &old);
    it.it_value.tv_sec = 100; it.it_interval.tv_usec = 5000;
    syscall(SYS_setitimer, ITIMER_REAL, &it, &old);
    it.it_value.tv_sec = 0; it.it_interval.tv_usec = 0;
    syscall(SYS_setitimer, ITIMER_REAL, &it, NULL);
    struct timeval tv; struct timezone tz;
    syscall(SYS_gettimeofday, &tv, &tz);
    struct rusage ru; syscall(SYS_getrusage, RUSAGE_CHILDREN, &ru);
    struct tms t; syscall(SYS_times, &t);
    static char altstack[65536]; stack_t ss = { .ss_sp = altstack, .ss_size = 65536, .ss_flags = 0 }, oss;
    syscall(SYS_sigaltstack, &ss, &oss);
    syscall(SYS_sigaltstack, NULL, &oss);
    uid_t r, e, s; syscall(SYS_getresuid, &r, &e, &s); syscall(SYS_getresgid, &r, &e, &s);
    gid_t groups[8]; int n = syscall(SYS_getgroups, 0, NULL); syscall(SYS_getgroups, 8, groups);
    struct sched_param sp; syscall(SYS_sched_getparam, 0, &sp);
    struct timespec ts; syscall(SYS_sched_rr_get_interval, 0, &ts);
    syscall(SYS_time, NULL);
    unsigned cpu, node; syscall(SYS_getcpu, &cpu, &node, NULL);
    static struct timespec req = {0, 1000}, rem; syscall(SYS_nanosleep, &req, &rem);
    syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, &rem);
    int fd = open(path, O_CREAT | O_WRONLY, 0644); close(fd);
    struct timeval tvs[2] = {{1, 2}, {3, 4}}; syscall(SYS_utimes, path, tvs);
    struct utimbuf ub = {5, 6}; syscall(SYS_utime, path, &ub);
    struct timespec tss[2] = {{7, UTIME_NOW}, {8, UTIME_OMIT}}; syscall(SYS_utimensat, AT_FDCWD, path, tss, 0);
    struct timespec tss2[2] = {{7, 9}, {8, 10}}; syscall(SYS_utimensat, AT_FDCWD, path, tss2, 0);
    syscall(SYS_utimensat, AT_FDCWD, path, NULL, 0);
    int ep = epoll_create1(0); int p[2]; pipe(p); write(p[1], "x", 1);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 7}; epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    struct epoll_event out[4]; syscall(SYS_epoll_wait, ep, out, 4, 0);
    syscall(SYS_epoll_pwait, ep, out, 4, 0, NULL, 8);
    return n < 0;
}
