import Testing

/// A guest's sched_setaffinity is applied on the host to its stub and its
/// sentry thread (Kernel/HostAffinity.swift): pinned to each allowed CPU in
/// turn, main thread, a second thread and a fork child find sched_getcpu
/// (glibc reads rseq's cpu_id, which the host writes for the stub), getcpu
/// and cpu_id all naming that CPU. images/src/affinity.c prints no CPU
/// numbers, so its native run is the reference. On vmexec the guest's code
/// runs on its (pinned) sentry thread and cpu_id is the sentry's emulation's.
@Suite struct AffinityTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    @Test(arguments: Harness.platforms)
    func pinnedTasksRunOnTheirCPU(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("affinity"), [])
        #expect(native.status == 0 && !native.stdout.contains(": 0") && native.stdout.contains("child: every"), "natively: \(native)")
        let boxed = Harness.sandboxed(platform, Harness.image("affinity"))
        #expect(boxed == native, "on \(platform.rawValue)")
    }
}
