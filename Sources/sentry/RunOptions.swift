import ArgumentParser
import Glibc
import Sentry
import Syscalls

/// `sentry run`'s flags as plain values, and what running them does.
struct RunOptions: Equatable {
    var platform = "auto"
    var systrapTrap: String?
    /// systrap's syscall-site patching: "on", "off"; nil: SENTRY_SYSTRAP_PATCH, else on.
    var systrapPatch: String?
    var root = "/"
    /// The root writable, its changes kept in sentry memory.
    var overlay = false
    var binds: [String] = []
    var strace = false
    var output: String?
    var filter: String?
    var json = false
    /// strace's own flags: -c (summary only), -C (trace and summary), -T, -t/-tt/-ttt (count), -r,
    /// -y/-yy (count), -s N, -e EXPR (repeatable), -f (accepted: children are always followed).
    var summaryOnly = false
    var summary = false
    var callTime = false
    var summaryWallClock = false   // -w
    var timestamps = 0
    var relative = false
    var fdPaths = 0
    var stackTraces = false
    var stringLimit: Int?
    var expressions: [String] = []
    var follow = false
    /// The guest's starting directory (a guest path); default: the sentry's own, where the guest sees it.
    var cwd: String?
    /// K=V settings applied over the inherited environment, or over none with envClear.
    var env: [String] = []
    var envClear = false
    var hostname: String?
    /// UID[:GID], the guest's ids.
    var user: String?
    /// What AF_INET/AF_INET6 sockets reach: none (the sandbox's own loopback) or host.
    var network = "none"
    /// [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp], repeatable.
    var publish: [String] = []
    /// --memory SIZE (or none), --tmpfs-size SIZE, --pids N.
    var memory: String?
    var tmpfsSize: String?
    var pids: String?
    /// --no-self-confine: no seccomp filter on the sentry itself.
    var noSelfConfine = false
    /// The sandbox's name: a control socket for `sentry list/kill/checkpoint`.
    var name: String?
    /// The program and its arguments (a leading "--" kept, as ArgumentParser passes it).
    var command: [String] = []

