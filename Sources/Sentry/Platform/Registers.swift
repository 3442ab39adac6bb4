import CSwitch

/// The guest's general-purpose registers, in the kernel's user_regs_struct
/// layout (what PTRACE_GETREGSET NT_PRSTATUS transfers).
public struct Registers: Sendable {
    public var raw: sw_regs

    public init() { raw = sw_regs() }
    public init(raw: sw_regs) { self.raw = raw }

    public var ip: UInt64 { get { raw.rip } set { raw.rip = newValue } }
    public var sp: UInt64 { get { raw.rsp } set { raw.rsp = newValue } }
    /// The syscall number as the guest passed it (rax is already -ENOSYS at a trap).
    /// The number the syscall asked for: do_syscall_64 takes rax as an int
    /// (`movslq %eax`), so bits 32-63 are ignored and a negative int stays
    /// out of the table's range.
    public var syscallNumber: UInt64 { SyscallABI.number(raw.orig_rax) }
    public var returnValue: UInt64 { get { raw.rax } set { raw.rax = newValue } }
    public var fsBase: UInt64 { get { raw.fs_base } set { raw.fs_base = newValue } }
    public var gsBase: UInt64 { get { raw.gs_base } set { raw.gs_base = newValue } }

    /// Syscall arguments in the x86-64 ABI order: rdi, rsi, rdx, r10, r8, r9.
    public var syscallArguments: SyscallArguments {
        SyscallArguments(raw.rdi, raw.rsi, raw.rdx, raw.r10, raw.r8, raw.r9)
    }
}

/// The six raw argument words of a system call.
public struct SyscallArguments: Sendable {
    public var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    public init(_ a: UInt64 = 0, _ b: UInt64 = 0, _ c: UInt64 = 0, _ d: UInt64 = 0, _ e: UInt64 = 0, _ f: UInt64 = 0) {
        words = (a, b, c, d, e, f)
    }
    public subscript(i: Int) -> UInt64 {
        switch i {
        case 0: return words.0
        case 1: return words.1
        case 2: return words.2
        case 3: return words.3
        case 4: return words.4
        default: return words.5
        }
    }
    public func int(_ i: Int) -> Int64 { Int64(bitPattern: self[i]) }
    /// The low 32 bits as a C int, as the kernel reads `int` parameters.
    public func int32(_ i: Int) -> Int32 { Int32(truncatingIfNeeded: self[i]) }
    public func uint32(_ i: Int) -> UInt32 { UInt32(truncatingIfNeeded: self[i]) }
    public func address(_ i: Int) -> GuestAddress { GuestAddress(self[i]) }
    public func fd(_ i: Int) -> FileDescriptor { FileDescriptor(int32(i)) }
}
