// /proc as programs read it (issue 17 item 8): prints the structure of each
// file (keys in order, field counts, formats) and the values that do not
// depend on pids, times or the machine, to compare with the native run.
// Lines Linux added after 6.1 (status: Kthread, untag_mask; meminfo:
// Balloon) or that a 6.1 distribution config prints and the host's may not
// (HardwareCorrupted) are skipped.
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char buf[1 << 20];

static const char *slurp(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) { snprintf(buf, sizeof buf, "(open: %s)", strerrorname_np(errno)); return buf; }
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += r;
    close(fd);
    buf[n] = 0;
    return buf;
}

static int skipped(const char *key) {
    static const char *later[] = {"Kthread", "untag_mask", "Balloon", "HardwareCorrupted", "KSM", NULL};
    for (int i = 0; later[i]; i++) if (!strcmp(key, later[i])) return 1;
    return 0;
}

/// "Key:" lines: the keys in order, joined.
static void keys(const char *what, const char *path) {
    char *text = strdup(slurp(path)), *save, *line;
    printf("%s keys:", what);
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');
        if (strstr(line, "[rollup]")) { printf(" [rollup]"); continue; }
        if (!colon) continue;
        *colon = 0;
        if (!skipped(line)) printf(" %s", line);
    }
    printf("\n");
    free(text);
}

/// The value after "Key:\t" in a status-like file.
static const char *value(const char *path, const char *key) {
    static char out[4096];
    const char *t = slurp(path);
    char pat[64];
    snprintf(pat, sizeof pat, "\n%s:", key);
    const char *p = strstr(t, pat);
    if (!p && !strncmp(t, pat + 1, strlen(pat) - 1)) p = t - 1;
    if (!p) return "(missing)";
    p += strlen(pat);
    while (*p == ' ' || *p == '\t') p++;
    size_t n = strcspn(p, "\n");
    memcpy(out, p, n);
    out[n] = 0;
    return out;
}

/// Each line's first word and where its columns start (the format's widths,
/// whatever the numbers in them).
static void columns(const char *what, const char *path) {
    char *text = strdup(slurp(path)), *save;
    printf("%s columns:\n", what);
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        // Columns start after two or more spaces, or after one where the
        // previous column filled its width (the name's 25 characters).
        printf("  %.25s|", l);
        for (size_t i = 1; l[i]; i++) if (l[i] != ' ' && l[i - 1] == ' ' && (i >= 26)) printf(" %zu", i);
        printf(" len %zu\n", strlen(l));
    }
    free(text);
}

