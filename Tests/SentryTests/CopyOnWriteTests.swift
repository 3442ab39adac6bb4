import Testing

/// fork shares private memory copy-on-write (MemoryManager.breakCOWLocked):
/// parent and child, a grandchild and a thread of the child each see only
/// their own writes, whether the guest stores them or the sentry copies them
/// out (read(2), a signal frame, FUTEX_WAKE_OP, clear_child_tid), through
/// mprotect, madvise, mremap and munmap of the shared pages; MAP_SHARED
/// memory and vfork stay shared. images/src/cow.c, compared with Linux.
@Suite struct CopyOnWriteTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    @Test(arguments: Harness.platforms)
    func eachSideSeesOnlyItsOwnWrites(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("cow"), [])
        #expect(native.status == 0, "natively: \(native.stderr)")
        let boxed = Harness.sandboxed(platform, Harness.image("cow"))
        #expect(boxed == native, "on \(platform.rawValue)")
    }

    /// --memory counts a page shared copy-on-write once until it is copied:
    /// a parent's 40 MiB and a child that only reads them fit in 64 MiB
    /// (when fork copied, the OOM killer ended the sandbox here).
    @Test(arguments: Harness.platforms)
    func sharedPagesAreChargedOnce(_ platform: Harness.TestPlatform) {
        guard Harness.memfdReportsHoles else { print("skipping on \(platform.rawValue): this kernel's memfds report no holes (no CONFIG_SHMEM)"); return }
        let native = Harness.run(Harness.image("cow"), ["readers", "40"])
        #expect(native.status == 0 && native.stdout.hasSuffix("parent wrote its 40 MiB\n"), "natively: \(native)")
        let boxed = Harness.sandboxed(platform, Harness.image("cow"), ["readers", "40"], extra: ["--memory", "64M"])
        #expect(boxed == native, "on \(platform.rawValue)")
    }
}
