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

    /// hook_file_open: the rights the open asks for (LandlockAccess.opening).
    func landlockOpen(_ loc: Location, _ flags: OpenFlags, execute: Bool, _ c: Credentials?) throws(Errno) {
        guard let domain = c?.landlock, !flags.contains(.path) else { return }
        let access = LandlockAccess.opening(flags, directory: loc.inode.kind == .directory, execute: execute)
        if let e = domain.check(loc, access) { throw e }
    }
}

extension VFS {
    /// A place on a mount no path reaches (memfd's, MNT_INTERNAL in Linux):
    /// landlock_add_rule refuses it (EBADFD).
    public func isInternal(_ loc: Location) -> Bool { loc.mount === memfdRoot.mount }
}
