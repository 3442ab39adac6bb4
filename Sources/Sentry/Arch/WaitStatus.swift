/// The wait status word (wait4(2), waitpid(2)): how Linux encodes an exit,
/// a death by signal, a stop and a continue in one int, for the statuses the
/// sentry reads from the host (ptrace stops) and the ones it gives the guest.
public struct WaitStatus: Sendable, Equatable {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// WIFEXITED: the low seven bits are zero.
    public var exited: Bool { rawValue & 0x7f == 0 }
    /// WEXITSTATUS.
    public var exitStatus: Int32 { (rawValue >> 8) & 0xff }
    /// WIFSTOPPED: the low byte is 0x7f.
    public var stopped: Bool { rawValue & 0xff == 0x7f }
    /// WSTOPSIG (for a ptrace stop, the signal or SIGTRAP|0x80 / event bits above it stay in the high byte).
    public var stopSignal: Int32 { (rawValue >> 8) & 0xff }
    /// WIFCONTINUED.
    public var continued: Bool { rawValue == 0xffff }
    /// WTERMSIG.
    public var termSignal: Int32 { rawValue & 0x7f }
    /// WCOREDUMP.
    public var coreDumped: Bool { rawValue & 0x80 != 0 }

    public static func exited(_ code: Int32) -> WaitStatus { WaitStatus((code & 0xff) << 8) }
    public static func signaled(_ sig: Int32, coreDumped: Bool) -> WaitStatus { WaitStatus(sig | (coreDumped ? 0x80 : 0)) }
    public static func stopped(_ sig: Int32) -> WaitStatus { WaitStatus(0x7f | (sig << 8)) }
    public static let continued = WaitStatus(0xffff)
}
