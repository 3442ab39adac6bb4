import Foundation
import Testing
@testable import Sentry

/// The guest's filesystem view: tools working on a tree in tmpfs and in an
/// rw bind give what they give natively; the escape corpus finds no way out
/// and touches nothing on the host; /proc/self/maps parses as Linux's does.
@Suite(.serialized) struct FilesystemTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    static let tree = Harness.images.appendingPathComponent("fs/tree.sh").path
    static let env = ["PATH": "/usr/bin:/bin", "LANG": "C", "HOME": "/"]

    /// busybox's arguments that run `command` with a new empty directory
    /// under `parent` (inside the sandbox) as its last argument.
    static func inFreshDirectory(_ parent: String, _ command: [String]) -> [String] {
        // mktemp: no fixed name, which a host directory exposed there could already hold.
        return ["sh", "-c", "d=$(/bin/busybox mktemp -d \(parent)/t.XXXXXX) && exec \"$@\" \"$d\"", "sh"] + command
    }

    /// The native reference for tmpfs runs on the host's own tmpfs, so sizes
    /// and block counts are tmpfs's on both sides.
    static func hostTmpfsDirectory() -> String? {
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        guard mounts.split(separator: "\n").contains(where: { $0.split(separator: " ").dropFirst().prefix(2) == ["/dev/shm", "tmpfs"] }) else { return nil }
        let dir = "/dev/shm/sentry-tree-\(UUID().uuidString)"
        return (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)) == nil ? nil : dir
    }

    @Test(arguments: Harness.platforms)
    func toolsOnTmpfsMatchNativeTmpfs(_ platform: Harness.TestPlatform) throws {
        guard let hostDir = Self.hostTmpfsDirectory() else {
            print("skipping the tmpfs comparison: the host's /dev/shm is not a tmpfs to compare with")
            return
        }
        defer { try? FileManager.default.removeItem(atPath: hostDir) }
        let native = Harness.run("/bin/busybox", ["sh", Self.tree, hostDir], env: Self.env)
        #expect(native.status == 0, "natively: \(native.stderr)")
        for dir in ["/tmp", "/dev/shm"] {
            // A fresh directory of that tmpfs: the sandbox's /tmp may hold the mount
            // points of host directories the sentry exposes (a checkout under /tmp).
            let boxed = Harness.sandboxed(platform, "/bin/busybox", Self.inFreshDirectory(dir, ["/bin/busybox", "sh", Self.tree]), env: Self.env)
            #expect(boxed == native, "tree in \(dir) on \(platform.rawValue)")
        }
        // The calls themselves, errnos included.
        let ops = Harness.run(Harness.image("fsops"), [hostDir])
        #expect(ops.status == 0, "fsops natively: \(ops.stderr)")
        #expect(Harness.sandboxed(platform, "/bin/busybox", Self.inFreshDirectory("/tmp", [Harness.image("fsops")])) == ops,
                "fsops in /tmp on \(platform.rawValue)")
    }

    /// Places are (mount, dentry) pairs: a cwd or an open file follows a
    /// rename of itself or an ancestor, and says "(deleted)" once unlinked,
    /// as on Linux (compared with a native run on the host's tmpfs).
    @Test(arguments: Harness.platforms)
    func namesFollowRenamesAndUnlinks(_ platform: Harness.TestPlatform) throws {
        guard let hostDir = Self.hostTmpfsDirectory() else {
            print("skipping the renames comparison: the host's /dev/shm is not a tmpfs to compare with")
            return
        }
        defer { try? FileManager.default.removeItem(atPath: hostDir) }
        let script = Harness.images.appendingPathComponent("fs/names.sh").path
        let native = Harness.run("/bin/busybox", ["sh", script, hostDir], env: Self.env)
        #expect(native.stdout.hasSuffix("done\n"), "natively: \(native.stderr)")
        let boxed = Harness.sandboxed(platform, "/bin/busybox", Self.inFreshDirectory("/tmp", ["/bin/busybox", "sh", script]), env: Self.env)
        #expect(boxed == native, "names on \(platform.rawValue)")
    }

    /// A mount sits on a dentry: a directory holding a mount point may be
    /// renamed and the mount moves with it; the mount point itself is busy
    /// (Linux's is_local_mountpoint: EBUSY for rename and rmdir).
    @Test(arguments: Harness.platforms)
    func mountsMoveWithTheirDirectory(_ platform: Harness.TestPlatform) throws {
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        try "x\n".write(to: scratch.appendingPathComponent("marker"), atomically: true, encoding: .utf8)
        let script = """
            mv /tmp/a/m /tmp/a/n 2>&1; rmdir /tmp/a/m 2>&1
            cd /tmp/a/m && mv /tmp/a /tmp/b && pwd -P && cat /tmp/b/m/marker
            grep -c ' /tmp/b/m bind ' /proc/mounts; mkdir /tmp/b/c; mv /tmp/b /tmp/b/c/d 2>&1; echo end
            """
        let r = Harness.sandboxed(platform, "/bin/busybox", ["sh", "-c", script],
                                  extra: ["--bind", "\(scratch.path):/tmp/a/m"], env: Self.env)
        #expect(r.stdout == """
            mv: can't rename '/tmp/a/m': Device or resource busy
            rmdir: '/tmp/a/m': Device or resource busy
            /tmp/b/m
            x
            1
            mv: can't rename '/tmp/b': Invalid argument
            end

            """, "on \(platform.rawValue): \(r.stderr)")
    }

    @Test(arguments: Harness.platforms)
    func toolsOnRWBindMatchNative(_ platform: Harness.TestPlatform) throws {
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let host = scratch.appendingPathComponent("native").path, bound = scratch.appendingPathComponent("bound").path
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: bound, withIntermediateDirectories: true)
        let native = Harness.run("/bin/busybox", ["sh", Self.tree, host], env: Self.env)
        #expect(native.status == 0, "natively: \(native.stderr)")
        let boxed = Harness.sandboxed(platform, "/bin/busybox", ["sh", Self.tree, "/work"], extra: ["--bind", "\(bound):/work:rw"], env: Self.env)
        #expect(boxed == native, "tree in an rw bind on \(platform.rawValue)")
        let ops = Harness.run(Harness.image("fsops"), [host])
        #expect(ops.status == 0, "fsops natively: \(ops.stderr)")
        #expect(Harness.sandboxed(platform, Harness.image("fsops"), ["/work"], extra: ["--bind", "\(bound):/work:rw"]) == ops,
                "fsops in an rw bind on \(platform.rawValue)")
        // The writes reached the host directory; the programs cleaned up after themselves but for d2.
        #expect((try? FileManager.default.contentsOfDirectory(atPath: bound)) == ["d2"])
    }

    /// Everything in the host scratch directory, with contents, to prove the corpus changed nothing.
    static func snapshot(_ dir: URL) -> [String: String] {
        var out: [String: String] = [:]
        guard let e = FileManager.default.enumerator(atPath: dir.path) else { return out }
        while let rel = e.nextObject() as? String {
            let p = dir.appendingPathComponent(rel).path
            var st = stat()
            lstat(p, &st)
            let body = st.st_mode & S_IFMT == S_IFREG ? ((try? String(contentsOfFile: p, encoding: .utf8)) ?? "?") : ""
            out[rel] = "\(st.st_mode) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(body)"
        }
        return out
    }

    @Test(arguments: Harness.platforms)
    func escapeCorpusFindsNoWayOut(_ platform: Harness.TestPlatform) throws {
        guard getuid() == 0 else {
            print("skipping the escape corpus: it needs root to make a host device node in the guest's root")
            return
        }
        let s = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: s) }
        let fm = FileManager.default
        let root = s.appendingPathComponent("root"), rw = s.appendingPathComponent("rw"), ro = s.appendingPathComponent("ro")
        for d in [root, rw, ro, root.appendingPathComponent("sys")] { try fm.createDirectory(at: d, withIntermediateDirectories: true) }
        try "OUTSIDE\n".write(to: s.appendingPathComponent("outside.txt"), atomically: false, encoding: .utf8)
        try "data\n".write(to: root.appendingPathComponent("data.txt"), atomically: false, encoding: .utf8)
        try "read-only bind\n".write(to: ro.appendingPathComponent("kept.txt"), atomically: false, encoding: .utf8)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("abs").path, withDestinationPath: "/../../outside.txt")
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("rel").path, withDestinationPath: "../../outside.txt")
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("loop1").path, withDestinationPath: "loop2")
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("loop2").path, withDestinationPath: "loop1")
        #expect(mknod(root.appendingPathComponent("devnull").path, S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0)
        try fm.copyItem(atPath: Harness.image("escape"), toPath: root.appendingPathComponent("escape").path)

        // Everything but the rw bind must be exactly as it was afterwards.
        let before = Self.snapshot(s).filter { !$0.key.hasPrefix("rw") }
        let r = Harness.sandboxed(platform, "/escape", [String(getpid())],
                                  extra: ["--root", root.path, "--bind", "\(rw.path):/rw:rw", "--bind", "\(ro.path):/ro:ro"])
        let expected = try String(contentsOf: Harness.images.appendingPathComponent("expected/escape.out"), encoding: .utf8)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == expected, "escape corpus on \(platform.rawValue)")
        #expect(!r.stdout.contains("ESCAPED"))
        #expect(Self.snapshot(s).filter { !$0.key.hasPrefix("rw") } == before, "the host outside the rw bind changed")
        // In the rw bind: only what the corpus made on purpose.
        let made = Set((try? fm.contentsOfDirectory(atPath: rw.path)) ?? [])
        #expect(made == ["new.txt", "out", "fifo", "d", "sub"])
    }

    @Test(arguments: Harness.platforms)
    func procMapsParsesAndSharedTmpfsFilesWork(_ platform: Harness.TestPlatform) {
        for name in ["procmaps", "shm"] {
            let native = Harness.run(Harness.image(name), [])
            let boxed = Harness.sandboxed(platform, Harness.image(name))
            #expect(native.status == 0, "\(name) natively: \(native.stderr)")
            #expect(boxed == native, "\(name) on \(platform.rawValue)")
        }
    }

    /// /proc with the sandbox's own pids: the first guest is 1, its children
    /// count up from 2, and nothing of the host shows. comm is the name exec
    /// was given (the applet link `cat`), as on Linux, not the file it resolved to.
    @Test(arguments: Harness.platforms)
    func procShowsTheSandbox(_ platform: Harness.TestPlatform) {
        let script = """
        echo $$; readlink /proc/self; cat /proc/self/comm; ls /proc/1/task
        cat /proc/sys/kernel/ostype; head -c 5 /proc/1/cmdline; echo
        grep -E '^(PPid|Threads):' /proc/self/status
        readlink /proc/1/exe; cd /tmp && readlink /proc/self/cwd
        grep ' /tmp ' /proc/mounts; ls /proc/self/task | wc -l
        """
        let r = Harness.sandboxed(platform, "/bin/busybox", ["sh", "-c", script], env: Self.env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == """
            1
            2
            cat
            1
            Linux
            /bin/
            PPid:\t1
            Threads:\t1
            /usr/bin/busybox
            /tmp
            tmpfs /tmp tmpfs rw,relatime 0 0
            1

            """, "on \(platform.rawValue)")
    }

    /// fcntl F_NOTIFY (dnotify) in a host directory bound read-write: the
    /// argument checks, F_SETSIG/F_GETSIG, a one-shot plain SIGIO, and how
    /// many signals (with si_code, si_fd, si_band) each change made in the
    /// directory sends to a multishot watch, as natively.
    @Test(arguments: Harness.platforms)
    func directoryNotificationMatchesNative(_ platform: Harness.TestPlatform) throws {
        if let why = Harness.nativeKernelLacks("dnotify") { print("skipping dnotify on \(platform.rawValue): \(why)"); return }
        var results: [Harness.Result] = []
        for sandboxed in [false, true] {
            let dir = try Harness.scratchDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            results.append(sandboxed
                ? Harness.sandboxed(platform, Harness.image("dnotify"), [dir.path], extra: ["--bind", "\(dir.path):\(dir.path):rw"])
                : Harness.run(Harness.image("dnotify"), [dir.path]))
        }
        #expect(results[0].status == 0, "natively: \(results[0].stderr)")
        #expect(results[0].stdout.contains("rename                       3 signals, code 3, fd ok, band 0x441"))
        #expect(results[1] == results[0], "on \(platform.rawValue)")
    }
}
