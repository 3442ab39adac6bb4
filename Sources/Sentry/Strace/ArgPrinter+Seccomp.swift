/// seccomp(2)'s arguments and prctl(PR_SET_SECCOMP)'s as strace 6.1 prints
/// them without -v: the operation, its flags, and what the third argument
/// points at by operation (a filter program as its length and address, an
/// action, the notification sizes after the call).
extension ArgPrinter {
    static let seccompModes: [UInt64: String] = [
        UInt64(Seccomp.SECCOMP_MODE_DISABLED): "SECCOMP_MODE_DISABLED", UInt64(Seccomp.SECCOMP_MODE_STRICT): "SECCOMP_MODE_STRICT",
        UInt64(Seccomp.SECCOMP_MODE_FILTER): "SECCOMP_MODE_FILTER",
    ]
    /// The action values (SECCOMP_RET_ACTION_FULL) in strace's names.
    static let seccompActions: [UInt64: String] = [
        UInt64(Seccomp.SECCOMP_RET_KILL_PROCESS): "SECCOMP_RET_KILL_PROCESS", UInt64(Seccomp.SECCOMP_RET_KILL_THREAD): "SECCOMP_RET_KILL_THREAD",
        UInt64(Seccomp.SECCOMP_RET_TRAP): "SECCOMP_RET_TRAP", UInt64(Seccomp.SECCOMP_RET_ERRNO): "SECCOMP_RET_ERRNO",
        UInt64(Seccomp.SECCOMP_RET_USER_NOTIF): "SECCOMP_RET_USER_NOTIF", UInt64(Seccomp.SECCOMP_RET_TRACE): "SECCOMP_RET_TRACE",
        UInt64(Seccomp.SECCOMP_RET_LOG): "SECCOMP_RET_LOG", UInt64(Seccomp.SECCOMP_RET_ALLOW): "SECCOMP_RET_ALLOW",
    ]

    /// strace's printxval for a value not in the table: `0x7 /* SECCOMP_MODE_??? */`.
    static func xval(_ v: UInt64, _ table: [UInt64: String], unknown: String) -> String {
        table[v] ?? "0x" + String(v, radix: 16) + " /* " + unknown + " */"
    }

    static func hexValue(_ v: UInt64) -> String { v == 0 ? "0" : "0x" + String(v, radix: 16) }

    func seccompArgument(_ n: Int) -> String {
        let op = args[0] & 0xffff_ffff, flags = args[1] & 0xffff_ffff, v = args[2]
        switch n {
        case 0: return Self.xval(op, Seccomp.operationNames, unknown: "SECCOMP_SET_MODE_???")
        case 1:
            guard op == Seccomp.SECCOMP_SET_MODE_FILTER else { return Self.hexValue(flags) }
            let known = Seccomp.filterFlagNames.reduce(UInt64(0)) { $0 | $1.0 }
            let text = Decode.flags(flags, Seccomp.filterFlagNames)
            return flags & ~known != 0 && flags & known == 0 ? text + " /* SECCOMP_FILTER_FLAG_??? */" : text
        default:
            switch op {
            case Seccomp.SECCOMP_SET_MODE_FILTER: return seccompProgram(v)
            case Seccomp.SECCOMP_GET_ACTION_AVAIL:
                guard let action = read(v, UInt32.self) else { return hexOrNull(v) }
                return "[" + Self.xval(UInt64(action), Self.seccompActions, unknown: "SECCOMP_RET_???") + "]"
            default: return hexOrNull(v)   // SECCOMP_GET_NOTIF_SIZES: filled in after the call
            }
        }
    }

    /// SECCOMP_GET_NOTIF_SIZES's struct seccomp_notif_sizes, once the call has filled it.
    func seccompNotifSizesAtExit(entry: String) -> String {
        guard args[0] & 0xffff_ffff == Seccomp.SECCOMP_GET_NOTIF_SIZES, result >= 0,
              let s = read(args[2], (UInt16, UInt16, UInt16).self) else { return entry }
        return "{seccomp_notif=\(s.0), seccomp_notif_resp=\(s.1), seccomp_data=\(s.2)}"
    }

    /// A struct sock_fprog: its length and the address of its instructions
    /// (strace prints the instructions only with -v).
    func seccompProgram(_ v: UInt64) -> String {
        guard let p = read(v, (UInt16, UInt16, UInt32, UInt64).self) else { return hexOrNull(v) }
        return "{len=\(p.0), filter=" + hexOrNull(p.3) + "}"
    }

    /// prctl(PR_SET_SECCOMP, mode, ...): argument n (1-4) as strace shows it; "" leaves it out.
    func prctlSeccompArgument(_ n: Int) -> String {
        let mode = args[1]
        if n == 1 { return Self.xval(mode, Self.seccompModes, unknown: "SECCOMP_MODE_???") }
        switch mode {
        case UInt64(Seccomp.SECCOMP_MODE_STRICT): return ""
        case UInt64(Seccomp.SECCOMP_MODE_FILTER): return n == 2 ? seccompProgram(args[2]) : ""
        default: return Self.hexValue(args[n])
        }
    }
}
