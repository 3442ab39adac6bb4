import CSwitch
import Foundation
import Glibc
import Testing
@testable import Sentry

/// `sentry checkpoint`, `sentry restore`, `sentry inspect`: a counting guest
/// with state in memory and in its FPU control word, a child blocked in
/// read(2) on a pipe, an open tmpfs file, an eventfd and a pending signal,
/// checkpointed mid-run and restored (on the same platform or another):
/// what the two runs print together is what one uninterrupted run prints.
/// Under the patched kernel's emulation this suite is skipped: it runs
/// systrap and ptrace, which the host's run covers, and alone it outlasted
/// CI's budget there. vmexec's crossings are CheckpointCrossingTests.
@Suite(.serialized, .disabled(if: Harness.inPatchedVM, "systrap and ptrace checkpoints run on the host; in the VM only vmexec's crossings (CheckpointCrossingTests)"))
struct CheckpointTests {
    /// Under emulation a checkpoint command takes seconds to start: the guest runs longer there.
    static let steps = Harness.inPatchedVM ? "600" : "150", sleepMS = "20"

    static var available: [String] {
        PlatformKind.survey().filter { $0.available && $0.kind != .vmexec }.map(\.kind.rawValue)
    }

    struct Scene {
        let dir: URL
        let env: [String: String]
        var image: String { dir.appendingPathComponent("img").path }
        let guest: String

        init() throws {
            dir = try Harness.scratchDirectory()
            var e = ProcessInfo.processInfo.environment
            e["SENTRY_RUNTIME_DIR"] = dir.appendingPathComponent("run").path
            env = e
            // The guest runs from a copy: a test may change it under the image.
            guest = dir.appendingPathComponent("ckptcount").path
            try Harness.writeExecutable(try Data(contentsOf: URL(fileURLWithPath: Harness.image("ckptcount"))), to: guest)
        }

        /// The guest's scratch files in this test's directory: the host's /tmp is every test run's.
        func native(_ extra: [String] = []) -> String {
            var e = env
            e["CKPT_TMP"] = dir.path
            var r = Harness.run(guest, [CheckpointTests.steps, CheckpointTests.sleepMS] + extra, env: e)
            // The copy was just written: a fork elsewhere in the test process may
            // still hold it open for writing (ETXTBSY) for a moment.
            for _ in 0..<20 where r.status == -1 && r.stderr.hasPrefix("posix_spawn") {
                usleep(100_000)
                r = Harness.run(guest, [CheckpointTests.steps, CheckpointTests.sleepMS] + extra, env: e)
            }
            return r.stdout
        }

        /// Starts the named guest and waits until it has printed `lines` lines.
        func start(_ name: String, platform: String, lines: Int = 3, extra: [String] = [], options: [String] = []) -> Background? {
            guard let bg = Background(["run", "--platform", platform, "--name", name] + options + [guest, CheckpointTests.steps, CheckpointTests.sleepMS] + extra,
                                      env: env, in: dir, tag: name) else { return nil }
            _ = Background.poll(seconds: 60) { bg.stdout.split(separator: "\n").count >= lines || bg.wait(seconds: 0) != nil }
            return bg
        }

        /// Runs `argv` (a guest and its arguments) as the sandbox `name` on
        /// `platform` until it prints `marker`, checkpoints it (it ends
        /// there) and returns what it printed.
        func checkpointed(_ name: String, on platform: String, _ argv: [String], once marker: String) throws -> String {
            let bg = try #require(Background(["run", "--platform", platform, "--name", name] + argv, env: env, in: dir))
            defer { bg.stop() }
            #expect(Background.poll(seconds: 60) { bg.stdout.contains(marker) })
            let c = checkpoint(name)
            #expect(c.status == 0, "\(name) on \(platform): \(c)")
            #expect(bg.wait() == 0)
            return bg.stdout
        }

        func checkpoint(_ name: String, _ extra: [String] = []) -> Harness.Result {
            Harness.run(Harness.sentry, ["checkpoint", name, "--image", image] + extra, env: env)
        }

        func restore(_ platform: String, image: String? = nil, options: [String] = []) -> Harness.Result {
            Harness.run(Harness.sentry, ["restore", "--image", image ?? self.image, "--platform", platform] + options, env: env)
        }
    }

    static var platformPairs: [(String, String)] {
        let a = available
        var pairs: [(String, String)] = a.map { ($0, $0) }
        if a.contains("systrap") && a.contains("ptrace") { pairs += [("systrap", "ptrace"), ("ptrace", "systrap")] }
        return pairs
    }

    /// A busybox shell pipeline mid-run: the shell waiting in wait4, a
    /// `sleep` child in nanosleep, two `cat`s blocked on their pipes.
    @Test func shellPipeline() throws {
        let busybox = "/bin/busybox"
        guard Harness.imagesBuilt, FileManager.default.isExecutableFile(atPath: busybox), Self.available.count >= 1 else {
            print("skipped: no /bin/busybox"); return
        }
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let script = "i=0; while [ $i -lt 80 ]; do echo line $i; i=$((i+1)); sleep 0.03; done | cat | cat"
        let expected = Harness.run(busybox, ["sh", "-c", script]).stdout
        let from = Self.available[0], to = Self.available.last!
        let bg = try #require(Background(["run", "--platform", from, "--name", "sh", busybox, "sh", "-c", script], env: s.env, in: s.dir))
        defer { bg.stop() }
        #expect(Background.poll(seconds: 60) { bg.stdout.split(separator: "\n").count >= 3 })
        let c = s.checkpoint("sh")
        #expect(c.status == 0, "\(c)")
        #expect(bg.wait() == 0)
        let r = s.restore(to)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(bg.stdout + r.stdout == expected, "from \(from) to \(to):\n\(bg.stdout)---\n\(r.stdout)")
    }

