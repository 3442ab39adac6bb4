import Foundation
import Testing
@testable import Sentry

/// systrap's syscall-site patching (Arch/SyscallSite.swift, MM/SyscallPatches.swift):
/// images/src/patching.c on every platform, compared with its native run;
/// the whole suite runs with patching on (the default) and with
/// SENTRY_SYSTRAP_PATCH=off.
@Suite(.serialized) struct SyscallPatchTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    /// Whether systrap runs of this suite patch (the sentry's default, or SENTRY_SYSTRAP_PATCH).
    static var patchingOn: Bool { ProcessInfo.processInfo.environment["SENTRY_SYSTRAP_PATCH"] != "off" }

    static let modes = ["threads", "jit", "signals", "fork", "after", "clocks", "clockfilter", "sigmask", "robust"]

    /// Threads racing through a site while it is patched, a JIT writing,
    /// running and rewriting its code, SA_RESTART and EINTR reads
    /// interrupted at a patched site (and the rip the handler sees), fork
    /// and exec of a patched image; an `after` site (`syscall; cmp`) with
    /// its results and flags, a jump into its cmp, threads, a GS base of
    /// the guest's own and interrupted reads; clock reads the stub makes
    /// itself (their errors, threads, timer signals landing in a loop of
    /// them, a forked child's copy-on-write page, a guest filter attached
    /// with TSYNC while a sibling spins on them); rt_sigprocmask calls the
    /// stub answers itself (each form and error, pending signals let
    /// through, handlers, sigsuspend, a sibling's mask in /proc, signals to
    /// a thread and to a process racing a thread that toggles its mask,
    /// fork and exec); set_robust_list heads the stub records itself (its
    /// EINVAL, a spinning thread's head read by another, robust mutexes
    /// released by dying threads and children): all as natively.
    @Test(arguments: Harness.platforms)
    func behavesAsNative(_ platform: Harness.TestPlatform) {
        for mode in Self.modes {
            let native = Harness.run(Harness.image("patching"), [mode])
            #expect(native.status == 0, "patching \(mode) natively: \(native.stderr)")
            let boxed = Harness.sandboxed(platform, Harness.image("patching"), [mode])
            #expect(boxed == native, "patching \(mode) on \(platform.rawValue)")
            if platform.kind == .systrap {
                let other = Harness.sandboxed(platform, Harness.image("patching"), [mode],
                                              extra: ["--systrap-patch", Self.patchingOn ? "off" : "on"])
                #expect(other == native, "patching \(mode) on \(platform.rawValue), patching \(Self.patchingOn ? "off" : "on")")
            }
        }
    }

    /// A tracer sees every call a stub would otherwise answer itself
    /// (GuestSideCalls.swift): a hundred clock reads, a hundred
    /// rt_sigprocmask calls and a hundred set_robust_list calls, each from
    /// one patched site.
    @Test(arguments: Harness.platforms)
    func tracerSeesEveryCallTheStubServes(_ platform: Harness.TestPlatform) {
        for (mode, call, line) in [("clockcount", "clock_gettime", "clock_gettime(CLOCK_MONOTONIC,"),
                                   ("sigmaskcount", "rt_sigprocmask", "rt_sigprocmask(SIG_BLOCK, [URG], NULL, 8)"),
                                   ("robustcount", "set_robust_list", "set_robust_list(HEAD, 24)")] {
            let r = Harness.sandboxed(platform, Harness.image("patching"), [mode], extra: ["--strace", "-e", "trace=\(call)"])
            #expect(r.status == 0, "\(platform.rawValue) \(mode): \(r.stderr.suffix(500))")
            // robustcount prints the head it gives.
            let line = line.replacingOccurrences(of: "HEAD", with: r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            let lines = r.stderr.split(separator: "\n").filter { $0.contains(line) }
            #expect(lines.count == 100, "\(platform.rawValue): \(lines.count) \(call) lines traced")
        }
    }

    /// What a guest reading its own code sees: on systrap with patching, a
    /// hot site's mov is a jmp and its syscall instruction is still there;
    /// elsewhere the file's bytes.
    @Test(arguments: Harness.platforms)
    func guestSeesPatchedBytes(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("patching"), ["code"])
        #expect(native.stdout == "getppid site: original (mov)\nsyscall instruction kept: yes\n")
        for patch in platform.kind == .systrap ? ["on", "off"] : [] {
            let r = Harness.sandboxed(platform, Harness.image("patching"), ["code"], extra: ["--systrap-patch", patch])
            #expect(r.status == 0)
            #expect(r.stdout == (patch == "on" ? "getppid site: patched (jmp)\nsyscall instruction kept: yes\n" : native.stdout),
                    "--systrap-patch \(patch) on \(platform.rawValue)")
        }
        if platform.kind != .systrap {
            let r = Harness.sandboxed(platform, Harness.image("patching"), ["code"])
            #expect(r.stdout == native.stdout, "\(platform.rawValue) never patches")
        }
        // An `after` site: `jmp .+3; int3; jmp entry` where `syscall; cmp` was.
        let nativeAfter = Harness.run(Harness.image("patching"), ["aftercode"])
        #expect(nativeAfter.stdout == "after site: original (syscall; cmp)\n")
        for patch in platform.kind == .systrap ? ["on", "off"] : [""] {
            let r = Harness.sandboxed(platform, Harness.image("patching"), ["aftercode"], extra: patch.isEmpty ? [] : ["--systrap-patch", patch])
            #expect(r.status == 0)
            #expect(r.stdout == (patch == "on" ? "after site: patched (jmp; int3; jmp)\n" : nativeAfter.stdout),
                    "after site, --systrap-patch \(patch) on \(platform.rawValue)")
        }
    }

    /// --strace sees the same calls, arguments and results whether they came
    /// through a patched site or the signal.
    @Test(arguments: Harness.platforms.filter { $0.kind == .systrap })
    func straceIsTheSameWithAndWithoutPatching(_ platform: Harness.TestPlatform) {
        let on = Harness.sandboxed(platform, Harness.image("patching"), ["jit"], extra: ["--strace", "--systrap-patch", "on"])
        let off = Harness.sandboxed(platform, Harness.image("patching"), ["jit"], extra: ["--strace", "--systrap-patch", "off"])
        #expect(on.status == 0 && off.status == 0)
        #expect(on.stdout == off.stdout)
        // getrandom's bytes are the only thing that differs between two runs.
        func lines(_ t: String) -> [Substring] { t.split(separator: "\n").filter { !$0.hasPrefix("getrandom(") } }
        #expect(lines(on.stderr) == lines(off.stderr), "strace on \(platform.rawValue), patching on vs off")
        #expect(on.stderr.contains("mprotect("), "the trace is there")
        // Calls through an `after` site (its patched path) trace as through the signal.
        let afterOn = Harness.sandboxed(platform, Harness.image("patching"), ["aftercode"], extra: ["--strace", "--systrap-patch", "on"])
        let afterOff = Harness.sandboxed(platform, Harness.image("patching"), ["aftercode"], extra: ["--strace", "--systrap-patch", "off"])
        #expect(afterOn.status == 0 && afterOff.status == 0)
        // What it prints differs (it reads its own code): not its write.
        #expect(lines(afterOn.stderr).filter { !$0.hasPrefix("write(1,") } == lines(afterOff.stderr).filter { !$0.hasPrefix("write(1,") },
                "strace of the after site on \(platform.rawValue), patching on vs off")
        #expect(afterOn.stderr.components(separatedBy: "getppid(").count == 11, "ten getppid calls traced")
    }

    /// The site and trampoline encodings, byte for byte.
    @Test func encodings() throws {
        // mov $110, %eax; syscall at 0x401000 (syscall at 0x401005).
        let bytes: [UInt8] = [0x90, 0x90, 0xb8, 110, 0, 0, 0]
        let site = try #require(SyscallSite.recognise(before: bytes, syscallAddress: 0x401005, rax: 110))
        #expect(site.start == 0x401000 && site.original == [0xb8, 110, 0, 0, 0])
        #expect(SyscallSite.recognise(before: bytes, syscallAddress: 0x401005, rax: 39) == nil, "rax must be the mov's")
        // movabs's immediate ending in b8 xx xx xx xx is no site: rax would not be the imm32.
        #expect(SyscallSite.recognise(before: [0x00, 0x00, 0xb8, 1, 0, 0, 0], syscallAddress: 0x401005, rax: 0xb8_0000_0001) == nil)
        let rax = try #require(SyscallSite.recognise(before: [0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff], syscallAddress: 0x401007,
                                                     rax: UInt64.max))
        #expect(rax.start == 0x401000 && rax.original.count == 7)
        // jmp rel32 to an entry below the site.
        #expect(site.patchBytes(entry: 0x3ff040) == [0xe9] + withUnsafeBytes(of: Int32(0x3ff040 - 0x401005).littleEndian) { Array($0) })
        #expect(rax.patchBytes(entry: 0x3ff040).suffix(2) == [0xcc, 0xcc])
        #expect(!site.reaches(0x401005 + (1 << 31) + 64))
        // The entry decodes back to its site.
        let entry: UInt64 = 0x3ff040
        let code = site.trampoline(entry: entry, slot: 0x3ff000)
        #expect(code.count <= 64)
        let d = try #require(SyscallSite.decode(entry: entry, code + [UInt8](repeating: 0, count: 64 - code.count)))
        #expect(d.site == site && d.site.syscallAddress == 0x401005 && d.rax == 110)
    }

    /// `syscall; cmp $imm32, %rax` (glibc's `read`): the 8 bytes become
    /// `jmp .+3; int3; jmp entry`, and the entry replays the cmp.
    @Test func afterSiteEncodings() throws {
        let cmp: [UInt8] = [0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff]
        let site = try #require(SyscallSite.recognise(after: cmp, syscallAddress: 0x401000))
        #expect(site.kind == .after && site.start == 0x401000 && site.syscallAddress == 0x401000 && site.end == 0x401008)
        #expect(site.original == [0x0f, 0x05] + cmp)
        #expect(SyscallSite.recognise(after: [0x48, 0x83, 0xf8, 0xff, 0x90, 0x90], syscallAddress: 0x401000) == nil)
        let entry: UInt64 = 0x3ff040
        #expect(site.patchBytes(entry: entry) == [0xeb, 0x01, 0xcc, 0xe9] + withUnsafeBytes(of: Int32(0x3ff040 - 0x401008).littleEndian) { Array($0) })
        let code = site.trampoline(entry: entry, slot: 0x3ff000)
        #expect(code.count == 64)
        #expect(Array(code[28..<30]) == [0x0f, 0x05], "the fallback's own syscall")
        #expect(Array(code[30..<36]) == cmp, "the replay")
        let d = try #require(SyscallSite.decode(entry: entry, code))
        #expect(d.site == site && d.rax == nil)
        // Stops in the entry: before the call, at the replayed cmp, past it.
        #expect(site.resumeAfterStop(atEntryOffset: 0) == 0x401000)
        #expect(site.resumeAfterStop(atEntryOffset: 30) == 0x401002)
        #expect(site.resumeAfterStop(atEntryOffset: 36) == 0x401008)
        #expect(site.resumeAfterStop(atEntryOffset: 41) == 0x401000)
    }
}
