import CSwitch
import Glibc

/// Runs a task's guest code in a stub with PTRACE_SYSEMU: the next syscall
/// stops the stub at syscall entry and the host skips it; we answer by
/// writing rax and resuming.
final class PtraceContext: PlatformContext {
    func switchTo(_ space: AddressSpace, _ regs: inout Registers) throws(PlatformError) -> Trap {
        let pid = (space as! PtraceAddressSpace).pid
        var rc = sw_setregs(pid, &regs.raw)
        if rc < 0 { throw .stubDied("PTRACE_SETREGSET: \(Errno(-rc))") }
        rc = sw_sysemu(pid, 0)
        if rc < 0 { throw .stubDied("PTRACE_SYSEMU: \(Errno(-rc))") }
        while true {
            var status: Int32 = 0
            let w = sw_wait(pid, &status)
            if w < 0 { throw .stubDied("waitpid: \(Errno(-w))") }
            guard (status & 0xff) == 0x7f else { throw .stubDied(Self.describe(status)) }
            let sig = (status >> 8) & 0xff
            rc = sw_getregs(pid, &regs.raw)
            if rc < 0 { throw .stubDied("PTRACE_GETREGSET: \(Errno(-rc))") }
            if sig == SIGTRAP | 0x80 { return .syscall }
            var info = siginfo_t()
            _ = sw_getsiginfo(pid, &info)
            let code = sw_siginfo_code(&info)
            // si_code > 0: raised by the CPU for the guest's own instruction.
            if code > 0, [SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP].contains(sig) {
                return .fault(Signal(sig), address: GuestAddress(sw_siginfo_addr(&info)), code: code)
            }
            return .signal(Signal(sig))
        }
    }

    func fpuState(_ space: AddressSpace) throws(PlatformError) -> [UInt8] {
        let pid = (space as! PtraceAddressSpace).pid
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { sw_getfpregs(pid, $0.baseAddress, $0.count) }
        if n < 0 { throw .host("PTRACE_GETREGSET NT_X86_XSTATE", Errno(Int32(-n))) }
        return Array(buf[0..<Int(n)])
    }

    static func describe(_ status: Int32) -> String {
        if status & 0x7f == 0 { return "exited with status \((status >> 8) & 0xff)" }
        if (status & 0xff) == 0x7f { return "stopped by \(Signal((status >> 8) & 0xff))" }
        return "killed by \(Signal(status & 0x7f))"
    }
}