    /// A static Go program: goroutines, a channel ping-pong, a ticker (the
    /// runtime's epoll netpoller and its timers), several runtime threads.
    @Test func goProgram() throws {
        let guest = Harness.image("go-ckpt")
        guard Harness.imagesBuilt, FileManager.default.isExecutableFile(atPath: guest), let from = Self.available.first else {
            print("skipped: go-ckpt not built (no Go toolchain)"); return
        }
        let to = Self.available.last!
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let expected = Harness.run(guest, ["150"]).stdout
        #expect(expected.hasSuffix("done\n"))
        let bg = try #require(Background(["run", "--platform", from, "--name", "go", guest, "150"], env: s.env, in: s.dir))
        defer { bg.stop() }
        #expect(Background.poll(seconds: 60) { bg.stdout.split(separator: "\n").count >= 3 })
        let c = s.checkpoint("go")
        #expect(c.status == 0, "\(c)")
        #expect(bg.wait() == 0)
        let r = s.restore(to)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(bg.stdout + r.stdout == expected, "from \(from) to \(to):\n\(bg.stdout)---\n\(r.stdout)")
        let i = Harness.run(Harness.sentry, ["inspect", s.image])
        #expect(i.stdout.contains("epoll("), "\(i.stdout)")
    }

    /// --leave-running: the original goes on to the end; the restored copy
    /// goes on from the checkpoint and prints the same from there.
    @Test func leaveRunning() throws {
        guard Harness.imagesBuilt, let platform = Self.available.first else { return }
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let expected = s.native()
        let bg = try #require(s.start("twin", platform: platform))
        defer { bg.stop() }
        let c = s.checkpoint("twin", ["--leave-running"])
        #expect(c.status == 0, "\(c)")
        #expect(bg.wait() == 0)
        #expect(bg.stdout == expected)
        let r = s.restore(platform)
        #expect(r.status == 0, "\(r.stderr)")
        let first = try #require(r.stdout.split(separator: "\n").first)
        let start = try #require(expected.range(of: String(first) + "\n"))
        #expect(String(expected[start.lowerBound...]) == r.stdout)
        // The restored copy resumed mid-run, not from the start.
        #expect(!r.stdout.hasPrefix("step 1 "))
    }

    /// What no image can hold is refused by name, and the sandbox goes on
    /// untouched: a --network=host socket is the host's.
    @Test func unsupportedIsRefusedAndTheGuestGoesOn() throws {
        guard Harness.imagesBuilt, let platform = Self.available.first else { return }
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let expected = s.native(["socket"])
        let bg = try #require(s.start("sock", platform: platform, extra: ["socket"], options: ["--network", "host"]))
        defer { bg.stop() }
        let c = s.checkpoint("sock")
        #expect(c.status == 74 && c.stderr.contains("fd 3 (socket:[") && c.stderr.contains("a host socket of --network=host cannot be moved"), "\(c)")
        #expect(bg.wait() == 0)
        #expect(bg.stdout == expected)
    }

    /// A process confined by a Landlock domain with a rule on a directory
    /// removed since: the image names a rule's file by its path, which finds
    /// nothing now, so the checkpoint names the rule and refuses (restored
    /// without it, the domain would differ); the guest goes on.
    @Test func landlockRuleOnRemovedDirectoryIsRefusedByName() throws {
        guard Harness.imagesBuilt, let platform = Self.available.first else { return }
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let bg = try #require(s.start("landlocked", platform: platform, extra: ["landlock"]))
        defer { bg.stop() }
        let c = s.checkpoint("landlocked")
        #expect(c.status == 74 && c.stderr.contains("its Landlock domain: a rule on /tmp/ckptcount.landlock.1,"), "\(c)")
        #expect(bg.wait() == 0)
        #expect(bg.stdout == s.native([]))
    }

    /// A guest ptrace link (image version 5): a tracee in the
    /// signal-delivery-stop of its SIGSTOP all along, its tracer counting
    /// meanwhile, is in the image with its stop; restored, the tracer's
    /// PTRACE_CONT and waitpid find it as they would have.
    @Test func tracedTaskInItsStop() throws {
        guard Harness.imagesBuilt, let from = Self.available.first, let to = Self.available.last else { return }
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let expected = s.native(["ptrace"])
        #expect(expected.hasSuffix("tracee exited 7\n"), "\(expected)")
        let bg = try #require(s.start("traced", platform: from, extra: ["ptrace"]))
        defer { bg.stop() }
        let c = s.checkpoint("traced")
        #expect(c.status == 0 && c.stdout.contains("3 processes, 3 tasks"), "\(c)")
        #expect(bg.wait() == 0)
        let before = bg.stdout
        let r = s.restore(to)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(before + r.stdout == expected, "from \(from) to \(to):\n\(before)---\n\(r.stdout)---\n\(r.stderr)")
    }

