/// What `--strace` and strace's own flags ask the tracer for: which calls,
/// how each line looks, and whether a `-c` summary follows.
public struct TraceOptions: Sendable, Equatable {
    public enum Timestamps: Int, Sendable { case none, seconds, microseconds, epoch }   // -t, -tt, -ttt
    /// `-e status=`: how a call ended.
    public enum Status: String, Sendable, CaseIterable {
        case successful, failed, unfinished, unavailable, detached
    }
    public struct Invalid: Error, Equatable { public let message: String }

    public var style: Tracer.Style = .text
    /// A line per call (off for `-c` alone).
    public var lines = true
    /// `-c`/`-C`: the table of counts and times at the end.
    public var summary = false
    /// `-T`: ` <0.000123>` after each result.
    public var callTime = false
    /// `-w`: `-c` sums wall-clock time, blocking included; else the CPU time
    /// the sentry's thread spent serving each call (strace's default, system time).
    public var summaryWallClock = false
    public var timestamps = Timestamps.none
    /// `-r`: the time since the previous traced call's entry.
    public var relative = false
    /// `-s`: strings are cut after this many bytes.
    public var stringLimit = 32
    /// `-y` (1) and `-yy` (2): descriptors with what they are.
    public var fdPaths = 0
    /// `-k`: the guest's call stack after each call.
    public var stackTraces = false
    /// Traced syscall numbers (index = number); nil traces every call.
    public var traced: [Bool]?
    /// `-e status=`; nil prints every call.
    public var statuses: Set<Status>?
    /// `-e signal=`: signal numbers whose delivery is printed; nil prints all.
    public var signals: Set<Int32>?

    public init() {}

    /// One `-e` expression: `trace=`, `status=`, `signal=` (or `signals=`);
    /// a bare list means `trace=`. `number` names the syscall table's numbers.
    public mutating func apply(_ expression: String, number: (String) -> Int?) throws(Invalid) {
        var key = "trace", value = Substring(expression)
        if let eq = expression.firstIndex(of: "=") {
            key = String(expression[..<eq]); value = expression[expression.index(after: eq)...]
        }
        let negate = value.hasPrefix("!")
        if negate { value = value.dropFirst() }
        let items = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        switch key {
        case "trace", "t":
            var set = [Bool](repeating: false, count: SyscallTable.maxNumber)
            for item in items {
                var name = item
                let optional = name.hasPrefix("?")
                if optional { name.removeFirst() }
                if name == "all" { set = set.map { _ in true }; continue }
                if name == "none" { continue }
                let names = name.hasPrefix("%") ? SyscallClass.members(name) : [name]
                guard let names else { throw Invalid(message: "invalid system call class '\(name)'") }
                var found = false
                for n in names { if let nr = number(n), nr < set.count { set[nr] = true; found = true } }
                if !found && !optional && !name.hasPrefix("%") { throw Invalid(message: "invalid system call '\(name)'") }
            }
            if negate { set = set.map { !$0 } }
            if let old = traced { set = zip(old, set).map { $0 || $1 } }   // -e trace= given twice adds up
            traced = set
        case "status":
            var set: Set<Status> = []
            for item in items {
                if item == "all" { set = Set(Status.allCases); continue }
                if item == "none" { continue }
                guard let s = Status(rawValue: item) else { throw Invalid(message: "invalid status '\(item)'") }
                set.insert(s)
            }
            statuses = negate ? Set(Status.allCases).subtracting(set) : set
        case "signal", "signals", "s":
            var set: Set<Int32> = []
            for item in items {
                if item == "all" { set.formUnion(1...64); continue }
                if item == "none" { continue }
                guard let n = Self.signalNumber(item) else { throw Invalid(message: "invalid signal '\(item)'") }
                set.insert(n)
            }
            signals = negate ? Set(1...64).subtracting(set) : set
        default:
            throw Invalid(message: "invalid -e qualifier '\(key)' (trace, status or signal)")
        }
    }

    /// SIGCHLD, CHLD, chld or 17.
    static func signalNumber(_ s: String) -> Int32? {
        if let n = Int32(s) { return n >= 1 && n <= 64 ? n : nil }
        let upper = s.uppercased()
        let name = upper.hasPrefix("SIG") ? upper : "SIG" + upper
        return (1...64).first { Signal(Int32($0)).straceName == name }.map { Int32($0) }
    }
}
