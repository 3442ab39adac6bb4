// POSIX ACLs through the raw system.posix_acl_* xattrs (fs/posix_acl.c):
// validation, the equivalent-mode shortcut, permission checks through
// named users, groups and the mask, chmod rewriting the ACL, default ACLs
// inherited at creation instead of the umask, the owner rule and S_ISGID.
// Must start as root (it plays other users). argv[1]: a tmpfs directory.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define R(x) ({ long r_ = (long)(x); (int)(r_ < 0 ? -errno : r_); })
#define ACCESS "system.posix_acl_access"
#define DEFAULT "system.posix_acl_default"
enum { USER_OBJ = 1, USER = 2, GROUP_OBJ = 4, GROUP = 8, MASK = 0x10, OTHER = 0x20 };

struct acl { unsigned char b[4 + 8 * 16]; int n; };
static void begin(struct acl *a, uint32_t version) { memcpy(a->b, &version, 4); a->n = 4; }
static void ent(struct acl *a, uint16_t tag, uint16_t perm, uint32_t id) {
    memcpy(a->b + a->n, &tag, 2); memcpy(a->b + a->n + 2, &perm, 2); memcpy(a->b + a->n + 4, &id, 4); a->n += 8;
}
static int set(const char *path, const char *name, struct acl *a) { return R(setxattr(path, name, a->b, a->n, 0)); }

static void show(const char *path) {
    struct stat st;
    stat(path, &st);
    unsigned char buf[256];
    printf("%s: mode %o", path, st.st_mode & 07777);
    for (int k = 0; k < 2; k++) {
        int n = R(getxattr(path, k ? DEFAULT : ACCESS, buf, sizeof buf));
        printf(k ? " default" : " access");
        if (n < 0) { printf(" %d", n); continue; }
        for (int i = 4; i + 8 <= n; i += 8) {
            uint16_t tag, perm; uint32_t id;
            memcpy(&tag, buf + i, 2); memcpy(&perm, buf + i + 2, 2); memcpy(&id, buf + i + 4, 4);
            printf(" %x:%o:%d", tag, perm, (int)id);
        }
    }
    char names[256];
    int n = R(listxattr(path, names, sizeof names));
    printf(" list");
    for (int i = 0; i < n; i += strlen(names + i) + 1) printf(" %s", names + i);
    printf("\n");
}

