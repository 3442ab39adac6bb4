// Names, link targets, argv and environment strings are bytes, not UTF-8:
// every byte but NUL (and '/' in a name) must round-trip exactly.
//   bytenames DIR       file calls on byte names in DIR, then an exec of itself
//                       with byte argv and envp (the child prints what arrived)
//   bytenames --child   prints its argv, its BYTES* environment and
//                       /proc/self/{cmdline,environ}, hex-escaped
// Natively and in the sandbox the output must match.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

// Printable ASCII as is, everything else as \xNN.
static void put(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') putchar(c); else printf("\\x%02x", c);
    }
}
static void line(const char *what, const char *s) { printf("%-12s ", what); put(s, strlen(s)); putchar('\n'); }

static void r(const char *what, const char *name, long v) {
    printf("%-10s ", what);
    put(name, strlen(name));
    if (v >= 0) printf(" %ld\n", v); else printf(" %s\n", strerrorname_np(errno));
}

// Valid UTF-8, invalid bytes, and the edge cases of a UTF-8 decoder.
static const char *names[] = {
    "caf\xc3\xa9",          // valid UTF-8
    "abc\xff",              // never valid
    "\x80",                 // a lone continuation byte
    "x\xc3",                // a truncated sequence at the end
    "x\xe2\x82y",           // a truncated sequence inside
    "\xc0\xaf",             // an overlong '/'
    "\xed\xa0\x80",         // a surrogate
    "\xf4\x90\x80\x80",     // above U+10FFFF
    "\xf4\x8f\xbf\xbf",     // U+10FFFF, valid
    "\xf4\x8f\xbe\x80",     // U+10FF80, valid
    "\xef\xbf\xbd",         // U+FFFD itself
    "e\xcc\x81",            // decomposed e-acute (a different name from caf\xc3\xa9's)
    "\xc3\xa9",             // precomposed
};
#define NNAMES (sizeof names / sizeof *names)

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) { r("opendir", dir, -1); return; }
    char *got[64];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 64;)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) got[n++] = strdup(e->d_name);
    closedir(d);
    qsort(got, n, sizeof *got, cmp);
    printf("list ");
    put(dir, strlen(dir));
    printf(": %d\n", n);
    for (int i = 0; i < n; i++) { line("  entry", got[i]); free(got[i]); }
}

static void files(void) {
    list(".");
    char buf[512];
    for (size_t i = 0; i < NNAMES; i++) {
        const char *n = names[i];
        int fd = open(n, O_CREAT | O_EXCL | O_WRONLY, 0644);
        r("create", n, fd);
        if (fd >= 0) { r("write", n, write(fd, n, strlen(n))); close(fd); }
    }
    list(".");
    for (size_t i = 0; i < NNAMES; i++) {
        const char *n = names[i];
        struct stat st;
        r("stat", n, stat(n, &st) ? -1 : (long)st.st_size);
        int fd = open(n, O_RDONLY);
        long got = fd < 0 ? -1 : read(fd, buf, sizeof buf);
        r("read", n, got >= 0 && (size_t)got == strlen(n) && !memcmp(buf, n, got) ? got : -1);
        if (fd >= 0) close(fd);
    }
    // NAME_MAX counts bytes: 255 bytes of 0xff fit, 256 do not.
    memset(buf, 0xff, 256); buf[255] = 0;
    int fd = open(buf, O_CREAT | O_WRONLY, 0644);
    printf("255 x ff    %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
    if (fd >= 0) { close(fd); unlink(buf); }
    buf[255] = (char)0xff; buf[256] = 0;
    printf("256 x ff    %s\n", open(buf, O_CREAT | O_WRONLY, 0644) >= 0 ? "ok" : strerrorname_np(errno));

    // rename to and from byte names
    r("rename", "abc\xff -> abc\xfe", rename("abc\xff", "abc\xfe"));
    r("stat old", "abc\xff", access("abc\xff", F_OK));
    r("stat new", "abc\xfe", access("abc\xfe", F_OK));
    // symlinks: byte names and byte targets, both ways
    r("symlink", "l\xfe", symlink("abc\xfe", "l\xfe"));
    r("symlink", "dangling\x81", symlink("t\xff\x80/\xc3", "dangling\x81"));
    ssize_t k = readlink("l\xfe", buf, sizeof buf - 1);
    if (k >= 0) { buf[k] = 0; line("readlink", buf); } else r("readlink", "l\xfe", -1);
    k = readlink("dangling\x81", buf, sizeof buf - 1);
    if (k >= 0) { buf[k] = 0; line("readlink", buf); } else r("readlink", "dangling\x81", -1);
    struct stat st;
    r("lstat size", "dangling\x81", lstat("dangling\x81", &st) ? -1 : (long)st.st_size);
    fd = open("l\xfe", O_RDONLY);
    r("open via link", "l\xfe", fd);
    if (fd >= 0) close(fd);
    // a byte-named directory: cwd and listing inside it
    r("mkdir", "d\xff\xc3", mkdir("d\xff\xc3", 0755));
    r("chdir", "d\xff\xc3", chdir("d\xff\xc3"));
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd)) { const char *base = strrchr(cwd, '/'); line("getcwd base", base ? base + 1 : cwd); }
    r("create", "in\x80", (fd = open("in\x80", O_CREAT | O_WRONLY, 0644)));
    if (fd >= 0) close(fd);
    r("chdir", "..", chdir(".."));
    // a name that starts with a combining mark, right after a slash
    r("create", "d\xff\xc3/\xcc\x81x", (fd = open("d\xff\xc3/\xcc\x81x", O_CREAT | O_WRONLY, 0644)));
    if (fd >= 0) close(fd);
    r("stat", "d\xff\xc3/\xcc\x81x", stat("d\xff\xc3/\xcc\x81x", &st));
    list("d\xff\xc3");
    r("unlink", "d\xff\xc3/\xcc\x81x", unlink("d\xff\xc3/\xcc\x81x"));
    r("rmdir", "d\xff\xc3", rmdir("d\xff\xc3"));
    r("unlink", "d\xff\xc3/in\x80", unlink("d\xff\xc3/in\x80"));
    r("rmdir", "d\xff\xc3", rmdir("d\xff\xc3"));
    list(".");
    // clean up everything made here
    unlink("l\xfe"); unlink("dangling\x81"); unlink("abc\xfe");
    for (size_t i = 0; i < NNAMES; i++) unlink(names[i]);
    list(".");
}

