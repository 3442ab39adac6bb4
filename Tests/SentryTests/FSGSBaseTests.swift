import Foundation
import Testing

/// FS and GS bases (images/src/fsgs.c): arch_prctl and, where user mode has
/// FSGSBASE, the guest's own RDFSBASE/WRFSBASE/RDGSBASE/WRGSBASE agree,
/// across a signal handler, a fork and syscalls at patched sites (one of
/// them an ARCH_SET_GS, which systrap's patched return cannot take),
/// compared with native on every platform, with systrap's patching on and off.
@Suite struct FSGSBaseTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    static var patchingOn: Bool { ProcessInfo.processInfo.environment["SENTRY_SYSTRAP_PATCH"] != "off" }

    @Test(arguments: Harness.platforms)
    func basesMatchNative(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("fsgs"), [])
        #expect(native.status == 0, "fsgs natively: \(native.stderr)")
        let settings: [[String]] = platform.kind == .systrap ? [["--systrap-patch", "on"], ["--systrap-patch", "off"]] : [[]]
        for extra in settings {
            let boxed = Harness.sandboxed(platform, Harness.image("fsgs"), [], extra: extra)
            #expect(boxed == native, "\(platform.rawValue) \(extra)")
        }
        // With patching the sites did take the patched path (the comparison
        // above is then about it), without it they stay as they were.
        if platform.kind == .systrap {
            for (patch, want) in [("on", "patched"), ("off", "original")] {
                let r = Harness.sandboxed(platform, Harness.image("fsgs"), ["sites"], extra: ["--systrap-patch", patch])
                #expect(r.stdout.contains("getppid site: \(want)\narch_prctl site: \(want)\n"), "\(platform.rawValue) patching \(patch): \(r.stdout)")
            }
        }
    }

    /// The one known difference: with patching, systrap's stub keeps its
    /// area in the GS base while the guest's is 0, and the guest's own
    /// RDGSBASE reads it (README, "Syscall patching"). Everywhere else, 0.
    @Test(arguments: Harness.platforms)
    func rdgsbaseOfAZeroBase(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("fsgs"), ["rdgs0"])
        guard native.stdout.hasPrefix("rdgsbase") else {
            print("skipping RDGSBASE of a zero GS base: \(native.stdout)")
            return
        }
        #expect(native.stdout == "rdgsbase with a GS base of 0: 0\n")
        let settings = platform.kind == .systrap ? ["on", "off"] : [""]
        for patch in settings {
            let r = Harness.sandboxed(platform, Harness.image("fsgs"), ["rdgs0"], extra: patch.isEmpty ? [] : ["--systrap-patch", patch])
            let want = patch == "on" ? "rdgsbase with a GS base of 0: other\n" : native.stdout
            #expect(r.stdout == want, "\(platform.rawValue) patching \(patch)")
        }
    }
}
