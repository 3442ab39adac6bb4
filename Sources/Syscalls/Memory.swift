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
        let protection = Prot(rawValue: prot & 7)

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
        let prot = a.uint32(2)
        guard prot & ~0x300_0007 == 0 else { throw .EINVAL }
        try t.mm.protect(a.address(0), length: a[1], prot: Prot(rawValue: prot & 7))
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
