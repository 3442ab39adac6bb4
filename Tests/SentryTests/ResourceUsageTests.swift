import Testing

/// getrusage, wait4's and waitid's rusage and times(2) report what the
/// guest used (ResourceUsage): a child's CPU time in its own code, its
/// resident high-water mark and its sleeps reach its parent; an exited
/// thread's time stays its process's; EINVAL, EFAULT and waitid's
/// untouched rusage on WNOHANG as Linux. images/src/rusage.c prints
/// bounds that hold on any machine, compared with its native run.
@Suite struct ResourceUsageTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    @Test(arguments: Harness.platforms)
    func usageReachesTheParentAsNatively(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("rusage"), [])
        #expect(native.status == 0 && !native.stdout.contains(": 0\n"), "natively: \(native)")
        var boxed = Harness.sandboxed(platform, Harness.image("rusage"))
        if platform.kind == .vmexec {
            // On vmexec the guest's code runs on its sentry thread, so a task's user
            // time holds the sentry's work for it too (its exec's loading, slow
            // under the VM's emulation) and may pass a child's 250 ms busy loop.
            print("rusage on vmexec: 'times own utime below the child's' not compared (user time includes the sentry's)")
            let line = "times own utime below the child's: "
            let keep = { (s: String) in s.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix(line) }.joined(separator: "\n") }
            boxed.stdout = keep(boxed.stdout)
            var n = native
            n.stdout = keep(n.stdout)
            #expect(boxed == n, "on \(platform.rawValue)")
            return
        }
        #expect(boxed == native, "on \(platform.rawValue)")
    }

    /// Page faults are counted: the guest's touches of fresh pages (the
    /// stub's host faults, or on vmexec the sentry thread's), a thread's
    /// and a child's reaching the process and the parent, exec keeping
    /// them, /proc's stat and status between getrusage's readings.
    /// images/src/faults.c prints properties, compared with its native run.
    @Test(arguments: Harness.platforms)
    func pageFaultsAreCountedAsNatively(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("faults"), [])
        #expect(native.status == 0 && !native.stdout.contains(": 0\n") && native.stdout.contains("survive exec: 1"), "natively: \(native)")
        let boxed = Harness.sandboxed(platform, Harness.image("faults"))
        #expect(boxed == native, "on \(platform.rawValue)")
    }
}
