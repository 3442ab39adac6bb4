import CSwitch

/// A trapping backend. One per sandbox. Its address spaces and contexts are
/// bound to the host thread that made them (ptrace: the tracer thread).
public protocol Platform: AnyObject {
    var name: String { get }
    /// A fresh, empty guest address space (for ptrace: a new stub process).
    func makeAddressSpace() throws(PlatformError) -> AddressSpace
    /// An execution context for one guest task.
    func makeContext() throws(PlatformError) -> PlatformContext
}

/// The host-side mirror of one guest memory map. The memory manager owns the
/// truth (its VMAs); this only makes the host page tables agree with it.
public protocol AddressSpace: AnyObject {
    /// Maps `range` to the memory file at `fileOffset` with `prot`, replacing
    /// whatever was there.
    func map(_ range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot) throws(PlatformError)
    func unmap(_ range: Range<GuestAddress>) throws(PlatformError)
    func protect(_ range: Range<GuestAddress>, prot: Prot) throws(PlatformError)
    /// Kills the backing host process or frees the backing object.
    func release()
}

/// Runs guest code on behalf of one task until it traps back into the sentry.
public protocol PlatformContext: AnyObject {
    func switchTo(_ space: AddressSpace, _ regs: inout Registers) throws(PlatformError) -> Trap
    /// Guest FPU/SSE/AVX state as an XSAVE image (for signal frames, checkpoints).
    func fpuState(_ space: AddressSpace) throws(PlatformError) -> [UInt8]
}

/// Why guest code stopped running.
public enum Trap: Sendable, Equatable {
    /// A system call; number and arguments are in the registers.
    case syscall
    /// A synchronous fault raised by the guest's own instruction.
    case fault(Signal, address: GuestAddress, code: Int32)
    /// An asynchronous signal arrived for the guest (forwarded from the host).
    case signal(Signal)
}

public enum PlatformError: Error, CustomStringConvertible {
    case unavailable(String)
    case host(String, Errno)
    /// The host process behind the address space died under us.
    case stubDied(String)

    public var description: String {
        switch self {
        case .unavailable(let why): return why
        case .host(let what, let e): return "\(what): \(e)"
        case .stubDied(let why): return "stub process died: \(why)"
        }
    }
}
