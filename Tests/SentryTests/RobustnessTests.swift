import Foundation
import Testing
@testable import Sentry
@testable import sentry

/// No guest can crash the sentry or change the host: guest-controlled
/// numbers at the edges of their types (compared with Linux), a bounded run
/// of the syscall fuzzer on every platform, and a corpus of corrupt ELF files.
@Suite(.serialized) struct RobustnessTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    /// What a sentry crash looks like on stderr (Swift's runtime and backtracer).
    static func crashed(_ r: Harness.Result) -> Bool {
        r.status == 70 || r.stderr.contains("Fatal error") || r.stderr.contains("Backtracing") || r.stderr.contains("Swift runtime failure")
    }

    /// images/src/overflow.c: each line was once a Swift trap (or a hang).
    /// Lines marked "6.1:" are where kernels after 6.1 answer differently
    /// (this host may run one); they are checked against 6.1's code instead.
    static let linux61: [String: String] = [
        "6.1: mremap(old range wraps, grow)": "-1 EFAULT",        // vma_to_resize: old_len > vm_end - addr
        "6.1: mremap(grow past 2^64, maymove)": "-1 ENOMEM",     // not expandable, no free area that large
        "6.1: write(eventfd, 32 MiB of ones)": "8",               // eventfd_write: count >= 8, one value
        "6.1: read(eventfd) == 0x0101010101010101": "0",
    ]

    static func split(_ out: String) -> (common: [String], v61: [String: String]) {
        var common: [String] = [], v61: [String: String] = [:]
        for line in out.split(separator: "\n").map(String.init) {
            if line.hasPrefix("6.1: "), let eq = line.range(of: " = ") {
                v61[String(line[..<eq.lowerBound])] = String(line[eq.upperBound...])
            } else {
                common.append(line)
            }
        }
        return (common, v61)
    }

    @Test(arguments: Harness.platforms)
    func edgeValuesAnswerAsLinux(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("overflow"), [])
        let boxed = Harness.sandboxed(platform, Harness.image("overflow"))
        #expect(!Self.crashed(boxed), "\(boxed.stderr)")
        #expect(boxed.status == 0 && native.status == 0)
        let n = Self.split(native.stdout), b = Self.split(boxed.stdout)
        #expect(b.common == n.common)
        #expect(b.common.count > 25)
        #expect(b.v61 == Self.linux61)
    }

    /// A few thousand random syscalls per platform from fixed seeds: the
    /// sentry survives (init prints its count), nothing in the host tree
    /// around the writable scratch directory changes.
    @Test(arguments: Harness.platforms)
    func fuzzerSmoke(_ platform: Harness.TestPlatform) throws {
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        let rw = dir.appendingPathComponent("rw"), ro = dir.appendingPathComponent("ro")
        try fm.createDirectory(at: rw.appendingPathComponent("d"), withIntermediateDirectories: true)
        try fm.createDirectory(at: ro.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try "scratch\n".write(to: rw.appendingPathComponent("f"), atomically: false, encoding: .utf8)
        try "read-only\n".write(to: ro.appendingPathComponent("file"), atomically: false, encoding: .utf8)
        try "deeper\n".write(to: ro.appendingPathComponent("sub/x"), atomically: false, encoding: .utf8)
        func snapshot() -> [String] {
            var out: [String] = []
            for base in [ro, dir] {
                guard let e = fm.enumerator(atPath: base.path) else { continue }
                for case let rel as String in e where base == ro || !rel.hasPrefix("rw") {
                    let p = base.appendingPathComponent(rel).path
                    var st = stat()
                    lstat(p, &st)
                    let data = (try? Data(contentsOf: URL(fileURLWithPath: p))).map { $0.base64EncodedString() } ?? "-"
                    out.append("\(p) \(st.st_mode) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(data)")
                }
            }
            return out.sorted()
        }
        let before = snapshot()
        let seed = 1000 + (Harness.platforms.firstIndex { $0.rawValue == platform.rawValue } ?? 0)
        let r = Harness.sandboxed(platform, Harness.image("fuzz"), ["\(seed)", "2500", "4"],
                                  extra: ["--bind", "\(rw.path):/scratch:rw", "--bind", "\(ro.path):/ro:ro"])
        #expect(!Self.crashed(r), "\(r.stderr.suffix(2000))")
        #expect(r.status == 0, "fuzz seed \(seed) on \(platform.rawValue): status \(r.status)")
        let done = r.stdout.split(separator: "\n").first { $0.hasPrefix("fuzz: done ") }
        #expect(done != nil, "no final count line:\n\(r.stdout.suffix(500))")
        #expect(!r.stdout.contains("STUCK"), "\(r.stdout)")
        if let done, let calls = done.split(separator: " ").first(where: { $0.hasPrefix("calls=") }) {
            #expect((Int(calls.dropFirst(6)) ?? 0) >= 2500)
        }
        #expect(snapshot() == before, "the host tree changed")
    }

    /// The same under --strace: formatting reads guest memory with the
    /// guest's numbers too.
    @Test func fuzzerSmokeTraced() throws {
        let platform = try #require(Harness.platforms.first)
        let r = Harness.sandboxed(platform, Harness.image("fuzz"), ["2000", "1500", "4"], extra: ["--strace", "-o", "/dev/null"])
        #expect(!Self.crashed(r), "\(r.stderr.suffix(2000))")
        #expect(r.status == 0 && r.stdout.contains("fuzz: done "), "status \(r.status)")
    }

    /// A corrupt checkpoint image never crashes `sentry inspect` or `sentry
    /// restore`: the values that once trapped (a memory run past 2^63 bytes,
    /// an address space or fd table the image does not hold, a mapping that
    /// ends before it starts) and a few more restore refuses (a file offset
    /// that wraps, a break below its start) end in one line and status 78
    /// (corrupt); then a dozen random mutants of images/fuzz/ckpt.
    @Test func corruptCheckpointImages() throws {
        guard let platform = CheckpointTests.available.first else { print("skipping: no platform checkpoints here"); return }
        let s = try CheckpointTests.Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let bg = try #require(s.start("corrupt", platform: platform))
        defer { bg.stop() }
        #expect(s.checkpoint("corrupt").status == 0)
        _ = bg.wait()
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.image + "/manifest.json"))) as! [String: Any]
        func variant(_ name: String, _ change: (inout [String: Any]) -> Void) throws -> String {
            let d = s.dir.appendingPathComponent(name).path
            try FileManager.default.copyItem(atPath: s.image, toPath: d)
            var m = manifest
            change(&m)
            try JSONSerialization.data(withJSONObject: m).write(to: URL(fileURLWithPath: d + "/manifest.json"))
            return d
        }
        func editMM(_ m: inout [String: Any], _ change: (inout [String: Any]) -> Void) {
            var mms = m["mms"] as! [[String: Any]]
            change(&mms[0])
            m["mms"] = mms
        }
        func editVMA(_ m: inout [String: Any], where pick: ([String: Any]) -> Bool, _ change: (inout [String: Any]) -> Void) {
            editMM(&m) { mm in
                var vmas = mm["vmas"] as! [[String: Any]]
                let i = vmas.firstIndex(where: pick) ?? 0
                change(&vmas[i])
                mm["vmas"] = vmas
            }
        }
        let huge = NSNumber(value: UInt64.max - 4095)
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("hugeRun", { m in
                var mem = m["memory"] as! [String: Any]
                mem["allocated"] = [[NSNumber(value: 0), huge]]
                m["memory"] = mem
            }),
            ("noSuchMM", { m in
                var tasks = m["tasks"] as! [[String: Any]]
                tasks[0]["mm"] = 99
                tasks[0]["fdTable"] = 99
                m["tasks"] = tasks
            }),
            ("backwardsVMA", { m in editVMA(&m, where: { _ in true }) { $0["end"] = NSNumber(value: 4096) } }),
            ("wrappingFileOffset", { m in editVMA(&m, where: { $0["file"] != nil }) { $0["fileOffset"] = huge } }),
            ("brkBelowStart", { m in editMM(&m) { mm in mm["brk"] = NSNumber(value: 4096) } }),
        ]
        for (name, change) in cases {
            let d = try variant(name, change)
            let i = Harness.run(Harness.sentry, ["inspect", d])
            #expect(!Self.crashed(i) && i.status == 0, "inspect \(name): \(i)")
            let r = s.restore(platform, image: d)
            #expect(!Self.crashed(r), "restore \(name): \(r.stderr)")
            #expect(r.status == 78 && r.stderr.split(separator: "\n").count == 1 && r.stdout.isEmpty, "restore \(name): \(r)")
        }
        var env = ProcessInfo.processInfo.environment
        env["SENTRY"] = Harness.sentry
        let fuzz = Harness.run("/usr/bin/env", ["python3", Harness.images.appendingPathComponent("fuzz/ckpt").path, "-p", platform, "-s", "3", "-t", Harness.inPatchedVM ? "150" : "20", "-k", "12"], env: env)
        #expect(fuzz.status == 0 && fuzz.stdout.contains("mutants=12 inspect-crashes=0 restore-crashes=0 hangs=0"), "\(fuzz)")
    }

    /// config.json is the engine's, but a bundle may come from anywhere:
    /// parsing a mutated one (numbers at the edges of their types, values of
    /// the wrong type, keys deleted) answers an OCIError or a config, never
    /// a trap. In-process: a trap here ends the test run.
    @Test func mutatedOCIConfigsParseOrAreRefused() throws {
        var base = try JSONSerialization.jsonObject(with: Data(OCICommand.defaultSpec(rootless: false).encoded().utf8)) as! [String: Any]
        var process = base["process"] as! [String: Any]
        process["user"] = ["uid": 1000, "gid": 1000, "additionalGids": [5, 6], "umask": 18] as [String: Any]
        process["oomScoreAdj"] = 100
        process["consoleSize"] = ["height": 24, "width": 80]
        process["rlimits"] = [["type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024], ["type": "RLIMIT_AS", "hard": NSNumber(value: UInt64.max), "soft": 1 << 30]]
        base["process"] = process
        var linux = base["linux"] as! [String: Any]
        linux["resources"] = ["memory": ["limit": 1 << 28], "pids": ["limit": 100], "cpu": ["shares": 1024]] as [String: Any]
        base["linux"] = linux
        base["annotations"] = [OCIConfig.platformAnnotation: "ptrace", OCIConfig.selfConfineAnnotation: "on"]
        var mounts = base["mounts"] as! [[String: Any]]
        mounts.append(["destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind", "ro"]])
        base["mounts"] = mounts
        #expect((try? OCIConfig.parse(JSONSerialization.data(withJSONObject: base), bundle: "/b")) != nil, "the base config parses")

        let edges: [Any] = [0, -1, 1, Int64.min, Int64.max, NSNumber(value: UInt64.max), NSNumber(value: UInt64(1) << 63), Int32.min, Int32.max,
                            NSNumber(value: UInt32.max), 1e300, -1e300, 0.5, "", "x", "/", "../..", true, NSNull(), [Any](), [String: Any]()]
        var rng = SplitMix(seed: 42)
        func mutate(_ v: Any, depth: Int) -> Any {
            if var o = v as? [String: Any], !o.isEmpty {
                let k = o.keys.sorted()[Int(rng.next() % UInt64(o.count))]
                switch rng.next() % 8 {
                case 0: o.removeValue(forKey: k)
                case 1: o[k] = edges[Int(rng.next() % UInt64(edges.count))]
                default: o[k] = mutate(o[k]!, depth: depth + 1)
                }
                return o
            }
            if var a = v as? [Any], !a.isEmpty {
                let i = Int(rng.next() % UInt64(a.count))
                switch rng.next() % 6 {
                case 0: a.remove(at: i)
                case 1: a.append(a[i])
                default: a[i] = mutate(a[i], depth: depth + 1)
                }
                return a
            }
            return edges[Int(rng.next() % UInt64(edges.count))]
        }
        var parsed = 0, refused = 0
        for _ in 0..<3000 {
            var doc: Any = base
            for _ in 0..<(1 + rng.next() % 3) { doc = mutate(doc, depth: 0) }
            // (JSONSerialization traps on what is not a JSON document: checked first.)
            guard JSONSerialization.isValidJSONObject(doc), let data = try? JSONSerialization.data(withJSONObject: doc) else { continue }
            do { _ = try OCIConfig.parse(data, bundle: "/b"); parsed += 1 } catch { refused += 1 }
            if let p = (doc as? [String: Any])?["process"], JSONSerialization.isValidJSONObject(p), let pd = try? JSONSerialization.data(withJSONObject: p) {
                _ = try? OCIConfig.process(pd)
            }
        }
        #expect(parsed > 100 && refused > 100, "parsed \(parsed), refused \(refused)")
    }

    /// images/elfcorpus/gen: every case ends with its documented status and
    /// one line from the sentry, or runs as a guest; a guest's execve of the
    /// same file answers an errno. Never exit 70, never a crash.
    @Test func corruptELFCorpus() throws {
        let platform = try #require(Harness.platforms.first)
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let gen = Harness.run("/usr/bin/env", ["python3", Harness.images.appendingPathComponent("elfcorpus/gen").path, dir.path, "1"])
        try #require(gen.status == 0, "the generator failed: \(gen.stderr)")
        let manifest = try String(contentsOf: dir.appendingPathComponent("MANIFEST"), encoding: .utf8)
        var cases = 0
        for line in manifest.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
            guard parts.count >= 2 else { continue }
            let (name, expected) = (parts[0], parts[1])
            let path = dir.appendingPathComponent(name).path
            let r = Harness.sandboxed(platform, path)
            cases += 1
            #expect(!Self.crashed(r), "\(name): \(r.stderr.suffix(1000))")
            let own = (64...71).contains(r.status)
            if own {
                let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
                #expect(lines.count == 1 && lines[0].hasPrefix("sentry: "), "\(name): \(r.stderr)")
            }
            switch expected {
            case "guest": #expect(!own, "\(name) should run as a guest: \(r.status) \(r.stderr)")
            case "any": break
            default: #expect(r.status == Int32(expected), "\(name): status \(r.status), expected \(expected): \(r.stderr)")
            }
            // The same file through a guest's execve.
            let e = Harness.sandboxed(platform, Harness.image("overflow"), ["exec", path])
            #expect(!Self.crashed(e), "execve \(name): \(e.stderr.suffix(1000))")
            #expect(e.status != 70)
        }
        #expect(cases > 100)
    }
}

/// A small seedable generator (splitmix64), so a failing mutant can be found again.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
