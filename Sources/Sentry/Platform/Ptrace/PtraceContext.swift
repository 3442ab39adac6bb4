import CSwitch
import Glibc
import Synchronization

/// Runs a task's guest code in its stub with PTRACE_SYSEMU: the next syscall
/// stops the stub at syscall entry and the host skips it; we answer by
/// writing rax and resuming.
/// Sendable: used only by its task's thread (the tracer), but `kick`, which reads the atomic `kickPID`.
final class PtraceContext: PlatformContext, @unchecked Sendable {
    // Touched only by the task's own thread.
    private var space: PtraceAddressSpace?
    private var pid: pid_t = 0
    /// The registers at the last trap and the injection count then: if only
    /// rax changed since, a POKEUSER replaces the whole SETREGSET.
    private var last = sw_regs()
    private var lastInjections: UInt64 = .max
    /// The stub to kick, readable from other threads.
    private let kickPID = Atomic<Int32>(0)

    func switchTo(_ anySpace: AddressSpace, _ regs: inout Registers) throws(PlatformError) -> Trap {
        let s = anySpace as! PtraceAddressSpace
        if s !== space {
            pid = try s.runnerPID()
            space = s
            lastInjections = .max
            kickPID.store(pid, ordering: .relaxed)
        }
        var rc: Int32
        if lastInjections == s.injections.load(ordering: .relaxed) && onlyRaxChanged(regs.raw) {
            rc = sw_set_rax(pid, regs.raw.rax)
        } else {
            rc = sw_setregs(pid, &regs.raw)
        }
        if rc < 0 { throw .stubDied("PTRACE_SETREGSET: \(Errno(-rc))") }
        rc = sw_sysemu(pid, 0)
        if rc < 0 { throw .stubDied("PTRACE_SYSEMU: \(Errno(-rc))") }
        var status: Int32 = 0
        let w = sw_wait(pid, &status)
        if w < 0 { throw .stubDied("waitpid: \(Errno(-w))") }
        guard WaitStatus(status).stopped else { throw .stubDied(Self.describe(status)) }
        let sig = WaitStatus(status).stopSignal
        rc = sw_getregs(pid, &regs.raw)
        if rc < 0 { throw .stubDied("PTRACE_GETREGSET: \(Errno(-rc))") }
        last = regs.raw
        lastInjections = s.injections.load(ordering: .relaxed)
        if sig == SIGTRAP | 0x80 { return .syscall }
        if status >> 16 == 0 {
            var info = siginfo_t()
            _ = sw_getsiginfo(pid, &info)
            let code = sw_siginfo_code(&info)
            // The stub filter's trap of the host's vsyscall emulation: the
            // host has already emulated a ret; the registers go back to the call.
            if sig == SIGSYS && code == 1 /* SYS_SECCOMP */, VsyscallPage.contains(sw_siginfo_addr(&info)) {
                regs.ip = sw_siginfo_addr(&info)
                regs.sp = regs.sp &- 8
                SyscallABI.leaveSyscall(&regs.raw)
                return .vsyscall
            }
            // si_code > 0: raised by the CPU for the guest's own instruction.
            if code > 0, Signal(sig).isSynchronousFault {
                // ptrace shows no page-fault error code: the access kind is unknown.
                return .fault(Signal(sig), address: GuestAddress(sw_siginfo_addr(&info)), code: code, access: nil)
            }
        }
        // A kick, an event stop, or a stray host signal: never passed on.
        return .interrupted
    }

    private func onlyRaxChanged(_ r: sw_regs) -> Bool {
        var probe = r
        probe.rax = last.rax
        return withUnsafeBytes(of: &probe) { a in withUnsafeBytes(of: &last) { b in memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 } }
    }

    func kick() {
        let p = kickPID.load(ordering: .relaxed)
        if p > 0 { kill(p, KickSignal.signal) }
    }

    func fpuState(_ space: AddressSpace) throws(PlatformError) -> [UInt8] {
        let pid = try (space as! PtraceAddressSpace).runnerPID()
        var buf = [UInt8](repeating: 0, count: 8192)
        let n = buf.withUnsafeMutableBytes { sw_getfpregs(pid, $0.baseAddress, $0.count) }
        if n < 0 { throw .host("PTRACE_GETREGSET NT_X86_XSTATE", Errno(Int32(-n))) }
        return Array(buf[0..<Int(n)])
    }

    func setFPUState(_ space: AddressSpace, _ image: [UInt8]) throws(PlatformError) {
        let pid = try (space as! PtraceAddressSpace).runnerPID()
        let n = image.withUnsafeBytes { sw_setfpregs(pid, $0.baseAddress, $0.count) }
        if n < 0 { throw .host("PTRACE_SETREGSET NT_X86_XSTATE", Errno(Int32(-n))) }
    }

    static func describe(_ status: Int32) -> String {
        let s = WaitStatus(status)
        if s.exited { return "exited with status \(s.exitStatus)" }
        if s.stopped { return "stopped by \(Signal(s.stopSignal))" }
        return "killed by \(Signal(s.termSignal))"
    }
}