    /// `run`'s arguments read without ArgumentParser, or nil for anything
    /// but the plain forms: `--name value`, `--name=value`, `-o value`, the
    /// two flags, each value option at most once (`--bind` repeatable), then
    /// PROGRAM or `--`. ArgumentParser's reflection costs about 2.5 ms of CPU
    /// at every start, a third of `sentry run hello`; whatever this declines
    /// (help, mistakes, other spellings) goes to ArgumentParser, which stays
    /// the definition of the interface and of its messages. A unit test holds
    /// the two to the same answers.
    static func quick(_ args: [String]) -> RunOptions? {
        var o = RunOptions()
        var seen: Set<String> = []
        var i = 0
        while i < args.count {
            let arg = args[i]
            guard arg.hasPrefix("-"), arg != "--" else {
                o.command = Array(args[i...])
                return o
            }
            var name = arg, value: String?
            if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
                name = String(arg[..<eq])
                value = String(arg[arg.index(after: eq)...])
            }
            switch name {
            case "--strace", "--strace-json", "--env-clear", "--overlay", "--no-self-confine":
                guard value == nil, seen.insert(name).inserted else { return nil }
                switch name {
                case "--strace": o.strace = true
                case "--env-clear": o.envClear = true
                case "--overlay": o.overlay = true
                case "--no-self-confine": o.noSelfConfine = true
                default: o.json = true
                }
                i += 1
                continue
            case "--platform", "--systrap-trap", "--systrap-patch", "--root", "--bind", "--strace-output", "-o", "--strace-filter",
                 "--strace-syscalls", "--cwd", "--env", "--hostname", "--user", "--network", "--publish", "--memory", "--tmpfs-size",
                 "--pids", "--name":
                break
            default:
                return nil
            }
            if value == nil {
                guard i + 1 < args.count, !args[i + 1].hasPrefix("-") else { return nil }
                value = args[i + 1]
                i += 1
            }
            i += 1
            let key = name == "-o" ? "--strace-output" : name == "--strace-syscalls" ? "--strace-filter" : name
            guard key == "--bind" || key == "--env" || key == "--publish" || seen.insert(key).inserted, let v = value, !v.isEmpty else { return nil }
            switch key {
            case "--platform": o.platform = v
            case "--systrap-trap": o.systrapTrap = v
            case "--systrap-patch": o.systrapPatch = v
            case "--root": o.root = v
            case "--bind": o.binds.append(v)
            case "--strace-output": o.output = v
            case "--cwd": o.cwd = v
            case "--env": o.env.append(v)
            case "--hostname": o.hostname = v
            case "--user": o.user = v
            case "--network": o.network = v
            case "--publish": o.publish.append(v)
            case "--memory": o.memory = v
            case "--tmpfs-size": o.tmpfsSize = v
            case "--pids": o.pids = v
            case "--name": o.name = v
            default: o.filter = v
            }
        }
        return nil   // no PROGRAM: ArgumentParser says so
    }

    /// What ArgumentParser checks after parsing (Run.validate), and the fast path too.
    func validate() throws(ValidationError) {
        guard let first = command.first, !first.isEmpty else { throw ValidationError("missing PROGRAM to run") }
        if first.hasPrefix("-") && first != "--" { throw ValidationError("unknown option '\(first)'") }
        guard platform == "auto" || PlatformKind(rawValue: platform) != nil else {
            throw ValidationError("unknown platform '\(platform)' (choose auto, ptrace, systrap or vmexec)")
        }
        if let systrapTrap, systrapTrap != "sud" && systrapTrap != "seccomp" {
            throw ValidationError("unknown --systrap-trap '\(systrapTrap)' (choose sud or seccomp)")
        }
        if let systrapPatch, systrapPatch != "on" && systrapPatch != "off" {
            throw ValidationError("unknown --systrap-patch '\(systrapPatch)' (choose on or off)")
        }
        for b in binds { _ = try Self.parseBind(b) }
        for e in env where !(e.firstIndex(of: "=").map { $0 != e.startIndex } ?? false) {
            throw ValidationError("--env \(e): expected NAME=VALUE")
        }
        if let cwd, !cwd.hasPrefix("/") { throw ValidationError("--cwd \(cwd): expected an absolute guest path") }
        if let user { _ = try Self.parseUser(user) }
        guard NetworkMode(rawValue: network) != nil else {
            throw ValidationError("unknown --network '\(network)' (choose none or host)")
        }
        for p in publish where PublishedPort.parse(p) == nil {
            throw ValidationError("--publish \(p): expected [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp], ports 1 to 65535")
        }
        // Under --network=host the guest binds host ports itself.
        if !publish.isEmpty && network != "none" { throw ValidationError("--publish needs --network=none") }
        _ = try resourceLimits()
        // sethostname's limit: __NEW_UTS_LEN.
        if let hostname, hostname.isEmpty || hostname.utf8.count > 64 {
            throw ValidationError("--hostname: expected 1 to 64 bytes")
        }
        if let name, !RuntimeDirectory.isValid(name: name) {
            throw ValidationError("--name \(name): letters, digits, _ . - (not first), at most 64 bytes")
        }
        if let filter {
            for name in filter.split(separator: ",") where linuxAMD64.number(of: String(name)) == nil {
                throw ValidationError("--strace-filter: unknown syscall '\(name)'")
            }
        }
        _ = try traceOptions()
    }

    /// --memory (nil: the default; .max: none), --tmpfs-size, --pids.
    func resourceLimits() throws(ValidationError) -> (memory: UInt64?, tmpfs: UInt64?, pids: Int?) {
        var m: UInt64?
        if let memory {
            if memory == "none" || memory == "max" { m = .max } else {
                guard let v = MemoryLimit.parseSize(memory), v >= 1 << 20 else {
                    throw ValidationError("--memory \(memory): expected a size of at least 1M (bytes, or with K, M, G, T), or none")
                }
                m = v
            }
        }
        var t: UInt64?
        if let tmpfsSize {
            guard let v = MemoryLimit.parseSize(tmpfsSize) else {
                throw ValidationError("--tmpfs-size \(tmpfsSize): expected a size (bytes, or with K, M, G, T)")
            }
            t = v
        }
        var p: Int?
        if let pids {
            guard let v = Int(pids), v > 0 else { throw ValidationError("--pids \(pids): expected a number of tasks above 0") }
            p = v
        }
        return (m, t, p)
    }

    /// strace's flags among `run`'s.
    var traceFlags: TraceFlags {
        var f = TraceFlags()
        f.strace = strace; f.json = json; f.filter = filter; f.summaryOnly = summaryOnly; f.summary = summary
        f.callTime = callTime; f.summaryWallClock = summaryWallClock; f.timestamps = timestamps; f.relative = relative; f.fdPaths = fdPaths
        f.stackTraces = stackTraces; f.stringLimit = stringLimit; f.expressions = expressions
        return f
    }

    /// What the tracer is asked for, or nil when no flag asks for a trace or a summary.
    func traceOptions() throws(ValidationError) -> TraceOptions? {
        let flags = traceFlags
        let options: TraceOptions
        do { options = try flags.options { linuxAMD64.number(of: $0) } } catch { throw ValidationError(error.message) }
        return flags.requested || output != nil ? options : nil
    }

    /// The guest got the sentry's limits at start; the sentry itself needs more
    /// descriptors than any one guest process (stubs, O_PATH walks, host files).
    static func raiseDescriptorLimit() {
        var l = rlimit()
        getrlimit(__rlimit_resource_t(UInt32(RLIMIT_NOFILE.rawValue)), &l)
        var want = rlimit(rlim_cur: 1 << 20, rlim_max: max(l.rlim_max, 1 << 20))
        if setrlimit(__rlimit_resource_t(UInt32(RLIMIT_NOFILE.rawValue)), &want) != 0 {
            want = rlimit(rlim_cur: l.rlim_max, rlim_max: l.rlim_max)
            _ = setrlimit(__rlimit_resource_t(UInt32(RLIMIT_NOFILE.rawValue)), &want)
        }
    }

    /// UID[:GID], numbers (the guest's /etc/passwd is not consulted); GID defaults to 0, as docker's.
    static func parseUser(_ spec: String) throws(ValidationError) -> (uid: UInt32, gid: UInt32) {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let uid = UInt32(parts[0]), uid != UInt32.max,
              let gid = parts.count == 2 ? UInt32(parts[1]) : 0, gid != UInt32.max else {
            throw ValidationError("--user \(spec): expected UID[:GID], numbers below 4294967295")
        }
        return (uid, gid)
    }

    /// HOST:GUEST[:ro|rw], GUEST absolute.
    static func parseBind(_ spec: String) throws(ValidationError) -> (host: String, guest: String, readOnly: Bool) {
        var parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var readOnly = true
        if parts.count == 3 {
            guard parts[2] == "ro" || parts[2] == "rw" else { throw ValidationError("--bind \(spec): the mode must be ro or rw") }
            readOnly = parts[2] == "ro"
            parts.removeLast()
        }
        guard parts.count == 2, !parts[0].isEmpty, parts[1].hasPrefix("/") else {
            throw ValidationError("--bind \(spec): expected HOST:GUEST[:ro|rw] with an absolute GUEST path")
        }
        return (parts[0], VFS.normalize(parts[1]), readOnly)
    }

    /// Sets the sandbox up, runs the guest, and exits with its status.
    func launch() -> Never {
        var argv = command
        if argv.first == "--" { argv.removeFirst() }
        guard !argv.isEmpty else { fail("missing PROGRAM to run", .usage) }
        // The guest starts with the mask the sentry was given; then every
        // sentry thread, made from here on, inherits SIGCHLD blocked.
        let inherited = Kernel.hostSignalState()
        Kernel.blockStubExitSignals()

        var config = SandboxConfiguration()
        config.platform = platform == "auto" ? nil : PlatformKind(rawValue: platform)!
        config.seccompTrap = systrapTrap.map { $0 == "seccomp" }
        config.systrapPatch = systrapPatch.map { $0 == "on" }
        config.root = root
        config.overlay = overlay
        config.hostname = hostname
        config.network = NetworkMode(rawValue: network) ?? .none
        config.published = publish.compactMap(PublishedPort.parse)
        if let limits = try? resourceLimits() {
            config.memory = limits.memory; config.tmpfsSize = limits.tmpfs; config.pids = limits.pids
        }
        if let user, let ids = try? Self.parseUser(user) { config.credentials = .user(uid: ids.uid, gid: ids.gid) }
        for spec in binds {
            do {
                let b = try Self.parseBind(spec)
                config.binds.append(.init(host: b.host, guest: b.guest, readOnly: b.readOnly))
            } catch { fail(String(describing: error), .usage) }
        }
        // The trace file is truncated only once the tree it will trace can be built.
        for b in config.binds {
            var st = Glibc.stat()
            if stat(b.host.hostCString, &st) != 0 { fail("--bind \(b.host):\(b.guest): \(b.host): \(Errno(errno).message)", .usage) }
        }
        if let options = try? traceOptions() {
            var fd: Int32 = 2
            if let output {
                fd = open(output.hostCString, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                if fd < 0 { fail("-o \(output): \(Errno(errno).message)", .usage) }
            }
            config.tracer = Tracer(fd: fd, options: options)
        }
        let sandbox: Sandbox
        do { sandbox = try Sandbox(config, table: linuxAMD64) } catch {
            switch error {
            case .platformUnavailable: fail(error.description, .platformUnavailable)
            case .platformFailed: fail(error.description, .internalError)
            case .root, .bind, .publish: fail(error.description, .usage)
            }
        }
        let kernel = sandbox.kernel
        let control = name.map { Self.claim($0, sandbox) }

        var cwd = "/"
        var startsWhereTheUserIs = false
        if let guestCWD = self.cwd {
            guard sandbox.isDirectory(guestCWD) else { fail("--cwd \(guestCWD): no such directory in the guest's view", .usage) }
            cwd = guestCWD
        } else if let host = hostCWD(), let g = sandbox.expose(hostDirectory: host) {
            cwd = g
            startsWhereTheUserIs = true
        }
        // A program named by its host path, which the guest sees at the same
        // path (`sentry run /tmp/build/prog` from anywhere), must not be "no
        // such file" because the sandbox's own /tmp covers it.
        if argv[0].hasPrefix("/"), let slash = argv[0].lastIndex(of: "/") {
            var st = Glibc.stat()
            let dir = VFS.normalize(String(argv[0][..<slash]))
            if stat(argv[0].hostCString, &st) == 0, st.st_mode & S_IFMT == S_IFREG, sandbox.guestPath(ofHost: dir)?.path == dir {
                _ = sandbox.expose(hostDirectory: dir)
            }
        }
        // An inherited PWD names the user's directory; a guest started
        // elsewhere (--cwd, or / when that directory is not in its view)
        // finds its own there, as a shell's cd would have left it.
        var hostEnv = envClear ? [] : environment()
        if !startsWhereTheUserIs, let i = hostEnv.firstIndex(where: { $0.hasPrefix("PWD=") }) { hostEnv[i] = "PWD=" + cwd }
        let env = Self.merge(hostEnv, self.env)
        let program = sandbox.resolveProgram(argv[0], cwd: cwd, env: env)

        _ = ThreadGroup.startingLimits
        Self.raiseDescriptorLimit()
        kernel.forwardHostSignals()
        // From here on the sentry makes only the host calls serving guests
        // needs: its own filter goes in while the first guest is loaded.
        // SENTRY_SELF_CONFINE=log logs what the filter would refuse to the
        // kernel's log instead (how its list was made).
        let confinement = BackgroundConfinement(sandbox, mode: Self.selfConfineMode(off: noSelfConfine), controlSocket: name != nil)
        let task: Task
        do { task = try kernel.start(path: program, argv: argv, envp: env, cwd: cwd,
                                     signalMask: inherited.mask, ignored: inherited.ignored) } catch {
            switch error {
            case .load(let e): fail(e.description, SentryExit.of(e))
            case .platform(let e):
                if case .unavailable = e { fail(e.description, .platformUnavailable) }
                fail(e.description, .internalError)
            case .guest: fail(error.description, .internalError)
            }
        }
        // The filter is in force before any guest code runs.
        confinement.wait()
        #if DEBUG
        Self.testForbiddenSyscall()
        #endif
        let status = kernel.run(task)
        // A live tracer's stream ends with the sandbox (after init's `+++ exited` line).
        kernel.closeTracing()?.end()
        control?.close()
        config.tracer?.finish()
        // Checkpointed and stopped: the sandbox goes on elsewhere, not killed.
        if kernel.wasCheckpointed { Glibc.exit(0) }
        if case .signaled(let sig, _) = status, !sig.shellReport.isEmpty {
            var line = sig.shellReport + "\n"
            line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
        }
        Glibc.exit(status.shellStatus)
    }


    /// The sentry's own filter: off with --no-self-confine, else as
    /// SENTRY_SELF_CONFINE says (on, log, off), else on.
    static func selfConfineMode(off: Bool) -> SelfConfinement.Mode {
        off ? .off : getenv("SENTRY_SELF_CONFINE").map { SelfConfinement.Mode(rawValue: String(cString: $0)) ?? .on } ?? .on
    }

    /// Confines the sentry (run and restore alike) once its sandbox is
    /// built; a filter the kernel refuses ends it before any guest runs.
    static func confine(_ sandbox: Sandbox, mode: SelfConfinement.Mode, controlSocket: Bool) {
        do { try installFilter(sandbox, mode: mode, controlSocket: controlSocket) } catch { failConfining(error) }
    }

    /// The filter compiled from the syscall table's names and installed.
    static func installFilter(_ sandbox: Sandbox, mode: SelfConfinement.Mode, controlSocket: Bool) throws(Errno) {
        let names = linuxAMD64.numbersByName()
        try sandbox.confine(mode, controlSocket: controlSocket) { names[$0] }
    }

    static func failConfining(_ error: Errno) -> Never {
        fail("confining the sentry (seccomp): \(error.message); --no-self-confine runs without", .internalError)
    }

    #if DEBUG
    /// Test builds only: a forbidden host call after confinement, which must
    /// kill the sentry with SIGSYS (SelfConfinementTests).
    static func testForbiddenSyscall() {
        if getenv("SENTRY_TEST_FORBIDDEN_SYSCALL") != nil {
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
            execv("/bin/true", argv)
        }
    }
    #endif

    /// Takes the sandbox's name and answers its control socket.
    static func claim(_ name: String, _ sandbox: Sandbox) -> ControlServer {
        let kernel = sandbox.kernel
        let server: ControlServer
        do { server = try ControlServer.claim(name: name) } catch {
            fail(error.description, error == .nameTaken(name) ? .nameInUse : .control)
        }
        do throws(ControlError) {
            try server.serve { [kernel, sandbox] request, reply in
                switch request.op {
                case .state:
                    reply(ControlResponse(ok: true, state: SandboxState(
                        name: name, pid: getpid(), platform: kernel.platform.name, guests: kernel.processCount,
                        memory: kernel.memoryInUse, status: kernel.isFinished ? "stopped" : "running")))
                case .kill:
                    let sig = Signal(request.signal ?? Signal.SIGTERM.rawValue)
                    guard sig.isValid else { reply(.failure("invalid signal \(sig.rawValue)")); return }
                    // Answered first: the signal may end the sandbox, and the sentry with it.
                    reply(ControlResponse(ok: true))
                    kernel.signalFromOutside(sig)
                case .checkpoint:
                    guard let dir = request.image, dir.hasPrefix("/") else { reply(.failure("checkpoint: an absolute --image path is needed")); return }
                    do throws(CheckpointError) {
                        _ = try sandbox.checkpoint(to: dir, leaveRunning: request.leaveRunning ?? false,
                                                   compress: request.compress ?? false, sync: request.sync ?? false) { summary in
                            reply(ControlResponse(ok: true, summary: summary.description))
                        }
                    } catch {
                        reply(ControlResponse(ok: false, error: error.description, exitStatus: error.exitStatus))
                    }
                case .trace:
                    LiveTrace.serve(kernel, flags: request.trace, reply: reply)
                }
            }
        } catch { fail(error.description, .control) }
        return server
    }

    private func hostCWD() -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return nil }
        return String(rawBytes: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) })
    }

    /// `settings` (NAME=VALUE) over `base`: a name set again keeps its place, a new one goes last.
    static func merge(_ base: [String], _ settings: [String]) -> [String] {
        var out = base
        for s in settings {
            let name = s[..<s.firstIndex(of: "=")!]
            if let i = out.firstIndex(where: { $0.hasPrefix(name + "=") }) { out[i] = s } else { out.append(s) }
        }
        return out
    }

    private func environment() -> [String] {
        var out: [String] = []
        var p = environ
        while let s = p.pointee {
            out.append(String(rawBytes: UnsafeRawBufferPointer(start: s, count: strlen(s))))
            p += 1
        }
        return out
    }


}
