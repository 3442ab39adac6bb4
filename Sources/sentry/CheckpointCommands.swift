import ArgumentParser
import FoundationEssentials
import Glibc
import Sentry
import Syscalls

/// `sentry checkpoint NAME --image DIR [--leave-running] [--compress] [--sync]`.
struct Checkpoint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Freeze a named sandbox and write its image; then stop it, or let it go on.",
        discussion: "Exit status: 0 written; 73 no such sandbox; 74 the sandbox holds something the image cannot (named); 75 it could not be frozen; 76 the image could not be written.")

    @Argument(help: "The sandbox's name (sentry run --name).")
    var name: String

    @Option(help: ArgumentHelp("The image directory (created; an image there is replaced).", valueName: "DIR"))
    var image: String

    @Flag(name: .customLong("leave-running"), help: "Let the sandbox go on after writing the image.")
    var leaveRunning = false

    @Flag(help: "Compress the page store and file contents (zlib).")
    var compress = false

    @Flag(help: "Return only once the image is on disk (fsync of its files and directory). Without it the image is complete for any reader when the command returns, and the host writes it back in its own time: a host crash before then can leave a torn image, which a restore refuses (checksums).")
    var sync = false

    func run() throws {
        let dir = image.hasPrefix("/") ? image : FileManager.default.currentDirectoryPath + "/" + image
        let r: ControlResponse
        do {
            r = try ControlClient.send(ControlRequest(op: .checkpoint, image: dir, leaveRunning: leaveRunning, compress: compress, sync: sync), to: name, timeout: nil)
        } catch { fail(error.description, .control) }
        guard r.ok else {
            var line = "sentry: " + (r.error ?? "checkpoint failed") + "\n"
            line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
            Glibc.exit(r.exitStatus ?? SentryExit.control.rawValue)
        }
        if let s = r.summary { print("checkpointed \(name) to \(dir): \(s)") }
    }
}

/// `sentry restore --image DIR [--platform P]`.
struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Resume a checkpointed sandbox; its output continues on this terminal.",
        discussion: "The exit status is the guest's. A bad image: 77 truncated, 78 corrupt (a checksum), 79 incompatible (format, version, another host boot), 80 a host file changed; 70 the rebuild failed; 71 platform unavailable.")

    @Option(help: ArgumentHelp("The image directory.", valueName: "DIR"))
    var image: String

    @Option(help: "Trapping backend for the restored sandbox: auto, ptrace, systrap or vmexec.")
    var platform: String = "auto"

    @Option(name: .customLong("systrap-trap"), help: "systrap's trap: sud or seccomp.")
    var systrapTrap: String?

    @Option(name: .customLong("systrap-patch"), help: "systrap's syscall-site patching: on or off (default: SENTRY_SYSTRAP_PATCH, else on). The image's patched sites are kept with it on, and get their original bytes back otherwise.")
    var systrapPatch: String?

    @Option(help: ArgumentHelp("Name the restored sandbox (a control socket, as sentry run --name).", valueName: "NAME"))
    var name: String?

    @Flag(name: .customLong("no-self-confine"), help: "Run the sentry without its own seccomp filter (as sentry run --no-self-confine).")
    var noSelfConfine = false

    func validate() throws {
        guard platform == "auto" || PlatformKind(rawValue: platform) != nil else {
            throw ValidationError("unknown platform '\(platform)' (choose auto, ptrace, systrap or vmexec)")
        }
        if let systrapTrap, systrapTrap != "sud" && systrapTrap != "seccomp" {
            throw ValidationError("unknown --systrap-trap '\(systrapTrap)' (choose sud or seccomp)")
        }
        if let systrapPatch, systrapPatch != "on" && systrapPatch != "off" {
            throw ValidationError("unknown --systrap-patch '\(systrapPatch)' (choose on or off)")
        }
        if let name, !RuntimeDirectory.isValid(name: name) { throw ValidationError("--name \(name): not a valid name") }
    }

    func run() throws {
        Kernel.blockStubExitSignals()
        let kind = platform == "auto" ? nil : PlatformKind(rawValue: platform)
        // The chosen platform alone: a survey of all reads /proc/kallsyms (tens of ms).
        if let kind, !kind.status().available {
            fail("platform \(platform) is not available here (see `sentry platforms`)", .platformUnavailable)
        }
        let restored: RestoredSandbox
        do {
            restored = try Sandbox.restore(image: image, platform: kind, seccompTrap: systrapTrap.map { $0 == "seccomp" },
                                              systrapPatch: systrapPatch.map { $0 == "on" }, table: linuxAMD64)
        } catch {
            var line = "sentry: " + error.description + "\n"
            line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
            Glibc.exit(error.exitStatus)
        }
        let kernel = restored.sandbox.kernel
        let control = name.map { RunOptions.claim($0, restored.sandbox) }
        _ = ThreadGroup.startingLimits
        RunOptions.raiseDescriptorLimit()
        kernel.forwardHostSignals()
        // Every object is rebuilt and no task runs yet: the same filter as
        // `sentry run` from here on (stubs for the restored address spaces
        // are started under it, as a fork's are).
        RunOptions.confine(restored.sandbox, mode: RunOptions.selfConfineMode(off: noSelfConfine), controlSocket: name != nil)
        #if DEBUG
        RunOptions.testForbiddenSyscall()
        #endif
        let status = restored.run()
        kernel.closeTracing()?.end()
        control?.close()
        if kernel.wasCheckpointed { Glibc.exit(0) }
        if case .signaled(let sig, _) = status, !sig.shellReport.isEmpty {
            var line = sig.shellReport + "\n"
            line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
        }
        Glibc.exit(status.shellStatus)
    }
}

