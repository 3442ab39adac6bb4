import Foundation
import Testing

/// NETLINK_SOCK_DIAG as iproute2's ss reads it: images/src/sockdiag.c sets
/// up TCP, UDP and AF_UNIX sockets and runs ss; the lines are compared with
/// the native run's, sorted (the kernel lists in its hash order) with runs
/// of blanks collapsed (ss pads columns to its widest entry), pids and the
/// unix socket's inode number masked.
@Suite(.serialized) struct SockDiagTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    static let queries: [[String]] = [
        ["-tanH", "( sport = :47011 or dport = :47011 or sport = :47012 )"],
        ["-tlnH", "( sport = :47011 or sport = :47012 )"],
        ["-tlnpH", "sport = :47011"],
        ["-uanH", "sport = :47014"],
        ["-xlH", "src = @sockdiag-test"],
    ]

    static func normalized(_ s: String) -> [String] {
        s.split(separator: "\n").map { line in
            line.replacing(/pid=\d+/, with: "pid=N").replacing(/@sockdiag-test +\d+/, with: "@sockdiag-test INO")
                .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        }.sorted()
    }

    @Test(arguments: Harness.platforms)
    func ssMatchesNative(_ platform: Harness.TestPlatform) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ss") else {
            print("skipped: no /usr/bin/ss (iproute2) on this host")
            return
        }
        // The sandbox's own sock_diag answers whatever the host kernel has;
        // the comparison needs a native ss that works (inet_diag, unix_diag).
        let lacks = Harness.nativeKernelLacks("sockdiag")
        if let lacks { print("comparison skipped: \(lacks); the sandbox's listings are still checked") }
        for q in Self.queries {
            let ours = Harness.sandboxed(platform, Harness.image("sockdiag"), ["ss"] + q)
            #expect(ours.status == 0 && ours.stderr.isEmpty, "ss \(q) on \(platform.rawValue): \(ours.stderr)")
            #expect(!Self.normalized(ours.stdout).isEmpty, "ss \(q) listed nothing on \(platform.rawValue)")
            guard lacks == nil else { continue }
            let native = Harness.run(Harness.image("sockdiag"), ["ss"] + q)
            #expect(native.status == 0, "ss \(q) natively: \(native.stderr)")
            #expect(Self.normalized(ours.stdout) == Self.normalized(native.stdout), "ss \(q) on \(platform.rawValue)")
        }
    }
}
