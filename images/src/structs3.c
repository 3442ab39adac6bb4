/* Op-dependent and pointed-to arguments as strace decodes them (futex by
   op, file offsets in and out, open_how, capabilities, mincore's vector):
   run with a scratch directory. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/sendfile.h>
#include <linux/futex.h>
#include <linux/openat2.h>
#include <linux/capability.h>
#include <time.h>
#include <signal.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <unistd.h>
int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/a", dir); snprintf(b, sizeof b, "%s/b", dir);

    static uint32_t w = 1, w2 = 0;   /* w2's value after WAKE_OP is a pid, whose meaning differs in the sandbox: no PI calls on it */
    struct timespec ts = {0, 1000};
    syscall(SYS_futex, &w, FUTEX_WAKE_PRIVATE, 1);
    syscall(SYS_futex, &w, FUTEX_WAIT_PRIVATE, 0, &ts);                 /* EAGAIN: the word is 1 */
    syscall(SYS_futex, &w, FUTEX_WAIT, 0, NULL);
    syscall(SYS_futex, &w, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, NULL, NULL, FUTEX_BITSET_MATCH_ANY);
    syscall(SYS_futex, &w, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 0x5);
    syscall(SYS_futex, &w, FUTEX_REQUEUE_PRIVATE, 1, 2, &w2);
    syscall(SYS_futex, &w, FUTEX_CMP_REQUEUE_PRIVATE, 1, 2, &w2, 1);
    syscall(SYS_futex, &w, FUTEX_WAKE_OP_PRIVATE, 1, 1, &w2, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 0));
    static uint32_t pi = 0;
    syscall(SYS_futex, &pi, FUTEX_TRYLOCK_PI_PRIVATE);
    syscall(SYS_futex, &pi, FUTEX_UNLOCK_PI_PRIVATE);

    int in = open(a, O_CREAT | O_RDWR | O_TRUNC, 0600);
    write(in, "0123456789abcdef", 16);
    int out = open(b, O_CREAT | O_RDWR | O_TRUNC, 0600);
    off_t off = 2;
    sendfile(out, in, &off, 4);
    sendfile(out, in, NULL, 0);
    loff_t oi = 1, oo = 8;
    syscall(SYS_copy_file_range, in, &oi, out, &oo, 3, 0);
    int p[2], q[2];
    pipe(p); pipe(q);
    oi = 4;
    syscall(SYS_splice, in, &oi, p[1], NULL, 5, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    oo = 20;
    syscall(SYS_splice, p[0], NULL, out, &oo, 5, 0);

    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC, .mode = 0, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH};
    int o2 = syscall(SYS_openat2, AT_FDCWD, a, &how, sizeof how); close(o2);
    struct open_how how2 = {.flags = O_CREAT | O_WRONLY, .mode = 0640, .resolve = 0};
    o2 = syscall(SYS_openat2, AT_FDCWD, b, &how2, sizeof how2); close(o2);

    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &h, d);
    syscall(SYS_capset, &h, d);
    struct __user_cap_header_struct h1 = {_LINUX_CAPABILITY_VERSION_1, 0};
    syscall(SYS_capget, &h1, d);

    char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    m[0] = 1; m[2 * 4096] = 1;
    unsigned char vec[3];
    syscall(SYS_mincore, m, 3 * 4096, vec);

    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct timespec past = {0, 0};
    syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL);
    (void)now;
    /* Signals sent with a siginfo, and the siginfo a wait takes. */
    sigset_t usr1; sigemptyset(&usr1); sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    siginfo_t si; memset(&si, 0, sizeof si);
    si.si_signo = SIGUSR1; si.si_code = SI_QUEUE; si.si_pid = getpid(); si.si_uid = getuid(); si.si_value.sival_int = 42;
    syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &si);
    siginfo_t got;
    syscall(SYS_rt_sigtimedwait, &usr1, &got, NULL, 8);
    si.si_value.sival_int = 7;
    syscall(SYS_rt_tgsigqueueinfo, getpid(), getpid(), SIGUSR1, &si);
    struct timespec zero = {0, 0};
    syscall(SYS_rt_sigtimedwait, &usr1, &got, &zero, 8);
    syscall(SYS_rt_sigtimedwait, &usr1, &got, &zero, 8);     /* EAGAIN: nothing pending */
    int pfd = syscall(SYS_pidfd_open, getpid(), 0);
    syscall(SYS_pidfd_send_signal, pfd, SIGUSR1, NULL, 0);
    syscall(SYS_pidfd_send_signal, pfd, SIGUSR1, &si, 0);
    syscall(SYS_rt_sigtimedwait, &usr1, NULL, NULL, 8);
    close(pfd);

    /* System V semaphores and messages (ids are the namespace's: compared without them). */
    int sem = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    struct sembuf ops[2] = {{0, 2, 0}, {1, 1, SEM_UNDO | IPC_NOWAIT}};
    semop(sem, ops, 2);
    struct sembuf dec = {0, -5, IPC_NOWAIT};
    semop(sem, &dec, 1);                                   /* EAGAIN */
    semctl(sem, 1, GETVAL);
    semctl(sem, 0, SETVAL, 3);
    semctl(sem, 0, IPC_RMID);
    int mq = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    struct { long mtype; char mtext[16]; } msg = {3, "hello"}, in_msg;
    memset(&in_msg, 0, sizeof in_msg);
    msgsnd(mq, &msg, 5, 0);
    msgrcv(mq, &in_msg, sizeof in_msg.mtext, 0, MSG_NOERROR);
    msgrcv(mq, &in_msg, sizeof in_msg.mtext, 3, IPC_NOWAIT); /* ENOMSG */
    struct msqid_ds mds;
    msgctl(mq, IPC_STAT, &mds);
    mds.msg_perm.mode = 0640;
    msgctl(mq, IPC_SET, &mds);
    msgctl(mq, IPC_RMID, NULL);
    int shm = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    struct shmid_ds sds;
    shmctl(shm, IPC_STAT, &sds);
    shmctl(shm, IPC_RMID, NULL);

    /* epoll_pwait2 with what it returns. */
    int ep = epoll_create1(EPOLL_CLOEXEC), ev = eventfd(1, 0);
    struct epoll_event ee = {.events = EPOLLIN, .data.u64 = 77}, outev[2];
    epoll_ctl(ep, EPOLL_CTL_ADD, ev, &ee);
    syscall(SYS_epoll_pwait2, ep, outev, 2, &zero, NULL, 8);
    close(ep); close(ev);

    /* Message vectors over a datagram socketpair. */
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    char m1[] = "one", m2[] = "second";
    struct iovec v1 = {m1, 3}, v2 = {m2, 6};
    struct mmsghdr sent[2] = {{.msg_hdr = {.msg_iov = &v1, .msg_iovlen = 1}}, {.msg_hdr = {.msg_iov = &v2, .msg_iovlen = 1}}};
    syscall(SYS_sendmmsg, sv[0], sent, 2, MSG_DONTWAIT);
    char r1[8] = {0}, r2[8] = {0};
    struct iovec g1 = {r1, 8}, g2 = {r2, 8};
    struct mmsghdr inm[2] = {{.msg_hdr = {.msg_iov = &g1, .msg_iovlen = 1}}, {.msg_hdr = {.msg_iov = &g2, .msg_iovlen = 1}}};
    syscall(SYS_recvmmsg, sv[1], inm, 2, MSG_DONTWAIT, NULL);
    syscall(SYS_recvmmsg, sv[1], inm, 2, MSG_DONTWAIT, NULL);   /* EAGAIN */
    close(sv[0]); close(sv[1]);

    /* settimeofday's time zone, with a time it refuses first (EINVAL, nothing set). */
    struct timeval badtv = {0, 2000000};
    struct timezone tz = {60, 0};
    syscall(SYS_settimeofday, &badtv, &tz);

    /* The robust list glibc registered. */
    void *head; size_t hlen;
    syscall(SYS_get_robust_list, 0, &head, &hlen);

    unlink(a); unlink(b);
    return 0;
}
