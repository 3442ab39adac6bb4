import Foundation
import Testing
@testable import Sentry

/// rseq(2): images/src/rseq.c, compared with the same program run natively,
/// on every platform; once with glibc's own registration at start-up, once
/// with it turned off (the program registers itself).
@Suite(.serialized) struct RseqTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    @Test(arguments: Harness.platforms)
    func glibcRegistrationAndAbortsMatchNative(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("rseq"), [])
        #expect(native.status == 0, "rseq natively: \(native.stderr)")
        #expect(native.stdout.contains("registered: 1"), "glibc registers rseq natively")
        let boxed = Harness.sandboxed(platform, Harness.image("rseq"))
        #expect(boxed == native, "rseq on \(platform.rawValue)")
    }

    @Test(arguments: Harness.platforms)
    func ownRegistrationMatchesNative(_ platform: Harness.TestPlatform) {
        let env = ["GLIBC_TUNABLES": "glibc.pthread.rseq=0"]
        var native = Harness.run(Harness.image("rseq"), ["own"], env: env)
        #expect(native.status == 0, "rseq own natively: \(native.stderr)")
        // Linux 6.3 made struct rseq extensible (node_id, mm_cid): 6.1, the
        // reference, takes only its original 32 bytes.
        native.stdout = native.stdout.replacingOccurrences(of: "register, length 64: 0", with: "register, length 64: -1 EINVAL")
        let boxed = Harness.sandboxed(platform, Harness.image("rseq"), ["own"], extra: ["--env", "GLIBC_TUNABLES=glibc.pthread.rseq=0"])
        #expect(boxed == native, "rseq own on \(platform.rawValue)")
    }

    /// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) aborts the critical
    /// section another thread spins in (which makes no syscall, so nothing
    /// else brings it back to the sentry), as Linux's IPIs do.
    @Test(arguments: Harness.platforms)
    func membarrierAbortsOtherThreadsSections(_ platform: Harness.TestPlatform) {
        modeMatchesNative("membarrier", printing: "section: yes", on: platform)
    }

    /// A thread whose exit(2) its own seccomp filter refuses goes on with
    /// its registration live (systrap's stub drops the host registration
    /// as it reports an exit trap, and makes it again if the task goes on):
    /// cpu_id follows the thread as it is moved from CPU to CPU.
    @Test(arguments: Harness.platforms)
    func refusedExitKeepsRegistration(_ platform: Harness.TestPlatform) {
        modeMatchesNative("exitrefused", printing: "exit(42): -1 EPERM", on: platform)
    }

    /// `rseq MODE` natively, which must succeed printing `want`, and on
    /// `platform`: the same output.
    private func modeMatchesNative(_ mode: String, printing want: String, on platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("rseq"), [mode])
        #expect(native.status == 0 && native.stdout.contains(want), "natively: \(native.stdout) \(native.stderr)")
        let boxed = Harness.sandboxed(platform, Harness.image("rseq"), [mode])
        #expect(boxed == native, "rseq \(mode) on \(platform.rawValue)")
    }

    /// Host preemption and migration (images/src/rseqcpu.c): per-CPU
    /// counters incremented in critical sections by more threads than CPUs,
    /// which only the host's aborts keep exact (the area is registered with
    /// the host for each task's stub); getcpu agreeing with cpu_id; a fork
    /// while they run, whose child keeps its registration; unregistration
    /// and registration again; exec dropping it. The abort counts depend on
    /// load and are printed, not asserted.
    @Test(arguments: Harness.platforms)
    func perCPUCountersAreExact(_ platform: Harness.TestPlatform) {
        if platform.kind == .vmexec {
            // Guest code runs on the sentry's own thread there, whose rseq is
            // the sentry's: the emulation cannot see the host preempt it.
            print("skipping rseqcpu on vmexec: no host registration for guest code on a sentry thread")
            return
        }
        let native = Harness.run(Harness.image("rseqcpu"), [])
        #expect(native.status == 0 && native.stdout.contains("counted exactly"), "natively: \(native.stdout) \(native.stderr)")
        let boxed = Harness.sandboxed(platform, Harness.image("rseqcpu"))
        print("rseqcpu natively: \(native.stderr.trimmingCharacters(in: .whitespacesAndNewlines)); on \(platform.rawValue): \(boxed.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        #expect(boxed.status == native.status && boxed.stdout == native.stdout, "rseqcpu on \(platform.rawValue): \(boxed.stdout) \(boxed.stderr)")
    }

    /// Debian's dynamic programs run with glibc's registration in place:
    /// sched_getcpu reads cpu_id from it.
    @Test(arguments: Harness.platforms)
    func dynamicProgramsRunWithRseq(_ platform: Harness.TestPlatform) {
        let script = "import os; print(os.sched_getaffinity(0) != set(), os.cpu_count() > 0)"
        let native = Harness.run("/usr/bin/python3", ["-c", script])
        let boxed = Harness.sandboxed(platform, "/usr/bin/python3", ["-c", script])
        #expect(boxed == native, "python3 on \(platform.rawValue)")
    }
}
