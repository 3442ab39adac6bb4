import Glibc

extension Kernel {
    /// After a call that may have cut a file short (ftruncate, truncate,
    /// open with O_TRUNC): every process's mappings of it lose the pages now
    /// wholly beyond its end, as truncate_pagecache unmaps them from every
    /// mapping of the file, so touching them is SIGBUS. The memory managers
    /// rank above the kernel lock: they are gathered under it, then visited
    /// with none held. Only a process's own threads may change its host
    /// mirror: other processes' threads are kicked out of guest code and
    /// drop the pages before they run it again (`Task.run`).
    public func fileMayHaveShrunk(_ st: Glibc.stat, by caller: Task) {
        guard st.st_mode & S_IFMT == S_IFREG else { return }
        let all = locked { tasks.values.map(\.mm) }
        var seen = Set<ObjectIdentifier>()
        var kick: [ObjectIdentifier] = []
        for mm in all where seen.insert(ObjectIdentifier(mm)).inserted {
            if mm.fileShrank(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), runner: mm === caller.mm) {
                kick.append(ObjectIdentifier(mm))
            }
        }
        guard !kick.isEmpty else { return }
        locked {
            for t in tasks.values where t.inGuest && kick.contains(ObjectIdentifier(t.mm)) { t.context.kick() }
        }
    }

    public func fileMayHaveShrunk(_ f: FileDescription, by caller: Task) {
        if let st = try? f.stat() { fileMayHaveShrunk(st, by: caller) }
    }
}
