import Glibc
import Sentry

/// System V IPC: shmget/shmat/shmdt/shmctl, semget/semop/semtimedop/semctl,
/// msgget/msgsnd/msgrcv/msgctl, served by the sandbox's IPCNamespace.
enum SysVIPC {
    /// The caller as IPC permission checks see it: the task's effective ids and capabilities.
    static func credentials(_ t: Task) -> IPCCredentials { IPCCredentials(Creds.creds(t)) }

    // MARK: Shared memory

    static func shmget(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        Int64(try t.kernel.ipc.shmget(key: a.int32(0), size: a[1], flags: a.int32(2), credentials(t), pid: t.group.pid))
    }

    static func shmat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let flags = a.int32(2)
        var addr = a.address(1)
        var mapFlags: MapFlags = [.shared]
        if !addr.isNull {
            if !addr.isPageAligned {
                guard flags & IPC.SHM_RND != 0 else { throw .EINVAL }
                addr = addr.pageDown
                if addr.isNull && flags & IPC.SHM_REMAP != 0 { throw .EINVAL }
            }
            // Without SHM_REMAP the range must be free: EINVAL, as find_vma_intersection makes it.
            mapFlags.insert(flags & IPC.SHM_REMAP != 0 ? .fixed : .fixedNoReplace)
        } else if flags & IPC.SHM_REMAP != 0 {
            throw .EINVAL
        }
        let (segment, length, prot) = try t.kernel.ipc.shmatPrepare(id: a.int32(0), flags: flags, credentials(t), pid: t.group.pid)
        let maxProt: Prot = flags & IPC.SHM_RDONLY != 0 ? [.read, .exec] : [.read, .write, .exec]
        do {
            return Int64(try t.mm.map(hint: addr, length: length, prot: prot, flags: mapFlags, file: segment,
                                      maxProt: maxProt).rawValue)
        } catch {
            throw error == .EEXIST ? .EINVAL : error
        }
    }

    static func shmdt(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let ipc = t.kernel.ipc
        let segment = try t.mm.unmapAttachment(at: a.address(0)) { ipc.segmentLength($0) }
        ipc.shmDetached(segment, pid: t.group.pid)
        return 0
    }

    static func shmctl(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let cmd = a.int32(1)
        let input = cmd == IPC.IPC_SET ? try t.mm.copyIn(a.address(2), 112) : nil
        let (r, out) = try t.kernel.ipc.shmctl(id: a.int32(0), cmd: cmd, input: input, credentials(t))
        if let out { try t.mm.copyOut(a.address(2), out) }
        return r
    }

    // MARK: Semaphores

    static func semget(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        Int64(try t.kernel.ipc.semget(key: a.int32(0), count: a.int32(1), flags: a.int32(2), credentials(t)))
    }

    static func semop(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try semtimedop(t, a, timeout: nil)
    }

    static func semtimedop(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try semtimedop(t, a, timeout: a.address(3).isNull ? nil : Time.readTimespec(t, a.address(3)))
    }

    private static func semtimedop(_ t: Task, _ a: SyscallArguments, timeout: timespec?) throws(Errno) -> Int64 {
        let count = a.uint32(2)
        guard count >= 1, a.int32(0) >= 0 else { throw .EINVAL }
        guard count <= 500 else { throw .E2BIG }   // SEMOPM
        let raw = try t.mm.copyIn(a.address(1), Int(count) * 6)
        let ops = (0..<Int(count)).map { i in
            SemaphoreOp(number: raw.load(UInt16.self, at: 6 * i), op: raw.load(Int16.self, at: 6 * i + 2),
                        flags: raw.load(Int16.self, at: 6 * i + 4))
        }
        let deadline = timeout.map { Deadline.after(Time.ns($0)) }
        try t.kernel.ipc.semop(id: a.int32(0), ops, credentials(t), pid: t.group.pid) { (queue, ready) throws(Errno) -> Bool in
            try t.block(on: [queue], deadline: deadline, interruptedBy: .EINTR, ready) == .ready
        }
        return 0
    }

    static func semctl(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let id = a.int32(0), cmd = a.int32(2)
        let ipc = t.kernel.ipc
        var input: [UInt8]?
        if cmd == IPC.IPC_SET { input = try t.mm.copyIn(a.address(3), 104) }
        if cmd == IPC.SETALL { input = try t.mm.copyIn(a.address(3), 2 * (try ipc.semaphoreCount(id: id))) }
        let (r, out) = try ipc.semctl(id: id, number: a.int32(1), cmd: cmd, value: a.int32(3), input: input,
                                      credentials(t), pid: t.group.pid)
        if let out { try t.mm.copyOut(a.address(3), out) }
        return r
    }

    // MARK: Message queues

    static func msgget(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        Int64(try t.kernel.ipc.msgget(key: a.int32(0), flags: a.int32(1), credentials(t)))
    }

    static func msgsnd(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let size = a[2]
        guard size <= 8192, a.int32(0) >= 0 else { throw .EINVAL }   // MSGMAX
        let type = try t.mm.read(a.address(1), as: Int64.self)
        guard type >= 1 else { throw .EINVAL }
        let text = try t.mm.copyIn(a.address(1) + 8, Int(size))
        try t.kernel.ipc.msgsnd(id: a.int32(0), type: type, text: text, flags: a.int32(3), credentials(t), pid: t.group.pid) {
            (queue, ready) throws(Errno) in
            _ = try t.block(on: [queue], interruptedBy: .ERESTARTNOHAND, ready)
        }
        return 0
    }

    static func msgrcv(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard Int64(bitPattern: a[2]) >= 0 else { throw .EINVAL }
        let size = Int(min(a[2], 8192))   // no message is longer than MSGMAX
        let (type, text) = try t.kernel.ipc.msgrcv(id: a.int32(0), size: size, type: Int64(bitPattern: a[3]), flags: a.int32(4),
                                                   credentials(t), pid: t.group.pid) { (queue, ready) throws(Errno) in
            _ = try t.block(on: [queue], interruptedBy: .ERESTARTNOHAND, ready)
        }
        try t.mm.write(a.address(1), type)
        try t.mm.copyOut(a.address(1) + 8, text)
        return Int64(text.count)
    }

    static func msgctl(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let cmd = a.int32(1)
        let input = cmd == IPC.IPC_SET ? try t.mm.copyIn(a.address(2), 120) : nil
        let (r, out) = try t.kernel.ipc.msgctl(id: a.int32(0), cmd: cmd, input: input, credentials(t))
        if let out { try t.mm.copyOut(a.address(2), out) }
        return r
    }
}
