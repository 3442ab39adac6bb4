/// The hooks Landlock puts in the VFS (security/landlock/fs.c): a task
/// with a domain is asked for the right an operation needs, after the
/// lookup and the read-only check and before DAC for the path hooks
/// (making and removing names), after DAC for opening a file.
extension VFS {
    /// The path hooks: `access` to `loc` (the directory a name is made in or removed from).
    func landlock(_ loc: Location, _ access: LandlockAccess, _ c: Credentials?) throws(Errno) {
        guard let domain = c?.landlock else { return }
        if let e = domain.check(loc, access) { throw e }
    }

    /// hook_file_open's get_file_access: reading a directory is READ_DIR
    /// alone; a file READ_FILE and WRITE_FILE by the open's mode (O_ACCMODE
    /// 3 asks for neither); execve's open, read-only, READ_FILE and EXECUTE.
    /// O_TRUNC asks for nothing more (TRUNCATE came with ABI 3).
    func landlockOpen(_ loc: Location, _ flags: OpenFlags, execute: Bool, _ c: Credentials?) throws(Errno) {
        guard let domain = c?.landlock, !flags.contains(.path) else { return }
        let mode = execute ? 0 : flags.rawValue & OpenFlags.accessMode
        var access: LandlockAccess = []
        if mode == 0 || mode == 2 { access = loc.inode.kind == .directory ? .readDir : .readFile }
        if access != .readDir && (mode == 1 || mode == 2) { access.insert(.writeFile) }
        if execute { access.insert(.execute) }
        if let e = domain.check(loc, access) { throw e }
    }
}

extension VFS {
    /// A place on a mount no path reaches (memfd's, MNT_INTERNAL in Linux):
    /// landlock_add_rule refuses it (EBADFD).
    public func isInternal(_ loc: Location) -> Bool { loc.mount === memfdRoot.mount }
}