    /// A guest tracer and its tracee checkpointed mid-conversation and
    /// restored, on each platform and across: "syscall" finds the tracee
    /// mostly in a syscall-entry stop (the tracer sleeps there, then changes
    /// the call; at the exit it changes the result), "signal" in a
    /// signal-delivery-stop (the tracer delivers every other SIGUSR1), "wait"
    /// with the tracer blocked in waitpid and the tracee running (sleeping).
    /// The stop, its siginfo and the options go with the image: the two runs
    /// print together what one uninterrupted run prints.
    @Test(arguments: ["syscall", "signal", "wait"])
    func guestTracerGoesOn(_ mode: String) throws {
        guard Harness.imagesBuilt else { return }
        let guest = Harness.image("ckptptrace")
        let args = ["40", "25", mode]
        let expected = Harness.run(guest, args).stdout
        #expect(expected.contains("tracer: child exited 7\n") && !expected.contains("wrong"), "\(expected)")
        for (from, to) in Self.platformPairs {
            let s = try Scene()
            defer { try? FileManager.default.removeItem(at: s.dir) }
            let bg = try #require(Background(["run", "--platform", from, "--name", "pt", guest] + args, env: s.env, in: s.dir))
            defer { bg.stop() }
            #expect(Background.poll(seconds: 60) { bg.stdout.split(separator: "\n").count >= 6 })
            let c = s.checkpoint("pt")
            #expect(c.status == 0 && c.stdout.contains("2 processes, 2 tasks"), "\(mode) \(from): \(c)")
            #expect(bg.wait() == 0)
            let before = bg.stdout
            #expect(!before.contains("tracer: child exited"), "finished before the checkpoint: \(before)")
            // What the image kept of the tracee (the stop is timing's choice: shown, not asserted).
            let manifest = try CheckpointImage.readManifest(s.image)
            let link = manifest.tasks.compactMap(\.ptrace).first
            #expect(link != nil && link?.options == 0x100001, "\(String(describing: link))")
            print("ckptptrace \(mode) \(from)->\(to): tracee in stop \(link?.stop ?? "none")")
            let r = s.restore(to)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(before + r.stdout == expected, "\(mode) from \(from) to \(to):\n\(before)---\n\(r.stdout)---\n\(r.stderr)")
        }
    }

