import Foundation
import Testing
@testable import Sentry

/// Regression tests for issue 13's attacks: a guest must not get more access
/// to a host file than it was given, write memory it has unmapped, or kill
/// the sandbox's init from inside.
@Suite(.serialized) struct HardeningTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    static let stdinDenied = """
        stdin flags: O_RDONLY
        fd/0 O_RDWR: EACCES
        fd/0 O_WRONLY: EACCES
        fd/0 O_WRONLY|O_APPEND: EACCES
        fd/0 O_RDONLY|O_TRUNC: EACCES
        /dev/stdin O_WRONLY: EACCES
        /dev/fd/0 O_RDWR|O_CREAT: EACCES
        /proc/PID/fd/0 O_RDWR: EACCES
        fd/0 O_RDONLY: ok
        fd/0 reads: ORIGINAL

        """
    static let readOnlyMount = """
        [read-only mount]
        fd/N O_RDWR: EROFS
        fd/N O_WRONLY|O_TRUNC: EROFS
        fd/N O_RDONLY: ok

        """

    /// `sentry run sh -c 'echo PWNED 1<>/proc/self/fd/0' < file` overwrote
    /// the file: a reopen through the magic link gets at most the inherited
    /// description's access, and a file on a read-only mount stays read-only
    /// however it is reached. The default root, --root and an ro --bind.
    @Test(arguments: Harness.platforms)
    func reopeningThroughProcFdGrantsNoMore(_ platform: Harness.TestPlatform) throws {
        let s = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: s) }
        let fm = FileManager.default
        let input = s.appendingPathComponent("input.txt").path
        try "ORIGINAL\n".write(toFile: input, atomically: false, encoding: .utf8)
        let root = s.appendingPathComponent("root"), ro = s.appendingPathComponent("ro")
        for d in [root, ro] { try fm.createDirectory(at: d, withIntermediateDirectories: true) }
        try fm.copyItem(atPath: Harness.image("reopen"), toPath: root.appendingPathComponent("reopen").path)
        try "in the root\n".write(to: root.appendingPathComponent("data.txt"), atomically: false, encoding: .utf8)
        try "read-only bind\n".write(to: ro.appendingPathComponent("kept.txt"), atomically: false, encoding: .utf8)
        let snapshot = { () -> [String: Data] in
            var out: [String: Data] = [:]
            for p in [input, root.appendingPathComponent("data.txt").path, ro.appendingPathComponent("kept.txt").path] {
                out[p] = fm.contents(atPath: p)
            }
            return out
        }
        let before = snapshot()

        let runs: [(String, [String], [String])] = [
            ("default root", [], [Harness.image("reopen"), input]),
            ("--root", ["--root", root.path], ["/reopen", "/data.txt"]),
            ("ro --bind", ["--bind", "\(ro.path):/ro:ro"], [Harness.image("reopen"), "/ro/kept.txt"]),
        ]
        for (what, extra, command) in runs {
            let r = Harness.sandboxed(platform, command[0], Array(command.dropFirst()), extra: extra, stdinPath: input)
            #expect(r.status == 0, "\(what) on \(platform): \(r.stderr)")
            #expect(r.stdout == Self.stdinDenied + Self.readOnlyMount, "\(what) on \(platform)")
        }
        // The issue's own command line.
        let sh = Harness.sandboxed(platform, "/bin/busybox", ["sh", "-c", "echo PWNED 1<>/proc/self/fd/0"], stdinPath: input)
        #expect(sh.status != 0)
        #expect(sh.stderr.contains("Permission denied"), "\(sh.stderr)")
        let shRoot = Harness.sandboxed(platform, "/bin/busybox", ["sh", "-c", "echo PWNED 1<>/proc/self/fd/0; echo PWNED >/data.txt"],
                                       extra: ["--root", "/", "--bind", "\(ro.path):/ro:ro"], stdinPath: input)
        #expect(shRoot.status != 0)
        #expect(snapshot() == before, "a host file changed on \(platform)")
    }

    /// The sandbox's init is a pid namespace's init: children cannot kill
    /// it with signals it has no handler for (SIGKILL and SIGSTOP
    /// included), a handled one arrives, and an orphan's clone exit signal
    /// becomes SIGCHLD when init adopts it. Natively under
    /// `unshare --pid --fork` where this runs as root.
    @Test(arguments: Harness.platforms)
    func initIgnoresUnhandledSignalsFromInside(_ platform: Harness.TestPlatform) throws {
        let boxed = Harness.sandboxed(platform, Harness.image("initsig"))
        #expect(boxed.status == 0, "\(boxed.stderr)")
        #expect(boxed.stdout.hasPrefix("pid 1\n") && boxed.stdout.hasSuffix("init exits on its own\n"), "\(boxed.stdout)")
        #expect(boxed.stdout.contains("orphan with exit signal 9: waitpid found it, exit 7\n"))
        guard getuid() == 0 else {
            print("skipping the native comparison of initsig: unshare --pid needs root")
            return
        }
        let native = Harness.run("/usr/bin/unshare", ["--pid", "--fork", Harness.image("initsig")])
        guard native.status == 0 else {
            print("skipping the native comparison of initsig: unshare failed: \(native.stderr)")
            return
        }
        #expect(boxed.stdout == native.stdout, "initsig on \(platform)")
    }

    /// SIGTERM sent to the sentry still ends an init with no handler (the
    /// README's promise): the sentry forwards it from outside the sandbox.
    @Test(arguments: Harness.platforms)
    func sigtermFromOutsideStillEndsInit(_ platform: Harness.TestPlatform) throws {
        let s = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: s) }
        let out = s.appendingPathComponent("out").path, err = s.appendingPathComponent("err").path
        guard let pid = Harness.spawn(Harness.sentry, ["run"] + platform.arguments + ["/bin/busybox", "sh", "-c", "echo up; exec /bin/busybox sleep 30"],
                                      env: nil, stdin: "/dev/null", stdout: out, stderr: err) else {
            Issue.record("could not start the sentry")
            return
        }
        // Wait until the guest runs (up to a minute: the VM's emulation is slow), then signal the sentry.
        for _ in 0..<6000 where (try? String(contentsOfFile: out, encoding: .utf8)) != "up\n" { usleep(10_000) }
        usleep(100_000)
        Glibc.kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 128 + SIGTERM, "status \(status) on \(platform)")
    }

    /// A thread asleep in read() or write() on a pipe whose buffer another
    /// thread unmaps (and replaces with a fresh page that may reuse its
    /// memory) gets EFAULT when the data moves, as on Linux; the fresh page
    /// never gets the data, and nothing of it reaches the pipe.
    @Test(arguments: Harness.platforms)
    func blockedTransferToUnmappedBufferFaults(_ platform: Harness.TestPlatform) throws {
        let native = Harness.run(Harness.image("unmapio"), [])
        #expect(native.status == 0)
        #expect(!native.stdout.contains("NO") && !native.stdout.contains("SECRET"), "natively: \(native.stdout)")
        let boxed = Harness.sandboxed(platform, Harness.image("unmapio"))
        #expect(boxed == native, "unmapio on \(platform)")
    }

    /// busybox cat sendfile()s into a pipe: a chunk the full pipe refused
    /// went missing (the input had moved on), and sendfile from a pipe
    /// dropped bytes it could not put back (Linux: EINVAL, and cat falls
    /// back to read/write). Every byte must come through.
    @Test(arguments: Harness.platforms)
    func catThroughPipesKeepsEveryByte(_ platform: Harness.TestPlatform) throws {
        let s = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: s) }
        let file = s.appendingPathComponent("data.bin").path
        var bytes = [UInt8](repeating: 0, count: 300_000)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
        FileManager.default.createFile(atPath: file, contents: Data(bytes))
        let script = "cat \(file) | cat | cat | wc -c; cat \(file) | cat | md5sum"
        let native = Harness.run("/bin/busybox", ["sh", "-c", script])
        #expect(native.stdout.hasPrefix("300000\n"))
        let boxed = Harness.sandboxed(platform, "/bin/busybox", ["sh", "-c", script])
        #expect(boxed == native, "on \(platform)")
    }
}

