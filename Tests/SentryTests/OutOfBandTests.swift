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
            native.stdout = String(native.stdout[..<unix.lowerBound]) + tail
        }
        let boxed = Harness.sandboxed(platform, Harness.image("oob"))
        #expect(boxed == native, "on \(platform.rawValue)")
    }

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
