import CSwitch
import Glibc

/// The ptrace platform: guest code runs in stub processes traced with
/// PTRACE_SYSEMU, so every guest syscall stops in the sentry and none is
/// executed by the host. Works on every Linux.
///
/// ptrace binds a tracee to the host thread that attached it: the thread that
/// calls `makeAddressSpace` must be the one that later runs `switchTo`.
/// Sendable: only `let`s.
public final class PtracePlatform: Platform, @unchecked Sendable {
    public let name = "ptrace"
    let memory: MemoryFile
    let stub: StubRegion

    public init(memory: MemoryFile, stub: StubRegion) {
        self.memory = memory
        self.stub = stub
    }

    public func makeAddressSpace() throws(PlatformError) -> AddressSpace {
        try PtraceAddressSpace(memory: memory, stub: stub)
    }

    public func makeContext() throws(PlatformError) -> PlatformContext {
        PtraceContext()
    }

    /// Whether ptrace works here (a container may forbid it).
    public static func probe() -> String? {
        let pid = fork()
        if pid == 0 {
            if ptraceTraceMe() != 0 { _exit(1) }
            raise(SIGSTOP)
            _exit(0)
        }
        if pid < 0 { return "fork failed: \(Errno(errno))" }
        var status: Int32 = 0
        _ = sw_wait(pid, &status)
        let stopped = WaitStatus(status).stopped
        if stopped { kill(pid, SIGKILL); _ = sw_wait(pid, &status) }
        return stopped ? nil : "PTRACE_TRACEME is not permitted here"
    }

    private static func ptraceTraceMe() -> Int { sw_ptrace(0 /* PTRACE_TRACEME */, 0, 0, 0) }
}
