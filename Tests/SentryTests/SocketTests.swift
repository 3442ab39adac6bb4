import Foundation
import Testing
@testable import Sentry

/// Sockets served by the sentry: C programs from images/ compared with their
/// native runs on every available platform, and --strace's decoding.
@Suite(.serialized) struct SocketTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    /// unixsock: stream/dgram/seqpacket across fork, names, backlog, fd and
    /// credential passing, flags, options, back-pressure and when a sender
    /// hears of room again (a quarter of SO_SNDBUF), signals, bad input.
    @Test(arguments: Harness.platforms)
    func unixSocketsMatchNative(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("unixsock"), [])
        #expect(native.status == 0, "natively: \(native.stderr)")
        #expect(native.stdout.contains("recvmsg: 1"))
        let boxed = Harness.sandboxed(platform, Harness.image("unixsock"))
        #expect(boxed == native, "on \(platform.rawValue)")
    }

    /// splicesock: splice and sendfile into an AF_UNIX stream socket whose
    /// send buffer is full take pages onto the peer's last skb, as 6.1's
    /// unix_stream_sendpage does (17 fragments at most; a page that needs a
    /// new skb waits, or is EAGAIN on an O_NONBLOCK socket, SPLICE_F_NONBLOCK
    /// or not), and what was taken arrives in order; datagram and seqpacket
    /// sockets take a message a page (sock_no_sendpage). Kernels from 6.5 on
    /// (this host's 6.18) splice through sendmsg, which refuses a full
    /// buffer: their lines for those calls are put in 6.1's form.
    @Test(arguments: Harness.platforms)
    func spliceIntoFullUnixStreamAs61(_ platform: Harness.TestPlatform) {
        var native = Harness.run(Harness.image("splicesock"), [])
        #expect(native.status == 0, "natively: \(native.stderr)")
        for (later, v61) in Self.spliceLines61 { native.stdout = native.stdout.replacingOccurrences(of: later, with: v61) }
        #expect(native.stdout.contains("splice 16 pages: 65536\n"), "natively: \(native.stdout)")
        let boxed = Harness.sandboxed(platform, Harness.image("splicesock"))
        #expect(boxed == native, "on \(platform.rawValue)")
    }

    /// What 6.5+ prints for splicesock's calls into a full buffer, and what 6.1 prints.
    static let spliceLines61 = [
        ("splice 16 pages: -1 EAGAIN\n  left in the pipe: 65536\n", "splice 16 pages: 65536\n  left in the pipe: 0\n"),
        ("splice 16 more, SPLICE_F_NONBLOCK: -1 EAGAIN\n  left in the pipe: 65536\n",
         "splice 16 more, SPLICE_F_NONBLOCK: 4096\n  left in the pipe: 61440\n"),
        ("blocking splice 16 pages: -1 EINTR\n  left in the pipe: 65536\n", "blocking splice 16 pages: 65536\n  left in the pipe: 0\n"),
        ("sendfile 16 pages: -1 EAGAIN\n", "sendfile 16 pages: 65536\n"),
        // 6.5+ sends a datagram or seqpacket splice's pages as one message; 6.1's sock_no_sendpage one each.
        ("  messages: 12288\n", "  messages: 4096 4096 4096\n"),
    ]

    /// rcvlowat: SO_RCVLOWAT on TCP and AF_UNIX streams: set and read back,
    /// blocking reads that wait for the mark's worth (a TCP reader asleep
    /// wakes for the mark's worth of new bytes), poll's POLLIN (TCP's at the
    /// mark, AF_UNIX's at any byte), end of file ending a read short.
    @Test(arguments: Harness.platforms)
    func receiveLowWaterMatchesNative(_ platform: Harness.TestPlatform) {
        Self.matchNativeOverTCP("rcvlowat", on: platform, nativeSays: "blocking read: 20\n  got 1234567890abcdefghij\n")
    }

    /// A guest that needs the host's TCP loopback natively, compared with
    /// its sandboxed run (skipped, saying so, where that loopback carries no TCP).
    static func matchNativeOverTCP(_ image: String, on platform: Harness.TestPlatform, nativeSays line: String) {
        guard Harness.hostLoopbackWorks else { print("skipping \(image)'s native comparison: the host's loopback carries no TCP"); return }
        let native = Harness.run(Harness.image(image), [])
        #expect(native.status == 0, "natively: \(native.stderr)")
        #expect(native.stdout.contains(line), "natively: \(native.stdout)")
        let boxed = Harness.sandboxed(platform, Harness.image(image))
        #expect(boxed == native, "\(image) on \(platform.rawValue)")
    }

    /// tcpbacklog: a non-blocking TCP connect to a full accept queue says
    /// EINPROGRESS and waits in SYN_SENT (no POLLOUT, EALREADY, SO_ERROR 0)
    /// until an accept makes room; a listener that closes refuses it.
    @Test(arguments: Harness.platforms)
    func connectToFullBacklogMatchesNative(_ platform: Harness.TestPlatform) {
        Self.matchNativeOverTCP("tcpbacklog", on: platform, nativeSays: "connect 2 again: -1 EALREADY\n")
    }

    /// An epoll echo server (edge-triggered, non-blocking accept) with 64 forked clients.
    @Test(arguments: Harness.platforms)
    func epollEchoServerOverUnixSockets(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("sockecho"), [])
        #expect(native.stdout == "accepted 64 closed 64 bytes 22200 failures 0\n", "natively: \(native.stderr)")
        let boxed = Harness.sandboxed(platform, Harness.image("sockecho"))
        #expect(boxed == native, "on \(platform.rawValue)")
    }

    /// inetsock: TCP and UDP on the sandbox loopback (ports, EADDRINUSE and
    /// SO_REUSEADDR, refusal, non-blocking connect, half-close, reset, options);
    /// inet6sock: ::1, dual-stack listeners, IPV6_V6ONLY.
    @Test(arguments: Harness.platforms)
    func loopbackInetMatchesNative(_ platform: Harness.TestPlatform) {
        guard Harness.hostLoopbackWorks else { print("skipping inetsock's native comparison: the host's loopback carries no TCP"); return }
        let native = Harness.run(Harness.image("inetsock"), [])
        #expect(native.status == 0, "natively: \(native.stderr)")
        #expect(native.stdout.contains("read after reset: -1 ECONNRESET"))
        let boxed = Harness.sandboxed(platform, Harness.image("inetsock"))
        #expect(boxed == native, "on \(platform.rawValue)")
        let source = Harness.run(Harness.image("srcaddr"), [])
        #expect(source.stdout.contains("from 127.0.0.1"), "natively: \(source)")
        #expect(Harness.sandboxed(platform, Harness.image("srcaddr")) == source, "srcaddr on \(platform.rawValue)")
        let shut = Harness.run(Harness.image("shutrd"), [])
        #expect(shut.stdout.contains("tcp: write after the peer's SHUT_RD: 5"), "natively: \(shut)")
        #expect(Harness.sandboxed(platform, Harness.image("shutrd")) == shut, "shutrd on \(platform.rawValue)")
        let native6 = Harness.run(Harness.image("inet6sock"), [])
        if native6.stdout.hasPrefix("bind ::1: 0\n") {   // the host has IPv6 on its loopback
            #expect(Harness.sandboxed(platform, Harness.image("inet6sock")) == native6, "inet6sock on \(platform.rawValue)")
        } else {
            print("inet6sock: the host has no ::1, so no native run to compare with")
            #expect(Harness.sandboxed(platform, Harness.image("inet6sock")).stdout.contains("accepted peer ::ffff:127.0.0.1 len 28"))
        }
        let echo = Harness.sandboxed(platform, Harness.image("sockecho"), ["inet"])
        #expect(echo.stdout == "accepted 64 closed 64 bytes 22200 failures 0\n", "\(echo.stderr)")
    }

    /// sockqueues: SIOCOUTQ and SIOCOUTQNSD against the peer's SIOCINQ. TCP
    /// counts only what the peer's window left unsent, not bytes delivered
    /// and unread; AF_UNIX counts the send buffer in use, UDP nothing once
    /// delivered; a listener's answers. The lines are relations 6.1 and
    /// later kernels share, not window sizes.
    @Test(arguments: Harness.platforms)
    func sendQueuesMatchNative(_ platform: Harness.TestPlatform) {
        guard Harness.hostLoopbackWorks else { print("skipping sockqueues' native comparison: the host's loopback carries no TCP"); return }
        let native = Harness.run(Harness.image("sockqueues"), [])
        #expect(native.status == 0, "natively: \(native.stderr)")
        #expect(native.stdout.contains("1000 unread at the peer: outq 0 nsd 0 peer inq 1000\n"), "natively: \(native.stdout)")
        let boxed = Harness.sandboxed(platform, Harness.image("sockqueues"))
        #expect(boxed == native, "on \(platform.rawValue)")
    }

    /// fasync sockets: which O_ASYNC signals sockets send (sk_wake_async's
    /// points): POLL_IN per arrival but none to a reader asleep in a stream
    /// receive, POLL_OUT once to a writer that found its buffer full (none
    /// to one that slept for room), POLL_IN or POLL_HUP for a peer's
    /// shutdown and close, POLL_ERR for a reset, POLL_OUT for a finished
    /// connect, POLL_PRI for an urgent byte, and nothing for a read; counted
    /// with F_SETSIG's queued signals. The waits for a signal that may come
    /// stretch under emulation.
    @Test(arguments: Harness.platforms)
    func asyncSignalsMatchNative(_ platform: Harness.TestPlatform) {
        guard Harness.hostLoopbackWorks else { print("skipping fasync's socket comparison: the host's loopback carries no TCP"); return }
        ProcessTests.compareAsyncCounts("sockets", on: platform, nativeShows: "  drained (w had found it full): w:OUT\n")
    }

    /// busybox nc between two guest processes over 127.0.0.1.
    @Test(arguments: Harness.platforms)
    func busyboxNetcatOverLoopback(_ platform: Harness.TestPlatform) throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/bin/busybox"), "busybox-static is not installed")
        // The client retries until the listener is up (a refused connect sends
        // nothing); the listener's stdin stays open for 2 s, since busybox nc
        // may stop at its stdin's EOF before reading the connection.
        let script = "busybox sleep 2 | busybox nc -l -p 8080 > /tmp/got & pid=$!; "
            + "for i in $(busybox seq 100); do echo hi there | busybox nc 127.0.0.1 8080 2>/dev/null && break; busybox sleep 0.05; done; "
            + "wait $pid; busybox cat /tmp/got"
        let r = Harness.sandboxed(platform, "/bin/busybox", ["sh", "-c", script])
        #expect(r.stdout == "hi there\n" && r.status == 0, "\(r.stderr)")
    }

    /// busybox httpd serving a tmpfs directory to busybox wget, two guest processes over 127.0.0.1.
    @Test(arguments: Harness.platforms)
    func busyboxHttpdServesWget(_ platform: Harness.TestPlatform) throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/bin/busybox"), "busybox-static is not installed")
        let script = "busybox mkdir /tmp/www && echo hello from httpd > /tmp/www/index.html && "
            + "{ busybox httpd -f -p 127.0.0.1:8081 -h /tmp/www & pid=$!; }; "
            + "for i in $(busybox seq 100); do busybox wget -q -O- http://127.0.0.1:8081/index.html 2>/dev/null && break; busybox sleep 0.05; done; "
            + "kill $pid; wait $pid"
        let r = Harness.sandboxed(platform, "/bin/busybox", ["sh", "-c", script])
        #expect(r.stdout == "hello from httpd\n", "\(r.stderr)")
    }

    /// Static Go: net/http server and client over 127.0.0.1 in one program,
    /// a client in a child process, then net.Listen("unix") and
    /// net.Dial("unix"), then net.Interfaces' lo.
    @Test(arguments: Harness.platforms)
    func goNetHTTPOverLoopback(_ platform: Harness.TestPlatform) throws {
        guard Harness.run("/bin/sh", ["-c", "command -v go"]).status == 0 else {
            print("skipping go-httploop: go is not installed (apt-get install golang-go)")
            return
        }
        let exe = Harness.image("go-httploop")
        try #require(FileManager.default.isExecutableFile(atPath: exe), "\(exe) was not built")
        let boxed = Harness.sandboxed(platform, exe)
        // The sandbox's lo always has ::1; compare that line only where the host's has it too.
        #expect(boxed.stdout.hasSuffix("1 lo 65536 up|loopback [127.0.0.1/8 ::1/128]\n"), "\(boxed.stdout)\(boxed.stderr)")
        guard Harness.hostLoopbackWorks else { print("skipping go-httploop's native comparison: the host's loopback carries no TCP"); return }
        let native = Harness.run(exe, [])
        #expect(native.status == 0 && native.stdout.contains("echo: over a unix socket\n"), "natively: \(native.stdout)\(native.stderr)")
        if native.stdout.contains("::1/128") {
            #expect(boxed == native, "on \(platform.rawValue)")
        } else {
            #expect(boxed.stdout.hasPrefix(native.stdout.split(separator: "\n").dropLast().joined(separator: "\n")))
        }
    }

    /// Sockets queued inside themselves are never freed; how many descriptors
    /// may be in flight is bounded (RLIMIT_NOFILE), so such a guest cannot grow
    /// the sentry without end.
    @Test func descriptorsInFlightAreBounded() {
        let r = Harness.sandboxed(Harness.platforms[0], "/bin/busybox", ["sh", "-c", "ulimit -n 1024; exec \(Harness.image("unixsock")) cycles"])
        #expect(r.stdout == "stopped after 1025: ETOOMANYREFS\n", "\(r.stdout)\(r.stderr)")
    }

    /// A socket's name is a node in the guest's tree: EROFS on the read-only
    /// root, a node in tmpfs, and on a writable bind a node the host sees as
    /// a plain socket inode while the socket itself stays in the sentry.
    @Test func bindFollowsTheMountRules() throws {
        let ro = Harness.sandboxed(Harness.platforms[0], Harness.image("unixsock"), ["bind", "/unixsock-test-node"])
        #expect(ro.stdout.hasPrefix("bind: -1 EROFS\n"), "\(ro.stdout)\(ro.stderr)")
        let tmp = Harness.sandboxed(Harness.platforms[0], Harness.image("unixsock"), ["bind", "/tmp/node"])
        #expect(tmp.stdout == "bind: 0\nlisten: 0\nconnect: 0\nread: 2\nstat: 0\nsocket node 1\n", "\(tmp.stderr)")
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let rw = Harness.sandboxed(Harness.platforms[0], Harness.image("unixsock"), ["bind", "/work/node"], extra: ["--bind", "\(dir.path):/work:rw"])
        #expect(rw.stdout == tmp.stdout, "\(rw.stderr)")
        var st = Glibc.stat()
        #expect(lstat(dir.appendingPathComponent("node").path, &st) == 0 && st.st_mode & S_IFMT == S_IFSOCK)
    }

    /// --strace decodes socket calls as strace does.
    @Test func straceDecodesSocketCalls() {
        let r = Harness.sandboxed(Harness.platforms[0], Harness.image("inetsock"), extra: ["--strace"])
        let trace = r.stderr
        #expect(trace.contains("socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3"), "\(trace)")
        #expect(trace.contains("bind(3, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = 0"))
        #expect(trace.contains("getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, [1], [4]) = 0"))
        #expect(trace.contains("connect(5, {sa_family=AF_INET, sin_port=htons("))
        #expect(trace.contains("setsockopt(5, SOL_TCP, TCP_NODELAY, [1], 4) = 0"))
        #expect(trace.contains("socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK, IPPROTO_IP) = "))
        #expect(trace.contains("= -1 EINPROGRESS (Operation now in progress)"))
        let u = Harness.sandboxed(Harness.platforms[0], Harness.image("unixsock"), extra: ["--strace"])
        #expect(u.stderr.contains("socketpair(AF_UNIX, SOCK_STREAM, 0, ["))
        let six = Harness.sandboxed(Harness.platforms[0], Harness.image("inet6sock"), extra: ["--strace"])
        #expect(six.stderr.contains("bind(3, {sa_family=AF_INET6, sin6_port=htons(0), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"::1\", &sin6_addr), sin6_scope_id=0}, 28) = 0"), "\(six.stderr)")
        #expect(u.stderr.contains("bind(7, {sa_family=AF_UNIX, sun_path=@\"sentry-test-abstract\"}, 23) = 0"))
        #expect(u.stderr.contains("msg_iov=[{iov_base=\"th\", iov_len=2}], msg_iovlen=1, msg_controllen=0, msg_flags=MSG_TRUNC}, 0) = 2"))
    }

    // MARK: --network

    /// --network=host: a guest client reaches a server on the host's
    /// 127.0.0.1; with the default (--network=none) the same address is the
    /// sandbox's own loopback, where nothing listens: ECONNREFUSED.
    @Test(arguments: Harness.platforms)
    func hostNetworkReachesAHostServer(_ platform: Harness.TestPlatform) throws {
        guard Harness.hostLoopbackWorks else { print("skipping --network=host: the host's loopback carries no TCP"); return }
        let server = try #require(HostLoopbackServer(), "no socket on the host's loopback")
        let done = server.serve(clients: 1)
        let host = Harness.sandboxed(platform, Harness.image("hostnet"), ["client", String(server.port)], extra: ["--network=host"])
        #expect(host.stdout == "setsockopt TCP_NODELAY: 0\nTCP_NODELAY: 1\nconnect: 0\npeer is the server: 1\nsend: 5\npoll: 1\n"
                + "got: pong ping\nSO_ERROR: 0\n", "on \(platform.rawValue): \(host.stderr)")
        #expect(done.wait(timeout: .now() + 20) == .success)
        let boxed = Harness.sandboxed(platform, Harness.image("hostnet"), ["client", String(server.port)])
        #expect(boxed.stdout.hasSuffix("connect: -1 ECONNREFUSED\n"), "on \(platform.rawValue): \(boxed.stdout)\(boxed.stderr)")
    }

    /// --network=host: a guest server on the host's 127.0.0.1 accepts a host
    /// client, and epoll waits on its connection.
    @Test(arguments: Harness.platforms)
    func hostNetworkGuestServerAcceptsAHostClient(_ platform: Harness.TestPlatform) throws {
        guard Harness.hostLoopbackWorks else { print("skipping --network=host: the host's loopback carries no TCP"); return }
        let port = try #require(HostLoopbackServer.freePort(), "no free port on the host's loopback")
        let guest = LockedBox<Harness.Result?>(nil)
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            guest.value = Harness.sandboxed(platform, Harness.image("hostnet"), ["server", String(port)], extra: ["--network=host"])
            finished.signal()
        }
        let reply = HostLoopbackServer.exchange(port: port, "ping\n")
        #expect(finished.wait(timeout: .now() + 30) == .success)
        #expect(reply == "pong\n")
        #expect(guest.value?.stdout == "bind: 0\nlisten: 0\nbound to the port: 1\naccept: 0\nepoll_wait: 1\ngot: ping\nwrite: 5\nread at end: 0\n",
                "on \(platform.rawValue): \(guest.value?.stderr ?? "")")
    }

    /// --publish: a host client on the host's 127.0.0.1 reaches a guest
    /// server on the sandbox loopback (which the guest sees as an ordinary
    /// loopback client); the host client's close is the guest's EOF.
    @Test(arguments: Harness.platforms)
    func publishedPortReachesAGuestServer(_ platform: Harness.TestPlatform) throws {
        guard Harness.hostLoopbackWorks else { print("skipping --publish: the host's loopback carries no TCP"); return }
        let port = try #require(HostLoopbackServer.freePort(), "no free port on the host's loopback")
        let guest = LockedBox<Harness.Result?>(nil)
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            guest.value = Harness.sandboxed(platform, Harness.image("hostnet"), ["server", "8080"], extra: ["--publish", "127.0.0.1:\(port):8080"])
            finished.signal()
        }
        // Until the guest listens, the sentry resets what it accepts on the host port.
        var reply: String?
        for _ in 0..<100 where reply == nil {
            reply = HostLoopbackServer.exchange(port: port, "ping\n")
            if reply == nil { usleep(100_000) }
        }
        #expect(finished.wait(timeout: .now() + 30) == .success)
        #expect(reply == "pong\n")
        #expect(guest.value?.stdout == "bind: 0\nlisten: 0\nbound to the port: 1\naccept: 0\nepoll_wait: 1\ngot: ping\nwrite: 5\nread at end: 0\n",
                "on \(platform.rawValue): \(guest.value?.stderr ?? "")")
    }

    /// --publish of a port the host already uses is a usage error before the guest starts.
    @Test func publishingATakenPortFails() throws {
        guard Harness.hostLoopbackWorks else { print("skipping --publish: the host's loopback carries no TCP"); return }
        let server = try #require(HostLoopbackServer(), "no socket on the host's loopback")
        let platform = try #require(Harness.platforms.first, "no platform here")
        let r = Harness.sandboxed(platform, Harness.image("hello"), [], extra: ["--publish", "127.0.0.1:\(server.port):80"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("--publish 127.0.0.1:\(server.port): Address already in use"), "\(r.stderr)")
    }

    /// Blocking socket calls and signals, on host sockets and on the sandbox
    /// loopback alike: EINTR without SA_RESTART or under SO_RCVTIMEO, a
    /// restart with SA_RESTART, timeouts (inherited by accepted sockets),
    /// non-blocking connect, EFAULT, EPIPE after a reset; as natively.
    @Test(arguments: Harness.platforms)
    func blockingCallsAndSignalsMatchNative(_ platform: Harness.TestPlatform) {
        guard Harness.hostLoopbackWorks else { print("skipping hostnet intr: the host's loopback carries no TCP"); return }
        let native = Harness.run(Harness.image("hostnet"), ["intr"])
        #expect(native.stdout.contains("recv, restarted: 4\n") && native.stdout.hasSuffix("alarms: 3\n"), "natively: \(native.stdout)\(native.stderr)")
        for mode in ["--network=host", "--network=none"] {
            let boxed = Harness.sandboxed(platform, Harness.image("hostnet"), ["intr"], extra: [mode])
            #expect(boxed == native, "\(mode) on \(platform.rawValue)")
        }
    }

    /// SOL_SOCKET options every socket records (images/src/sockopts.c):
    /// fresh values on five kinds of socket, sk_setsockopt's capability and
    /// range checks as root and as nobody, IP_TOS setting SO_PRIORITY,
    /// SO_BUF_LOCK, SO_BINDTODEVICE/SO_BINDTOIFINDEX (bound elsewhere than
    /// lo, a socket hears nothing), SO_PEERNAME, SO_SELECT_ERR_QUEUE's
    /// POLLPRI, cookies; compared with a native run in a network namespace
    /// of its own. The line about SO_BUSY_POLL as nobody is 6.1's (later
    /// kernels let anyone raise it) and is checked, not compared.
    @Test(arguments: Harness.platforms)
    func socketLevelOptionsMatchNative(_ platform: Harness.TestPlatform) {
        let boxed = Harness.sandboxed(platform, Harness.image("sockopts"))
        #expect(boxed.status == 0, "\(boxed.stderr)")
        #expect(boxed.stdout.contains("  6.1 only: set SO_BUSY_POLL 10: EPERM\n"), "\(boxed.stdout)")
        // Also checked, not compared: a TCP segment's stamp, which Linux gives
        // only once its deferred switch for stamping has flipped.
        #expect(boxed.stdout.contains("  natively timed: tcp: 3 bytes, controllen 32, level 1 type 29 len 32 in window 1\n"), "\(boxed.stdout)")
        func comparable(_ s: String) -> String {
            s.split(separator: "\n").filter { !$0.contains("6.1 only") && !$0.contains("natively timed") }.joined(separator: "\n")
        }
        if let native = ICMPSocketTests.nativeInOwnNetwork(Harness.image("sockopts"), []) {
            #expect(native.status == 0, "natively: \(native.stderr)")
            #expect(comparable(boxed.stdout) == comparable(native.stdout), "on \(platform.rawValue)")
        } else {
            for line in ["  SO_PRIORITY after IP_TOS: len 4 val 6", "  udp: 5 bytes, controllen 32, level 1 type 35 len 32 in window 1",
                         "  dropped some: 1; a count before the drops: 0; the late one (4 bytes) counts the drops: 1", "  set SO_BUF_LOCK 4: EINVAL", "  get: 0 len 3 \"lo\"",
                         "  bound to 5: recv -1 EAGAIN", "  connected udp, 128 bytes: EINVAL", "  with: revents 0xa",
                         "cookies: nonzero 1 stable 1 distinct 1, short buffer EINVAL", "  set SO_DEBUG 1: EACCES"] {
                #expect(boxed.stdout.contains(line + "\n"), "\(line) on \(platform.rawValue): \(boxed.stdout)")
            }
        }
    }

    /// /proc/net lists the sandbox's own sockets as Linux formats them: a
    /// TCP listener and its connection, a bound UDP socket, an abstract
    /// unix listener, lo; the native run agrees on every line asked about.
    @Test(arguments: Harness.platforms)
    func procNetListsTheSandboxSockets(_ platform: Harness.TestPlatform) {
        guard Harness.hostLoopbackWorks else { print("skipping /proc/net's native comparison: the host's loopback carries no TCP"); return }
        let native = Harness.run(Harness.image("hostnet"), ["proc"])
        #expect(native.stdout == "tcp listener: 1\ntcp connection: 1\ntcp header: 1\nudp socket: 1\nunix listener: 1\nunix header: 1\n"
                + "dev lo: 1\ntcp6 header: 1\nudp6 header: 1\n", "natively: \(native.stderr)")
        let boxed = Harness.sandboxed(platform, Harness.image("hostnet"), ["proc"])
        #expect(boxed == native, "on \(platform.rawValue)")
    }
}

