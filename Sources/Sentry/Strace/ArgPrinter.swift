import CSwitch
import Glibc

/// Renders one argument of one call. Reading guest memory here never faults
/// the guest: a bad pointer prints as the raw address, as strace does.
struct ArgPrinter {
    let task: Task
    let args: SyscallArguments
    let result: Int64
    let options: TraceOptions
    var mm: MemoryManager { task.mm }

    func hexOrNull(_ v: UInt64) -> String { v == 0 ? "NULL" : "0x" + String(v, radix: 16) }

    /// struct mq_attr as strace prints it.
    private func mqAttr(_ v: UInt64) -> String {
        guard let a = read(v, (Int64, Int64, Int64, Int64).self) else { return hexOrNull(v) }
        let flags = a.0 == 0 ? "0" : a.0 == 0o4000 ? "O_NONBLOCK" : "0x" + String(UInt64(bitPattern: a.0), radix: 16)
        return "{mq_flags=\(flags), mq_maxmsg=\(a.1), mq_msgsize=\(a.2), mq_curmsgs=\(a.3)}"
    }

    func string(at a: UInt64, count: Int) -> String {
        let n = min(count, options.stringLimit)
        guard let b = try? mm.copyIn(GuestAddress(a), max(0, n)) else { return hexOrNull(a) }
        return Decode.quote(b[...], truncated: count > options.stringLimit)
    }

    func read<T: BitwiseCopyable>(_ a: UInt64, _ t: T.Type) -> T? {
        a == 0 ? nil : try? mm.read(GuestAddress(a), as: t)
    }

    static func timevalText(_ t: Glibc.timeval) -> String { "{tv_sec=\(t.tv_sec), tv_usec=\(t.tv_usec)}" }

    /// An epoll_event as strace 6 prints it.
    static func epollEvent(_ ev: (UInt32, UInt32, UInt32)) -> String {
        let data = UInt64(ev.1) | UInt64(ev.2) << 32
        return "{events=\(Decode.flags(UInt64(ev.0), Decode.epollEvents)), data={u32=\(ev.1), u64=\(data)}}"
    }

    /// clone's flags word: the flags, then the exit signal in its low byte.
    func cloneFlags(_ v: UInt64) -> String {
        let sig = v & 0xff
        let fl = Decode.flags(v & ~0xff, Decode.cloneFlags)
        return sig == 0 ? fl : (v & ~0xff == 0 ? "" : fl + "|") + Signal(Int32(sig)).straceName
    }

    /// An fd_set of `nfds` bits: [0 3], or NULL.
    func fdSet(_ a: UInt64, nfds: Int) -> String {
        let n = min(max(nfds, 0), 1024)
        guard a != 0, let raw = try? mm.copyIn(GuestAddress(a), (n + 7) / 8) else { return hexOrNull(a) }
        var fds: [String] = []
        for fd in 0..<n where raw[fd / 8] & (1 << (fd % 8)) != 0 { fds.append(String(fd)) }
        return "[" + fds.joined(separator: " ") + "]"
    }

    /// What select left in its sets and timeout, after the call.
    func selectOutcome(nanoseconds: Bool) -> String {
        guard result > 0 else { return result == 0 ? " (Timeout)" : "" }
        let nfds = Int(Int32(truncatingIfNeeded: args[0]))
        var parts: [String] = []
        for (i, name) in [(1, "in"), (2, "out"), (3, "except")] where args[i] != 0 {
            let set = fdSet(args[i], nfds: nfds)
            if set != "[]" { parts.append(name + " " + set) }
        }
        if args[4] != 0 {
            if nanoseconds, let t = read(args[4], timespec.self) { parts.append("left {tv_sec=\(t.tv_sec), tv_nsec=\(t.tv_nsec)}") }
            if !nanoseconds, let t = read(args[4], Glibc.timeval.self) { parts.append("left {tv_sec=\(t.tv_sec), tv_usec=\(t.tv_usec)}") }
        }
        return " (" + parts.joined(separator: ", ") + ")"
    }

    /// A number as strace prints hex: 0x10, but 0.
    static func hex(_ v: UInt64) -> String { v == 0 ? "0" : "0x" + String(v, radix: 16) }

