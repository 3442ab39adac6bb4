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
    case badInterpreter = 69  // PT_INTERP names a loader that is missing or unusable
    case internalError = 70
    case platformUnavailable = 71
    case nameInUse = 72       // --name: a live sandbox has it
    case control = 73         // no such sandbox, or its control socket failed
    case traced = 81          // sentry trace: the sandbox already has a tracer (74-80 are checkpoint's)

    static func of(_ e: LoadError) -> SentryExit {
        switch e {
        case .notFound, .unreadable, .notExecutable: return .noSuchFile
        case .notELF: return .notELF
        case .truncated, .corrupt: return .corruptELF
        case .wrongArchitecture: return .wrongArchitecture
        case .interpreter: return .badInterpreter
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
        abstract: "Run a Linux x86-64 program with every system call served by a userspace kernel.",
        subcommands: [Run.self, List.self, Kill.self, TraceCommand.self, Checkpoint.self, Restore.self, Inspect.self, Platforms.self, SyscallsCommand.self],
        defaultSubcommand: nil
    )

    /// `sentry run` in its plain forms skips ArgumentParser's parse (see
    /// RunOptions.quick); everything else is ArgumentParser's.
    static func main() {
        // Arguments are bytes: CommandLine.arguments would repair invalid UTF-8.
        let args = (1..<Int(CommandLine.argc)).map { String(rawBytes: UnsafeRawBufferPointer(start: CommandLine.unsafeArgv[$0], count: strlen(CommandLine.unsafeArgv[$0]!))) }
        if let oci = OCICommand.parse(args) { oci.run() }
        if args.first == "run", let options = RunOptions.quick(Array(args.dropFirst())), (try? options.validate()) != nil {
            options.launch()
        }
        do {
            var command = try parseAsRoot(args)
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

struct Run: ParsableCommand {
    // An explicit name spares ArgumentParser a String(describing:) of the type,
    // whose protocol-conformance scans are a visible part of start-up.
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run PROGRAM [ARGS...] in the sandbox.",
        discussion: "The exit status is the guest's; 128+N if a signal N killed it. The sentry's own failures: 64 bad flags, 65 not ELF, 66 no such file or not executable, 67 truncated or corrupt ELF, 68 not x86-64, 69 its interpreter (PT_INTERP) missing or unusable, 70 internal error, 71 platform unavailable, 72 --name already in use, 73 control socket failure."
    )

    @Option(help: "Trapping backend: auto, ptrace, systrap or vmexec (see `sentry platforms`).")
    var platform: String = "auto"

    @Option(name: .customLong("systrap-trap"), help: "How systrap traps guest syscalls: sud (Syscall User Dispatch, the default where the kernel has it) or seccomp (SECCOMP_RET_TRAP).")
    var systrapTrap: String?

    @Option(name: .customLong("systrap-patch"), help: "systrap: rewrite hot `mov $nr, %eax; syscall` sites into calls to the stub that skip the signal: on (the default; SENTRY_SYSTRAP_PATCH=off changes it) or off.")
    var systrapPatch: String?

    @Option(help: "Host directory that is the guest's / (read-only unless --overlay).")
    var root: String = "/"

    @Flag(help: "Make / writable, every change kept in sentry memory and none written to the host; /tmp is then the host's, overlaid too.")
    var overlay = false

    @Option(name: .customLong("bind"), help: ArgumentHelp("Mount a host directory in the guest's tree, read-only unless :rw (repeatable).", valueName: "HOST:GUEST[:ro|rw]"))
    var binds: [String] = []

    @Flag(help: "Print each guest syscall as strace does.")
    var strace = false

    @Option(name: [.customShort("o"), .customLong("strace-output")], help: "Write the trace to FILE instead of stderr.")
    var output: String?

    @Option(name: [.customLong("strace-filter"), .customLong("strace-syscalls")], help: "Trace only these syscalls (comma separated names; --strace-syscalls is runsc's spelling).")
    var filter: String?

    @Flag(name: .customLong("strace-json"), help: "Trace as one JSON object per line.")
    var json = false

    @Flag(name: .customShort("c"), help: "strace -c: count calls, errors and time per syscall, print the table at the end instead of the trace.")
    var summaryOnly = false

    @Flag(name: .customShort("C"), help: "strace -C: the trace and the -c table.")
    var summary = false

    @Flag(name: .customShort("T"), help: "strace -T: the time spent in each call, <0.000123>.")
    var callTime = false

    @Flag(name: .customShort("w"), help: "strace -w: -c's times are wall-clock (blocking included), not the CPU time the sentry spent serving each call.")
    var summaryWallClock = false

    @Flag(name: .customShort("t"), help: "strace -t: wall-clock time of each call; -tt with microseconds, -ttt seconds since the epoch.")
    var timestamps: Int

    @Flag(name: .customShort("r"), help: "strace -r: the time since the previous call began.")
    var relative = false

    @Flag(name: .customShort("y"), help: "strace -y: descriptors with their paths, 3</etc/hostname>; -yy sockets with their addresses.")
    var fdPaths: Int

    @Flag(name: .customShort("k"), help: "strace -k: the guest's call stack after each call (.eh_frame unwinding, symbols from each ELF's .symtab or .dynsym).")
    var stackTraces = false

    @Option(name: .customShort("s"), help: ArgumentHelp("strace -s: print at most N bytes of each string (default 32).", valueName: "N"))
    var stringLimit: Int?

    @Option(name: .customShort("e"), help: ArgumentHelp("strace -e: trace=NAME,%CLASS,... (%file %process %network %signal %ipc %desc %memory %creds %clock %pure %stat %lstat %fstat %%stat %statfs %fstatfs %%statfs; ! negates), status=successful,failed,unfinished, signal=SIG,... (repeatable).", valueName: "EXPR"))
    var expressions: [String] = []

    @Flag(name: .customShort("f"), help: "strace -f, accepted: children and threads are always traced.")
    var follow = false

    @Option(help: ArgumentHelp("The guest's starting directory (default: the current one, where the guest sees it).", valueName: "DIR"))
    var cwd: String?

    @Option(name: .customLong("env"), help: ArgumentHelp("Set an environment variable for the guest (repeatable).", valueName: "NAME=VALUE"))
    var env: [String] = []

    @Flag(name: .customLong("env-clear"), help: "Start the guest with no inherited environment (only --env settings).")
    var envClear = false

    @Option(help: "The guest's host name (uname, /proc/sys/kernel/hostname); default: the host's.")
    var hostname: String?

    @Option(help: ArgumentHelp("The guest's user and group ids (default: the sentry's own); ids other than 0 have no capabilities.", valueName: "UID[:GID]"))
    var user: String?

    @Option(help: "What the guest's AF_INET/AF_INET6 sockets reach: none (the sandbox's own loopback; nothing leaves the sandbox) or host (host sockets the sentry opens for the guest).")
    var network: String = "none"

    @Option(help: ArgumentHelp("Forward a host port (on 127.0.0.1 unless HOSTIP is given) to the guest's port on the sandbox loopback, as docker -p (repeatable; needs --network=none).", valueName: "[HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]"))
    var publish: [String] = []

    @Option(help: ArgumentHelp("What the guest processes' memory may add up to (anonymous and private pages, tmpfs and overlay files, IPC segments); past it the sandbox's OOM killer ends the largest guest process with SIGKILL. `none` for no limit. Default: 7/8 of the memory limit of the cgroup the sentry runs in (cgroup v2 memory.max or v1 memory.limit_in_bytes), else 3/4 of the host's RAM; \(MemoryLimit.describeDefault()).", valueName: "SIZE"))
    var memory: String?

    @Option(name: .customLong("tmpfs-size"), help: ArgumentHelp("The size of /tmp, /dev/shm and --overlay's writes (tmpfs size=): past it, ENOSPC. Default: half of --memory.", valueName: "SIZE"))
    var tmpfsSize: String?

    @Option(help: ArgumentHelp("How many tasks (processes and threads) the sandbox may hold, as the pids cgroup's pids.max: fork and clone past it fail with EAGAIN. Default: no limit.", valueName: "N"))
    var pids: String?

    @Flag(name: .customLong("no-self-confine"), help: "Run the sentry without its own seccomp filter (which allows only the host calls serving guests needs; see the README).")
    var noSelfConfine = false
    @Option(help: ArgumentHelp("Name the sandbox: a control socket for `sentry list`, `sentry kill`, `sentry checkpoint`.", valueName: "NAME"))
    var name: String?

    @Argument(parsing: .captureForPassthrough, help: "The program and its arguments.")
    var command: [String] = []

    /// The flags as plain values, for `RunOptions.launch`.
    var options: RunOptions {
        RunOptions(platform: platform, systrapTrap: systrapTrap, systrapPatch: systrapPatch, root: root, overlay: overlay, binds: binds, strace: strace,
                   output: output, filter: filter, json: json,
                   summaryOnly: summaryOnly, summary: summary, callTime: callTime, summaryWallClock: summaryWallClock, timestamps: timestamps, relative: relative,
                   fdPaths: fdPaths, stackTraces: stackTraces, stringLimit: stringLimit, expressions: expressions, follow: follow, cwd: cwd, env: env, envClear: envClear,
                   hostname: hostname, user: user, network: network, publish: publish, memory: memory, tmpfsSize: tmpfsSize, pids: pids,
                   noSelfConfine: noSelfConfine, name: name, command: command)
    }

    func validate() throws {
        // Passthrough capture takes a --help before PROGRAM for the program.
        if let first = command.first, first == "--help" || first == "-h" { throw CleanExit.helpRequest(self) }
        try options.validate()
    }

    func run() throws { options.launch() }
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

/// `sentry syscalls` (named apart from the Syscalls module it lists).
struct SyscallsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "syscalls", abstract: "List the syscall table: what the sentry implements and what answers ENOSYS.")

    @Flag(help: "List only the implemented syscalls.")
    var implemented = false

    @Flag(help: "Print the README's table of syscall families and their status.")
    var families = false

    func run() throws {
        if families {
            print(linuxAMD64.familyTable, terminator: "")
            return
        }
        let all = linuxAMD64.all
        for (nr, s) in all where !implemented || s.isImplemented {
            let state = s.isImplemented ? "implemented" : "ENOSYS"
            print("\(String(nr).padding(4)) \(s.name.padding(24)) \(state)" + (s.note.map { "  (\($0))" } ?? ""))
        }
        let n = all.filter { $0.1.isImplemented }.count
        print("\(n) of \(all.count) syscalls implemented")
    }
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self + " " : self + String(repeating: " ", count: n - count) }
}
