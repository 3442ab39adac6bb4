import ArgumentParser
import Glibc
import Sentry
import Syscalls

/// Exit statuses of the sentry itself, distinct from each other. A guest's
/// own status passes through unchanged (128 + signal when killed).
enum SentryExit: Int32 {
    case usage = 64           // bad flags (ArgumentParser's own validation status)
    case notELF = 65
    case noSuchFile = 66
    case corruptELF = 67
    case wrongArchitecture = 68
    case dynamicBinary = 69
    case internalError = 70
    case platformUnavailable = 71

    static func of(_ e: LoadError) -> SentryExit {
        switch e {
        case .notFound, .unreadable: return .noSuchFile
        case .notELF: return .notELF
        case .truncated, .corrupt: return .corruptELF
        case .wrongArchitecture: return .wrongArchitecture
        case .dynamic: return .dynamicBinary
        }
    }
}

func fail(_ message: String, _ code: SentryExit) -> Never {
    var line = "sentry: " + message + "\n"
    line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    Glibc.exit(code.rawValue)
}

@main
struct SentryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sentry",
        abstract: "Run a static Linux x86-64 binary with every system call served by a userspace kernel.",
        subcommands: [Run.self, Platforms.self, Syscalls.self],
        defaultSubcommand: nil
    )
}

