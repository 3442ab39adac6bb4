// /proc/PID/ns, setns, /proc/PID/map_files and /proc/PID/wchan. The
// default mode prints only what Linux gives whatever the machine (namespace
// inode numbers are compared, not printed); `procns wchan` prints the wait
// channels of children blocked in known calls, which name the functions of
// the kernel that runs them (the host's differ from 6.1's).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *names[] = {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children", "user", "uts"};
enum { N = sizeof names / sizeof names[0] };

static const char *err(long r) {
    static char b[32];
    if (r >= 0) { snprintf(b, sizeof b, "%ld", r); return b; }
    return strerrorname_np(errno);
}

// "kind:[number]" of a link, or "" if unreadable.
static int ns_link(const char *dir, const char *name, char *kind, unsigned long *ino) {
    char p[128], t[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ssize_t n = readlink(p, t, sizeof t - 1);
    if (n < 0) return -1;
    t[n] = 0;
    char *open = strchr(t, ':');
    if (!open || open[1] != '[') return -1;
    *open = 0;
    strcpy(kind, t);
    *ino = strtoul(open + 2, NULL, 10);
    return 0;
}

static void namespaces(void) {
    unsigned long ino[N];
    char task[64];
    snprintf(task, sizeof task, "/proc/self/task/%d/ns", gettid());
    for (int i = 0; i < N; i++) {
        char kind[64], kind2[64];
        unsigned long other = 0;
        if (ns_link("/proc/self/ns", names[i], kind, &ino[i])) { printf("%s: unreadable\n", names[i]); continue; }
        int same = !ns_link(task, names[i], kind2, &other) && other == ino[i];
        printf("%s -> %s:[...] %s, the thread's %s\n", names[i], kind, ino[i] > 0 ? "numbered" : "zero", same ? "same" : "differs");
    }
    printf("pid_for_children is pid: %s, time_for_children is time: %s\n", ino[5] == ino[4] ? "yes" : "no", ino[7] == ino[6] ? "yes" : "no");
    int distinct = 1;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (ino[i] == ino[j] && !(i == 4 && j == 5) && !(i == 6 && j == 7)) distinct = 0;
    printf("kinds have distinct numbers: %s\n", distinct ? "yes" : "no");
    // A child shows the same namespaces, read from either side.
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        int ok = 1;
        char parent[64];
        snprintf(parent, sizeof parent, "/proc/%d/ns", getppid());
        for (int i = 0; i < N; i++) {
            char k[64];
            unsigned long a = 0, b = 0;
            if (ns_link("/proc/self/ns", names[i], k, &a) || ns_link(parent, names[i], k, &b) || a != ino[i] || b != ino[i]) ok = 0;
        }
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    waitpid(c, &st, 0);
    printf("a child's namespaces are the same: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "no");
    // Opened: an nsfs file whose inode is the link's number.
    for (int i = 0; i < N; i++) {
        char p[64];
        snprintf(p, sizeof p, "/proc/self/ns/%s", names[i]);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        struct stat s;
        if (fd < 0 || fstat(fd, &s)) { printf("open %s: %s\n", names[i], strerrorname_np(errno)); continue; }
        char b[8];
        long r = read(fd, b, sizeof b);
        printf("open %s: regular %s, mode %o, inode %s, read %s\n", names[i], S_ISREG(s.st_mode) ? "yes" : "no", s.st_mode & 07777,
               s.st_ino == ino[i] ? "agrees" : "differs", err(r));
        close(fd);
    }
    printf("open ns/net for writing: %s\n", err(open("/proc/self/ns/net", O_WRONLY)));
}

static int nsfd(const char *name) {
    char p[64];
    snprintf(p, sizeof p, "/proc/self/ns/%s", name);
    return open(p, O_RDONLY | O_CLOEXEC);
}

static void setns_errors(const char *who) {
    static const struct { const char *name; int type; } kinds[] = {
        {"net", CLONE_NEWNET}, {"uts", CLONE_NEWUTS}, {"ipc", CLONE_NEWIPC}, {"pid", CLONE_NEWPID}, {"user", CLONE_NEWUSER},
        {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
    };
    for (unsigned i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        int fd = nsfd(kinds[i].name);
        printf("%s setns(%s, 0): %s", who, kinds[i].name, err(setns(fd, 0)));
        printf(", with its type: %s", err(setns(fd, kinds[i].type)));
        printf(", with another: %s\n", err(setns(fd, kinds[i].type == CLONE_NEWNET ? CLONE_NEWUTS : CLONE_NEWNET)));
        close(fd);
    }
    int pfd = syscall(SYS_pidfd_open, getpid(), 0);
    printf("%s setns(pidfd, 0): %s\n", who, err(setns(pfd, 0)));
    printf("%s setns(pidfd, CLONE_VM): %s\n", who, err(setns(pfd, CLONE_VM)));
    printf("%s setns(pidfd, CLONE_NEWUTS|CLONE_NEWIPC): %s\n", who, err(setns(pfd, CLONE_NEWUTS | CLONE_NEWIPC)));
    printf("%s setns(pidfd, CLONE_NEWUSER|CLONE_NEWNET): %s\n", who, err(setns(pfd, CLONE_NEWUSER | CLONE_NEWNET)));
    close(pfd);
}

static void *blocked(void *fd) {
    char c;
    (void)!read(*(int *)fd, &c, 1);
    return NULL;
}

static void setns_cases(void) {
    printf("setns(-1, 0): %s\n", err(setns(-1, 0)));
    int f = open("/proc/self/stat", O_RDONLY);
    printf("setns(a /proc file, 0): %s\n", err(setns(f, 0)));
    close(f);
    int p = open("/proc/self/ns/net", O_PATH);
    printf("setns(an O_PATH ns fd, 0): %s\n", err(setns(p, 0)));
    close(p);
    // Unprivileged, as nobody: EPERM, the own user namespace EINVAL.
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        if (setgid(65534) || setuid(65534)) { perror("setuid"); _exit(1); }
        setns_errors("nobody");
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    // Privileged (root, single-threaded): joining its own namespaces.
    if (geteuid() == 0) {
        setns_errors("root");
        if (chdir("/proc")) perror("chdir");
        int fd = nsfd("mnt");
        printf("root setns(mnt, CLONE_NEWNS): %s", err(setns(fd, CLONE_NEWNS)));
        char cwd[64];
        printf(", cwd then %s\n", getcwd(cwd, sizeof cwd) ? cwd : strerrorname_np(errno));
        // A thread shares the fs_struct (CLONE_FS): joining a mount
        // namespace alone would change its root too (mntns_install: EINVAL);
        // with another namespace, through a pidfd, a copy is joined (0).
        int hold[2];
        pthread_t th;
        if (pipe(hold) || pthread_create(&th, NULL, blocked, &hold[0])) { perror("thread"); return; }
        printf("root setns(mnt, CLONE_NEWNS) with a thread: %s\n", err(setns(fd, CLONE_NEWNS)));
        int pfd = syscall(SYS_pidfd_open, getpid(), 0);
        printf("root setns(pidfd, CLONE_NEWNS|CLONE_NEWUTS) with a thread: %s\n", err(setns(pfd, CLONE_NEWNS | CLONE_NEWUTS)));
        // A time namespace asks for a single-threaded caller (EUSERS), first.
        int tfd = nsfd("time");
        printf("root setns(time, CLONE_NEWTIME) with a thread: %s\n", err(setns(tfd, CLONE_NEWTIME)));
        printf("root setns(pidfd, CLONE_NEWTIME|CLONE_NEWUTS) with a thread: %s\n", err(setns(pfd, CLONE_NEWTIME | CLONE_NEWUTS)));
        close(tfd);
        close(pfd);
        close(hold[1]);
        pthread_join(th, NULL);
        close(hold[0]);
        close(fd);
    }
}

static void map_files(void) {
    int m = memfd_create("mapped", 0);
    if (m < 0 || ftruncate(m, 4096)) { perror("memfd"); return; }
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
    char link[128], target[256];
    snprintf(link, sizeof link, "/proc/self/map_files/%lx-%lx", (unsigned long)p, (unsigned long)p + 4096);
    ssize_t n = readlink(link, target, sizeof target - 1);
    target[n > 0 ? n : 0] = 0;
    printf("map_files of a memfd: %s\n", n > 0 ? target : strerrorname_np(errno));
    int fd = open(link, O_RDWR);
    if (fd < 0) { printf("open it: %s\n", strerrorname_np(errno)); return; }
    long w = pwrite(fd, "through map_files", 17, 100);
    printf("open it: a write of %ld bytes shows in the mapping: %s\n", w, memcmp(p + 100, "through map_files", 17) == 0 ? "yes" : "no");
    struct stat a, b;
    fstat(fd, &a);
    fstat(m, &b);
    printf("the same file: %s\n", a.st_ino == b.st_ino && a.st_dev == b.st_dev ? "yes" : "no");
    close(fd);
    // The executable's own mapping names it, and reopens it.
    char exe[256];
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    int found = 0;
    while (maps && fgets(line, sizeof line, maps)) {
        unsigned long lo, hi;
        if (!strstr(line, exe) || sscanf(line, "%lx-%lx", &lo, &hi) != 2) continue;
        snprintf(link, sizeof link, "/proc/self/map_files/%lx-%lx", lo, hi);
        n = readlink(link, target, sizeof target - 1);
        target[n > 0 ? n : 0] = 0;
        fd = open(link, O_RDONLY);
        struct stat s1, s2;
        int same = fd >= 0 && !fstat(fd, &s1) && !stat(exe, &s2) && s1.st_ino == s2.st_ino;
        printf("map_files of the executable: %s, reopened: %s\n", strcmp(target, exe) == 0 ? "its path" : target, same ? "the same file" : "other");
        if (fd >= 0) close(fd);
        found = 1;
        break;
    }
    if (!found) printf("map_files of the executable: no mapping\n");
    if (maps) fclose(maps);
}

// Children blocked in known calls; the parent reads their wchan once their
// state is S (sleeping), polling (a loaded machine may be slow to get there).
static void show(const char *what, pid_t c) {
    char p[64], s[256], w[128] = "";
    snprintf(p, sizeof p, "/proc/%d/stat", c);
    for (int tries = 0; tries < 500; tries++) {
        FILE *f = fopen(p, "r");
        char state = 0;
        if (f) { if (fgets(s, sizeof s, f)) { char *r = strrchr(s, ')'); if (r) state = r[2]; } fclose(f); }
        snprintf(p, sizeof p, "/proc/%d/wchan", c);
        f = fopen(p, "r");
        size_t n = f ? fread(w, 1, sizeof w - 1, f) : 0;
        w[n] = 0;
        if (f) fclose(f);
        snprintf(p, sizeof p, "/proc/%d/stat", c);
        if (state == 'S' && strcmp(w, "0") != 0) break;
        usleep(10000);
    }
    printf("%s: %s\n", what, w);
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
}

static void wchan(void) {
    char w[64] = "";
    FILE *f = fopen("/proc/self/wchan", "r");
    size_t n = f ? fread(w, 1, sizeof w - 1, f) : 0;
    w[n] = 0;
    if (f) fclose(f);
    printf("self: %s\n", w);
    int fds[2];
    if (pipe(fds)) return;
    pid_t c = fork();
    if (c == 0) { char b; read(fds[0], &b, 1); _exit(0); }
    show("pipe read", c);
    if ((c = fork()) == 0) { struct timespec t = {30, 0}; nanosleep(&t, NULL); _exit(0); }
    show("nanosleep", c);
    if ((c = fork()) == 0) { pause(); _exit(0); }
    show("pause", c);
    if ((c = fork()) == 0) { if (fork() == 0) { pause(); _exit(0); } wait(NULL); _exit(0); }
    show("wait", c);
    if ((c = fork()) == 0) { int word = 0; syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL); _exit(0); }
    show("futex", c);
    if ((c = fork()) == 0) { sigset_t s; sigemptyset(&s); sigsuspend(&s); _exit(0); }
    show("sigsuspend", c);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && !strcmp(argv[1], "wchan")) { wchan(); return 0; }
    namespaces();
    setns_cases();
    map_files();
    return 0;
}
