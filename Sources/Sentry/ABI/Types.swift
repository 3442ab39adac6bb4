/// An address in the guest's address space. Never dereferenced by the sentry:
/// guest memory is reached only through `MemoryManager.copyIn/copyOut`.
public struct GuestAddress: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ raw: UInt64) { self.rawValue = raw }
    public static let null = GuestAddress(0)
    public static let pageSize: UInt64 = 4096

    public var isNull: Bool { rawValue == 0 }
    public var isPageAligned: Bool { rawValue & (Self.pageSize - 1) == 0 }
    public var pageDown: GuestAddress { GuestAddress(rawValue & ~(Self.pageSize - 1)) }
    /// Rounds up to a page; nil on overflow.
    public var pageUp: GuestAddress? {
        let (r, o) = rawValue.addingReportingOverflow(Self.pageSize - 1)
        return o ? nil : GuestAddress(r & ~(Self.pageSize - 1))
    }
    public static func + (a: GuestAddress, n: UInt64) -> GuestAddress { GuestAddress(a.rawValue &+ n) }
    public static func - (a: GuestAddress, n: UInt64) -> GuestAddress { GuestAddress(a.rawValue &- n) }
    public static func - (a: GuestAddress, b: GuestAddress) -> UInt64 { a.rawValue &- b.rawValue }
    public static func < (a: GuestAddress, b: GuestAddress) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "0x" + String(rawValue, radix: 16) }
}

extension Array where Element == UInt8 {
    /// Writes `value`'s bytes at `offset` (building kernel structs: siginfo, frames).
    public mutating func store<T>(_ value: T, at offset: Int) {
        Swift.withUnsafeBytes(of: value) { for (i, b) in $0.enumerated() { self[offset + i] = b } }
    }

    /// Reads a `T` at `offset` (parsing the structs a guest passes in).
    public func load<T: BitwiseCopyable>(_: T.Type, at offset: Int) -> T {
        withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }
}

/// Memory protection (PROT_READ/WRITE/EXEC), as mmap and mprotect take it.
public struct Prot: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let read = Prot(rawValue: 1)
    public static let write = Prot(rawValue: 2)
    public static let exec = Prot(rawValue: 4)
    public static let none: Prot = []
    public static let rw: Prot = [.read, .write]
}

/// A guest file descriptor number (an index into its FDTable).
public struct FileDescriptor: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public init(_ raw: Int32) { self.rawValue = raw }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}

/// A Linux signal number.
public struct Signal: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public init(_ raw: Int32) { self.rawValue = raw }
    public static let SIGHUP = Signal(1), SIGINT = Signal(2), SIGQUIT = Signal(3), SIGILL = Signal(4)
    public static let SIGTRAP = Signal(5), SIGABRT = Signal(6), SIGBUS = Signal(7), SIGFPE = Signal(8)
    public static let SIGKILL = Signal(9), SIGUSR1 = Signal(10), SIGSEGV = Signal(11), SIGUSR2 = Signal(12)
    public static let SIGPIPE = Signal(13), SIGALRM = Signal(14), SIGTERM = Signal(15)
    public static let SIGCHLD = Signal(17), SIGCONT = Signal(18), SIGSTOP = Signal(19)
    public static let SIGTSTP = Signal(20), SIGTTIN = Signal(21), SIGTTOU = Signal(22), SIGURG = Signal(23)
    public static let SIGXCPU = Signal(24), SIGXFSZ = Signal(25), SIGVTALRM = Signal(26)
    public static let SIGPROF = Signal(27), SIGWINCH = Signal(28), SIGIO = Signal(29)
    public static let SIGPWR = Signal(30), SIGSYS = Signal(31)
    /// _NSIG: the highest signal number.
    public static let max: Int32 = 64

    /// The signals a guest's own instruction raises (a fault trap), when
    /// si_code says the kernel sent them.
    public static let synchronousFaults: Set<Signal> = [.SIGSEGV, .SIGBUS, .SIGFPE, .SIGILL, .SIGTRAP]
    public var isSynchronousFault: Bool { Self.synchronousFaults.contains(self) }

    static let names = ["", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS",
                        "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM",
                        "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN",
                        "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH",
                        "SIGIO", "SIGPWR", "SIGSYS"]
    public var name: String {
        if rawValue > 0 && Int(rawValue) < Signal.names.count { return Signal.names[Int(rawValue)] }
        if rawValue == 32 || rawValue == 33 { return "SIG\(rawValue)" }
        if rawValue >= 34 && rawValue <= 64 { return rawValue == 34 ? "SIGRTMIN" : "SIGRTMIN+\(rawValue - 34)" }
        return "SIG\(rawValue)"
    }
    public var description: String { name }
    public var isValid: Bool { rawValue >= 1 && rawValue <= 64 }

    /// What a shell prints when a job dies of this signal (bash's strsignal text).
    public var shellReport: String {
        switch self {
        case .SIGHUP: return "Hangup"
        case .SIGINT: return ""   // shells print nothing but a newline for ^C
        case .SIGQUIT: return "Quit"
        case .SIGILL: return "Illegal instruction"
        case .SIGTRAP: return "Trace/breakpoint trap"
        case .SIGABRT: return "Aborted"
        case .SIGBUS: return "Bus error"
        case .SIGFPE: return "Floating point exception"
        case .SIGKILL: return "Killed"
        case .SIGUSR1: return "User defined signal 1"
        case .SIGSEGV: return "Segmentation fault"
        case .SIGUSR2: return "User defined signal 2"
        case .SIGPIPE: return ""  // shells stay quiet for SIGPIPE too
        case .SIGALRM: return "Alarm clock"
        case .SIGTERM: return "Terminated"
        case .SIGXCPU: return "CPU time limit exceeded"
        case .SIGXFSZ: return "File size limit exceeded"
        case .SIGVTALRM: return "Virtual timer expired"
        case .SIGPROF: return "Profiling timer expired"
        case .SIGSYS: return "Bad system call"
        default: return "Killed by signal \(rawValue)"
        }
    }

    /// Linux's default action for the signal (signal(7)).
    public enum DefaultAction: Sendable { case terminate, coreDump, ignore, stop, resume }
    public var defaultAction: DefaultAction {
        switch self {
        case .SIGCHLD, .SIGURG, .SIGWINCH: return .ignore
        case .SIGCONT: return .resume
        case .SIGSTOP, .SIGTSTP, .SIGTTIN, .SIGTTOU: return .stop
        case .SIGQUIT, .SIGILL, .SIGTRAP, .SIGABRT, .SIGBUS, .SIGFPE, .SIGSEGV, .SIGXCPU,
             .SIGXFSZ, .SIGSYS:
            return .coreDump
        default: return .terminate
        }
    }
}