struct Run: ParsableCommand {
    // An explicit name spares ArgumentParser a String(describing:) of the type,
    // whose protocol-conformance scans are a visible part of start-up.
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run PROGRAM [ARGS...] in the sandbox.",
        discussion: "The exit status is the guest's; 128+N if a signal N killed it. The sentry's own failures: 64 bad flags, 65 not ELF, 66 no such file, 67 truncated or corrupt ELF, 68 not x86-64, 69 dynamic binary, 70 internal error, 71 platform unavailable."
    )

    @Option(help: "Trapping backend: auto, ptrace, systrap or vmexec (see `sentry platforms`).")
    var platform: String = "auto"

    @Option(name: .customLong("systrap-trap"), help: "How systrap traps guest syscalls: sud (Syscall User Dispatch, the default where the kernel has it) or seccomp (SECCOMP_RET_TRAP).")
    var systrapTrap: String?

    @Option(help: "Host directory that is the guest's read-only /.")
    var root: String = "/"

    @Option(name: .customLong("bind"), help: ArgumentHelp("Mount a host directory in the guest's tree, read-only unless :rw (repeatable).", valueName: "HOST:GUEST[:ro|rw]"))
    var binds: [String] = []

    @Flag(help: "Print each guest syscall as strace does.")
    var strace = false

    @Option(name: [.customShort("o"), .customLong("strace-output")], help: "Write the trace to FILE instead of stderr.")
    var output: String?

    @Option(name: .customLong("strace-filter"), help: "Trace only these syscalls (comma separated names).")
    var filter: String?

    @Flag(name: .customLong("strace-json"), help: "Trace as one JSON object per line.")
    var json = false

    @Argument(parsing: .captureForPassthrough, help: "The program and its arguments.")
    var command: [String] = []

    func validate() throws {
        guard let first = command.first, !first.isEmpty else { throw ValidationError("missing PROGRAM to run") }
        if first.hasPrefix("-") && first != "--" { throw ValidationError("unknown option '\(first)'") }
        guard platform == "auto" || PlatformKind(rawValue: platform) != nil else {
            throw ValidationError("unknown platform '\(platform)' (choose auto, ptrace, systrap or vmexec)")
        }
        if let systrapTrap, systrapTrap != "sud" && systrapTrap != "seccomp" {
            throw ValidationError("unknown --systrap-trap '\(systrapTrap)' (choose sud or seccomp)")
        }
        for b in binds { _ = try Self.parseBind(b) }
        if let filter {
            for name in filter.split(separator: ",") where linuxAMD64.number(of: String(name)) == nil {
                throw ValidationError("--strace-filter: unknown syscall '\(name)'")
            }
        }
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

    /// HOST:GUEST[:ro|rw], GUEST absolute.
    static func parseBind(_ spec: String) throws -> (host: String, guest: String, readOnly: Bool) {
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

    func run() throws {
        var argv = command
        if argv.first == "--" { argv.removeFirst() }
        guard !argv.isEmpty else { fail("missing PROGRAM to run", .usage) }
        // The guest starts with the mask the sentry was given; then every
        // sentry thread, made from here on, inherits SIGCHLD blocked.
        let inherited = Kernel.hostSignalState()
        Kernel.blockStubExitSignals()

        let kind: PlatformKind
        if platform == "auto" {
            guard let k = PlatformKind.auto() else { fail("no platform is available here (see `sentry platforms`)", .platformUnavailable) }
            kind = k
        } else {
            kind = PlatformKind(rawValue: platform)!
        }

        let memory: MemoryFile, stub: StubRegion, backend: Platform
        do {
            memory = try MemoryFile()
            let seccompTrap = kind == .systrap && (systrapTrap == "seccomp" || (systrapTrap == nil && !PlatformKind.sudAvailable))
            stub = try StubRegion.install(trapGuestSyscalls: seccompTrap)
            backend = try kind.make(memory: memory, stub: stub)
        } catch {
            if case .unavailable = error { fail(error.description, .platformUnavailable) }
            fail(error.description, .internalError)
        }

        let vfs: VFS
        do { vfs = try VFS(root: try HostFS(path: root), readOnly: true, memory: memory) } catch {
            fail("--root \(root): \(error.message)", .usage)
        }
        var hostDirs: [(host: String, guest: String)] = [(vfs.mounts.root.source, "/")]
        for spec in binds {
            let b = try Self.parseBind(spec)
            do { try vfs.bind(host: b.host, at: b.guest, readOnly: b.readOnly) } catch {
                fail("--bind \(spec): \(b.host): \(error.message)", .usage)
            }
            if let m = vfs.mounts.mount(at: b.guest) { hostDirs.append((m.source, b.guest)) }
        }

        var tracer: Tracer?
        if strace || json || output != nil || filter != nil {
            var fd: Int32 = 2
            if let output {
                fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                if fd < 0 { fail("-o \(output): \(Errno(errno).message)", .usage) }
            }
            let names = filter.map { Set($0.split(separator: ",").map(String.init)) }
            tracer = Tracer(fd: fd, style: json ? .json : .text, filter: names)
        }

        let kernel = Kernel(platform: backend, memory: memory, layout: AddressLayout(top: stub.base),
                            table: linuxAMD64, vfs: vfs, tracer: tracer)
        var cwd = "/"
        if let host = hostCWD(), let (g, through) = Self.guestPath(ofHost: host, hostDirs) {
            cwd = g
            // The directory the user runs from stays visible (read-only) even
            // where the sandbox's own /tmp, /dev or /proc, or a bind of some
            // other host directory, cover it.
            if let m = vfs.mounts.mount(covering: g), m.path != through {
                do { try vfs.bind(host: host, at: g, readOnly: true) } catch { cwd = "/" }
            }
        }
        let env = environment()
        let program = resolveProgram(argv[0], cwd: cwd, env: env, kernel: kernel)

        _ = ThreadGroup.startingLimits
        Self.raiseDescriptorLimit()
        kernel.forwardHostSignals()
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
        let status = kernel.run(task)
        if case .signaled(let sig, _) = status, !sig.shellReport.isEmpty {
            var line = sig.shellReport + "\n"
            line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
        }
        Glibc.exit(status.shellStatus)
    }

    private func hostCWD() -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return nil }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func environment() -> [String] {
        var out: [String] = []
        var p = environ
        while let s = p.pointee {
            out.append(String(decoding: UnsafeRawBufferPointer(start: s, count: strlen(s)), as: UTF8.self))
            p += 1
        }
        return out
    }

    /// The guest path of a host path, under the bind (or root) that holds it,
    /// the deepest winning; and the guest mount point it was translated through.
    static func guestPath(ofHost host: String, _ dirs: [(host: String, guest: String)]) -> (path: String, through: String)? {
        var best: (depth: Int, path: String, through: String)?
        for d in dirs {
            let rel: String
            if d.host == "/" { rel = host } else if host == d.host { rel = "" }
            else if host.hasPrefix(d.host + "/") { rel = String(host.dropFirst(d.host.count)) } else { continue }
            if let b = best, b.depth >= d.host.count { continue }
            best = (d.host.count, VFS.normalize(d.guest + "/" + rel), d.guest)
        }
        return best.map { ($0.path, $0.through) }
    }

    /// A name without a slash is looked up in the guest's PATH, as execvp does.
    private func resolveProgram(_ name: String, cwd: String, env: [String], kernel: Kernel) -> String {
        if name.contains("/") { return name }
        let path = env.first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/local/bin:/usr/bin:/bin"
        let boot = BootContext(kernel)
        let start = (try? kernel.vfs.directory(cwd, from: kernel.vfs.rootLocation, boot)) ?? kernel.vfs.rootLocation
        for dir in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = dir.isEmpty ? name : dir + "/" + name
            if let st = try? kernel.vfs.stat(candidate, from: start, followLast: true, boot),
               st.st_mode & S_IFMT == S_IFREG && st.st_mode & 0o111 != 0 { return candidate }
        }
        return name
    }
}

struct Platforms: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "platforms", abstract: "Say which trapping backends work here, and why the others don't.")

    func run() throws {
        let survey = PlatformKind.survey()
        for s in survey {
            print("\(s.kind.rawValue.padding(8))\(s.available ? "available  " : "unavailable")  \(s.reason)")
        }
        if let auto = survey.first(where: \.available) { print("auto    → \(auto.kind.rawValue)") }
    }
}

struct Syscalls: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "syscalls", abstract: "List the syscall table: what the sentry implements and what answers ENOSYS.")

    @Flag(help: "List only the implemented syscalls.")
    var implemented = false

    func run() throws {
        let all = linuxAMD64.all
        for (nr, s) in all where !implemented || s.handler != nil {
            let state = s.handler != nil ? "implemented" : "ENOSYS"
            print("\(String(nr).padding(4)) \(s.name.padding(24)) \(state)" + (s.note.map { "  (\($0))" } ?? ""))
        }
        let n = all.filter { $0.1.handler != nil }.count
        print("\(n) of \(all.count) syscalls implemented")
    }
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self + " " : self + String(repeating: " ", count: n - count) }
}
