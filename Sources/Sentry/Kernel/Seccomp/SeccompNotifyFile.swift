import Glibc

/// The listener fd SECCOMP_FILTER_FLAG_NEW_LISTENER returns
/// (`anon_inode:seccomp notify`): its ioctls receive notifications, answer
/// them, check them and put fds into the trapped task; closing its last
/// reference answers every waiting call with ENOSYS.
/// Sendable: only `let`s; the listener guards its own state.
public final class SeccompNotifyFile: FileDescription, @unchecked Sendable {
    let listener: SeccompListener
    unowned let kernel: Kernel

    init(_ listener: SeccompListener, kernel: Kernel) {
        self.listener = listener
        self.kernel = kernel
        super.init(flags: .readWrite)
    }

    deinit { listener.detach() }

    public override var displayPath: String { "anon_inode:seccomp notify" }
    public override var waitQueue: WaitQueue? { listener.supervisorEvents }
    public override func readiness(_ mask: Int16) -> Int16 { listener.readiness(mask) }
    public override func stat() throws(Errno) -> Glibc.stat { Self.anonymousInodeStat }

    static let SECCOMP_ADDFD_FLAG_SETFD: UInt32 = 1, SECCOMP_ADDFD_FLAG_SEND: UInt32 = 2
    static let addFDSizeVer0 = 24

    public override func ioctl(_ request: UInt64, argument: GuestAddress, mm: MemoryManager) throws(Errno) -> Int64 {
        guard let task = Task.current else { throw .EINVAL }
        switch request {
        case Ioctl.SECCOMP_IOCTL_NOTIF_RECV:
            // The buffer must come zeroed, so the struct can grow.
            let buf = try mm.copyIn(argument, SeccompListener.notifSize)
            guard buf.allSatisfy({ $0 == 0 }) else { throw .EINVAL }
            let n = try listener.receive(task)
            var out = [UInt8](repeating: 0, count: SeccompListener.notifSize)
            out.store(n.id, at: 0)
            out.store(UInt32(bitPattern: n.tid), at: 8)
            let data = n.data.bytes
            out.replaceSubrange(16..<80, with: data)
            do { try mm.copyOut(argument, out) } catch {
                listener.unreceive(n.id)
                throw error
            }
            return 0
        case Ioctl.SECCOMP_IOCTL_NOTIF_SEND:
            let r = try mm.copyIn(argument, SeccompListener.responseSize)
            func load<T: BitwiseCopyable>(_ off: Int, _ t: T.Type) -> T { r.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off, as: T.self) } }
            try listener.send(id: load(0, UInt64.self), value: load(8, Int64.self), error: load(16, Int32.self), flags: load(20, UInt32.self))
            return 0
        case Ioctl.SECCOMP_IOCTL_NOTIF_ID_VALID, Ioctl.SECCOMP_IOCTL_NOTIF_ID_VALID_WRONG_DIR:
            let id = try mm.read(argument, as: UInt64.self)
            guard listener.isValid(id) else { throw .ENOENT }
            return 0
        default:
            // EA_IOCTL: _IOC_SIZE is bits 16..29 of the request, the direction 30..31.
            let sizeAndDirection = UInt64(0xffff) << 16
            guard request & ~sizeAndDirection == Ioctl.SECCOMP_IOCTL_NOTIF_ADDFD & ~sizeAndDirection else { throw .EINVAL }
            return try addFD(task, argument: argument, size: Int((request >> 16) & 0x3fff), mm: mm)
        }
    }

    /// seccomp_notify_addfd: a copy of one of the supervisor's files in the
    /// trapped task's table (at the lowest free number or, with SETFD, at
    /// `newfd`); with SEND, that number is also the trapped call's result.
    private func addFD(_ task: Task, argument: GuestAddress, size: Int, mm: MemoryManager) throws(Errno) -> Int64 {
        guard size >= Self.addFDSizeVer0, size < 4096 else { throw .EINVAL }
        let raw = try mm.copyIn(argument, size)
        // copy_struct_from_user: a larger struct must be zero past what 6.1 knows.
        guard raw[Self.addFDSizeVer0...].allSatisfy({ $0 == 0 }) else { throw .E2BIG }
        func load<T: BitwiseCopyable>(_ off: Int, _ t: T.Type) -> T { raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off, as: T.self) } }
        let id = load(0, UInt64.self), flags = load(8, UInt32.self), srcfd = load(12, UInt32.self)
        let newfd = load(16, UInt32.self), newfdFlags = load(20, UInt32.self)
        guard newfdFlags & ~UInt32(O_CLOEXEC) == 0 else { throw .EINVAL }
        guard flags & ~(Self.SECCOMP_ADDFD_FLAG_SETFD | Self.SECCOMP_ADDFD_FLAG_SEND) == 0 else { throw .EINVAL }
        if newfd != 0 && flags & Self.SECCOMP_ADDFD_FLAG_SETFD == 0 { throw .EINVAL }
        let file = try task.fds.get(FileDescriptor(Int32(bitPattern: srcfd)))
        let tid = try listener.addFDTarget(id: id)
        guard let target = kernel.task(tid) else { throw .ENOENT }
        let cloexec = newfdFlags & UInt32(O_CLOEXEC) != 0
        let fd: Int32
        if flags & Self.SECCOMP_ADDFD_FLAG_SETFD != 0 {
            guard newfd <= UInt32(Int32.max) else { throw .EBADF }
            // replace_fd: what the target had there is closed as its own dup2 would.
            if let replaced = try target.fds.install(file, at: FileDescriptor(Int32(newfd)), closeOnExec: cloexec) {
                target.descriptorClosed(replaced)
            }
            fd = Int32(newfd)
        } else {
            fd = try target.fds.install(file, closeOnExec: cloexec).rawValue
        }
        if flags & Self.SECCOMP_ADDFD_FLAG_SEND != 0 { listener.completeWithFD(id: id, fd: fd) }
        return Int64(fd)
    }
}
