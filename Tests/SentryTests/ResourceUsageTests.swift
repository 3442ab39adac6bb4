import CSwitch
import Foundation
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

    /// Block I/O (blockio.c): a write to a host file counts the pages it
    /// dirtied, a read of one whose pages the test dropped from the page
    /// cache what it read, tmpfs nothing; a reaped child's count reaches
    /// RUSAGE_CHILDREN and /proc/PID/io, the thread's /proc/thread-self/io.
    /// The filesystem's own metadata adds a few blocks that vary from run
    /// to run, so each run is checked against bounds, natively too.
    @Test(arguments: Harness.platforms)
    func blockIOIsCountedAsNatively(_ platform: Harness.TestPlatform) throws {
        guard FileManager.default.fileExists(atPath: "/proc/self/io") else {
            print("skipping blockio on \(platform.rawValue): the host kernel keeps no task I/O accounting (no /proc/self/io)"); return
        }
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let host = scratch.appendingPathComponent("native").path, bound = scratch.appendingPathComponent("bound").path
        for d in [host, bound] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        guard Harness.nativeFilesystemComparable(host, "blockio on \(platform.rawValue)") else { return }
        var s = sw_statfs()
        if statfs(host, &s) == 0 && s.f_type == 0x0102_1994 {
            print("skipping blockio on \(platform.rawValue): the scratch directory is on tmpfs, which counts no block I/O"); return
        }
        /// A 1 MiB file on the disk whose pages are out of the page cache.
        func uncached(_ path: String) -> Bool {
            let fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0o644)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            let bytes = [UInt8](repeating: 0x5a, count: 1 << 20)
            guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else { return false }
            return posix_fadvise(fd, 0, 0, 4 /* POSIX_FADV_DONTNEED */) == 0
        }
        /// The run's numbers line by line, checked against what must hold.
        func check(_ r: Harness.Result, _ what: String) {
            #expect(r.status == 0, "blockio \(what): \(r)")
            var lines: [String: [Int]] = [:]
            for line in r.stdout.split(separator: "\n") {
                let key = line.split(separator: ":").first.map(String.init) ?? ""
                lines[key] = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            }
            guard let start = lines["start"], let tmpfs = lines["512 KiB to tmpfs"], let disk = lines["1 MiB to disk"],
                  let child = lines["child"], let after = lines["after the child"], let read = lines["after the read"],
                  start.count == 10, tmpfs.count == 11, disk.count == 11, child.count == 2, after.count == 10, read.count == 10 else {
                Issue.record("blockio \(what): \(r.stdout)"); return
            }
            // Fields: self in, out, thread in, out, children in, out; io read, write; thread-self read, write.
            let slack = 64
            // (Reads may also count the guest's own pages faulted in from its binary.)
            #expect(tmpfs[2] == start[1] && tmpfs[8] == start[7], "blockio \(what): tmpfs counted: \(r.stdout)")
            let d = Array(disk.dropFirst())
            #expect((2048...2048 + slack).contains(d[1] - start[1]) && d[7] == d[1] * 512 && d[9] == d[3] * 512 && d[3] == d[1],
                    "blockio \(what): the write: \(r.stdout)")
            #expect((512...512 + slack).contains(child[1]) && after[5] == child[1], "blockio \(what): the child: \(r.stdout)")
            #expect(after[7] == (after[1] + after[5]) * 512 && after[9] == after[3] * 512, "blockio \(what): /proc/PID/io: \(r.stdout)")
            // read_bytes holds the reaped child's reads too, as after the child.
            #expect((2048...2048 + slack).contains(read[0] - after[0]) && read[6] == (read[0] + read[4]) * 512, "blockio \(what): the read: \(r.stdout)")
        }
        let tmp = "/dev/shm/sentry-blockio-\(getpid())-\(platform.rawValue)"
        guard mkdir(tmp, 0o755) == 0 || errno == EEXIST else { print("skipping blockio on \(platform.rawValue): no /dev/shm"); return }
        defer { _ = Harness.run("/bin/rm", ["-rf", tmp]) }
        guard uncached(host + "/r"), uncached(bound + "/r") else { Issue.record("no uncached file for blockio"); return }
        check(Harness.run(Harness.image("blockio"), [host, tmp, host + "/r"]), "natively")
        check(Harness.sandboxed(platform, Harness.image("blockio"), ["/mnt", "/tmp", "/mnt/r"], extra: ["--bind", "\(bound):/mnt:rw"]),
              "on \(platform.rawValue)")
    }
}
