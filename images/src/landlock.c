// Landlock ABI 2 (security/landlock/): the version query, the three calls'
// errno table, the ruleset descriptor, then a domain allowing read-only
// access to one directory and everything to another, tried with open,
// opendir, mkdir, mknod, symlink, unlink, rmdir, link, rename and execve
// inside and outside them, and mq_open (its queues are on a mount no rule
// reaches); a child and an exec'd program inheriting it;
// a second layer narrowing it; a thread confining itself alone (the threads
// it makes inherit); at most 16 layers; ptrace only within
// the domain's scope.
// argv[1]: a tmpfs directory (emptied first). Prints what each call returns
// (0 or -errno); only the ABI's 14 rights are handled, so a newer kernel
// behaves as 6.1. "probe PATH" (argv[1]): opens PATH read-only and prints the result.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define R(x) ({ long r_ = (long)(x); (int)(r_ < 0 ? -errno : r_); })
#define EXECUTE (1ULL << 0)
#define WRITE_FILE (1ULL << 1)
#define READ_FILE (1ULL << 2)
#define READ_DIR (1ULL << 3)
#define ALL_ABI2 ((1ULL << 14) - 1)
#define REFER (1ULL << 13)

struct path_beneath { uint64_t allowed; int32_t fd; } __attribute__((packed));

static long create(const void *attr, size_t size, uint32_t flags) { return syscall(SYS_landlock_create_ruleset, attr, size, flags); }
static long add(int rs, int type, const void *attr, uint32_t flags) { return syscall(SYS_landlock_add_rule, rs, type, attr, flags); }
static long restrict_self(int rs, uint32_t flags) { return syscall(SYS_landlock_restrict_self, rs, flags); }

