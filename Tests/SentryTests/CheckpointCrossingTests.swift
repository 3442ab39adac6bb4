import Foundation
import Testing

/// A sandbox checkpointed on one platform and restored on another: the
/// registers, FPU state, fs_base and futex waits carry across backends.
/// On the host every pair of systrap and ptrace; under the patched
/// kernel, vmexec's crossings (its state goes out to and comes in from
/// another backend), the rest of the checkpoint suite being the host's.
@Suite(.serialized) struct CheckpointCrossingTests {
    static var pairs: [(String, String)] {
        guard Harness.inPatchedVM else { return CheckpointTests.platformPairs }
        let other = CheckpointTests.available.contains("systrap") ? "systrap" : "ptrace"
        return [("vmexec", "ptrace"), (other, "vmexec")]
    }

    @Test(arguments: pairs)
    func checkpointStopAndRestore(_ from: String, _ to: String) throws {
        guard Harness.imagesBuilt else { return }
        let s = try CheckpointTests.Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let expected = s.native()
        #expect(expected.hasSuffix("usr1 1; child status 0\n"), "\(expected)")
        let bg = try #require(s.start("count", platform: from))
        defer { bg.stop() }
        let c = s.checkpoint("count")
        #expect(c.status == 0 && c.stdout.contains("2 processes, 2 tasks"), "\(c)")
        // The original stops quietly, status 0, part of the way through.
        #expect(bg.wait() == 0, "\(bg.stderr)")
        let before = bg.stdout
        #expect(!before.contains("child read"), "finished before the checkpoint: \(before)")
        let r = s.restore(to)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(before + r.stdout == expected, "from \(from) to \(to):\n\(before)---\n\(r.stdout)---\n\(r.stderr)")
    }

    /// Threads: two playing ping-pong through a mutex and a condition
    /// variable, one waiting on another until the end (futex waits restart),
    /// thread-local storage (fs_base), restored with the same tids.
    @Test(arguments: pairs.filter { $0.0 != $0.1 || pairs.count == 1 })
    func threadsWithFutexWaits(_ from: String, _ to: String) throws {
        guard Harness.imagesBuilt else { return }
        let s = try CheckpointTests.Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let guest = Harness.image("ckptthreads")
        let expected = Harness.run(guest, ["150", "700"]).stdout
        #expect(expected.hasSuffix("tls 1000 1001\n"), "\(expected)")
        let bg = try #require(Background(["run", "--platform", from, "--name", "threads", guest, "150", "700"], env: s.env, in: s.dir))
        defer { bg.stop() }
        #expect(Background.poll(seconds: 60) { bg.stdout.split(separator: "\n").count >= 3 })
        let c = s.checkpoint("threads")
        #expect(c.status == 0 && c.stdout.contains("1 processes, 4 tasks"), "\(c)")
        #expect(bg.wait() == 0)
        let before = bg.stdout
        let r = s.restore(to)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(before + r.stdout == expected, "from \(from) to \(to):\n\(before)---\n\(r.stdout)")
    }
}