static void dump(const char *path) {
    char buf[65536];
    int fd = open(path, O_RDONLY);
    if (fd < 0) { r("open", path, -1); return; }
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    printf("%s:", path);
    // only the strings this test passes: argv after argv[0], BYTES* variables
    for (ssize_t i = 0; i < n;) {
        size_t len = strnlen(buf + i, n - i);
        if (strstr(path, "cmdline") ? i > 0 : !strncmp(buf + i, "BYTES", 5)) { putchar(' '); put(buf + i, len); }
        i += len + 1;
    }
    putchar('\n');
}

static int child(int argc, char **argv) {
    for (int i = 1; i < argc; i++) line("argv", argv[i]);
    for (char **e = environ; *e; e++) if (!strncmp(*e, "BYTES", 5)) line("env", *e);
    dump("/proc/self/cmdline");
    dump("/proc/self/environ");
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--child")) return child(argc, argv);
    char self[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k < 0) { perror("readlink /proc/self/exe"); return 2; }
    self[k] = 0;
    if (argc < 2 || chdir(argv[1])) { perror("chdir"); return 2; }
    setvbuf(stdout, NULL, _IONBF, 0);
    files();

    // exec itself with byte strings, the path itself through a byte-named link
    unlink("self\xff");
    if (symlink(self, "self\xff")) { perror("symlink"); return 1; }
    char *cargv[] = { "self", "--child", "a\xff", "\xc3\xa9", "\xf4\x8f\xbf\xbf", "\xed\xa0\x80", "\x80\x81\xfe", NULL };
    char *cenv[] = { "BYTES1=abc\xff", "BYTES2=\xc3", "BYTES\xfe=v\xf4\x90\x80\x80", "PATH=/bin", NULL };
    pid_t pid = fork();
    if (pid == 0) { execve("self\xff", cargv, cenv); perror("execve"); _exit(127); }
    int status;
    waitpid(pid, &status, 0);
    printf("child status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);

    // a byte-named script whose #! line names a byte-named interpreter
    int fd = open("script\x80", O_CREAT | O_WRONLY | O_TRUNC, 0755);
    const char *text = "#!self\xff --child\n";
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) { perror("script"); return 1; }
    close(fd);
    char *sargv[] = { "script\x80", "\xfe", NULL };
    pid = fork();
    if (pid == 0) { execve("script\x80", sargv, cenv); perror("execve script"); _exit(127); }
    waitpid(pid, &status, 0);
    printf("script status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    unlink("script\x80");
    unlink("self\xff");
    return 0;
}
