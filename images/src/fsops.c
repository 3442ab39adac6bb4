// Filesystem calls and their errnos, run in the directory given as argv[1]:
// natively on a host tmpfs and in the sandbox's tmpfs, the output must match.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

static void r(const char *what, long v) {
    if (v >= 0) printf("%-28s %ld\n", what, v);
    else printf("%-28s %s\n", what, strerrorname_np(errno));
}

static long fsize(const char *p) { struct stat st; return stat(p, &st) ? -1 : (long)st.st_size; }

static int names(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1])) { perror("chdir"); return 2; }
    r("mkdir d", mkdir("d", 0755));
    r("mkdir d again", mkdir("d", 0755));
    r("mkdir d/", mkdir("d2/", 0755));
    r("creat f", creat("f", 0644));
    r("open f O_EXCL", open("f", O_CREAT | O_EXCL | O_WRONLY, 0644));
    r("open f/ ", open("f/", O_RDONLY));
    r("open f O_DIRECTORY", open("f", O_RDONLY | O_DIRECTORY));
    r("open d O_WRONLY", open("d", O_WRONLY));
    r("open nofile", open("nofile", O_RDONLY));
    r("open d/x/y", open("f/x", O_RDONLY));
    r("unlink d", unlink("d"));
    r("rmdir f", rmdir("f"));
    r("rmdir .", rmdir("."));
    r("symlink f l", symlink("f", "l"));
    r("open l O_NOFOLLOW", open("l", O_RDONLY | O_NOFOLLOW));
    char buf[64] = {0};
    r("readlink l", readlink("l", buf, sizeof buf));
    printf("  -> %s\n", buf);
    r("readlink f", readlink("f", buf, sizeof buf));
    r("link d dl", link("d", "dl"));
    r("link f h", link("f", "h"));
    struct stat st; stat("f", &st);
    printf("  nlink %ld\n", (long)st.st_nlink);
    r("mkdir d/sub", mkdir("d/sub", 0700));
    r("rmdir d (not empty)", rmdir("d"));
    r("rename d d/sub/in", rename("d", "d/sub/in"));
    r("rename f d (file on dir)", rename("f", "d"));
    r("rename d f (dir on file)", rename("d", "f"));
    r("renameat2 NOREPLACE", syscall(SYS_renameat2, AT_FDCWD, "f", AT_FDCWD, "h", 1));
    int fd = open("g", O_CREAT | O_RDWR, 0600);
    write(fd, "gggg", 4);
    r("renameat2 EXCHANGE", syscall(SYS_renameat2, AT_FDCWD, "g", AT_FDCWD, "d", 2));
    struct stat sd; stat("g", &sd);
    printf("  g is now a %s\n", S_ISDIR(sd.st_mode) ? "directory" : "file");
    r("renameat2 EXCHANGE back", syscall(SYS_renameat2, AT_FDCWD, "g", AT_FDCWD, "d", 2));
    r("rename g g2", rename("g", "g2"));
    r("names in .", names("."));
    r("ftruncate 10000", ftruncate(fd, 10000));
    r("size", fsize("g2"));
    r("lseek SEEK_END", lseek(fd, 0, SEEK_END));
    r("lseek SEEK_DATA past end", lseek(fd, 20000, SEEK_DATA));
    r("pwrite at 12000", pwrite(fd, "x", 1, 12000));
    r("size", fsize("g2"));
    r("fallocate KEEP_SIZE", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 100000));
    r("size", fsize("g2"));
    r("fallocate grow", fallocate(fd, 0, 0, 20000));
    r("size", fsize("g2"));
    r("fchmod 0640", fchmod(fd, 0640));
    stat("g2", &st);
    printf("  mode %o\n", st.st_mode & 07777);
    struct timespec ts[2] = { { 1000000000, 5 }, { 1200000000, 7 } };
    r("utimensat", utimensat(AT_FDCWD, "g2", ts, 0));
    stat("g2", &st);
    printf("  atime %ld.%ld mtime %ld.%ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec, (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    ts[0].tv_nsec = UTIME_OMIT; ts[1].tv_sec = 5; ts[1].tv_nsec = 0;
    r("utimensat OMIT", utimensat(AT_FDCWD, "g2", ts, 0));
    stat("g2", &st);
    printf("  atime %ld mtime %ld\n", (long)st.st_atim.tv_sec, (long)st.st_mtim.tv_sec);
    r("truncate 3", truncate("g2", 3));
    char in[8] = {0};
    r("pread", pread(fd, in, sizeof in, 0));
    printf("  %s\n", in);
    int out = open("copy", O_CREAT | O_RDWR | O_TRUNC, 0644);
    off_t off = 1;
    r("sendfile", sendfile(out, fd, &off, 100));
    printf("  off %ld\n", (long)off);
    loff_t o2 = 0;
    r("copy_file_range", copy_file_range(fd, &o2, out, NULL, 3, 0));
    r("size copy", fsize("copy"));
    int m = memfd_create("mem", MFD_CLOEXEC);
    r("memfd write", write(m, "memfd!", 6));
    char *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, m, 0);
    printf("  mapped: %.6s\n", p);
    r("fcntl F_GETFD memfd", fcntl(m, F_GETFD));
    struct statfs sf;
    r("fstatfs", fstatfs(fd, &sf));
    printf("  tmpfs %d\n", sf.f_type == 0x01021994);
    r("mknod fifo", mknod("fifo", S_IFIFO | 0600, 0));
    stat("fifo", &st);
    printf("  fifo %d\n", S_ISFIFO(st.st_mode));
    r("access g2 W_OK", access("g2", W_OK));
    r("faccessat l nofollow", faccessat(AT_FDCWD, "l", F_OK, AT_SYMLINK_NOFOLLOW));
    r("unlink l", unlink("l"));
    r("unlink g2 while open", unlink("g2"));
    r("fstat after unlink", fstat(fd, &st));
    printf("  nlink %ld\n", (long)st.st_nlink);
    r("write after unlink", write(fd, "zz", 2));
    int dfd = open("d", O_RDONLY | O_DIRECTORY);
    r("mkdirat", mkdirat(dfd, "at", 0755));
    r("fchdir", fchdir(dfd));
    char cwd[256];
    getcwd(cwd, sizeof cwd);
    printf("  cwd ends %s\n", strrchr(cwd, '/'));
    r("unlinkat .. dir", unlinkat(AT_FDCWD, "at", AT_REMOVEDIR));
    chdir("..");
    r("unlinkat REMOVEDIR file", unlinkat(AT_FDCWD, "h", AT_REMOVEDIR));
    r("rmdir d/sub", rmdir("d/sub"));
    r("rmdir d", rmdir("d"));
    const char *rm[] = { "h", "f", "copy", "fifo" };
    for (int i = 0; i < 4; i++) unlink(rm[i]);
    r("names left", names("."));
    return 0;
}
