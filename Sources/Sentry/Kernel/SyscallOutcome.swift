/// What serving one syscall left the task to do next: the run loop acts on
/// this value (as gVisor's SyscallControl), instead of polling flags that
/// handlers set on the task.
public enum SyscallOutcome: Sendable {
    /// rax gets this: the result, or -errno (including the -ERESTART* codes
    /// that signal delivery turns into a restart or EINTR).
    case value(Int64)
    /// execve and rt_sigreturn loaded a whole register set: rax is part of it.
    case replacedRegisters
    /// exit(2): this thread ends with the code (its low 8 bits).
    case exitThread(Int32)
    /// do_exit(sig) from the syscall path (seccomp's KILL_THREAD while other
    /// threads live, strict mode): this thread ends, killed by the signal.
    case killedThread(Signal)
    /// exit_group(2): every thread of the process ends with the code.
    case exitGroup(Int32)
    /// The task's host side broke while serving the call (its stub died, an
    /// injection into it failed): the process is killed.
    case platformFailed(PlatformError)

    /// The task does not return to the guest after this call.
    public var endsTask: Bool {
        switch self {
        case .exitThread, .exitGroup, .killedThread: true
        default: false
        }
    }
}
