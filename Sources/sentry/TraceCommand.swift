import ArgumentParser
import Glibc
import Sentry
import Syscalls

/// `sentry trace NAME`: a live trace of a running named sandbox, to stdout,
/// until Ctrl-C (which detaches, leaving the guest running untraced) or the
/// sandbox's end.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Trace a running named sandbox's syscalls live, as strace -f -p does; Ctrl-C detaches.",
        discussion: "One live tracer at a time: a sandbox already traced (by another `sentry trace`, or started with --strace) refuses with status 81. Tracing starts at each task's next syscall entry; a call in progress at the attach is shown whole when it ends. Exit status 0 after a detach or the sandbox's end; 64 bad flags, 73 no such sandbox, 81 already traced."
    )

    @Argument(help: "The sandbox's name (`sentry run --name NAME`).")
    var name: String

    @Flag(help: "Accepted: tracing is what this command does.")
    var strace = false

    @Option(name: [.customShort("o"), .customLong("strace-output")], help: "Write the trace to FILE instead of stdout.")
    var output: String?

    @Option(name: [.customLong("strace-filter"), .customLong("strace-syscalls")], help: "Trace only these syscalls (comma separated names).")
    var filter: String?

    @Flag(name: .customLong("strace-json"), help: "Trace as one JSON object per line.")
    var json = false

    @Flag(name: .customShort("c"), help: "strace -c: only the table of counts, errors and times, printed at the detach.")
    var summaryOnly = false

    @Flag(name: .customShort("C"), help: "strace -C: the trace and the -c table.")
    var summary = false

    @Flag(name: .customShort("T"), help: "strace -T: the time spent in each call.")
    var callTime = false

    @Flag(name: .customShort("w"), help: "strace -w: -c's times are wall-clock (blocking included), not the CPU time the sentry spent serving each call.")
    var summaryWallClock = false

    @Flag(name: .customShort("t"), help: "strace -t, -tt, -ttt: wall-clock time of each call.")
    var timestamps: Int

    @Flag(name: .customShort("r"), help: "strace -r: the time since the previous call began.")
    var relative = false

    @Flag(name: .customShort("y"), help: "strace -y, -yy: descriptors with their paths, sockets with their addresses.")
    var fdPaths: Int

    @Flag(name: .customShort("k"), help: "strace -k: the guest's call stack after each call.")
    var stackTraces = false

    @Option(name: .customShort("s"), help: ArgumentHelp("strace -s: print at most N bytes of each string (default 32).", valueName: "N"))
    var stringLimit: Int?

    @Option(name: .customShort("e"), help: ArgumentHelp("strace -e: trace=..., status=..., signal=... (repeatable; see `sentry run --help`).", valueName: "EXPR"))
    var expressions: [String] = []

    @Flag(name: .customShort("f"), help: "strace -f, accepted: every task of the sandbox is traced.")
    var follow = false

    var flags: TraceFlags {
        var f = TraceFlags()
        f.strace = true; f.json = json; f.filter = filter; f.summaryOnly = summaryOnly; f.summary = summary
        f.callTime = callTime; f.summaryWallClock = summaryWallClock; f.timestamps = timestamps; f.relative = relative; f.fdPaths = fdPaths
        f.stackTraces = stackTraces; f.stringLimit = stringLimit; f.expressions = expressions
        return f
    }

    func validate() throws {
        guard RuntimeDirectory.isValid(name: name) else { throw ValidationError("bad sandbox name '\(name)'") }
        if let filter {
            for n in filter.split(separator: ",") where linuxAMD64.number(of: String(n)) == nil {
                throw ValidationError("--strace-filter: unknown syscall '\(n)'")
            }
        }
        do { _ = try flags.options { linuxAMD64.number(of: $0) } } catch { throw ValidationError(error.message) }
    }

    func run() throws {
        var out: Int32 = 1
        if let output {
            out = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if out < 0 { fail("-o \(output): \(Errno(errno).message)", .usage) }
        }
        let result: (status: Int32, error: String?)
        do { result = try ControlClient.trace(flags, name: name, output: out) } catch { fail(error.description, .control) }
        if let e = result.error {
            var line = "sentry: " + e + "\n"
            line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
        }
        Glibc.exit(result.status)
    }
}