/// A value shared with a background queue.
final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ v: T) { stored = v }
    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// A TCP server on the host's 127.0.0.1 (an ephemeral port; never another
/// address) that answers each client's message with "pong " and the message.
/// Every wait is bounded.
final class HostLoopbackServer: @unchecked Sendable {
    let fd: Int32
    let port: UInt16

    init?() {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        guard let p = Self.bindLoopback(fd, port: 0), listen(fd, 4) == 0 else { close(fd); return nil }
        port = p
    }
    deinit { close(fd) }

    /// Binds `fd` to 127.0.0.1:port and says which port it got.
    static func bindLoopback(_ fd: Int32, port: UInt16) -> UInt16? {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let ok = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { return nil }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return UInt16(bigEndian: a.sin_port)
    }

    /// A port on 127.0.0.1 free a moment ago.
    static func freePort() -> UInt16? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        return bindLoopback(fd, port: 0)
    }

    static func waitFor(_ fd: Int32, _ events: Int16, ms: Int32) -> Bool {
        var p = pollfd(fd: fd, events: events, revents: 0)
        return poll(&p, 1, ms) == 1
    }

    /// Serves `clients` clients on a background queue; the group is left when done.
    func serve(clients: Int) -> DispatchGroup {
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            for _ in 0..<clients {
                guard Self.waitFor(self.fd, Int16(POLLIN), ms: 20_000) else { break }
                let c = accept(self.fd, nil, nil)
                guard c >= 0 else { break }
                var buf = [UInt8](repeating: 0, count: 256)
                if Self.waitFor(c, Int16(POLLIN), ms: 10_000) {
                    let n = recv(c, &buf, buf.count, 0)
                    if n > 0 {
                        let reply = Array("pong ".utf8) + buf[..<n]
                        _ = send(c, reply, reply.count, Int32(MSG_NOSIGNAL))
                    }
                }
                close(c)
            }
            group.leave()
        }
        return group
    }

    /// Connects to 127.0.0.1:port (retrying while the guest starts to
    /// listen, at most 10 s), sends `message`, returns the reply.
    static func exchange(port: UInt16, _ message: String) -> String? {
        for _ in 0..<200 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            defer { close(fd) }
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if r != 0 { usleep(50_000); continue }
            let bytes = Array(message.utf8)
            guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count, waitFor(fd, Int16(POLLIN), ms: 10_000) else { return nil }
            var buf = [UInt8](repeating: 0, count: 256)
            let n = recv(fd, &buf, buf.count, 0)
            return n > 0 ? String(decoding: buf[..<n], as: UTF8.self) : nil
        }
        return nil
    }
}