    /// A tracee held in a PTRACE_EVENT stop while the checkpoint is taken
    /// (ckptptrace's fork, vfork, exec and exit modes: the middle
    /// PTRACE_EVENT_FORK, the middle PTRACE_EVENT_VFORK_DONE, the
    /// PTRACE_EVENT_EXEC, the final PTRACE_EVENT_EXIT of its exit_group) is
    /// in the image with what its caller does next; restored on each
    /// platform and across, the fork returns the child's tid (the child in
    /// the image already), the exec returns into the new program, the exit
    /// goes on: the two runs print together what one uninterrupted run prints.
    /// "dead": a grandchild tracee dead and not yet waited for by its tracer
    /// (its parent, the child, waiting for it meanwhile): the tracer's wait
    /// after the restore reports its exit, and then the parent's.
    /// "seccomp": a PTRACE_EVENT_SECCOMP stop (a filter's SECCOMP_RET_TRACE):
    /// restored, the call meets the filters again on what the tracer left.
    /// "vforkwait": the middle PTRACE_EVENT_VFORK, its vfork child not yet
    /// exec'd: restored, the parent waits for the child's exec before its
    /// PTRACE_EVENT_VFORK_DONE stop.
    @Test(arguments: ["fork", "vfork", "vforkwait", "exec", "exit", "dead", "seccomp"])
    func tracerHoldsAnEventStop(_ mode: String) throws {
        guard Harness.imagesBuilt else { return }
        let guest = Harness.image("ckptptrace")
        let args = ["5", "10", mode, "2000"]
        let expected = Harness.run(guest, args).stdout
        #expect(expected.contains("holding\n") && expected.hasSuffix(mode == "seccomp" ? " 0 exits, 0 wrong\n" : "5 exits, 0 wrong\n")
                && expected.split(separator: "\n").dropLast().allSatisfy { !$0.contains("wrong") }, "\(expected)")
        let event: Int32 = switch mode {
        case "fork": PtraceABI.PTRACE_EVENT_FORK
        case "vfork": PtraceABI.PTRACE_EVENT_VFORK_DONE
        case "vforkwait": PtraceABI.PTRACE_EVENT_VFORK
        case "exec": PtraceABI.PTRACE_EVENT_EXEC
        case "seccomp": PtraceABI.PTRACE_EVENT_SECCOMP
        default: PtraceABI.PTRACE_EVENT_EXIT
        }
        for (from, to) in Self.platformPairs {
            let s = try Scene()
            defer { try? FileManager.default.removeItem(at: s.dir) }
            let before = try s.checkpointed("ev", on: from, [guest] + args, once: "holding\n")
            #expect(!before.contains("tracer: child exited"), "finished before the checkpoint: \(before)")
            let manifest = try CheckpointImage.readManifest(s.image)
            if mode == "dead" {
                #expect(manifest.deadTracees?.count == 1 && manifest.deadTracees?.first?.status.exited == 3, "\(String(describing: manifest.deadTracees))")
            } else {
                let held = manifest.tasks.compactMap(\.ptrace).filter { $0.stop == "event" && $0.exitCode >> 8 == event }
                #expect(held.count == 1, "\(mode): \(manifest.tasks.compactMap(\.ptrace))")
                if mode == "exit" { #expect(held.first?.exitAfter?.exited == 7 && held.first?.exitGroup == true) }
                if mode == "vforkwait" { #expect(manifest.tasks.contains { $0.vforkChild != nil && $0.vforkChildReleased == nil }, "the wait in the image") }
            }
            print("ckptptrace \(mode) \(from)->\(to): \(manifest.tasks.compactMap(\.ptrace).map { "\($0.stop ?? "running") \($0.exitCode)" })")
            let r = s.restore(to)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(before + r.stdout == expected, "\(mode) from \(from) to \(to):\n\(before)---\n\(r.stdout)---\n\(r.stderr)")
        }
    }

    /// The seconds ckpttimeout's waits last.
    static let window = "2"

    /// A call with a relative timeout (epoll_wait, poll, rt_sigtimedwait)
    /// checkpointed a second into its 2 s and restored goes on to the end
    /// it had: the guest's CLOCK_MONOTONIC, which continues from the
    /// checkpoint, sees the call take 2 s, as if nothing had happened.
    /// "uptime": /proc/uptime goes on across the restore (a nanosleep
    /// measured by it takes 2 s; it started again at the restore before).
    /// "rcvtimeo", "sndtimeo": a recv under SO_RCVTIMEO and a send under
    /// SO_SNDTIMEO (its peer's queue full) end in EAGAIN at their end too,
    /// not a whole timeout after the restore.
    @Test(arguments: ["epoll", "poll", "sigtimedwait", "uptime", "rcvtimeo", "sndtimeo"])
    func timeoutKeepsItsEnd(_ call: String) throws {
        guard Harness.imagesBuilt, let from = Self.available.first, let to = Self.available.last else { return }
        let guest = Harness.image("ckpttimeout"), window = Self.window
        let expected = Harness.run(guest, [call, window]).stdout
        #expect(expected.hasSuffix("after its \(window) s\n"), "\(expected)")
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let name = "to" + call.prefix(4)
        let bg = try #require(Background(["run", "--platform", from, "--name", name, guest, call, window], env: s.env, in: s.dir))
        defer { bg.stop() }
        #expect(Background.poll(seconds: 60) { bg.stdout.contains("waiting") })
        usleep(1_000_000)   // into the wait: where it stands is what the guest measures
        let c = s.checkpoint(name)
        #expect(c.status == 0, "\(c)")
        #expect(bg.wait() == 0)
        let before = bg.stdout
        #expect(!before.contains("returned"), "finished before the checkpoint: \(before)")
        let r = s.restore(to)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(before + r.stdout == expected, "\(call) from \(from) to \(to):\n\(before)---\n\(r.stdout)---\n\(r.stderr)")
    }

    /// The numbers the sandbox hands out go on across a restore (ckptids,
    /// checkpointed between its two rounds): the next socket inode, autobind
    /// name, loopback ephemeral port, tmpfs and memfd inode numbers are
    /// those an uninterrupted run of the sandbox gives, and the process's
    /// start time in /proc/self/stat is unchanged. The reference is the
    /// sandbox's own uninterrupted run: Linux's numbers (hashed ports,
    /// per-CPU inode batches) are not the sandbox's, nor repeatable.
    @Test func countersGoOn() throws {
        guard Harness.imagesBuilt, let from = Self.available.first, let to = Self.available.last else { return }
        let guest = Harness.image("ckptids"), window = Self.window
        let native = Harness.run(guest, [window]).stdout
        #expect(native.hasSuffix("start time unchanged\n"), "\(native)")
        let expected = Harness.run(Harness.sentry, ["run", "--platform", from, guest, window]).stdout
        #expect(expected.hasPrefix("taken\nround 1: ") && expected.hasSuffix("start time unchanged\n"), "\(expected)")
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let before = try s.checkpointed("ids", on: from, [guest, window], once: "taken")
        #expect(!before.contains("round"), "finished before the checkpoint: \(before)")
        let r = s.restore(to)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(before + r.stdout == expected, "from \(from) to \(to):\n\(before)---\n\(r.stdout)---\n\(r.stderr)")
    }

    /// A blocking pipe write (or AF_UNIX stream send) of 1 MiB checkpointed
    /// while it waits for its reader, part of it written, and restored: it
    /// goes on after the bytes it had written, and the guest sees one write
    /// with the full count.
    @Test(arguments: ["pipe", "socket"])
    func blockedWriteGoesOn(_ kind: String) throws {
        guard Harness.imagesBuilt, let from = Self.available.first, let to = Self.available.last else { return }
        let guest = Harness.image("ckpttimeout"), window = Self.window
        let expected = Harness.run(guest, [kind, window]).stdout
        #expect(expected == "writing\none write of 1048576 bytes\nchild read 1048576 bytes, 0 wrong\n", "\(expected)")
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let bg = try #require(Background(["run", "--platform", from, "--name", "w" + kind, guest, kind, window], env: s.env, in: s.dir))
        defer { bg.stop() }
        #expect(Background.poll(seconds: 60) { bg.stdout.contains("writing") })
        usleep(300_000)
        let c = s.checkpoint("w" + kind)
        #expect(c.status == 0, "\(c)")
        #expect(bg.wait() == 0)
        let before = bg.stdout
        let r = s.restore(to)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(before + r.stdout == expected, "from \(from) to \(to):\n\(before)---\n\(r.stdout)---\n\(r.stderr)")
    }

    /// Descriptors a program keeps between calls (images/src/ckptfds.c): a
    /// tmpfs directory and a host one half listed, an O_PATH descriptor,
    /// /proc/self/status half read, a timerfd expired unread and one still
    /// armed, a signalfd over a pending signal, a pidfd of a live child, a
    /// tmpfs file unlinked while open, one unlinked while mapped shared, an
    /// O_TMPFILE file linked after the restore, a pty pair mid-line, an
    /// inotify watch with an event unread. A
    /// checkpoint holds each, and the restored guest goes on with it as an
    /// uninterrupted run does.
    @Test func descriptorsOfEveryKindGoOn() throws {
        guard Harness.imagesBuilt, let from = Self.available.first, let to = Self.available.last else { return }
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let guest = Harness.image("ckptfds"), marker = s.dir.appendingPathComponent("go-on").path
        FileManager.default.createFile(atPath: marker, contents: nil)
        var expected = Harness.run(guest, [marker]).stdout
        if expected.contains("O_TMPFILE: Operation not supported") {
            // A root filesystem that makes no unnamed files under the native /tmp:
            // one uninterrupted sandbox run is the reference there.
            print("descriptorsOfEveryKindGoOn: the native kernel lacks O_TMPFILE here; comparing with an uninterrupted run on \(from)")
            expected = Harness.run(Harness.sentry, ["run", "--platform", from, guest, marker]).stdout
        }
        #expect(expected.hasSuffix("waitid(P_PIDFD): 0, the child's status 7\n") && !expected.contains(": no"), "\(expected)")
        try FileManager.default.removeItem(atPath: marker)
        // The guest waits for the marker: the checkpoint is no race with a clock.
        let bg = try #require(Background(["run", "--platform", from, "--name", "fds", guest, marker], env: s.env, in: s.dir))
        defer { bg.stop() }
        #expect(Background.poll(seconds: 60) { bg.stdout.contains("ready") })
        let c = s.checkpoint("fds")
        #expect(c.status == 0, "\(c)")
        #expect(bg.wait() == 0)
        let before = bg.stdout
        FileManager.default.createFile(atPath: marker, contents: nil)
        let r = s.restore(to)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(before + r.stdout == expected, "from \(from) to \(to):\n\(before)---\n\(r.stdout)---\n\(r.stderr)")
    }

    /// An --overlay root: the upper layer (the guest's log in the host's
    /// /tmp as the overlay shows it, a lower file copied up and appended to,
    /// a whiteout over a removed one) is in the image, the host untouched;
    /// a lower file the guest copied up that changed since is status 80.
    @Test func overlayRoot() throws {
        guard Harness.imagesBuilt, let from = Self.available.first, let to = Self.available.last else { return }
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let gone = s.dir.appendingPathComponent("gone").path, kept = s.dir.appendingPathComponent("kept").path
        func lower() throws {
            try "below\n".write(toFile: gone, atomically: false, encoding: .utf8)
            try "below\n".write(toFile: kept, atomically: false, encoding: .utf8)
        }
        try lower()
        let expected = s.native(["overlay"])
        #expect(expected.hasSuffix("gone stays gone; kept 'below\nthe guest's line\n'\n"), "\(expected)")
        try lower()
        var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, kept, &times, 0) == 0)
        let bg = try #require(s.start("overlay", platform: from, extra: ["overlay"], options: ["--overlay"]))
        defer { bg.stop() }
        let c = s.checkpoint("overlay")
        #expect(c.status == 0, "\(c)")
        #expect(bg.wait() == 0, "\(bg.stderr)")
        // The overlay wrote nothing below.
        #expect(FileManager.default.fileExists(atPath: gone) && (try? String(contentsOfFile: kept, encoding: .utf8)) == "below\n")
        // A copied-up file changed below since: refused.
        try "changed\n".write(toFile: kept, atomically: false, encoding: .utf8)
        let changed = s.restore(to)
        #expect(changed.status == 80 && changed.stderr.contains("kept"), "\(changed)")
        try "below\n".write(toFile: kept, atomically: false, encoding: .utf8)
        #expect(utimensat(AT_FDCWD, kept, &times, 0) == 0)
        let r = s.restore(to)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(bg.stdout + r.stdout == expected, "from \(from) to \(to):\n\(bg.stdout)---\n\(r.stdout)---\n\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: gone) && (try? String(contentsOfFile: kept, encoding: .utf8)) == "below\n")
    }

