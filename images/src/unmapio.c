/* A thread sleeps in read() (or write()) on a pipe with a buffer another
 * thread then unmaps, and maps a fresh page (which may reuse the freed
 * memory). When the data arrives, the transfer must fault (EFAULT, as
 * Linux copies at that moment against the mappings of that moment), and
 * the fresh page must not receive the data nor leak into the pipe. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 4096
static int p[2];
static char *buf;
static int use_readv;
static ssize_t result;
static int result_errno;

static void *reader(void *arg) {
    (void)arg;
    if (use_readv) {
        struct iovec iov[2] = {{buf, 8}, {buf + 8, 8}};
        result = readv(p[0], iov, 2);
    } else {
        result = read(p[0], buf, 16);
    }
    result_errno = errno;
    return NULL;
}

static void *writer(void *arg) {
    (void)arg;
    result = write(p[1], buf, PAGE);
    result_errno = errno;
    return NULL;
}

static const char *outcome(void) {
    static char s[64];
    if (result < 0) snprintf(s, sizeof s, "-1 %s", result_errno == EFAULT ? "EFAULT" : strerror(result_errno));
    else snprintf(s, sizeof s, "%zd", result);
    return s;
}

static int zeroed(const char *b) {
    for (int i = 0; i < PAGE; i++) if (b[i]) return 0;
    return 1;
}

/* placeholder: the old address gets a PROT_NONE mapping and the fresh page
 * goes elsewhere; otherwise the old address is left unmapped and the fresh
 * page is asked for far from it. */
static void read_case(const char *name, int placeholder, int vec) {
    if (pipe(p) != 0) { perror("pipe"); return; }
    buf = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    use_readv = vec;
    pthread_t th;
    pthread_create(&th, NULL, reader, NULL);
    usleep(100000);   /* the reader is asleep in the pipe by now */
    char *old = buf;
    munmap(old, PAGE);
    char *fresh;
    if (placeholder) {
        mmap(old, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        fresh = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    } else {
        fresh = mmap(old - (1 << 30), PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    if (write(p[1], "0123456789abcdef", 16) != 16) perror("write");
    pthread_join(th, NULL);
    char rest[32];
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    ssize_t left = read(p[0], rest, sizeof rest);
    printf("%s: %s; fresh page elsewhere %s, clean %s; left in the pipe %zd\n", name, outcome(),
           fresh != old ? "yes" : "no", zeroed(fresh) ? "yes" : "NO", left);
    munmap(fresh, PAGE);
    if (placeholder) munmap(old, PAGE);
    close(p[0]); close(p[1]);
}

static void write_case(void) {
    if (pipe(p) != 0) { perror("pipe"); return; }
    static char fill[65536];
    memset(fill, 'f', sizeof fill);
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    ssize_t filled = 0, n;
    while ((n = write(p[1], fill, sizeof fill)) > 0) filled += n;
    fcntl(p[1], F_SETFL, 0);
    buf = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(buf, 'w', PAGE);
    pthread_t th;
    pthread_create(&th, NULL, writer, NULL);
    usleep(100000);   /* the writer waits for room */
    char *old = buf;
    munmap(old, PAGE);
    mmap(old, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    char *fresh = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(fresh, 'S', PAGE);   /* a secret that must not reach the pipe */
    static char drain[65536];
    ssize_t drained = 0;
    while (drained < filled && (n = read(p[0], drain, sizeof drain)) > 0) drained += n;
    pthread_join(th, NULL);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    ssize_t after = read(p[0], drain, sizeof drain);
    int secret = after > 0 && memchr(drain, 'S', after) != NULL;
    printf("write: pipe filled with %zd; %s; then in the pipe %zd bytes%s\n", filled,
           outcome(), after < 0 ? (ssize_t)0 : after, secret ? " WITH THE SECRET" : "");
    munmap(fresh, PAGE);
    munmap(old, PAGE);
    close(p[0]); close(p[1]);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    read_case("read, placeholder", 1, 0);
    read_case("read, unmapped", 0, 0);
    read_case("readv, placeholder", 1, 1);
    read_case("readv, unmapped", 0, 1);
    write_case();
    return 0;
}
