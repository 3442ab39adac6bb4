import Foundation
import Testing
@testable import Sentry

/// Sockets served by the sentry: C programs from images/ compared with their
/// native runs on every available platform, and --strace's decoding.
@Suite(.serialized) struct SocketTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    /// unixsock: stream/dgram/seqpacket across fork, names, backlog, fd and
    /// credential passing, flags, options, back-pressure, signals, bad input.
    @Test(arguments: Harness.platforms)
    func unixSocketsMatchNative(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("unixsock"), [])
        #expect(native.status == 0, "natively: \(native.stderr)")
        #expect(native.stdout.contains("recvmsg: 1"))
        let boxed = Harness.sandboxed(platform, Harness.image("unixsock"))
        #expect(boxed == native, "on \(platform.rawValue)")
    }

    /// An epoll echo server (edge-triggered, non-blocking accept) with 16 forked clients.
    @Test(arguments: Harness.platforms)
    func epollEchoServerOverUnixSockets(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("sockecho"), [])
        #expect(native.stdout == "accepted 16 closed 16 bytes 5400 failures 0\n", "natively: \(native.stderr)")
        let boxed = Harness.sandboxed(platform, Harness.image("sockecho"))
        #expect(boxed == native, "on \(platform.rawValue)")
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
}
