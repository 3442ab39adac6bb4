import Sentry

/// getdents64(2), and getdents(2), the old one: struct linux_dirent { unsigned long d_ino;
/// unsigned long d_off; unsigned short d_reclen; char d_name[]; char pad;
/// char d_type; }. Its records are exactly as long as getdents64's for the
/// same name (both 8-byte aligned around a 19- or 20-byte header), so the
/// 64-bit records are rewritten in place: the name moves one byte back and
/// the type goes to the record's last byte.
enum Getdents {
    static func getdents(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let f = try t.fds.get(a.fd(0))
        let count = min(a.count(2), 1 << 20)
        var buf = [UInt8](repeating: 0, count: count)
        let n = try Errno.typed { try buf.withUnsafeMutableBytes { b in try f.getdents(into: b) } }
        t.kernel.vfs.notify.accessed(f)   // iterate_dir's fsnotify_access
        var at = 0
        while at + 19 < n {
            let reclen = Int(UInt16(buf[at + 16]) | UInt16(buf[at + 17]) << 8)
            guard reclen >= 20, at + reclen <= n else { break }
            let type = buf[at + 18]
            let nameEnd = buf[(at + 19)..<(at + reclen)].firstIndex(of: 0) ?? (at + reclen - 1)
            let name = Array(buf[(at + 19)..<nameEnd])
            for i in (at + 18)..<(at + reclen) { buf[i] = 0 }
            buf.replaceSubrange((at + 18)..<(at + 18 + name.count), with: name)
            buf[at + reclen - 1] = type
            at += reclen
        }
        if n > 0 { try t.mm.copyOut(a.address(1), Array(buf[0..<n])) }
        return Int64(n)
    }

    static func getdents64(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let f = try t.fds.get(a.fd(0))
        let count = min(a.count(2), 1 << 20)
        // The host fills a bounce buffer: a dirent must never straddle two guest VMAs.
        var buf = [UInt8](repeating: 0, count: count)
        let n = try Errno.typed { try buf.withUnsafeMutableBytes { b in try f.getdents(into: b) } }
        t.kernel.vfs.notify.accessed(f)   // iterate_dir's fsnotify_access
        if n > 0 { try t.mm.copyOut(a.address(1), Array(buf[0..<n])) }
        return Int64(n)
    }
}
