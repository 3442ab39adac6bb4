// The credential calls: ids, groups, capabilities, and what /proc and the
// auxiliary vector say of them. Prints the same natively and in the sandbox
// whatever uid runs it: the privileged part runs only if CAP_SETUID is held.
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int capget_(cap_user_header_t h, cap_user_data_t d) { return syscall(SYS_capget, h, d); }
static int capset_(cap_user_header_t h, cap_user_data_t d) { return syscall(SYS_capset, h, d); }
#define R(x) ({ long r_ = (long)(x); (int)(r_ < 0 ? -errno : r_); })

static void status_line(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key))) fputs(line, stdout);
    if (f) fclose(f);
}

static void caps(const char *what) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    capget_(&h, d);
    printf("%s: eff %08x%08x prm %08x%08x\n", what, d[1].effective, d[0].effective, d[1].permitted, d[0].permitted);
}

static void privileged(void) {
    gid_t g[2] = {1234, 99};
    printf("setgroups: %d\n", R(setgroups(2, g)));
    gid_t out[4];
    int n = getgroups(4, out);
    printf("getgroups: %d [%d %d]\n", n, out[0], out[1]);
    printf("getgroups too small: %d\n", R(getgroups(1, out)));
    status_line("Groups:");
    printf("setresgid: %d\n", R(setresgid(1000, 1001, 1002)));
    gid_t rg, eg, sg;
    getresgid(&rg, &eg, &sg);
    printf("resgid %d %d %d, fsgid %d\n", rg, eg, sg, setfsgid(-1));
    int old = setfsuid(1000);
    printf("setfsuid(1000) -> %d, now %d\n", old, setfsuid(-1));
    caps("after setfsuid");
    setfsuid(0);
    printf("setresuid: %d\n", R(setresuid(1000, 1001, 1002)));
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    printf("resuid %d %d %d, fsuid %d\n", r, e, s, setfsuid(-1));
    status_line("Uid:");
    status_line("Gid:");
    caps("after dropping root");
    printf("setuid(0): %d\n", R(setuid(0)));
    printf("setgroups unprivileged: %d\n", R(setgroups(0, NULL)));
    printf("setreuid(1002, -1): %d\n", R(setreuid(1002, -1)));
    getresuid(&r, &e, &s);
    printf("resuid %d %d %d\n", r, e, s);
    printf("setuid(1001): %d\n", R(setuid(1001)));
    printf("setuid(5): %d\n", R(setuid(5)));
    printf("getuid %d geteuid %d\n", getuid(), geteuid());
    // check_kill_permission: no signals to root's processes any more, but SIGCONT in the session.
    printf("kill(parent, 0): %d\n", R(kill(getppid(), 0)));
    printf("kill(parent, SIGCONT): %d\n", R(kill(getppid(), SIGCONT)));
    printf("kill(self, 0): %d\n", R(kill(getpid(), 0)));
}

static void keepcaps(void) {
    printf("PR_SET_KEEPCAPS: %d\n", R(prctl(PR_SET_KEEPCAPS, 1)));
    printf("setresuid: %d\n", R(setresuid(2000, 2000, 2000)));
    caps("kept");
    printf("PR_GET_KEEPCAPS: %d\n", prctl(PR_GET_KEEPCAPS));
}

int main(void) {
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    printf("uid == euid == suid: %s\n", r == e && e == s && r == getuid() && e == geteuid() ? "yes" : "no");
    printf("auxv AT_UID/AT_EUID/AT_GID/AT_EGID match: %s\n",
           getauxval(AT_UID) == getuid() && getauxval(AT_EUID) == geteuid() && getauxval(AT_GID) == getgid()
           && getauxval(AT_EGID) == getegid() ? "yes" : "no");
    int n = getgroups(0, NULL);
    printf("getgroups(0) agrees: %s\n", n >= 0 && getgroups(n, (gid_t[65536]){0}) == n ? "yes" : "no");
    int minus_one = -1;
    printf("getgroups(-1): %d\n", R(syscall(SYS_getgroups, minus_one, NULL)));
    printf("setresuid(-1,-1,-1): %d\n", R(setresuid(-1, -1, -1)));
    printf("setuid(own): %d\n", R(setuid(getuid())));
    printf("setuid(-1): %d\n", R(setuid(-1)));
    printf("setfsuid(-1) is the uid: %s\n", setfsuid(-1) == (int)geteuid() ? "yes" : "no");

    struct __user_cap_header_struct h = {0x12345678, 0};
    struct __user_cap_data_struct d[2];
    int rc = R(capget_(&h, d));
    printf("capget bad version: %d, version now %#x\n", rc, h.version);
    h.version = 0;
    rc = R(capget_(&h, NULL));
    printf("capget NULL data: %d, version now %#x\n", rc, h.version);
    h.pid = 99999;
    printf("capget no such pid: %d\n", R(capget_(&h, d)));
    h.pid = -1;
    printf("capget pid -1: %d\n", R(capget_(&h, d)));
    h.pid = 0;
    capget_(&h, d);
    struct __user_cap_data_struct more[2];
    memcpy(more, d, sizeof more);
    more[0].permitted = ~0u; more[1].permitted = ~0u;
    int full = d[0].permitted == ~0u && (d[1].permitted & 0x1ff) == 0x1ff;
    printf("capset beyond permitted: %d\n", full ? -EPERM : R(capset_(&h, more)));
    memcpy(more, d, sizeof more);
    more[0].effective |= d[0].permitted ? 0 : 1;
    more[0].effective = d[0].permitted & ~1u;
    printf("capset effective subset: %d\n", R(capset_(&h, more)));
    h.pid = 99999;
    printf("capset other pid: %d\n", R(capset_(&h, d)));
    h.pid = 0;
    capset_(&h, d);

    int setuid_cap = d[0].effective & (1 << CAP_SETUID) && d[0].effective & (1 << CAP_SETGID);
    for (int i = 0; i < 2; i++) {
        fflush(stdout);
        pid_t p = fork();
        if (p == 0) {
            if (!setuid_cap) printf("unprivileged: setuid(0) %d setgroups %d\n", R(setuid(geteuid() ? 0 : 1)), R(setgroups(0, NULL)));
            else if (i == 0) privileged();
            else keepcaps();
            fflush(stdout);
            _exit(0);
        }
        int st;
        waitpid(p, &st, 0);
    }
    return 0;
}
