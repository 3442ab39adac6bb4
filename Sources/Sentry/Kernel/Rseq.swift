import CSwitch
import Glibc

/// A thread's registered `struct rseq` (rseq(2)).
public struct RseqRegistration: Sendable, Equatable {
    public let area: GuestAddress
    public let signature: UInt32
}

/// Linux 6.1's rseq ABI (include/uapi/linux/rseq.h): the 32-byte struct
/// rseq of the original ABI; node_id and mm_cid came in 6.3.
public enum RseqABI {
    public static let size: UInt32 = 32
    public static let flagUnregister: Int32 = 1
    static let cpuIDStart: UInt64 = 0, cpuID: UInt64 = 4, rseqCS: UInt64 = 8, flags: UInt64 = 16
    static let cpuIDUninitialized = UInt32(bitPattern: -1)
    /// TASK_SIZE on x86-64 with 4-level paging: a critical section's
    /// addresses must be below it.
    static let taskSize = UInt64(SW_TASK_SIZE)
}

/// Restartable sequences, as kernel/rseq.c of Linux 6.1.
///
/// Linux aborts a critical section when its thread is preempted, migrated
/// or gets a signal, and refreshes `cpu_id` on the way back to user mode.
/// Where guest code runs in a stub of its own (systrap, ptrace), the area is
/// registered with the host for that stub as well (`rseqRegisterOnHost`):
/// the host then does all of that for real while the guest computes, and
/// `cpu_id` is the stub's CPU, written by the host alone. Where it cannot be
/// (vmexec runs guest code on the sentry's own thread, whose rseq is the
/// sentry's; a host refusal; an area the mirror cannot keep writable), the
/// sentry emulates: "preempted" means the task stopped running guest code
/// for any reason — a syscall, a fault, a kick to deliver a signal — and
/// every return to the guest (`rseqReturnToGuest`) and every signal frame
/// (`rseqSignalDelivered`) does what Linux's `__rseq_handle_notify_resume`
/// does: abort a section the guest's rip is in, then write the CPU number.
/// Those fix-ups run with a host registration too (a ptrace stub's kick is
/// no host signal delivery, so the host has not aborted there), writing no
/// CPU number.
extension Task {
    /// rseq(2): registration and unregistration, with 6.1's checks in its order.
    public func rseqSyscall(area: GuestAddress, length: UInt32, flags: Int32, signature: UInt32) throws(Errno) {
        if flags & RseqABI.flagUnregister != 0 {
            guard flags & ~RseqABI.flagUnregister == 0, let r = rseq, r.area == area, length == RseqABI.size else { throw .EINVAL }
            guard r.signature == signature else { throw .EPERM }
            rseqDropHost()
            // rseq_reset_rseq_cpu_id
            try mm.write(area + RseqABI.cpuIDStart, (UInt32(0), RseqABI.cpuIDUninitialized))
            rseq = nil
            rseqCPU = nil
            return
        }
        guard flags == 0 else { throw .EINVAL }
        if let r = rseq {
            guard r.area == area, length == RseqABI.size else { throw .EINVAL }
            guard r.signature == signature else { throw .EPERM }
            throw .EBUSY
        }
        guard area.rawValue % UInt64(RseqABI.size) == 0, length == RseqABI.size else { throw .EINVAL }
        guard area.rawValue <= RseqABI.taskSize - UInt64(RseqABI.size) else { throw .EFAULT }   // access_ok
        if try mm.read(area + RseqABI.rseqCS, as: UInt64.self) != 0 {
            try mm.write(area + RseqABI.rseqCS, UInt64(0))
        }
        rseq = RseqRegistration(area: area, signature: signature)
        rseqCPU = nil   // written on the way back to the guest
        rseqOnHost = nil
        rseqRegisterOnHost()
    }

    /// The task's address space where it can register rseq with the host,
    /// found by class: a cast to the protocol looks the conformance up, at
    /// first use a scan of every conformance record of the static binary
    /// (about 60 µs of every `sentry run`).
    var hostRseq: HostRseq? {
        if let s = space as? SystrapAddressSpace { return s }
        if let p = space as? PtraceAddressSpace { return p }
        return nil
    }

