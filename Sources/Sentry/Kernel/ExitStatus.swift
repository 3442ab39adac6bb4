/// How a guest process ended, in wait(2) terms.
public enum ExitStatus: Sendable, Equatable {
    case exited(Int32)
    case signaled(Signal, coreDumped: Bool)

    /// The status a shell would report: the code, or 128 + signal.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let c): return c & 0xff
        case .signaled(let s, _): return 128 + s.rawValue
        }
    }
}
