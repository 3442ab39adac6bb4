import Foundation
import Testing

/// tee and vmsplice; process_madvise, process_mrelease, remap_file_pages;
/// the clock's discipline; and the features refused with the errno Linux
/// 6.1 (as Debian 12 configures it) gives.
@Suite(.serialized) struct RemainingSyscallsTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    /// tee leaves the input's bytes in place; vmsplice gathers into and
    /// scatters out of a pipe; both calls' errnos in fs/splice.c's order.
    @Test(arguments: Harness.platforms)
    func teeAndVmspliceMatchNative(_ platform: Harness.TestPlatform) throws {
        let native = Harness.run(Harness.image("pipetee"), [])
        #expect(native.status == 0, "pipetee natively: \(native.stderr)")
        #expect(Harness.sandboxed(platform, Harness.image("pipetee")) == native, "pipetee on \(platform.rawValue)")
    }

    /// Linux AIO: the ring in the process's memory, reads and writes at
    /// offsets, fsync, the eventfd, batches and errnos (images/src/aio.c).
    @Test(arguments: Harness.platforms)
    func aioMatchesNative(_ platform: Harness.TestPlatform) throws {
        if let why = Harness.nativeKernelLacks("aio") { print("skipping: \(why)"); return }
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let native = Harness.run(Harness.image("aio"), [scratch.path])
        #expect(native.status == 0, "aio natively: \(native.stderr)")
        #expect(Harness.sandboxed(platform, Harness.image("aio"), ["/tmp"]) == native, "aio on \(platform.rawValue)")
    }

    /// The lines procmem marks "6.1:" are where the host's newer kernel or
    /// its settings answer otherwise (6.13 lets a process advise itself
    /// without CAP_SYS_NICE and takes MADV_DONTNEED; later kernels check
    /// bpf map attributes before privilege; the host's
    /// perf_event_paranoid and secretmem are not Debian 12's;
    /// the host's NTP state is its own): those are checked against 6.1's
    /// answers, the rest against the native run.
    static let linux61Lines = """
        6.1: root: process_madvise DONTNEED: -1 Invalid argument
        6.1: adjtimex read: 5 status 0x40 tick 10000 constant 2
        6.1: nobody: process_madvise COLD: -1 Operation not permitted
        6.1: nobody: process_madvise DONTNEED: -1 Invalid argument
        6.1: nobody: perf_event_open: -1 Permission denied
        6.1: nobody: bpf BPF_MAP_CREATE: -1 Operation not permitted
        6.1: nobody: memfd_secret: -1 Function not implemented
        """

    @Test(arguments: Harness.platforms)
    func processMemoryClockAndRefusals(_ platform: Harness.TestPlatform) throws {
        if let why = Harness.nativeKernelLacks("procmem") { print("skipping: \(why)"); return }
        let native = Harness.run(Harness.image("procmem"), [])
        #expect(native.status == 0, "procmem natively: \(native.stderr)")
        let sandboxed = Harness.sandboxed(platform, Harness.image("procmem"))
        #expect(sandboxed.status == 0, "procmem on \(platform.rawValue): \(sandboxed.stderr)")
        func split(_ s: String) -> (common: [Substring], linux61: [Substring]) {
            let lines = s.split(separator: "\n")
            return (lines.filter { !$0.hasPrefix("6.1: ") }, lines.filter { $0.hasPrefix("6.1: ") })
        }
        let (ours, ours61) = split(sandboxed.stdout), (theirs, _) = split(native.stdout)
        #expect(ours == theirs, "procmem on \(platform.rawValue) against the native run")
        #expect(ours61 == Self.linux61Lines.split(separator: "\n"), "procmem's 6.1-only answers on \(platform.rawValue)")
    }
}
