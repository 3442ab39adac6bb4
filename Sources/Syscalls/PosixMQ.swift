import Glibc
import Sentry

/// POSIX message queues: mq_open, mq_unlink, mq_timedsend, mq_timedreceive,
/// mq_notify, mq_getsetattr (ipc/mqueue.c of Linux 6.1; the queues live in
/// Kernel/IPC/PosixMessageQueue.swift).
enum PosixMQ {
    /// getname(): EFAULT, ENAMETOOLONG at PATH_MAX, ENOENT for "".
    private static func name(_ t: Task, _ addr: GuestAddress) throws(Errno) -> String {
        let raw = try t.mm.readCString(addr, max: Int(PATH_MAX))
        guard !raw.isEmpty else { throw .ENOENT }
        return String(rawBytes: raw)
    }

    /// An absolute timeout on CLOCK_REALTIME (prepare_timeout).
    private static func deadline(_ t: Task, _ addr: GuestAddress) throws(Errno) -> Deadline? {
        guard !addr.isNull else { return nil }
        return Deadline(nanoseconds: Time.ns(try Time.readTimespec(t, addr)), clock: CLOCK_REALTIME)
    }

    static func mqOpen(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        // struct mq_attr { long mq_flags, mq_maxmsg, mq_msgsize, mq_curmsgs, __reserved[4]; }
        var attributes: (Int, Int)?
        if !a.address(3).isNull {
            let attr = try t.mm.read(a.address(3), as: (Int64, Int64, Int64, Int64).self)
            attributes = (Int(attr.1), Int(attr.2))
        }
        let n = try name(t, a.address(0))
        let flags = a.int32(1)
        return Int64(try t.mqOpen(name: n, flags: flags, mode: a.uint32(2),
                                  attributes: flags & O_CREAT != 0 ? attributes : nil).rawValue)
    }

    static func mqUnlink(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try t.kernel.vfs.mqueues.unlink(name: try name(t, a.address(0)), t.mqCredentials)
        return 0
    }

    static func mqTimedsend(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let limit = try deadline(t, a.address(4))
        let priority = a.uint32(3)
        guard priority < PosixMQNamespace.prioMax else { throw .EINVAL }
        let length = a[2] > UInt64(Int.max) ? Int.max : Int(a[2])
        try t.mqSend(a.fd(0), message: a.address(1), length: length, priority: priority, deadline: limit)
        return 0
    }

    static func mqTimedreceive(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let limit = try deadline(t, a.address(4))
        let capacity = a[2] > UInt64(Int.max) ? Int.max : Int(a[2])
        let (data, priority) = try t.mqReceive(a.fd(0), capacity: capacity, deadline: limit)
        // The message is already off the queue: a fault here loses it, as on Linux.
        try t.mm.copyOut(a.address(1), data)
        if !a.address(3).isNull { try t.mm.write(a.address(3), priority) }
        return Int64(data.count)
    }

    static func mqNotify(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var request: Task.MQNotifyRequest?
        if !a.address(1).isNull {
            // struct sigevent { sigval_t sigev_value; int sigev_signo; int sigev_notify; ... }
            let ev = try t.mm.read(a.address(1), as: (UInt64, Int32, Int32).self)
            switch ev.2 {
            case 1:   // SIGEV_NONE
                request = Task.MQNotifyRequest.none
            case 0:   // SIGEV_SIGNAL: valid_signal takes 0 too
                guard UInt32(bitPattern: ev.1) <= 64 else { throw .EINVAL }
                request = .signal(ev.1, ev.0)
            case 2:   // SIGEV_THREAD: the cookie, then the netlink socket in sigev_signo
                let cookie = try t.mm.copyIn(GuestAddress(ev.0), Sentry.PosixMQ.cookieLength)
                request = .thread(socketFD: FileDescriptor(ev.1), cookie: cookie)
            default:
                throw .EINVAL
            }
        }
        try t.mqNotify(a.fd(0), request)
        return 0
    }

    static func mqGetsetattr(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var newFlags: Int64?
        if !a.address(1).isNull { newFlags = try t.mm.read(a.address(1), as: (Int64, Int64, Int64, Int64).self).0 }
        let old = try t.mqGetSetAttributes(a.fd(0), newFlags: newFlags)
        if !a.address(2).isNull {
            let out: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64) =
                (old.flags, Int64(old.max), Int64(old.size), Int64(old.current), 0, 0, 0, 0)
            try t.mm.write(a.address(2), out)
        }
        return 0
    }
}
