/// Entering seccomp: strict mode, attaching a filter (with TSYNC and a
/// listener), and the queries of seccomp(2), with kernel/seccomp.c's checks
/// in its order.
extension Task {
    /// seccomp_set_mode_strict.
    public func seccompSetModeStrict() throws(Errno) {
        try attributes.withLock { (a: inout TaskAttributes) throws(Errno) in
            guard a.seccomp.mode == Seccomp.SECCOMP_MODE_DISABLED || a.seccomp.mode == Seccomp.SECCOMP_MODE_STRICT else { throw .EINVAL }
            a.seccomp.mode = Seccomp.SECCOMP_MODE_STRICT
        }
    }

    /// A filter the runtime attaches before the task's first instruction (an
    /// OCI profile), as runc does through libseccomp while it still holds
    /// the privilege: no no_new_privs needed, checked as a guest's would be.
    public func attachRuntimeFilter(_ instructions: [ClassicBPF.Instruction], log: Bool) throws(Errno) {
        let program = try ClassicBPF(verifying: instructions)
        try attributes.withLock { (a: inout TaskAttributes) throws(Errno) in
            guard a.seccomp.mode != Seccomp.SECCOMP_MODE_STRICT else { throw .EINVAL }
            let filter = SeccompFilter(program: program, previous: a.seccomp.filter, log: log, listener: nil)
            a.seccomp = SeccompState(mode: Seccomp.SECCOMP_MODE_FILTER, filter: filter, filterCount: a.seccomp.filterCount + 1)
        }
    }

    /// seccomp_set_mode_filter: `fprog` is the guest's `struct sock_fprog`.
    /// Returns 0, or the listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER,
    /// or for a TSYNC that cannot be done the tid of a thread in the way.
    public func seccompSetModeFilter(flags: UInt64, fprog: GuestAddress) throws(Errno) -> Int64 {
        guard flags & ~Seccomp.filterFlagMask == 0 else { throw .EINVAL }
        let tsync = flags & Seccomp.SECCOMP_FILTER_FLAG_TSYNC != 0
        let newListener = flags & Seccomp.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
        if tsync && newListener && flags & Seccomp.SECCOMP_FILTER_FLAG_TSYNC_ESRCH == 0 { throw .EINVAL }
        if flags & Seccomp.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0 && !newListener { throw .EINVAL }

        // seccomp_prepare_user_filter: struct sock_fprog { u16 len; sock_filter *filter; }.
        let header = try mm.copyIn(fprog, 16)
        let count = Int(header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt16.self) })
        let address = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self) }
        guard count > 0, count <= ClassicBPF.maxInstructions else { throw .EINVAL }
        let (nnp, admin) = attributes.withLock { ($0.noNewPrivs, $0.credentials.capable(Credentials.CAP_SYS_ADMIN)) }
        guard nnp || admin else { throw .EACCES }
        let raw = try mm.copyIn(GuestAddress(address), count * ClassicBPF.Instruction.size)
        let instructions = raw.withUnsafeBytes { b in
            (0..<count).map { i in
                ClassicBPF.Instruction(code: b.loadUnaligned(fromByteOffset: i * 8, as: UInt16.self),
                                       jt: b[i * 8 + 2], jf: b[i * 8 + 3],
                                       k: b.loadUnaligned(fromByteOffset: i * 8 + 4, as: UInt32.self))
            }
        }
        let program = try ClassicBPF(verifying: instructions)
        let listener = newListener
            ? SeccompListener(waitKillableAfterReceive: flags & Seccomp.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0) : nil
        let log = flags & Seccomp.SECCOMP_FILTER_FLAG_LOG != 0

        // Under the kernel lock: no thread comes or goes, so TSYNC sees them all
        // (Linux holds siglock). Attribute locks are leaves under it.
        let outcome: Result<Int32, Errno> = kernel.locked {
            let mine = attributes.withLock { $0.seccomp }
            guard mine.mode == Seccomp.SECCOMP_MODE_DISABLED || mine.mode == Seccomp.SECCOMP_MODE_FILTER else { return .failure(.EINVAL) }
            // has_duplicate_listener: one listener per chain.
            if listener != nil {
                var f = mine.filter
                while let g = f { if g.listener != nil { return .failure(.EBUSY) }; f = g.previous }
            }
            if program.instructions.count + (mine.filter?.pathLength ?? 0) > Seccomp.maxPathInstructions { return .failure(.ENOMEM) }
            let others = group.tasks.filter { $0 !== self }
            if tsync {
                for t in others {
                    let s = t.attributes.withLock { $0.seccomp }
                    if s.mode == Seccomp.SECCOMP_MODE_DISABLED { continue }
                    if s.mode == Seccomp.SECCOMP_MODE_FILTER, mine.filter?.hasAncestor(s.filter) ?? (s.filter == nil) { continue }
                    if flags & Seccomp.SECCOMP_FILTER_FLAG_TSYNC_ESRCH != 0 { return .failure(.ESRCH) }
                    return .success(t.tid)
                }
            }
            let filter = SeccompFilter(program: program, previous: mine.filter, log: log, listener: listener)
            let count = mine.filterCount + 1
            attributes.withLock { $0.seccomp = SeccompState(mode: Seccomp.SECCOMP_MODE_FILTER, filter: filter, filterCount: count) }
            if tsync {
                for t in others {
                    t.attributes.withLock { a in
                        a.seccomp = SeccompState(mode: Seccomp.SECCOMP_MODE_FILTER, filter: filter, filterCount: count)
                        if nnp { a.noNewPrivs = true }
                    }
                }
            }
            return .success(0)
        }
        let failedThread = try outcome.get()
        if failedThread != 0 { return Int64(failedThread) }
        // The siblings may be serving calls on their own (GuestSideCalls.swift): no longer.
        if tsync { kernel.kickOutOfGuestCode { $0 !== self && $0.group === group } }
        guard let listener else { return 0 }
        // 6.1 reserves the fd before attaching; a full table after the
        // attach leaves the filter with nobody to answer (ENOSYS to its calls).
        do {
            return Int64(try fds.install(SeccompNotifyFile(listener, kernel: kernel), closeOnExec: true).rawValue)
        } catch {
            listener.detach()
            throw error
        }
    }

    /// seccomp_get_action_avail.
    public func seccompActionAvailable(_ address: GuestAddress) throws(Errno) {
        let action = try mm.read(address, as: UInt32.self)
        guard Seccomp.availableActions.contains(action) else { throw .EOPNOTSUPP }
    }

    /// seccomp_get_notif_sizes: struct seccomp_notif_sizes { u16 notif, resp, data; }.
    public func seccompNotifSizes(_ address: GuestAddress) throws(Errno) {
        var b = [UInt8](repeating: 0, count: 6)
        b.store(UInt16(SeccompListener.notifSize), at: 0)
        b.store(UInt16(SeccompListener.responseSize), at: 2)
        b.store(UInt16(ClassicBPF.dataSize), at: 4)
        try mm.copyOut(address, b)
    }

    /// PR_GET_SECCOMP.
    public var seccompMode: Int32 { attributes.withLock { $0.seccomp.mode } }
}

extension SeccompState {
    init(mode: Int32, filter: SeccompFilter?, filterCount: Int) {
        self.mode = mode; self.filter = filter; self.filterCount = filterCount
    }
}