// Opens `path` with `flags` as uid/gid (no supplementary groups but `extra`);
// flags -1 truncates it instead, -2 sets its times to now, -3 sets a user xattr.
static int openas(uid_t uid, gid_t gid, gid_t extra, const char *path, int flags) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        gid_t g[1] = {extra};
        if (setgroups(extra ? 1 : 0, g) || setgid(gid) || setuid(uid)) _exit(100);
        int rc = flags == -1 ? truncate(path, 0) : flags == -2 ? utimes(path, NULL)
               : flags == -3 ? setxattr(path, "user.x", "1", 1, 0) : open(path, flags);
        _exit(rc < 0 ? errno : 0);
    }
    int st;
    waitpid(p, &st, 0);
    return -WEXITSTATUS(st);
}

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1])) { perror("chdir"); return 1; }
    umask(022);
    struct acl a;
    int fd = open("f", O_CREAT | O_RDWR, 0640); close(fd);
    // posix_acl_from_xattr and posix_acl_valid.
    begin(&a, 2); a.n = 2;
    printf("short header: %d\n", set("f", ACCESS, &a));
    begin(&a, 1); ent(&a, USER_OBJ, 6, 0); ent(&a, GROUP_OBJ, 4, 0); ent(&a, OTHER, 0, 0);
    printf("version 1: %d\n", set("f", ACCESS, &a));
    begin(&a, 2); ent(&a, USER_OBJ, 6, 0); a.n += 3;
    printf("ragged: %d\n", set("f", ACCESS, &a));
    begin(&a, 2); ent(&a, USER_OBJ, 6, 0); ent(&a, 0x40, 4, 0); ent(&a, OTHER, 0, 0);
    printf("unknown tag: %d\n", set("f", ACCESS, &a));
    begin(&a, 2); ent(&a, USER_OBJ, 8, 0); ent(&a, GROUP_OBJ, 4, 0); ent(&a, OTHER, 0, 0);
    printf("perm 8: %d\n", set("f", ACCESS, &a));
    begin(&a, 2); ent(&a, USER_OBJ, 6, 0); ent(&a, GROUP_OBJ, 4, 0);
    printf("no other: %d\n", set("f", ACCESS, &a));
    begin(&a, 2); ent(&a, USER_OBJ, 6, 0); ent(&a, USER, 6, 1000); ent(&a, GROUP_OBJ, 4, 0); ent(&a, OTHER, 0, 0);
    printf("named user without mask: %d\n", set("f", ACCESS, &a));
    begin(&a, 2); ent(&a, GROUP_OBJ, 4, 0); ent(&a, USER_OBJ, 6, 0); ent(&a, OTHER, 0, 0);
    printf("wrong order: %d\n", set("f", ACCESS, &a));
    begin(&a, 2); ent(&a, USER_OBJ, 6, 0); ent(&a, USER, 6, -1); ent(&a, GROUP_OBJ, 4, 0); ent(&a, MASK, 6, 0); ent(&a, OTHER, 0, 0);
    printf("user -1: %d\n", set("f", ACCESS, &a));
    begin(&a, 2); ent(&a, USER_OBJ, 6, 0); ent(&a, USER_OBJ, 6, 0); ent(&a, GROUP_OBJ, 4, 0); ent(&a, OTHER, 0, 0);
    printf("two owners: %d\n", set("f", ACCESS, &a));
    show("f");
    // Equivalent to a mode: only the mode changes.
    begin(&a, 2); ent(&a, USER_OBJ, 7, 0); ent(&a, GROUP_OBJ, 5, 0); ent(&a, OTHER, 1, 0);
    printf("equivalent: %d\n", set("f", ACCESS, &a));
    show("f");
    // A named user and a mask.
    begin(&a, 2); ent(&a, USER_OBJ, 6, 0); ent(&a, USER, 6, 1000); ent(&a, GROUP_OBJ, 4, 0);
    ent(&a, GROUP, 6, 3000); ent(&a, MASK, 4, 0); ent(&a, OTHER, 0, 0);
    printf("full: %d\n", set("f", ACCESS, &a));
    show("f");
    printf("1000 read: %d\n", openas(1000, 1000, 0, "f", O_RDONLY));
    printf("1000 write (mask): %d\n", openas(1000, 1000, 0, "f", O_WRONLY));
    printf("2000 read (other): %d\n", openas(2000, 2000, 0, "f", O_RDONLY));
    printf("group 0 read: %d\n", openas(2000, 0, 0, "f", O_RDONLY));
    printf("group 3000 read: %d\n", openas(2000, 2000, 3000, "f", O_RDONLY));
    printf("group 3000 write (mask): %d\n", openas(2000, 2000, 3000, "f", O_RDWR));
    printf("chmod 660: %d\n", R(chmod("f", 0660)));
    show("f");
    printf("1000 write: %d\n", openas(1000, 1000, 0, "f", O_WRONLY));
    printf("group 3000 write: %d\n", openas(2000, 2000, 3000, "f", O_RDWR));
    printf("1000 truncates: %d\n", openas(1000, 1000, 0, "f", -1));
    printf("1000 touches: %d\n", openas(1000, 1000, 0, "f", -2));
    printf("1000 sets a user xattr: %d\n", openas(1000, 1000, 0, "f", -3));
    printf("2000 truncates: %d\n", openas(2000, 2000, 0, "f", -1));
    printf("chmod 604: %d\n", R(chmod("f", 0604)));
    show("f");
    printf("1000 read (mask ---): %d\n", openas(1000, 1000, 0, "f", O_RDONLY));
    printf("2000 read (other r, no group bits: no ACL): %d\n", openas(2000, 2000, 0, "f", O_RDONLY));
    // Removal: the mode stays; removing what is not there succeeds.
    printf("remove: %d\n", R(removexattr("f", ACCESS)));
    printf("remove again: %d\n", R(removexattr("f", ACCESS)));
    show("f");
    // A default ACL: only on directories.
    begin(&a, 2); ent(&a, USER_OBJ, 7, 0); ent(&a, USER, 7, 1000); ent(&a, GROUP_OBJ, 5, 0); ent(&a, MASK, 7, 0); ent(&a, OTHER, 0, 0);
    printf("default on a file: %d\n", set("f", DEFAULT, &a));
    printf("remove default of a file: %d\n", R(removexattr("f", DEFAULT)));
    mkdir("d", 0755);
    printf("default on a dir: %d\n", set("d", DEFAULT, &a));
    show("d");
    umask(077);   // not applied under a default ACL
    fd = open("d/new", O_CREAT | O_RDWR, 0666); close(fd);
    show("d/new");
    mkdir("d/sub", 0777);
    show("d/sub");
    mkfifo("d/fifo", 0640);
    show("d/fifo");
    fd = open("d/sub/deeper", O_CREAT | O_RDWR, 0600); close(fd);
    show("d/sub/deeper");
    symlink("new", "d/link");
    struct stat st;
    lstat("d/link", &st);
    printf("symlink: mode %o, acl %d\n", st.st_mode & 07777, R(lgetxattr("d/link", ACCESS, NULL, 0)));
    printf("1000 writes d/new: %d\n", openas(1000, 1000, 0, "d/new", O_WRONLY));
    umask(022);
    fd = open("plainfile", O_CREAT | O_RDWR, 0666); close(fd);
    show("plainfile");
    // Only the owner (or CAP_FOWNER) sets an ACL.
    fflush(stdout);
    if (fork() == 0) {
        setgid(1000); setuid(1000);
        begin(&a, 2); ent(&a, USER_OBJ, 6, 0); ent(&a, GROUP_OBJ, 6, 0); ent(&a, OTHER, 6, 0);
        printf("non-owner sets: %d\n", set("plainfile", ACCESS, &a));
        printf("non-owner removes: %d\n", R(removexattr("plainfile", ACCESS)));
        fflush(stdout);
        _exit(0);
    }
    wait(NULL);
    // S_ISGID goes when the owner setting it is outside the file's group.
    fd = open("sgid", O_CREAT | O_RDWR, 0644); close(fd);
    chown("sgid", 1000, 5000);
    chmod("sgid", 02775);
    show("sgid");
    fflush(stdout);
    if (fork() == 0) {
        setgroups(0, NULL); setgid(1000); setuid(1000);
        begin(&a, 2); ent(&a, USER_OBJ, 7, 0); ent(&a, GROUP_OBJ, 7, 0); ent(&a, OTHER, 5, 0);
        printf("owner outside the group sets: %d\n", set("sgid", ACCESS, &a));
        fflush(stdout);
        _exit(0);
    }
    wait(NULL);
    show("sgid");
    return 0;
}
