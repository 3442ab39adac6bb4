import Sentry

/// mmap, munmap, mprotect, brk, mremap, madvise: the memory manager's calls.
enum Memory {
    static func mmap(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let length = a[1], prot = a.uint32(2), rawFlags = a.uint32(3), fd = a.int32(4), offset = a[5]
        var flags = MapFlags(rawValue: rawFlags)
        guard prot & ~0x7 == 0 || prot & ~0x300_0007 == 0 else { throw .EINVAL }
        let type = rawFlags & MapFlags.typeMask
        guard type == 1 || type == 2 || type == 3 else { throw .EINVAL }
        guard offset & (GuestAddress.pageSize - 1) == 0 else { throw .EINVAL }
        guard length > 0 else { throw .EINVAL }
        if type == 3 { flags.remove(.private); flags.insert(.shared) }
        if flags.contains(.hugeTLB) { throw .EINVAL }  // no hugetlbfs in the sentry
        var protection = Prot(rawValue: prot & 7)
        // The sandbox has no noexec mounts, so READ_IMPLIES_EXEC applies to every mapping.
        if protection.contains(.read) && PersonalityCalls.of(t).has(Personality.READ_IMPLIES_EXEC) { protection.insert(.exec) }

        if flags.contains(.anonymous) {
            return Int64(try t.mm.map(hint: a.address(0), length: length, prot: protection, flags: flags).rawValue)
        }
        let file = try t.fds.get(FileDescriptor(fd))
        // file_mmap_ok: the mapped range must end within the largest file
        // offset (MAX_LFS_FILESIZE).
        guard let len = GuestAddress(length).pageUp?.rawValue else { throw .ENOMEM }
        guard len <= UInt64(Int64.max), offset <= UInt64(Int64.max) - len else { throw .EOVERFLOW }
        guard file.flags.readable else { throw .EACCES }
        if flags.contains(.shared) && protection.contains(.write) && !file.flags.writable { throw .EACCES }
        if let dev = file as? DeviceFile, dev.kind == .zero {
            // /dev/zero maps as anonymous memory.
            flags.insert(.anonymous)
            return Int64(try t.mm.map(hint: a.address(0), length: length, prot: protection, flags: flags).rawValue)
        }
        guard let mapped = try file.mappable() else { throw .ENODEV }
        // A shared mapping may write the file only through a writable
        // descriptor, and not a memfd sealed against writes (EPERM, and no
        // mprotect to writable later).
        var maxProt: Prot = flags.contains(.shared) && !file.flags.writable ? [.read, .exec] : [.read, .write, .exec]
        if flags.contains(.shared), let seals = try? t.seals(of: file), seals & (8 | 16) != 0 {   // F_SEAL_WRITE, F_SEAL_FUTURE_WRITE
            if protection.contains(.write) { throw .EPERM }
            maxProt.remove(.write)
        }
        // Private read-only pages (a library's text, as ld.so maps it) come
        // from the image cache: one copy for every process and exec.
        return Int64(try t.mm.map(hint: a.address(0), length: length, prot: protection, flags: flags, file: mapped,
                                  fileOffset: offset, maxProt: maxProt, cacheable: true).rawValue)
    }

    static func munmap(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try t.mm.unmap(a.address(0), length: a[1])
        MemoryLocking.forget(t, a[0], a[1])
        return 0
    }

    static func mprotect(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try protect(t, a, pkey: -1)
    }

    /// do_mprotect_pkey's checks, in its order, then the change. No
    /// protection key is ever allocated (see ProtectionKeys), so any key
    /// but -1 is EINVAL once the range is known to be well formed.
    static func protect(_ t: Task, _ a: SyscallArguments, pkey: Int32) throws(Errno) -> Int64 {
        let start = a.address(0), length = a[1]
        var prot = a.uint32(2)
        let growsDown: UInt32 = 0x100_0000, growsUp: UInt32 = 0x200_0000, sem: UInt32 = 0x8
        if prot & (growsDown | growsUp) == growsDown | growsUp { throw .EINVAL }
        prot &= ~(growsDown | growsUp)
        guard start.isPageAligned else { throw .EINVAL }
        if length == 0 { return 0 }
        guard let len = GuestAddress(length).pageUp?.rawValue, !start.rawValue.addingReportingOverflow(len).overflow else { throw .ENOMEM }
        guard prot & ~(7 | sem) == 0 else { throw .EINVAL }   // arch_validate_prot
        guard pkey == -1 else { throw .EINVAL }
        var protection = Prot(rawValue: prot & 7)
        if protection.contains(.read) && PersonalityCalls.of(t).has(Personality.READ_IMPLIES_EXEC) { protection.insert(.exec) }
        try t.mm.protect(start, length: length, prot: protection)
        return 0
    }

    static func brk(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        Int64(t.mm.brk(a.address(0)).rawValue)
    }

    static func mremap(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let wasLocked = MemoryLocking.isLocked(t, a[0], a[1])
        let new = try t.mm.remap(a.address(0), oldLength: a[1], newLength: a[2], flags: a.uint32(3), newAddress: a.address(4))
        MemoryLocking.moved(t, from: a[0], a[1], to: new.rawValue, a[2], locked: wasLocked)
        return Int64(new.rawValue)
    }

    static func msync(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try t.mm.sync(a.address(0), length: a[1], flags: a.int32(2))
        return 0
    }

    static func madvise(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try t.mm.advise(a.address(0), length: a[1], advice: a.int32(2))
        return 0
    }
}
