import Glibc
import Sentry

/// clone, fork, vfork, execve, exit, wait: how tasks come and go.
enum Lifecycle {
    static func clone(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        // x86-64 order: flags, stack, parent_tid, child_tid, tls. The flags are
        // an unsigned long of which sys_clone keeps the low 32 bits: CSIGNAL is
        // the exit signal, the rest the flags (clone3's bits above 32 cannot be asked for).
        let flags = a[0] & 0xffff_ffff
        var args = CloneArgs(flags: flags & ~CloneArgs.CSIGNAL)
        args.exitSignal = Int32(flags & CloneArgs.CSIGNAL)
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

    /// clone3: struct clone_args read as copy_clone_args_from_user does, then
    /// clone3_args_valid's rules; copy_process's own rules follow in Task.clone.
    static func clone3(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let size = a[1]
        guard size <= 4096 else { throw .E2BIG }                   // PAGE_SIZE
        guard size >= CloneArgs.sizeVer0 else { throw .EINVAL }
        var raw = try t.mm.copyIn(a.address(0), Int(size))
        // copy_struct_from_user: bytes past the struct this kernel knows must be zero.
        if raw.count > CloneArgs.sizeVer2 {
            guard raw[CloneArgs.sizeVer2...].allSatisfy({ $0 == 0 }) else { throw .E2BIG }
            raw.removeLast(raw.count - CloneArgs.sizeVer2)
        }
        raw += [UInt8](repeating: 0, count: CloneArgs.sizeVer2 - raw.count)
        func word(_ i: Int) -> UInt64 { raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) } }
        let flags = word(0), exitSignal = word(4), stack = word(5), stackSize = word(6)
        let setTID = word(8), setTIDSize = word(9), cgroup = word(10)
        if setTIDSize > 32 { throw .EINVAL }                       // MAX_PID_NS_LEVEL
        if (setTID == 0) != (setTIDSize == 0) { throw .EINVAL }
        guard exitSignal & ~CloneArgs.CSIGNAL == 0, exitSignal <= 64 else { throw .EINVAL }
        if flags & CloneArgs.CLONE_INTO_CGROUP != 0 && (cgroup > UInt64(Int32.max) || size < CloneArgs.sizeVer2) { throw .EINVAL }
        var requestedTIDs: [Int32] = []
        if setTIDSize > 0 {
            let bytes = try t.mm.copyIn(GuestAddress(setTID), Int(setTIDSize) * 4)
            requestedTIDs = (0..<Int(setTIDSize)).map { i in bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 4, as: Int32.self) } }
        }

        // clone3_args_valid.
        let known: UInt64 = 0xffff_ffff | CloneArgs.CLONE_CLEAR_SIGHAND | CloneArgs.CLONE_INTO_CGROUP
        guard flags & ~known == 0 else { throw .EINVAL }
        // CLONE_DETACHED and the CSIGNAL bits (but CLONE_NEWTIME) are not flags for clone3.
        guard flags & (CloneArgs.CLONE_DETACHED | (CloneArgs.CSIGNAL & ~CloneArgs.CLONE_NEWTIME)) == 0 else { throw .EINVAL }
        if flags & CloneArgs.CLONE_SIGHAND != 0 && flags & CloneArgs.CLONE_CLEAR_SIGHAND != 0 { throw .EINVAL }
        if flags & (CloneArgs.CLONE_THREAD | CloneArgs.CLONE_PARENT) != 0 && exitSignal != 0 { throw .EINVAL }
        if (stack == 0) != (stackSize == 0) { throw .EINVAL }
        // The stack's top must be a user address (access_ok in clone3_stack_valid).
        let (top, wraps) = stack.addingReportingOverflow(stackSize)
        if stack != 0 && (wraps || top > Task.userAddressLimit) { throw .EINVAL }

        var args = CloneArgs(flags: flags)
        args.pidfdAddress = GuestAddress(word(1))
        args.childTID = GuestAddress(word(2))
        args.parentTID = GuestAddress(word(3))
        args.exitSignal = Int32(exitSignal)
        args.stack = stack == 0 ? 0 : top
        args.tls = word(7)
        args.requestedTIDs = requestedTIDs
        args.cgroupFD = Int32(truncatingIfNeeded: cgroup)
        // kernel_clone: clone3's pidfd and parent_tid may not be one place.
        if flags & CloneArgs.CLONE_PIDFD != 0 && flags & CloneArgs.CLONE_PARENT_SETTID != 0 && args.pidfdAddress == args.parentTID {
            throw .EINVAL
        }
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
        let formerTID = t.tid
        try t.execve(path: path, from: start, argv: try stringArray(t, a.address(1)), envp: try stringArray(t, a.address(2)))
        t.ptraceExecEvent(formerTID: formerTID)
        return .replacedRegisters
    }

    static func execveat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> SyscallOutcome {
        let flags = UInt64(a.uint32(4))   // an int: the low 32 bits
        guard flags & ~(AtFlags.AT_SYMLINK_NOFOLLOW | AtFlags.AT_EMPTY_PATH) == 0 else { throw .EINVAL }
        let dirfd = a.int32(0)
        let firstByte = try t.mm.copyIn(a.address(1), 1).first
        let emptyPath = flags & AtFlags.AT_EMPTY_PATH != 0 && firstByte == 0
        // The descriptor's own file needs no directory: a pipe is EACCES below, not ENOTDIR.
        let (path, start) = emptyPath ? ("", t.cwd) : try t.pathArgument(dirfd, a.address(1))
        // do_execveat_common's bprm->filename: the path itself when absolute or
        // from the cwd, else /dev/fd/N[/path], the name a script's interpreter
        // opens; through a close-on-exec descriptor that name is gone after
        // the exec (BINPRM_FLAGS_PATH_INACCESSIBLE).
        var filename = path, inaccessible = false
        if dirfd != AtFlags.AT_FDCWD && !path.startsWithSlash {
            filename = path.isEmpty ? "/dev/fd/\(dirfd)" : "/dev/fd/\(dirfd)/\(path)"
            inaccessible = t.fds.entry(FileDescriptor(dirfd))?.closeOnExec ?? false
        }
        var place: Location?
        if path.isEmpty {
            // The descriptor's own file, reopened (an O_PATH one too); one with
            // no place in the tree (a pipe, a socket) is not a regular file.
            if dirfd == AtFlags.AT_FDCWD { place = t.cwd } else {
                guard let l = try t.fds.get(FileDescriptor(dirfd)).location else { throw .EACCES }
                place = l
            }
        } else if flags & AtFlags.AT_SYMLINK_NOFOLLOW != 0,
                  try t.kernel.vfs.resolve(path, from: start, followLast: false, t).inode.kind == .symlink {
            throw .ELOOP
        }
        let formerTID = t.tid
        try t.execve(path: path, from: start, argv: try stringArray(t, a.address(2)), envp: try stringArray(t, a.address(3)),
                     filename: filename, place: place, pathInaccessible: inaccessible)
        t.ptraceExecEvent(formerTID: formerTID)
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
        if !a.address(3).isNull { try t.mm.copyOut(a.address(3), r.usage.rusageBytes) }
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
        // The rusage first, and only for a child reported: a WNOHANG with
        // nothing to report leaves it untouched (the waitid syscall's order).
        if let r, !a.address(4).isNull { try t.mm.copyOut(a.address(4), r.usage.rusageBytes) }
        if !a.address(2).isNull {
            var info = SignalInfo(.SIGCHLD, code: r?.code ?? 0)
            if let r { info.pid = r.pid; info.uid = getuid(); info.status = r.infoStatus } else { info.signo = 0 }
            try t.mm.copyOut(a.address(2), info.bytes)
        }
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
