import FoundationEssentials
import Glibc
import Sentry

/// The OCI runtime's command line: runtime-spec 1.0.2's operations with
/// runc's spellings, so that engines that drive runc (podman's conmon,
/// containerd's runc shim) can drive the sentry. Global flags come before
/// the command (`sentry --root DIR --log FILE --log-format json create ...`);
/// flags take one or two dashes and `=VALUE` or a separate VALUE, as runc's.
struct OCICommand {
    /// The state directory: runc's /run/runc for root, $XDG_RUNTIME_DIR/sentry-oci otherwise.
    var root: String
    var log: OCILog
    var command: String
    var args: [String]

    static let commands: Set<String> = ["spec", "create", "start", "state", "kill", "delete", "list", "ps", "features",
                                        "exec", "pause", "resume", "update", "checkpoint", "restore", "events"]
    static let initCommand = "oci-init"
    static let sharedWithNamedSandboxes: Set<String> = ["list", "kill", "checkpoint", "restore"]

    /// Without global flags, whether a shared command is the OCI one: `kill` of
    /// a container in the default state directory (podman calls it so), and
    /// runc's own flags (`list -f json`, `checkpoint --image-path`).
    static func isOCIForm(_ command: String, _ rest: [String]) -> Bool {
        let flags = Set(rest.filter { $0.hasPrefix("-") }.map { splitFlag($0).name })
        switch command {
        case "kill":
            guard let id = rest.first(where: { !$0.hasPrefix("-") }) else { return false }
            return flags.contains("all") || flags.contains("a")
                || FileManager.default.fileExists(atPath: defaultRoot + "/" + id)
        case "list": return !flags.isDisjoint(with: ["f", "format", "q", "quiet"])
        default: return !flags.isDisjoint(with: ["image-path", "work-path", "bundle", "b"])
        }
    }

