import Glibc
import Sentry

/// clone, fork, vfork, execve, exit, wait: how tasks come and go.
enum Lifecycle {
    static func clone(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        // x86-64 order: flags, stack, parent_tid, child_tid, tls.
        var args = CloneArgs(flags: a[0] & ~0xff)
        args.exitSignal = Int32(a[0] & 0xff)
        args.stack = a[1]
        args.parentTID = a.address(2)
        args.childTID = a.address(3)
        args.tls = a[4]
        // Legacy clone puts the pidfd where parent_tid points: not both.
        if args.flags & CloneArgs.CLONE_PIDFD != 0 {
            if args.flags & CloneArgs.CLONE_PARENT_SETTID != 0 { throw .EINVAL }
            args.pidfdAddress = a.address(2)
        }
        return Int64(try t.clone(args))
    }

    static func clone3(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let size = a[1]
        guard size >= 64, size <= 4096 else { throw .EINVAL }   // CLONE_ARGS_SIZE_VER0
        let raw = try t.mm.copyIn(a.address(0), Int(size))
        func word(_ i: Int) -> UInt64 { raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) } }
        // Fields past the ones this kernel knows must be zero.
        if size > 88 { for i in 11..<Int(size / 8) where word(i) != 0 { throw .E2BIG } }
        if size >= 80 && word(9) != 0 { throw .EINVAL }   // set_tid: no pid namespaces to choose in
        guard word(4) < 65 else { throw .EINVAL }
        var args = CloneArgs(flags: word(0))
        args.pidfdAddress = GuestAddress(word(1))
        args.childTID = GuestAddress(word(2))
        args.parentTID = GuestAddress(word(3))
        args.exitSignal = Int32(word(4))
        let stack = word(5), stackSize = word(6)
        if (stack == 0) != (stackSize == 0) { throw .EINVAL }
        // The stack's top must be a user address (access_ok in clone3_stack_valid).
        let (top, wraps) = stack.addingReportingOverflow(stackSize)
        if stack != 0 && (wraps || top > Task.userAddressLimit) { throw .EINVAL }
        args.stack = stack == 0 ? 0 : top
        args.tls = word(7)
        return Int64(try t.clone(args))
    }

    static func fork(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var args = CloneArgs(flags: 0)
        args.exitSignal = Signal.SIGCHLD.rawValue
        return Int64(try t.clone(args))
    }

    static func vfork(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var args = CloneArgs(flags: CloneArgs.CLONE_VM | CloneArgs.CLONE_VFORK)
        args.exitSignal = Signal.SIGCHLD.rawValue
        return Int64(try t.clone(args))
    }

    static func execve(_ t: Task, _ a: SyscallArguments) throws(Errno) -> SyscallOutcome {
        let (path, start) = try t.pathArgument(AtFlags.AT_FDCWD, a.address(0))
        try t.execve(path: path, from: start, argv: try stringArray(t, a.address(1)), envp: try stringArray(t, a.address(2)))
        return .replacedRegisters
    }

    static func execveat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> SyscallOutcome {
        let flags = UInt64(a.uint32(4))   // an int: the low 32 bits
        guard flags & ~(AtFlags.AT_SYMLINK_NOFOLLOW | AtFlags.AT_EMPTY_PATH) == 0 else { throw .EINVAL }
        var (path, start) = try t.pathArgument(a.int32(0), a.address(1), emptyPathAllowed: flags & AtFlags.AT_EMPTY_PATH != 0)
        if path.isEmpty { path = try t.emptyPathLocation(a.int32(0)).path(relativeTo: t.rootLocation) }
        if flags & AtFlags.AT_SYMLINK_NOFOLLOW != 0, try t.kernel.vfs.resolve(path, from: start, followLast: false, t).inode.kind == .symlink { throw .ELOOP }
        try t.execve(path: path, from: start, argv: try stringArray(t, a.address(2)), envp: try stringArray(t, a.address(3)))
        return .replacedRegisters
    }

    /// A NULL-terminated array of C strings (argv, envp).
    static func stringArray(_ t: Task, _ addr: GuestAddress) throws(Errno) -> [String] {
        if addr.isNull { return [] }
        var out: [String] = []
        var total = 0
        var p = addr
        while true {
            let ptr = try t.mm.read(p, as: UInt64.self)
            if ptr == 0 { return out }
            let s = try t.mm.readCString(GuestAddress(ptr), max: 131072)
            total += s.count + 1
            guard out.count < 0x7fff_ffff, total <= 2 << 20 else { throw .E2BIG }
            out.append(String(rawBytes: s))
            p = p + 8
        }
    }

    static func exit(_ t: Task, _ a: SyscallArguments) throws(Errno) -> SyscallOutcome {
        .exitThread(a.int32(0))
    }

    static func exitGroup(_ t: Task, _ a: SyscallArguments) throws(Errno) -> SyscallOutcome {
        .exitGroup(a.int32(0))
    }

    static func which(_ pid: Int32) -> WaitRequest.Which {
        if pid > 0 { return .pid(pid) }
        if pid == 0 { return .myGroup }
        if pid == -1 { return .any }
        return .group(-pid)
    }

    static func wait4(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let options = a.int32(2)
        let allowed = WaitRequest.WNOHANG | WaitRequest.WUNTRACED | WaitRequest.WCONTINUED
            | WaitRequest.WNOTHREAD | WaitRequest.WALL | WaitRequest.WCLONE
        guard options & ~allowed == 0, a.int32(0) != Int32.min else { throw .EINVAL }
        guard let r = try t.waitChild(WaitRequest(which: which(a.int32(0)), options: options | WaitRequest.WEXITED)) else { return 0 }
        if !a.address(1).isNull { try t.mm.write(a.address(1), r.status) }
        if !a.address(3).isNull { try t.mm.copyOut(a.address(3), [UInt8](repeating: 0, count: 144)) }   // struct rusage
        return Int64(r.pid)
    }

    static func waitid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let idtype = a.int32(0), id = a.int32(1), options = a.int32(3)
        let allowed = WaitRequest.WNOHANG | WaitRequest.WUNTRACED | WaitRequest.WEXITED | WaitRequest.WCONTINUED
            | WaitRequest.WNOWAIT | WaitRequest.WNOTHREAD | WaitRequest.WALL | WaitRequest.WCLONE
        guard options & ~allowed == 0,
              options & (WaitRequest.WEXITED | WaitRequest.WUNTRACED | WaitRequest.WCONTINUED) != 0 else { throw .EINVAL }
        let w: WaitRequest.Which
        switch idtype {
        case 0: w = .any                                   // P_ALL
        case 1: guard id > 0 else { throw .EINVAL }; w = .pid(id)   // P_PID
        case 2: guard id >= 0 else { throw .EINVAL }; w = id == 0 ? .myGroup : .group(id)   // P_PGID
        case 3: w = .pid(try t.childPID(ofPidFD: id))      // P_PIDFD
        default: throw .EINVAL
        }
        let r = try t.waitChild(WaitRequest(which: w, options: options))
        if !a.address(2).isNull {
            var info = SignalInfo(.SIGCHLD, code: r?.code ?? 0)
            if let r { info.pid = r.pid; info.uid = getuid(); info.status = r.infoStatus } else { info.signo = 0 }
            try t.mm.copyOut(a.address(2), info.bytes)
        }
        if !a.address(4).isNull { try t.mm.copyOut(a.address(4), [UInt8](repeating: 0, count: 144)) }
        return 0
    }

    // MARK: pidfds

    static func pidfdOpen(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        Int64(try t.pidfdOpen(pid: a.int32(0), flags: a.uint32(1)).rawValue)
    }

    static func pidfdSendSignal(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a.uint32(3) == 0 else { throw .EINVAL }
        let p = try t.process(ofPidFDOrProcDirectory: a.int32(0))
        var info = t.senderInfo(a.int32(1), code: SignalInfo.SI_USER)
        if !a.address(2).isNull {
            // The caller's own siginfo, as rt_sigqueueinfo takes it; its signo must agree.
            guard try t.mm.read(a.address(2), as: Int32.self) == a.int32(1) else { throw .EINVAL }
            info = try Signals.queuedInfo(t, a.int32(1), a.address(2), target: p.pid)
        }
        try t.pidfdSendSignal(p, info)
        return 0
    }

    static func pidfdGetfd(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a.uint32(2) == 0 else { throw .EINVAL }
        return Int64(try t.pidfdGetFD(try t.process(ofPidFD: a.int32(0)), a.int32(1)).rawValue)
    }
}
