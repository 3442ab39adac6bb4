/// One tracee's side of a guest ptrace relationship (the ptrace fields of
/// Linux's task_struct): who traces it, with which options, and the stop it
/// is in. Guarded by the kernel lock, as Linux's siglock/tasklist_lock.
/// Sendable: every mutable field behind the kernel lock.
final class PtraceLink: @unchecked Sendable {
    /// The tracing thread (ptrace's `parent`): only it may make requests.
    let tracer: Task
    /// Attached with PTRACE_SEIZE: group-stops are PTRACE_EVENT_STOPs, no SIGSTOP at attach.
    let seized: Bool
    var options: UInt32
    /// What the last resume asked for at syscalls.
    var syscallMode = SyscallMode.none
    /// The stop the tracee is in (nil: running), and what wait reports of it
    /// (exit_code: the signal, with an event in bits 8-15).
    var stop: Stop?
    var exitCode: Int32 = 0
    /// wait has seen the current stop (WNOWAIT aside).
    var reported = false
    /// The tracer's answer to the current stop.
    var resume: Resume?
    /// PTRACE_GETEVENTMSG's word (ptrace_message).
    var eventMessage: UInt64 = 0
    /// last_siginfo: the signal of a signal-delivery-stop, or the SIGTRAP of
    /// a ptrace_notify stop; nil in a legacy group-stop (GETSIGINFO: EINVAL).
    var siginfo: SignalInfo?
    /// The FPU state as the tracee entered the stop (read on its own thread,
    /// where the platform answers), and whether the tracer changed it.
    var fpu: [UInt8]?
    var fpuChanged = false
    /// JOBCTL_TRAP_STOP: PTRACE_INTERRUPT (or a seize of a stopped task)
    /// asked for a PTRACE_EVENT_STOP at the next chance.
    var trapStopPending = false
    /// PTRACE_LISTEN: still stopped, but the next group-stop change re-traps.
    var listening = false
    /// The tracee died: what the tracer's wait reports before the link goes
    /// (a thread, or a process whose real parent is someone else).
    var exitReport: ExitStatus?
    /// u_debugreg as POKEUSR left it (no breakpoint is ever armed).
    var debugRegisters = [UInt64](repeating: 0, count: 8)
    /// TIF_FORCED_TF: PTRACE_SINGLESTEP set the trap flag (the tracee had
    /// not): hidden from the tracer's reads, cleared after the step.
    var forcedTrapFlag = false
    /// Work the tracer needs done on the tracee's own thread while it is
    /// stopped (what changes its address space's host mirror), and whether
    /// it is done.
    var work: (@Sendable (Task) -> Void)?
    var workDone = false
    /// A step is under way: the next trap back from guest code ends it.
    var stepping = false
    /// A signal-delivery-stop came first in its round of get_signal (no
    /// frame set up before it): an interrupted call's restart is still to be
    /// decided when it ends. What a checkpoint keeps of the stop's caller.
    var deliveryFirst = true
    /// In a PTRACE_EVENT_EXIT stop: the status the task exits with once
    /// resumed, and whether its whole process goes (exit_group, a fatal
    /// signal) or the thread alone. What a checkpoint keeps of the stop's caller.
    var exitAfter: (status: ExitStatus, group: Bool)?

    enum SyscallMode { case none, trace, emulate }
    enum Stop { case syscallEntry, syscallExit, event(Int32), signalDelivery, groupStop }
    struct Resume {
        enum Kind { case cont, syscall, sysemu, singlestep, detach, kill }
        var kind: Kind
        var signal: Int32
    }

    init(tracer: Task, seized: Bool, options: UInt32) {
        self.tracer = tracer; self.seized = seized; self.options = options
    }

    /// ptrace_event_enabled: the option bit that enables `event`.
    func wants(_ event: Int32) -> Bool { options & (1 << UInt32(event)) != 0 }

    /// The wait status word of the current stop: exit_code << 8 | 0x7f.
    var stopStatus: Int32 { (exitCode << 8) | 0x7f }
}

/// Where a restored tracee takes up the ptrace stop its image holds: the
/// code that was waiting in it (the syscall path's entry or exit, get_signal's
/// signal delivery with whether it came first in its round, a group-stop or
/// PTRACE_EVENT_STOP trap), or, for a PTRACE_EVENT stop, what its caller
/// does once resumed: a fork, vfork or clone returns the child's tid (a
/// vfork after its PTRACE_EVENT_VFORK_DONE stop), an exec returns into the
/// new program, an exit goes on exiting, a call a seccomp filter traced
/// meets the filters again and runs.
enum RestoredPtraceStop: Sendable, Equatable {
    case syscallEntry, syscallExit, signalDelivery(first: Bool), groupStop
    case forked(child: Int32, vfork: Bool)
    case execed
    case exiting(ExitStatus, group: Bool)
    case seccompTraced
}
