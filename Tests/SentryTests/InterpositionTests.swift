import Foundation
import Testing
@testable import Sentry

/// The guest's own Syscall User Dispatch and seccomp, emulated by the
/// sentry: C guests that print what they see, compared with their native
/// runs on every platform, and --strace's SIGSYS lines compared with
/// strace's. The host kernel (6.18) answers as 6.1 does for everything
/// these print; the one 6.1 difference left out is SECCOMP_IOCTL_NOTIF_RECV
/// into a buffer that is not zeroed (EINVAL in 6.1, no longer checked since).
@Suite(.serialized) struct InterpositionTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    @Test(arguments: Harness.platforms)
    func syscallUserDispatchMatchesNative(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("sud"), [])
        #expect(native.status == 0, "sud natively: \(native.stderr)")
        let boxed = Harness.sandboxed(platform, Harness.image("sud"))
        #expect(boxed == native, "sud on \(platform.rawValue)")
    }

    @Test(arguments: Harness.platforms)
    func seccompMatchesNative(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("seccomp"), [])
        #expect(native.status == 0, "seccomp natively: \(native.stderr)")
        let boxed = Harness.sandboxed(platform, Harness.image("seccomp"))
        #expect(boxed == native, "seccomp on \(platform.rawValue)")
    }

    /// `--- SIGSYS {...} ---` and `+++ killed by ... +++` as strace prints
    /// them: the guests are static and not PIE, so even the addresses agree.
    @Test func straceShowsSigsysAsStraceDoes() throws {
        let strace = "/usr/bin/strace"
        guard FileManager.default.isExecutableFile(atPath: strace) else {
            print("skipping: no \(strace) to compare with")
            return
        }
        for name in ["sud", "seccomp"] {
            let native = Harness.run(strace, ["-f", "-e", "trace=none", "-e", "signal=SIGSYS", Harness.image(name)])
            let boxed = Harness.run(Harness.sentry, ["run", "--strace", "-e", "trace=none", "-e", "signal=SIGSYS", Harness.image(name)])
            #expect(boxed.status == 0, "\(name) under --strace: \(boxed.stderr)")
            let want = Self.signalLines(native.stderr), got = Self.signalLines(boxed.stderr)
            #expect(want.contains { $0.hasPrefix("--- SIGSYS") }, "native strace shows no SIGSYS for \(name)")
            #expect(got == want, "\(name): --strace's signal lines differ from strace's")
        }
    }

    /// Deliveries and deaths, without the `[pid N]` prefixes (pids differ) and
    /// strace's "(core dumped)" (the sentry writes no core).
    static func signalLines(_ text: String) -> [String] {
        text.split(separator: "\n").map { line -> String in
            var s = Substring(line)
            if s.hasPrefix("[pid "), let end = s.firstIndex(of: "]") { s = s[s.index(after: end)...].drop { $0 == " " } }
            return String(s).replacingOccurrences(of: " (core dumped)", with: "")
        }.filter { $0.hasPrefix("--- SIG") || $0.hasPrefix("+++ killed") }
    }
}
