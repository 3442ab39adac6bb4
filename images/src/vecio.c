// preadv/pwritev and their v2 forms, fadvise64, readahead, FIO* ioctls,
// close_range, the old getdents, msync, mincore, and mlock accounting.
// Run with a writable directory as argv[1].
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <sys/epoll.h>
#include <unistd.h>

#define R(x) ({ long r_ = (long)(x); r_ < 0 ? -errno : r_; })

static void vmlck(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmLck:", 6)) fputs(line, stdout);
    if (f) fclose(f);
}

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1]) < 0) return 2;
    mkdir("vecdir", 0755);
    int fd = open("vecdir/data", O_RDWR | O_CREAT | O_TRUNC, 0644);
    char a[] = "hello ", b[] = "vectored world";
    struct iovec w[2] = {{a, 6}, {b, 14}};
    printf("pwritev at 4: %ld\n", R(pwritev(fd, w, 2, 4)));
    printf("position after pwritev: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    char x[8] = {0}, y[32] = {0};
    struct iovec r[2] = {{x, 4}, {y, 31}};
    long n = R(preadv(fd, r, 2, 0));
    printf("preadv at 0: %ld [%d %d %d %d] \"%s\"\n", n, x[0], x[1], x[2], x[3], y);
    printf("preadv at -1: %ld\n", R(preadv(fd, r, 2, -1)));
    printf("preadv2 at -1 (position): %ld\n", R(preadv2(fd, r, 2, -1, 0)));
    printf("position now: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    printf("preadv2 bad flag: %ld\n", R(preadv2(fd, r, 2, 0, 0x40)));
    printf("preadv2 bad flag, empty iovec: %ld\n", R(preadv2(fd, r, 0, 0, 0x40)));
    printf("preadv2 RWF_NOWAIT: %ld\n", R(preadv2(fd, r, 2, 0, RWF_NOWAIT)));
    struct iovec tail = {"!", 1};
    printf("pwritev2 RWF_APPEND at 0: %ld\n", R(pwritev2(fd, &tail, 1, 0, RWF_APPEND)));
    printf("size: %ld, position %ld\n", (long)lseek(fd, 0, SEEK_END), (long)lseek(fd, 0, SEEK_CUR));
    printf("pwritev2 RWF_DSYNC: %ld\n", R(pwritev2(fd, &tail, 1, 30, RWF_DSYNC)));
    volatile int minus_one = -1;   // (a constant -1 makes gcc warn)
    printf("preadv bad iovcnt: %ld\n", R(preadv(fd, r, minus_one, 0)));
    printf("preadv bad fd: %ld\n", R(preadv(99, r, 2, 0)));
    int ro = open("vecdir/data", O_RDONLY);
    printf("pwritev on O_RDONLY: %ld\n", R(pwritev(ro, w, 2, 0)));

    lseek(fd, 10, SEEK_SET);
    int avail = -1;
    long rc = R(ioctl(fd, FIONREAD, &avail));
    printf("FIONREAD file: %ld -> %d\n", rc, avail);
    int p[2];
    pipe(p);
    write(p[1], "12345", 5);
    rc = R(ioctl(p[0], FIONREAD, &avail));
    printf("FIONREAD pipe: %ld -> %d\n", rc, avail);
    printf("preadv pipe: %ld\n", R(preadv(p[0], r, 2, 0)));
    printf("preadv2 pipe at -1: %ld\n", R(preadv2(p[0], r, 1, -1, 0)));
    int on = 1;
    rc = R(ioctl(p[0], FIONBIO, &on));
    printf("FIONBIO: %ld, O_NONBLOCK %s\n", rc, fcntl(p[0], F_GETFL) & O_NONBLOCK ? "set" : "clear");
    char buf[16];
    read(p[0], buf, sizeof buf);
    printf("empty nonblocking read: %ld\n", R(read(p[0], buf, 1)));
    rc = R(ioctl(p[0], FIOCLEX));
    printf("FIOCLEX: %ld, cloexec %d\n", rc, fcntl(p[0], F_GETFD));
    rc = R(ioctl(p[0], FIONCLEX));
    printf("FIONCLEX: %ld, cloexec %d\n", rc, fcntl(p[0], F_GETFD));
    int efd = syscall(SYS_eventfd2, 0, 0);
    printf("FIONREAD eventfd: %ld\n", R(ioctl(efd, FIONREAD, &avail)));
    printf("FIOCLEX eventfd: %ld\n", R(ioctl(efd, FIOCLEX)));
    int anon[3] = {p[0], efd, epoll_create1(0)};
    for (int i = 0; i < 3; i++) {   // pipefs, then anon_inodefs
        struct statfs sf;
        rc = R(fstatfs(anon[i], &sf));
        printf("fstatfs %d: %ld type %#lx flags %#lx\n", i, rc, (long)sf.f_type, (long)sf.f_flags);
    }

    printf("fadvise WILLNEED: %d\n", posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED));
    printf("fadvise bad advice: %d\n", posix_fadvise(fd, 0, 0, 9));
    printf("fadvise negative length: %d\n", posix_fadvise(fd, 0, -1, POSIX_FADV_NORMAL));
    printf("fadvise pipe: %d\n", posix_fadvise(p[0], 0, 0, POSIX_FADV_NORMAL));
    printf("fadvise bad fd: %d\n", posix_fadvise(99, 0, 0, POSIX_FADV_NORMAL));
    printf("readahead: %ld\n", R(readahead(fd, 0, 4096)));
    printf("readahead pipe: %ld\n", R(readahead(p[0], 0, 4096)));
    int wo = open("vecdir/data", O_WRONLY);
    printf("readahead O_WRONLY: %ld\n", R(readahead(wo, 0, 4096)));

    // getdents (the old one): the same names as readdir.
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "vecdir/file-%d", i);
        close(open(name, O_CREAT | O_WRONLY, 0644));
    }
    int dfd = open("vecdir", O_RDONLY | O_DIRECTORY);
    char dbuf[4096];
    char *names[32];
    int count = 0;
    long got;
    while ((got = syscall(SYS_getdents, dfd, dbuf, sizeof dbuf)) > 0) {
        for (long off = 0; off < got;) {
            unsigned short reclen = *(unsigned short *)(dbuf + off + 16);
            char *name = dbuf + off + 18;
            char type = dbuf[off + reclen - 1];
            char *e = malloc(64);
            snprintf(e, 64, "%s:%s", name, type == DT_DIR ? "dir" : type == DT_REG ? "reg" : "?");
            if (count < 32) names[count++] = e;
            off += reclen;
        }
    }
    qsort(names, count, sizeof *names, cmp);
    printf("getdents:");
    for (int i = 0; i < count; i++) printf(" %s", names[i]);
    printf("\n");
    printf("getdents on a file: %ld\n", R(syscall(SYS_getdents, fd, dbuf, sizeof dbuf)));
    lseek(dfd, 0, SEEK_SET);
    printf("getdents small buffer: %ld\n", R(syscall(SYS_getdents, dfd, dbuf, 8)));

    // close_range
    int base = dup2(fd, 40);
    dup2(fd, 41);
    dup2(fd, 43);
    rc = R(close_range(41, 43, CLOSE_RANGE_CLOEXEC));
    printf("close_range CLOEXEC: %ld, flags %d %d %d\n", rc, fcntl(40, F_GETFD), fcntl(41, F_GETFD), fcntl(43, F_GETFD));
    rc = R(close_range(41, ~0u, 0));
    printf("close_range: %ld, open %d %d %d\n", rc, fcntl(base, F_GETFD) >= 0, fcntl(41, F_GETFD) >= 0, fcntl(43, F_GETFD) >= 0);
    printf("close_range first > last: %ld\n", R(close_range(10, 5, 0)));
    printf("close_range bad flags: %ld\n", R(close_range(41, 42, 1)));
    rc = R(close_range(40, 40, CLOSE_RANGE_UNSHARE));
    printf("close_range UNSHARE: %ld, 40 open %d\n", rc, fcntl(40, F_GETFD) >= 0);

    // msync, mincore
    long pg = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    m[0] = 1;
    printf("msync: %ld\n", R(msync(m, pg, MS_SYNC)));
    printf("msync unaligned: %ld\n", R(msync(m + 1, pg, MS_SYNC)));
    printf("msync ASYNC|SYNC: %ld\n", R(msync(m, pg, MS_ASYNC | MS_SYNC)));
    printf("msync bad flag: %ld\n", R(msync(m, pg, 8)));
    printf("msync zero length: %ld\n", R(msync(m, 0, MS_SYNC)));
    munmap(m + 2 * pg, pg);
    printf("msync over a hole: %ld\n", R(msync(m, 4 * pg, MS_ASYNC)));
    unsigned char vec[4] = {9, 9, 9, 9};
    rc = R(mincore(m, pg, vec));
    printf("mincore: %ld, first page %d\n", rc, vec[0] & 1);
    printf("mincore unaligned: %ld\n", R(mincore(m + 1, pg, vec)));
    printf("mincore over a hole: %ld\n", R(mincore(m, 4 * pg, vec)));

    // mlock accounting
    struct rlimit lim;
    getrlimit(RLIMIT_MEMLOCK, &lim);
    printf("mlock 2 pages: %ld\n", R(mlock(m, 2 * pg)));
    vmlck();
    printf("mlock again (counted once): %ld\n", R(mlock(m, 2 * pg)));
    vmlck();
    printf("msync INVALIDATE on locked: %ld\n", R(msync(m, pg, MS_INVALIDATE)));
    printf("munlock 1 page: %ld\n", R(munlock(m, pg)));
    vmlck();
    printf("mlock over a hole: %ld\n", R(mlock(m, 4 * pg)));
    printf("mlock2 bad flags: %ld\n", R(syscall(SYS_mlock2, m, pg, 2)));
    printf("mlock2 ONFAULT: %ld\n", R(syscall(SYS_mlock2, m + 3 * pg, pg, MLOCK_ONFAULT)));
    vmlck();
    munmap(m + 3 * pg, pg);
    printf("after munmap of a locked page:\n");
    vmlck();
    printf("mlockall 0: %ld\n", R(mlockall(0)));
    printf("mlockall ONFAULT alone: %ld\n", R(mlockall(MCL_ONFAULT)));
    printf("munlockall: %ld\n", R(munlockall()));
    vmlck();
    struct rlimit small = {pg, lim.rlim_max};
    setrlimit(RLIMIT_MEMLOCK, &small);
    long two = R(mlock(m, 2 * pg));
    printf("mlock 2 pages over a 1-page limit: %s\n", two == 0 ? "0 (CAP_IPC_LOCK)" : two == -ENOMEM ? "ENOMEM" : "other");
    munlockall();
    struct rlimit none = {0, lim.rlim_max};
    setrlimit(RLIMIT_MEMLOCK, &none);
    long zero = R(mlock(m, pg));
    printf("mlock with a zero limit: %s\n", zero == 0 ? "0 (CAP_IPC_LOCK)" : zero == -EPERM ? "EPERM" : "other");
    munlockall();
    return 0;
}
