// The escape corpus: every way out of the guest's view we could think of,
// each printed with the errno it got. Run as
//   escape HOSTPID
// in a sandbox whose root holds this layout (the test builds it):
//   /data.txt            a file of the read-only root
//   /abs -> /../../outside.txt, /rel -> ../../outside.txt   symlinks pointing out
//   /loop1 -> loop2, /loop2 -> loop1
//   /devnull             a host device node (c 1 3)
//   /rw                  a rw bind; /ro a ro bind
// and "outside.txt" next to the root directory on the host.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void report(const char *what, int r) {
    if (r >= 0) printf("%s: ok\n", what);
    else printf("%s: %s\n", what, strerrorname_np(errno));
}

static int try_open(const char *p, int flags) {
    int fd = open(p, flags, 0644);
    if (fd >= 0) close(fd);
    return fd;
}

// Reading outside.txt would print its marker; nothing may.
static void must_not_read(const char *what, const char *p) {
    char buf[64] = {0};
    int fd = open(p, O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        printf("%s: opened (%s)\n", what, n > 0 && strstr(buf, "OUTSIDE") ? "ESCAPED" : "inside");
        return;
    }
    printf("%s: %s\n", what, strerrorname_np(errno));
}

static volatile int stop;

// Swaps /rw/d/sub and /rw/sub back and forth under the walker's feet.
static void *renamer(void *arg) {
    (void)arg;
    while (!stop) {
        syscall(SYS_renameat2, AT_FDCWD, "/rw/d/sub", AT_FDCWD, "/rw/sub", 2 /* RENAME_EXCHANGE */);
    }
    return NULL;
}

int main(int argc, char **argv) {
    const char *hostpid = argc > 1 ? argv[1] : "1";
    char p[256];

    must_not_read("dotdot past root", "/../../../outside.txt");
    must_not_read("dotdot from cwd", "../../../../outside.txt");
    must_not_read("absolute symlink out", "/abs");
    must_not_read("relative symlink out", "/rel");
    must_not_read("dotdot past bind", "/rw/../../outside.txt");
    must_not_read("dotdot past bind from inside", "/rw/d/../../../outside.txt");
    report("symlink loop", try_open("/loop1", O_RDONLY));
    must_not_read("proc self root", "/proc/self/root/../outside.txt");
    char root[64] = {0};
    report("readlink proc self root", (int)readlink("/proc/self/root", root, sizeof root - 1));
    printf("proc self root -> %s\n", root);
    snprintf(p, sizeof p, "/proc/%s/cwd", hostpid);
    report("host pid cwd", try_open(p, O_RDONLY | O_DIRECTORY));
    snprintf(p, sizeof p, "/proc/%s/root/outside.txt", hostpid);
    must_not_read("host pid root", p);

    // Writes where none are allowed.
    report("write ro root", try_open("/data.txt", O_WRONLY));
    report("create in ro root", try_open("/new.txt", O_WRONLY | O_CREAT));
    report("mkdir in ro root", mkdir("/newdir", 0755));
    report("unlink in ro root", unlink("/data.txt"));
    report("create in ro bind", try_open("/ro/new.txt", O_WRONLY | O_CREAT));
    report("create in rw bind", try_open("/rw/new.txt", O_WRONLY | O_CREAT));
    report("hard link across mounts", link("/data.txt", "/rw/hard"));
    report("rename across mounts", rename("/rw/new.txt", "/tmp/new.txt"));
    report("rename a mount point", rename("/rw", "/tmp/rw"));
    report("symlink out then write", symlink("/../../outside.txt", "/rw/out"));
    report("write through it", try_open("/rw/out", O_WRONLY | O_TRUNC));

    // Devices.
    report("host device node", try_open("/devnull", O_RDWR));
    report("mknod a device", mknod("/rw/dev", S_IFCHR | 0600, makedev(1, 3)));
    report("mknod a fifo", mknod("/rw/fifo", S_IFIFO | 0600, 0));
    report("host /sys", try_open("/sys/kernel/mm", O_RDONLY | O_DIRECTORY));

    // openat2's own containment, for the guest.
    struct open_how how = { .flags = O_RDONLY, .resolve = RESOLVE_BENEATH };
    int dfd = open("/rw", O_PATH | O_DIRECTORY);
    report("openat2 beneath dotdot", (int)syscall(SYS_openat2, dfd, "../data.txt", &how, sizeof how));
    report("openat2 beneath absolute", (int)syscall(SYS_openat2, dfd, "/data.txt", &how, sizeof how));
    how.resolve = RESOLVE_NO_MAGICLINKS;
    report("openat2 no magiclinks", (int)syscall(SYS_openat2, AT_FDCWD, "/proc/self/root", &how, sizeof how));
    how.resolve = RESOLVE_NO_XDEV;
    report("openat2 no xdev", (int)syscall(SYS_openat2, AT_FDCWD, "/rw/d", &how, sizeof how));
    how.resolve = RESOLVE_IN_ROOT;
    int fd = (int)syscall(SYS_openat2, dfd, "/d/../../data.txt", &how, sizeof how);
    report("openat2 in root", fd >= 0 ? -1 : fd);   // must not find /data.txt from /rw
    if (fd >= 0) close(fd);

    // The rename race: a walk through /rw/d/sub/../.. while sub moves between
    // /rw/d and /rw. Whatever the walk sees, it stays in the sandbox.
    mkdir("/rw/d", 0755);
    mkdir("/rw/d/sub", 0755);
    mkdir("/rw/sub", 0755);
    pthread_t th;
    pthread_create(&th, NULL, renamer, NULL);
    int escaped = 0, seen = 0;
    for (int i = 0; i < 3000; i++) {
        int f = open("/rw/d/sub/../../../../outside.txt", O_RDONLY);
        if (f >= 0) {
            char b[16] = {0};
            if (read(f, b, sizeof b - 1) > 0 && strstr(b, "OUTSIDE")) escaped++;
            close(f);
            seen++;
        }
    }
    stop = 1;
    pthread_join(th, NULL);
    printf("rename race: %d escapes, %d opens\n", escaped, seen);

    // .. at a mount point leads to the directory it is mounted on.
    chdir("/rw/d");
    chdir("../..");
    char cwd[64];
    printf("cwd after ../.. from /rw/d: %s\n", getcwd(cwd, sizeof cwd));
    return 0;
}