    /// Registers `rseq` with the host for the task's stub, once per
    /// registration (a fork's child and a restored task try at their first
    /// return to guest code): the area's page pinned writable first
    /// (`MemoryManager.pinRseqArea`). Else the sentry emulates. Where the
    /// platform can, the registration is made by the stub as it next
    /// enters guest code, before any guest instruction runs, in the same
    /// hand-off: a new thread's rseq(2) then costs no round trip of its
    /// own. It counts as made until the stub says otherwise (`rseqSettleHost`).
    func rseqRegisterOnHost() {
        guard let r = rseq, rseqOnHost == nil else { return }
        rseqOnHost = false
        guard let host = hostRseq, mm.pinRseqArea(r.area) else { return }
        if host.registerHostRseqAtNextRun(area: r.area, signature: r.signature) {
            rseqOnHost = true
            rseqHostUnsettled = true
            return
        }
        do throws(PlatformError) {
            if try host.registerHostRseq(area: r.area, signature: r.signature) == nil {
                rseqOnHost = true
                return
            }
        } catch {}
        mm.unpinRseqArea(r.area)
    }

    /// After an entry into guest code that carried the host registration:
    /// a refusal (the stub then ran no guest code, and reported an
    /// interruption) leaves the area to the sentry's emulation, which the
    /// next return to the guest starts.
    func rseqSettleHost() {
        guard let host = hostRseq else { rseqHostUnsettled = false; return }
        switch host.deferredRseqOutcome {
        case .pending: return
        case .registered: rseqHostUnsettled = false
        case .refused:
            rseqHostUnsettled = false
            rseqOnHost = false
            if let r = rseq { mm.unpinRseqArea(r.area) }
        }
    }

    /// The host registration goes (unregistration, exec, exit): made while
    /// the stub and the area's mapping are still this task's.
    func rseqDropHost() {
        defer { rseqOnHost = nil; rseqHostUnsettled = false }
        guard rseqOnHost == true, let r = rseq else { return }
        try? hostRseq?.unregisterHostRseq()
        mm.unpinRseqArea(r.area)
    }

    /// At exit: `rseqDropHost`, unless the task is the last user of its mm
    /// and its stub's `leave` drops the registration itself (in the hand-off
    /// that empties the stub, or by ending it): one round trip less per
    /// process exit. The area's page is then held until after `leave`
    /// (returned, for `memory.free`), since the host writes the CPU number
    /// into it whenever the stub wakes, and the mm's memory goes before.
    func rseqDropHostAtExit() -> UInt64? {
        guard rseqOnHost == true, let r = rseq, let host = hostRseq, host.dropsRseqAtLeave,
              kernel.locked({ kernel.tasks.values.allSatisfy { $0 === self || $0.mm !== mm } }),
              let page = mm.holdPrivatePage(r.area) else {
            rseqDropHost()
            return nil
        }
        rseqOnHost = nil
        rseqHostUnsettled = false
        mm.unpinRseqArea(r.area)
        return page
    }

    /// The task's stub died of SIGSEGV while its rseq area was registered
    /// with the host: the host found the area or a critical section unusable
    /// (kernel/rseq.c's force_sigsegv), as Linux would have for the guest,
    /// whose thread then dies of SIGSEGV too.
    func rseqKilledStub(_ error: PlatformError) -> Bool {
        guard rseqOnHost == true, case .stubDied = error, let host = hostRseq,
              host.runnerDeathSignal == Signal.SIGSEGV.rawValue else { return false }
        kernel.locked { kernel.killGroupLocked(group, .signaled(.SIGSEGV, coreDumped: false)) }
        return true
    }

    /// On every return to guest code (the run loop's hook): false if the
    /// area or its critical section is bad, and SIGSEGV is now pending.
    func rseqReturnToGuest() {
        guard let r = rseq else { return }
        if rseqOnHost == nil { rseqRegisterOnHost() }
        if !rseqNotifyResume(r) { rseqFailed(deliveringSignal: nil) }
    }

    /// At signal delivery, before the frame saves the registers (Linux's
    /// rseq_signal_deliver): an aborted section resumes at its abort
    /// handler after the handler returns.
    func rseqSignalDelivered(_ signo: Int32) {
        guard let r = rseq else { return }
        if !rseqNotifyResume(r) { rseqFailed(deliveringSignal: signo) }
    }

    /// force_sigsegv: while delivering SIGSEGV itself it is fatal; else a
    /// SIGSEGV is forced, whose own delivery then fails the same way.
    private func rseqFailed(deliveringSignal signo: Int32?) {
        if signo == Signal.SIGSEGV.rawValue {
            kernel.locked { kernel.killGroupLocked(group, .signaled(.SIGSEGV, coreDumped: false)) }
        } else {
            force(SignalInfo(.SIGSEGV, code: SignalInfo.SI_KERNEL))
        }
    }

