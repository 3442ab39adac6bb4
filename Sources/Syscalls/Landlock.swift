import Sentry

/// landlock_create_ruleset, landlock_add_rule, landlock_restrict_self
/// (security/landlock/syscalls.c, ABI 2): the calls that build a ruleset
/// and stack it on the caller's credentials. The VFS enforces the domain
/// (Kernel/Landlock/).
enum LandlockCalls {
    /// copy_min_struct_from_user: a size below the known fields is EINVAL,
    /// above a page E2BIG, bytes past what the kernel knows must be zero
    /// (E2BIG), then the struct is read (EFAULT).
    private static func copyMinStruct(_ t: Task, _ addr: GuestAddress, size: UInt64, known: Int) throws(Errno) -> [UInt8] {
        if addr.isNull { throw .EFAULT }
        if size < UInt64(known) { throw .EINVAL }
        if size > 4096 { throw .E2BIG }
        if size > UInt64(known) {
            let tail = try t.mm.copyIn(addr + UInt64(known), Int(size) - known)
            if tail.contains(where: { $0 != 0 }) { throw .E2BIG }
        }
        return try t.mm.copyIn(addr, known)
    }

    /// landlock_create_ruleset(attr, size, flags): the version (and errata)
    /// query with no attribute, else a ruleset handling the rights asked
    /// (EINVAL for one ABI 2 does not know, ENOMSG for none), on a new
    /// O_RDWR | O_CLOEXEC descriptor.
    static func createRuleset(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let flags = a.uint32(2)
        if flags != 0 {
            if !a.address(0).isNull || a[1] != 0 { throw .EINVAL }
            if flags == Landlock.createRulesetVersion { return Landlock.abiVersion }
            if flags == Landlock.createRulesetErrata { return Landlock.errata }
            throw .EINVAL
        }
        let bytes = try copyMinStruct(t, a.address(0), size: a[1], known: Landlock.rulesetAttrSize)
        let handled = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        guard handled | LandlockAccess.all.rawValue == LandlockAccess.all.rawValue else { throw .EINVAL }
        if handled == 0 { throw .ENOMSG }
        let file = LandlockRulesetFile(LandlockRuleset(handled: LandlockAccess(rawValue: handled)))
        return Int64(try t.fds.install(file, closeOnExec: true).rawValue)
    }

    /// get_ruleset_from_fd: EBADF for no descriptor (fdget: an O_PATH one
    /// is none), EBADFD for one that is not a ruleset's, EPERM without the mode asked for.
    private static func ruleset(_ t: Task, _ fd: FileDescriptor, writing: Bool) throws(Errno) -> LandlockRuleset {
        let file = try t.fds.get(fd)
        if file.flags.contains(.path) { throw .EBADF }
        guard let f = file as? LandlockRulesetFile else { throw .EBADFD }
        if writing ? !f.flags.writable : !f.flags.readable { throw .EPERM }
        return f.ruleset
    }

    /// landlock_add_rule(ruleset_fd, rule_type, rule_attr, flags): a
    /// path-beneath rule granting `allowed_access` (non-empty: ENOMSG;
    /// within what the ruleset handles: EINVAL) on the file `parent_fd`
    /// names, an O_PATH descriptor too (not a ruleset's, a pipe's or a
    /// socket's: EBADFD).
    static func addRule(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a.uint32(3) == 0 else { throw .EINVAL }
        let ruleset = try ruleset(t, a.fd(0), writing: true)
        guard a.uint32(1) == Landlock.rulePathBeneath else { throw .EINVAL }
        let bytes = try t.mm.copyIn(a.address(2), Landlock.pathBeneathAttrSize)
        let (allowed, parentFD) = bytes.withUnsafeBytes { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: Int32.self)) }
        if allowed == 0 { throw .ENOMSG }
        guard allowed | ruleset.handled.rawValue == ruleset.handled.rawValue else { throw .EINVAL }
        // get_path_from_fd: fdget_raw takes O_PATH descriptors.
        let file = try t.fds.get(FileDescriptor(parentFD))
        guard !(file is LandlockRulesetFile), let place = file.location, !t.kernel.vfs.isInternal(place) else { throw .EBADFD }
        try ruleset.add(place, LandlockAccess(rawValue: allowed))
        return 0
    }

    /// landlock_restrict_self(ruleset_fd, flags): as seccomp, only with
    /// no_new_privs or CAP_SYS_ADMIN (EPERM); the ruleset becomes a new
    /// layer of the calling thread's domain (E2BIG past 16).
    static func restrictSelf(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let (nnp, admin) = t.attributes.withLock { ($0.noNewPrivs, $0.credentials.capable(Credentials.CAP_SYS_ADMIN)) }
        guard nnp || admin else { throw .EPERM }
        guard a.uint32(1) == 0 else { throw .EINVAL }
        let ruleset = try ruleset(t, a.fd(0), writing: false)
        try Creds.change(t) { (old, new) throws(Errno) in
            new.landlock = try LandlockDomain.merge(old.landlock, ruleset)
        }
        return 0
    }
}
