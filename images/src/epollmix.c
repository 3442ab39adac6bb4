// epoll, poll and select in combination (issue 17 item 9): nested epolls,
// edge-triggered and one-shot re-arming, EPOLLEXCLUSIVE's rules, many
// waiters, closing a watched descriptor, epoll over eventfd, pipes, timerfd,
// signalfd and sockets. One line per check; compared with the native run.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

static void ev(const char *what, int n, struct epoll_event *e) {
    if (n < 0) { printf("%s: %s\n", what, strerrorname_np(errno)); return; }
    printf("%s: %d", what, n);
    for (int i = 0; i < n; i++) {
        printf(" [data %llu:", (unsigned long long)e[i].data.u64);
        unsigned m = e[i].events;
        if (m & EPOLLIN) printf(" IN");
        if (m & EPOLLOUT) printf(" OUT");
        if (m & EPOLLERR) printf(" ERR");
        if (m & EPOLLHUP) printf(" HUP");
        if (m & EPOLLRDHUP) printf(" RDHUP");
        if (m & EPOLLPRI) printf(" PRI");
        printf("]");
    }
    printf("\n");
}

static int add(int ep, int fd, unsigned events, uint64_t data) {
    struct epoll_event e = {.events = events, .data.u64 = data};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static void res(const char *what, int r) {
    if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
    else printf("%s: %d\n", what, r);
}

static int shared_ep, shared_efd;
static atomic_int woke;
static void *waiter(void *x) {
    (void)x;
    struct epoll_event e[4];
    int n = epoll_wait(shared_ep, e, 4, 1500);
    if (n > 0) atomic_fetch_add(&woke, 1);
    return NULL;
}

static int many_waiters(unsigned events) {
    shared_ep = epoll_create1(0);
    shared_efd = eventfd(0, EFD_NONBLOCK);
    add(shared_ep, shared_efd, events, 1);
    atomic_store(&woke, 0);
    pthread_t th[6];
    for (int i = 0; i < 6; i++) pthread_create(&th[i], NULL, waiter, NULL);
    usleep(200000);   // let them all block
    uint64_t one = 1;
    write(shared_efd, &one, 8);
    for (int i = 0; i < 6; i++) pthread_join(th[i], NULL);
    close(shared_ep);
    close(shared_efd);
    return atomic_load(&woke);
}

/// Chains of nested epolls: ep_loop_check counts the levels below the epoll
/// added and above the one it joins, at most EP_MAX_NESTS in all.
static void chains(void) {
    // A chain of epolls: the depth ep_loop_check allows.
    int chain[8];
    for (int i = 0; i < 8; i++) chain[i] = epoll_create1(0);
    for (int i = 1; i < 8; i++) {
        char w[64];
        snprintf(w, sizeof w, "chain: epoll %d into epoll %d", i - 1, i);
        res(w, add(chain[i], chain[i - 1], EPOLLIN, i));
    }
    for (int i = 0; i < 8; i++) close(chain[i]);
    for (int i = 0; i < 8; i++) chain[i] = epoll_create1(0);
    for (int i = 7; i > 0; i--) {
        char w[64];
        snprintf(w, sizeof w, "chain downward: epoll %d into epoll %d", i, i - 1);
        res(w, add(chain[i - 1], chain[i], EPOLLIN, i));
    }
    for (int i = 0; i < 8; i++) close(chain[i]);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    (void)argc; (void)argv;
    signal(SIGPIPE, SIG_IGN);
    struct epoll_event e[8];
    int p[2];

    // Level-triggered, edge-triggered, one-shot on a pipe.
    pipe2(p, O_NONBLOCK);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    add(ep, p[0], EPOLLIN, 10);
    ev("LT empty", epoll_wait(ep, e, 8, 0), e);
    write(p[1], "ab", 2);
    ev("LT data", epoll_wait(ep, e, 8, 0), e);
    ev("LT data again", epoll_wait(ep, e, 8, 0), e);
    struct epoll_event m = {.events = EPOLLIN | EPOLLET, .data.u64 = 11};
    res("MOD to ET", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &m));
    ev("ET after MOD (data waiting)", epoll_wait(ep, e, 8, 0), e);
    ev("ET again, nothing new", epoll_wait(ep, e, 8, 0), e);
    write(p[1], "c", 1);
    ev("ET new data", epoll_wait(ep, e, 8, 0), e);
    ev("ET again", epoll_wait(ep, e, 8, 0), e);
    char b[16];
    read(p[0], b, sizeof b);
    m.events = EPOLLIN | EPOLLONESHOT; m.data.u64 = 12;
    res("MOD to ONESHOT", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &m));
    write(p[1], "d", 1);
    ev("ONESHOT fires", epoll_wait(ep, e, 8, 0), e);
    write(p[1], "e", 1);
    ev("ONESHOT disarmed", epoll_wait(ep, e, 8, 0), e);
    res("MOD re-arms", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &m));
    ev("ONESHOT fires again", epoll_wait(ep, e, 8, 0), e);
    read(p[0], b, sizeof b);

    // Errors of epoll_ctl and epoll_wait.
    res("ADD twice", add(ep, p[0], EPOLLIN, 0));
    struct epoll_event z = {0};
    res("MOD not added", epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &z));
    res("DEL not added", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
    res("ADD itself", add(ep, ep, EPOLLIN, 0));
    int reg = open("/proc/self/exe", O_RDONLY);
    res("ADD a regular file", add(ep, reg, EPOLLIN, 0));
    close(reg);
    res("ADD bad fd", add(ep, 999, EPOLLIN, 0));
    res("bad op", epoll_ctl(ep, 7, p[0], &z));
    res("wait maxevents 0", epoll_wait(ep, e, 0, 0));
    res("wait on a pipe", epoll_wait(p[0], e, 1, 0));
    res("epoll_create(0)", epoll_create(0));
    res("epoll_create1 bad flag", epoll_create1(1));

    // EPOLLEXCLUSIVE: only with ADD, only with IN/OUT/ERR/HUP/WAKEUP/ET, not on an epoll.
    int ex = epoll_create1(0), efd = eventfd(0, EFD_NONBLOCK);
    res("EXCLUSIVE with ONESHOT", add(ex, efd, EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 0));
    res("EXCLUSIVE with RDHUP", add(ex, efd, EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDHUP, 0));
    res("EXCLUSIVE add", add(ex, efd, EPOLLIN | EPOLLEXCLUSIVE, 20));
    m.events = EPOLLIN; m.data.u64 = 21;
    res("MOD an EXCLUSIVE one", epoll_ctl(ex, EPOLL_CTL_MOD, efd, &m));
    int inner = epoll_create1(0);
    res("EXCLUSIVE on an epoll", add(ex, inner, EPOLLIN | EPOLLEXCLUSIVE, 0));
    uint64_t one = 1;
    write(efd, &one, 8);
    ev("EXCLUSIVE reports", epoll_wait(ex, e, 8, 0), e);
    close(ex); close(efd); close(inner);

    // Nested epolls, and a loop between two.
    int outer = epoll_create1(0);
    inner = epoll_create1(0);
    add(inner, p[0], EPOLLIN, 30);
    add(outer, inner, EPOLLIN, 31);
    ev("nested, nothing", epoll_wait(outer, e, 8, 0), e);
    write(p[1], "x", 1);
    ev("nested outer", epoll_wait(outer, e, 8, 0), e);
    struct pollfd pf = {.fd = inner, .events = POLLIN};
    res("poll on the inner epoll", poll(&pf, 1, 0));
    printf("poll revents: %#x\n", pf.revents);
    ev("nested inner", epoll_wait(inner, e, 8, 0), e);
    res("ADD a loop", add(inner, outer, EPOLLIN, 0));
    read(p[0], b, sizeof b);
    ev("nested after drain", epoll_wait(outer, e, 8, 0), e);
    close(outer); close(inner);
    chains();

    // Closing a watched descriptor: gone with its last reference; a dup keeps it.
    int q[2];
    pipe2(q, O_NONBLOCK);
    ep = epoll_create1(0);
    add(ep, q[0], EPOLLIN, 40);
    int keep = dup(q[0]);
    close(q[0]);
    write(q[1], "y", 1);
    ev("closed but dup'd", epoll_wait(ep, e, 8, 0), e);
    res("DEL by the closed number", epoll_ctl(ep, EPOLL_CTL_DEL, q[0], NULL));
    close(keep);
    ev("every reference closed", epoll_wait(ep, e, 8, 0), e);
    close(q[1]);
    close(ep);

    // Hang-ups and errors on pipes.
    pipe2(q, O_NONBLOCK);
    ep = epoll_create1(0);
    add(ep, q[0], EPOLLIN | EPOLLRDHUP, 50);
    add(ep, q[1], EPOLLOUT, 51);
    ev("pipe ends", epoll_wait(ep, e, 8, 0), e);
    close(q[1]);
    ev("writer closed", epoll_wait(ep, e, 8, 0), e);
    close(q[0]);
    close(ep);
    pipe2(q, O_NONBLOCK);
    ep = epoll_create1(0);
    add(ep, q[1], EPOLLOUT, 52);
    close(q[0]);
    ev("reader closed", epoll_wait(ep, e, 8, 0), e);
    close(q[1]);
    close(ep);

    // eventfd, timerfd, signalfd, sockets.
    ep = epoll_create1(0);
    efd = eventfd(0, EFD_NONBLOCK);
    add(ep, efd, EPOLLIN | EPOLLOUT, 60);
    ev("eventfd 0", epoll_wait(ep, e, 8, 0), e);
    write(efd, &one, 8);
    ev("eventfd 1", epoll_wait(ep, e, 8, 0), e);
    uint64_t big = 0xfffffffffffffffeULL - 1;
    write(efd, &big, 8);
    ev("eventfd full", epoll_wait(ep, e, 8, 0), e);
    close(efd);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    add(ep, tfd, EPOLLIN, 61);
    struct itimerspec its = {.it_value = {0, 20 * 1000000}};
    timerfd_settime(tfd, 0, &its, NULL);
    ev("timerfd armed", epoll_wait(ep, e, 8, 0), e);
    ev("timerfd fired", epoll_wait(ep, e, 8, 2000), e);
    uint64_t exp;
    read(tfd, &exp, 8);
    ev("timerfd read", epoll_wait(ep, e, 8, 0), e);
    close(tfd);
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGUSR1);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    int sfd = signalfd(-1, &ss, SFD_NONBLOCK);
    add(ep, sfd, EPOLLIN, 62);
    ev("signalfd none", epoll_wait(ep, e, 8, 0), e);
    raise(SIGUSR1);
    ev("signalfd pending", epoll_wait(ep, e, 8, 0), e);
    struct signalfd_siginfo si;
    read(sfd, &si, sizeof si);
    ev("signalfd read", epoll_wait(ep, e, 8, 0), e);
    close(sfd);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
    add(ep, sv[0], EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, 63);
    ev("socket writable", epoll_wait(ep, e, 8, 0), e);
    ev("socket ET again", epoll_wait(ep, e, 8, 0), e);
    write(sv[1], "z", 1);
    ev("socket data", epoll_wait(ep, e, 8, 0), e);
    shutdown(sv[1], SHUT_WR);
    ev("socket peer shut down", epoll_wait(ep, e, 8, 0), e);
    close(sv[1]);
    ev("socket peer closed", epoll_wait(ep, e, 8, 0), e);
    close(sv[0]);
    close(ep);

    // poll and select on the same objects.
    pipe2(q, O_NONBLOCK);
    struct pollfd pfs[3] = {{.fd = q[0], .events = POLLIN}, {.fd = -5, .events = POLLIN}, {.fd = 999, .events = POLLIN}};
    res("poll: empty pipe, negative fd, closed fd", poll(pfs, 3, 0));
    printf("poll revents: %#x %#x %#x\n", pfs[0].revents, pfs[1].revents, pfs[2].revents);
    fd_set r;
    FD_ZERO(&r);
    FD_SET(q[0], &r);
    struct timeval tv = {0, 0};
    res("select empty", select(q[0] + 1, &r, NULL, NULL, &tv));
    write(q[1], "w", 1);
    FD_ZERO(&r); FD_SET(q[0], &r);
    res("select data", select(q[0] + 1, &r, NULL, NULL, &tv));
    printf("select set: %d\n", FD_ISSET(q[0], &r));
    FD_ZERO(&r); FD_SET(q[0], &r); FD_SET(998, &r);
    res("select closed fd", select(999, &r, NULL, NULL, &tv));
    res("select negative nfds", select(-1, NULL, NULL, NULL, &tv));
    close(q[1]);
    pfs[0].events = POLLIN; pfs[0].revents = 0;
    res("poll hung-up pipe with data", poll(pfs, 1, 0));
    printf("poll revents: %#x\n", pfs[0].revents);
    close(q[0]);

    // Many waiters on one epoll: level-triggered wakes them all in turn,
    // edge-triggered one.
    printf("6 waiters, level-triggered: %d woke\n", many_waiters(EPOLLIN));
    printf("6 waiters, edge-triggered: %d woke\n", many_waiters(EPOLLIN | EPOLLET));
    return 0;
}