    /// __rseq_handle_notify_resume: the critical section fix-up, then the CPU.
    private func rseqNotifyResume(_ r: RseqRegistration) -> Bool {
        do {
            try rseqIPFixup(r)
            // The host writes cpu_id itself: a second writer could only race it.
            if rseqOnHost == true { return true }
            let cpu = reportedCPU(nodeToo: false).cpu
            // The guest reads cpu_id at will; it is rewritten when it changes.
            if rseqCPU != cpu {
                try mm.write(r.area + RseqABI.cpuIDStart, (cpu, cpu))
                rseqCPU = cpu
            }
            return true
        } catch {
            return false
        }
    }

    /// rseq_ip_fixup: a rip inside the registered critical section moves to
    /// its abort handler, after the section and its signature are checked.
    private func rseqIPFixup(_ r: RseqRegistration) throws(Errno) {
        let ptr = try mm.read(r.area + RseqABI.rseqCS, as: UInt64.self)
        if ptr == 0 { return }
        guard ptr < RseqABI.taskSize else { throw .EINVAL }
        // struct rseq_cs { u32 version; u32 flags; u64 start_ip; u64 post_commit_offset; u64 abort_ip; }
        let cs = try mm.read(GuestAddress(ptr), as: (UInt32, UInt32, UInt64, UInt64, UInt64).self)
        let (version, csFlags, start, length, abort) = cs
        let (end, wrapped) = start.addingReportingOverflow(length)
        guard start < RseqABI.taskSize, end < RseqABI.taskSize || wrapped, abort < RseqABI.taskSize, version == 0 else {
            throw .EINVAL
        }
        guard !wrapped, abort &- start >= length else { throw .EINVAL }
        guard abort >= 4 else { throw .EFAULT }
        guard try mm.read(GuestAddress(abort - 4), as: UInt32.self) == r.signature else { throw .EINVAL }
        guard regs.ip &- start < length else {
            // Outside the section: the pointer is cleared, as Linux does.
            try mm.write(r.area + RseqABI.rseqCS, UInt64(0))
            return
        }
        // rseq_need_restart: the deprecated NO_RESTART flags (and any
        // other) are refused since 6.0; every return here is a preemption.
        guard csFlags == 0, try mm.read(r.area + RseqABI.flags, as: UInt32.self) == 0 else { throw .EINVAL }
        try mm.write(r.area + RseqABI.rseqCS, UInt64(0))
        regs.ip = abort
    }

    /// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ): Linux IPIs the
    /// CPUs running the mm's other threads and each aborts its critical
    /// section on the way back to user mode (ipi_rseq). Here each other
    /// thread of the mm in guest code is kicked out, and waited for until it
    /// has left guest code (or entered it again, past its fix-up): every
    /// return to the guest aborts a section it was in (`rseqReturnToGuest`).
    public func rseqPreemptOthers() {
        kernel.kickOutOfGuestCode { $0 !== self && $0.mm === mm }
    }

    /// The CPU the guest is told it runs on (getcpu, rseq's cpu_id): the
    /// host CPU of the task's guest code if the guest's affinity allows it,
    /// else the first CPU the guest allowed itself. With the area registered
    /// with the host, that CPU is the `cpu_id` the host last wrote there
    /// (the stub's CPU at its last return to user mode), so getcpu agrees
    /// with glibc's sched_getcpu, which reads it; else the CPU of the task's
    /// sentry thread. Both are pinned to the guest's affinity
    /// (HostAffinity.swift); the mask's first CPU answers only for a task
    /// the host has not moved yet.
    public func reportedCPU(nodeToo: Bool = true) -> (cpu: UInt32, node: UInt32) {
        var cpu: UInt32 = 0, node: UInt32 = 0
        if nodeToo { _ = sw_getcpu(&cpu, &node) } else { cpu = sw_current_cpu() }
        if rseqOnHost == true, let r = rseq, let c = try? mm.read(r.area + RseqABI.cpuID, as: UInt32.self),
           c < UInt32(clamping: sysconf(Int32(_SC_NPROCESSORS_CONF))) {
            cpu = c
        }
        if let mask = attributes.withLock({ $0.scheduling.affinity }), cpu >= 64 || mask & (1 << UInt64(cpu)) == 0 {
            cpu = UInt32(mask.trailingZeroBitCount)
        }
        return (cpu, node)
    }
}
