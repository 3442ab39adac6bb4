import Glibc
import Synchronization

/// `--strace`: prints each guest syscall as strace does, or as one JSON
/// object per line.
public final class Tracer: Sendable {
    public enum Style: Sendable { case text, json }
    let fd: Int32
    public let options: TraceOptions
    var style: Style { options.style }
    /// strace -f prefixes lines with `[pid N]` once there is more than one process.
    let showPIDs = Atomic<Bool>(false)
    /// -r: when the previous traced call began (CLOCK_MONOTONIC ns).
    private let lastEntry = Atomic<Int64>(0)
    /// -c: counts and times per syscall number.
    let summary = Summary()
    /// -k: the guest's stacks.
    let unwinder = StackUnwinder()

    /// A live tracer's connection (`sentry trace`): owned, closed when the
    /// last call holding the tracer is done with it, so its number is never
    /// written to after reuse.
    private let stream: Bool
    /// The stream failed (the client went away or stopped reading) or was ended: lines are dropped.
    private let closed = Atomic<Bool>(false)
    private let ended = Atomic<Bool>(false)

    public init(fd: Int32, options: TraceOptions) {
        self.fd = fd; self.options = options; self.stream = false
        filter = Self.bitmap(options.traced)
    }

    /// A tracer writing to the socket `fd`, which it takes over.
    public init(stream fd: Int32, options: TraceOptions) {
        self.fd = fd; self.options = options; self.stream = true
        filter = Self.bitmap(options.traced)
    }

    deinit {
        if stream { Glibc.close(fd) }
        filter?.deallocate()
    }

