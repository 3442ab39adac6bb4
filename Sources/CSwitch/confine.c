// Loading a host seccomp filter built by the sentry (Platform/HostFilter.swift).
#include "CSwitch.h"
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

long sw_install_filter(const void *program, unsigned short count, int all_threads) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
    struct sock_fprog prog = { .len = count, .filter = (struct sock_filter *)program };
    long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, all_threads ? SECCOMP_FILTER_FLAG_TSYNC : 0, &prog);
    if (rc < 0) return -errno;
    // TSYNC: the id of a thread that could not take the filter.
    return rc > 0 ? -ESRCH : 0;
}