extension UInt64 {
    /// A sum that stops at the top rather than trapping.
    func addingClamped(_ n: UInt64) -> UInt64 { let (s, o) = addingReportingOverflow(n); return o ? .max : s }
}

/// `sentry inspect DIR`: what an image holds.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show what a checkpoint image holds.")

    @Argument(help: "The image directory.")
    var image: String

    @Flag(help: "Print the manifest itself (JSON).")
    var json = false

    func run() throws {
        let m: CheckpointManifest
        do { m = try CheckpointImage.readManifest(image) } catch {
            var line = "sentry: " + error.description + "\n"
            line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
            Glibc.exit(error.exitStatus)
        }
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: (try? e.encode(m)) ?? Data(), as: UTF8.self))
            return
        }
        print("image      \(image)")
        print("format     \(m.format) version \(m.version) (sentry \(m.sentryVersion))")
        print("created    \(m.created) on \(m.platform)")
        print("sandbox    root \(m.sandbox.root), hostname \(m.sandbox.hostname), network \(m.sandbox.network)"
              + m.sandbox.binds.map { ", bind \($0.host):\($0.guest)\($0.readOnly ? "" : ":rw")" }.joined())
        // What an image says is shown as it says it: sums saturate and an index
        // that names nothing is "?", since a corrupt image must not crash inspect.
        let stored = m.memory.runs.reduce(UInt64(0)) { $0.addingClamped($1.length) }
        let owned = m.memory.allocated.reduce(UInt64(0)) { $0.addingClamped($1.upperBound - $1.lowerBound) }
        let packed = m.memory.runs.contains { $0.compressed != nil }
            ? ", \(m.memory.runs.reduce(UInt64(0)) { $0.addingClamped($1.compressed ?? $1.length) }) compressed" : ""
        print("memory     \(owned) bytes mapped, \(stored) bytes stored\(packed) in \(m.memory.runs.count) runs, \(m.memory.zeroPagesSkipped) zero pages skipped")
        print("files      pages.bin \(m.pagesSize) bytes, files.bin \(m.filesSize) bytes")
        print("processes")
        for p in m.processes {
            let tasks = m.tasks.filter { $0.pid == p.pid }
            let cmd = tasks.first.map { $0.commandLine.joined(separator: " ") } ?? ""
            let state = p.zombie ? "zombie" : "\(tasks.count) task\(tasks.count == 1 ? "" : "s")"
            print("  pid \(p.pid) ppid \(p.parent ?? 0) pgid \(p.pgid) sid \(p.sid)  \(state)  \(cmd)")
            let timers = (p.posixTimers ?? []).map { "timer \($0.id)" + ($0.remainingNs.map { " \($0 / 1_000_000) ms left" } ?? " disarmed") }
                + (p.cpuTimers ?? []).map { ($0.which == 1 ? "ITIMER_VIRTUAL" : "ITIMER_PROF") + " \($0.remainingNs / 1_000_000) ms left" }
                + (p.realTimerNs.map { ["ITIMER_REAL \($0 / 1_000_000) ms left"] } ?? [])
            if !timers.isEmpty { print("    timers \(timers.joined(separator: ", "))") }
            for t in tasks {
                let vmas = m.mms.indices.contains(t.mm) ? m.mms[t.mm].vmas : []
                let bytes = vmas.reduce(UInt64(0)) { $0.addingClamped($1.end &- $1.start) }
                print("    tid \(t.tid)  rip 0x\(String(t.registers.count > 16 ? t.registers[16] : 0, radix: 16))  \(vmas.count) mappings (\(bytes) bytes)"
                      + (t.restartSleepNs != nil ? "  sleeping (restart_syscall)" : "")
                      + (t.seccompNotification.map { "  waiting for seccomp notification \($0.last ?? 0)" } ?? "")
                      + (t.vforkChild.map { "  in vfork until tid \($0) execs or exits" + (t.vforkChildReleased == true ? " (done)" : "") } ?? "")
                      + (t.seccompMode == 1 ? "  seccomp strict" : "")
                      + (t.seccompFilter.map { "  seccomp filter \($0)" } ?? "")
                      + (t.syscallUserDispatch?.mode == 1 ? "  SUD on" : "")
                      + (t.landlockDomain.map { "  landlock domain \($0)" } ?? ""))
                let entries = m.fdTables.indices.contains(t.fdTable) ? m.fdTables[t.fdTable].entries : []
                let fds = entries.map { e -> String in
                    guard m.files.indices.contains(e.file) else { return "\(e.fd):?" }
                    let f = m.files[e.file]
                    switch f.kind {
                    case .stdio: return "\(e.fd):stdio\(f.stdio ?? -1)"
                    case .pipe: return "\(e.fd):pipe[\(f.pipe ?? -1)]\(f.writer == true ? "w" : "r")"
                    case .eventfd: return "\(e.fd):eventfd"
                    case .epoll: return "\(e.fd):epoll(\(f.interests?.count ?? 0))"
                    case .path: return "\(e.fd):\(f.guestPath ?? "?")"
                    case .mqueue: return "\(e.fd):mqueue:\(f.mqueue.flatMap { m.mqueues?.indices.contains($0) == true ? m.mqueues![$0].name : nil } ?? "?")"
                    case .memfd: return "\(e.fd):\(f.memfd.flatMap { m.memfds?.indices.contains($0) == true ? m.memfds![$0].node.name : nil } ?? "memfd")"
                    case .socket: return "\(e.fd):socket[\(f.socket ?? -1)]"
                    case .timerfd: return "\(e.fd):timerfd" + (f.remainingNs.map { "(\($0 / 1_000_000) ms left)" } ?? "(disarmed)")
                    case .signalfd: return "\(e.fd):signalfd(0x\(String(f.mask ?? 0, radix: 16)))"
                    case .pidfd: return "\(e.fd):pidfd(\(f.pid ?? -1))"
                    case .seccompNotify: return "\(e.fd):seccomp-listener[\(f.listener ?? -1)]"
                    case .landlockRuleset: return "\(e.fd):landlock-ruleset(\(f.landlock?.rules.count ?? 0) rules)"
                    case .inotify: return "\(e.fd):inotify(\(f.inotify?.watches.count ?? 0) watches, \(f.inotify?.events.count ?? 0) events)"
                    case .pty: return "\(e.fd):" + (f.master == true ? "ptmx" : "pts") + "[\(f.pty.flatMap { m.ptys?.indices.contains($0) == true ? m.ptys![$0].index : nil } ?? -1)]"
                    }
                }
                print("      fds \(fds.joined(separator: " "))")
            }
        }
        for (i, f) in (m.seccompFilters ?? []).enumerated() {
            print("seccomp[\(i)] \(f.instructions.count) instructions" + (f.previous.map { ", over filter \($0)" } ?? "")
                  + (f.listener.map { ", listener \($0)" } ?? ""))
        }
        for (i, d) in (m.landlockDomains ?? []).enumerated() {
            print("landlock[\(i)] handles 0x\(String(d.layer.handled, radix: 16))" + (d.parent.map { ", over domain \($0)" } ?? "")
                  + d.layer.rules.map { ", \($0.path) 0x\(String($0.access, radix: 16))" }.joined())
        }
        for (i, l) in (m.seccompListeners ?? []).enumerated() {
            print("seccomp-listener[\(i)] next id \(l.nextID), \(l.pending.count) pending"
                  + l.pending.map { " (id \($0.id) tid \($0.tid) \($0.phase))" }.joined() + (l.detached ? ", fd closed" : ""))
        }
        if let v = m.sysv, !(v.shm.isEmpty && v.sem.isEmpty && v.msg.isEmpty) {
            print("sysv ipc   \(v.shm.count) segments (\(v.shm.reduce(UInt64(0)) { $0.addingClamped($1.memory.upperBound - $1.memory.lowerBound) }) bytes), \(v.sem.count) semaphore sets, \(v.msg.count) message queues (\(v.msg.reduce(0) { $0 + $1.texts.count }) messages)")
        }
        for q in m.mqueues ?? [] {
            print("mqueue     /\(q.name)\(q.linked ? "" : " (unlinked)"): \(q.messages.count) of \(q.maxMessages) messages")
        }
        for f in m.memfds ?? [] {
            let bytes = f.node.memory.map { "\($0.size) bytes (mapped shared: in the page store)" } ?? "\(f.node.contents?.length ?? 0) bytes"
            if let mount = f.mountPath {
                print("unlinked   \(f.parentPath.map { $0 == "/" ? "/" : $0 + "/" } ?? mount + "/")\(f.node.name) (deleted, on the tmpfs at \(mount)): \(bytes)"
                      + (f.linkable == true ? ", linkable (O_TMPFILE)" : ""))
            } else {
                print("memfd      \(f.node.name): \(bytes), seals 0x\(String(f.seals, radix: 16))")
            }
        }
        for (i, k) in (m.sockets ?? []).enumerated() {
            let family = k.family == 1 ? "unix" : k.family == 10 ? "inet6" : "inet"
            let name = k.boundPath ?? k.address.flatMap { a in a.unix.map { $0.count > 2 && $0[2] == 0 ? "@" + String(decoding: $0.dropFirst(3), as: UTF8.self) : "" }
                ?? a.inet.map { "port \($0.count > 2 ? $0[2] : 0)" } } ?? ""
            print("socket[\(i)]  \(family) \(k.kind) \(k.phase)\(name.isEmpty ? "" : " " + name)\(k.peer.map { ", peer socket[\($0)]" } ?? "")"
                  + "\(k.backlog.isEmpty ? "" : ", \(k.backlog.count) pending")\(k.messages.isEmpty ? "" : ", \(k.messages.count) messages (\(k.contents.length) bytes) queued")")
        }
        for (i, p) in m.pipes.enumerated() { print("pipe[\(i)]    \(p.contents.length) bytes buffered, capacity \(p.capacity)") }
        for t in m.tmpfs {
            func count(_ n: TmpfsNodeImage) -> (Int, UInt64) {
                n.children.reduce((n.contents != nil ? 1 : 0, n.contents?.length ?? 0)) { acc, c in let x = count(c); return (acc.0 + x.0, acc.1.addingClamped(x.1)) }
            }
            let (files, bytes) = count(t.root)
            print("tmpfs      \(t.mountPath): \(files) files, \(bytes) bytes")
        }
    }
}
