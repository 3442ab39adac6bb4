// Discretionary access control as Linux 6.1 applies it: run as root, it
// makes a tree of files and directories with various modes and owners under
// DIR/dac, then forks children that become other users (or stay root
// without CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER) and prints
// the errno of each operation: opens, the walk through an unsearchable
// directory, creating and removing in a 0755 and a sticky 1777 directory,
// rename, chmod/chown/utimensat, truncate, access against faccessat's
// AT_EACCESS, exec, hard links (fs.protected_hardlinks=1).
// Usage (as root): dac DIR
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void r(const char *what, long rc) {
    if (rc < 0) printf("  %s: %s\n", what, strerrorname_np(errno));
    else printf("  %s: ok\n", what);
}

static long op(int fd) { if (fd >= 0) close(fd); return fd; }

static void mode(const char *p) {
    struct stat st;
    if (lstat(p, &st) != 0) { printf("  mode %s: %s\n", p, strerrorname_np(errno)); return; }
    printf("  mode %s: %04o uid %u gid %u\n", p, st.st_mode & 07777, st.st_uid, st.st_gid);
}

static void file(const char *p, mode_t m, uid_t u, gid_t g) {
    close(open(p, O_CREAT | O_WRONLY | O_TRUNC, 0600));
    if (chown(p, u, g) || chmod(p, m)) { perror(p); exit(1); }
}

static void dir(const char *p, mode_t m, uid_t u, gid_t g) {
    mkdir(p, 0700);
    if (chown(p, u, g) || chmod(p, m)) { perror(p); exit(1); }
}

// A copy of this program, to exec.
static void program(const char *p, mode_t m) {
    int in = open("/proc/self/exe", O_RDONLY), out = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0700);
    char buf[65536];
    ssize_t n;
    if (in < 0 || out < 0) { perror("copy"); exit(1); }
    while ((n = read(in, buf, sizeof buf)) > 0) if (write(out, buf, n) != n) { perror("copy"); exit(1); }
    close(in); close(out);
    chmod(p, m);
}

static void exec(const char *label, const char *p) {
    pid_t c = fork();
    if (c == 0) {
        char *argv[] = {(char *)p, "exit7", NULL};
        execv(p, argv);
        _exit(100 + errno);
    }
    int st;
    waitpid(c, &st, 0);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (code >= 100) { errno = code - 100; r(label, -1); } else printf("  %s: ran, status %d\n", label, code);
}

