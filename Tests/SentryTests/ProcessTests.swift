import Foundation
import Testing
@testable import Sentry

/// Processes, threads and signals: shell scripts, C and Go programs from
/// images/, each compared with the same program run natively, on every
/// available platform.
@Suite(.serialized) struct ProcessTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    /// A directory of busybox applet links, so `sh` finds static busybox
    /// tools first (Debian's own tools are dynamic) natively and sandboxed.
    static let appletPath: String? = {
        guard FileManager.default.isExecutableFile(atPath: "/bin/busybox"), let dir = try? Harness.scratchDirectory() else { return nil }
        let bin = dir.appendingPathComponent("bin").path
        try? FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        _ = Harness.run("/bin/busybox", ["--install", "-s", bin])
        return bin
    }()

    static var scripts: [String] {
        let dir = Harness.images.appendingPathComponent("scripts")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".sh") }.sorted().map { dir.appendingPathComponent($0).path }
    }

    @Test(arguments: Harness.platforms)
    func shellScriptsMatchNative(_ platform: Harness.TestPlatform) throws {
        let path = try #require(Self.appletPath, "busybox-static is not installed")
        #expect(Self.scripts.count >= 25)
        let env = ["PATH": path, "HOME": "/", "LANG": "C"]
        for script in Self.scripts {
            let native = Harness.run("/bin/busybox", ["sh", script], env: env)
            let boxed = Harness.sandboxed(platform, "/bin/busybox", ["sh", script], env: env)
            #expect(boxed == native, "\(URL(fileURLWithPath: script).lastPathComponent) on \(platform.rawValue)")
        }
    }

    static let programs = ["threads", "threadchain", "threadturnover", "sigread", "altstack", "pingpong", "epollpipes", "forks", "forkburst", "extremes", "fresh", "forkfresh", "recycled", "exegone", "sysvipc", "pidfd", "fdevents", "pty", "jobctl", "siglayout", "fasync", "cputimers", "posixcputimers", "memfdseal", "procabi", "procfmt", "epollmix", "x86abi", "memedge", "startregs", "timerovr", "mempolicy", "fpuinherit", "pkru"]

    /// Job control at the sentry's own host terminal (ttyjob.c under
    /// script(1)'s pty, natively and as the sandbox's terminal): a
    /// background group's read is stopped by SIGTTIN, EIO where it is ignored.
    @Test(arguments: Harness.platforms)
    func hostTerminalStopsBackgroundReads(_ platform: Harness.TestPlatform) {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            print("skipping ttyjob on \(platform.rawValue): no script(1) (util-linux) for a terminal"); return
        }
        if let why = Harness.nativeKernelLacks("jobctl") { print("skipping ttyjob on \(platform.rawValue): \(why)"); return }
        let native = Harness.run("/usr/bin/script", ["-qec", Harness.image("ttyjob"), "/dev/null"], stdinPath: "/dev/null")
        #expect(native.status == 0 && native.stdout.contains("stopped by TTIN"), "ttyjob natively: \(native)")
        let command = ([Harness.sentry, "run"] + platform.arguments + [Harness.image("ttyjob")]).joined(separator: " ")
        let boxed = Harness.run("/usr/bin/script", ["-qec", command, "/dev/null"], stdinPath: "/dev/null")
        #expect(boxed == native, "ttyjob on \(platform.rawValue)")
    }

    @Test(arguments: Harness.platforms)
    func processAndSignalProgramsMatchNative(_ platform: Harness.TestPlatform) {
        for name in Self.programs {
            if let why = Harness.nativeKernelLacks(name) {
                print("skipping \(name) on \(platform.rawValue): \(why), so there is no native run to compare with")
                continue
            }
            if name == "posixcputimers", let why = Harness.cpuTimeIsInexact {
                print("skipping posixcputimers on \(platform.rawValue): \(why)")
                continue
            }
            let native = Harness.run(Harness.image(name), [])
            let boxed = Harness.sandboxed(platform, Harness.image(name))
            #expect(native.status == 0, "\(name) natively: \(native.stderr)")
            #expect(boxed == native, "\(name) on \(platform.rawValue)")
        }
    }

    /// fasync pty: which O_ASYNC signals a pty pair sends (n_tty's
    /// kill_fasync): the slave's reader POLL_IN per completed line, or once
    /// per raw input; the master's reader POLL_IN for output and echo; a
    /// writer that found the buffer full POLL_OUT once when a read makes
    /// room; nothing for reads, mode changes or a close. Counted with
    /// F_SETSIG's queued signals; the waits stretch under emulation.
    @Test(arguments: Harness.platforms)
    func ptyAsyncSignalsMatchNative(_ platform: Harness.TestPlatform) {
        if let why = Harness.nativeKernelLacks("pty") { print("skipping fasync's pty comparison on \(platform.rawValue): \(why)"); return }
        Self.compareAsyncCounts("pty", on: platform, nativeShows: "  its end: master:IN slave:IN\n")
    }

    /// `fasync PART`'s O_ASYNC counts natively and in the sandbox; the
    /// waits for a signal that may still come stretch under emulation.
    static func compareAsyncCounts(_ part: String, on platform: Harness.TestPlatform, nativeShows line: String) {
        let settle = Harness.inPatchedVM ? "2000" : "200"
        let native = Harness.run(Harness.image("fasync"), [part, settle])
        #expect(native.status == 0, "natively: \(native.stderr)")
        #expect(native.stdout.contains(line), "natively: \(native.stdout)")
        let boxed = Harness.sandboxed(platform, Harness.image("fasync"), [part, settle])
        #expect(boxed == native, "on \(platform.rawValue)")
    }

    /// Blocked pipe reads raced against what a direct writer-to-reader
    /// hand-off would have to respect: many writer/reader pairs (processes
    /// and threads) with short reads, signals to blocked readers with and
    /// without SA_RESTART, readers killed while blocked, a buffer unmapped
    /// while its reader blocks (EFAULT, the byte stays in the pipe).
    /// Compared with native everywhere.
    @Test(arguments: Harness.platforms)
    func blockedPipeReadsUnderSignalsMatchNative(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("handoff"), [])
        let boxed = Harness.sandboxed(platform, Harness.image("handoff"))
        #expect(native.status == 0 && native.stdout.contains("byte stays"), "natively: \(native.stdout)")
        #expect(boxed == native, "\(platform.rawValue)")
    }

    /// A pipe ping-pong under --strace: every read's exit line is there with
    /// its result (a traced reader is never resumed by its writer's thread,
    /// so its own thread prints the line before the guest goes on).
    @Test(arguments: Harness.platforms)
    func tracedPipePingPongShowsEveryRead(_ platform: Harness.TestPlatform) {
        let r = Harness.sandboxed(platform, Harness.image("handoff"), ["pingpong", "200"], extra: ["--strace", "--strace-filter", "read"])
        #expect(r.stdout == "ping-pong: 200 rounds ok\n", "\(platform.rawValue): \(r.stdout)")
        let reads = r.stderr.split(separator: "\n").filter { $0.contains(" read(") && $0.hasSuffix("= 1") }
        #expect(reads.count == 400, "\(platform.rawValue): \(reads.count) reads traced")
    }

    /// A pipe's reader owns its write end's O_ASYNC signal: its read's
    /// POLL_OUT is pending before the read returns, also when a writer's
    /// thread copied the bytes (ReadHandoff: the writer sends the signals
    /// its write and the read raised before it looks at the reader).
    @Test(arguments: Harness.platforms)
    func pipeReadersAsyncSignalComesWithItsRead(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("handoff"), ["async", "300"])
        let boxed = Harness.sandboxed(platform, Harness.image("handoff"), ["async", "300"])
        #expect(native.stdout == "async owner: 300 rounds ok\n", "natively: \(native.stdout) \(native.stderr)")
        #expect(boxed == native, "\(platform.rawValue)")
    }

    /// execveat(fd, "", AT_EMPTY_PATH) names the process after bprm->filename's
    /// last component, "3" for /dev/fd/3, as Linux 6.1 does (the host's 6.18
    /// uses the file's own name since 6.14, so this is not compared with native).
    @Test(arguments: Harness.platforms)
    func execveatNamesTheProcessAsLinux61(_ platform: Harness.TestPlatform) {
        let boxed = Harness.sandboxed(platform, Harness.image("procabi"), ["comm61"])
        #expect(boxed.status == 0)
        #expect(boxed.stdout == "fd 3\n  execfn=/dev/fd/3 argc=3 comm=3 [report] [comm]\n", "\(platform.rawValue): \(boxed.stdout)")
    }

    /// /proc/PID/oom_score_adj written as oom_score_adj_write takes it (its
    /// number's forms and range, the CAP_SYS_RESOURCE floor, fork), compared
    /// with the native run on every platform.
    @Test(arguments: Harness.platforms)
    func oomScoreAdjIsWritableAsLinux(_ platform: Harness.TestPlatform) {
        if let why = Harness.nativeKernelLacks("procabi") {
            print("skipping oom_score_adj on \(platform.rawValue): \(why)")
            return
        }
        let native = Harness.run(Harness.image("procabi"), ["oomadj"])
        let boxed = Harness.sandboxed(platform, Harness.image("procabi"), ["oomadj"])
        #expect(native.status == 0 && native.stdout.contains("hex: 4, reads 16"), "natively: \(native.stdout)")
        #expect(boxed == native, "\(platform.rawValue)")
    }

    /// I/O ports no guest gets, answered as Debian's 6.1 answers an
    /// unprivileged caller (the host has no iopl/ioperm at all).
    @Test(arguments: Harness.platforms)
    func ioPortsAsLinux61(_ platform: Harness.TestPlatform) {
        let boxed = Harness.sandboxed(platform, Harness.image("x86abi"), ["61"])
        #expect(boxed.status == 0)
        #expect(boxed.stdout == """
            iopl(0): 0
            iopl(3): EPERM
            iopl(4): EINVAL
            ioperm(0, 0, 0): EINVAL
            ioperm(0x378, 3, 0): 0
            ioperm(0x378, 3, 1): EPERM
            ioperm past the bitmap: EINVAL

            """, "\(platform.rawValue)")
    }

    /// execve gives the new program a process's start state: cleared
    /// registers, rflags 0x202, and the default FPU and SSE control words
    /// although the old program changed them (fpu_flush_thread).
    @Test(arguments: Harness.platforms)
    func execResetsTheMachineState(_ platform: Harness.TestPlatform) {
        let args = ["exec", Harness.image("startregs")]
        var native = Harness.run(Harness.image("x86abi"), args)
        let boxed = Harness.sandboxed(platform, Harness.image("x86abi"), args)
        #expect(native.status == 0)
        if Harness.inPatchedVM && native.stdout.contains("rflags 0x222\n") {
            // QEMU's TCG at times shows reserved bit 5 in the new program's
            // first pushfq natively (a run in the VM: 0x222); Linux starts it at 0x202.
            print("execResetsTheMachineState: the VM's native rflags had reserved bit 5 (0x222), compared as 0x202")
            native.stdout = native.stdout.replacingOccurrences(of: "rflags 0x222\n", with: "rflags 0x202\n")
        }
        // This was a known issue on ptrace in the patched kernel's VM (MXCSR
        // surviving the exec): 6.1's PTRACE_SETREGSET takes MXCSR only from an
        // image whose XSTATE_BV has x87 or SSE, which the initial image now has.
        #expect(boxed == native, "\(platform.rawValue)")
    }

    /// `int $0x80` from 64-bit code is refused as by Linux 6.1 built without
    /// IA32_EMULATION (the kernel issue 17 asks the sentry to be): a #GP,
    /// SIGSEGV with SI_KERNEL and error code 0x402 at the instruction, which
    /// neither Syscall User Dispatch nor a seccomp filter sees. Compared with
    /// the native run only on a host without IA32 emulation.
    @Test(arguments: Harness.platforms)
    func int80IsAGeneralProtectionFault(_ platform: Harness.TestPlatform) {
        let boxed = Harness.sandboxed(platform, Harness.image("x86abi"), ["int80"])
        #expect(boxed.status == 0)
        // Where the host itself has no IA32 emulation (the patched kernel's VM),
        // the instruction is a real #GP in the stub: ptrace and vmexec report
        // the fault without the sigcontext's err and trapno, as for any fault.
        if !FileManager.default.fileExists(atPath: "/proc/sys/abi/vsyscall32") && platform.kind != .systrap {
            print("int $0x80 on \(platform.rawValue): a host #GP, whose err/trapno this platform cannot see; the signal alone checked")
            #expect(boxed.stdout.hasPrefix("int $0x80: SEGV code 0x80 addr 0 "), "\(platform.rawValue)")
            #expect(boxed.stdout.contains("int $0x80 without a handler: killed by SEGV"), "\(platform.rawValue)")
            return
        }
        #expect(boxed.stdout == """
            int $0x80: SEGV code 0x80 addr 0 err 0x402 trapno 13 at the instruction yes rax 20 rcx 0x5a5a5a5a
            under SUD: SEGV code 0x80
            int $0x80 without a handler: killed by SEGV
            int $0x80 under a seccomp filter killing i386 calls: killed by SEGV

            """, "\(platform.rawValue)")
        if let why = Harness.nativeKernelLacks("int80") {
            print("int $0x80 not compared with the native run: \(why)")
        } else {
            #expect(boxed == Harness.run(Harness.image("x86abi"), ["int80"]), "\(platform.rawValue)")
        }
    }

    /// The legacy vsyscall page as Linux 6.1's vsyscall=xonly: time,
    /// gettimeofday and getcpu emulated (the guest's seccomp filter consulted,
    /// no tracer stop), reads and misaligned calls SIGSEGV, bad pointers
    /// SIGSEGV as emulate_vsyscall raises them, and the [vsyscall] maps line.
    @Test(arguments: Harness.platforms)
    func vsyscallPageIsEmulatedAsLinux(_ platform: Harness.TestPlatform) {
        let boxed = Harness.sandboxed(platform, Harness.image("x86abi"), ["vsyscall"])
        #expect(boxed.status == 0)
        #expect(boxed.stdout.hasSuffix("last maps line: \(VsyscallPage.mapsLine)"), "\(platform.rawValue): \(boxed.stdout)")
        if let why = Harness.nativeKernelLacks("vsyscall") {
            print("vsyscall page not compared with the native run: \(why)")
        } else {
            var native = Harness.run(Harness.image("x86abi"), ["vsyscall"])
            var sandboxed = boxed
            if platform.kind == .ptrace {
                // ptrace shows no page-fault error code (the sigcontext's err
                // is 0 there): compared without it.
                native.stdout = native.stdout.replacingOccurrences(of: " err 0x6\n", with: "\n")
                sandboxed.stdout = sandboxed.stdout.replacingOccurrences(of: " err 0\n", with: "\n")
            }
            #expect(sandboxed == native, "\(platform.rawValue)")
        }
    }

    /// FS and GS bases set with arch_prctl and read with RDFSBASE/RDGSBASE
    /// agree, and the other way round, on every platform (FSGSBaseTests
    /// has the rest: signals, fork, patched sites).
    @Test(arguments: Harness.platforms)
    func fsAndGSBasesAgree(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("x86abi"), ["bases"])
        let boxed = Harness.sandboxed(platform, Harness.image("x86abi"), ["bases"])
        #expect(boxed == native, "\(platform.rawValue)")
    }

    static let goPrograms = ["hello", "goroutines", "timers", "exec", "signals"]

    @Test(arguments: Harness.platforms)
    func staticGoProgramsMatchNative(_ platform: Harness.TestPlatform) throws {
        guard Harness.run("/bin/sh", ["-c", "command -v go"]).status == 0 else {
            print("skipping Go guests: go is not installed (apt-get install golang-go)")
            return
        }
        for name in Self.goPrograms {
            let exe = Harness.image("go-" + name)
            try #require(FileManager.default.isExecutableFile(atPath: exe), "\(exe) was not built")
            let native = Harness.run(exe, [])
            let boxed = Harness.sandboxed(platform, exe)
            #expect(native.status == 0)
            #expect(boxed == native, "go-\(name) on \(platform.rawValue)")
        }
    }

    /// SIGINT to the sentry (what Ctrl-C sends) reaches the guest's
    /// foreground process group: the shell and its sleep die as natively.
    @Test(arguments: Harness.platforms)
    func interruptReachesTheGuest(_ platform: Harness.TestPlatform) throws {
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out").path
        // A SIGINT before the sentry's handlers are in would hit the sentry itself.
        let pid = try Self.startShell(platform, "echo ready; sleep 20; echo not interrupted", output: out)
        Thread.sleep(forTimeInterval: 0.2)
        let start = Date()
        kill(pid, SIGINT)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 130)
        #expect((try? String(contentsOfFile: out, encoding: .utf8)) == "ready\n")
    }

    /// When the sentry exits, the host processes it started (the stubs of
    /// guests still running, the pool's parked ones) go with it.
    @Test(arguments: Harness.platforms)
    func noHostProcessOutlivesTheSentry(_ platform: Harness.TestPlatform) throws {
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pid = try Self.startShell(platform, "sleep 30 & sleep 30 & echo ready; sleep 3",
                                      output: dir.appendingPathComponent("out").path)
        // "ready" follows the two forks; their stubs may still be on their way on a loaded machine.
        var started = Self.children(of: pid)
        for _ in 0..<40 where started.count < 3 {
            Thread.sleep(forTimeInterval: 0.05)
            started = Self.children(of: pid)
        }
        #expect(started.count >= 3, "the shell and its two sleeps run in stubs of the sentry")
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 0)
        let exited = Date()
        var alive = started.filter { Self.isAlive($0) }
        while !alive.isEmpty && Date().timeIntervalSince(exited) < 5 {
            Thread.sleep(forTimeInterval: 0.05)
            alive = alive.filter { Self.isAlive($0) }
        }
        #expect(alive.isEmpty, "host processes left behind: \(alive)")
    }

    /// `sentry run ... sh -c script` with stdout to `output`, once the script
    /// has printed "ready" (start-up is slow under emulation).
    static func startShell(_ platform: Harness.TestPlatform, _ script: String, output: String) throws -> pid_t {
        let path = try #require(appletPath, "busybox-static is not installed")
        let pid = try #require(Harness.spawn(Harness.sentry, ["run"] + platform.arguments + ["/bin/busybox", "sh", "-c", script],
                                             env: ["PATH": path], stdin: "/dev/null", stdout: output, stderr: "/dev/null"))
        let start = Date()
        while (try? String(contentsOfFile: output, encoding: .utf8)) != "ready\n" && Date().timeIntervalSince(start) < 120 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        return pid
    }

    /// /proc/PID/stat's fields after the command name (state first, then ppid).
    static func statFields(_ pid: pid_t) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.range(of: ") ", options: .backwards) else { return nil }
        return stat[close.upperBound...].split(separator: " ")
    }

    /// Host processes whose parent is `pid` (stat's ppid is the parent
    /// thread's process, whichever sentry thread started them).
    static func children(of pid: pid_t) -> [pid_t] {
        let all = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return all.compactMap { pid_t($0) }.filter { p in
            guard let f = statFields(p), f.count > 1 else { return false }
            return pid_t(f[1]) == pid
        }
    }

    /// Running or sleeping: a zombie already reparented to init is gone.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard let state = statFields(pid)?.first else { return false }
        return state != "Z" && state != "X"
    }

    /// --strace follows every task, prefixing lines with `[pid N]` as strace -f does.
    @Test(arguments: Harness.platforms)
    func straceFollowsChildren(_ platform: Harness.TestPlatform) throws {
        let path = try #require(Self.appletPath, "busybox-static is not installed")
        let r = Harness.sandboxed(platform, "/bin/busybox", ["sh", "-c", "echo hi | cat; exit 3"], extra: ["--strace"], env: ["PATH": path])
        #expect(r.status == 3)
        #expect(r.stdout == "hi\n")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("[pid     2] execve(\"") || $0.hasPrefix("[pid     3] execve(\"") })
        #expect(lines.contains { $0.contains("wait4(") })
        #expect(lines.contains { $0.hasPrefix("[pid     1] exit_group(3)") })
        #expect(lines.contains { $0.hasPrefix("[pid     1] +++ exited with 3 +++") })
        #expect(lines.contains { $0.contains("--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED") })
    }
}

/// A guest that attacks the stub's own pages ends with a clean errno or a
/// clean kill (SIGSEGV for a fault, SIGKILL when its stub had to die),
/// never with a sentry failure.
@Suite(.serialized) struct StubAbuseTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    @Test(arguments: Harness.platforms)
    func stubPagesCannotBeTouched(_ platform: Harness.TestPlatform) {
        let refused = [("munmap", "munmap stub: -1 Invalid argument"), ("mprotect", "mprotect stub: -1 Cannot allocate memory"),
                       ("mmap", "mmap over stub: 0xffffffffffffffff Cannot allocate memory")]
        for (how, line) in refused {
            let r = Harness.sandboxed(platform, Harness.image("abuse"), [how])
            #expect(r.status == 0 && r.stdout == line + "\n", "\(how) on \(platform.rawValue): \(r)")
        }
        for how in ["jump", "selector", "area", "code"] {
            let r = Harness.sandboxed(platform, Harness.image("abuse"), [how])
            if (platform.rawValue == "systrap-seccomp" || platform.rawValue == "vmexec") && (how == "selector" || how == "area") {
                // systrap-seccomp: no Syscall User Dispatch in use, so the selector
                // means nothing, and the next trap rewrites the area fields that
                // matter. vmexec: the parked stub's area is in the guest's own mm
                // and the guest may write it (a documented gap, inside the
                // sandbox). Either the guest goes on, or its stub dies and it is
                // killed; never worse.
                #expect(r.status == 0 || r.status == 137, "\(how): \(r)")
                #expect(r.status != 0 || r.stdout.hasSuffix("wrote\n") || r.stdout.hasSuffix("wrote area\n"), "\(how): \(r)")
                continue
            }
            #expect(r.status == 139 || r.status == 137, "\(how) on \(platform.rawValue): \(r)")
            #expect(!r.stdout.contains("returned") && !r.stdout.contains("wrote"), "\(how) on \(platform.rawValue)")
            #expect(r.stderr.hasSuffix("Segmentation fault\n") || r.stderr.hasSuffix("Killed\n"), "\(how): \(r.stderr)")
        }
    }
}
