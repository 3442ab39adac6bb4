import Foundation
import Testing
@testable import Sentry

/// Guest ptrace, served by the sentry (never the host's ptrace): a tracer
/// of its own (images/src/ptracer.c) compared with its native run on every
/// platform: syscall stops with GET_SYSCALL_INFO, signal-delivery-stops,
/// GETREGS/SETREGS changing an argument and a result, a skipped call,
/// putreg's checks, PEEK/POKE of data and struct user, FPU state and
/// regsets, fork/vfork/exec events, the SUD config get/set, seccomp's
/// RET_TRACE, SEIZE/INTERRUPT/LISTEN with a group-stop, DETACH, and
/// SINGLESTEP through glibc's raise() and its syscalls (the same addresses natively).
/// The host kernel (6.18) answers as 6.1 does for what it prints: the one
/// difference found (6.18 makes a PTRACE_EVENT_EXIT stop for a SIGKILL, 6.1
/// none) is left out of the program.
@Suite(.serialized) struct GuestPtraceTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    /// Whether the native run could trace at all (a container may refuse
    /// ptrace, a kernel before 6.4 has no SUD config requests).
    static func nativeRunUsable(_ r: Harness.Result) -> String? {
        if r.stdout.contains("== detach") && !r.stdout.contains("UNEXPECTED") { return nil }
        return "the native run of ptracer did not complete (no ptrace here, or a kernel before 6.4): \(r.stdout.suffix(300)) \(r.stderr)"
    }

    @Test(arguments: Harness.platforms)
    func tracerMatchesNative(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("ptracer"), [])
        if let why = Self.nativeRunUsable(native) { print("skipping the ptracer comparison on \(platform.rawValue): \(why)"); return }
        let boxed = Harness.sandboxed(platform, Harness.image("ptracer"))
        #expect(boxed == native, "ptracer on \(platform.rawValue)")
    }

    /// The same as a user without CAP_SYS_PTRACE: tracing one's own children
    /// needs no privilege.
    /// What gdb reads to choose its register layout: the user segment
    /// registers, XCR0 in NT_X86_XSTATE's software-reserved bytes (zeros in
    /// GETFPREGS'), and an image marking a component not yet used is taken
    /// (gdb writing a ymm register). gdb warned "Architecture rejected
    /// target-supplied description" in the sandbox before.
    @Test(arguments: Harness.platforms)
    func debuggerRegisterLayoutMatchesNative(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("xstateregs"), [])
        guard native.status == 0, native.stdout.hasPrefix("cs 0x33") else {
            print("skipping xstateregs on \(platform.rawValue): no ptrace natively here (\(native.stderr))"); return
        }
        #expect(Harness.sandboxed(platform, Harness.image("xstateregs")) == native, "\(platform.rawValue)")
    }

    @Test func tracerMatchesNativeAsAnotherUser() {
        let native = Harness.run(Harness.image("ptracer"), [])
        if let why = Self.nativeRunUsable(native) { print("skipping: \(why)"); return }
        let boxed = Harness.sandboxed(Harness.platforms[0], Harness.image("ptracer"), extra: ["--user", "1000:1000"])
        #expect(boxed == native)
    }

    /// gdb inside the sandbox: a breakpoint in text (POKETEXT or a
    /// /proc/PID/mem write with FOLL_FORCE), the stop, a backtrace, a
    /// variable, and on to the end, as gdb prints it natively.
    @Test(arguments: Harness.platforms)
    func gdbStopsAtABreakpointAsNatively(_ platform: Harness.TestPlatform) {
        let gdb = "/usr/bin/gdb"
        guard FileManager.default.isExecutableFile(atPath: gdb) else { print("skipping: no \(gdb)"); return }
        let args = ["-batch", "-nx", "-ex", "break twice", "-ex", "run", "-ex", "bt", "-ex", "print x", "-ex", "continue", Harness.image("gdbtarget")]
        func canonical(_ s: String) -> String { s.replacing(/process \d+/, with: "process N") }
        let native = Harness.run(gdb, args)
        guard native.stdout.contains("Breakpoint 1, twice") else { print("skipping: gdb does not run natively here: \(native.stderr.prefix(300))"); return }
        let boxed = Harness.sandboxed(platform, gdb, args)
        #expect(canonical(boxed.stdout) == canonical(native.stdout), "gdb on \(platform.rawValue): \(boxed.stderr.suffix(400))")
    }

    /// Yama scope 1 in the sandbox: without CAP_SYS_PTRACE a guest attaches
    /// to its descendants only (the host here has no Yama: natively the
    /// attach to the parent succeeds, so this is the sandbox's own rule).
    @Test func attachingToTheParentNeedsCapSysPtrace() {
        let user = Harness.sandboxed(Harness.platforms[0], Harness.image("ptracer"), ["yama"], extra: ["--user", "1000:1000"])
        #expect(user.stdout == "attach to parent: Operation not permitted\nparent's /proc/PID/mem: Permission denied\n", "\(user)")
        let root = Harness.sandboxed(Harness.platforms[0], Harness.image("ptracer"), ["yama"], extra: ["--user", "0:0"])
        #expect(root.stdout == "attach to parent: ok\nparent's /proc/PID/mem: ok\n", "\(root)")
    }
}

