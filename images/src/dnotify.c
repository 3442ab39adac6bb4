// Directory notification (fcntl F_NOTIFY) in the directory argv[1]: the
// argument checks, a one-shot plain SIGIO, and a multishot watch with
// F_SETSIG's real-time signal counting what each change in the directory
// sends (with si_code, si_fd and si_band), as fs/notify/dnotify does.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int dfd;
static char dir[4096];

static char *in(const char *name) {
    static char p[2][4096];
    static int which;
    which ^= 1;
    snprintf(p[which], sizeof p[which], "%s/%s", dir, name);
    return p[which];
}

// Takes every queued instance of `sig` and prints how many came, and what
// the first said.
static void drain(const char *what, int sig) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    struct timespec zero = {0, 0};
    siginfo_t si, first;
    int n = 0;
    while (sigtimedwait(&s, &si, &zero) == sig) { if (n++ == 0) first = si; }
    if (n == 0) { printf("%-28s 0 signals\n", what); return; }
    printf("%-28s %d signal%s, code %d, fd %s, band 0x%lx\n", what, n, n == 1 ? "" : "s", first.si_code,
           first.si_fd == dfd ? "ok" : "other", first.si_band);
}

static void check(const char *what, long r) {
    printf("%-28s %s\n", what, r == 0 ? "0" : strerror(errno));
}

int main(int argc, char **argv) {
    snprintf(dir, sizeof dir, "%s", argc > 1 ? argv[1] : ".");
    setvbuf(stdout, NULL, _IONBF, 0);
    int rt = SIGRTMIN + 1;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGIO);
    sigaddset(&block, rt);
    sigprocmask(SIG_BLOCK, &block, NULL);

    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    int file = open(in("plain"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    int p[2];
    if (dfd < 0 || file < 0 || pipe(p) != 0) { perror("open"); return 1; }
    check("F_NOTIFY on a file", fcntl(file, F_NOTIFY, DN_CREATE));
    check("F_NOTIFY on a pipe", fcntl(p[0], F_NOTIFY, DN_CREATE));
    check("F_NOTIFY 0 on a file", fcntl(file, F_NOTIFY, 0));
    check("F_NOTIFY multishot alone", fcntl(dfd, F_NOTIFY, DN_MULTISHOT));
    check("F_SETSIG 65", fcntl(dfd, F_SETSIG, 65));
    check("F_SETSIG -1", fcntl(dfd, F_SETSIG, -1));
    printf("%-28s %d\n", "F_GETSIG", fcntl(dfd, F_GETSIG));
    close(file);
    unlink(in("plain"));
    drain("(nothing yet)", SIGIO);

    // One shot, plain SIGIO.
    check("DN_CREATE", fcntl(dfd, F_NOTIFY, DN_CREATE));
    close(open(in("one"), O_WRONLY | O_CREAT, 0644));
    drain("create (one-shot)", SIGIO);
    close(open(in("two"), O_WRONLY | O_CREAT, 0644));
    drain("create again (spent)", SIGIO);
    unlink(in("one"));
    unlink(in("two"));

    // Every event, many shots, a real-time signal with its siginfo.
    check("F_SETSIG SIGRTMIN+1", fcntl(dfd, F_SETSIG, rt));
    printf("%-28s %s\n", "F_GETSIG", fcntl(dfd, F_GETSIG) == rt ? "SIGRTMIN+1" : "other");
    check("every event, multishot", fcntl(dfd, F_NOTIFY, DN_ACCESS | DN_MODIFY | DN_CREATE | DN_DELETE | DN_RENAME | DN_ATTRIB | DN_MULTISHOT));
    int a = open(in("a"), O_RDWR | O_CREAT | O_EXCL, 0644);
    drain("create", rt);
    if (write(a, "hello", 5) != 5) perror("write");
    drain("write", rt);
    char buf[8];
    if (pread(a, buf, 5, 0) != 5) perror("pread");
    drain("read", rt);
    if (pread(a, buf, 5, 100) != 0) perror("pread");
    drain("read at the end", rt);
    fchmod(a, 0600);
    drain("fchmod", rt);
    if (ftruncate(a, 2) != 0) perror("ftruncate");
    drain("ftruncate", rt);
    struct timespec both[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    utimensat(AT_FDCWD, in("a"), both, 0);
    drain("utimensat", rt);
    rename(in("a"), in("b"));
    drain("rename", rt);
    link(in("b"), in("c"));
    drain("link", rt);
    symlink("b", in("d"));
    drain("symlink", rt);
    unlink(in("b"));
    drain("unlink", rt);
    mkdir(in("sub"), 0755);
    drain("mkdir", rt);
    close(open(in("sub/deeper"), O_WRONLY | O_CREAT, 0644));
    drain("create in a subdirectory", rt);
    unlink(in("sub/deeper"));
    rename(in("c"), in("sub/c"));
    drain("rename into a subdirectory", rt);
    unlink(in("sub/c"));
    rmdir(in("sub"));
    drain("rmdir", rt);
    DIR *d = opendir(dir);
    while (d && readdir(d)) {}
    if (d) closedir(d);
    drain("readdir", rt);
    close(a);

    // Only deletions now: the events add up on the same watch unless cleared.
    check("clear", fcntl(dfd, F_NOTIFY, 0));
    check("DN_DELETE, multishot", fcntl(dfd, F_NOTIFY, DN_DELETE | DN_MULTISHOT));
    close(open(in("e"), O_WRONLY | O_CREAT, 0644));
    drain("create (not watched)", rt);
    unlink(in("e"));
    drain("unlink", rt);
    unlink(in("d"));
    drain("unlink the symlink", rt);

    // A closed descriptor's watch is gone.
    close(dfd);
    close(open(in("f"), O_WRONLY | O_CREAT, 0644));
    unlink(in("f"));
    drain("after close", rt);
    return 0;
}