    /// An armed ITIMER_REAL goes on with the time it had left.
    @Test func intervalTimer() throws {
        guard Harness.imagesBuilt, let platform = Self.available.first else { return }
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let expected = s.native(["itimer"])
        #expect(expected.hasSuffix("itimer 900 s left, interval 1000 s\n"), "\(expected)")
        let bg = try #require(s.start("itimer", platform: platform, extra: ["itimer"]))
        defer { bg.stop() }
        #expect(s.checkpoint("itimer").status == 0)
        #expect(bg.wait() == 0)
        let r = Harness.run(Harness.sentry, ["restore", "--image", s.image], env: s.env)
        #expect(r.status == 0 && bg.stdout + r.stdout == expected, "\(r)")
    }

    /// Kernel state beyond files and memory, each checkpointed mid-run and
    /// restored on another platform where there is one: POSIX timers (time
    /// left, SIGEV_NONE, a queued signal's overrun, the ids), ITIMER_PROF and
    /// the process CPU clock (which goes on, never back), two stacked seccomp
    /// filters, Syscall User Dispatch (the restored guest keeps trapping),
    /// memfds (contents, seals, name, offset) and MAP_SHARED mappings of
    /// memfd and tmpfs files shared by two processes, System V shared memory
    /// (one segment removed while attached), semaphores with SEM_UNDO and
    /// message queues, POSIX message queues (one unlinked and still open),
    /// NUMA policies (the process's and an mbind range's) and MADV_DONTFORK;
    /// sockets: a server child and this process mid-conversation (a reply
    /// buffered, a connection waiting unaccepted in the backlog with its
    /// bytes), over AF_UNIX (with a pipe in flight in SCM_RIGHTS, a stream
    /// shut down for writing, datagrams queued at an abstract name, an urgent
    /// byte between ordinary ones) and over
    /// the sandbox loopback's TCP (::1) with UDP datagrams queued.
    /// And /proc/PID/oom_score_adj.
    @Test(arguments: ["ptimer", "cputime", "seccomp", "sud", "memfd", "ipc", "numa", "unix", "inet", "oom"])
    func kernelStateSurvives(_ mode: String) throws {
        guard Harness.imagesBuilt, let from = Self.available.first, let to = Self.available.last else { return }
        // The uninterrupted run is the native one: it needs the kernel's features.
        let needs: [String: [String]] = ["ipc": ["sysvipc", "mqueue"], "numa": ["mempolicy"], "inet": ["inet"]]
        if let why = (needs[mode] ?? []).lazy.compactMap({ Harness.nativeKernelLacks($0) }).first {
            print("skipping checkpoint mode \(mode): \(why), so there is no native run to compare with")
            return
        }
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let expected = s.native([mode])
        let last: [String: String] = ["ptimer": "timers 0 1 2, next 3\n", "cputime": "cpu clock went on 1\n",
                                      "seccomp": "getppid -1/13 getuid -1/14 filters 2\n",
                                      "sud": "sud dispatched \(Self.steps), last \(1000 + Int(Self.steps)!)\n",
                                      "memfd": "memfd /memfd:ckpt (deleted) size 8192 seals 0x6 offset 1234; step \(Self.steps); 'child was here'; "
                                          + "'written by pwrite'; 'kept by its mapping'; tmpfs \(Self.steps); grow Operation not permitted\n",
                                      "ipc": "mq 'high' prio 7\nmq 'low' prio 1\nmq 'unlinked' prio 0\n",
                                      "numa": "numa policy 0x8003 mask 3; pages 0 2; home 0; dontfork child Segmentation fault\n",
                                      "unix": "late: sent before the checkpoint\ndatagram 'first datagram' from the sender 1\ndatagram 'second' from the sender 1\n"
                                          + "'rights' carried 'through a pipe in flight', then 0\nhalf 'before shutdown' then EOF; a write after shutdown -1 Broken pipe\n"
                                          + "urgent: 'ab' atmark 1, MSG_OOB 'c', then 'd'\n",
                                      "oom": "oom_score_adj 321\n",
                                      "inet": "late: sent before the checkpoint\ndatagram 'first datagram' from the sender 1\ndatagram 'second' from the sender 1\n"]
        #expect(expected.hasSuffix(last[mode]!), "\(expected)")
        let bg = try #require(s.start(mode, platform: from, extra: [mode]))
        defer { bg.stop() }
        let c = s.checkpoint(mode)
        #expect(c.status == 0, "\(c)")
        #expect(bg.wait() == 0, "\(bg.stderr)")
        let before = bg.stdout
        #expect(!before.contains("child read"), "finished before the checkpoint: \(before)")
        let r = s.restore(to)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(before + r.stdout == expected, "\(mode) from \(from) to \(to):\n\(before)---\n\(r.stdout)---\n\(r.stderr)")
    }