/// strace itself inside the sandbox: `strace -f` of a busybox pipeline,
/// compared with the native `strace -f` of the same command, per process,
/// modulo pids, addresses and what differs between any two runs.
@Suite(.serialized) struct GuestStraceTests {
    /// Debian's strace built static by images/strace/build.sh, else the
    /// host's own (Debian's package, dynamic: the sandbox loads its libraries).
    static var strace: String? {
        let built = Harness.image("strace-static")
        if FileManager.default.isExecutableFile(atPath: built) { return built }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/strace") { return "/usr/bin/strace" }
        return nil
    }

    /// strace -f's stderr as one list of calls per process, in the order the
    /// processes appear (the first, then each in the order it was attached):
    /// `<unfinished ...>` and `<... resumed>` halves joined, a line that an
    /// attach message cut in two mended, then pids, addresses, sizes, random
    /// bytes and times replaced by placeholders.
    static func processes(_ text: String, strace: String) -> [[String]] {
        let attachMessage = NSRegularExpression.escapedPattern(for: strace) + #": Process \d+ attached"#
        // A call's line that an attach message cut in two: its first half
        // waits for the continuation (the next line that is no line of its own).
        var lines: [String] = []
        var cut: String?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            var l = raw
            if let c = cut, !l.hasPrefix("[pid "), !l.hasPrefix("<... "), !l.hasPrefix("---"), !l.hasPrefix("+++"),
               l.range(of: attachMessage, options: [.regularExpression, .anchored]) == nil {
                l = c + l
                cut = nil
            }
            if let r = l.range(of: attachMessage, options: .regularExpression) {
                if r.lowerBound != l.startIndex { cut = String(l[..<r.lowerBound]) }
                continue
            }
            lines.append(l)
        }
        // The first process: the first [pid N] that strace did not attach to.
        // Its lines carry no prefix while it is the only process (and again at the end).
        let attachedOrder = attached(text)
        let firstPID = lines.lazy.compactMap { $0.firstMatch(of: /^\[pid +(\d+)\]/).map { String($0.1) } }
            .first { !attachedOrder.contains($0) } ?? "first"
        var calls: [String: [String]] = [:], partial: [String: String] = [:]
        for l in lines where !l.isEmpty {
            var pid = firstPID, body = l
            if let m = l.firstMatch(of: /^\[pid +(\d+)\] (.*)$/) { pid = String(m.1); body = String(m.2) }
            if body.hasSuffix("<unfinished ...>") { partial[pid] = String(body.dropLast("<unfinished ...>".count)); continue }
            if let m = body.firstMatch(of: /^<\.\.\. \S+ resumed>(.*)$/) { body = (partial.removeValue(forKey: pid) ?? "") + m.1 }
            // The sandbox has no vDSO: time() is a syscall there, strace sees it; natively not.
            if body.hasPrefix("time(") { continue }
            // Two children's SIGCHLDs coalesce or not, and reach the shell in or
            // after its wait4, as the scheduler has it (natively too).
            if body.hasPrefix("--- SIGCHLD") || body.hasPrefix("rt_sigreturn(") { continue }
            calls[pid, default: []].append(canonical(body))
        }
        return ([firstPID] + attachedOrder).map { calls[$0] ?? [] }
    }

    static func attached(_ text: String) -> [String] {
        text.matches(of: /: Process (\d+) attached/).map { String($0.1) }
    }

    static func canonical(_ line: String) -> String {
        var b = line
        b.replace(/0x[0-9a-f]+/, with: "0xX")
        b.replace(/^(clone|fork|vfork|wait4|getpid|getppid|gettid|set_tid_address)(\(.*\)) += \d+$/) { "\($0.1)\($0.2) = PID" }
        b.replace(/si_pid=\d+/, with: "si_pid=PID")
        b.replace(/^(rt_sigreturn\(.*\)) += \d+$/) { "\($0.1) = N" }
        b.replace(/^getrandom\(\ ?".*?"/, with: "getrandom(\"R\"")
        b.replace(/st_size=\d+/, with: "st_size=N")
        b.replace(/\/\* \d+ vars \*\//, with: "/* N vars */")
        // Where a call was cut in two, strace's halves meet with a space.
        b.replace(/\ {2,}/, with: " ")
        b.replace(/\ +([,)])/) { String($0.1) }
        b.replace(/,(\S)/) { ", \($0.1)" }
        return b
    }

    @Test func straceFollowsABusyboxPipelineAsNatively() throws {
        guard let strace = Self.strace else { print("skipping: no strace (run images/strace/build.sh)"); return }
        guard FileManager.default.isExecutableFile(atPath: "/bin/busybox") else { print("skipping: no /bin/busybox"); return }
        print("strace inside the sandbox: \(strace)")
        // A directory both runs list the same: images/strace (the build script alone).
        let dir = Harness.images.appendingPathComponent("strace").path
        let args = ["-f", "/bin/busybox", "sh", "-c", "cd \(dir) && ls | wc -l"]
        let native = Harness.run(strace, args)
        guard native.status == 0, native.stderr.contains("+++ exited with 0 +++") else {
            print("skipping: strace does not run natively here: \(native.stderr.prefix(300))")
            return
        }
        for platform in Harness.platforms {
            let boxed = Harness.sandboxed(platform, strace, args)
            #expect(boxed.status == 0, "strace on \(platform.rawValue): \(boxed.stderr.suffix(500))")
            #expect(boxed.stdout == native.stdout, "the pipeline's output on \(platform.rawValue)")
            // The shell first; its children in any order: which of them strace
            // reports attached first depends on the scheduler, natively too.
            func ordered(_ ps: [[String]]) -> [[String]] {
                ps.isEmpty ? ps : [ps[0]] + ps.dropFirst().sorted { $0.joined(separator: "\n") < $1.joined(separator: "\n") }
            }
            let want = ordered(Self.processes(native.stderr, strace: strace)), got = ordered(Self.processes(boxed.stderr, strace: strace))
            #expect(got.count == want.count, "processes traced on \(platform.rawValue): \(got.count) vs \(want.count)")
            for (i, (w, g)) in zip(want, got).enumerated() {
                let diff = g.difference(from: w).map { change -> String in
                    switch change {
                    case .insert(let at, let line, _): return "+\(at) \(line)"
                    case .remove(let at, let line, _): return "-\(at) \(line)"
                    }
                }
                if !diff.isEmpty { Issue.record("process \(i) on \(platform.rawValue) differs from native strace: \(diff.prefix(12))") }
            }
        }
    }
}
