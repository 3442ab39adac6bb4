import CSwitch
import Glibc

/// The trapping backends Sentry knows, and whether each works on this host.
public enum PlatformKind: String, CaseIterable, Sendable {
    case vmexec, systrap, ptrace

    public struct Status: Sendable {
        public var kind: PlatformKind
        public var available: Bool
        public var reason: String
    }

    /// What `sentry platforms` prints, in `--platform auto`'s order of preference.
    public static func survey() -> [Status] {
        allCases.map { $0.status() }
    }

    public func status() -> Status {
        switch self {
        case .ptrace:
            if let why = PtracePlatform.probe() { return Status(kind: self, available: false, reason: why) }
            return Status(kind: self, available: true, reason: "PTRACE_SYSEMU works on this kernel")
        case .vmexec:
            let has = Self.kernelHasSymbol("__x64_sys_process_vm_exec")
            return Status(kind: self, available: has, reason: has
                ? "process_vm_exec (syscall \(VmexecPlatform.number)): guest code runs on the sentry's own threads in the stub's address space"
                : "this kernel (\(Self.release())) has no process_vm_exec; boot the patched kernel of images/kernel/ (images/kernel/vm)")
        case .systrap:
            return Status(kind: self, available: true, reason: Self.sudAvailable
                ? "guest syscalls trap in the stub: Syscall User Dispatch (default) or seccomp SECCOMP_RET_TRAP (--systrap-trap seccomp)"
                : "guest syscalls trap in the stub through seccomp SECCOMP_RET_TRAP; no Syscall User Dispatch here (5.11+)")
        }
    }

    /// `auto`: the first available in order of preference. ptrace is not
    /// probed: a host that forbids it makes the first stub fail with a clear
    /// "unavailable" error instead.
    public static func auto() -> PlatformKind? {
        allCases.first {
            // Reading /proc/kallsyms costs tens of milliseconds: auto looks for
            // vmexec only on kernels that say they are the patched one
            // (images/kernel/config: -sentry-vmexec). hasSuffix, not
            // contains: that one sets up _StringProcessing, 80 us at start.
            if $0 == .vmexec && !release().hasSuffix("-vmexec") { return false }
            return $0 == .ptrace || $0.status().available
        }
    }

    /// `patchSyscalls`: systrap rewrites hot syscall sites to skip the signal (--systrap-patch).
    public func make(memory: MemoryFile, stub: StubRegion, patchSyscalls: Bool = false) throws(PlatformError) -> Platform {
        switch self {
        case .ptrace: return PtracePlatform(memory: memory, stub: stub)
        case .systrap:
            // The stub image decides the trap: its filter traps, or SUD does.
            if !stub.trapsGuestSyscalls && !Self.sudAvailable {
                throw .unavailable("platform systrap: this kernel has no Syscall User Dispatch; use --systrap-trap seccomp")
            }
            return SystrapPlatform(memory: memory, stub: stub, patchSyscalls: patchSyscalls)
        case .vmexec:
            guard status().available else { throw .unavailable("platform \(rawValue) is not available: \(status().reason)") }
            return try VmexecPlatform(memory: memory, stub: stub)
        }
    }

    /// PR_SET_SYSCALL_USER_DISPATCH with PR_SYS_DISPATCH_OFF succeeds where SUD exists (5.11+).
    public static var sudAvailable: Bool { sw_sud_available() != 0 }

    static func kernelHasSymbol(_ name: String) -> Bool {
        guard let f = fopen("/proc/kallsyms", "r") else { return false }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, 512, f) != nil {
            let s = String(cString: line)
            if s.hasSuffix(" " + name + "\n") { return true }
        }
        return false
    }

    static func release() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
