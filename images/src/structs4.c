/* The last arguments strace decodes: struct file_handle (name_to_handle_at),
   seccomp's program and action (seccomp, prctl PR_SET_SECCOMP), and the
   System V IPC_INFO/MSG_INFO/SHM_INFO structs. */
#define _GNU_SOURCE
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct handle { unsigned int handle_bytes; int handle_type; unsigned char f_handle[128]; };

int main(int argc, char **argv) {
    /* file handles: a filesystem without them (procfs), a missing path, a NULL handle. */
    struct handle h = {.handle_bytes = 128};
    int mount_id = -1;
    syscall(SYS_name_to_handle_at, AT_FDCWD, "/proc/self", &h, &mount_id, 0);
    syscall(SYS_name_to_handle_at, AT_FDCWD, "/nonexistent", &h, &mount_id, AT_SYMLINK_FOLLOW);
    syscall(SYS_name_to_handle_at, AT_FDCWD, "/proc/self", NULL, &mount_id, 0);
    if (argc > 1) syscall(SYS_name_to_handle_at, AT_FDCWD, argv[1], &h, &mount_id, 0);   /* a handle, where the filesystem has them */

    /* seccomp: actions, bad calls, then filters that allow everything. */
    unsigned int action = SECCOMP_RET_KILL_PROCESS;
    syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
    action = SECCOMP_RET_LOG;
    syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
    action = 0x12340000;
    syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
    syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, NULL);
    syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 1, NULL);
    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, NULL);
    struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {.len = 1, .filter = allow};
    struct sock_fprog empty = {.len = 0, .filter = allow};
    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &empty);                  /* EINVAL */
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_LOG, &prog);
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL, 0, 0);
    prctl(PR_SET_SECCOMP, 7, 0x10, 0x20, 0x30);
    prctl(PR_GET_SECCOMP, 0, 0, 0, 0);

    /* System V IPC limits and usage. */
    struct msginfo mi;
    struct shminfo si;
    struct shm_info su;
    struct seminfo ei;
    msgctl(0, IPC_INFO, (struct msqid_ds *)&mi);
    msgctl(0, MSG_INFO, (struct msqid_ds *)&mi);
    shmctl(0, IPC_INFO, (struct shmid_ds *)&si);
    shmctl(0, SHM_INFO, (struct shmid_ds *)&su);
    semctl(0, 0, IPC_INFO, &ei);
    semctl(0, 0, SEM_INFO, &ei);
    msgctl(0, IPC_INFO, NULL);
    puts("done");
    return 0;
}
