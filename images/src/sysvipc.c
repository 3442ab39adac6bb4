// System V IPC as programs use it (PostgreSQL's shared memory and
// semaphores, old daemons' message queues): shm, sem and msg objects,
// shared across fork and reached by id from another process, blocking
// operations woken by another process, SEM_UNDO at exit, IPC_RMID while in
// use, and the errnos of the edge cases. Output is compared with Linux's.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

union semun { int val; struct semid_ds *buf; unsigned short *array; };

static void check(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
    else printf("%s: ok\n", what);
}

static int childStatus(pid_t p) {
    int st;
    waitpid(p, &st, 0);
    return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

static void nap(void) { struct timespec ts = {0, 100 * 1000 * 1000}; nanosleep(&ts, NULL); }

static void sharedMemory(key_t key) {
    int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
    char *p = shmat(id, NULL, 0);
    strcpy(p, "parent");
    pid_t c = fork();
    if (c == 0) {
        char *q = shmat(id, NULL, 0);   // a second attachment, by id
        printf("child sees \"%s\"\n", q);
        strcpy(q + 100, "child");
        _exit(0);
    }
    childStatus(c);
    printf("parent sees \"%s\"\n", p + 100);
    struct shmid_ds ds;
    shmctl(id, IPC_STAT, &ds);
    printf("segsz %zu nattch %lu mode %o\n", ds.shm_segsz, (unsigned long)ds.shm_nattch, ds.shm_perm.mode);
    check("IPC_RMID while attached", shmctl(id, IPC_RMID, NULL));
    shmctl(id, IPC_STAT, &ds);
    printf("after RMID: key %d nattch %lu dest %d, still readable \"%s\"\n", ds.shm_perm.__key,
           (unsigned long)ds.shm_nattch, !!(ds.shm_perm.mode & SHM_DEST), p);
    check("shmdt", shmdt(p));
    check("shmat after the last detach", (long)shmat(id, NULL, 0));
    check("shmdt of no attachment", shmdt(p));

    int k = shmget(key, 8192, IPC_CREAT | IPC_EXCL | 0640);
    check("shmget key", k);
    check("shmget key again, IPC_EXCL", shmget(key, 8192, IPC_CREAT | IPC_EXCL | 0640));
    check("shmget key, same id", shmget(key, 4096, 0) == k ? 0 : -1);
    check("shmget key, larger", shmget(key, 100000, 0));
    check("shmget size 0", shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
    check("shmget no such key", shmget(key + 1, 4096, 0600));
    check("shmat bad id", (long)shmat(-5, NULL, 0));
    char *r = shmat(k, NULL, SHM_RDONLY);
    check("shmat unaligned", (long)shmat(k, r + 1, 0));
    check("shmat over a mapping", (long)shmat(k, r, 0));
    check("shmat SHM_REMAP", shmat(k, r, SHM_REMAP) == r ? 0 : -1);
    shmdt(r);
    r = shmat(k, NULL, SHM_RDONLY);
    c = fork();
    if (c == 0) { r[0] = 1; _exit(0); }
    printf("write to a SHM_RDONLY attachment: child status %d\n", childStatus(c));
    shmdt(r);
    check("IPC_RMID", shmctl(k, IPC_RMID, NULL));
    check("shmctl after RMID", shmctl(k, IPC_STAT, &ds));
}

static void semaphores(void) {
    int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    union semun arg = {.val = 1};
    check("SETVAL", semctl(id, 0, SETVAL, arg));
    printf("GETVAL %d\n", semctl(id, 0, GETVAL));
    struct sembuf down = {0, -1, 0}, up = {0, 1, 0};
    check("down", semop(id, &down, 1));
    struct sembuf nowait = {0, -1, IPC_NOWAIT};
    check("down, IPC_NOWAIT", semop(id, &nowait, 1));
    struct timespec ts = {0, 50 * 1000 * 1000};
    check("semtimedop times out", semtimedop(id, &down, 1, &ts));
    pid_t c = fork();
    if (c == 0) { int r = semop(id, &down, 1); printf("child's down: %d\n", r); fflush(stdout); _exit(0); }
    // Until the child is seen waiting (a loaded machine may take a while to run it).
    int waiting = 0;
    for (int i = 0; i < 100 && (waiting = semctl(id, 0, GETNCNT)) == 0; i++) nap();
    printf("GETNCNT while the child waits %d\n", waiting);
    semop(id, &up, 1);
    int status = childStatus(c);
    printf("child exited %d, value %d\n", status, semctl(id, 0, GETVAL));

    c = fork();
    if (c == 0) { struct sembuf u = {1, 5, SEM_UNDO}; semop(id, &u, 1); printf("child raised sem 1 to %d\n", semctl(id, 1, GETVAL)); fflush(stdout); _exit(0); }
    childStatus(c);
    printf("after the child's exit, SEM_UNDO: sem 1 is %d\n", semctl(id, 1, GETVAL));

    unsigned short all[2] = {7, 9}, back[2];
    arg.array = all;
    check("SETALL", semctl(id, 0, SETALL, arg));
    arg.array = back;
    semctl(id, 0, GETALL, arg);
    printf("GETALL %d %d\n", back[0], back[1]);
    struct sembuf zero = {1, 0, IPC_NOWAIT};
    check("wait for zero, IPC_NOWAIT", semop(id, &zero, 1));
    arg.val = 40000;
    check("SETVAL 40000", semctl(id, 0, SETVAL, arg));
    struct sembuf big = {5, 1, 0};
    check("sem_num out of range", semop(id, &big, 1));
    struct sembuf many[600];
    memset(many, 0, sizeof many);
    check("600 ops", semop(id, many, 600));
    struct semid_ds ds;
    arg.buf = &ds;
    semctl(id, 0, IPC_STAT, arg);
    printf("nsems %lu\n", (unsigned long)ds.sem_nsems);
    arg.val = 0;
    semctl(id, 0, SETVAL, arg);
    c = fork();
    // EIDRM if the child was blocked when the set went, EINVAL if it came later: either is Linux's answer.
    if (c == 0) { int r = semop(id, &down, 1); printf("child's down after RMID fails: %d\n", r == -1 && (errno == EIDRM || errno == EINVAL)); fflush(stdout); _exit(0); }
    nap();
    long rm = semctl(id, 0, IPC_RMID);
    childStatus(c);   // the child's line first, whichever runs first
    check("IPC_RMID", rm);
    check("semop after RMID", semop(id, &up, 1));
}

struct message { long type; char text[64]; };

static void messageQueues(void) {
    int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    struct message m;
    for (int t = 3; t >= 1; t--) { m.type = t; snprintf(m.text, sizeof m.text, "type %d", t); msgsnd(id, &m, strlen(m.text) + 1, 0); }
    struct msqid_ds ds;
    msgctl(id, IPC_STAT, &ds);
    printf("qnum %lu cbytes %lu\n", (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes);
    long n = msgrcv(id, &m, sizeof m.text, 2, 0);
    printf("type 2: %ld \"%s\"\n", n, m.text);
    n = msgrcv(id, &m, sizeof m.text, -3, 0);
    printf("lowest type <= 3: %ld %ld \"%s\"\n", n, m.type, m.text);
    n = msgrcv(id, &m, 3, 0, 0);
    printf("too small a buffer: %ld %s\n", n, strerror(errno));
    n = msgrcv(id, &m, 3, 0, MSG_NOERROR);
    printf("MSG_NOERROR: %ld \"%.3s\"\n", n, m.text);
    check("empty, IPC_NOWAIT", msgrcv(id, &m, sizeof m.text, 0, IPC_NOWAIT));
    m.type = 0;
    check("mtype 0", msgsnd(id, &m, 4, 0));
    pid_t c = fork();
    if (c == 0) { long r = msgrcv(id, &m, sizeof m.text, 9, 0); printf("child received %ld \"%s\"\n", r, m.text); fflush(stdout); _exit(0); }
    nap();
    m.type = 9; strcpy(m.text, "late");
    msgsnd(id, &m, 5, 0);
    childStatus(c);
    c = fork();
    if (c == 0) { long r = msgrcv(id, &m, sizeof m.text, 0, 0); printf("child's receive after RMID fails: %d\n", r == -1 && (errno == EIDRM || errno == EINVAL)); fflush(stdout); _exit(0); }
    nap();
    long rm = msgctl(id, IPC_RMID, NULL);
    childStatus(c);
    check("IPC_RMID", rm);
    check("msgsnd after RMID", msgsnd(id, &m, 5, 0));
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    key_t key = 0x5e000000 | (getpid() & 0xffff);
    sharedMemory(key);
    semaphores();
    messageQueues();
    return 0;
}
