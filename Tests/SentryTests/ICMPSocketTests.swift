import Foundation
import Testing
@testable import Sentry

/// Raw and ping sockets on the sandbox loopback, and ICMP port unreachable
/// for UDP: images/src/icmp.c compared with its native run, and busybox ping.
@Suite(.serialized) struct ICMPSocketTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    /// A native run in a network namespace of its own (only its `lo`, up):
    /// no other ICMP on the host reaches its raw sockets, and its
    /// ping_group_range can be set without touching the host's. Nil (with
    /// the reason printed) where that is not possible: not root, no
    /// unshare or ip, the tinyconfig VM.
    static func nativeInOwnNetwork(_ args: [String], pingGroupRange: String? = nil) -> Harness.Result? {
        nativeInOwnNetwork(Harness.image("icmp"), args, pingGroupRange: pingGroupRange)
    }

    /// The same for another guest.
    static func nativeInOwnNetwork(_ guest: String, _ args: [String], pingGroupRange: String? = nil) -> Harness.Result? {
        if Harness.inPatchedVM { print("icmp: the VM's tinyconfig kernel is no reference for raw sockets"); return nil }
        guard getuid() == 0 else { print("icmp: the native run needs root (raw sockets, a network namespace)"); return nil }
        guard let unshare = ["/usr/bin/unshare", "/bin/unshare"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
              let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            print("icmp: no unshare or ip here to give the native run a loopback of its own"); return nil
        }
        var script = "\(ip) link set lo up || exit 97; "
        if let r = pingGroupRange { script += "echo '\(r)' > /proc/sys/net/ipv4/ping_group_range || exit 98; " }
        script += "exec \"$0\" \"$@\""
        let r = Harness.run(unshare, ["-n", "/bin/sh", "-c", script, guest] + args)
        if r.status == 97 || r.status == 98 || r.stderr.contains("unshare:") {
            print("icmp: no network namespace for the native run (\(r.stderr))"); return nil
        }
        return r
    }

    /// Raw ICMP sockets (their own echo and the loopback's reply with the
    /// IPv4 header, a bad checksum dropped, ICMP_FILTER, IP_HDRINCL), UDP to
    /// a closed port (ECONNREFUSED once on a connected socket, through recv,
    /// SO_ERROR or the next send; ignored unconnected unless IP_RECVERR; the
    /// port unreachable a raw socket sees), a raw socket's own UDP datagrams
    /// (delivered to an open port, a port unreachable from a closed one that
    /// the raw socket hears connected or with IP_RECVERR, quoted from the IP
    /// header with IP_HDRINCL, whose next send fails with it; the UDP socket
    /// at the source port hears it too), a protocol unreachable, IPv6
    /// headers written by the guest (IPPROTO_RAW, IPV6_HDRINCL) and the
    /// parameter problem an unknown next header draws, a raw socket's TCP
    /// segments to a closed port and the resets they draw (IPv4 and IPv6),
    /// and EPERM/EACCES once privileges are dropped.
    @Test(arguments: Harness.platforms)
    func rawSocketsAndUDPErrorsMatchNative(_ platform: Harness.TestPlatform) {
        let boxed = Harness.sandboxed(platform, Harness.image("icmp"))
        #expect(boxed.status == 0, "\(boxed.stderr)")
        if let native = Self.nativeInOwnNetwork([]) {
            #expect(native.status == 0, "natively: \(native.stderr)")
            #expect(native.stdout.contains("udp recv: -1 ECONNREFUSED"))
            #expect(boxed == native, "on \(platform.rawValue)")
        } else {
            for line in ["raw got: 36 bytes, v4 ihl 20 tot_len ok 1 proto 1 ttl 64 hdrsum ok 1 from 127.0.0.1 port 0 len 16, icmp type 0 code 0 sum ok 1, seq 1 data sentry!!",
                         "reply to bad sum: no", "udp recv: -1 ECONNREFUSED", "udp send 4: -1 ECONNREFUSED", "unconnected SO_ERROR 0",
                         "recverr SO_ERROR ECONNREFUSED", "nobody raw: -1 EPERM", "nobody ping: -1 EACCES",
                         "  raw! from 127.0.0.1 port 4242", "recv: -1 ECONNREFUSED", "hdrincl send 2: -1 ECONNREFUSED",
                         "bound udp socket recv: -1 ECONNREFUSED",
                         "icmp6 sees: 56 bytes, type 4 code 1 word 6, quoted version 6 next header 253 hop limit 33 payload length 8, data sentry!!",
                         "parameter problem: no", "the raw6 253 socket got: 4", "sin6_port 256 send: -1 EINVAL",
                         "  then: 40 bytes, ttl 64 tos 0 df 1 id 0 hdrsum ok 1, from them, flags 0x14 seq 0 ack 3004 doff 5 window 0",
                         "  then: 20 bytes, from them, flags 0x4 seq 7777 ack 0 doff 5 window 0",
                         "  non-blocking poll 1 revents 0x1", "  FIONREAD 0, 120", "  peek: 90", "  drops 5"] {
                #expect(boxed.stdout.contains(line + "\n"), "\(line) on \(platform.rawValue): \(boxed.stdout)")
            }
        }
    }

    /// Ping sockets: echo requests with the socket's identifier and the
    /// checksum filled in, replies with the ICMP header; bind, connect,
    /// identifiers shared under SO_REUSEADDR (on by default), MSG_TRUNC
    /// ignored, IPv6. The native run gets a ping_group_range that holds
    /// root (the host's own is "1 0" on a kernel without Debian's systemd
    /// setting, where no one may open one); the sandbox's is every group.
    @Test(arguments: Harness.platforms)
    func pingSocketsMatchNative(_ platform: Harness.TestPlatform) {
        let boxed = Harness.sandboxed(platform, Harness.image("icmp"), ["ping"])
        #expect(boxed.status == 0, "\(boxed.stderr)")
        #expect(Harness.sandboxed(platform, "/bin/cat", ["/proc/sys/net/ipv4/ping_group_range"]).stdout == "0\t2147483647\n")
        if let native = Self.nativeInOwnNetwork(["ping"], pingGroupRange: "0 2147483647") {
            #expect(native.stdout.contains("ping recv: 16"), "natively: \(native.stdout) \(native.stderr)")
            #expect(boxed == native, "on \(platform.rawValue)")
        } else {
            #expect(boxed.stdout.contains("reply type 0 code 0 id is ours 1 seq 7 sum ok 1 data sentry!! from 127.0.0.1 port 0\n"), "\(boxed.stdout)")
            #expect(boxed.stdout.contains("ping6 reply 16 type 129 seq 5 data sentry!! from ::1\n"), "\(boxed.stdout)")
        }
    }

    /// busybox ping on 127.0.0.1 through a raw socket, its report shaped as
    /// natively; as another user, no CAP_NET_RAW: Debian's busybox 1.35
    /// does not fall back to a ping socket, and says so.
    @Test(arguments: Harness.platforms)
    func busyboxPingOnLoopback(_ platform: Harness.TestPlatform) throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/bin/busybox"), "busybox-static is not installed")
        let r = Harness.sandboxed(platform, "/bin/busybox", ["ping", "-c", "2", "127.0.0.1"])
        #expect(r.status == 0, "on \(platform.rawValue): \(r.stdout) \(r.stderr)")
        #expect(r.stdout.hasPrefix("PING 127.0.0.1 (127.0.0.1): 56 data bytes\n64 bytes from 127.0.0.1: seq=0 ttl=64 time="), "\(r.stdout)")
        #expect(r.stdout.contains("\n64 bytes from 127.0.0.1: seq=1 ttl=64 time="), "\(r.stdout)")
        #expect(r.stdout.contains("\n--- 127.0.0.1 ping statistics ---\n2 packets transmitted, 2 packets received, 0% packet loss\n"), "\(r.stdout)")
        // IPv6 over a raw ICMPv6 socket; its TTL column is RFC 2292's IPV6_2292HOPLIMIT report.
        let six = Harness.sandboxed(platform, "/bin/busybox", ["ping", "-6", "-c", "1", "::1"])
        #expect(six.status == 0, "on \(platform.rawValue): \(six.stdout) \(six.stderr)")
        #expect(six.stdout.hasPrefix("PING ::1 (::1): 56 data bytes\n64 bytes from ::1: seq=0 ttl=64 time="), "\(six.stdout)")
        let user = Harness.sandboxed(platform, "/bin/busybox", ["ping", "-c", "1", "127.0.0.1"], extra: ["--user", "1000:1000", "--strace"])
        #expect(user.status == 1)
        #expect(user.stderr.contains("socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) = -1 EPERM"), "\(user.stderr)")
        #expect(user.stderr.contains("ping: permission denied (are you root?)"), "\(user.stderr)")
    }
}
