import Sentry

/// prctl(2), the options kernel/sys.c and security/commoncap.c handle for a
/// process that is not in a container of its own; any other option is
/// EINVAL, as Linux answers an option it does not know.
enum Prctl {
    static let PR_SET_PDEATHSIG: UInt64 = 1, PR_GET_PDEATHSIG: UInt64 = 2
    static let PR_GET_DUMPABLE: UInt64 = 3, PR_SET_DUMPABLE: UInt64 = 4
    static let PR_GET_KEEPCAPS: UInt64 = 7, PR_SET_KEEPCAPS: UInt64 = 8
    static let PR_SET_NAME: UInt64 = 15, PR_GET_NAME: UInt64 = 16
    static let PR_GET_SECCOMP: UInt64 = 21, PR_SET_SECCOMP: UInt64 = 22
    static let PR_CAPBSET_READ: UInt64 = 23, PR_CAPBSET_DROP: UInt64 = 24
    static let PR_GET_SECUREBITS: UInt64 = 27
    static let PR_SET_TIMERSLACK: UInt64 = 29, PR_GET_TIMERSLACK: UInt64 = 30
    static let PR_SET_CHILD_SUBREAPER: UInt64 = 36, PR_GET_CHILD_SUBREAPER: UInt64 = 37
    static let PR_SET_NO_NEW_PRIVS: UInt64 = 38, PR_GET_NO_NEW_PRIVS: UInt64 = 39
    static let PR_GET_TID_ADDRESS: UInt64 = 40
    static let PR_CAP_AMBIENT: UInt64 = 47
    static let PR_CAP_AMBIENT_IS_SET: UInt64 = 1, PR_CAP_AMBIENT_RAISE: UInt64 = 2
    static let PR_CAP_AMBIENT_LOWER: UInt64 = 3, PR_CAP_AMBIENT_CLEAR_ALL: UInt64 = 4

    static func prctl(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        switch a[0] {
        case PR_SET_PDEATHSIG:
            guard a[1] <= 64 else { throw .EINVAL }   // valid_signal; 0 clears
            t.attributes.withLock { $0.parentDeathSignal = Int32(a[1]) }
        case PR_GET_PDEATHSIG:
            try t.mm.write(a.address(1), t.attributes.withLock { $0.parentDeathSignal })
        case PR_GET_DUMPABLE:
            return t.isDumpable ? 1 : 0
        case PR_SET_DUMPABLE:
            guard a[1] <= 1 else { throw .EINVAL }   // SUID_DUMP_DISABLE or SUID_DUMP_USER only
            t.isDumpable = a[1] == 1
        case PR_SET_NAME:
            // Up to 15 bytes, cut there: a longer name is not an error.
            let max = TaskAttributes.commLength - 1
            let name: [UInt8]
            do { name = try t.mm.readCString(a.address(1), max: max) } catch {
                guard error == .ENAMETOOLONG else { throw error }
                name = try t.mm.copyIn(a.address(1), max)
            }
            t.attributes.withLock { $0.comm = name }
        case PR_GET_NAME:
            var out = t.attributes.withLock { $0.comm }
            out += [UInt8](repeating: 0, count: TaskAttributes.commLength - out.count)
            try t.mm.copyOut(a.address(1), out)
        case PR_GET_SECCOMP:
            return Int64(t.seccompMode)
        case PR_SET_SECCOMP:
            return try SeccompCalls.prctlSetSeccomp(t, mode: a[1], filter: a.address(2))
        case SyscallUserDispatch.PR_SET_SYSCALL_USER_DISPATCH:
            try t.setSyscallUserDispatch(.init(mode: a[1], offset: a[2], length: a[3], selector: a[4]))
        case PR_GET_TIMERSLACK:
            return Int64(clamping: t.attributes.withLock { $0.timerSlack })
        case PR_SET_TIMERSLACK:
            t.attributes.withLock { $0.timerSlack = a[1] == 0 ? $0.defaultTimerSlack : a[1] }
        case PR_SET_CHILD_SUBREAPER:
            t.isChildSubreaper = a[1] != 0
        case PR_GET_CHILD_SUBREAPER:
            try t.mm.write(a.address(1), Int32(t.isChildSubreaper ? 1 : 0))
        case PR_SET_NO_NEW_PRIVS:
            guard a[1] == 1, a[2] == 0, a[3] == 0, a[4] == 0 else { throw .EINVAL }
            t.attributes.withLock { $0.noNewPrivs = true }
        case PR_GET_NO_NEW_PRIVS:
            guard a[1] == 0, a[2] == 0, a[3] == 0, a[4] == 0 else { throw .EINVAL }
            return t.attributes.withLock { $0.noNewPrivs } ? 1 : 0
        case PR_GET_TID_ADDRESS:
            try t.mm.write(a.address(1), t.clearChildTID.rawValue)
        default:
            return try capabilityOption(t, a)
        }
        return 0
    }

    /// cap_task_prctl: the bounding set, securebits' KEEP_CAPS, the ambient set.
    private static func capabilityOption(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        func valid(_ cap: UInt64) -> Bool { cap <= UInt64(Credentials.capLast) }
        switch a[0] {
        case PR_CAPBSET_READ:
            guard valid(a[1]) else { throw .EINVAL }
            return Creds.creds(t).bounding & (1 << a[1]) != 0 ? 1 : 0
        case PR_CAPBSET_DROP:
            try Creds.change(t) { (old, new) throws(Errno) in
                guard old.capable(Credentials.CAP_SETPCAP) else { throw .EPERM }
                guard valid(a[1]) else { throw .EINVAL }
                new.bounding &= ~(1 << a[1])
            }
            return 0
        case PR_GET_SECUREBITS:
            return Int64(Creds.creds(t).securebits)
        case PR_GET_KEEPCAPS:
            return Creds.creds(t).securebits & Credentials.SECBIT_KEEP_CAPS != 0 ? 1 : 0
        case PR_SET_KEEPCAPS:
            guard a[1] <= 1 else { throw .EINVAL }
            try Creds.change(t) { (_, new) throws(Errno) in
                if a[1] == 1 { new.securebits |= Credentials.SECBIT_KEEP_CAPS } else { new.securebits &= ~Credentials.SECBIT_KEEP_CAPS }
            }
            return 0
        case PR_CAP_AMBIENT:
            if a[1] == PR_CAP_AMBIENT_CLEAR_ALL {
                guard a[2] | a[3] | a[4] == 0 else { throw .EINVAL }
                try Creds.change(t) { (_, new) throws(Errno) in new.ambient = 0 }
                return 0
            }
            guard valid(a[2]), a[3] | a[4] == 0 else { throw .EINVAL }
            let bit: UInt64 = 1 << a[2]
            switch a[1] {
            case PR_CAP_AMBIENT_IS_SET: return Creds.creds(t).ambient & bit != 0 ? 1 : 0
            case PR_CAP_AMBIENT_RAISE:
                try Creds.change(t) { (old, new) throws(Errno) in
                    guard old.permitted & bit != 0, old.inheritable & bit != 0 else { throw .EPERM }
                    new.ambient |= bit
                }
            case PR_CAP_AMBIENT_LOWER:
                try Creds.change(t) { (_, new) throws(Errno) in new.ambient &= ~bit }
            default: throw .EINVAL
            }
            return 0
        default:
            throw .EINVAL
        }
    }
}
