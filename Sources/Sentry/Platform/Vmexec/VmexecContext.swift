import CSwitch
import Glibc
import Synchronization

/// Runs a task's guest code on the task's own thread with process_vm_exec.
/// The guest's FPU state lives here as an XSAVE image, loaded before each
/// call and saved after it (the kernel leaves the FPU as the guest left it);
/// the sentry's own control words are put back (sw_vmexec_run).
/// Sendable: used only by its task's thread, but `kick`, which reads the atomic `thread`.
final class VmexecContext: PlatformContext, @unchecked Sendable {
    private var context = sw_vmexec_context()
    private var info = siginfo_t()
    private let xsaveSize = max(Int(sw_xsave_size()), 576)
    private let guestFPU: UnsafeMutableRawPointer
    /// The host thread in process_vm_exec, for kick().
    private let thread = Atomic<UInt>(0)

    /// Signals that end the guest's turn and come back as traps.
    private static let reported: UInt64 = (Signal.synchronousFaults.map(\.rawValue) + [KickSignal.signal])
        .reduce(0) { $0 | 1 << UInt64($1 - 1) }
    private var mask = VmexecContext.reported

    init() {
        guestFPU = .allocate(byteCount: xsaveSize, alignment: 64)
        // XSAVE writes only the header bits of the components it saves:
        // the rest of the header must start as zeros or XRSTOR faults.
        sw_xsave_init(guestFPU, xsaveSize)
        context.version = 2   // PROCESS_VM_EXEC_CONTEXT_V2: with the guest's PKRU
        context.size = UInt32(MemoryLayout<sw_vmexec_context>.size)
    }

    deinit { guestFPU.deallocate() }

    /// The kick signal must reach a thread in process_vm_exec: not ignored
    /// (an ignored signal is dropped when sent) and not blocked.
    static func installKickHandler() {
        var sa = sigaction()
        sa.__sigaction_handler.sa_handler = { _ in }
        sa.sa_flags = SA_RESTART
        sigaction(KickSignal.signal, &sa, nil)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, KickSignal.signal)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    func switchTo(_ anySpace: AddressSpace, _ regs: inout Registers) throws(PlatformError) -> Trap {
        let s = anySpace as! VmexecAddressSpace
        thread.store(pthread_self(), ordering: .relaxed)
        context.regs = regs.raw
        let r = sw_vmexec_run(VmexecPlatform.number, s.stubPID, &context, &info, &mask, guestFPU)
        thread.store(0, ordering: .relaxed)
        if r < 0 && r != -Int(EINTR) {
            if r == -Int(ESRCH) { throw .stubDied("vmexec stub \(s.stubPID) is gone") }
            throw .host("process_vm_exec", Errno(Int32(-r)))
        }
        // EINTR too: the guest may have run before a host signal ended its
        // turn, and it resumes where it got to, not where the turn began.
        regs.raw = context.regs
        if r == -Int(EINTR) {
            SyscallABI.leaveSyscall(&regs.raw)
            return .interrupted
        }
        let sig = info.si_signo
        if sig == SIGSYS {
            regs.raw.rax = UInt64(bitPattern: -Int64(Errno.ENOSYS.rawValue))   // orig_rax holds the number
            return .syscall
        }
        if Signal(sig).isSynchronousFault {
            SyscallABI.leaveSyscall(&regs.raw)
            return .fault(Signal(sig), address: GuestAddress(sw_siginfo_addr(&info)),
                          code: sw_siginfo_code(&info), access: nil)
        }
        SyscallABI.leaveSyscall(&regs.raw)
        return .interrupted
    }

    func kick() {
        let t = thread.load(ordering: .relaxed)
        if t != 0 { pthread_kill(t, KickSignal.signal) }
    }

    func fpuState(_ space: AddressSpace) throws(PlatformError) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: guestFPU, count: xsaveSize))
    }

    func setFPUState(_ space: AddressSpace, _ image: [UInt8]) throws(PlatformError) {
        image.withUnsafeBytes { _ = memcpy(guestFPU, $0.baseAddress!, min(xsaveSize, $0.count)) }
        sw_xsave_sanitize(guestFPU, xsaveSize)
    }
}