    /// systrap's patched syscall sites (README, "Syscall patching"): a guest
    /// whose hot umask site was patched on systrap, checkpointed mid-loop,
    /// counts on as the uninterrupted native run does when restored on
    /// systrap (the site still the jump, its trampoline's slot this sentry's
    /// stub entry), on systrap with patching off and on ptrace (the site's
    /// original mov put back: it traps as before). Its mprotect of the text
    /// at the end sees the original mov everywhere, as a JIT must: on
    /// systrap with patching, only because the sites' records came back with
    /// the image (re-derived from the trampoline pages).
    @Test func patchedSitesSurvive() throws {
        guard Harness.imagesBuilt, Self.available.contains("systrap") else { return }
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let expected = s.native(["patch"])
        #expect(expected.hasSuffix("patch calls \(Int(Self.steps)! * 200) wrong 0; writable 0, site mov\n"), "\(expected)")
        var targets: [(platform: String, options: [String], site: String)] = [("systrap", ["--systrap-patch", "on"], "jmp"),
                                                                              ("systrap", ["--systrap-patch", "off"], "mov")]
        if Self.available.contains("ptrace") { targets.append(("ptrace", [], "mov")) }
        for t in targets {
            let bg = try #require(s.start("patch", platform: "systrap", extra: ["patch"], options: ["--systrap-patch", "on"]))
            defer { bg.stop() }
            let c = s.checkpoint("patch")
            #expect(c.status == 0, "\(c)")
            #expect(bg.wait() == 0, "\(bg.stderr)")
            let before = bg.stdout
            #expect(!before.contains("child read"), "finished before the checkpoint: \(before)")
            let r = s.restore(t.platform, options: t.options)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(before + r.stdout == expected, "to \(t.platform) \(t.options):\n\(before)---\n\(r.stdout)---\n\(r.stderr)")
            #expect(r.stderr.contains("site before mprotect: \(t.site)\n"), "to \(t.platform) \(t.options): \(r.stderr)")
        }
    }

