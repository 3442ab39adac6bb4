import Glibc
import Sentry

/// read, write, readv, writev, pread64, pwrite64, lseek: data moves between
/// the file and the guest's pages when it is transferred (Task.read/write).
enum ReadWrite {
    static func read(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let file = try t.fds.get(a.fd(0))
        guard file.flags.readable else { throw .EBADF }
        return try t.countingRead { () throws(Errno) -> Int64 in
            let n = a.count(2)
            if let s = file as? SocketFile { return try Sockets.read(t, s, GuestIOV([(a.address(1), n)])) }
            if let h = file as? HostSocketFile { return Int64(try HostSockets.receive(t, h, GuestIOV([(a.address(1), n)]), controlMax: 0, flags: 0).result) }
            if n == 0 { return 0 }
            return Int64(try t.read(file, into: [GuestRange(a.address(1), n)]))
        }
    }

    static func write(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let file = try t.fds.get(a.fd(0))
        guard file.flags.writable else { throw .EBADF }
        return try t.countingWrite { () throws(Errno) -> Int64 in
            let n = a.count(2)
            if let s = file as? SocketFile { return try Sockets.write(t, s, GuestIOV([(a.address(1), n)])) }
            if let h = file as? HostSocketFile { return Int64(try HostSockets.send(t, h, GuestIOV([(a.address(1), n)]), name: nil, control: [], flags: 0)) }
            if n == 0 { return 0 }
            return try pipeChecked(t) { () throws(Errno) in try t.write(file, from: [GuestRange(a.address(1), n)]) }
        }
    }

    static func readv(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let file = try t.fds.get(a.fd(0))
        guard file.flags.readable else { throw .EBADF }
        return try t.countingRead { () throws(Errno) -> Int64 in
            if let s = file as? SocketFile { return try Sockets.read(t, s, GuestIOV.read(t, a.address(1), count: Int(a.int32(2)), tooMany: .EINVAL)) }
            if let h = file as? HostSocketFile {
                return Int64(try HostSockets.receive(t, h, GuestIOV.read(t, a.address(1), count: Int(a.int32(2)), tooMany: .EINVAL), controlMax: 0, flags: 0).result)
            }
            return Int64(try t.read(file, into: t.iovecRanges(a.address(1), count: Int(a.int32(2)))))
        }
    }

    static func writev(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let file = try t.fds.get(a.fd(0))
        guard file.flags.writable else { throw .EBADF }
        return try t.countingWrite { () throws(Errno) -> Int64 in
            if let s = file as? SocketFile { return try Sockets.write(t, s, GuestIOV.read(t, a.address(1), count: Int(a.int32(2)), tooMany: .EINVAL)) }
            if let h = file as? HostSocketFile {
                return Int64(try HostSockets.send(t, h, GuestIOV.read(t, a.address(1), count: Int(a.int32(2)), tooMany: .EINVAL), name: nil, control: [], flags: 0))
            }
            let ranges = try t.iovecRanges(a.address(1), count: Int(a.int32(2)))
            return try pipeChecked(t) { () throws(Errno) in try t.write(file, from: ranges) }
        }
    }

    static func pread64(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let file = try t.fds.get(a.fd(0))
        guard file.flags.readable else { throw .EBADF }
        return try t.countingRead { () throws(Errno) -> Int64 in
            let n = a.count(2)
            try checkRange(a.int(3), n)
            if n == 0 { return 0 }
            return Int64(try t.read(file, into: [GuestRange(a.address(1), n)], at: a.int(3)))
        }
    }

    static func pwrite64(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let file = try t.fds.get(a.fd(0))
        guard file.flags.writable else { throw .EBADF }
        return try t.countingWrite { () throws(Errno) -> Int64 in
            let n = a.count(2)
            try checkRange(a.int(3), n)
            if n == 0 { return 0 }
            return Int64(try t.write(file, from: [GuestRange(a.address(1), n)], at: a.int(3)))
        }
    }

    static func lseek(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let file = try t.fds.get(a.fd(0))
        let whence = a.int32(2)
        guard (0...4).contains(whence) else { throw .EINVAL }
        return try file.seek(a.int(1), whence: whence)
    }

    /// rw_verify_area: a negative position, or one whose sum with the count
    /// passes the largest offset, is EINVAL.
    static func checkRange(_ offset: Int64, _ count: Int) throws(Errno) {
        guard offset >= 0, !offset.addingReportingOverflow(Int64(count)).overflow else { throw .EINVAL }
    }

    /// EPIPE on a write also sends SIGPIPE to the writer, as Linux does.
    private static func pipeChecked(_ t: Task, _ body: () throws(Errno) -> Int) throws(Errno) -> Int64 {
        do { return Int64(try body()) } catch {
            if error == .EPIPE { t.post(t.senderInfo(Signal.SIGPIPE.rawValue, code: SignalInfo.SI_USER)) }
            throw error
        }
    }
}
