// O_TMPFILE (fs/namei.c do_tmpfile, vfs_tmpfile; mm/shmem.c): an unnamed
// file in a directory, named later through /proc/self/fd/N with linkat
// unless O_EXCL; linkat's AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; a file
// unlinked while open cannot be linked again; the flag checks. Run in a
// writable directory; compared with Linux's output.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void check(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
    else printf("%s: ok\n", what);
}

static void proc_link(int fd, char *out, size_t n) { snprintf(out, n, "/proc/self/fd/%d", fd); }

int main(int argc, char **argv) {
    if (argc > 1 && chdir(argv[1]) != 0) { perror("chdir"); return 1; }
    setvbuf(stdout, NULL, _IONBF, 0);
    umask(022);
    mkdir("tmpdir", 0755);
    char cwd[4096];
    getcwd(cwd, sizeof cwd);

    int fd = open("tmpdir", O_TMPFILE | O_RDWR, 0666);
    check("O_TMPFILE|O_RDWR", fd);
    write(fd, "data", 4);
    struct stat st;
    fstat(fd, &st);
    printf("nlink %lu mode %o size %lld\n", (unsigned long)st.st_nlink, st.st_mode, (long long)st.st_size);
    char link[64], target[4096] = {0}, want[4200];
    proc_link(fd, link, sizeof link);
    readlink(link, target, sizeof target - 1);
    snprintf(want, sizeof want, "%s/tmpdir/#%llu (deleted)", cwd, (unsigned long long)st.st_ino);
    printf("fd link is dir/#ino (deleted): %s\n", strcmp(target, want) == 0 ? "yes" : target);
    int fl = fcntl(fd, F_GETFL);
    printf("F_GETFL has O_TMPFILE: %s, O_RDWR: %s\n", (fl & O_TMPFILE) == O_TMPFILE ? "yes" : "no", (fl & O_ACCMODE) == O_RDWR ? "yes" : "no");
    struct stat d;
    stat("tmpdir", &d);
    printf("directory nlink %lu\n", (unsigned long)d.st_nlink);
    check("linkat through /proc/self/fd", linkat(AT_FDCWD, link, AT_FDCWD, "tmpdir/named", AT_SYMLINK_FOLLOW));
    check("again, the same name", linkat(AT_FDCWD, link, AT_FDCWD, "tmpdir/named", AT_SYMLINK_FOLLOW));
    check("again, another name", linkat(AT_FDCWD, link, AT_FDCWD, "tmpdir/second", AT_SYMLINK_FOLLOW));
    fstat(fd, &st);
    printf("nlink now %lu\n", (unsigned long)st.st_nlink);
    char buf[16] = {0};
    int r = open("tmpdir/named", O_RDONLY);
    read(r, buf, sizeof buf - 1);
    printf("named holds \"%s\"\n", buf);
    close(r);
    close(fd);

    fd = open("tmpdir", O_TMPFILE | O_WRONLY | O_EXCL, 0600);
    check("O_TMPFILE|O_EXCL", fd);
    proc_link(fd, link, sizeof link);
    check("linkat of an O_EXCL one", linkat(AT_FDCWD, link, AT_FDCWD, "tmpdir/never", AT_SYMLINK_FOLLOW));
    close(fd);

    fd = open("tmpdir/gone", O_CREAT | O_RDWR, 0600);
    unlink("tmpdir/gone");
    proc_link(fd, link, sizeof link);
    check("linkat of a file unlinked while open", linkat(AT_FDCWD, link, AT_FDCWD, "tmpdir/back", AT_SYMLINK_FOLLOW));
    close(fd);

    fd = open("tmpdir", O_TMPFILE | O_RDWR, 0600);
    pid_t c = fork();
    if (c == 0) {
        setgid(65534);
        setuid(65534);
        errno = 0;
        check("AT_EMPTY_PATH without CAP_DAC_READ_SEARCH", linkat(fd, "", AT_FDCWD, "tmpdir/x", AT_EMPTY_PATH));
        _exit(0);
    }
    waitpid(c, NULL, 0);
    check("AT_EMPTY_PATH as root", linkat(fd, "", AT_FDCWD, "tmpdir/empty-path", AT_EMPTY_PATH));
    close(fd);

    check("O_TMPFILE|O_RDONLY", open("tmpdir", O_TMPFILE | O_RDONLY, 0600));
    check("the tmpfile bit without O_DIRECTORY", open("tmpdir", 020000000 | O_RDWR, 0600));
    check("O_TMPFILE|O_CREAT", open("tmpdir", O_TMPFILE | O_CREAT | O_RDWR, 0600));
    check("O_TMPFILE on a file", open("tmpdir/named", O_TMPFILE | O_RDWR, 0600));
    check("O_TMPFILE on nothing", open("tmpdir/none", O_TMPFILE | O_RDWR, 0600));
    check("O_PATH|O_TMPFILE (O_PATH keeps only its flags)", open("tmpdir", O_PATH | O_TMPFILE | O_RDWR, 0600));

    const char *names[] = { "named", "second", "empty-path" };
    for (int i = 0; i < 3; i++) {
        char p[64];
        snprintf(p, sizeof p, "tmpdir/%s", names[i]);
        unlink(p);
    }
    check("rmdir (empty again)", rmdir("tmpdir"));
    return 0;
}
