import Glibc
import Synchronization

/// `--strace`: prints each guest syscall as strace does, or as one JSON
/// object per line.
public final class Tracer: Sendable {
    public enum Style: Sendable { case text, json }
    let fd: Int32
    let style: Style
    let filter: Set<String>?
    /// strace -f prefixes lines with `[pid N]` once there is more than one process.
    let showPIDs = Atomic<Bool>(false)
    /// strace's default -s: strings are cut after 32 bytes.
    public static let stringLimit = 32

    public init(fd: Int32, style: Style, filter: Set<String>?) {
        self.fd = fd; self.style = style; self.filter = filter
    }

    /// A call in flight: what was printable before it ran.
    public struct Pending {
        let nr: UInt64
        let name: String
        let entry: Syscall?
        let args: SyscallArguments
        var before: [String?]
    }

    func wants(nr: UInt64, _ entry: Syscall?) -> Bool {
        guard let filter else { return true }
        return filter.contains(entry?.name ?? "")
    }

    func enter(_ task: Task, nr: UInt64, _ entry: Syscall?, _ args: SyscallArguments) -> Pending {
        let formats = entry?.args ?? Array(repeating: .hex, count: 6)
        var before: [String?] = []
        for (i, f) in formats.enumerated() {
            before.append(f.isOutput ? nil : ArgPrinter(task: task, args: args, result: 0).format(f, i))
        }
        let name = entry?.name ?? "syscall_0x" + String(nr, radix: 16)
        return Pending(nr: nr, name: name, entry: entry, args: args, before: before)
    }

    func exit(_ task: Task, _ p: Pending, result: Int64, exiting: Bool) {
        let formats = p.entry?.args ?? Array(repeating: .hex, count: 6)
        let printer = ArgPrinter(task: task, args: p.args, result: result)
        var args: [String] = []
        for (i, f) in formats.enumerated() {
            let s: String?
            if let b = p.before[i] { s = b.isEmpty ? nil : b } else { s = result < 0 ? printer.hexOrNull(p.args[i]) : printer.format(f, i) }
            if let s { args.append(s) }
        }
        let ret = p.entry?.ret ?? .int
        let noReturn = ret == .noReturn || (exiting && result >= 0)
        switch style {
        case .text:
            var line = p.name + "(" + args.joined(separator: ", ") + ")"
            if line.count < 39 { line += String(repeating: " ", count: 39 - line.count) }
            line += " = "
            if noReturn { line += "?" }
            else if SyscallRestart.isRestartCode(result) {
                let e = Errno(Int32(-result))
                line += "? \(e.name) (\(e.message))"
            } else if result < 0 && result > -4096 {
                let e = Errno(Int32(-result))
                line += "-1 \(e.name) (\(e.message))"
            } else {
                line += ret == .hex ? "0x" + String(UInt64(bitPattern: result), radix: 16) : String(result)
            }
            if p.entry?.handler == nil { line += " (not implemented in the sentry)" }
            emit(task, line)
        case .json:
            var obj = "{\"pid\":\(task.pid),\"nr\":\(p.nr),\"syscall\":\(Self.json(p.name)),\"args\":["
            obj += args.map(Self.json).joined(separator: ",") + "]"
            if noReturn { obj += ",\"ret\":null" }
            else if result < 0 && result > -4096 { obj += ",\"ret\":-1,\"errno\":\(Self.json(Errno(Int32(-result)).name))" }
            else { obj += ",\"ret\":\(result)" }
            if p.entry?.handler == nil { obj += ",\"implemented\":false" }
            emit(task, obj + "}")
        }
    }

    /// `--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, ...} ---` as strace prints a signal the task takes.
    func signal(_ task: Task, _ info: SignalInfo) {
        let sig = Signal(info.signo)
        var fields: [(String, String)] = [("si_signo", sig.name), ("si_code", Self.codeName(info))]
        let fault = sig.isSynchronousFault && info.code > 0
        if fault {
            fields.append(("si_addr", info.address == 0 ? "NULL" : "0x" + String(info.address, radix: 16)))
        } else if sig == .SIGCHLD && info.code > 0 {
            fields += [("si_pid", String(info.pid)), ("si_uid", String(info.uid)), ("si_status", String(info.status)),
                       ("si_utime", "0"), ("si_stime", "0")]
        } else if info.code == SignalInfo.SI_TIMER {
            fields += [("si_timerid", "0x" + String(info.timerID, radix: 16)), ("si_overrun", String(info.overrun))]
        } else if info.code <= 0 {
            fields += [("si_pid", String(info.pid)), ("si_uid", String(info.uid))]
        }
        switch style {
        case .text:
            emit(task, "--- \(sig.name) {" + fields.map { "\($0.0)=\($0.1)" }.joined(separator: ", ") + "} ---")
        case .json:
            emit(task, "{\"pid\":\(task.pid),\"signal\":\(Self.json(sig.name)),\"code\":\(Self.json(Self.codeName(info)))"
                 + (fault ? ",\"addr\":\(info.address)" : "") + "}")
        }
    }

    static func codeName(_ info: SignalInfo) -> String {
        switch (Signal(info.signo), info.code) {
        case (.SIGSEGV, 1): return "SEGV_MAPERR"
        case (.SIGSEGV, 2): return "SEGV_ACCERR"
        case (.SIGBUS, 1): return "BUS_ADRALN"
        case (.SIGBUS, 2): return "BUS_ADRERR"
        case (.SIGFPE, 1): return "FPE_INTDIV"
        case (.SIGILL, 2): return "ILL_ILLOPN"
        case (.SIGCHLD, 1): return "CLD_EXITED"
        case (.SIGCHLD, 2): return "CLD_KILLED"
        case (.SIGCHLD, 3): return "CLD_DUMPED"
        case (.SIGCHLD, 5): return "CLD_STOPPED"
        case (.SIGCHLD, 6): return "CLD_CONTINUED"
        case (_, 0): return "SI_USER"
        case (_, 0x80): return "SI_KERNEL"
        case (_, -1): return "SI_QUEUE"
        case (_, -2): return "SI_TIMER"
        case (_, -6): return "SI_TKILL"
        default: return String(info.code)
        }
    }

    func exited(_ task: Task, _ status: ExitStatus) {
        switch (style, status) {
        case (.text, .exited(let c)): emit(task, "+++ exited with \(c & 0xff) +++")
        case (.text, .signaled(let s, let core)): emit(task, "+++ killed by \(s.name)\(core ? " (core dumped)" : "") +++")
        case (.json, .exited(let c)): emit(task, "{\"pid\":\(task.pid),\"exited\":\(c & 0xff)}")
        case (.json, .signaled(let s, _)): emit(task, "{\"pid\":\(task.pid),\"killed\":\(Self.json(s.name))}")
        }
    }

    private func emit(_ task: Task, _ line: String) {
        let text = (showPIDs.load(ordering: .relaxed) && style == .text ? "[pid \(task.pid)] " : "") + line + "\n"
        var bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            off += n
        }
    }

    static func json(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 { out += String(format4: u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

extension String {
    init(format4 v: UInt32) {
        let h = String(v, radix: 16)
        self = "\\u" + String(repeating: "0", count: 4 - h.count) + h
    }
}