// What each unprivileged caller tries; `me` names its own files.
static void operations(const char *me) {
    char p[256], q[256];
    r("open 0644 rdonly", op(open("dac/d755/f644", O_RDONLY)));
    r("open 0644 wronly", op(open("dac/d755/f644", O_WRONLY)));
    r("open 0644 rdwr", op(open("dac/d755/f644", O_RDWR)));
    r("open 0644 rdonly|trunc", op(open("dac/d755/f644", O_RDONLY | O_TRUNC)));
    r("open 0644 noatime", op(open("dac/d755/f644", O_RDONLY | O_NOATIME)));
    r("open 0600 rdonly", op(open("dac/d755/f600", O_RDONLY)));
    r("open 0640 group rdonly", op(open("dac/g640", O_RDONLY)));
    r("open 0640 group wronly", op(open("dac/g640", O_WRONLY)));
    r("open 0604 other rdonly (group denied)", op(open("dac/g604", O_RDONLY)));
    r("open o_path 0600", op(open("dac/d755/f600", O_PATH)));
    r("open dir rdonly", op(open("dac/d755", O_RDONLY | O_DIRECTORY)));
    r("open dir wronly", op(open("dac/d755", O_WRONLY)));
    struct stat st;
    r("stat through 0700", stat("dac/d700/x", &st));
    r("stat missing through 0700", stat("dac/d700/missing/deeper", &st));
    r("open through 0700", op(open("dac/d700/x", O_RDONLY)));
    r("opendir 0711", op(open("dac/d711", O_RDONLY | O_DIRECTORY)));
    r("stat through 0711", stat("dac/d711/y", &st));
    r("chdir 0700", chdir("dac/d700") == 0 ? chdir("../..") : -1);
    r("chdir 0711", chdir("dac/d711") == 0 ? chdir("../..") : -1);
    snprintf(p, sizeof p, "dac/d755/new-%s", me);
    r("create in 0755", op(open(p, O_CREAT | O_WRONLY, 0644)));
    r("create existing excl in 0755", op(open("dac/d755/f644", O_CREAT | O_EXCL | O_WRONLY, 0644)));
    r("mkdir in 0755", mkdir(p, 0755));
    r("mknod fifo in 0755", mknod(p, S_IFIFO | 0644, 0));
    r("symlink in 0755", symlink("x", p));
    r("unlink in 0755", unlink("dac/d755/f644"));
    r("rmdir in 0755", rmdir("dac/d755/sub"));
    r("rename within 0755", rename("dac/d755/f644", "dac/d755/g"));
    snprintf(p, sizeof p, "dac/sticky/mine-%s", me);
    r("create in sticky", op(open(p, O_CREAT | O_WRONLY, 0666)));
    snprintf(q, sizeof q, "dac/sticky/moved-%s", me);
    r("rename own in sticky", rename(p, q));
    r("unlink own in sticky", unlink(q));
    r("unlink 1001's in sticky", unlink("dac/sticky/a1001"));
    r("rename 1001's in sticky", rename("dac/sticky/a1001", "dac/sticky/taken"));
    r("rmdir 1001's dir in sticky", rmdir("dac/sticky/dir1001"));
    r("rename into 0755", rename("dac/u1000/own", "dac/d755/own"));
    r("rename own dir to another parent", rename("dac/u1000/sub", "dac/sticky/sub-moved") == 0 ? rename("dac/sticky/sub-moved", "dac/u1000/sub") : -1);
    r("rename 0555 dir to another parent", rename("dac/sticky/ro1000", "dac/u1000/ro-moved"));
    r("chmod root's", chmod("dac/d755/f644", 0666));
    r("chmod 1000's", chmod("dac/u1000/own", 02755));
    mode("dac/u1000/own");
    r("chown root's to self", chown("dac/d755/f644", getuid(), -1));
    r("chown 1000's to 1001", chown("dac/u1000/own", 1001, -1));
    r("chown 1000's to same uid", chown("dac/u1000/own", 1000, -1));
    r("chgrp 1000's to 2000", chown("dac/u1000/own", -1, 2000));
    mode("dac/u1000/own");
    r("chgrp 1000's to 3000", chown("dac/u1000/own", -1, 3000));
    r("chown 1000's setuid to 1000:1000", chown("dac/u1000/suid", 1000, 1000));
    mode("dac/u1000/suid");
    struct timespec t[2] = {{1000000, 0}, {2000000, 0}}, now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    r("utimensat null root's 0644", utimensat(AT_FDCWD, "dac/d755/f644", NULL, 0));
    r("utimensat null root's 0666", utimensat(AT_FDCWD, "dac/f666", NULL, 0));
    r("utimensat now,now root's 0666", utimensat(AT_FDCWD, "dac/f666", now, 0));
    r("utimensat times root's 0666", utimensat(AT_FDCWD, "dac/f666", t, 0));
    r("utimensat times 1000's", utimensat(AT_FDCWD, "dac/u1000/own", t, 0));
    r("truncate root's 0644", truncate("dac/d755/f644", 0));
    r("truncate root's 0666", truncate("dac/f666", 0));
    int fd = open("dac/f666", O_RDONLY);
    r("ftruncate read-only fd", ftruncate(fd, 0));
    close(fd);
    r("access 0600 R", access("dac/d755/f600", R_OK));
    r("access 0644 R", access("dac/d755/f644", R_OK));
    r("access 0644 W", access("dac/d755/f644", W_OK));
    r("access 0644 X", access("dac/d755/f644", X_OK));
    r("access through 0700", access("dac/d700/x", F_OK));
    r("eaccess 0600 R", faccessat(AT_FDCWD, "dac/d755/f600", R_OK, AT_EACCESS));
    r("eaccess 0644 W", faccessat(AT_FDCWD, "dac/d755/f644", W_OK, AT_EACCESS));
    r("eaccess through 0700", faccessat(AT_FDCWD, "dac/d700/x", F_OK, AT_EACCESS));
    exec("exec 0644", "dac/exec644");
    exec("exec 0700 root's", "dac/exec700");
    exec("exec 0711 root's", "dac/exec711");
    exec("exec 0755", "dac/exec755");
    snprintf(p, sizeof p, "dac/sticky/hl1-%s", me);
    r("link root's 0600", link("dac/d755/f600", p));
    snprintf(p, sizeof p, "dac/sticky/hl2-%s", me);
    r("link root's 0666", link("dac/f666", p));
    unlink(p);
}

static void drop(uid_t ruid, uid_t euid, gid_t rgid, gid_t egid, int ngroups, const gid_t *groups) {
    if (setgroups(ngroups, groups) || setresgid(rgid, egid, egid) || setresuid(ruid, euid, euid)) { perror("drop"); exit(1); }
}

static void child(const char *label, void (*body)(void)) {
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) { printf("%s\n", label); body(); fflush(stdout); _exit(0); }
    int st;
    waitpid(c, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) printf("%s: child failed %d\n", label, st);
}

static void as1000(void) {
    gid_t g[] = {1000, 2000};
    drop(1000, 1000, 1000, 1000, 2, g);
    operations("1000");
    // file_remove_privs: a writer without CAP_FSETID, owner or not.
    int fd = open("dac/u1000/wsuid", O_WRONLY);
    r("write own 06775", fd < 0 ? -1 : write(fd, "x", 1));
    close(fd);
    mode("dac/u1000/wsuid");
    r("truncate own 02754 of group 3000", truncate("dac/u1000/tsgid", 0));
    mode("dac/u1000/tsgid");
    r("write others' 02664 of own group", (fd = open("dac/sgid664", O_WRONLY)) < 0 ? -1 : write(fd, "x", 1));
    close(fd);
    mode("dac/sgid664");
}
static void as1001(void) { gid_t g[] = {1001}; drop(1001, 1001, 1001, 1001, 1, g); operations("1001"); }

