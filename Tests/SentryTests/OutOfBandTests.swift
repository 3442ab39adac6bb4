import Foundation
import Testing

/// Out-of-band data (MSG_OOB) on the sandbox's TCP loopback and AF_UNIX
/// stream pairs, and the F_SETOWN owners that SIGURG goes to.
@Suite struct OutOfBandTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    /// images/src/oob.c natively and in the sandbox: the urgent byte, reads
    /// that stop at the mark, SIOCATMARK, POLLPRI in poll/select/epoll,
    /// SIGURG to a process, a thread and a group, SO_OOBINLINE, a second
    /// urgent byte, and the errors.
    @Test(arguments: Harness.platforms)
    func outOfBandMatchesNative(_ platform: Harness.TestPlatform) {
        guard Harness.hostLoopbackWorks else { print("skipping oob's native comparison: the host's loopback carries no TCP"); return }
        var native = Harness.run(Harness.image("oob"), [])
        #expect(native.status == 0, "natively: \(native.stderr)")
        #expect(native.stdout.contains("  read OOB: 1 \"c\" MSG_OOB\n"))
        // Linux 6.1 is the reference: later kernels' SIOCATMARK on AF_UNIX (this
        // host's 6.18) also says 1 at an urgent byte already read with MSG_OOB,
        // where 6.1's unix_ioctl looks only for an unread oob_skb at the front.
        // Those two AF_UNIX lines are 6.1's here.
        if let unix = native.stdout.range(of: "== AF_UNIX stream\n") {
            var tail = String(native.stdout[unix.lowerBound...])
            for line in ["after OOB", "then"] {
                tail = tail.replacingOccurrences(of: "  \(line) atmark: 1 (sockatmark 1)\n", with: "  \(line) atmark: 0 (sockatmark 0)\n")
            }
            // 6.1 keeps every consumed oob_skb in the queue, empty, until a read
            // reaches it: the read stops there, or drops it and says EAGAIN when
            // it read nothing and may not wait (manage_oob). Later kernels
            // (6.18 here) drop it silently, and SIOCATMARK looks past it. These
            // sections are what 6.1's unix_stream_read_generic gives.
            if let from = tail.range(of: "consumed urgent bytes stay in the queue\n"),
               let to = tail.range(of: "MSG_WAITALL stops at the mark\n") {
                tail.replaceSubrange(from.lowerBound..<to.lowerBound, with: Self.consumedOOB61)
            }
            native.stdout = String(native.stdout[..<unix.lowerBound]) + tail
        }
        let boxed = Harness.sandboxed(platform, Harness.image("oob"))
        #expect(boxed == native, "on \(platform.rawValue)")
    }

    /// oob.c's AF_UNIX sections on consumed urgent bytes, as 6.1 runs them.
    static let consumedOOB61 = """
        consumed urgent bytes stay in the queue
          send "x" OOB: 1
          read OOB: 1 "x" MSG_OOB
          send "1": 1
          send "y" OOB: 1
          read OOB: 1 "y" MSG_OOB
          send "2": 1
          two taken: poll IN select read epoll IN
          read 60: -1 EAGAIN
          read 60: 1 "1"
          read 60: 1 "2"
          read 60: -1 EAGAIN
        a consumed urgent byte before a new one
          send "a" OOB: 1
          read OOB: 1 "a" MSG_OOB
          send "b" OOB: 1
          send "cd": 2
          then atmark: 0 (sockatmark 0)
          read 60: -1 EAGAIN
          read 60: 2 "cd"
          read 60: -1 EAGAIN
        taking the next urgent byte drops the consumed one before it
          send "e" OOB: 1
          read OOB: 1 "e" MSG_OOB
          send "f" OOB: 1
          read OOB: 1 "f" MSG_OOB
          send "g": 1
          read 60: -1 EAGAIN
          read 60: 1 "g"
          read 60: -1 EAGAIN

        """

    /// --strace names MSG_OOB, SIOCATMARK, the owner requests and MSG_OOB in a recvmsg's msg_flags.
    @Test func straceNamesOutOfBand() {
        let r = Harness.sandboxed(Harness.platforms[0], Harness.image("oob"), extra: ["--strace"])
        #expect(r.stderr.contains("sendto(4, \"abc\", 3, MSG_OOB, NULL, 0)"), "\(r.stderr.prefix(2000))")
        #expect(r.stderr.contains(", SIOCATMARK, "))
        #expect(r.stderr.contains(", SIOCSPGRP, "))
        #expect(r.stderr.contains(", F_SETOWN_EX, "))
        #expect(r.stderr.contains("msg_flags=MSG_OOB}, MSG_OOB)"))
    }
}
