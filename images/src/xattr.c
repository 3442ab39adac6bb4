// Extended attributes: set/get/list/remove in the path, l- and f- forms,
// their flags, limits and namespaces, on a regular file, a directory, a
// symlink, a FIFO and a pipe. argv[1]: a writable directory. With
// "readonly PATH" instead: what a file on a read-only mount answers.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define R(x) ({ long r_ = (long)(x); r_ < 0 ? -errno : r_; })

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

static void list(const char *what, long n, char *buf) {
    char *names[64];
    int count = 0;
    for (long i = 0; i < n && count < 64; i += strlen(buf + i) + 1) names[count++] = buf + i;
    qsort(names, count, sizeof *names, cmp);
    printf("%s: %ld [", what, n);
    for (int i = 0; i < count; i++) printf("%s%s", i ? " " : "", names[i]);
    printf("]\n");
}

int main(int argc, char **argv) {
    char buf[4096];
    if (argc == 3 && !strcmp(argv[1], "readonly")) {
        printf("setxattr: %ld\n", R(setxattr(argv[2], "user.x", "1", 1, 0)));
        printf("removexattr: %ld\n", R(removexattr(argv[2], "user.x")));
        printf("getxattr missing: %ld\n", R(getxattr(argv[2], "user.none", buf, sizeof buf)));
        printf("listxattr: %s\n", R(listxattr(argv[2], buf, sizeof buf)) >= 0 ? "ok" : "error");
        printf("getxattr /proc/self/status: %ld\n", R(getxattr("/proc/self/status", "user.x", buf, sizeof buf)));
        return 0;
    }
    if (argc < 2 || chdir(argv[1]) < 0) return 2;
    mkdir("xa", 0755);
    chdir("xa");
    close(open("f", O_CREAT | O_WRONLY, 0644));
    mkdir("d", 0755);
    symlink("f", "l");
    mkfifo("p", 0644);

    long n;
    printf("get missing: %ld\n", R(getxattr("f", "user.a", buf, sizeof buf)));
    printf("set user.a: %ld\n", R(setxattr("f", "user.a", "one", 3, 0)));
    printf("size: %ld\n", R(getxattr("f", "user.a", NULL, 0)));
    memset(buf, 0, sizeof buf);
    n = R(getxattr("f", "user.a", buf, sizeof buf));
    printf("get: %ld \"%s\"\n", n, buf);
    printf("get too small: %ld\n", R(getxattr("f", "user.a", buf, 1)));
    printf("CREATE existing: %ld\n", R(setxattr("f", "user.a", "x", 1, XATTR_CREATE)));
    printf("REPLACE missing: %ld\n", R(setxattr("f", "user.b", "x", 1, XATTR_REPLACE)));
    printf("REPLACE existing: %ld\n", R(setxattr("f", "user.a", "two", 3, XATTR_REPLACE)));
    memset(buf, 0, sizeof buf);
    n = R(getxattr("f", "user.a", buf, sizeof buf));
    printf("get: %ld \"%s\"\n", n, buf);
    n = R(setxattr("f", "user.empty", "", 0, 0));
    printf("set empty value: %ld, size %ld\n", n, R(getxattr("f", "user.empty", NULL, 0)));
    n = R(listxattr("f", buf, sizeof buf));
    list("list", n, buf);
    n = R(listxattr("f", NULL, 0));
    printf("list size: %ld, too small: %ld\n", n, R(listxattr("f", buf, 3)));
    printf("bad flags: %ld\n", R(setxattr("f", "user.a", "x", 1, 4)));
    printf("empty name: %ld\n", R(setxattr("f", "", "x", 1, 0)));
    char longname[300];
    memset(longname, 'n', sizeof longname);
    memcpy(longname, "user.", 5);
    longname[299] = 0;
    printf("long name: %ld\n", R(setxattr("f", longname, "x", 1, 0)));
    char *big = calloc(1, 70000);
    printf("value too big: %ld\n", R(setxattr("f", "user.big", big, 70000, 0)));
    printf("unknown namespace: %ld\n", R(setxattr("f", "foo.bar", "x", 1, 0)));
    printf("get unknown namespace: %ld\n", R(getxattr("f", "foo.bar", buf, sizeof buf)));

    printf("dir set: %ld\n", R(setxattr("d", "user.a", "dir", 3, 0)));
    n = R(lsetxattr("l", "user.a", "x", 1, 0));
    printf("symlink lset: %ld lget: %ld\n", n, R(lgetxattr("l", "user.a", buf, sizeof buf)));
    printf("through symlink get: %ld\n", R(getxattr("l", "user.a", buf, sizeof buf)));
    n = R(setxattr("p", "user.a", "x", 1, 0));
    printf("fifo set: %ld get: %ld\n", n, R(getxattr("p", "user.a", buf, sizeof buf)));

    int fd = open("f", O_RDWR);
    printf("fset: %ld\n", R(fsetxattr(fd, "user.f", "fd", 2, 0)));
    memset(buf, 0, sizeof buf);
    n = R(fgetxattr(fd, "user.f", buf, sizeof buf));
    printf("fget: %ld \"%s\"\n", n, buf);
    n = R(flistxattr(fd, buf, sizeof buf));
    list("flist", n, buf);
    n = R(fremovexattr(fd, "user.f"));
    printf("fremove: %ld, again %ld\n", n, R(fremovexattr(fd, "user.f")));
    int opath = open("f", O_PATH);
    printf("fget O_PATH: %ld\n", R(fgetxattr(opath, "user.a", buf, sizeof buf)));
    printf("fget bad fd: %ld\n", R(fgetxattr(99, "user.a", buf, sizeof buf)));
    int p[2];
    pipe(p);
    long ps = R(fsetxattr(p[0], "user.a", "x", 1, 0)), pg = R(fgetxattr(p[0], "user.a", buf, sizeof buf));
    printf("pipe fset: %ld fget: %ld flist: %ld\n", ps, pg, R(flistxattr(p[0], buf, sizeof buf)));
    printf("pipe trusted get: %s\n", R(fgetxattr(p[0], "trusted.a", buf, sizeof buf)) == -ENODATA ? "ENODATA" : "other");

    long t = R(setxattr("f", "trusted.t", "t", 1, 0));
    printf("trusted set: %s\n", t == 0 ? "0 (CAP_SYS_ADMIN)" : t == -EPERM ? "EPERM" : "other");
    long tg = R(getxattr("f", "trusted.t", buf, sizeof buf));
    printf("trusted get: %s\n", tg == 1 ? "1 (CAP_SYS_ADMIN)" : tg == -ENODATA ? "ENODATA" : "other");
    n = R(listxattr("f", buf, sizeof buf));
    list("list", n, buf);
    removexattr("f", "trusted.t");

    n = R(removexattr("f", "user.a"));
    printf("remove: %ld, again: %ld\n", n, R(removexattr("f", "user.a")));
    printf("missing path: %ld\n", R(getxattr("nowhere", "user.a", buf, sizeof buf)));
    return 0;
}