// Root without the DAC overrides: the owner's bits of root's files, the
// others' of everyone else's.
static void rootWithoutOverrides(void) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d)) { perror("capget"); exit(1); }
    d[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH) | (1u << CAP_FOWNER));
    if (syscall(SYS_capset, &h, d)) { perror("capset"); exit(1); }
    operations("capless");
    r("open 1000's 0644 wronly", op(open("dac/u1000/own", O_WRONLY)));
    r("open 0700 dir of 1000", op(open("dac/u1000/private", O_RDONLY | O_DIRECTORY)));
}

// access judges by the real ids: a real 1000 with euid 0, and the reverse.
static void realIsUser(void) {
    gid_t g[] = {0};
    drop(1000, 0, 1000, 0, 1, g);
    r("real 1000, euid 0: access 0600", access("dac/d755/f600", R_OK));
    r("real 1000, euid 0: eaccess 0600", faccessat(AT_FDCWD, "dac/d755/f600", R_OK, AT_EACCESS));
    r("real 1000, euid 0: access through 0700", access("dac/d700/x", F_OK));
    r("real 1000, euid 0: open 0600", op(open("dac/d755/f600", O_RDONLY)));
}
static void realIsRoot(void) {
    gid_t g[] = {0};
    drop(0, 1000, 0, 1000, 1, g);
    r("real 0, euid 1000: access 0600", access("dac/d755/f600", R_OK));
    r("real 0, euid 1000: eaccess 0600", faccessat(AT_FDCWD, "dac/d755/f600", R_OK, AT_EACCESS));
    r("real 0, euid 1000: faccessat2 0600", syscall(SYS_faccessat2, AT_FDCWD, "dac/d755/f600", R_OK, 0));
    r("real 0, euid 1000: open 0600", op(open("dac/d755/f600", O_RDONLY)));
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "exit7") == 0) return 7;
    if (argc < 2 || getuid() != 0) { fprintf(stderr, "usage (as root): dac DIR\n"); return 2; }
    if (chdir(argv[1])) { perror(argv[1]); return 1; }
    umask(0);
    dir("dac", 0755, 0, 0);
    dir("dac/d755", 0755, 0, 0);
    file("dac/d755/f644", 0644, 0, 0);
    file("dac/d755/f600", 0600, 0, 0);
    dir("dac/d755/sub", 0755, 0, 0);
    dir("dac/d700", 0700, 0, 0);
    file("dac/d700/x", 0644, 0, 0);
    dir("dac/d711", 0711, 0, 0);
    file("dac/d711/y", 0644, 0, 0);
    file("dac/g640", 0640, 1001, 2000);
    file("dac/g604", 0604, 1001, 2000);
    file("dac/f666", 0666, 0, 0);
    dir("dac/sticky", 01777, 0, 0);
    file("dac/sticky/a1000", 0644, 1000, 1000);
    file("dac/sticky/a1001", 0666, 1001, 1001);
    dir("dac/sticky/dir1001", 0777, 1001, 1001);
    dir("dac/sticky/ro1000", 0555, 1000, 1000);
    dir("dac/u1000", 0755, 1000, 1000);
    file("dac/u1000/own", 0644, 1000, 1000);
    file("dac/u1000/suid", 06755, 1000, 0);
    dir("dac/u1000/sub", 0755, 1000, 1000);
    dir("dac/u1000/private", 0700, 1000, 1000);
    file("dac/u1000/wsuid", 06775, 1000, 1000);
    file("dac/u1000/tsgid", 02754, 1000, 3000);
    file("dac/sgid664", 02666, 0, 2000);
    program("dac/exec644", 0644);
    program("dac/exec700", 0700);
    program("dac/exec711", 0711);
    program("dac/exec755", 0755);
    printf("root\n");
    exec("exec 0644", "dac/exec644");
    exec("exec 0700", "dac/exec700");
    file("dac/rootsuid", 06755, 0, 0);
    r("chown setuid 06755 to 1000", chown("dac/rootsuid", 1000, -1));
    mode("dac/rootsuid");
    file("dac/rootsgid", 02745, 0, 0);
    r("chown setgid 02745 to 1000", chown("dac/rootsgid", 1000, -1));
    mode("dac/rootsgid");
    child("uid 1000 groups 1000,2000", as1000);
    child("uid 1001", as1001);
    child("uid 0 without DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER", rootWithoutOverrides);
    child("real uid 1000, effective 0", realIsUser);
    child("real uid 0, effective 1000", realIsRoot);
    return 0;
}
