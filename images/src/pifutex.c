// Futexes as glibc and runtimes use them, and their errnos as Linux 6.1
// gives them: the plain operations' corners, the PI family (LOCK_PI,
// LOCK_PI2, TRYLOCK_PI, UNLOCK_PI, WAIT_REQUEUE_PI, CMP_REQUEUE_PI) with the
// owner's tid, FUTEX_WAITERS and FUTEX_OWNER_DIED in the word, robust
// mutexes (PI and not, thread and process owners dying: EOWNERDEAD), and
// futex_waitv. Output is compared with Linux's; nothing printed depends
// on a tid or on timing.
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef FUTEX_32
#define FUTEX_32 2
struct futex_waitv { uint64_t val; uint64_t uaddr; uint32_t flags; uint32_t __reserved; };
#endif

static long fx(uint32_t *uaddr, int op, uint32_t val, const void *timeout, uint32_t *uaddr2, uint32_t val3) {
    return syscall(SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }
static void nap(int ms) { struct timespec ts = {0, ms * 1000000L}; nanosleep(&ts, NULL); }

/* Waits until thread `*tid` (0 until the thread has set it) sleeps in the
   kernel: state S in /proc/self/task/TID/stat. A fixed nap races on a loaded
   machine; this is what the checks after it need. */
static void awaitAsleep(volatile pid_t *tid) {
    for (int i = 0; i < 5000; i++) {
        if (*tid) {
            char path[64], buf[256];
            snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)*tid);
            FILE *f = fopen(path, "r");
            if (f) {
                size_t n = fread(buf, 1, sizeof buf - 1, f);
                fclose(f);
                buf[n] = 0;
                char *close = strrchr(buf, ')');
                if (close && close[1] == ' ' && close[2] == 'S') { nap(2); return; }
            }
        }
        nap(1);
    }
}
static volatile pid_t lockerTid, condWaiterTid;

