/// A syscall handler: reads its arguments, works on the task's kernel
/// objects, returns the value for rax or throws the errno.
public typealias SyscallHandler = @Sendable (Task, SyscallArguments) throws(Errno) -> Int64

/// The few handlers that do more than return a value (execve, rt_sigreturn,
/// exit, exit_group) say what the run loop does next.
public typealias ControlHandler = @Sendable (Task, SyscallArguments) throws(Errno) -> SyscallOutcome

/// How a syscall is served: most return a value for rax; a few steer the task.
public enum SyscallImplementation: Sendable {
    case returns(SyscallHandler)
    case controls(ControlHandler)

    func callAsFunction(_ t: Task, _ a: SyscallArguments) -> SyscallOutcome {
        do {
            switch self {
            case .returns(let h): return .value(try h(t, a))
            case .controls(let h): return try h(t, a)
            }
        } catch { return .value(-Int64(error.rawValue)) }
    }
}

/// One entry of the table: the name strace prints, the handler (nil: the
/// sentry doesn't implement it and answers ENOSYS), how to print arguments
/// and result, and a note on how complete the support is.
public struct Syscall: Sendable {
    public let name: String
    /// nil: the sentry doesn't implement it and answers ENOSYS.
    public let implementation: SyscallImplementation?
    public let args: [ArgFormat]
    public let ret: RetFormat
    public let note: String?

    public init(_ name: String, _ handler: SyscallHandler?, _ args: [ArgFormat], _ ret: RetFormat = .int, note: String? = nil) {
        self.init(name, handler.map { .returns($0) }, args, ret, note: note)
    }

    public init(_ name: String, control: @escaping ControlHandler, _ args: [ArgFormat], _ ret: RetFormat = .int, note: String? = nil) {
        self.init(name, .controls(control), args, ret, note: note)
    }

    private init(_ name: String, _ implementation: SyscallImplementation?, _ args: [ArgFormat], _ ret: RetFormat, note: String?) {
        self.name = name; self.implementation = implementation; self.args = args; self.ret = ret; self.note = note
    }

    public var isImplemented: Bool { implementation != nil }

    /// A syscall the sentry knows by name but answers with ENOSYS.
    public static func unimplemented(_ name: String, _ args: [ArgFormat] = [.hex, .hex, .hex, .hex, .hex, .hex], note: String? = nil) -> Syscall {
        Syscall(name, nil as SyscallImplementation?, args, .int, note: note)
    }
}

/// The syscall table, indexed by number. Numbers with no entry are unknown:
/// ENOSYS, traced as `syscall_0x1f4(...)` as strace does.
public struct SyscallTable: Sendable {
    private var entries: [Syscall?]
    public static let maxNumber = 512

    public init(_ table: [Int: Syscall]) {
        entries = Array(repeating: nil, count: Self.maxNumber)
        for (nr, s) in table where nr >= 0 && nr < Self.maxNumber { entries[nr] = s }
    }

    /// Gives every number in `names` that has no entry yet one that
    /// answers ENOSYS under its name.
    public mutating func addUnimplemented(_ names: SyscallNames) {
        for (nr, name) in names.pairs where nr >= 0 && nr < Self.maxNumber && entries[nr] == nil {
            entries[nr] = .unimplemented(name)
        }
    }

    public subscript(nr: UInt64) -> Syscall? { nr < UInt64(Self.maxNumber) ? entries[Int(nr)] : nil }

    /// The handler alone: what every call needs, without a copy of the
    /// entry's names and formats (their retains and releases).
    public func implementation(_ nr: UInt64) -> SyscallImplementation? {
        nr < UInt64(Self.maxNumber) ? entries[Int(nr)]?.implementation : nil
    }

    /// The number a name has in this table (for --strace-filter).
    public func number(of name: String) -> Int? { entries.firstIndex { $0?.name == name } }

    /// Every name's number at once, for many look-ups (the self-confinement
    /// filter's ~170 names, at every start, where a scan each is quadratic).
    public func numbersByName() -> [String: Int] {
        var out: [String: Int] = [:]
        out.reserveCapacity(entries.count)
        // The name alone, not a copy of the entry (its retains and releases).
        for nr in entries.indices { if let name = entries[nr]?.name, out[name] == nil { out[name] = nr } }
        return out
    }

    public var implemented: [(Int, Syscall)] {
        entries.enumerated().compactMap { i, s in s.flatMap { $0.isImplemented ? (i, $0) : nil } }
    }
    public var all: [(Int, Syscall)] { entries.enumerated().compactMap { i, s in s.map { (i, $0) } } }
}

/// The table written as a literal (`[0: Syscall("read", ...), ...]`) goes
/// straight into the array: a Dictionary literal of the ~370 entries, hashed
/// and then copied out, cost about 0.1 ms of every start.
extension SyscallTable: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (Int, Syscall)...) {
        entries = Array(repeating: nil, count: Self.maxNumber)
        for (nr, s) in elements {
            precondition(nr >= 0 && nr < Self.maxNumber && entries[nr] == nil, "syscall \(nr) out of range or listed twice")
            entries[nr] = s
        }
    }
}

/// Syscall names by number, written as a literal and kept as the pairs
/// given (nothing looks a name up in it: it fills a table's gaps).
public struct SyscallNames: ExpressibleByDictionaryLiteral, Sendable {
    public let pairs: [(Int, String)]
    public init(dictionaryLiteral elements: (Int, String)...) { pairs = elements }
}
