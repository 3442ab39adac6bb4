import Testing

/// getrusage, wait4's and waitid's rusage and times(2) report what the
/// guest used (ResourceUsage): a child's CPU time in its own code, its
/// resident high-water mark and its sleeps reach its parent; an exited
/// thread's time stays its process's; EINVAL, EFAULT and waitid's
/// untouched rusage on WNOHANG as Linux. images/src/rusage.c prints
/// bounds that hold on any machine, compared with its native run.
@Suite struct ResourceUsageTests {
    @Test(arguments: Harness.platforms)
    func usageReachesTheParentAsNatively(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("rusage"), [])
        #expect(native.status == 0 && !native.stdout.contains(": 0\n"), "natively: \(native)")
        let boxed = Harness.sandboxed(platform, Harness.image("rusage"))
        #expect(boxed == native, "on \(platform.rawValue)")
    }
}
