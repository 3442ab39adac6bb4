import CSwitch
import Glibc

/// A stub process that provides one guest address space. Changes to its map
/// are made by injecting mmap/munmap/mprotect into it: the tracer points it at
/// the stub's `syscall; int3` gadget and lets it run to the int3.
final class PtraceAddressSpace: AddressSpace {
    let pid: pid_t
    let memory: MemoryFile
    let stub: StubRegion
    /// Registers of the stub at its first stop: valid segment selectors and
    /// flags to start injected calls (and the guest) from.
    let initialRegisters: Registers
    private var dead = false

    init(memory: MemoryFile, stub: StubRegion) throws(PlatformError) {
        self.memory = memory
        self.stub = stub
        let pid = sw_stub_fork(memory.fd, stub.base.rawValue)
        if pid < 0 { throw .host("forking a stub process", Errno(-pid)) }
        self.pid = pid
        var status: Int32 = 0
        // 1. The child stops itself once it is traced.
        try Self.expectStop(pid, SIGSTOP, &status, "stub did not reach its first stop")
        // Options before the stub code runs: die with the sentry; mark syscall stops.
        let opts: UInt = 0x100000 /* PTRACE_O_EXITKILL */ | 0x1 /* PTRACE_O_TRACESYSGOOD */
        let r = sw_ptrace(0x4200 /* PTRACE_SETOPTIONS */, pid, 0, UInt(opts))
        if r < 0 { kill(pid, SIGKILL); throw .host("PTRACE_SETOPTIONS", Errno(Int32(-r))) }
        // 2. It maps the stub, unmaps everything else, enters seccomp, and stops on int3.
        _ = sw_cont(pid, 0)
        try Self.expectStop(pid, SIGTRAP, &status, "stub failed to set itself up")
        var regs = sw_regs()
        let g = sw_getregs(pid, &regs)
        if g < 0 { kill(pid, SIGKILL); throw .host("PTRACE_GETREGSET", Errno(-g)) }
        initialRegisters = Registers(raw: regs)
    }

    private static func expectStop(_ pid: pid_t, _ sig: Int32, _ status: inout Int32, _ what: String) throws(PlatformError) {
        let w = sw_wait(pid, &status)
        let stopped = w == pid && (status & 0xff) == 0x7f
        if !stopped || (status >> 8) & 0xff != sig {
            kill(pid, SIGKILL)
            throw .stubDied("\(what) (\(PtraceContext.describe(status)))")
        }
    }

    deinit { release() }

    func release() {
        guard !dead else { return }
        dead = true
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = sw_wait(pid, &status)
    }

    /// Runs one syscall inside the stub; returns its raw result.
    func inject(_ nr: UInt64, _ a: UInt64 = 0, _ b: UInt64 = 0, _ c: UInt64 = 0,
                _ d: UInt64 = 0, _ e: UInt64 = 0, _ f: UInt64 = 0) throws(PlatformError) -> Int64 {
        var regs = initialRegisters.raw
        regs.rip = stub.syscallGadget.rawValue
        regs.rax = nr
        regs.orig_rax = UInt64.max   // not in a syscall: no restart games
        regs.rdi = a; regs.rsi = b; regs.rdx = c; regs.r10 = d; regs.r8 = e; regs.r9 = f
        var rc = sw_setregs(pid, &regs)
        if rc < 0 { throw .host("injecting syscall \(nr)", Errno(-rc)) }
        rc = sw_cont(pid, 0)
        if rc < 0 { throw .host("injecting syscall \(nr)", Errno(-rc)) }
        var status: Int32 = 0
        _ = sw_wait(pid, &status)
        guard (status & 0xff) == 0x7f, (status >> 8) & 0xff == SIGTRAP else {
            var info = siginfo_t()
            _ = sw_getsiginfo(pid, &info)
            _ = sw_getregs(pid, &regs)
            throw .stubDied("injected syscall \(nr): \(PtraceContext.describe(status)) at ip 0x\(String(regs.rip, radix: 16)), address 0x\(String(sw_siginfo_addr(&info), radix: 16)) si_code \(sw_siginfo_code(&info))")
        }
        rc = sw_getregs(pid, &regs)
        if rc < 0 { throw .host("reading injected result", Errno(-rc)) }
        return Int64(bitPattern: regs.rax)
    }

    private static func hostProt(_ p: Prot) -> UInt64 { UInt64(p.rawValue) }

    func map(_ range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot) throws(PlatformError) {
        let len = range.upperBound - range.lowerBound
        let r = try inject(9, range.lowerBound.rawValue, len, Self.hostProt(prot),
                           UInt64(MAP_SHARED | MAP_FIXED), UInt64(memory.fd), fileOffset)
        if r != Int64(range.lowerBound.rawValue) {
            throw .host("stub mmap \(range.lowerBound)+\(len)", Errno(Int32(truncatingIfNeeded: -r)))
        }
    }

    func unmap(_ range: Range<GuestAddress>) throws(PlatformError) {
        let r = try inject(11, range.lowerBound.rawValue, range.upperBound - range.lowerBound)
        if r != 0 { throw .host("stub munmap", Errno(Int32(truncatingIfNeeded: -r))) }
    }

    func protect(_ range: Range<GuestAddress>, prot: Prot) throws(PlatformError) {
        let r = try inject(10, range.lowerBound.rawValue, range.upperBound - range.lowerBound, Self.hostProt(prot))
        if r != 0 { throw .host("stub mprotect", Errno(Int32(truncatingIfNeeded: -r))) }
    }
}