static char base[512], queue[64];
static const char *at(const char *rel) {
    static char bufs[4][768];
    static int i;
    char *b = bufs[i++ & 3];
    snprintf(b, 768, "%s/%s", base, rel);
    return b;
}
static void show(const char *what, int r) { printf("%s: %d\n", what, r); fflush(stdout); }
static int openr(const char *rel, int flags) {
    int fd = R(open(at(rel), flags, 0644));
    if (fd >= 0) close(fd);
    return fd < 0 ? fd : 0;
}
static int opendir_(const char *rel) {
    DIR *d = opendir(at(rel));
    if (!d) return -errno;
    closedir(d);
    return 0;
}
static int ruleset(uint64_t handled) {
    uint64_t attr = handled;
    return R(create(&attr, sizeof attr, 0));
}
static int rule(int rs, const char *rel, uint64_t allowed) {
    struct path_beneath pb = { allowed, R(open(at(rel), O_PATH | O_CLOEXEC)) };
    int r = R(add(rs, 1, &pb, 0));
    close(pb.fd);
    return r;
}
static void copy(const char *from, const char *rel) {
    int in = open(from, O_RDONLY), out = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, 0755);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) if (write(out, buf, n) != n) break;
    close(in); close(out);
}
static int run(const char *rel, const char *arg) {
    pid_t p = fork();
    if (p == 0) {
        char *argv[] = { (char *)at(rel), (char *)"probe", (char *)arg, NULL };
        execv(argv[0], argv);
        printf("  exec %s: %d\n", rel, -errno);
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void errno_table(void) {
    // Newer kernels' struct is longer (6.18: 24 bytes): the nonzero tail lies past any of theirs.
    uint64_t attr[8] = { READ_FILE, 0, 0, 0, 0, 0, 0, 0 };
    show("version query >= 2", create(NULL, 0, 1) >= 2);
    show("version with attr", R(create(attr, 8, 1)));
    show("version with size", R(create(NULL, 8, 1)));
    show("unknown flag", R(create(NULL, 0, 1 << 5)));
    show("NULL attr", R(create(NULL, 8, 0)));
    show("size 4", R(create(attr, 4, 0)));
    show("size 0", R(create(attr, 0, 0)));
    show("size 4097", R(create(attr, 4097, 0)));
    attr[7] = 1;
    show("nonzero tail", R(create(attr, 64, 0)));
    attr[7] = 0;
    int rs = R(create(attr, 32, 0));
    show("zero tail", rs >= 0);
    close(rs);
    show("bad pointer", R(create((void *)8, 8, 0)));
    attr[0] = 1ULL << 40;
    show("unknown right", R(create(attr, 8, 0)));
    attr[0] = 0;
    show("no right", R(create(attr, 8, 0)));

    rs = ruleset(READ_FILE | READ_DIR | WRITE_FILE);
    int fdflags = fcntl(rs, F_GETFD), flflags = fcntl(rs, F_GETFL);
    printf("ruleset fd: cloexec %d, flags 0%o\n", fdflags & FD_CLOEXEC, flflags);
    char link[64], target[128] = "";
    snprintf(link, sizeof link, "/proc/self/fd/%d", rs);
    int n = readlink(link, target, sizeof target - 1);
    if (n > 0) target[n] = 0;
    printf("ruleset link: %s\n", target);
    char info[64], text[256] = "";
    snprintf(info, sizeof info, "/proc/self/fdinfo/%d", rs);
    int fi = open(info, O_RDONLY);
    n = read(fi, text, sizeof text - 1);
    close(fi);
    if (n > 0) text[n] = 0;
    char *mnt = strstr(text, "mnt_id:");
    if (mnt) *mnt = 0;   // the anonymous inode mount's id and inode number are the kernel's own
    printf("ruleset fdinfo:\n%s", text);
    char c;
    show("read ruleset", R(read(rs, &c, 1)));
    show("write ruleset", R(write(rs, "x", 1)));
    struct stat st;
    fstat(rs, &st);
    printf("ruleset mode 0%o\n", st.st_mode);

    struct path_beneath pb = { READ_FILE, R(open(at("ro"), O_PATH)) };
    show("add_rule flags", R(add(rs, 1, &pb, 1)));
    show("add_rule bad fd", R(add(-1, 1, &pb, 0)));
    show("add_rule not a ruleset", R(add(pb.fd, 1, &pb, 0)));
    show("add_rule rule type", R(add(rs, 99, &pb, 0)));
    show("add_rule NULL attr", R(add(rs, 1, NULL, 0)));
    pb.allowed = 0;
    show("add_rule no right", R(add(rs, 1, &pb, 0)));
    pb.allowed = EXECUTE;
    show("add_rule unhandled right", R(add(rs, 1, &pb, 0)));
    pb.allowed = READ_FILE;
    int saved = pb.fd;
    pb.fd = -1;
    show("add_rule bad parent", R(add(rs, 1, &pb, 0)));
    int pipefd[2];
    pipe(pipefd);
    pb.fd = pipefd[0];
    show("add_rule pipe parent", R(add(rs, 1, &pb, 0)));
    pb.fd = rs;
    show("add_rule ruleset parent", R(add(rs, 1, &pb, 0)));
    close(pipefd[0]); close(pipefd[1]);
    pb.fd = R(open(at("ro/f"), O_RDONLY));
    pb.allowed = READ_DIR;
    show("add_rule dir right on a file", R(add(rs, 1, &pb, 0)));
    pb.allowed = READ_FILE | WRITE_FILE;
    show("add_rule file", R(add(rs, 1, &pb, 0)));
    close(pb.fd);
    pb.fd = saved;
    show("add_rule O_PATH dir", R(add(rs, 1, &pb, 0)));
    show("add_rule again", R(add(rs, 1, &pb, 0)));
    close(pb.fd);

    // Flags newer kernels know (6.18's logging ones) are left out.
    show("restrict flags", R(restrict_self(rs, 1u << 20)));   // root: CAP_SYS_ADMIN passes the first check
    pid_t p = fork();
    if (p == 0) {
        if (getuid() == 0 && setuid(65534) != 0) _exit(1);
        show("restrict without no_new_privs", R(restrict_self(rs, 0)));
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        show("restrict bad fd", R(restrict_self(-1, 0)));
        show("restrict not a ruleset", R(restrict_self(1, 0)));
        show("restrict flags", R(restrict_self(rs, 1u << 20)));
        _exit(0);
    }
    waitpid(p, NULL, 0);
    close(rs);
}

static void confined(void) {
    show("open ro/f read", openr("ro/f", O_RDONLY));
    show("open ro/f write", openr("ro/f", O_WRONLY));
    show("open ro/f rdwr", openr("ro/f", O_RDWR));
    show("open ro/f accmode 3", openr("ro/f", 3));
    show("open ro/f O_PATH", openr("ro/f", O_PATH));
    show("open out/f read", openr("out/f", O_RDONLY));
    show("open out/f O_PATH", openr("out/f", O_PATH));
    show("open rw/f rdwr", openr("rw/f", O_RDWR));
    show("open rw/f trunc", openr("rw/f", O_RDWR | O_TRUNC));
    show("truncate ro/f", R(truncate(at("ro/f"), 3)));
    show("stat out/f", R(access(at("out/f"), F_OK)));
    show("access out/f R_OK", R(access(at("out/f"), R_OK)));
    show("opendir ro", opendir_("ro"));
    show("opendir ro/sub", opendir_("ro/sub"));
    show("opendir base", opendir_("."));
    show("opendir /", R(open("/", O_RDONLY | O_DIRECTORY)) >= 0 ? 0 : -errno);
    show("open /proc/self/status", R(open("/proc/self/status", O_RDONLY)) >= 0 ? 0 : -errno);
    show("chdir out", R(chdir(at("out"))));
    show("create rw/new", openr("rw/new", O_WRONLY | O_CREAT | O_EXCL));
    show("create ro/new", openr("ro/new", O_WRONLY | O_CREAT | O_EXCL));
    show("create out/new", openr("out/new", O_RDONLY | O_CREAT | O_EXCL));
    show("O_TMPFILE in rw", openr("rw", O_TMPFILE | O_RDWR));
    show("O_TMPFILE in ro", openr("ro", O_TMPFILE | O_RDWR));
    show("mkdir rw/d", R(mkdir(at("rw/d"), 0755)));
    show("mkdir ro/d", R(mkdir(at("ro/d"), 0755)));
    show("mkdir out/d", R(mkdir(at("out/d"), 0755)));
    show("mkdir existing ro/sub", R(mkdir(at("ro/sub"), 0755)));
    show("mkfifo rw/p", R(mkfifo(at("rw/p"), 0644)));
    show("mkfifo ro/p", R(mkfifo(at("ro/p"), 0644)));
    show("mknod sock rw/s", R(mknod(at("rw/s"), S_IFSOCK | 0644, 0)));
    show("mknod sock ro/s", R(mknod(at("ro/s"), S_IFSOCK | 0644, 0)));
    show("mknod reg rw/r", R(mknod(at("rw/r"), S_IFREG | 0644, 0)));
    show("mknod char ro/c", R(mknod(at("ro/c"), S_IFCHR | 0644, makedev(1, 3))));
    show("symlink rw/l", R(symlink("f", at("rw/l"))));
    show("symlink ro/l", R(symlink("f", at("ro/l"))));
    show("unlink ro/f", R(unlink(at("ro/f"))));
    show("unlink rw/r", R(unlink(at("rw/r"))));
    show("unlink ro/missing", R(unlink(at("ro/missing"))));
    show("rmdir rw/d", R(rmdir(at("rw/d"))));
    show("rmdir ro/sub", R(rmdir(at("ro/sub"))));
    show("link rw/f rw/f2", R(link(at("rw/f"), at("rw/f2"))));
    show("link ro/f rw/g", R(link(at("ro/f"), at("rw/g"))));
    show("link rw/f out/g", R(link(at("rw/f"), at("out/g"))));
    show("link rw/f rw/sub/g", R(link(at("rw/f"), at("rw/sub/g"))));
    show("rename rw/f2 rw/f3", R(rename(at("rw/f2"), at("rw/f3"))));
    show("rename rw/f3 rw/sub/f3", R(rename(at("rw/f3"), at("rw/sub/f3"))));
    show("rename rw/sub/f3 out/f3", R(rename(at("rw/sub/f3"), at("out/f3"))));
    show("rename ro/f rw/f4", R(rename(at("ro/f"), at("rw/f4"))));
    show("rename out/f rw/f5", R(rename(at("out/f"), at("rw/f5"))));
    show("noreplace rw/f ro/f", R(syscall(SYS_renameat2, AT_FDCWD, at("rw/f"), AT_FDCWD, at("ro/f"), 1)));
    show("exchange rw/f ro/missing", R(syscall(SYS_renameat2, AT_FDCWD, at("rw/f"), AT_FDCWD, at("ro/missing"), 2)));
    show("exchange rw/f ro/f", R(syscall(SYS_renameat2, AT_FDCWD, at("rw/f"), AT_FDCWD, at("ro/f"), 2)));
    show("exchange rw/f rw/sub/g", R(syscall(SYS_renameat2, AT_FDCWD, at("rw/f"), AT_FDCWD, at("rw/sub/g"), 2)));
    int q = R(mq_open(queue, O_RDONLY));
    show("mq_open read", q < 0 ? q : 0);
    q = R(mq_open(queue, O_WRONLY));
    show("mq_open write", q < 0 ? q : 0);
    char made[80];
    snprintf(made, sizeof made, "%s-new", queue);
    q = R(mq_open(made, O_WRONLY | O_CREAT | O_EXCL, 0600, NULL));
    show("mq_open create", q < 0 ? q : 0);
    show("mq_unlink made", R(mq_unlink(made)));   // made before the open was refused
    show("exec rw/prog", run("rw/prog", at("ro/f")));
    show("exec ro/prog", run("ro/prog", at("out/f")));
    show("exec out/prog", run("out/prog", at("ro/f")));
    pid_t p = fork();
    if (p == 0) {
        show("child open out/f", openr("out/f", O_RDONLY));
        show("child open ro/f", openr("ro/f", O_RDONLY));
        show("child mkdir rw/cd", R(mkdir(at("rw/cd"), 0755)));
        _exit(0);
    }
    waitpid(p, NULL, 0);

    // A second layer handling reading files only, allowing it in rw: ro's
    // files become unreadable, rw's writes stay as the first layer says.
    int rs = ruleset(READ_FILE);
    show("layer 2 rule rw", rule(rs, "rw", READ_FILE));
    show("layer 2 rule out", rule(rs, "out", READ_FILE));
    show("layer 2 restrict", R(restrict_self(rs, 0)));
    close(rs);
    show("2 layers open ro/f read", openr("ro/f", O_RDONLY));
    show("2 layers open rw/f read", openr("rw/f", O_RDONLY));
    show("2 layers open rw/f write", openr("rw/f", O_WRONLY));
    show("2 layers open out/f read", openr("out/f", O_RDONLY));
    show("2 layers opendir ro", opendir_("ro"));
    show("2 layers exec rw/prog", run("rw/prog", at("rw/f")));

    int layers = 2, r = 0;
    rs = ruleset(WRITE_FILE);
    while ((r = R(restrict_self(rs, 0))) == 0) layers++;
    close(rs);
    printf("layers: %d, then %d\n", layers, r);
    fflush(stdout);
}

// A thread restricts only itself; what it then makes inherits its domain.
static void *grandchild_thread(void *arg) {
    (void)arg;
    show("thread's thread open out/f", openr("out/f", O_RDONLY));
    return NULL;
}
static void *confining_thread(void *arg) {
    int rs = *(int *)arg;
    show("thread restrict", R(restrict_self(rs, 0)));
    show("thread open out/f", openr("out/f", O_RDONLY));
    pthread_t t;
    pthread_create(&t, NULL, grandchild_thread, NULL);
    pthread_join(t, NULL);
    return NULL;
}
static void threads(void) {
    int rs = ruleset(READ_FILE);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    pthread_t t;
    pthread_create(&t, NULL, confining_thread, &rs);
    pthread_join(t, NULL);
    show("sibling thread open out/f", openr("out/f", O_RDONLY));
    close(rs);
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "probe") == 0) {
        int fd = R(open(argv[2], O_RDONLY));
        printf("  probe: %d\n", fd < 0 ? fd : 0);
        return 0;
    }
    if (argc < 2) return 2;
    snprintf(base, sizeof base, "%s/landlock", argv[1]);
    // A fresh tree: ro/{f,sub,prog}, rw/{f,sub,prog}, out/{f,prog}.
    pid_t p = fork();
    if (p == 0) { execl("/bin/rm", "rm", "-rf", base, (char *)NULL); _exit(127); }
    waitpid(p, NULL, 0);
    mkdir(base, 0755);
    const char *dirs[] = { "ro", "ro/sub", "rw", "rw/sub", "out" };
    for (int i = 0; i < 5; i++) mkdir(at(dirs[i]), 0755);
    const char *files[] = { "ro/f", "rw/f", "out/f" };
    for (int i = 0; i < 3; i++) { int fd = open(at(files[i]), O_WRONLY | O_CREAT, 0644); write(fd, "data\n", 5); close(fd); }
    copy("/proc/self/exe", "rw/prog");
    copy("/proc/self/exe", "ro/prog");
    copy("/proc/self/exe", "out/prog");

    errno_table();
    snprintf(queue, sizeof queue, "/sentry-landlock-%d", getpid());
    mqd_t mq = mq_open(queue, O_RDWR | O_CREAT, 0600, NULL);
    show("mq_open unconfined", mq < 0 ? -errno : 0);
    mq_close(mq);

    p = fork();
    if (p == 0) {
        int rs = ruleset(ALL_ABI2);
        show("rule ro", rule(rs, "ro", READ_FILE | READ_DIR | EXECUTE));
        show("rule rw", rule(rs, "rw", ALL_ABI2));
        show("no_new_privs", R(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)));
        show("restrict", R(restrict_self(rs, 0)));
        close(rs);
        confined();
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    show("confined child status", st);

    p = fork();
    if (p == 0) { threads(); _exit(0); }
    waitpid(p, NULL, 0);

    // ptrace: a confined task may trace a task of its domain (or one
    // stacked on it), not an unconfined one, even its own child.
    p = fork();
    if (p == 0) {
        pid_t before = fork();
        if (before == 0) { for (;;) pause(); }
        int rs = ruleset(READ_FILE);
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        restrict_self(rs, 0);
        int ready[2];
        pipe(ready);
        pid_t after = fork();
        if (after == 0) {
            restrict_self(rs, 0);   // a layer more: still in scope
            write(ready[1], "", 1);
            for (;;) pause();
        }
        close(rs);
        char c;
        read(ready[0], &c, 1);
        show("ptrace attach unconfined child", R(ptrace(PTRACE_ATTACH, before, 0, 0)));
        int r = R(ptrace(PTRACE_ATTACH, after, 0, 0));
        show("ptrace attach child in the domain", r);
        if (r == 0) { waitpid(after, NULL, __WALL); ptrace(PTRACE_DETACH, after, 0, 0); }
        kill(before, SIGKILL); kill(after, SIGKILL);
        waitpid(before, NULL, 0); waitpid(after, NULL, 0);
        _exit(0);
    }
    waitpid(p, NULL, 0);
    p = fork();
    if (p == 0) {
        int rs = ruleset(READ_FILE);
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        restrict_self(rs, 0);
        show("traceme under an unconfined parent", R(ptrace(PTRACE_TRACEME, 0, 0, 0)));
        _exit(0);
    }
    waitpid(p, NULL, 0);
    // The parent was never confined.
    show("parent open out/f", openr("out/f", O_RDONLY));
    mq_unlink(queue);
    return 0;
}
