// A thread outlives the thread that created it: T1 starts T2 and exits;
// only then does T2 make its syscalls. (Each task's stub must not depend on
// the task that created it.)
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_t t2;
static volatile int go;

static void *second(void *a) {
    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE)) usleep(1000);
    for (int i = 0; i < 3; i++) { printf("t2 alive %d\n", i); fflush(stdout); usleep(2000); }
    return a;
}

static void *first(void *a) {
    pthread_create(&t2, NULL, second, NULL);
    return a;
}

int main(void) {
    pthread_t t1;
    pthread_create(&t1, NULL, first, NULL);
    pthread_join(t1, NULL);
    usleep(20000);   // t1's task is gone by now
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    pthread_join(t2, NULL);
    printf("joined both\n");
    return 0;
}
