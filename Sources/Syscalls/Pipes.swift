import Glibc
import Sentry

/// pipe, pipe2, eventfd, eventfd2.
enum Pipes {
    static func pipe(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try makePipe(t, a.address(0), flags: 0)
    }

    static func pipe2(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try makePipe(t, a.address(0), flags: a.int32(1))
    }

    private static func makePipe(_ t: Task, _ out: GuestAddress, flags: Int32) throws(Errno) -> Int64 {
        let allowed = OpenFlags.closeOnExec.rawValue | OpenFlags.nonBlock.rawValue | OpenFlags.direct.rawValue
        guard flags & ~allowed == 0 else { throw .EINVAL }
        let f = OpenFlags(rawValue: flags)
        let (r, w) = Pipe.make(flags: f)
        let cloexec = f.contains(.closeOnExec)
        let rfd = try t.fds.install(r, closeOnExec: cloexec)
        let wfd: FileDescriptor
        do { wfd = try t.fds.install(w, closeOnExec: cloexec) } catch { _ = try? t.fds.remove(rfd); throw error }
        do { try t.mm.write(out, (rfd.rawValue, wfd.rawValue)) } catch {
            _ = try? t.fds.remove(rfd); _ = try? t.fds.remove(wfd)
            throw error
        }
        return 0
    }

    static func eventfd(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try makeEventFD(t, initial: a.uint32(0), flags: 0)
    }

    static func eventfd2(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try makeEventFD(t, initial: a.uint32(0), flags: a.int32(1))
    }

    private static func makeEventFD(_ t: Task, initial: UInt32, flags: Int32) throws(Errno) -> Int64 {
        let semaphore: Int32 = 1   // EFD_SEMAPHORE
        let allowed = OpenFlags.closeOnExec.rawValue | OpenFlags.nonBlock.rawValue | semaphore
        guard flags & ~allowed == 0 else { throw .EINVAL }
        let file = EventFD(initial: UInt64(initial), semaphore: flags & semaphore != 0,
                           flags: OpenFlags(rawValue: flags & OpenFlags.nonBlock.rawValue))
        return Int64(try t.fds.install(file, closeOnExec: flags & OpenFlags.closeOnExec.rawValue != 0).rawValue)
    }
}
