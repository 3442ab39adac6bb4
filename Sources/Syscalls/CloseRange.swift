import Sentry

/// close_range(first, last, flags) (fs/file.c): closes, or marks
/// close-on-exec, every open descriptor in [first, last].
enum CloseRange {
    static let CLOSE_RANGE_UNSHARE: UInt32 = 2, CLOSE_RANGE_CLOEXEC: UInt32 = 4

    static func closeRange(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let first = a.uint32(0), last = a.uint32(1), flags = a.uint32(2)
        guard flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) == 0, first <= last else { throw .EINVAL }
        if flags & CLOSE_RANGE_UNSHARE != 0 { t.unshareFileTable() }
        for fd in t.fds.descriptors where UInt32(bitPattern: fd.rawValue) >= first && UInt32(bitPattern: fd.rawValue) <= last {
            if flags & CLOSE_RANGE_CLOEXEC != 0 {
                try? t.fds.setCloseOnExec(fd, true)
            } else {
                _ = try? Descriptors.close(t, SyscallArguments(UInt64(UInt32(bitPattern: fd.rawValue))))
            }
        }
        return 0
    }
}