    /// --compress: the page store and files.bin deflated (zlib), each run
    /// checked against the checksum of its bytes before compression.
    @Test func compressedImage() throws {
        guard Harness.imagesBuilt, let platform = Self.available.first else { return }
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let expected = s.native()
        let bg = try #require(s.start("zip", platform: platform))
        defer { bg.stop() }
        let c = s.checkpoint("zip", ["--compress"])
        #expect(c.status == 0, "\(c)")
        #expect(bg.wait() == 0)
        let m = try CheckpointImage.readManifest(s.image)
        let stored = m.memory.runs.reduce(UInt64(0)) { $0 + $1.length }
        let packed = m.memory.runs.reduce(UInt64(0)) { $0 + ($1.compressed ?? $1.length) }
        #expect(m.memory.runs.allSatisfy { $0.compressed != nil } && packed < stored / 2 && m.pagesSize == packed,
                "\(stored) bytes stored as \(packed), pages.bin \(m.pagesSize)")
        let r = s.restore(platform)
        #expect(r.status == 0 && bg.stdout + r.stdout == expected, "\(r)")
    }

    /// A guest with every other page zeros (images/src/ckptmem.c, 4 MiB):
    /// the zero pages are left out of extents that say by a bitmap which
    /// pages they hold, `--sync` writes the image to disk, and the restored
    /// guest finds every data page as it was (and reads zeros in the others).
    @Test func sparseExtents() throws {
        guard Harness.imagesBuilt, let platform = Self.available.first else { return }
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let marker = s.dir.appendingPathComponent("restoring").path
        let bg = try #require(Background(["run", "--platform", platform, "--name", "sparse", Harness.image("ckptmem"), "4", marker],
                                         env: s.env, in: s.dir, tag: "sparse"))
        defer { bg.stop() }
        #expect(Background.poll(seconds: 60) { bg.stdout.hasPrefix("ready") || bg.wait(seconds: 0) != nil }, "\(bg.stdout)")
        let c = s.checkpoint("sparse", ["--sync"])
        #expect(c.status == 0, "\(c)")
        #expect(bg.wait() == 0)
        let m = try CheckpointImage.readManifest(s.image)
        // 1024 pages, 512 of them zeros (a few more zero pages elsewhere: stack, bss).
        #expect(m.memory.zeroPagesSkipped >= 512, "\(m.memory.zeroPagesSkipped)")
        #expect(m.memory.runs.contains { ($0.present?.count ?? 0) >= 128 }, "\(m.memory.runs.map { $0.present ?? "all" })")
        #expect(m.memory.runs.count < 64, "\(m.memory.runs.count) runs")
        #expect(m.memory.runs.allSatisfy { $0.length % 4096 == 0 })
        #expect(FileManager.default.createFile(atPath: marker, contents: nil))
        let r = s.restore(platform)
        #expect(r.status == 0 && r.stdout.hasPrefix("resumed ") && r.stdout.hasSuffix(" pages intact\n"), "\(r)")
    }

    /// The page bitmap decoded into stretches, checked against the run's
    /// length; CRC32C against its standard check value.
    @Test func pageBitmapsAndCRC() throws {
        func run(_ present: String?, _ length: UInt64) -> StoredRun {
            StoredRun(offset: 0, length: length, store: 0, checksum: 0, compressed: nil, present: present)
        }
        let two = try DataFileReader.stretches(run("5", 8192), pageSize: 4096, what: "t")
        #expect(two.map { [$0.0, $0.1] } == [[0, 1], [2, 1]])
        let long = try DataFileReader.stretches(run("f3", 6 * 4096), pageSize: 4096, what: "t")
        #expect(long.map { [$0.0, $0.1] } == [[0, 6]])
        let all = try DataFileReader.stretches(run(nil, 3 * 4096), pageSize: 4096, what: "t")
        #expect(all.map { [$0.0, $0.1] } == [[0, 3]])
        for bad in [run("5", 4096), run("5x", 8192), run(nil, 100)] {
            #expect(throws: CheckpointError.self) { try DataFileReader.stretches(bad, pageSize: 4096, what: "t") }
        }
        #expect(Array("123456789".utf8).withUnsafeBytes { sw_crc32c(0, $0.baseAddress, $0.count) } == 0xE3069283)
        // Continued in pieces: the same value.
        let whole = Array("123456789".utf8)
        let first = whole[0..<4].withUnsafeBytes { sw_crc32c(0, $0.baseAddress, $0.count) }
        #expect(whole[4...].withUnsafeBytes { sw_crc32c(first, $0.baseAddress, $0.count) } == 0xE3069283)
    }

    /// An image from another host boot (its boot id and CLOCK_MONOTONIC
    /// reading forged: 1000 s ahead of this boot's) restores, and the
    /// guest's monotonic clock goes on from the checkpoint's reading: it
    /// jumps forward, never back, and an absolute clock_nanosleep on it
    /// after the restore ends when it should.
    /// CRC32C's three lanes (blocks of 3 KiB folded together) give what one
    /// chain gives: the check value, and a long buffer at odd offsets and
    /// lengths against the same bytes fed in pieces too short for the lanes.
    @Test func crc32cLanes() {
        #expect(sw_crc32c(0, Array("123456789".utf8), 9) == 0xE306_9283)
        var x: UInt64 = 0x9e37_79b9_7f4a_7c15
        let bytes = (0..<20_000).map { _ in x ^= x << 13; x ^= x >> 7; x ^= x << 17; return UInt8(truncatingIfNeeded: x) }
        bytes.withUnsafeBytes { b in
            for (off, len) in [(0, 20_000), (7, 3072), (1, 3071), (13, 9_217), (100, 6_144)] {
                var pieces: UInt32 = 0
                var at = off
                while at < off + len { let n = min(1_000, off + len - at); pieces = sw_crc32c(pieces, b.baseAddress! + at, n); at += n }
                #expect(sw_crc32c(0, b.baseAddress! + off, len) == pieces, "\(off)+\(len)")
            }
        }
    }

    @Test func monotonicClockFromAnotherBoot() throws {
        guard Harness.imagesBuilt, let platform = Self.available.first else { return }
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let expected = s.native(["clock"])
        #expect(expected.hasSuffix("monotonic went back 0, jumped 900 s 0; absolute sleep 0 until 1\n"), "\(expected)")
        let bg = try #require(s.start("clock", platform: platform, extra: ["clock"]))
        defer { bg.stop() }
        #expect(s.checkpoint("clock").status == 0)
        #expect(bg.wait() == 0)
        let path = s.image + "/manifest.json"
        var m = try CheckpointImage.readManifest(s.image)
        m.bootID = "00000000-0000-0000-0000-000000000000"
        m.monotonicNs += 1000 * 1_000_000_000
        try CheckpointImage.writeManifest(m, to: s.image)
        #expect(FileManager.default.fileExists(atPath: path))
        let r = s.restore(platform)
        #expect(r.status == 0, "\(r.stderr)")
        let jumped = expected.replacingOccurrences(of: "jumped 900 s 0", with: "jumped 900 s 1")
        #expect(bg.stdout + r.stdout == jumped, "\(bg.stdout)---\n\(r.stdout)---\n\(r.stderr)")
    }

    /// Each kind of bad image: one line, its own status, no guest started.
    @Test func badImages() throws {
        guard Harness.imagesBuilt, let platform = Self.available.first else { return }
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let bg = try #require(s.start("bad", platform: platform))
        defer { bg.stop() }
        #expect(s.checkpoint("bad").status == 0)
        _ = bg.wait()
        let fm = FileManager.default
        func variant(_ name: String, _ change: (String) throws -> Void) throws -> String {
            let d = s.dir.appendingPathComponent(name).path
            try fm.copyItem(atPath: s.image, toPath: d)
            try change(d)
            return d
        }
        let truncated = try variant("truncated") { d in
            let m = try Data(contentsOf: URL(fileURLWithPath: d + "/manifest.json"))
            try m.prefix(m.count / 2).write(to: URL(fileURLWithPath: d + "/manifest.json"))
        }
        let flipped = try variant("flipped") { d in
            let fd = open(d + "/pages.bin", O_RDWR)
            defer { close(fd) }
            var b: UInt8 = 0
            pread(fd, &b, 1, 4097)
            b ^= 0x40
            pwrite(fd, &b, 1, 4097)
        }
        let newer = try variant("newer") { d in
            let p = d + "/manifest.json"
            let text = try String(contentsOfFile: p, encoding: .utf8)
            // (An image without Landlock state is written as the version before.)
            try text.replacingOccurrences(of: "\"version\" : \(CheckpointManifest.versionWithoutLandlock)", with: "\"version\" : \(CheckpointManifest.currentVersion + 1)").write(toFile: p, atomically: true, encoding: .utf8)
        }
        let shortPages = try variant("short") { d in truncate(d + "/pages.bin", 4096) }
        for (image, status, words) in [(truncated, Int32(77), "truncated image"), (flipped, 78, "checksum mismatch"),
                                       (newer, 79, "image version \(CheckpointManifest.currentVersion + 1)"), (shortPages, 77, "pages.bin has 4096 bytes")] {
            let r = s.restore(platform, image: image)
            #expect(r.status == status && r.stderr.contains(words) && r.stdout.isEmpty, "\(image): \(r)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
        // The guest's own binary, changed since: the mapping's file is not what it was.
        var times = [timespec(tv_sec: 1, tv_nsec: 0), timespec(tv_sec: 1, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, s.guest, &times, 0) == 0)
        let changed = s.restore(platform)
        #expect(changed.status == 80 && changed.stderr.contains("ckptcount"), "\(changed)")
        let i = Harness.run(Harness.sentry, ["inspect", truncated])
        #expect(i.status == 77)
    }

    @Test func inspectShowsTheImage() throws {
        guard Harness.imagesBuilt, let platform = Self.available.first else { return }
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let bg = try #require(s.start("look", platform: platform))
        defer { bg.stop() }
        #expect(s.checkpoint("look").status == 0)
        _ = bg.wait()
        let i = Harness.run(Harness.sentry, ["inspect", s.image])
        #expect(i.status == 0, "\(i)")
        for words in ["version \(CheckpointManifest.versionWithoutLandlock)", "on \(platform)", "pid 1 ppid 0", "pid 2 ppid 1", "3:pipe[0]r", "/tmp/ckptcount-1.log",
                      "eventfd", "tmpfs      /tmp: 1 files", "zero pages skipped"] {
            #expect(i.stdout.contains(words), "\(words) in \(i.stdout)")
        }
    }

    /// /proc/sys/fs/mqueue's values a guest set are in the image (a native
    /// run would change the host's, so the sandbox's own output is the reference).
    @Test func mqueueLimitsSurvive() throws {
        try guestSettingsSurvive("mqlimits", [Harness.image("mqueue"), "sysctl-checkpoint"], setBy: "write msg_default 3: 1",
                                 "write msg_default 3: 1\na queue made with no attributes: maxmsg 3\n")
    }

    /// fs.protected_symlinks and ping_group_range as a guest set them are in
    /// the image (the sandbox's own output is the reference, as above).
    @Test func sandboxSysctlsSurvive() throws {
        try guestSettingsSurvive("sysctls", [Harness.image("sysctls"), "checkpoint"], setBy: "before:",
                                 "before: symlinks 0 ping 100\t200 (7)\nafter: symlinks 0 ping 100\t200\n")
    }

    /// Runs `guest` until it printed `setBy`, checkpoints it, restores it on
    /// another platform and expects the two runs' output to be `expected`.
    private func guestSettingsSurvive(_ name: String, _ guest: [String], setBy: String, _ expected: String) throws {
        guard Harness.imagesBuilt, let from = Self.available.first, let to = Self.available.last else { return }
        let s = try Scene()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let bg = try #require(Background(["run", "--platform", from, "--name", name] + guest, env: s.env, in: s.dir, tag: name))
        defer { bg.stop() }
        _ = Background.poll(seconds: 60) { bg.stdout.contains(setBy) || bg.wait(seconds: 0) != nil }
        let c = s.checkpoint(name)
        #expect(c.status == 0, "\(c)")
        #expect(bg.wait() == 0, "\(bg.stderr)")
        let r = s.restore(to)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(bg.stdout + r.stdout == expected, "\(name) from \(from) to \(to): \(r.stderr)")
    }

    /// The Syscall User Dispatch fields, as PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG
    /// has them, survive the manifest's encoding.
    @Test func syscallUserDispatchFieldsRoundTrip() throws {
        let sud = SyscallUserDispatchImage(mode: 1 /* PR_SYS_DISPATCH_ON */, selector: 0x7fff_1234_5678, offset: 0x40_0000, len: 0x1000)
        let task = TaskImage(tid: 7, pid: 7, mm: 0, fdTable: 0, fsContext: 0, registers: Array(repeating: 0, count: 27), fpu: nil,
                             signalMask: 0, savedMask: nil, pending: [], altStack: [0, 2, 0], clearChildTID: 0, robustList: 0,
                             robustListLength: 0, restartSleepNs: nil, restartRemaining: nil, syscallUserDispatch: sud,
                             credentials: ImageWriter.image(Credentials.sentrys()), comm: Data("x".utf8), parentDeathSignal: 0,
                             noNewPrivs: false, executablePath: "/x", commandLine: ["x"], environment: [])
        let data = try JSONEncoder().encode(task)
        let back = try JSONDecoder().decode(TaskImage.self, from: data)
        #expect(back.syscallUserDispatch == sud)
        #expect(back == task)
    }
}
