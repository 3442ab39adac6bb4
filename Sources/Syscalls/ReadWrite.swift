import Glibc
import Sentry

/// read, write, readv, writev, pread64, pwrite64, lseek: data moves straight
/// between the host file and the guest's pages in the memory file.
enum ReadWrite {
    static func read(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let file = try t.fds.get(a.fd(0))
        guard file.flags.readable else { throw .EBADF }
        let n = a.count(2)
        if let s = file as? SocketFile { return try Sockets.read(t, s, GuestIOV([(a.address(1), n)])) }
        if n == 0 { return 0 }
        return Int64(try t.blockingRead(file, t.mm.buffers(a.address(1), n, write: true)))
    }

    static func write(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let file = try t.fds.get(a.fd(0))
        guard file.flags.writable else { throw .EBADF }
        let n = a.count(2)
        if let s = file as? SocketFile { return try Sockets.write(t, s, GuestIOV([(a.address(1), n)])) }
        if n == 0 { return 0 }
        return try pipeChecked(t) { () throws(Errno) in try t.blockingWrite(file, readOnly(t.mm.buffers(a.address(1), n, write: false))) }
    }

    static func readv(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let file = try t.fds.get(a.fd(0))
        guard file.flags.readable else { throw .EBADF }
        if let s = file as? SocketFile { return try Sockets.read(t, s, GuestIOV.read(t, a.address(1), count: Int(a.int32(2)), tooMany: .EINVAL)) }
        return Int64(try t.blockingRead(file, t.iovecBuffers(a.address(1), count: Int(a.int32(2)), write: true)))
    }

    static func writev(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let file = try t.fds.get(a.fd(0))
        guard file.flags.writable else { throw .EBADF }
        if let s = file as? SocketFile { return try Sockets.write(t, s, GuestIOV.read(t, a.address(1), count: Int(a.int32(2)), tooMany: .EINVAL)) }
        let bufs = try t.iovecBuffers(a.address(1), count: Int(a.int32(2)), write: false)
        return try pipeChecked(t) { () throws(Errno) in try t.blockingWrite(file, readOnly(bufs)) }
    }

    static func pread64(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let file = try t.fds.get(a.fd(0))
        guard file.flags.readable else { throw .EBADF }
        guard a.int(3) >= 0 else { throw .EINVAL }
        let n = a.count(2)
        if n == 0 { return 0 }
        return Int64(try file.pread(into: t.mm.buffers(a.address(1), n, write: true), at: a.int(3)))
    }

    static func pwrite64(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let file = try t.fds.get(a.fd(0))
        guard file.flags.writable else { throw .EBADF }
        guard a.int(3) >= 0 else { throw .EINVAL }
        let n = a.count(2)
        if n == 0 { return 0 }
        return Int64(try file.pwrite(from: readOnly(t.mm.buffers(a.address(1), n, write: false)), at: a.int(3)))
    }

    static func lseek(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let file = try t.fds.get(a.fd(0))
        let whence = a.int32(2)
        guard (0...4).contains(whence) else { throw .EINVAL }
        return try file.seek(a.int(1), whence: whence)
    }

    /// EPIPE on a write also sends SIGPIPE to the writer, as Linux does.
    private static func pipeChecked(_ t: Task, _ body: () throws(Errno) -> Int) throws(Errno) -> Int64 {
        do { return Int64(try body()) } catch {
            if error == .EPIPE { t.post(t.senderInfo(Signal.SIGPIPE.rawValue, code: SignalInfo.SI_USER)) }
            throw error
        }
    }
}
