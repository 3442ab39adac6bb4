// /proc/self/exe is the program's file itself (mm->exe_file), not its name
// looked up again: after the program's name is gone, the link still opens
// the file, and readlink says "(deleted)". The parent copies its own
// program to a new name, runs the copy, and the copy unlinks its name, then
// reads itself through the link; a second copy is renamed instead. Prints
// what it saw, with the name's changing part (a pid) shown as NAME.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int copyFile(const char *from, const char *to) {
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (in < 0 || out < 0) return -1;
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, n) != n) return -1;
    close(in);
    return close(out);
}

// The link's text with `name` (which holds a pid) shown as NAME.
static void showLink(const char *name) {
    char target[4096];
    ssize_t n = readlink("/proc/self/exe", target, sizeof target - 1);
    if (n < 0) { printf("readlink: %m\n"); return; }
    target[n] = 0;
    const char *at = strstr(target, name);
    if (at) printf("readlink: %.*sNAME%s\n", (int)(at - target), target, at + strlen(name));
    else printf("readlink: another name\n");
}

// Opens the link and compares what it reads with `size` bytes of ELF.
static void readThroughLink(off_t size) {
    int fd = open("/proc/self/exe", O_RDONLY);
    if (fd < 0) { printf("open: %m\n"); return; }
    struct stat st;
    char magic[4] = {0};
    ssize_t n = read(fd, magic, 4);
    fstat(fd, &st);
    printf("open: ok, elf=%d same size=%d links=%lu\n", n == 4 && memcmp(magic, "\177ELF", 4) == 0,
           st.st_size == size, (unsigned long)st.st_nlink);
    close(fd);
}

int main(int argc, char **argv) {
    if (argc == 4) {   // the copy: argv[1] what to do, argv[2] its own name, argv[3] a new one
        struct stat st;
        if (stat(argv[2], &st) != 0) { printf("stat: %m\n"); return 1; }
        if (strcmp(argv[1], "unlink") == 0) {
            if (unlink(argv[2]) != 0) { printf("unlink: %m\n"); return 1; }
        } else if (rename(argv[2], argv[3]) != 0) { printf("rename: %m\n"); return 1; }
        printf("%s:\n", argv[1]);
        showLink(strrchr(argv[2], '/') + 1);
        readThroughLink(st.st_size);
        if (strcmp(argv[1], "rename") == 0) unlink(argv[3]);
        return 0;
    }
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    const char *ops[] = {"unlink", "rename"};
    for (int i = 0; i < 2; i++) {
        char name[4096], renamed[4096];
        snprintf(name, sizeof name, "%s/exegone-%d-%d", dir, (int)getpid(), i);
        snprintf(renamed, sizeof renamed, "%s/exegone-%d-%d-renamed", dir, (int)getpid(), i);
        if (copyFile("/proc/self/exe", name) != 0) { printf("copy: %m\n"); return 1; }
        pid_t p = fork();
        if (p == 0) {
            execl(name, "exegone", ops[i], name, renamed, (char *)NULL);
            printf("exec: %m\n");
            _exit(127);
        }
        int status;
        waitpid(p, &status, 0);
        fflush(stdout);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) printf("child: status %#x\n", status);
        unlink(name);
        unlink(renamed);
    }
    return 0;
}
