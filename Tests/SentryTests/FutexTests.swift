import Foundation
import Testing
@testable import Sentry
import Syscalls

/// futex(2) and futex_waitv(2): images/src/pifutex.c, compared with the same
/// program run natively, on every platform.
@Suite(.serialized) struct FutexTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    /// The plain operations' errnos, the PI family's ownership protocol,
    /// glibc's PI and robust mutexes whose owner thread or process dies,
    /// requeue to a PI futex, and futex_waitv.
    @Test(arguments: Harness.platforms)
    func futexesMatchNative(_ platform: Harness.TestPlatform) {
        var native = Harness.run(Harness.image("pifutex"), [])
        #expect(native.status == 0, "pifutex natively: \(native.stderr)")
        // Linux 6.7's futex2 rework checks futex_waitv's val against the
        // futex size (EINVAL); 6.1, the reference, compares its low 32 bits
        // and so waits until the deadline.
        native.stdout = native.stdout.replacingOccurrences(of: "waitv, value with high bits: -1 EINVAL",
                                                           with: "waitv, value with high bits: -1 ETIMEDOUT")
        let boxed = Harness.sandboxed(platform, Harness.image("pifutex"))
        #expect(boxed == native, "pifutex on \(platform.rawValue)")
    }

    /// strace's rendering of the new commands and of futex_waitv's vector.
    @Test func straceNamesTheNewCommands() throws {
        let futex = try #require(linuxAMD64[202]), waitv = try #require(linuxAMD64[449])
        #expect(futex.name == "futex" && waitv.name == "futex_waitv")
        #expect(Decode.futexOps[13] == "FUTEX_LOCK_PI2" && Decode.futexOps[11] == "FUTEX_WAIT_REQUEUE_PI"
                && Decode.futexOps[12] == "FUTEX_CMP_REQUEUE_PI")
        #expect(Decode.flags(130, Decode.futexWaitvFlags) == "FUTEX_32|FUTEX_PRIVATE_FLAG")
    }
}
