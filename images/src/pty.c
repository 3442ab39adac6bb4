// Pseudo-terminals: posix_openpt/grantpt/unlockpt/ptsname, the slave's
// default termios, canonical input (erase, kill, EOF), echo and ONLCR,
// raw mode, window size, ^C to the terminal's foreground process group,
// and what each side sees when the other closes. Compared with Linux's.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

// Everything the master has to read within 200 ms, as text with escapes.
static void drain(int m, const char *what) {
    char buf[256];
    int n = 0;
    struct pollfd p = {m, POLLIN, 0};
    while (n < (int)sizeof buf - 1 && poll(&p, 1, 200) > 0 && (p.revents & POLLIN)) {
        long r = read(m, buf + n, sizeof buf - 1 - n);
        if (r <= 0) break;
        n += r;
    }
    printf("%s: \"", what);
    for (int i = 0; i < n; i++) {
        unsigned char c = buf[i];
        if (c == '\r') printf("\\r"); else if (c == '\n') printf("\\n"); else if (c < 32 || c == 127) printf("\\%03o", c); else putchar(c);
    }
    printf("\"\n");
}

static void slaveRead(int s, const char *what) {
    char buf[64] = {0};
    long r = read(s, buf, sizeof buf - 1);
    printf("%s: %ld \"%.*s\"\n", what, r, r > 0 && buf[r - 1] == '\n' ? (int)r - 1 : (int)(r > 0 ? r : 0), buf);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    printf("grantpt %d unlockpt %d\n", grantpt(m), unlockpt(m));
    char *name = ptsname(m);
    unsigned n = 99;
    ioctl(m, TIOCGPTN, &n);
    char expect[32];
    snprintf(expect, sizeof expect, "/dev/pts/%u", n);
    printf("ptsname agrees with TIOCGPTN: %d\n", strcmp(name, expect) == 0);
    int s = open(name, O_RDWR | O_NOCTTY);
    printf("isatty %d %d\n", isatty(m), isatty(s));
    struct termios t;
    tcgetattr(s, &t);
    printf("slave iflag %o oflag %o lflag %o VINTR %d VEOF %d VERASE %d VMIN %d\n", t.c_iflag, t.c_oflag, t.c_lflag,
           t.c_cc[VINTR], t.c_cc[VEOF], t.c_cc[VERASE], t.c_cc[VMIN]);
    tcgetattr(m, &t);
    printf("master iflag %o oflag %o lflag %o\n", t.c_iflag, t.c_oflag, t.c_lflag);

    write(m, "abc\177d\n", 6);
    slaveRead(s, "erase");
    drain(m, "echo of erase");
    write(m, "xyz\025ok\n", 7);
    slaveRead(s, "kill");
    drain(m, "echo of kill");
    write(m, "two\nlines\n", 10);
    slaveRead(s, "first line");
    slaveRead(s, "second line");
    drain(m, "echo");
    write(m, "\004", 1);
    slaveRead(s, "EOF");
    write(s, "out\nput\n", 8);
    drain(m, "output with ONLCR");

    tcgetattr(s, &t);
    cfmakeraw(&t);
    tcsetattr(s, TCSANOW, &t);
    write(m, "q\r", 2);
    usleep(50 * 1000);
    slaveRead(s, "raw");
    write(s, "raw\n", 4);
    drain(m, "raw output");

    struct winsize ws = {24, 80, 0, 0}, got = {0};
    ioctl(m, TIOCSWINSZ, &ws);
    ioctl(s, TIOCGWINSZ, &got);
    printf("winsize %dx%d\n", got.ws_row, got.ws_col);

    // ^C goes to the foreground process group of the terminal's session.
    int ready[2];
    pipe(ready);
    pid_t c = fork();
    if (c == 0) {
        setsid();
        int cs = open(name, O_RDWR);   // a session leader's first terminal becomes its controlling one
        struct termios ct;
        tcgetattr(cs, &ct);
        ct.c_lflag |= ISIG | ICANON;
        tcsetattr(cs, TCSANOW, &ct);
        printf("child: tcgetpgrp is its own group %d, tcgetsid is its session %d\n", tcgetpgrp(cs) == getpgrp(), tcgetsid(cs) == getsid(0));
        write(ready[1], "r", 1);
        char b[8];
        read(cs, b, sizeof b);
        _exit(3);
    }
    char b;
    read(ready[0], &b, 1);
    usleep(50 * 1000);
    tcgetattr(s, &t);
    t.c_lflag |= ISIG;
    tcsetattr(s, TCSANOW, &t);
    write(m, "\003", 1);
    int st;
    waitpid(c, &st, 0);
    printf("child killed by signal %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : -1);

    close(s);
    close(m);
    int m2 = posix_openpt(O_RDWR | O_NOCTTY);
    grantpt(m2);
    errno = 0;
    int locked = open(ptsname(m2), O_RDWR | O_NOCTTY);
    printf("open of a locked slave: %d %s\n", locked, strerror(errno));
    unlockpt(m2);
    int s2 = open(ptsname(m2), O_RDWR | O_NOCTTY);
    close(s2);
    errno = 0;
    char x;
    long r = read(m2, &x, 1);
    printf("master read after the slave closed: %ld %s\n", r, strerror(errno));
    s2 = open(ptsname(m2), O_RDWR | O_NOCTTY);
    close(m2);
    errno = 0;
    r = read(s2, &x, 1);
    printf("slave read after the master closed: %ld %s\n", r, r < 0 ? strerror(errno) : "");
    errno = 0;
    r = write(s2, "x", 1);
    printf("slave write after the master closed: %ld %s\n", r, strerror(errno));
    return 0;
}
