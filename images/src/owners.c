// Who owns what a process makes (inode_init_owner): the file, directory,
// symlink and FIFO a process creates belong to its fsuid and fsgid, or in a
// set-group-ID directory to the directory's group (a new directory there is
// set-group-ID too). Run as root: it prepares DIR, then becomes uid/gid 1000
// (or its fs ids only) and makes things. Usage: owners DIR
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *dir, const char *name) {
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (lstat(p, &st) != 0) { printf("%s: missing\n", name); return; }
    printf("%s: uid %u gid %u setgid %d\n", name, st.st_uid, st.st_gid, (st.st_mode & S_ISGID) != 0);
}

static void make(const char *dir, const char *tag) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s-file", dir, tag); close(open(p, O_CREAT | O_WRONLY, 0644));
    snprintf(p, sizeof p, "%s/%s-dir", dir, tag); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/%s-link", dir, tag); symlink("target", p);
    snprintf(p, sizeof p, "%s/%s-fifo", dir, tag); mkfifo(p, 0644);
}

int main(int argc, char **argv) {
    if (argc < 2 || getuid() != 0) { fprintf(stderr, "usage (as root): owners DIR\n"); return 2; }
    const char *dir = argv[1];
    char plain[512], sgid[512];
    snprintf(plain, sizeof plain, "%s/plain", dir);
    snprintf(sgid, sizeof sgid, "%s/sgid", dir);
    mkdir(plain, 0777); chmod(plain, 0777);
    mkdir(sgid, 0777); chown(sgid, 0, 2000); chmod(sgid, 02777);
    make(plain, "root");
    pid_t p = fork();
    if (p == 0) {
        // Only the fs ids: what a file server does before touching files.
        setfsgid(1001); setfsuid(1001);
        make(plain, "fsids");
        _exit(0);
    }
    waitpid(p, NULL, 0);
    gid_t none[1] = {1000};
    if (setgroups(1, none) || setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000)) { perror("drop"); return 1; }
    make(plain, "user");
    make(sgid, "user");
    const char *kinds[] = {"file", "dir", "link", "fifo"};
    const char *tags[] = {"root", "fsids", "user"};
    for (int t = 0; t < 3; t++)
        for (int k = 0; k < 4; k++) { char n[64]; snprintf(n, sizeof n, "%s-%s", tags[t], kinds[k]); show(plain, n); }
    printf("in a set-group-ID directory:\n");
    for (int k = 0; k < 4; k++) { char n[64]; snprintf(n, sizeof n, "user-%s", kinds[k]); show(sgid, n); }
    return 0;
}