    static var defaultRoot: String {
        if geteuid() == 0 { return "/run/sentry-oci" }
        if let xdg = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), !xdg.isEmpty { return xdg + "/sentry-oci" }
        return "/tmp/sentry-oci-\(geteuid())"
    }

    /// The OCI form of the command line, or nil for the sentry's own commands
    /// (`sentry run PROGRAM`, `platforms`, `syscalls`, the named sandboxes'
    /// list/kill/checkpoint/restore). `run` is the OCI one after global flags
    /// or with --bundle/-b; list, kill, checkpoint and restore after global flags.
    static func parse(_ all: [String]) -> OCICommand? {
        var args = all[...]
        var root: String?
        var logPath: String?
        var logFormat = "text"
        var sawGlobal = false
        var ignored: [String] = []
        while let a = args.first, a.hasPrefix("-") {
            let (name, inline) = splitFlag(a)
            func value() -> String {
                if let inline { return inline }
                args = args.dropFirst()
                guard let v = args.first else { OCILog.stderrFail("flag \(a) needs a value") }
                return v
            }
            switch name {
            case "root": root = value()
            case "log": logPath = value()
            case "log-format": logFormat = value()
            case "systemd-cgroup", "debug": ignored.append("--" + name)
            case "rootless", "criu": ignored.append("--\(name)=\(value())")
            case "version", "v":
                print("sentry version 0.1\nspec: \(OCIState.ociVersion)")
                exit(0)
            case "help", "h": return nil
            default: OCILog.stderrFail("unknown global flag \(a) (--root, --log, --log-format, --systemd-cgroup, --debug, --rootless)")
            }
            sawGlobal = true
            args = args.dropFirst()
        }
        guard let command = args.first else {
            if sawGlobal { OCILog.stderrFail("missing command (create, start, state, kill, delete, run, list, ps, spec, features)") }
            return nil
        }
        let rest = Array(args.dropFirst())
        // `run` first: every `sentry run` comes here, and the sets' first use
        // (hashing's seed, their storage) cost it about 40 µs.
        if command == "run" {
            let flags = rest.prefix(while: { $0.hasPrefix("-") && $0 != "--" })
            let bundle = flags.contains { splitFlag($0).name == "bundle" || splitFlag($0).name == "b" }
            if !sawGlobal && !bundle { return nil }
        } else if command == Self.initCommand || commands.contains(command) {
            // list, kill, checkpoint and restore are also the named sandboxes'
            // commands (`sentry kill job1`): the OCI ones come after global
            // flags, as engines always pass --root.
            if !sawGlobal && sharedWithNamedSandboxes.contains(command) && !isOCIForm(command, rest) { return nil }
        } else {
            if sawGlobal { OCILog.stderrFail("unknown command \(command)") }
            return nil
        }
        guard logFormat == "text" || logFormat == "json" else { OCILog.stderrFail("--log-format \(logFormat): choose text or json") }
        let log = OCILog(path: logPath, json: logFormat == "json")
        for i in ignored { log.write("info", "\(i): accepted and ignored (the sentry keeps no cgroups and needs no criu)") }
        return OCICommand(root: root ?? defaultRoot, log: log, command: command, args: rest)
    }

    /// "--name=value" / "-name" / "--name" → (name, value?).
    static func splitFlag(_ a: String) -> (name: String, value: String?) {
        var s = Substring(a)
        while s.hasPrefix("-") { s = s.dropFirst() }
        if let eq = s.firstIndex(of: "=") { return (String(s[..<eq]), String(s[s.index(after: eq)...])) }
        return (String(s), nil)
    }

    func run() -> Never {
        switch command {
        case "spec": spec()
        case "create": create()
        case "run": runContainer()
        case "start": start()
        case "state": state()
        case "kill": kill()
        case "delete": delete()
        case "list": list()
        case "ps": ps()
        case "features": features()
        case Self.initCommand: OCIInit.main(args, root: root, log: log)
        case "exec": OCIExec.main(self)
        default:
            log.fail("\(command): not supported by the sentry")
        }
    }

    /// The flags of one command: which take a value, which are plain
    /// switches; everything else is positional. Aliases map to one name.
    struct Flags {
        var values: [String: String] = [:]
        var switches: Set<String> = []
        var positional: [String] = []
    }

    func parseFlags(valued: [String: String], switches: [String: String]) -> Flags {
        var f = Flags()
        var i = 0
        while i < args.count {
            let a = args[i]
            i += 1
            if a == "--" { f.positional += args[i...]; break }
            // As runc's (urfave/cli): flags first; from the first positional argument on, all are positional.
            guard a.hasPrefix("-"), a.count > 1, f.positional.isEmpty else { f.positional.append(a); continue }
            let (name, inline) = Self.splitFlag(a)
            if let canon = valued[name] {
                var v: String
                if let inline { v = inline } else {
                    guard i < args.count else { log.fail("\(command): flag \(a) needs a value") }
                    v = args[i]
                    i += 1
                }
                // A repeated --env accumulates (NUL-separated); any other flag's last value wins.
                if canon == "env", let old = f.values[canon] { v = old + "\u{0}" + v }
                f.values[canon] = v
            } else if let canon = switches[name] {
                if let inline, inline != "true" { if inline != "false" { log.fail("\(command): flag \(a) takes no value") }; continue }
                f.switches.insert(canon)
            } else {
                log.fail("\(command): unknown flag \(a)")
            }
        }
        return f
    }

    func containerID(_ f: Flags, extra: ClosedRange<Int> = 0...0) -> String {
        guard let id = f.positional.first else { log.fail("\(command): missing container id") }
        guard extra.contains(f.positional.count - 1) else { log.fail("\(command): unexpected arguments \(f.positional.dropFirst().joined(separator: " "))") }
        do { try OCIState.validate(id: id) } catch { log.fail(error.description) }
        return id
    }

    func loadState(_ id: String) -> OCIState {
        do { return try OCIState.load(root: root, id: id) } catch { log.fail(error.description) }
    }
}

/// runc's --log and --log-format: one line per message, logrus's text or
/// JSON form, which conmon and the containerd shim read back to report a
/// failed command. Errors also go to stderr.
struct OCILog {
    let path: String?
    let json: Bool

    func write(_ level: String, _ message: String) {
        guard let path else { return }
        let line: String
        if json {
            line = (["level": .string(level), "msg": .string(message), "time": .string(OCIState.now())] as JSONValue).encoded()
        } else {
            line = "time=\"\(OCIState.now())\" level=\(level) msg=\(JSONValue.quote(message))"
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        var l = line + "\n"
        l.withUTF8 { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    func warn(_ message: String) { write("warning", message) }

    func fail(_ message: String, status: Int32 = 1) -> Never {
        write("error", message)
        Self.stderrFail(message, status: status)
    }

    static func stderrFail(_ message: String, status: Int32 = 1) -> Never {
        var line = "sentry: " + message + "\n"
        line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
        exit(status)
    }
}