static struct timespec after(clockid_t c, long ms) {
    struct timespec ts;
    clock_gettime(c, &ts);
    ts.tv_nsec += ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

/* ---------- the plain operations ---------- */

static uint32_t plainWord;
static const uint32_t readOnly = 0;
static void *plainWaiter(void *arg) {
    (void)arg;
    long r = fx(&plainWord, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    return (void *)r;
}

static void plainOps(void) {
    uint32_t w = 5;
    struct timespec bad = {0, 1000000000L}, neg = {-1, 0}, tiny = {0, 1000000};
    show("FUTEX_FD", fx(&w, 2, 0, NULL, NULL, 0));
    show("command 14", fx(&w, 14, 0, NULL, NULL, 0));
    show("command 0x200", fx(&w, 0x200 | FUTEX_WAKE, 1, NULL, NULL, 0));
    show("WAIT|CLOCK_REALTIME", fx(&w, FUTEX_WAIT | FUTEX_CLOCK_REALTIME, 5, &tiny, NULL, 0));
    show("WAIT|CLOCK_REALTIME, bad timeout", fx(&w, FUTEX_WAIT | FUTEX_CLOCK_REALTIME, 5, &bad, NULL, 0));
    show("WAKE|CLOCK_REALTIME", fx(&w, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0));
    show("WAIT, value differs", fx(&w, FUTEX_WAIT, 4, NULL, NULL, 0));
    show("WAIT, unaligned", fx((uint32_t *)((char *)&w + 1), FUTEX_WAIT, 5, &tiny, NULL, 0));
    show("WAIT, tv_nsec 1e9", fx(&w, FUTEX_WAIT, 5, &bad, NULL, 0));
    show("WAIT, tv_sec -1", fx(&w, FUTEX_WAIT, 5, &neg, NULL, 0));
    show("WAIT, timeout", fx(&w, FUTEX_WAIT_PRIVATE, 5, &tiny, NULL, 0));
    show("WAIT, timeout unreadable", fx(&w, FUTEX_WAIT, 5, (void *)8, NULL, 0));
    struct timespec past = {1, 0};
    show("WAIT_BITSET|CLOCK_REALTIME, past deadline", fx(&w, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 5, &past, NULL, ~0u));
    show("WAIT_BITSET, past deadline", fx(&w, FUTEX_WAIT_BITSET_PRIVATE, 5, &past, NULL, ~0u));
    show("WAIT_BITSET, bitset 0", fx(&w, FUTEX_WAIT_BITSET, 5, NULL, NULL, 0));
    show("WAKE_BITSET, bitset 0", fx(&w, FUTEX_WAKE_BITSET, 1, NULL, NULL, 0));
    show("WAKE, nobody", fx(&w, FUTEX_WAKE, 1, NULL, NULL, 0));
    void *hole = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(hole, 4096);
    show("WAKE_PRIVATE, unmapped", fx(hole, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
    show("WAKE, unmapped", fx(hole, FUTEX_WAKE, 1, NULL, NULL, 0));
    show("WAIT, unmapped", fx(hole, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0));
    show("REQUEUE, negative count", fx(&w, FUTEX_REQUEUE, -1, (void *)1, &w, 0));
    show("REQUEUE, negative requeue", fx(&w, FUTEX_REQUEUE, 1, (void *)-1L, &w, 0));
    show("CMP_REQUEUE, value differs", fx(&w, FUTEX_CMP_REQUEUE, 1, (void *)1, &w, 4));
    show("CMP_REQUEUE, nobody", fx(&w, FUTEX_CMP_REQUEUE, 1, (void *)1, &w, 5));

    // WAKE with a count of 0 (or negative) still wakes one.
    pthread_t th;
    plainWord = 0;
    pthread_create(&th, NULL, plainWaiter, NULL);
    long n = 0;
    for (int i = 0; i < 2000 && n == 0; i++) { n = fx(&plainWord, FUTEX_WAKE_PRIVATE, 0, NULL, NULL, 0); if (!n) nap(1); }
    void *res;
    pthread_join(th, &res);
    printf("WAKE with count 0 woke %ld, the waiter returned %ld\n", n, (long)res);

    // REQUEUE onto the same word counts the moved waiter.
    plainWord = 0;
    pthread_create(&th, NULL, plainWaiter, NULL);
    n = 0;
    for (int i = 0; i < 2000 && n == 0; i++) { n = fx(&plainWord, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)1, &plainWord, 0); if (!n) nap(1); }
    printf("CMP_REQUEUE onto itself counted %ld\n", n);
    n = 0;
    for (int i = 0; i < 2000 && n == 0; i++) { n = fx(&plainWord, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); if (!n) nap(1); }
    pthread_join(th, &res);
    printf("then WAKE woke %ld\n", n);

    // WAKE_OP: an unknown operation changes nothing; an unknown comparison
    // comes after the change; a shift past 31 is taken modulo 32.
    uint32_t a = 0, b = 7;
    show("WAKE_OP, op 5", fx(&a, FUTEX_WAKE_OP, 1, (void *)1, &b, FUTEX_OP(5, 1, FUTEX_OP_CMP_EQ, 0)));
    printf("  second word %u\n", b);
    show("WAKE_OP, cmp 6", fx(&a, FUTEX_WAKE_OP, 1, (void *)1, &b, FUTEX_OP(FUTEX_OP_ADD, 1, 6, 0)));
    printf("  second word %u\n", b);
    show("WAKE_OP, SET 1<<33", fx(&a, FUTEX_WAKE_OP, 1, (void *)1, &b, FUTEX_OP((FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT), 33, FUTEX_OP_CMP_GT, 7)));
    printf("  second word %u\n", b);
    show("WAKE_OP, SET -1 (sign-extended)", fx(&a, FUTEX_WAKE_OP, 1, (void *)1, &b, FUTEX_OP(FUTEX_OP_SET, 0xfff, FUTEX_OP_CMP_LT, 0)));
    printf("  second word %#x\n", b);
    show("WAKE_OP, second word read-only", fx(&a, FUTEX_WAKE_OP, 1, (void *)1, (uint32_t *)&readOnly, FUTEX_OP(FUTEX_OP_SET, 1, 0, 0)));
}

/* ---------- PI futexes ---------- */

static uint32_t piWord, piReady;
static pid_t holderTid;

// Takes piWord with TRYLOCK_PI, then waits until told to unlock or exit.
static void *holder(void *arg) {
    long mode = (long)arg;   // 0: unlock when released, 1: exit holding it
    holderTid = gettid_();
    if (fx(&piWord, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0) != 0) printf("holder: trylock failed %s\n", strerrorname_np(errno));
    __atomic_store_n(&piReady, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&piReady, __ATOMIC_SEQ_CST) != 2) nap(1);
    if (mode == 0) fx(&piWord, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    return NULL;
}

static void startHolder(pthread_t *th, long mode) {
    piWord = 0;
    piReady = 0;
    pthread_create(th, NULL, holder, (void *)mode);
    while (__atomic_load_n(&piReady, __ATOMIC_SEQ_CST) != 1) nap(1);
}

static void releaseHolder(pthread_t th) {
    __atomic_store_n(&piReady, 2, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
}

static void waitForWaitersBit(uint32_t *word) {
    for (int i = 0; i < 5000 && !(__atomic_load_n(word, __ATOMIC_SEQ_CST) & FUTEX_WAITERS); i++) nap(1);
}

static uint32_t lockerResult;
static void *locker(void *arg) {
    (void)arg;
    lockerTid = gettid_();
    long r = fx(&piWord, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    uint32_t v = piWord;
    lockerResult = r == 0 ? ((v & FUTEX_TID_MASK) == (uint32_t)gettid_()) | (v & (FUTEX_WAITERS | FUTEX_OWNER_DIED)) : 0xdead;
    if (r == 0) fx(&piWord, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    return NULL;
}

static void piOps(void) {
    uint32_t me = gettid_();
    uint32_t w = 0;
    show("TRYLOCK_PI, free", fx(&w, FUTEX_TRYLOCK_PI, 0, NULL, NULL, 0));
    printf("  word is my tid: %d\n", w == me);
    show("LOCK_PI, mine", fx(&w, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
    show("TRYLOCK_PI, mine", fx(&w, FUTEX_TRYLOCK_PI, 0, NULL, NULL, 0));
    show("UNLOCK_PI", fx(&w, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0));
    printf("  word %#x\n", w);
    show("UNLOCK_PI, not mine", fx(&w, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0));
    w = me | FUTEX_WAITERS | FUTEX_OWNER_DIED;
    show("UNLOCK_PI, mine with both flags", fx(&w, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0));
    printf("  word %#x\n", w);
    w = FUTEX_OWNER_DIED;
    show("LOCK_PI, owner died and gone", fx(&w, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
    printf("  word keeps OWNER_DIED: %d, is mine: %d\n", !!(w & FUTEX_OWNER_DIED), (w & FUTEX_TID_MASK) == me);
    w = 0x3ffffff0;
    show("LOCK_PI, owner tid of nobody", fx(&w, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
    printf("  word %#x\n", w);
    w = 0x3ffffff0;
    show("TRYLOCK_PI, owner tid of nobody", fx(&w, FUTEX_TRYLOCK_PI, 0, NULL, NULL, 0));
    show("LOCK_PI, unaligned", fx((uint32_t *)((char *)&w + 2), FUTEX_LOCK_PI, 0, NULL, NULL, 0));
    show("LOCK_PI, read-only word", fx((uint32_t *)&readOnly, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
    show("UNLOCK_PI, unmapped", fx((uint32_t *)8, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0));
    show("LOCK_PI|CLOCK_REALTIME", fx(&w, FUTEX_LOCK_PI | FUTEX_CLOCK_REALTIME, 0, NULL, NULL, 0));
    show("TRYLOCK_PI|CLOCK_REALTIME", fx(&w, FUTEX_TRYLOCK_PI | FUTEX_CLOCK_REALTIME, 0, NULL, NULL, 0));
    show("UNLOCK_PI|CLOCK_REALTIME", fx(&w, FUTEX_UNLOCK_PI | FUTEX_CLOCK_REALTIME, 0, NULL, NULL, 0));
    struct timespec bad = {0, -1};
    show("LOCK_PI, bad timeout", fx(&w, FUTEX_LOCK_PI, 0, &bad, NULL, 0));

    // Another thread holds it.
    pthread_t th;
    startHolder(&th, 0);
    printf("holder's word is its tid: %d\n", piWord == (uint32_t)holderTid);
    show("TRYLOCK_PI, held", fx(&piWord, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0));
    printf("  FUTEX_WAITERS now set: %d\n", !!(piWord & FUTEX_WAITERS));
    struct timespec rt = after(CLOCK_REALTIME, 30);
    show("LOCK_PI, realtime deadline", fx(&piWord, FUTEX_LOCK_PI_PRIVATE, 0, &rt, NULL, 0));
    struct timespec mono = after(CLOCK_MONOTONIC, 30);
    show("LOCK_PI2, monotonic deadline", fx(&piWord, FUTEX_LOCK_PI2_PRIVATE, 0, &mono, NULL, 0));
    rt = after(CLOCK_REALTIME, 30);
    show("LOCK_PI2|CLOCK_REALTIME, deadline", fx(&piWord, FUTEX_LOCK_PI2_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &rt, NULL, 0));
    w = piWord & ~FUTEX_WAITERS;
    show("UNLOCK_PI, held by another", fx(&piWord, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0));
    // A waiter in the kernel: the unlock hands it over.
    pthread_t lk;
    lockerResult = 0;
    lockerTid = 0;
    pthread_create(&lk, NULL, locker, NULL);
    awaitAsleep(&lockerTid);
    show("WAKE on a PI futex with a waiter", fx(&piWord, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
    uint32_t plain = piWord;
    show("LOCK_PI, word changed under its state", (piWord = (piWord & FUTEX_WAITERS) | 0x3ffffff0, fx(&piWord, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0)));
    piWord = plain;
    releaseHolder(th);
    pthread_join(lk, NULL);
    printf("the waiter got it from the unlock: tid %d, flags %#x\n", lockerResult & 1, lockerResult & ~1u);
    printf("  word after its unlock %#x\n", piWord);

    // The owner exits holding it (no robust list entry): the waiter gets it.
    startHolder(&th, 1);
    lockerResult = 0;
    pthread_create(&lk, NULL, locker, NULL);
    waitForWaitersBit(&piWord);
    nap(20);
    releaseHolder(th);
    pthread_join(lk, NULL);
    printf("owner exited holding it: the waiter got it: tid %d, flags %#x\n", lockerResult & 1, lockerResult & ~1u);
    // And now nobody waits: the dead tid stays, LOCK_PI says ESRCH.
    startHolder(&th, 1);
    releaseHolder(th);
    show("LOCK_PI, owner exited without a robust list", fx(&piWord, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0));
    printf("  FUTEX_WAITERS set: %d, tid kept: %d\n", !!(piWord & FUTEX_WAITERS), (piWord & FUTEX_TID_MASK) == (uint32_t)holderTid);

    // A plain waiter on the word: LOCK_PI finds no PI state to join.
    piWord = me;
    pthread_t pw;
    plainWord = 0;
    uint32_t *saved = &plainWord;
    (void)saved;
    pthread_create(&pw, NULL, plainWaiter, NULL);
    nap(20);
    piWord = 0;
    long r = -2;
    // plainWaiter waits on plainWord; put an owner there and lock it.
    for (int i = 0; i < 2000; i++) {
        plainWord = 0;
        r = fx(&plainWord, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
        if (r < 0) break;
        plainWord = 0;   // taken: nobody was queued yet; try again
        nap(1);
    }
    show("TRYLOCK_PI with a FUTEX_WAIT waiter queued", r);
    plainWord = 0;
    while (fx(&plainWord, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0) nap(1);
    pthread_join(pw, NULL);
}

/* ---------- glibc's PI and robust mutexes ---------- */

static pthread_mutex_t *shared;
static long counter;

static void *contend(void *arg) {
    pthread_mutex_t *m = arg;
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(m);
        counter++;
        pthread_mutex_unlock(m);
    }
    return NULL;
}

static void *lockAndDie(void *arg) {
    pthread_mutex_lock(arg);
    return NULL;   // exits holding it
}

static void *lockAndReport(void *arg) {
    int r = pthread_mutex_lock(arg);
    printf("  blocked locker got %s\n", r ? strerrorname_np(r) : "0");
    if (r == EOWNERDEAD) pthread_mutex_consistent(arg);
    pthread_mutex_unlock(arg);
    return NULL;
}

static void initMutex(pthread_mutex_t *m, int protocol, int robust, int pshared) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setprotocol(&a, protocol);
    pthread_mutexattr_setrobust(&a, robust);
    pthread_mutexattr_setpshared(&a, pshared);
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

static void mutexes(void) {
    const char *names[] = {"PTHREAD_PRIO_NONE", "PTHREAD_PRIO_INHERIT"};
    int protocols[] = {PTHREAD_PRIO_NONE, PTHREAD_PRIO_INHERIT};
    shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 2; i++) {
        printf("%s:\n", names[i]);
        pthread_mutex_t m;
        initMutex(&m, protocols[i], PTHREAD_MUTEX_STALLED, PTHREAD_PROCESS_PRIVATE);
        pthread_t t[4];
        counter = 0;
        for (int k = 0; k < 4; k++) pthread_create(&t[k], NULL, contend, &m);
        for (int k = 0; k < 4; k++) pthread_join(t[k], NULL);
        printf("  4 threads x 2000 increments: %ld\n", counter);
        pthread_mutex_lock(&m);
        printf("  trylock held: %s\n", strerrorname_np(pthread_mutex_trylock(&m)));
        pthread_mutex_unlock(&m);

        // Robust: a thread dies holding it, with nobody waiting, then with a waiter.
        initMutex(&m, protocols[i], PTHREAD_MUTEX_ROBUST, PTHREAD_PROCESS_PRIVATE);
        pthread_t d;
        pthread_create(&d, NULL, lockAndDie, &m);
        pthread_join(d, NULL);
        int r = pthread_mutex_lock(&m);
        printf("  robust, owner thread died: %s\n", r ? strerrorname_np(r) : "0");
        printf("  consistent: %d\n", pthread_mutex_consistent(&m));
        pthread_mutex_unlock(&m);
        r = pthread_mutex_lock(&m);
        printf("  locked again: %d\n", r);
        pthread_mutex_unlock(&m);

        pthread_mutex_lock(&m);
        pthread_t waiter;
        pthread_create(&waiter, NULL, lockAndReport, &m);
        nap(30);
        // Hand the lock to a thread that dies: the waiter inherits it dead.
        pthread_mutex_unlock(&m);
        pthread_join(waiter, NULL);

        // Not made consistent: unusable afterwards.
        pthread_create(&d, NULL, lockAndDie, &m);
        pthread_join(d, NULL);
        r = pthread_mutex_lock(&m);
        printf("  owner died again: %s\n", r ? strerrorname_np(r) : "0");
        pthread_mutex_unlock(&m);
        r = pthread_mutex_lock(&m);
        printf("  unlocked without pthread_mutex_consistent, then: %s\n", r ? strerrorname_np(r) : "0");

        // A process dies holding a process-shared robust mutex.
        initMutex(shared, protocols[i], PTHREAD_MUTEX_ROBUST, PTHREAD_PROCESS_SHARED);
        pid_t c = fork();
        if (c == 0) { pthread_mutex_lock(shared); _exit(0); }
        waitpid(c, NULL, 0);
        r = pthread_mutex_lock(shared);
        printf("  robust, owner process died: %s\n", r ? strerrorname_np(r) : "0");
        pthread_mutex_consistent(shared);
        pthread_mutex_unlock(shared);

        // ... while a thread of ours waits for it.
        int pipefd[2];
        pipe(pipefd);
        c = fork();
        if (c == 0) {
            pthread_mutex_lock(shared);
            write(pipefd[1], "x", 1);
            nap(50);
            _exit(0);
        }
        char x;
        read(pipefd[0], &x, 1);
        pthread_create(&waiter, NULL, lockAndReport, shared);
        pthread_join(waiter, NULL);
        waitpid(c, NULL, 0);
        close(pipefd[0]);
        close(pipefd[1]);
    }
}

/* ---------- requeue to a PI futex ---------- */

static uint32_t cond, mutexWord;
static void *condWaiter(void *arg) {
    (void)arg;
    condWaiterTid = gettid_();
    long r = fx(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, NULL, &mutexWord, 0);
    uint32_t v = mutexWord;
    int mine = (v & FUTEX_TID_MASK) == (uint32_t)gettid_();
    if (r == 0 && mine) fx(&mutexWord, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    return (void *)(long)(r == 0 ? mine : -errno);
}

static long requeueAll(int want, uint32_t nrRequeue) {
    long total = 0;
    for (int i = 0; i < 5000 && total < want; i++) {
        long n = fx(&cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)(long)nrRequeue, &mutexWord, 0);
        if (n < 0) return -errno;
        total += n;
        if (total < want) nap(1);
    }
    return total;
}

static void requeuePI(void) {
    uint32_t x = 0;
    struct timespec past = {1, 0};
    show("WAIT_REQUEUE_PI, same word", fx(&x, FUTEX_WAIT_REQUEUE_PI, 0, NULL, &x, 0));
    show("WAIT_REQUEUE_PI, value differs", fx(&cond, FUTEX_WAIT_REQUEUE_PI, 1, NULL, &mutexWord, 0));
    show("WAIT_REQUEUE_PI, past deadline", fx(&cond, FUTEX_WAIT_REQUEUE_PI, 0, &past, &mutexWord, 0));
    show("CMP_REQUEUE_PI, nr_wake 2", fx(&cond, FUTEX_CMP_REQUEUE_PI, 2, (void *)1, &mutexWord, 0));
    show("CMP_REQUEUE_PI, nr_wake 0", fx(&cond, FUTEX_CMP_REQUEUE_PI, 0, (void *)1, &mutexWord, 0));
    show("CMP_REQUEUE_PI, same word", fx(&cond, FUTEX_CMP_REQUEUE_PI, 1, (void *)1, &cond, 0));
    show("CMP_REQUEUE_PI, value differs", fx(&cond, FUTEX_CMP_REQUEUE_PI, 1, (void *)1, &mutexWord, 3));
    show("CMP_REQUEUE_PI, nobody", fx(&cond, FUTEX_CMP_REQUEUE_PI, 1, (void *)1, &mutexWord, 0));
    printf("  mutex word %#x\n", mutexWord);

    // The mutex is free: the first waiter gets it at once.
    pthread_t a, b;
    void *ra, *rb;
    condWaiterTid = 0;
    pthread_create(&a, NULL, condWaiter, NULL);
    awaitAsleep(&condWaiterTid);
    show("WAKE on the condition word", fx(&cond, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
    show("plain CMP_REQUEUE of a requeue-PI waiter", fx(&cond, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)1, &x, 0));
    printf("requeued to a free mutex: %ld\n", requeueAll(1, 0));
    pthread_join(a, &ra);
    printf("  the waiter owned it: %ld; mutex word %#x\n", (long)ra, mutexWord);

    // The mutex is held: both are queued on it, then handed it in turn.
    mutexWord = gettid_();
    pthread_create(&a, NULL, condWaiter, NULL);
    pthread_create(&b, NULL, condWaiter, NULL);
    printf("requeued to a held mutex: %ld\n", requeueAll(2, INT_MAX));
    printf("  FUTEX_WAITERS set: %d\n", !!(mutexWord & FUTEX_WAITERS));
    show("UNLOCK_PI, two requeued waiters", fx(&mutexWord, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0));
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    printf("  both owned it in turn: %ld %ld; mutex word %#x\n", (long)ra, (long)rb, mutexWord);
}

/* ---------- futex_waitv ---------- */

static uint32_t vwords[3];
static void *vwaiter(void *arg) {
    (void)arg;
    struct futex_waitv v[3];
    for (int i = 0; i < 3; i++) v[i] = (struct futex_waitv){.val = 0, .uaddr = (uintptr_t)&vwords[i], .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG};
    long r = syscall(SYS_futex_waitv, v, 3, 0, NULL, 0);
    return (void *)(r < 0 ? -errno : r);
}

static void waitv(void) {
    uint32_t w = 1;
    struct futex_waitv v = {.val = 1, .uaddr = (uintptr_t)&w, .flags = FUTEX_32};
    struct timespec past = {1, 0}, bad = {0, 2000000000L};
    show("waitv, flags 1", syscall(SYS_futex_waitv, &v, 1, 1, NULL, 0));
    show("waitv, none", syscall(SYS_futex_waitv, &v, 0, 0, NULL, 0));
    show("waitv, 129", syscall(SYS_futex_waitv, &v, 129, 0, NULL, 0));
    show("waitv, NULL", syscall(SYS_futex_waitv, NULL, 1, 0, NULL, 0));
    show("waitv, unreadable list", syscall(SYS_futex_waitv, (void *)8, 1, 0, NULL, 0));
    show("waitv, CLOCK_BOOTTIME", syscall(SYS_futex_waitv, &v, 1, 0, &past, CLOCK_BOOTTIME));
    show("waitv, bad timeout", syscall(SYS_futex_waitv, &v, 1, 0, &bad, CLOCK_MONOTONIC));
    show("waitv, past monotonic deadline", syscall(SYS_futex_waitv, &v, 1, 0, &past, CLOCK_MONOTONIC));
    show("waitv, past realtime deadline", syscall(SYS_futex_waitv, &v, 1, 0, &past, CLOCK_REALTIME));
    v.flags = FUTEX_PRIVATE_FLAG;
    show("waitv, no FUTEX_32", syscall(SYS_futex_waitv, &v, 1, 0, &past, CLOCK_MONOTONIC));
    v.flags = FUTEX_32 | 1;
    show("waitv, unknown flag", syscall(SYS_futex_waitv, &v, 1, 0, &past, CLOCK_MONOTONIC));
    v.flags = FUTEX_32;
    v.__reserved = 1;
    show("waitv, reserved", syscall(SYS_futex_waitv, &v, 1, 0, &past, CLOCK_MONOTONIC));
    v.__reserved = 0;
    v.val = 2;
    show("waitv, value differs", syscall(SYS_futex_waitv, &v, 1, 0, NULL, 0));
    v.val = 0x100000001ull;   // compared as a u32
    struct timespec soon = after(CLOCK_MONOTONIC, 20);
    show("waitv, value with high bits", syscall(SYS_futex_waitv, &v, 1, 0, &soon, CLOCK_MONOTONIC));
    v.val = 1;
    v.uaddr = (uintptr_t)&w + 1;
    show("waitv, unaligned", syscall(SYS_futex_waitv, &v, 1, 0, NULL, 0));

    pthread_t th;
    pthread_create(&th, NULL, vwaiter, NULL);
    long n = 0;
    for (int i = 0; i < 5000 && n == 0; i++) { n = fx(&vwords[2], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); if (!n) nap(1); }
    void *r;
    pthread_join(th, &r);
    printf("waitv woken through word 2: %ld\n", (long)r);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    plainOps();
    piOps();
    mutexes();
    requeuePI();
    waitv();
    return 0;
}
