// splice and sendfile into an AF_UNIX stream socket whose send buffer is
// full, as Linux 6.1's unix_stream_sendpage takes them: each page of the
// input joins the peer's last skb while it has fewer than 17 fragments,
// with no look at the send buffer; only a page that needs a new skb waits
// for room (or says EAGAIN on an O_NONBLOCK socket: SPLICE_F_NONBLOCK does
// not make the send non-blocking). Then what the reader gets is checked
// against what each call said it took, a splice into a closed peer is
// EPIPE with SIGPIPE, and datagram and seqpacket sockets take a message a
// page (sock_no_sendpage). Prints no counts that depend on buffer accounting.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static unsigned char *sent;   // every byte the socket accepted, in order
static size_t nsent, next_byte;
static int alarms, sigpipes;

static void on_alarm(int sig) { (void)sig; alarms++; }
static void on_pipe(int sig) { (void)sig; sigpipes++; }

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static void fill_bytes(unsigned char *b, size_t n) {
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(next_byte++ % 251);
}

static void accepted(const unsigned char *b, long n) {
    if (n <= 0) return;
    memcpy(sent + nsent, b, n);
    nsent += n;
}

/// Fills the send buffer with 1000-byte writes (each a small skb with no
/// page fragments) until the socket says EAGAIN.
static void fill(int s) {
    unsigned char b[1000];
    for (;;) {
        fill_bytes(b, sizeof b);
        ssize_t n = send(s, b, sizeof b, MSG_DONTWAIT);
        if (n < 0) { show("fill ends", n); next_byte -= sizeof b; return; }
        accepted(b, n);
        next_byte -= sizeof b - n;
    }
}

/// A splice of `len` bytes from a pipe holding exactly them; the bytes it
/// did not take are drained, so the pipe is empty again.
static void splice_pages(const char *what, int s, size_t len, unsigned flags) {
    int p[2];
    if (pipe(p)) { perror("pipe"); exit(1); }
    unsigned char *b = malloc(len);
    fill_bytes(b, len);
    if (write(p[1], b, len) != (ssize_t)len) { perror("pipe write"); exit(1); }
    ssize_t n = splice(p[0], NULL, s, NULL, len, flags);
    int e = errno;
    accepted(b, n);
    next_byte -= len - (n > 0 ? n : 0);
    int left = -1;
    ioctl(p[0], FIONREAD, &left);
    errno = e;
    show(what, n);
    printf("  left in the pipe: %d\n", left);
    close(p[0]); close(p[1]);
    free(b);
}

static void interval(int ms) {
    struct itimerval it = {{0, ms * 1000}, {0, ms * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

/// Reads what the peer has queued and compares it with what the calls said they took.
static void check_received(int r) {
    unsigned char *got = malloc(nsent + 65536);
    size_t n = 0;
    ssize_t k;
    while ((k = recv(r, got + n, nsent + 65536 - n, MSG_DONTWAIT)) > 0) n += k;
    printf("received what was taken, in order: %s\n", n == nsent && memcmp(got, sent, n) == 0 ? "yes" : "no");
    if (n != nsent) printf("  received %zu, taken %zu\n", n, nsent);
    free(got);
    nsent = 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    sent = malloc(1 << 22);
    struct sigaction sa = {.sa_handler = on_alarm};   // no SA_RESTART: a blocked call says EINTR
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = on_pipe;
    sigaction(SIGPIPE, &sa, NULL);

    printf("== O_NONBLOCK socket, send buffer full\n");
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fill(sv[0]);
    splice_pages("splice 16 pages", sv[0], 65536, 0);
    splice_pages("splice 16 more, SPLICE_F_NONBLOCK", sv[0], 65536, SPLICE_F_NONBLOCK);
    splice_pages("splice 1 page", sv[0], 4096, 0);
    unsigned char one = 0;
    show("write 1 byte", write(sv[0], &one, 1));

    printf("== blocking socket\n");
    fcntl(sv[0], F_SETFL, 0);
    // A page that needs a new skb waits for room, SPLICE_F_NONBLOCK or not.
    interval(200);
    splice_pages("splice 1 page, SPLICE_F_NONBLOCK", sv[0], 4096, SPLICE_F_NONBLOCK);
    interval(0);
    printf("  interrupted: %s\n", alarms > 0 ? "yes" : "no");
    check_received(sv[1]);
    close(sv[0]); close(sv[1]);

    // Full again, blocking: pages onto the last write's skb take no wait.
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    fill(sv[0]);
    alarms = 0;
    interval(200);
    splice_pages("blocking splice 16 pages", sv[0], 65536, 0);
    interval(0);
    check_received(sv[1]);
    close(sv[0]); close(sv[1]);

    printf("== sendfile from a file\n");
    char path[] = "/tmp/splicesock.XXXXXX";
    int f = mkstemp(path);
    unlink(path);
    unsigned char *b = malloc(65536);
    fill_bytes(b, 65536);
    if (write(f, b, 65536) != 65536) { perror("file write"); return 1; }
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fill(sv[0]);
    off_t off = 0;
    ssize_t n = sendfile(sv[0], f, &off, 65536);
    show("sendfile 16 pages", n);
    printf("  offset moved by the count: %s\n", off == (n > 0 ? n : 0) ? "yes" : "no");
    accepted(b, n);
    check_received(sv[1]);
    close(sv[0]); close(sv[1]); close(f);

    // Datagram and seqpacket sockets take a splice as one message a page (sock_no_sendpage).
    int types[] = {SOCK_DGRAM, SOCK_SEQPACKET};
    for (int i = 0; i < 2; i++) {
        printf("== %s socketpair\n", i ? "seqpacket" : "datagram");
        socketpair(AF_UNIX, types[i], 0, sv);
        splice_pages("splice 3 pages", sv[0], 3 * 4096, 0);
        printf("  messages:");
        char m[65536];
        ssize_t k;
        while ((k = recv(sv[1], m, sizeof m, MSG_DONTWAIT)) > 0) printf(" %zd", k);
        printf("\n");
        nsent = 0;
        close(sv[0]); close(sv[1]);
    }

    printf("== peer closed\n");
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    close(sv[1]);
    splice_pages("splice into a closed peer", sv[0], 4096, 0);
    printf("  SIGPIPE: %d\n", sigpipes);
    close(sv[0]);
    return 0;
}
