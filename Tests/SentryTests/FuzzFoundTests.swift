import Foundation
import Testing

/// What the syscall fuzzer found on the surfaces merged after its first
/// 10^6-call runs (guest ptrace, process_vm_*, the iovec rules they share
/// with readv): images/src/fuzzfound.c on every platform, compared with its
/// native run.
@Suite struct FuzzFoundTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    /// restart: a tracer leaves rax = 2^63 at a syscall-exit stop and
    /// delivers a signal (the restart check trapped negating it, killing
    /// the sentry). pvm: process_vm_readv/writev's vectors as 6.1 reads
    /// them. iovec: readv's total capped at MAX_RW_COUNT, bases past user
    /// space EFAULT before anything moves.
    @Test(arguments: Harness.platforms)
    func behavesAsNative(_ platform: Harness.TestPlatform) {
        for mode in ["restart", "pvm", "iovec"] {
            if mode == "iovec", let why = Harness.nativeKernelLacks("userspace47") { print("skipping fuzzfound iovec on \(platform.rawValue): \(why)"); continue }
            let native = Harness.run(Harness.image("fuzzfound"), [mode])
            #expect(native.status == 0, "fuzzfound \(mode) natively: \(native.stderr)")
            let boxed = Harness.sandboxed(platform, Harness.image("fuzzfound"), [mode])
            #expect(boxed == native, "fuzzfound \(mode) on \(platform.rawValue)")
        }
    }
}
