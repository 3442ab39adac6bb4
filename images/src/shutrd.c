// shutdown(SHUT_RD) on each side of a TCP loopback connection and an AF_UNIX
// stream pair: TCP tells the peer nothing, so its writes go on and are read;
// AF_UNIX ends the peer's sending (EPIPE). Compared with Linux's output.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
int main(void) {
    signal(13, SIG_IGN);
    for (int fam = 0; fam < 2; fam++) {
        int a, b;
        if (fam == 0) {
            int l = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
            socklen_t n = sizeof sa;
            bind(l, (void *)&sa, n); listen(l, 1); getsockname(l, (void *)&sa, &n);
            a = socket(AF_INET, SOCK_STREAM, 0); connect(a, (void *)&sa, n); b = accept(l, NULL, NULL);
        } else {
            int s[2]; socketpair(AF_UNIX, SOCK_STREAM, 0, s); a = s[0]; b = s[1];
        }
        const char *f = fam == 0 ? "tcp" : "unix";
        write(a, "before", 6);
        printf("%s: shutdown(SHUT_RD) %d\n", f, shutdown(b, SHUT_RD));
        errno = 0;
        long w = write(a, "after", 5);
        printf("%s: write after the peer's SHUT_RD: %ld %s\n", f, w, w < 0 ? strerror(errno) : "");
        usleep(100000);
        fcntl(b, F_SETFL, O_NONBLOCK);
        char buf[32] = {0};
        long r = read(b, buf, sizeof buf - 1);
        printf("%s: read after SHUT_RD: %ld \"%s\"\n", f, r, r > 0 ? buf : "");
        memset(buf, 0, sizeof buf);
        r = read(b, buf, sizeof buf - 1);
        printf("%s: read again: %ld \"%s\"\n", f, r, r > 0 ? buf : "");
    }
    return 0;
}