    /// An array of 32-bit ids (gid_t): [0, 27].
    private func ids(_ a: UInt64, count: Int) -> String {
        guard a != 0, count >= 0, let raw = try? mm.copyIn(GuestAddress(a), min(count, 1 << 16) * 4) else { return hexOrNull(a) }
        return "[" + stride(from: 0, to: raw.count, by: 4).map { o in
            String(raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt32.self) })
        }.joined(separator: ", ") + "]"
    }

    /// futex's arguments 2 to 5 as strace's do_futex shows each op's: the
    /// ones an op does not use are left out.
    private func futexArgument(_ n: Int) -> String {
        let cmd = args[1] & 127
        let val = String(UInt32(truncatingIfNeeded: args[2]))
        let val2 = String(UInt32(truncatingIfNeeded: args[3]))
        let val3 = UInt32(truncatingIfNeeded: args[5])
        let timeout = { format(.timespecIn, 3) }
        let bitset = val3 == UInt32.max ? "FUTEX_BITSET_MATCH_ANY" : Self.hex(UInt64(val3))
        let used: [String]
        switch cmd {
        case 0: used = [val, timeout()]                                   // WAIT
        case 6, 13: used = [timeout()]                                    // LOCK_PI, LOCK_PI2: the timeout in place of val
        case 9: used = [val, timeout(), bitset]                           // WAIT_BITSET: no uaddr2
        case 10: used = [val, bitset]                                     // WAKE_BITSET
        case 3: used = [val, val2, hexOrNull(args[4])]                    // REQUEUE
        case 4, 12: used = [val, val2, hexOrNull(args[4]), String(val3)]  // CMP_REQUEUE(_PI)
        case 5: used = [val, val2, hexOrNull(args[4]), Self.futexWakeOp(val3)]
        case 11: used = [val, timeout(), hexOrNull(args[4])]              // WAIT_REQUEUE_PI
        case 1, 2: used = [val]                                           // WAKE, FD
        case 7, 8: used = []                                              // UNLOCK_PI, TRYLOCK_PI
        default: used = [val, hexOrNull(args[3]), hexOrNull(args[4]), Self.hex(UInt64(val3))]
        }
        // Skipped slots (WAIT_BITSET's uaddr2, LOCK_PI's val) shift what follows left, as strace prints them.
        return n - 2 < used.count ? used[n - 2] : ""
    }

    /// FUTEX_WAKE_OP's encoded operation: `FUTEX_OP_ADD<<28|0x1<<12|FUTEX_OP_CMP_GT<<24|0`.
    static func futexWakeOp(_ v: UInt32) -> String {
        let ops = ["FUTEX_OP_SET", "FUTEX_OP_ADD", "FUTEX_OP_OR", "FUTEX_OP_ANDN", "FUTEX_OP_XOR"]
        let cmps = ["FUTEX_OP_CMP_EQ", "FUTEX_OP_CMP_NE", "FUTEX_OP_CMP_LT", "FUTEX_OP_CMP_LE", "FUTEX_OP_CMP_GT", "FUTEX_OP_CMP_GE"]
        let op = Int((v >> 28) & 7), cmp = Int((v >> 24) & 0xf)
        var out = (v >> 28) & 8 != 0 ? "FUTEX_OP_OPARG_SHIFT<<28|" : ""
        out += op < ops.count ? ops[op] + "<<28" : "\(op)<<28 /* FUTEX_OP_??? */"
        out += "|" + hex(UInt64((v >> 12) & 0xfff)) + "<<12|"
        out += cmp < cmps.count ? cmps[cmp] + "<<24" : "\(cmp)<<24 /* FUTEX_OP_CMP_??? */"
        return out + "|" + hex(UInt64(v & 0xfff))
    }

    /// capget's and capset's data, one struct for version 1, two (the high words) for 2 and 3.
    private func capabilities(_ v: UInt64) -> String {
        let names = Decode.capabilityNames
        guard let header = read(args[0], UInt32.self) else { return hexOrNull(v) }
        let words = header == 0x1998_0330 ? 1 : header == 0x2007_1026 || header == 0x2008_0522 ? 2 : 0
        guard words > 0, v != 0, let raw = try? mm.copyIn(GuestAddress(v), words * 12) else { return hexOrNull(v) }
        func set(_ field: Int) -> String {
            var bits: UInt64 = 0
            for w in 0..<words {
                let word = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: w * 12 + field * 4, as: UInt32.self) }
                bits |= UInt64(word) << (32 * UInt64(w))
            }
            var parts: [String] = []
            for i in 0..<64 where bits & (1 << UInt64(i)) != 0 && i < names.count {
                parts.append("1<<" + names[i]); bits &= ~(1 << UInt64(i))
            }
            if bits != 0 { parts.append("0x" + String(bits, radix: 16)) }
            return parts.isEmpty ? "0" : parts.joined(separator: "|")
        }
        return "{effective=\(set(0)), permitted=\(set(1)), inheritable=\(set(2))}"
    }

    /// A siginfo_t in guest memory as strace's printsiginfo shows it: the
    /// fields its signal and code carry (the layout of Linux's union).
    private func siginfo(_ v: UInt64) -> String {
        guard v != 0, let raw = try? mm.copyIn(GuestAddress(v), 128) else { return hexOrNull(v) }
        func get<T: BitwiseCopyable>(_ at: Int, _: T.Type) -> T { raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: T.self) } }
        var info = SignalInfo(Signal(get(0, Int32.self)), code: get(8, Int32.self))
        info.errno = get(4, Int32.self)
        if info.code == SignalInfo.SI_TIMER {
            info.timerID = get(16, Int32.self); info.overrun = get(20, Int32.self); info.value = get(24, UInt64.self)
        } else if info.code > 0 && Signal(info.signo).isSynchronousFault || info.code > 0 && Signal(info.signo) == .SIGSYS {
            info.address = get(16, UInt64.self)
            info.syscall = get(24, Int32.self); info.arch = get(28, UInt32.self)
        } else {
            info.pid = get(16, Int32.self); info.uid = get(20, UInt32.self)
            info.value = get(24, UInt64.self); info.status = get(24, Int32.self)
        }
        let fields = Tracer.siginfoFields(info) { $0 >= 0 ? task.kernel.table[UInt64($0)]?.name : nil }
        return "{" + fields.map { $0.0 + "=" + $0.1 }.joined(separator: ", ") + "}"
    }

    /// msqid64_ds / shmid64_ds as strace shows them: the whole struct a STAT
    /// command filled, IPC_SET's settable fields; other commands' pointer.
    private func ipcDS(_ v: UInt64, _ kind: IPCObjectKind) -> String {
        let cmd = args[1] & 0xff
        let stat: Set<UInt64> = kind == .message ? [2, 11, 13] : [2, 13, 15]
        guard stat.contains(cmd) || cmd == 1, v != 0, let raw = try? mm.copyIn(GuestAddress(v), 112) else { return hexOrNull(v) }
        func i32(_ o: Int) -> Int32 { raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: Int32.self) } }
        func u32(_ o: Int) -> UInt32 { raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt32.self) } }
        func i64(_ o: Int) -> Int64 { raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: Int64.self) } }
        func u64(_ o: Int) -> UInt64 { raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt64.self) } }
        // struct ipc64_perm: key, uid, gid, cuid, cgid, mode (4 bytes each), then seq and padding.
        let p = kind == .message ? "msg_" : "shm_"
        var perm = "\(p)perm={uid=\(u32(4)), gid=\(u32(8)), mode=\(Decode.mode(UInt64(u32(20) & 0o777)))"
        if cmd == 1 {
            perm += "}"
            return kind == .message ? "{" + perm + ", msg_qbytes=\(u64(88))}" : "{" + perm + "}"
        }
        perm += ", key=\(i32(0)), cuid=\(u32(12)), cgid=\(u32(16))}"
        if kind == .message {
            // msqid64_ds: stime, rtime, ctime, cbytes, qnum, qbytes, lspid, lrpid after the perm (48 bytes).
            return "{" + perm + ", msg_stime=\(i64(48)), msg_rtime=\(i64(56)), msg_ctime=\(i64(64)), msg_qnum=\(u64(80)), "
                + "msg_qbytes=\(u64(88)), msg_lspid=\(i32(96)), msg_lrpid=\(i32(100))}"
        }
        // shmid64_ds: segsz, atime, dtime, ctime, cpid, lpid, nattch after the perm.
        return "{" + perm + ", shm_segsz=\(u64(48)), shm_cpid=\(i32(80)), shm_lpid=\(i32(84)), shm_nattch=\(u64(88)), "
            + "shm_atime=\(i64(56)), shm_dtime=\(i64(64)), shm_ctime=\(i64(72))}"
    }

    /// fcntl's F_GETFL and F_GETFD results as strace shows them (hex, then
    /// the flags; F_GETFD's 0 plain); nil for a number.
    func fcntlResult() -> String? {
        guard result >= 0 else { return nil }
        switch args[1] & 0xffff_ffff {
        case 3: return Self.hex(UInt64(result)) + " (flags " + Decode.openFlags(UInt64(result)) + ")"   // F_GETFL
        case 1 where result != 0: return Self.hex(UInt64(result)) + " (flags " + Decode.flags(UInt64(result), [(1, "FD_CLOEXEC")]) + ")"   // F_GETFD
        default: return nil
        }
    }

    /// An argument printed at entry as the call left it: sendfile's offset
    /// with ` => [6]` when it sent anything, a file handle's size and
    /// contents, seccomp's notification sizes; else `entry` as it was.
    func atExit(_ f: ArgFormat, _ i: Int, entry: String) -> String {
        switch f {
        case .offsetInOut where result > 0 && args[i] != 0: return entry + " => " + format(f, i)
        case .fileHandle: return fileHandleAtExit(i, entry: entry)
        case .schedAttrIn where result == -Int64(Errno.E2BIG.rawValue):
            guard let size = read(args[i], UInt32.self) else { return entry }
            return entry + " => {size=\(size)}"   // the size the kernel wrote back
        case .seccompArg(2): return seccompNotifSizesAtExit(entry: entry)
        default: return entry
        }
    }

    /// The text for argument `i`; "" leaves the argument out.
    func format(_ f: ArgFormat, _ i: Int) -> String {
        let v = args[i]
        switch f {
        case .int: return String(Int64(bitPattern: v))
        case .int32: return String(Int32(truncatingIfNeeded: v))
        case .uint: return String(v)
        case .hex: return v == 0 ? "0" : "0x" + String(v, radix: 16)
        case .address: return hexOrNull(v)
        case .octal: return Decode.mode(v)
        case .fd: return descriptor(Int64(Int32(truncatingIfNeeded: v)))
        case .dirFD: return Int32(truncatingIfNeeded: v) == AtFlags.AT_FDCWD ? "AT_FDCWD" : descriptor(Int64(Int32(truncatingIfNeeded: v)))
        case .path:
            guard v != 0, let b = try? mm.readCString(GuestAddress(v)) else { return hexOrNull(v) }
            return Decode.quote(b[...], truncated: false)
        case .inBuffer(let c): return string(at: v, count: Int(clamping: args[c]))
        case .outBuffer: return string(at: v, count: Int(max(0, result)))
        // iovcnt is an int: the register's upper half is not looked at.
        case .iovecIn(let c): return iovecs(v, count: Int(Int32(truncatingIfNeeded: args[c])), limit: Int.max)
        case .iovecOut(let c): return iovecs(v, count: Int(Int32(truncatingIfNeeded: args[c])), limit: Int(max(0, result)))
        case .openFlags: return Decode.openFlags(v)
        case .openMode(let fa):
            let fl = args[fa]
            return fl & 0o100 != 0 || fl & 0o20200000 == 0o20200000 ? Decode.mode(v) : ""
        case .prot: return Decode.prot(v)
        case .mapFlags: return Decode.mapFlags(v)
        case .whence: return Decode.named(v, Decode.whence)
        case .atFlags: return Decode.flags(v, Decode.atFlags)
        case .accessMode: return v == 0 ? "F_OK" : Decode.flags(v, [(4, "R_OK"), (2, "W_OK"), (1, "X_OK")])
        case .fcntlCmd:
            let cmd = Decode.named(v & 0xffffffff, Decode.fcntl)
            switch v {
            case 1, 3, 9, 11, 1025, 1032, 1034: return cmd   // getters take no argument
            case 2: return cmd + ", " + (args[2] & 1 != 0 ? "FD_CLOEXEC" : "0")
            case 4: return cmd + ", " + Decode.openFlags(args[2])
            default: return cmd + ", " + String(Int64(bitPattern: args[2]))
            }
        case .ioctlRequest: return Decode.named(v, Decode.ioctl)
        case .prctlOption: return Decode.named(v & 0xffff_ffff, Decode.prctlOptions)
        case .prctlArg(let n):
            let option = args[0] & 0xffff_ffff
            guard let used = Decode.prctlArgCounts[option] else { return v == 0 ? "0" : "0x" + String(v, radix: 16) }
            if n > used { return "" }
            switch option {
            case 22: return prctlSeccompArgument(n)                              // PR_SET_SECCOMP
            case 15 where n == 1: return format(.path, n)                       // PR_SET_NAME
            case 1 where n == 1: return v <= 64 ? format(.signal, n) : String(v)   // PR_SET_PDEATHSIG
            default: return n == 1 && [2, 16, 37].contains(option) ? hexOrNull(v) : String(v)
            }
        case .schedParam:
            guard let p = read(v, Int32.self) else { return hexOrNull(v) }
            return "[\(p)]"
        case .schedAttrIn: return schedAttr(v, kernelSize: nil)
        case .schedAttrOut: return schedAttr(v, kernelSize: UInt32(truncatingIfNeeded: args[i + 1]))
        case .landlockRulesetAttr(let sizeArg): return landlockRulesetAttr(v, size: args[sizeArg])
        case .landlockRuleAttr(let typeArg): return landlockRuleAttr(v, type: args[typeArg])
        case .omitted: return ""
        case .schedPolicy:
            let p = Decode.named(v & 0x3fff_ffff, Decode.schedPolicies)
            return v & 0x4000_0000 != 0 ? p + "|SCHED_RESET_ON_FORK" : p
        case .priorityWhich: return Decode.named(v, Decode.priorityWhich)
        case .ioprioWhich: return Decode.named(v & 0xffff_ffff, Decode.ioprioWhich)
        case .ioprio: return Decode.ioprio(Int32(truncatingIfNeeded: v))
        case .personality: return Decode.personality(UInt32(truncatingIfNeeded: v))
        case .rwfFlags: return Decode.flags(v, Decode.rwfFlags)
        case .fadvice: return Decode.named(v, Decode.fadvice)
        case .msyncFlags: return Decode.flags(v, [(1, "MS_ASYNC"), (2, "MS_INVALIDATE"), (4, "MS_SYNC")])
        case .mlockFlags: return Decode.flags(v, [(1, "MLOCK_ONFAULT")])
        case .mlockallFlags: return Decode.flags(v, [(1, "MCL_CURRENT"), (2, "MCL_FUTURE"), (4, "MCL_ONFAULT")])
        case .closeRangeFlags: return Decode.flags(v, [(2, "CLOSE_RANGE_UNSHARE"), (4, "CLOSE_RANGE_CLOEXEC")])
        case .xattrFlags: return Decode.flags(v, [(1, "XATTR_CREATE"), (2, "XATTR_REPLACE")])
        case .capHeader:
            guard let h = read(v, (UInt32, Int32).self) else { return hexOrNull(v) }
            return "{version=\(Decode.named(UInt64(h.0), Decode.capVersions)), pid=\(h.1)}"
        case .cloneFlags: return cloneFlags(v)
        case .cloneStackAndFlags:
            return "child_stack=\(hexOrNull(args[1])), flags=" + cloneFlags(v)
        case .cloneParentTID:
            guard args[0] & CloneArgs.CLONE_PARENT_SETTID != 0 else { return "" }
            guard result > 0, let tid = read(v, Int32.self) else { return "parent_tid=" + hexOrNull(v) }
            return "parent_tid=[\(tid)]"
        case .cloneChildTID:
            return args[0] & (CloneArgs.CLONE_CHILD_SETTID | CloneArgs.CLONE_CHILD_CLEARTID) != 0 ? "child_tidptr=" + hexOrNull(v) : ""
        case .cloneTLS:
            return args[0] & CloneArgs.CLONE_SETTLS != 0 ? "tls=" + hexOrNull(v) : ""
        case .clone3Args:
            // struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, ...
            guard args[1] >= 64, let c = read(v, (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64).self) else { return hexOrNull(v) }
            var f = ["flags=" + (c.0 == 0 ? "0" : Decode.flags(c.0, Decode.cloneFlags))]
            if c.0 & CloneArgs.CLONE_PIDFD != 0 { f.append("pidfd=" + hexOrNull(c.1)) }
            if c.0 & (CloneArgs.CLONE_CHILD_SETTID | CloneArgs.CLONE_CHILD_CLEARTID) != 0 { f.append("child_tid=" + hexOrNull(c.2)) }
            if c.0 & CloneArgs.CLONE_PARENT_SETTID != 0 { f.append("parent_tid=" + hexOrNull(c.3)) }
            f.append("exit_signal=" + (c.4 == 0 ? "0" : Signal(Int32(truncatingIfNeeded: c.4)).straceName))
            f.append("stack=" + hexOrNull(c.5)); f.append("stack_size=0x" + String(c.6, radix: 16))
            if c.0 & CloneArgs.CLONE_SETTLS != 0 { f.append("tls=" + hexOrNull(c.7)) }
            var out = "{" + f.joined(separator: ", ") + "}"
            if result > 0 {
                var after: [String] = []
                if c.0 & CloneArgs.CLONE_PIDFD != 0, let fd = read(c.1, Int32.self) { after.append("pidfd=[\(fd)]") }
                if c.0 & CloneArgs.CLONE_PARENT_SETTID != 0, let tid = read(c.3, Int32.self) { after.append("parent_tid=[\(tid)]") }
                if !after.isEmpty { out += " => {" + after.joined(separator: ", ") + "}" }
            }
            return out
        case .named(let names): return Decode.named(v, names)
        case .flagBits(let bits): return v == 0 ? "0" : Decode.flags(v, bits)
        case .flagBitsOr(let bits, let unknown): return Decode.flags(v, bits, unknown: unknown)
        case .namedOr(let names, let unknown): return names[v] ?? "0x\(String(v, radix: 16)) /* \(unknown) */"
        case .fileModeWithType: return Decode.fileMode(UInt32(truncatingIfNeeded: v))
        case .mknodDevice(let m):
            let type = UInt32(truncatingIfNeeded: args[m]) & S_IFMT
            guard type == S_IFCHR || type == S_IFBLK else { return "" }
            // glibc's dev_t encoding (gnu_dev_major/minor).
            let major = ((v >> 8) & 0xfff) | ((v >> 32) & ~0xfff), minor = (v & 0xff) | ((v >> 12) & ~0xff)
            return "makedev(0x\(String(major, radix: 16)), 0x\(String(minor, radix: 16)))"
        case .itimerspecIn, .itimerspecOut:
            guard let t = read(v, (timespec, timespec).self) else { return hexOrNull(v) }
            return "{it_interval={tv_sec=\(t.0.tv_sec), tv_nsec=\(t.0.tv_nsec)}, it_value={tv_sec=\(t.1.tv_sec), tv_nsec=\(t.1.tv_nsec)}}"
        case .sigeventIn:
            // struct sigevent: sigev_value (8), sigev_signo, sigev_notify, then the thread id or function.
            guard let e = read(v, (UInt64, Int32, Int32, Int32).self) else { return hexOrNull(v) }
            let notify = Decode.named(UInt64(UInt32(bitPattern: e.2)), [0: "SIGEV_SIGNAL", 1: "SIGEV_NONE", 2: "SIGEV_THREAD", 4: "SIGEV_THREAD_ID"])
            var out = "{sigev_value={sival_int=\(Int32(truncatingIfNeeded: e.0)), sival_ptr=\(hexOrNull(e.0))}, "
            out += "sigev_signo=" + (e.1 == 0 ? "0" : Signal(e.1).straceName) + ", sigev_notify=" + notify
            if e.2 == 4 { out += ", sigev_notify_thread_id=\(e.3)" }
            return out + "}"
        case .statfsOut:
            guard let s = read(v, sw_statfs.self) else { return hexOrNull(v) }
            let fsid = withUnsafeBytes(of: s.f_fsid) { $0.loadUnaligned(as: (UInt32, UInt32).self) }
            return "{f_type=\(Decode.named(UInt64(s.f_type), Decode.filesystemMagic)), f_bsize=\(s.f_bsize), f_blocks=\(s.f_blocks), "
                + "f_bfree=\(s.f_bfree), f_bavail=\(s.f_bavail), f_files=\(s.f_files), f_ffree=\(s.f_ffree), "
                + "f_fsid={val=[\(Self.hex(UInt64(fsid.0))), \(Self.hex(UInt64(fsid.1)))]}, f_namelen=\(s.f_namelen), "
                + "f_frsize=\(s.f_frsize), f_flags=" + (s.f_flags == 0 ? "0" : Decode.flags(UInt64(s.f_flags), Decode.statfsFlags)) + "}"
        case .cpuMaskIn(let sizeArg):
            let n = Int(min(args[sizeArg], 1024))
            guard v != 0, let raw = try? mm.copyIn(GuestAddress(v), n) else { return hexOrNull(v) }
            var cpus: [String] = []
            for (i, b) in raw.enumerated() { for bit in 0..<8 where b & (1 << bit) != 0 { cpus.append(String(i * 8 + bit)) } }
            return "[" + cpus.joined(separator: " ") + "]"
        case .siginfoOut:
            // The siginfo waitid fills: signo, errno, code, then pid, uid, status, utime, stime.
            guard let si = read(v, (Int32, Int32, Int32, Int32, Int32, UInt32, Int32, Int32, Int64, Int64).self) else { return hexOrNull(v) }
            if si.0 == 0 { return "{}" }   // WNOHANG and no child changed
            var info = SignalInfo(Signal(si.0), code: si.2)
            info.pid = si.4; info.uid = si.5; info.status = si.6
            return "{si_signo=\(Signal(si.0).straceName), si_code=\(Tracer.codeName(info)), si_pid=\(si.4), si_uid=\(si.5), "
                + "si_status=\(Signal(si.0) == .SIGCHLD && si.2 != 1 ? Signal(si.6).straceName : String(si.6)), si_utime=\(si.8), si_stime=\(si.9)}"
        case .fdSet(let n): return fdSet(v, nfds: Int(Int32(truncatingIfNeeded: args[n])))
        case .mempolicyMode:
            // A known mode, then its flags; else the flags, then the rest in hex (strace's order).
            let v32 = UInt64(UInt32(truncatingIfNeeded: v))
            let flagBits = Decode.flags(v32 & 0xe000, Decode.mempolicyFlags, zero: "")
            if let mode = Decode.mempolicyModes[v32 & ~0xe000] { return flagBits.isEmpty ? mode : mode + "|" + flagBits }
            let rest = "0x" + String(v32 & ~0xe000, radix: 16)
            return flagBits.isEmpty ? rest : flagBits + "|" + rest
        case .mempolicyOut:
            guard result >= 0, let m = read(v, Int32.self) else { return hexOrNull(v) }
            return "[" + Decode.named(UInt64(UInt32(bitPattern: m)), Decode.mempolicyModes) + "]"
        case .pointerArray(let c):
            return array(v, count: args[c], width: 8) { hexOrNull($0) }
        case .intArray(let c):
            return array(v, count: args[c], width: 4) { String(Int32(truncatingIfNeeded: $0)) }
        case .nodeStatusOut(let c):
            return array(v, count: args[c], width: 4) { w in
                let n = Int32(truncatingIfNeeded: w)
                return n < 0 && n > -4096 ? "-" + Errno(-n).name : String(n)
            }
        case .nodemask(let m):
            return nodemask(v, maxnode: args[m])
        case .nodemaskOut(let m):
            guard result >= 0 || (v != 0 && args[m] == 0) else { return hexOrNull(v) }
            return nodemask(v, maxnode: args[m])
        case .futexArg(let n): return futexArgument(n)
        case .siginfoIn, .siginfoTakenOut: return siginfo(v)
        case .ipcCmd(let kind):
            let cmd = v & 0xffff_ffff
            let name = Decode.named(cmd & ~0x100, Decode.ipcCommands(kind))
            return cmd & 0x100 != 0 ? "IPC_64|" + name : name
        case .ipcDSOut(let kind):
            let cmd = args[1] & 0xff
            if cmd == UInt64(IPC.IPC_INFO) || (kind == .message && cmd == UInt64(IPC.MSG_INFO)) || (kind == .sharedMemory && cmd == UInt64(IPC.SHM_INFO)) {
                return ipcInfo(v, kind, cmd: cmd)
            }
            return ipcDS(v, kind)
        case .semInfoOut:
            let cmd = args[2] & 0xff
            return cmd == UInt64(IPC.IPC_INFO) || cmd == UInt64(IPC.SEM_INFO) ? ipcInfo(v, .semaphore, cmd: cmd) : hexOrNull(v)
        case .fileHandle: return fileHandleAtEntry(v)
        case .seccompArg(let n): return seccompArgument(n)
        case .mmsgVectorOut(let c):
            // struct mmsghdr: a msghdr (56 bytes), then msg_len, 64 bytes each; each entry's data up to its msg_len.
            let n = Int(min(min(UInt64(max(0, result)), args[c] & 0xffff_ffff), 1024))
            guard v != 0, let raw = try? mm.copyIn(GuestAddress(v), n * 64) else { return hexOrNull(v) }
            return "[" + (0..<n).map { i -> String in
                let length = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 64 + 56, as: UInt32.self) }
                return "{msg_hdr=" + msghdr(v &+ UInt64(i * 64), limit: Int(length)) + ", msg_len=\(length)}"
            }.joined(separator: ", ") + "]"
        case .pointerOut:
            guard let p = read(v, UInt64.self) else { return hexOrNull(v) }
            return "[" + hexOrNull(p) + "]"
        case .sizeOut:
            guard let n = read(v, UInt64.self) else { return hexOrNull(v) }
            return "[\(n)]"
        case .sembufs(let c):
            // struct sembuf: unsigned short sem_num, short sem_op, short sem_flg; -s elements at most.
            let count = Int(min(args[c], 1 << 16)), shown = min(count, max(0, options.stringLimit))
            guard v != 0, let raw = try? mm.copyIn(GuestAddress(v), shown * 6) else { return hexOrNull(v) }
            let items = (0..<shown).map { i -> String in
                let b = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 6, as: (UInt16, Int16, Int16).self) }
                return "{sem_num=\(b.0), sem_op=\(b.1), sem_flg=\(Decode.flags(UInt64(UInt16(bitPattern: b.2)), Decode.semFlags))}"
            }
            return "[" + items.joined(separator: ", ") + (shown < count ? ", ...]" : "]")
        case .msgbufIn(let sizeArg), .msgbufOut(let sizeArg):
            // struct msgbuf: long mtype, then msgsz bytes of text.
            guard let mtype = read(v, Int64.self) else { return hexOrNull(v) }
            return "{mtype=\(mtype), mtext=" + string(at: v &+ 8, count: Int(clamping: args[sizeArg])) + "}"
        case .low32(let f):
            var w = (0..<6).map { args[$0] }
            w[i] &= 0xffff_ffff
            let a = SyscallArguments(w[0], w[1], w[2], w[3], w[4], w[5])
            return ArgPrinter(task: task, args: a, result: result, options: options).format(f, i)
        case .offsetIn, .offsetInOut:
            guard let o = read(v, Int64.self) else { return hexOrNull(v) }
            return "[\(o)]"
        case .openHow(let sizeArg):
            // struct open_how: flags, mode, resolve (u64 each); strace shows mode only where it is used.
            guard args[sizeArg] >= 24, let h = read(v, (UInt64, UInt64, UInt64).self) else { return hexOrNull(v) }
            let tmpFile = UInt64(OpenFlags.tmpFile.rawValue)
            let usesMode = h.0 & UInt64(OpenFlags.create.rawValue) != 0 || h.0 & tmpFile == tmpFile
            return "{flags=\(Decode.openFlags(h.0))" + (usesMode || h.1 != 0 ? ", mode=\(Decode.mode(h.1))" : "")
                + ", resolve=\(Decode.flags(h.2, Decode.resolveFlags))}"
        case .capDataIn, .capDataOut: return capabilities(v)
        case .mincoreVectorOut:
            // One byte per page of [addr, addr+length), bit 0 the page's residency; -s elements at most.
            let pages = args[1] / 4096 + (args[1] % 4096 != 0 ? 1 : 0)
            let shown = Int(min(pages, UInt64(max(0, options.stringLimit))))
            guard v != 0, let raw = try? mm.copyIn(GuestAddress(v), shown) else { return hexOrNull(v) }
            return "[" + raw.map { String($0 & 1) }.joined(separator: ", ") + (UInt64(shown) < pages ? ", ...]" : "]")
        case .pselectSigmask:
            guard let d = read(v, (UInt64, UInt64).self) else { return hexOrNull(v) }
            let mask = d.0 == 0 ? "NULL" : (read(d.0, UInt64.self).map { Decode.sigset($0) } ?? hexOrNull(d.0))
            return "{sigmask=\(mask), sigsetsize=\(d.1)}"
        case .stringArray:
            guard v != 0 else { return "NULL" }
            var items: [String] = []
            var p = v
            while items.count < 32, let s = read(p, UInt64.self), s != 0 {
                guard let b = try? mm.readCString(GuestAddress(s)) else { break }
                items.append(Decode.quote(b.prefix(options.stringLimit), truncated: b.count > options.stringLimit))
                p += 8
            }
            return "[" + items.joined(separator: ", ") + "]"
        case .envArray:
            guard v != 0 else { return "NULL" }
            var n = 0
            var p = v
            while n < 100_000, let s = read(p, UInt64.self), s != 0 { n += 1; p += 8 }
            return hexOrNull(v) + " /* \(n) var\(n == 1 ? "" : "s") */"
        case .waitStatusOut:
            guard let st = read(v, Int32.self) else { return hexOrNull(v) }
            return "[" + Decode.waitStatus(st) + "]"
        case .waitOptions: return Decode.flags(v, Decode.waitOptions)
        case .mqAttrCreate(let fa):
            guard args[fa] & 0o100 != 0 else { return "" }
            return mqAttr(v)
        case .mqAttrIn, .mqAttrOut: return mqAttr(v)
        case .futexWaitv(let c):
            let n = Int(min(args[c], 32))
            guard v != 0, let raw = try? mm.copyIn(GuestAddress(v), n * 24) else { return hexOrNull(v) }
            let items = (0..<n).map { i -> String in
                let val = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 24, as: UInt64.self) }
                let uaddr = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 24 + 8, as: UInt64.self) }
                let flags = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 24 + 16, as: UInt32.self) }
                let reserved = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 24 + 20, as: UInt32.self) }
                return "{val=\(val == 0 ? "0" : "0x" + String(val, radix: 16)), uaddr=\(hexOrNull(uaddr)), "
                    + "flags=\(flags & 130 == 0 && flags != 0 ? "0x\(String(flags, radix: 16)) /* FUTEX_??? */" : Decode.flags(UInt64(flags), Decode.futexWaitvFlags))"
                    + (reserved != 0 ? ", __reserved=0x\(String(reserved, radix: 16))}" : "}")
            }
            return "[" + items.joined(separator: ", ") + (args[c] > 32 ? ", ...]" : "]")
        case .futexOp:
            let cmd = Decode.named(v & ~384 & 0xffff_ffff, Decode.futexOps)
            return cmd + (v & 128 != 0 ? "_PRIVATE" : "") + (v & 256 != 0 ? "|FUTEX_CLOCK_REALTIME" : "")
        case .pipeFDsOut:
            guard let fds = read(v, (Int32, Int32).self) else { return hexOrNull(v) }
            return "[\(fds.0), \(fds.1)]"
        case .pollFDs:
            let n = Int(min(args[1], 32))
            guard v != 0, let raw = try? mm.copyIn(GuestAddress(v), n * 8) else { return hexOrNull(v) }
            let items = (0..<n).map { i -> String in
                let fd = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 8, as: Int32.self) }
                let ev = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 8 + 4, as: UInt16.self) }
                return "{fd=\(fd), events=\(Decode.flags(UInt64(ev), Decode.pollEvents))}"
            }
            return "[" + items.joined(separator: ", ") + "]"
        case .epollEvent:
            guard let ev = read(v, (UInt32, UInt32, UInt32).self) else { return hexOrNull(v) }
            return Self.epollEvent(ev)
        case .epollEventsOut:
            let n = Int(min(max(result, 0), 1024))
            guard v != 0, let raw = try? mm.copyIn(GuestAddress(v), n * 12) else { return hexOrNull(v) }
            return "[" + (0..<n).map { i in
                Self.epollEvent(raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 12, as: (UInt32, UInt32, UInt32).self) })
            }.joined(separator: ", ") + "]"
        case .epollCtlOp: return Decode.named(v, [1: "EPOLL_CTL_ADD", 2: "EPOLL_CTL_DEL", 3: "EPOLL_CTL_MOD"])
        case .socketDomain: return Decode.named(v, Decode.addressFamilies)
        case .socketType:
            return Decode.named(v & 0xf, Decode.socketTypes) + (v & ~0xf == 0 ? "" : "|" + Decode.flags(v & ~0xf, Decode.socketFlags))
        case .socketProtocol(let d):
            let family = args[d]
            if family == 2 || family == 10 { return Decode.named(v, Decode.ipProtocols) }
            if family == 16 { return Decode.named(v, [0: "NETLINK_ROUTE", 4: "NETLINK_SOCK_DIAG", 16: "NETLINK_GENERIC"]) }
            return String(Int32(truncatingIfNeeded: v))
        case .socketFlags: return Decode.flags(v, Decode.socketFlags)
        case .sockaddrIn(let l): return sockaddr(v, length: Int(Int32(truncatingIfNeeded: args[l])))
        case .sockaddrOut(let lp):
            guard result >= 0, v != 0, let len = read(args[lp], Int32.self) else { return hexOrNull(v) }
            return sockaddr(v, length: Int(len))
        case .socklenOut, .intPointerIn, .intPointerOut:
            guard let n = read(v, Int32.self) else { return hexOrNull(v) }
            return "[\(n)]"
        case .msgFlags: return Decode.flags(v, Decode.msgFlags)
        case .msghdrIn: return msghdr(v, output: false)
        case .msghdrOut: return msghdr(v, output: true)
        case .shutdownHow: return Decode.named(v, [0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"])
        case .sockoptLevel: return Decode.named(v, Decode.sockoptLevels)
        case .sockoptName(let l, let getting):
            switch args[l] {
            case 1: return getting && v == UInt64(SocketConstants.SO_GET_FILTER) ? "SO_GET_FILTER" : Decode.named(v, Decode.socketOptions)
            case 6: return Decode.named(v, Decode.tcpOptions)
            case 0: return Decode.named(v, Decode.ipOptions)
            case 255: return v == 1 ? "ICMP_FILTER" : String(Int32(truncatingIfNeeded: v))
            default: return String(Int32(truncatingIfNeeded: v))
            }
        case .clockID: return Decode.named(v, Decode.clocks)
        case .timespecIn, .timespecOut:
            guard let t = read(v, timespec.self) else { return hexOrNull(v) }
            return "{tv_sec=\(t.tv_sec), tv_nsec=\(t.tv_nsec)}"
        case .timevalIn, .timevalOut:
            guard let t = read(v, Glibc.timeval.self) else { return hexOrNull(v) }
            return "{tv_sec=\(t.tv_sec), tv_usec=\(t.tv_usec)}"
        case .itimerWhich: return Decode.named(v, [0: "ITIMER_REAL", 1: "ITIMER_VIRTUAL", 2: "ITIMER_PROF"])
        case .itimervalIn, .itimervalOut:
            guard let t = read(v, (Glibc.timeval, Glibc.timeval).self) else { return hexOrNull(v) }
            return "{it_interval=\(Self.timevalText(t.0)), it_value=\(Self.timevalText(t.1))}"
        case .timezoneOut, .timezoneIn:
            guard let t = read(v, (Int32, Int32).self) else { return hexOrNull(v) }
            return "{tz_minuteswest=\(t.0), tz_dsttime=\(t.1)}"
        case .rusageWho: return Decode.named(UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: v))),
                                             [0: "RUSAGE_SELF", UInt64.max: "RUSAGE_CHILDREN", 1: "RUSAGE_THREAD"])
        case .rusageOut:
            guard let t = read(v, (Glibc.timeval, Glibc.timeval).self) else { return hexOrNull(v) }
            return "{ru_utime=\(Self.timevalText(t.0)), ru_stime=\(Self.timevalText(t.1)), ...}"
        case .tmsOut:
            guard let t = read(v, (Int64, Int64, Int64, Int64).self) else { return hexOrNull(v) }
            return "{tms_utime=\(t.0), tms_stime=\(t.1), tms_cutime=\(t.2), tms_cstime=\(t.3)}"
        case .stackIn, .stackOut:
            guard let s = read(v, (UInt64, Int32, Int32, UInt64).self) else { return hexOrNull(v) }
            let flags = s.1 == 0 ? "0" : Decode.flags(UInt64(UInt32(bitPattern: s.1)), [(1, "SS_ONSTACK"), (2, "SS_DISABLE"), (1 << 31, "SS_AUTODISARM")])
            return "{ss_sp=\(hexOrNull(s.0)), ss_flags=\(flags), ss_size=\(s.3)}"
        case .groupsIn(let c): return ids(v, count: Int(Int32(truncatingIfNeeded: args[c])))
        case .groupsOut: return ids(v, count: Int(max(result, 0)))
        case .remainingOut:
            guard result == -Int64(Errno.EINTR.rawValue), let t = read(v, timespec.self) else { return hexOrNull(v) }
            return "{tv_sec=\(t.tv_sec), tv_nsec=\(t.tv_nsec)}"
        case .timevalPairIn:
            guard let t = read(v, (Glibc.timeval, Glibc.timeval).self) else { return hexOrNull(v) }
            return "[" + [t.0, t.1].map { Self.timevalText($0) + " /* " + Decode.date(Int64($0.tv_sec), fraction: Int64($0.tv_usec), digits: 6) + " */" }
                .joined(separator: ", ") + "]"
        case .timeOut:
            guard let t = read(v, Int64.self) else { return hexOrNull(v) }
            return "[\(t) /* \(Decode.date(t)) */]"
        case .utimbufIn:
            guard let t = read(v, (Int64, Int64).self) else { return hexOrNull(v) }
            return "{actime=\(t.0) /* \(Decode.date(t.0)) */, modtime=\(t.1) /* \(Decode.date(t.1)) */}"
        case .timespecPairIn:
            guard let t = read(v, (timespec, timespec).self) else { return hexOrNull(v) }
            return "[" + [t.0, t.1].map { ts -> String in
                if ts.tv_nsec == InodeAttributes.UTIME_NOW { return "UTIME_NOW" }
                if ts.tv_nsec == InodeAttributes.UTIME_OMIT { return "UTIME_OMIT" }
                return "{tv_sec=\(ts.tv_sec), tv_nsec=\(ts.tv_nsec)} /* " + Decode.date(Int64(ts.tv_sec), fraction: Int64(ts.tv_nsec), digits: 9) + " */"
            }.joined(separator: ", ") + "]"
        case .statOut:
            guard let st = read(v, stat.self) else { return hexOrNull(v) }
            var s = "{st_mode=" + Decode.fileMode(st.st_mode)
            let type = st.st_mode & S_IFMT
            if type == S_IFCHR || type == S_IFBLK {
                s += ", st_rdev=makedev(0x\(String((st.st_rdev >> 8) & 0xfff, radix: 16)), 0x\(String(st.st_rdev & 0xff, radix: 16)))"
            } else {
                s += ", st_size=\(st.st_size)"
            }
            return s + ", ...}"
        case .statxOut:
            guard let x = read(v, statx.self) else { return hexOrNull(v) }
            return "{stx_mask=0x\(String(x.stx_mask, radix: 16)), stx_attributes=0, stx_mode=" + Decode.fileMode(UInt32(x.stx_mode))
                + ", stx_size=\(x.stx_size), ...}"
        case .statxMask: return "0x" + String(v & 0xffffffff, radix: 16)
        case .signal:
            let n = Int32(truncatingIfNeeded: v)
            return n == 0 ? "0" : Signal(n).straceName   // strace: kill(pid, 0)
        case .sigactionIn, .sigactionOut:
            guard let a = read(v, (UInt64, UInt64, UInt64, UInt64).self) else { return hexOrNull(v) }
            let h = a.0 == 0 ? "SIG_DFL" : a.0 == 1 ? "SIG_IGN" : "0x" + String(a.0, radix: 16)
            var s = "{sa_handler=\(h), sa_mask=\(Decode.sigset(a.3)), sa_flags=\(Decode.flags(a.1, Decode.saFlags))"
            if a.1 & 0x04000000 != 0 { s += ", sa_restorer=0x" + String(a.2, radix: 16) }
            return s + "}"
        case .sigset, .sigsetOut:
            guard let m = read(v, UInt64.self) else { return hexOrNull(v) }
            return Decode.sigset(m)
        case .sigprocmaskHow: return Decode.named(v, Decode.sigprocmaskHow)
        case .archPrctlCode: return Decode.named(v, Decode.archPrctl)
        case .archPrctlAddr:
            if args[0] == ArchPrctl.ARCH_GET_FS || args[0] == ArchPrctl.ARCH_GET_GS {
                guard let x = read(v, UInt64.self) else { return hexOrNull(v) }
                return "[0x" + String(x, radix: 16) + "]"
            }
            return "0x" + String(v, radix: 16)
        case .rlimitResource: return Decode.named(v, Decode.rlimits)
        case .rlimitIn, .rlimitOut:
            guard let r = read(v, (UInt64, UInt64).self) else { return hexOrNull(v) }
            return "{rlim_cur=\(Decode.rlim(r.0)), rlim_max=\(Decode.rlim(r.1))}"
        case .utsnameOut:
            guard let u = read(v, utsname.self) else { return hexOrNull(v) }
            var u2 = u
            let sys = withUnsafeBytes(of: &u2.sysname) { Array($0.prefix { $0 != 0 }) }
            let node = withUnsafeBytes(of: &u2.nodename) { Array($0.prefix { $0 != 0 }) }
            return "{sysname=\(Decode.quote(sys[...], truncated: false)), nodename=\(Decode.quote(node[...], truncated: false)), ...}"
        case .madvice: return Decode.named(v, Decode.madvise)
        case .mremapFlags: return Decode.flags(v, Decode.mremapFlags)
        case .getrandomFlags: return Decode.flags(v, [(1, "GRND_NONBLOCK"), (2, "GRND_RANDOM"), (4, "GRND_INSECURE")])
        case .pathOut: return string(at: v, count: Int(max(0, result)))
        case .cwdOut:
            guard let b = try? mm.readCString(GuestAddress(v)) else { return hexOrNull(v) }
            return Decode.quote(b[...], truncated: false)
        case .dirents: return hexOrNull(v) + " /* \(direntCount(v)) entries */"
        case .sysinfoOut:
            guard let si = read(v, sysinfo.self) else { return hexOrNull(v) }
            return "{uptime=\(si.uptime), totalram=\(si.totalram), freeram=\(si.freeram), procs=\(si.procs), mem_unit=\(si.mem_unit), ...}"
        case .cpuMaskOut:
            guard let m = read(v, UInt64.self) else { return hexOrNull(v) }
            return "[" + (0..<64).filter { m & (1 << UInt64($0)) != 0 }.map(String.init).joined(separator: " ") + "]"
        }
    }

    /// An array of `count` elements of `width` bytes, `limit` (by default -s)
    /// elements at most and then "...", as strace prints arrays.
    private func array(_ a: UInt64, count: UInt64, width: Int, limit: Int? = nil, _ element: (UInt64) -> String) -> String {
        if a == 0 { return "NULL" }
        let shown = Int(min(count, UInt64(max(0, limit ?? options.stringLimit))))
        guard let raw = try? mm.copyIn(GuestAddress(a), shown * width) else { return hexOrNull(a) }
        let items = (0..<shown).map { i -> String in
            raw.withUnsafeBytes { p in
                element(width == 8 ? p.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                                   : UInt64(p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            }
        }
        return "[" + (items + (UInt64(shown) < count ? ["..."] : [])).joined(separator: ", ") + "]"
    }

    /// A node mask of `maxnode` bits as strace prints it: one word per 64
    /// bits but the last, each 16 characters wide ("%#016lx").
    private func nodemask(_ a: UInt64, maxnode: UInt64) -> String {
        if a == 0 { return "NULL" }
        let words = (maxnode &+ 62) / 64
        if maxnode != 0 && words == 0 { return hexOrNull(a) }
        if words == 0 { return "[]" }
        return array(a, count: words, width: 8, limit: 32) { w in
            if w == 0 { return String(repeating: "0", count: 16) }
            let hex = String(w, radix: 16)
            return "0x" + String(repeating: "0", count: max(0, 14 - hex.count)) + hex
        }
    }

    /// A sockaddr as strace shows it, for the families the sentry serves.
    private func sockaddr(_ a: UInt64, length: Int) -> String {
        guard a != 0, length >= 2, let b = try? mm.copyIn(GuestAddress(a), min(length, 128)) else { return hexOrNull(a) }
        let family = UInt64(b[0]) | UInt64(b[1]) << 8
        let name = "{sa_family=" + Decode.named(family, Decode.addressFamilies)
        switch family {
        case 1:
            if b.count == 2 { return name + "}" }
            if b[2] == 0 { return name + ", sun_path=@" + Decode.quote(b[3...], truncated: false) + "}" }
            let end = b[2...].firstIndex(of: 0) ?? b.count
            return name + ", sun_path=" + Decode.quote(b[2..<end], truncated: false) + "}"
        case 2 where b.count >= 8:
            let port = UInt16(b[2]) << 8 | UInt16(b[3])
            return name + ", sin_port=htons(\(port)), sin_addr=inet_addr(\"\(b[4]).\(b[5]).\(b[6]).\(b[7])\")}"
        case 16 where b.count >= 12:
            let (pid, groups) = b.withUnsafeBytes { ($0.loadUnaligned(fromByteOffset: 4, as: UInt32.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) }
            let hex = String(groups, radix: 16)
            return name + ", nl_pid=\(pid), nl_groups=" + String(repeating: "0", count: max(0, 8 - hex.count)) + hex + "}"
        case 10 where b.count >= 24:
            let port = UInt16(b[2]) << 8 | UInt16(b[3])
            let flow = b[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            var text = [CChar](repeating: 0, count: 64)
            let ip = Array(b[8..<24])
            _ = ip.withUnsafeBytes { inet_ntop(AF_INET6, $0.baseAddress, &text, 64) }
            let scope = b.count >= 28 ? b[24..<28].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } : 0
            return name + ", sin6_port=htons(\(port)), sin6_flowinfo=htonl(\(flow)), inet_pton(AF_INET6, \""
                + String(cString: text) + "\", &sin6_addr), sin6_scope_id=\(scope)}"
        default:
            return name + ", sa_data=" + Decode.quote(b[2...], truncated: false) + "}"
        }
    }

    /// struct msghdr: name, the data (as an iovec list), control length and flags.
    private func msghdr(_ a: UInt64, output: Bool) -> String { msghdr(a, limit: output ? Int(max(0, result)) : Int.max) }

    /// A msghdr, its iovecs' contents up to `limit` bytes in all.
    private func msghdr(_ a: UInt64, limit: Int) -> String {
        guard a != 0, let b = try? mm.copyIn(GuestAddress(a), 56) else { return hexOrNull(a) }
        func word(_ o: Int) -> UInt64 { b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt64.self) } }
        let nameLength = Int(Int32(truncatingIfNeeded: word(8)))
        let iovCount = Int(min(word(24), 1024))
        var s = "{msg_name=" + (word(0) == 0 ? "NULL" : sockaddr(word(0), length: nameLength))
        s += ", msg_namelen=\(nameLength), msg_iov=" + iovecs(word(16), count: iovCount, limit: limit)
        s += ", msg_iovlen=\(iovCount), msg_controllen=\(word(40))"
        return s + ", msg_flags=" + Decode.flags(UInt64(UInt32(truncatingIfNeeded: word(48))), Decode.msgFlags) + "}"
    }

    private func direntCount(_ a: UInt64) -> Int {
        guard result > 0, let b = try? mm.copyIn(GuestAddress(a), Int(result)) else { return 0 }
        var off = 0, n = 0
        while off + 19 <= b.count {
            let reclen = Int(b[off + 16]) | Int(b[off + 17]) << 8
            if reclen == 0 { break }
            off += reclen; n += 1
        }
        return n
    }

    private func iovecs(_ a: UInt64, count: Int, limit: Int) -> String {
        guard count >= 0, count <= 1024, let raw = try? mm.copyIn(GuestAddress(a), count * 16) else { return hexOrNull(a) }
        var left = limit
        var parts: [String] = []
        for i in 0..<count {
            let base = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 16, as: UInt64.self) }
            let len = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 16 + 8, as: UInt64.self) }
            let shown = min(Int(clamping: len), left)
            left -= shown
            parts.append("{iov_base=\(string(at: base, count: shown)), iov_len=\(len)}")
        }
        return "[" + parts.joined(separator: ", ") + "]"
    }
}
