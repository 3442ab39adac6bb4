// PID 1 of the test VM: mounts the host's root (9p, read-only) under a
// tmpfs overlay so programs can write, runs the job the runner left in the
// "job" 9p share (argv, env, cwd, NUL-separated), passes its output through
// the serial console and its exit status back in job/status, and powers off.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void die(const char *what) {
    fprintf(stderr, "vm-init: %s: %s\n", what, strerror(errno));
    reboot(RB_AUTOBOOT);
    _exit(1);
}

// A NUL-separated list from a file, as a NULL-terminated vector.
static char **read_list(const char *path) {
    static char buf[1 << 20];
    int fd = open(path, O_RDONLY);
    if (fd < 0) die(path);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) die(path);
    buf[n] = 0;
    int count = 0;
    for (ssize_t i = 0; i < n; i++) if (buf[i] == 0) count++;
    char **v = calloc(count + 2, sizeof *v);
    char *p = buf;
    for (int i = 0; i < count; i++) { v[i] = strdup(p); p += strlen(p) + 1; }
    return v;
}

int main(void) {
    mkdir("/proc", 0755); mkdir("/dev", 0755); mkdir("/host", 0755); mkdir("/job", 0755); mkdir("/rw", 0755); mkdir("/root", 0755);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    if (mount("hostroot", "/host", "9p", MS_RDONLY, "trans=virtio,version=9p2000.L,msize=262144,cache=loose")) die("mount host root");
    if (mount("job", "/job", "9p", 0, "trans=virtio,version=9p2000.L,msize=262144")) die("mount job");

    // Writes land in VM memory, the host stays as it is.
    const char *root = "/root";
    mount("tmpfs", "/rw", "tmpfs", 0, "size=4g");
    mkdir("/rw/upper", 0755); mkdir("/rw/work", 0755);
    if (mount("overlay", "/root", "overlay", 0, "lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work")) {
        fprintf(stderr, "vm-init: overlay unavailable (%s): the host root is read-only\n", strerror(errno));
        root = "/host";
    }
    char p[256];
    snprintf(p, sizeof p, "%s/proc", root); mount("proc", p, "proc", 0, NULL);
    snprintf(p, sizeof p, "%s/sys", root); mount("sysfs", p, "sysfs", 0, NULL);
    snprintf(p, sizeof p, "%s/dev", root); mount("devtmpfs", p, "devtmpfs", 0, NULL);
    snprintf(p, sizeof p, "%s/dev/shm", root); mkdir(p, 01777); mount("tmpfs", p, "tmpfs", 0, NULL);

    // The console passes bytes through untouched, as a pipe would.
    struct termios t;
    if (tcgetattr(1, &t) == 0) { t.c_oflag &= ~OPOST; tcsetattr(1, TCSANOW, &t); }

    char **argv = read_list("/job/argv"), **envp = read_list("/job/env");
    char cwd[4096] = "/";
    int fd = open("/job/cwd", O_RDONLY);
    if (fd >= 0) { ssize_t n = read(fd, cwd, sizeof cwd - 1); cwd[n > 0 ? n : 1] = 0; close(fd); }

    pid_t pid = fork();
    if (pid == 0) {
        if (chroot(root) || chdir(cwd)) die("chroot/chdir");
        environ = envp;
        execvp(argv[0], argv);
        fprintf(stderr, "vm-init: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *f = fopen("/job/status", "w");
    if (f) { fprintf(f, "%d\n", code); fclose(f); }
    sync();
    // No ACPI in this kernel: a reset, which QEMU's -no-reboot turns into an exit.
    reboot(RB_AUTOBOOT);
    return 0;
}
