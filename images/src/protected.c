// fs.protected_symlinks, protected_hardlinks, protected_fifos and
// protected_regular (fs/namei.c may_follow_link, may_linkat,
// may_create_in_sticky), as whatever values /proc/sys/fs shows: every
// result is printed with the errno Linux's rule gives for those values.
// Must start as root (it makes files for other users, then becomes them).
// argv[1]: a directory to work in.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int sym, hard, fifos, regular;

static int sysctl(const char *name) {
    char path[128], buf[16] = "";
    snprintf(path, sizeof path, "/proc/sys/fs/%s", name);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
    fclose(f);
    return atoi(buf);
}

static void check(const char *what, int rc, int expected) {
    printf("%s: %d%s\n", what, rc, rc == expected ? "" : " MISMATCH");
    if (rc != expected) printf("  (expected %d)\n", expected);
}

static int openrc(const char *path, int flags) {
    int fd = open(path, flags, 0644);
    if (fd < 0) return -errno;
    close(fd);
    return 0;
}

static void as(uid_t uid, gid_t gid) {
    if (setgroups(0, NULL) || setgid(gid) || setuid(uid)) { perror("drop"); exit(1); }
}

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1])) { perror("chdir"); return 1; }
    sym = sysctl("protected_symlinks"); hard = sysctl("protected_hardlinks");
    fifos = sysctl("protected_fifos"); regular = sysctl("protected_regular");
    printf("sysctls: symlinks %d hardlinks %d fifos %d regular %d\n", sym, hard, fifos, regular);
    umask(0);
    // sticky: root's, world-writable and sticky (as /tmp); gsticky: group 2000 may write, sticky.
    mkdir("sticky", 01777);
    mkdir("gsticky", 01770);
    chown("gsticky", 0, 2000);
    mkdir("plain", 0777);
    int fd = open("sticky/target", O_CREAT | O_WRONLY, 0666); close(fd);
    fd = open("plain/target", O_CREAT | O_WRONLY, 0666); close(fd);
    symlink("target", "sticky/theirs"); lchown("sticky/theirs", 1000, 1000);
    symlink("target", "sticky/roots");
    symlink("target", "sticky/mine"); lchown("sticky/mine", 2000, 2000);
    symlink("target", "plain/theirs"); lchown("plain/theirs", 1000, 1000);
    fd = open("sticky/file", O_CREAT | O_WRONLY, 0666); close(fd); chown("sticky/file", 1000, 1000);
    mkfifo("sticky/fifo", 0666); chown("sticky/fifo", 1000, 1000);
    fd = open("gsticky/file", O_CREAT | O_WRONLY, 0666); close(fd); chown("gsticky/file", 1000, 1000);
    mkfifo("gsticky/fifo", 0666); chown("gsticky/fifo", 1000, 1000);
    fd = open("sticky/rootfile", O_CREAT | O_WRONLY, 0666); close(fd);
    fd = open("plain/private", O_CREAT | O_WRONLY, 0600); close(fd); chown("plain/private", 1000, 1000);
    fd = open("plain/shared", O_CREAT | O_WRONLY, 0666); close(fd); chown("plain/shared", 1000, 1000);

    // Root too is refused another user's link in a sticky world-writable directory.
    check("root follows another's link in sticky", openrc("sticky/theirs", O_RDONLY), sym ? -EACCES : 0);
    check("root lstat-level O_NOFOLLOW|O_PATH", openrc("sticky/theirs", O_PATH | O_NOFOLLOW), 0);
    fflush(stdout);
    if (fork() == 0) {
        as(2000, 2000);
        check("follows another's link in sticky", openrc("sticky/theirs", O_RDONLY), sym ? -EACCES : 0);
        check("follows it through a walk", openrc("sticky/theirs/", O_RDONLY), sym ? -EACCES : -ENOTDIR);
        check("stat through it", stat("sticky/theirs", &(struct stat){0}) < 0 ? -errno : 0, sym ? -EACCES : 0);
        check("follows the directory owner's link", openrc("sticky/roots", O_RDONLY), 0);
        check("follows its own link", openrc("sticky/mine", O_RDONLY), 0);
        check("follows another's link outside sticky", openrc("plain/theirs", O_RDONLY), 0);
        check("O_CREAT through another's link", openrc("sticky/theirs", O_CREAT | O_RDWR), sym ? -EACCES : 0);
        check("readlink of another's link", readlink("sticky/theirs", (char[16]){0}, 16) < 0 ? -errno : 6, 6);
        check("O_CREAT of another's file in sticky", openrc("sticky/file", O_CREAT | O_RDWR), regular ? -EACCES : 0);
        check("open of another's file in sticky", openrc("sticky/file", O_RDWR), 0);
        check("O_CREAT of the directory owner's file", openrc("sticky/rootfile", O_CREAT | O_RDWR), 0);
        check("O_CREAT|O_EXCL of another's file", openrc("sticky/file", O_CREAT | O_EXCL | O_RDWR), -EEXIST);
        check("O_CREAT of another's FIFO in sticky", openrc("sticky/fifo", O_CREAT | O_RDONLY | O_NONBLOCK), fifos ? -EACCES : 0);
        check("open of another's FIFO in sticky", openrc("sticky/fifo", O_RDONLY | O_NONBLOCK), 0);
        check("O_CREAT of another's file, group-writable sticky", openrc("gsticky/file", O_CREAT | O_RDWR), regular >= 2 ? -EACCES : 0);
        check("O_CREAT of another's FIFO, group-writable sticky", openrc("gsticky/fifo", O_CREAT | O_RDONLY | O_NONBLOCK), fifos >= 2 ? -EACCES : 0);
        check("O_CREAT of a new file in sticky", openrc("sticky/new", O_CREAT | O_RDWR), 0);
        check("hard link of another's private file", link("plain/private", "plain/l1") < 0 ? -errno : 0, hard ? -EPERM : 0);
        check("hard link of another's shared file", link("plain/shared", "plain/l2") < 0 ? -errno : 0, 0);
        fflush(stdout);
        _exit(0);
    }
    int st;
    wait(&st);
    return WEXITSTATUS(st);
}