static int fields(const char *s) {
    int n = 0, in = 0;
    for (; *s && *s != '\n'; s++) {
        if (*s == ' ') in = 0;
        else if (!in) { in = 1; n++; }
    }
    return n;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    char path[256];
    // status: keys, and the values a program can predict.
    keys("status", "/proc/self/status");
    const char *vals[] = {"Name", "State", "Umask", "Threads", "TracerPid", "NoNewPrivs", "Seccomp", "Seccomp_filters",
                          "CoreDumping", "Mems_allowed_list", "VmPin", "VmSwap", "HugetlbPages", NULL};
    for (int i = 0; vals[i]; i++) printf("status %s: %s\n", vals[i], value("/proc/self/status", vals[i]));
    char want[64];
    snprintf(want, sizeof want, "%d", getpid());
    printf("status Tgid is getpid: %s\n", !strcmp(value("/proc/self/status", "Tgid"), want) ? "yes" : "no");
    printf("status NSpid is getpid: %s\n", !strcmp(value("/proc/self/status", "NSpid"), want) ? "yes" : "no");
    snprintf(want, sizeof want, "%d\t%d\t%d\t%d", getuid(), geteuid(), getuid(), getuid());
    printf("status Uid is getuid: %s\n", !strcmp(value("/proc/self/status", "Uid"), want) ? "yes" : "no");
    struct rlimit rl;
    getrlimit(RLIMIT_SIGPENDING, &rl);
    const char *q = value("/proc/self/status", "SigQ");
    printf("status SigQ limit is RLIMIT_SIGPENDING: %s\n", atoll(strchr(q, '/') + 1) == (long long)rl.rlim_cur ? "yes" : "no");
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    printf("status Cpus_allowed_list counts the affinity: %s\n", CPU_COUNT(&set) > 0 ? "yes" : "no");

    // stat: 52 fields; the ones a program can predict.
    const char *st = slurp("/proc/self/stat");
    printf("stat fields: %d\n", fields(st));
    const char *close_paren = strrchr(st, ')');
    char state;
    int ppid, pgrp, session, tty, tpgid;
    sscanf(close_paren + 2, "%c %d %d %d %d %d", &state, &ppid, &pgrp, &session, &tty, &tpgid);
    printf("stat comm: %.*s\n", (int)(close_paren - strchr(st, '(') + 1), strchr(st, '('));
    printf("stat state %c, ppid is getppid: %s, pgrp is getpgrp: %s, session is getsid: %s, tty %d, tpgid %d\n", state,
           ppid == getppid() ? "yes" : "no", pgrp == getpgrp() ? "yes" : "no", session == getsid(0) ? "yes" : "no", tty, tpgid);
    long long f[60] = {0};
    const char *p = close_paren + 2;
    for (int i = 3; i <= 52 && *p; i++) {
        if (i > 3) f[i] = strtoll(p, NULL, 10);
        p = strchr(p, ' ');
        if (!p) break;
        p++;
    }
    printf("stat priority %lld nice %lld threads %lld itrealvalue %lld exit_signal %lld rt_priority %lld policy %lld\n",
           f[18], f[19], f[20], f[21], f[38], f[40], f[41]);
    getrlimit(RLIMIT_RSS, &rl);
    const char *r25 = close_paren + 2;
    for (int i = 3; i < 25 && r25; i++) r25 = strchr(r25, ' ') ? strchr(r25, ' ') + 1 : NULL;
    printf("stat vsize > 0: %s, rsslim is RLIMIT_RSS: %s\n", f[23] > 0 ? "yes" : "no",
           r25 && strtoull(r25, NULL, 10) == (unsigned long long)rl.rlim_cur ? "yes" : "no");
    printf("statm fields: %d\n", fields(slurp("/proc/self/statm")));

    columns("limits", "/proc/self/limits");
    keys("smaps_rollup", "/proc/self/smaps_rollup");

    // smaps: the fields of one entry, and one per maps line.
    char *maps = strdup(slurp("/proc/self/maps"));
    int maplines = 0;
    for (char *m = maps; *m; m++) if (*m == '\n') maplines++;
    char *smaps = strdup(slurp("/proc/self/smaps"));
    int entries = 0;
    for (char *s = strstr(smaps, "VmFlags:"); s; s = strstr(s + 1, "VmFlags:")) entries++;
    printf("smaps entries match maps lines: %s\n", entries == maplines ? "yes" : "no");
    char *second = strchr(smaps, '\n') + 1, *end = strstr(second, "VmFlags:");
    printf("smaps entry keys:");
    for (char *l = second; l && l <= end; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        char *c = strchr(l, ':');
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(c - l), l);
        if (!skipped(key)) printf(" %s", key);
    }
    printf("\n");
    char *stackline = strstr(smaps, "[stack]");
    if (stackline) {
        char *vf = strstr(stackline, "VmFlags:");
        printf("smaps stack %.*s\n", (int)strcspn(vf, "\n"), vf);
    }
    // The anonymous mapping made here: its flags and sizes.
    char *anon = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    anon[0] = anon[4096] = anon[8192] = 1;
    char hdr[64];
    snprintf(hdr, sizeof hdr, "%lx-", (unsigned long)anon);
    char *me = strstr(slurp("/proc/self/smaps"), hdr);
    if (me) {
        printf("smaps of a fresh 3-page mapping: %s", strstr(me, "Size:") ? "" : "(no size)");
        char *sz = strstr(me, "Size:"), *vf = strstr(me, "VmFlags:");
        printf("%.*s | %.*s\n", (int)strcspn(sz, "\n"), sz, (int)strcspn(vf, "\n"), vf);
    } else printf("smaps of a fresh mapping: missing\n");

    keys("meminfo", "/proc/meminfo");

    // mountinfo: every line as show_mountinfo builds it.
    char *mi = strdup(slurp("/proc/self/mountinfo")), *save;
    int ok = 1, lines = 0;
    for (char *l = strtok_r(mi, "\n", &save); l; l = strtok_r(NULL, "\n", &save), lines++) {
        if (!strstr(l, " - ") || fields(l) < 10) ok = 0;
    }
    printf("mountinfo: %s\n", lines > 0 && ok ? "every line has ids, dev, root, point, options, -, type, source, options" : "malformed");

    // ns/: the names, and links of the form type:[inode].
    DIR *d = opendir("/proc/self/ns");
    printf("ns:");
    struct dirent *e;
    char names[32][32];
    int n = 0;
    while (d && (e = readdir(d))) if (e->d_name[0] != '.' && n < 32) snprintf(names[n++], 32, "%s", e->d_name);
    if (d) closedir(d);
    for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) if (strcmp(names[i], names[j]) > 0) {
        char t[32]; strcpy(t, names[i]); strcpy(names[i], names[j]); strcpy(names[j], t);
    }
    for (int i = 0; i < n; i++) {
        char l[128], target[128] = {0};
        snprintf(l, sizeof l, "/proc/self/ns/%s", names[i]);
        ssize_t r = readlink(l, target, sizeof target - 1);
        char *br = r > 0 ? strchr(target, '[') : NULL;
        printf(" %s=%.*s[N]", names[i], br ? (int)(br - target) : 0, target);
    }
    printf("\n");

    // map_files: a link per file mapping, leading to the file.
    d = opendir("/proc/self/map_files");
    int links = 0, elf = 0;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        links++;
        if (elf) continue;
        snprintf(path, sizeof path, "/proc/self/map_files/%s", e->d_name);
        int fd = open(path, O_RDONLY);
        char magic[4] = {0};
        if (fd >= 0 && read(fd, magic, 4) == 4 && !memcmp(magic, "\x7f" "ELF", 4)) elf = 1;
        if (fd >= 0) close(fd);
    }
    if (d) closedir(d);
    printf("map_files: %s, one opens to an ELF file: %s\n", links > 0 ? "listed" : "empty", elf ? "yes" : "no");

    // io: the counters move by what read(2) and write(2) moved.
    keys("io", "/proc/self/io");
    unsigned long long a[4], b[4];
    size_t alen = strlen(slurp("/proc/self/io"));
    sscanf(buf, "rchar: %llu\nwchar: %llu\nsyscr: %llu\nsyscw: %llu", &a[0], &a[1], &a[2], &a[3]);
    int nul = open("/dev/null", O_WRONLY), zero = open("/dev/zero", O_RDONLY);
    char junk[100] = {0};
    write(nul, junk, 100);
    read(zero, junk, 50);
    slurp("/proc/self/io");
    sscanf(buf, "rchar: %llu\nwchar: %llu\nsyscr: %llu\nsyscw: %llu", &b[0], &b[1], &b[2], &b[3]);
    close(nul); close(zero);
    printf("io moved: rchar %llu wchar %llu syscr %llu syscw %llu\n", b[0] - a[0] - alen, b[1] - a[1], b[2] - a[2], b[3] - a[3]);
    // syscall: the read reading it; a child asleep in read(2); a child computing.
    {
        int fd = open("/proc/self/syscall", O_RDONLY);
        char line[256] = {0};
        read(fd, line, sizeof line - 1);
        close(fd);
        unsigned long long a0 = 0;
        int nr = -2;
        sscanf(line, "%d 0x%llx", &nr, &a0);
        printf("syscall of itself: nr %d, first argument is the fd: %s, fields %d\n", nr, a0 == (unsigned long long)fd ? "yes" : "no", fields(line));
        int pp[2];
        pipe(pp);
        pid_t sleeper = fork();
        if (sleeper == 0) { char c; read(pp[0], &c, 1); _exit(0); }
        pid_t spinner = fork();
        if (spinner == 0) { for (volatile unsigned long i = 0;; i++) {} }
        char path2[64], got[256];
        // Poll until the child is asleep in read (the machine is busy).
        for (int i = 0; i < 200; i++) {
            snprintf(path2, sizeof path2, "/proc/%d/syscall", sleeper);
            snprintf(got, sizeof got, "%s", slurp(path2));
            if (!strncmp(got, "0 ", 2)) break;
            usleep(10000);
        }
        sscanf(got, "%d 0x%llx", &nr, &a0);
        printf("syscall of a child in read: nr %d, fd matches: %s, fields %d\n", nr, a0 == (unsigned long long)pp[0] ? "yes" : "no", fields(got));
        snprintf(path2, sizeof path2, "/proc/%d/syscall", spinner);
        for (int i = 0; i < 200; i++) {
            snprintf(got, sizeof got, "%s", slurp(path2));
            if (!strcmp(got, "running\n")) break;
            usleep(10000);
        }
        printf("syscall of a computing child: %s", got);
        kill(spinner, SIGKILL);
        write(pp[1], "x", 1);
        waitpid(sleeper, NULL, 0);
        waitpid(spinner, NULL, 0);
        close(pp[0]); close(pp[1]);
    }
    printf("wchan: %s\n", slurp("/proc/self/wchan"));
    printf("oom_score_adj: %s", slurp("/proc/self/oom_score_adj"));
    keys("fdinfo/0", "/proc/self/fdinfo/0");
    printf("comm: %s", slurp("/proc/self/comm"));
    char target[256] = {0};
    readlink("/proc/thread-self", target, sizeof target - 1);
    snprintf(want, sizeof want, "%d/task/%d", getpid(), gettid());
    printf("thread-self: %s\n", !strcmp(target, want) ? "pid/task/tid" : target);
    memset(target, 0, sizeof target);
    readlink("/proc/self/root", target, sizeof target - 1);
    printf("root: %s\n", target);

    // The system files.
    printf("uptime fields: %d\n", fields(slurp("/proc/uptime")));
    const char *la = slurp("/proc/loadavg");
    printf("loadavg fields: %d, running/total: %s\n", fields(la), strchr(la, '/') ? "yes" : "no");
    char *stat = strdup(slurp("/proc/stat"));
    printf("stat cpu line fields: %d\n", fields(stat));
    int cpus = 0;
    for (char *l = stat; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (!strncmp(l, "cpu", 3) && isdigit((unsigned char)l[3])) cpus++;
    }
    printf("stat cpuN lines match online CPUs: %s\n", cpus == sysconf(_SC_NPROCESSORS_ONLN) ? "yes" : "no");
    printf("stat keys:");
    for (char *l = stat; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (!strncmp(l, "cpu", 3)) continue;
        printf(" %.*s", (int)strcspn(l, " \n"), l);
    }
    printf("\n");
    printf("version starts: %.14s\n", slurp("/proc/version"));
    printf("sys/kernel/ostype: %s", slurp("/proc/sys/kernel/ostype"));
    long pid_max = atol(slurp("/proc/sys/kernel/pid_max"));
    printf("sys/kernel/pid_max between 32768 and 4194304: %s\n", pid_max >= 32768 && pid_max <= 4194304 ? "yes" : "no");
    printf("sys/kernel/cap_last_cap: %s", slurp("/proc/sys/kernel/cap_last_cap"));
    printf("sys/kernel/overflowuid: %s", slurp("/proc/sys/kernel/overflowuid"));
    printf("sys/kernel/ngroups_max: %s", slurp("/proc/sys/kernel/ngroups_max"));
    printf("sys/kernel/shmmni: %s", slurp("/proc/sys/kernel/shmmni"));
    printf("sys/kernel/msgmax: %s", slurp("/proc/sys/kernel/msgmax"));
    printf("sys/kernel/sem: %s", slurp("/proc/sys/kernel/sem"));
    printf("sys/vm/max_map_count: %s", slurp("/proc/sys/vm/max_map_count"));
    printf("sys/vm/overcommit_memory: %s", slurp("/proc/sys/vm/overcommit_memory"));
    printf("sys/fs/nr_open: %s", slurp("/proc/sys/fs/nr_open"));
    const char *ci = slurp("/proc/cpuinfo");
    int procs = 0;
    for (const char *c = ci; (c = strstr(c, "processor\t:")); c++) procs++;
    printf("cpuinfo processors match: %s\n", procs == sysconf(_SC_NPROCESSORS_CONF) || procs == sysconf(_SC_NPROCESSORS_ONLN) ? "yes" : "no");
    return 0;
}
