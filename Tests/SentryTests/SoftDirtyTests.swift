import Foundation
import Testing

/// /proc/PID/pagemap, /proc/PID/clear_refs and soft-dirty tracking
/// (images/src/softdirty.c): pagemap's offsets, errnos and present, file
/// and exclusive bits, and clear_refs' parsing, against the native run;
/// the soft-dirty bits (lines "x: ") against Linux 6.1's answers with
/// CONFIG_MEM_SOFT_DIRTY, which hosts without it (and with 5-level paging's
/// TASK_SIZE) cannot give.
@Suite(.serialized) struct SoftDirtyTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    static let linux61Lines = """
        x: read across TASK_SIZE: 8
        x: new mapping: 11111111
        x: after clear_refs 4: 00000000
        x: written 1 4: 01001000
        x: read into 6: 01001010
        x: mprotect away and back: 01001010
        x: written 7: 01001011
        x: child through the parent's pagemap: 01001011
        x: child inherits: 01001011
        x: child wrote 2: 01101011
        x: child cleared, wrote 3: 00010000
        x: child's read into 5: 00010100
        x: the parent's, opened by the child: 01001011
        x: parent after the child: 01001011
        x: cleared by the child: 00000000
        x: then written 0 7: 10000001
        x: written while another process cleared: 00100000
        x: new mapping after clear: 11
        x: cleared again: 00000000
        x: sentry wrote 2 3 5: 00110100
        x: guest wrote 5 3: 00110100
        x: after DONTNEED: 00000000
        x: an older mapping after DONTNEED elsewhere: 00
        x: a new mapping keeps VM_SOFTDIRTY after DONTNEED: 11
        x: shared written 1 3: 0101
        x: shared read into 2, then written: 0111
        x: mremap'd: 1111
        x: heap cleared: 00
        x: heap grown: 1111
        x: the mapping before its neighbour: 00
        x: merged with a new neighbour: 1111
        x: an unlike neighbour marks nothing more: 00001
        x: every third of 40: 1001001001001001001001001001001001001001
        x: a thread wrote 1: 0100
        x: another thread wrote 3: 0001
        x: entries with a page frame number: 0
        """

    @Test(arguments: Harness.platforms)
    func pagemapClearRefsAndSoftDirty(_ platform: Harness.TestPlatform) throws {
        let sandboxed = Harness.sandboxed(platform, Harness.image("softdirty"))
        #expect(sandboxed.status == 0, "softdirty on \(platform.rawValue): \(sandboxed.stderr)")
        let lines = sandboxed.stdout.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("x: ") } == Self.linux61Lines.split(separator: "\n"),
                "softdirty's soft-dirty bits on \(platform.rawValue)")
        if let why = Harness.nativeKernelLacks("softdirty") { print("skipping softdirty's native comparison: \(why)"); return }
        let native = Harness.run(Harness.image("softdirty"), [])
        #expect(native.status == 0, "softdirty natively: \(native.stderr)")
        #expect(lines.filter { !$0.hasPrefix("x: ") } == native.stdout.split(separator: "\n").filter { !$0.hasPrefix("x: ") },
                "softdirty on \(platform.rawValue) against the native run")
    }

    /// The marks are in a checkpoint's image: restored (on the other
    /// platform), the clean pages are write-protected again and the next
    /// write is seen.
    @Test func marksSurviveACheckpoint() throws {
        guard Harness.imagesBuilt, let from = CheckpointTests.available.first, let to = CheckpointTests.available.last else { return }
        let s = try CheckpointTests.Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let bg = try #require(Background(["run", "--platform", from, "--name", "softdirty", Harness.image("softdirty"), "checkpoint"],
                                         env: s.env, in: s.dir, tag: "softdirty"))
        defer { bg.stop() }
        _ = Background.poll(seconds: 60) { bg.stdout.contains("before") || bg.wait(seconds: 0) != nil }
        let c = s.checkpoint("softdirty")
        #expect(c.status == 0, "\(c)")
        #expect(bg.wait() == 0, "\(bg.stderr)")
        let r = s.restore(to)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(bg.stdout + r.stdout == "x: before: 0100\nx: after: 0110\ncontents: 1 2 3 1\n", "softdirty from \(from) to \(to): \(r.stderr)")
    }
}
