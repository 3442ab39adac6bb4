/// A sigaction as the guest registered it (struct kernel_sigaction).
public struct SignalAction: Sendable, Equatable {
    public var handler: UInt64 = 0       // SIG_DFL = 0, SIG_IGN = 1, else a guest address
    public var flags: UInt64 = 0
    public var restorer: UInt64 = 0
    public var mask: UInt64 = 0
    public init() {}
    public static let SIG_DFL: UInt64 = 0, SIG_IGN: UInt64 = 1
}

/// Per-process signal dispositions and per-task mask and pending set.
/// Delivery into guest handlers (signal frames) comes with the signals work;
/// until then a signal whose action is a guest handler stays pending.
public struct SignalState: Sendable {
    public var actions = [SignalAction](repeating: SignalAction(), count: 65)
    public var mask: UInt64 = 0
    public var pending: UInt64 = 0

    public static func bit(_ s: Signal) -> UInt64 { 1 << UInt64(s.rawValue - 1) }
    /// SIGKILL and SIGSTOP can be neither caught, blocked nor ignored.
    public static let unblockable: UInt64 = bit(.SIGKILL) | bit(.SIGSTOP)
}