    /// -e trace='s set as one bit per syscall number, written once here and
    /// only read after: the filter decision is a bit test, with no reference
    /// counting (an Array would be retained and released on every call).
    private nonisolated(unsafe) let filter: UnsafeMutableBufferPointer<UInt64>?
    private static func bitmap(_ traced: [Bool]?) -> UnsafeMutableBufferPointer<UInt64>? {
        guard let traced else { return nil }
        let words = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: max(1, (traced.count + 63) / 64))
        words.initialize(repeating: 0)
        for (nr, on) in traced.enumerated() where on { words[nr >> 6] |= 1 << UInt64(nr & 63) }
        return words
    }

    /// A live tracer's end: the `-c` table, then end of stream for the
    /// client. Once only; later lines (calls that were in flight) are dropped.
    public func end() {
        guard stream, !ended.exchange(true, ordering: .sequentiallyConsistent) else { return }
        // The table counts exactly the lines before it: reports under way finish first.
        while reporting.load(ordering: .sequentiallyConsistent) > 0 { usleep(1000) }
        finish()
        if !closed.exchange(true, ordering: .relaxed) { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// A live tracer's reports (calls, signals, exits) under way; none starts once it has ended.
    private let reporting = Atomic<Int>(0)

    @inline(__always)
    private func enterStream() -> Bool {
        guard stream else { return true }
        reporting.add(1, ordering: .sequentiallyConsistent)
        if ended.load(ordering: .sequentiallyConsistent) { reporting.subtract(1, ordering: .sequentiallyConsistent); return false }
        return true
    }

    @inline(__always)
    private func leaveStream() {
        if stream { reporting.subtract(1, ordering: .sequentiallyConsistent) }
    }

    /// The client hung up or stopped reading for the send timeout.
    public var isBroken: Bool { closed.load(ordering: .relaxed) }

    /// A call in flight: what was printable before it ran, and when it began.
    public struct Pending {
        let nr: UInt64
        let name: String
        let entry: Syscall?
        let args: SyscallArguments
        var before: [String?]
        let start: Int64          // CLOCK_MONOTONIC ns
        let cpuStart: Int64       // -c: CLOCK_THREAD_CPUTIME_ID ns, the serving thread's
        let wall: timespec        // CLOCK_REALTIME at entry, for -t
        let sincePrevious: Int64  // -r
        let stack: [StackUnwinder.Frame]   // -k, taken at entry (execve's is the old image's, as strace's)
    }

    /// Decided before anything is formatted: an untraced call costs an array load.
    @inline(__always)
    func wants(nr: UInt64) -> Bool {
        guard let filter else { return true }
        let word = nr >> 6
        return word < UInt64(filter.count) && filter[Int(word)] & (1 << (nr & 63)) != 0
    }

    static func now(_ clock: clockid_t) -> timespec {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return ts
    }
    static func ns(_ ts: timespec) -> Int64 { Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec) }

    /// When the tracer was made (CLOCK_MONOTONIC ns): a live tracer's attach.
    private let created = Tracer.ns(Tracer.now(CLOCK_MONOTONIC))

    /// A call's entry. `startedBeforeAttach`: the call was already under way
    /// when this (live) tracer attached and is over now; its arguments are read
    /// now, and its time counts from the attach, as strace -p's from its restart.
    func enter(_ task: Task, nr: UInt64, _ entry: Syscall?, _ args: SyscallArguments, startedBeforeAttach: Bool = false) -> Pending {
        let name = entry?.name ?? "syscall_0x" + String(nr, radix: 16)
        var before: [String?] = []
        if options.lines {
            let formats = entry?.args ?? Array(repeating: .hex, count: 6)
            let printer = ArgPrinter(task: task, args: args, result: 0, options: options)
            for (i, f) in formats.enumerated() { before.append(f.isOutput ? nil : printer.format(f, i)) }
        }
        var wall = options.timestamps != .none ? Self.now(CLOCK_REALTIME) : timespec()
        var start = Self.ns(Self.now(CLOCK_MONOTONIC))
        if startedBeforeAttach {
            let since = max(0, start &- created)
            start = created
            let w = Self.ns(wall) &- since
            wall = timespec(tv_sec: Int(w / 1_000_000_000), tv_nsec: Int(w % 1_000_000_000))
        }
        let previous = options.relative ? lastEntry.exchange(start, ordering: .relaxed) : start
        let stack = options.stackTraces && options.lines ? unwinder.frames(task) : []
        // The call is served on this thread (the task's) from here to its exit.
        let cpuStart = options.summary && !options.summaryWallClock && !startedBeforeAttach ? Self.ns(Self.now(CLOCK_THREAD_CPUTIME_ID)) : 0
        return Pending(nr: nr, name: name, entry: entry, args: args, before: before, start: start, cpuStart: cpuStart, wall: wall,
                       sincePrevious: previous == 0 ? 0 : start &- previous, stack: stack)
    }

    func exit(_ task: Task, _ p: Pending, result: Int64, exiting: Bool) {
        guard enterStream() else { return }
        defer { leaveStream() }
        let elapsed = max(0, Self.ns(Self.now(CLOCK_MONOTONIC)) &- p.start)
        let ret = p.entry?.ret ?? .int
        let noReturn = ret == .noReturn || (exiting && result >= 0)
        let failed = !noReturn && result < 0 && result > -4096
        if options.summary {
            // A call under way at a live attach: its CPU time before the attach is not known, none is counted.
            let ns = options.summaryWallClock ? elapsed : p.cpuStart == 0 ? 0 : max(0, Self.ns(Self.now(CLOCK_THREAD_CPUTIME_ID)) &- p.cpuStart)
            summary.record(nr: p.nr, name: p.name, implemented: p.entry?.isImplemented ?? false, ns: ns, failed: failed)
        }
        guard options.lines else { return }
        if let statuses = options.statuses {
            let status: TraceOptions.Status = noReturn ? .unfinished : failed ? .failed : .successful
            guard statuses.contains(status) else { return }
        }
        let formats = p.entry?.args ?? Array(repeating: .hex, count: 6)
        let printer = ArgPrinter(task: task, args: p.args, result: result, options: options)
        var args: [String] = []
        for (i, f) in formats.enumerated() {
            let s: String?
            if let b = p.before[i] { s = b.isEmpty ? nil : printer.atExit(f, i, entry: b) }
            else { s = result < 0 && !f.printsOnFailure ? printer.hexOrNull(p.args[i]) : printer.format(f, i) }
            if let s, !s.isEmpty { args.append(s) }   // "" leaves the argument out
        }
        switch style {
        case .text:
            let call = p.name + "(" + args.joined(separator: ", ") + ")"
            var line = " = "
            if noReturn { line += "?" }
            else if SyscallRestart.isRestartCode(result) {
                let e = Errno(Int32(-result))
                line += "? \(e.name) (\(e.message))"
            } else if result < 0 && result > -4096 {
                let e = Errno(Int32(-result))
                // An errno without a name (a seccomp ERRNO action's data can be any) as strace shows it.
                line += e.name.hasPrefix("E?") ? "-1 (errno \(-result))" : "-1 \(e.name) (\(e.message))"
            } else if case .selectResult(let ns) = ret {
                line += String(result) + printer.selectOutcome(nanoseconds: ns)
            } else if ret == .time {
                line += String(result) + " (" + Decode.date(result) + ")"
            } else if ret == .signal && result > 0 {
                line += String(result) + " (" + Signal(Int32(truncatingIfNeeded: result)).straceName + ")"
            } else if ret == .fcntl, let flags = printer.fcntlResult() {
                line += flags
            } else if ret == .hex {
                line += "0x" + String(UInt64(bitPattern: result), radix: 16)
            } else if ret == .fd && options.fdPaths > 0 {
                line += printer.descriptor(result)
            } else {
                line += String(result)
            }
            if !(p.entry?.isImplemented ?? false) { line += " (not implemented in the sentry)" }
            if options.callTime && !noReturn { line += " <" + Self.seconds(elapsed) + ">" }
            emit(task, call, result: line, wall: p.wall, sincePrevious: p.sincePrevious)
            if !p.stack.isEmpty { write(p.stack.map { $0.text + "\n" }.joined()) }
        case .json:
            var obj = "{\"pid\":\(task.pid),\"nr\":\(p.nr),\"syscall\":\(Self.json(p.name)),\"args\":["
            obj += args.map(Self.json).joined(separator: ",") + "]"
            if noReturn { obj += ",\"ret\":null" }
            else if failed { obj += ",\"ret\":-1,\"errno\":\(Self.json(Errno(Int32(-result)).name))" }
            else { obj += ",\"ret\":\(result)" }
            if !(p.entry?.isImplemented ?? false) { obj += ",\"implemented\":false" }
            if options.timestamps != .none { obj += ",\"time\":" + Self.seconds(Self.ns(p.wall)) }
            if options.relative { obj += ",\"relative\":" + Self.seconds(p.sincePrevious) }
            if options.callTime && !noReturn { obj += ",\"duration\":" + Self.seconds(elapsed) }
            if options.stackTraces {
                obj += ",\"stack\":[" + p.stack.map { f in
                    "{\"pc\":\(f.pc),\"module\":" + (f.module.map(Self.json) ?? "null") + ",\"symbol\":" + (f.symbol.map(Self.json) ?? "null")
                        + ",\"offset\":\(f.symbolOffset),\"module_offset\":\(f.moduleOffset)}"
                }.joined(separator: ",") + "]"
            }
            emit(task, obj + "}")
        }
    }

    /// ns as strace prints seconds: `0.000123`.
    static func seconds(_ ns: Int64) -> String {
        let us = ns / 1000
        let frac = String(us % 1_000_000)
        return String(us / 1_000_000) + "." + String(repeating: "0", count: 6 - frac.count) + frac
    }

    /// -t, -tt, -ttt, -r: what precedes a line (with its trailing space).
    func prefix(wall: timespec, sincePrevious: Int64) -> String {
        var out = ""
        if options.relative {
            let s = Self.seconds(sincePrevious)
            out += String(repeating: " ", count: max(0, 13 - s.count)) + s + " "
        }
        switch options.timestamps {
        case .none: break
        case .epoch: out += Self.seconds(Self.ns(wall)) + " "
        case .seconds, .microseconds:
            var t = time_t(wall.tv_sec), tm = Glibc.tm()
            localtime_r(&t, &tm)
            func two(_ v: Int32) -> String { v < 10 ? "0" + String(v) : String(v) }
            out += two(tm.tm_hour) + ":" + two(tm.tm_min) + ":" + two(tm.tm_sec)
            if options.timestamps == .microseconds {
                let us = String(wall.tv_nsec / 1000)
                out += "." + String(repeating: "0", count: 6 - us.count) + us
            }
            out += " "
        }
        return out
    }

    /// `-c`/`-C`: the table, after the guest is done.
    public func finish() {
        guard options.summary else { return }
        let text = summary.render()
        if style == .text { write(text) } else { write(summary.json() + "\n") }
    }

    /// `--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, ...} ---` as strace prints a signal the task takes.
    func signal(_ task: Task, _ info: SignalInfo) {
        guard options.lines, options.signals?.contains(info.signo) ?? true, enterStream() else { return }
        defer { leaveStream() }
        let sig = Signal(info.signo)
        let fields = Self.siginfoFields(info) { $0 >= 0 ? task.kernel.table[UInt64($0)]?.name : nil }
        let fault = sig.isSynchronousFault && info.code > 0
        switch style {
        case .text:
            emit(task, "--- \(sig.straceName) {" + fields.map { "\($0.0)=\($0.1)" }.joined(separator: ", ") + "} ---")
        case .json:
            emit(task, "{\"pid\":\(task.pid),\"signal\":\(Self.json(sig.name)),\"code\":\(Self.json(Self.codeName(info)))"
                 + (fault ? ",\"addr\":\(info.address)" : "") + "}")
        }
    }

    /// The fields strace's printsiginfo shows: si_errno when set; for codes
    /// a process sends (<= 0) the sender, a timer's id and overrun and its
    /// value; for the kernel's codes what each signal carries (SIGCHLD's
    /// child, a fault's address, SIGSYS's call), else the sender if any.
    static func siginfoFields(_ info: SignalInfo, syscallName: (Int) -> String? = { _ in nil }) -> [(String, String)] {
        let sig = Signal(info.signo)
        var f: [(String, String)] = [("si_signo", sig.straceName), ("si_code", codeName(info))]
        func pointer(_ v: UInt64) -> String { v == 0 ? "NULL" : "0x" + String(v, radix: 16) }
        let source = [("si_pid", String(info.pid)), ("si_uid", String(info.uid))]
        let sigval = [("si_int", String(Int32(truncatingIfNeeded: info.value))), ("si_ptr", pointer(info.value))]
        if info.errno != 0 {
            let e = Errno(info.errno)
            f.append(("si_errno", e.name.hasPrefix("E") ? e.name : String(info.errno)))
        }
        if info.code <= 0 {
            switch info.code {
            case SignalInfo.SI_USER, SignalInfo.SI_TKILL: f += source
            case SignalInfo.SI_TIMER:
                let id = info.timerID == 0 ? "0" : "0x" + String(UInt32(bitPattern: info.timerID), radix: 16)
                f += [("si_timerid", id), ("si_overrun", String(info.overrun))] + sigval
            default: f += source + (info.value != 0 ? sigval : [])
            }
            return f
        }
        switch sig {
        case .SIGCHLD:
            let status = info.code == SignalInfo.CLD_EXITED ? String(info.status) : Signal(info.status).straceName
            f += source + [("si_status", status), ("si_utime", "0"), ("si_stime", "0")]
        case .SIGILL, .SIGFPE, .SIGBUS, .SIGSEGV, .SIGTRAP:
            f.append(("si_addr", pointer(info.address)))
        case .SIGSYS:
            // The tracer's own ABI by name; another (an int $0x80 call) by number and name.
            let number = String(info.syscall)
            let call = info.arch == SeccompData.AUDIT_ARCH_X86_64 ? syscallName(Int(info.syscall)).map { "__NR_" + $0 } ?? number
                : info.arch == SeccompData.AUDIT_ARCH_I386 ? Decode.i386SyscallNames[Int(info.syscall)].map { number + " /* " + $0 + " */" } ?? number
                : number
            f += [("si_call_addr", pointer(info.address)),
                  ("si_syscall", call),
                  ("si_arch", info.arch == SeccompData.AUDIT_ARCH_X86_64 ? "AUDIT_ARCH_X86_64"
                      : info.arch == SeccompData.AUDIT_ARCH_I386 ? "AUDIT_ARCH_I386" : "0x" + String(info.arch, radix: 16) + " /* AUDIT_ARCH_??? */")]
        default:
            if info.pid != 0 || info.uid != 0 { f += source }
            if info.value != 0 { f += sigval }
        }
        return f
    }

    /// si_code as strace names it: the generic codes first, then the signal's own.
    static func codeName(_ info: SignalInfo) -> String {
        if let generic = genericCodes[info.code] { return generic }
        let own: [String]
        switch Signal(info.signo) {
        case .SIGILL: own = ["ILL_ILLOPC", "ILL_ILLOPN", "ILL_ILLADR", "ILL_ILLTRP", "ILL_PRVOPC", "ILL_PRVREG", "ILL_COPROC", "ILL_BADSTK", "ILL_BADIADDR"]
        case .SIGFPE: own = ["FPE_INTDIV", "FPE_INTOVF", "FPE_FLTDIV", "FPE_FLTOVF", "FPE_FLTUND", "FPE_FLTRES", "FPE_FLTINV", "FPE_FLTSUB", "FPE_FLTUNK", "FPE_CONDTRAP"]
        case .SIGSEGV: own = ["SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR", "SEGV_PKUERR", "SEGV_ACCADI", "SEGV_ADIDERR", "SEGV_ADIPERR", "SEGV_MTEAERR", "SEGV_MTESERR"]
        case .SIGBUS: own = ["BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR", "BUS_MCEERR_AR", "BUS_MCEERR_AO"]
        case .SIGTRAP: own = ["TRAP_BRKPT", "TRAP_TRACE", "TRAP_BRANCH", "TRAP_HWBKPT", "TRAP_UNK", "TRAP_PERF"]
        case .SIGCHLD: own = ["CLD_EXITED", "CLD_KILLED", "CLD_DUMPED", "CLD_TRAPPED", "CLD_STOPPED", "CLD_CONTINUED"]
        case .SIGIO: own = ["POLL_IN", "POLL_OUT", "POLL_MSG", "POLL_ERR", "POLL_PRI", "POLL_HUP"]
        case .SIGSYS: own = ["SYS_SECCOMP", "SYS_USER_DISPATCH"]
        default: own = []
        }
        return info.code >= 1 && Int(info.code) <= own.count ? own[Int(info.code) - 1] : String(info.code)
    }

    static let genericCodes: [Int32: String] = [0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER", -3: "SI_MESGQ",
                                                -4: "SI_ASYNCIO", -5: "SI_SIGIO", -6: "SI_TKILL", -7: "SI_DETHREAD", -60: "SI_ASYNCNL"]

    func exited(_ task: Task, _ status: ExitStatus) {
        guard options.lines, enterStream() else { return }
        defer { leaveStream() }
        // strace's print_signalled: a death shows only if -e signal= takes its signal.
        if case .signaled(let s, _) = status, !(options.signals?.contains(s.rawValue) ?? true) { return }
        switch (style, status) {
        case (.text, .exited(let c)): emit(task, "+++ exited with \(c & 0xff) +++")
        case (.text, .signaled(let s, let core)): emit(task, "+++ killed by \(s.straceName)\(core ? " (core dumped)" : "") +++")
        case (.json, .exited(let c)): emit(task, "{\"pid\":\(task.pid),\"exited\":\(c & 0xff)}")
        case (.json, .signaled(let s, _)): emit(task, "{\"pid\":\(task.pid),\"killed\":\(Self.json(s.name))}")
        }
    }

    /// One line, with the pid and time prefixes strace puts before it;
    /// lines that are not calls (signals, exits) are stamped now.
    /// Writes one line: `[pid N] `, the times, then `line`; for a call, `result`
    /// (" = ...") starts at column 40 counting all that, as strace's tabto().
    private func emit(_ task: Task, _ line: String, result: String? = nil, wall: timespec? = nil, sincePrevious: Int64? = nil) {
        guard style == .text else { write(line + "\n"); return }
        var text = ""
        if showPIDs.load(ordering: .relaxed) {
            let tid = String(task.tid)
            text = "[pid " + String(repeating: " ", count: max(0, 5 - tid.count)) + tid + "] "
        }
        if options.timestamps != .none || options.relative {
            let w = wall ?? (options.timestamps != .none ? Self.now(CLOCK_REALTIME) : timespec())
            var since = sincePrevious ?? 0
            if sincePrevious == nil && options.relative {
                let now = Self.ns(Self.now(CLOCK_MONOTONIC))
                let previous = lastEntry.exchange(now, ordering: .relaxed)
                since = previous == 0 ? 0 : now &- previous
            }
            text += prefix(wall: w, sincePrevious: since)
        }
        text += line
        if let result {
            if text.count < 39 { text += String(repeating: " ", count: 39 - text.count) }
            text += result
        }
        write(text + "\n")
    }

    private func write(_ text: String) {
        if stream && closed.load(ordering: .relaxed) { return }
        var bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                // A client gone (EPIPE) or not reading (the send timeout):
                // the stream ends, and its watcher, woken by the shutdown, detaches.
                if stream && !closed.exchange(true, ordering: .relaxed) { shutdown(fd, Int32(SHUT_RDWR)) }
                return
            }
            off += n
        }
    }

    static func json(_ s: String) -> String { JSONValue.quote(s) }
}
