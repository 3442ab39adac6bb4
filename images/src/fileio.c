// File I/O through the fd table: open, read, lseek, pread, fstat, dup,
// fcntl, getdents, and the errors Linux gives for bad requests.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %d)\n", __LINE__, #c, errno); return 1; } } while (0)

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/etc/os-release";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 3);
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode));
    char buf[64], buf2[64];
    ssize_t n = read(fd, buf, sizeof buf);
    CHECK(n > 0);
    CHECK(lseek(fd, 0, SEEK_CUR) == n);
    CHECK(pread(fd, buf2, (size_t)n, 0) == n && memcmp(buf, buf2, (size_t)n) == 0);
    CHECK(lseek(fd, 0, SEEK_END) == st.st_size);
    CHECK(lseek(fd, -1, SEEK_SET) == -1 && errno == EINVAL);
    CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC);
    int d = dup(fd);
    CHECK(d > fd && fcntl(d, F_GETFD) == 0);
    CHECK(dup2(d, 20) == 20 && close(20) == 0 && close(20) == -1 && errno == EBADF);
    CHECK(read(99, buf, 1) == -1 && errno == EBADF);
    CHECK(write(fd, "x", 1) == -1 && errno == EBADF);
    CHECK(open("/nonexistent/file", O_RDONLY) == -1 && errno == ENOENT);
    CHECK(open("/etc/os-release/x", O_RDONLY) == -1 && errno == ENOTDIR);
    CHECK(stat("/etc", &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(access("/etc/os-release", R_OK) == 0);
    CHECK(access("/nonexistent", F_OK) == -1 && errno == ENOENT);
    DIR *dir = opendir("/etc");
    CHECK(dir != NULL);
    int found = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) found |= strcmp(e->d_name, "os-release") == 0;
    CHECK(found);
    closedir(dir);
    char cwd[4096];
    CHECK(chdir("/etc") == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, "/etc") == 0);
    CHECK(getcwd(cwd, 2) == NULL && errno == ERANGE);
    int z = open("/dev/zero", O_RDONLY);
    CHECK(z >= 0 && read(z, buf, 8) == 8 && buf[0] == 0 && buf[7] == 0);
    int nul = open("/dev/null", O_WRONLY);
    CHECK(nul >= 0 && write(nul, "abc", 3) == 3);
    printf("fileio ok\n");
    return 0;
}
