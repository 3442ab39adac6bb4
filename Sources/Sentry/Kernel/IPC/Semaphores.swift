import Glibc

/// A System V semaphore set (ipc/sem.c): values, the pid of each one's last
/// operation, and how many callers wait for an increase or for zero.
final class SemaphoreSet: IPCObject, @unchecked Sendable {   // guarded by IPCNamespace.lock
    var values: [Int32]
    var lastPIDs: [Int32]
    var waitingForIncrease: [Int32]
    var waitingForZero: [Int32]
    var operationTime = 0

    init(perm: IPCPerm, count: Int) {
        values = Array(repeating: 0, count: count)
        lastPIDs = values; waitingForIncrease = values; waitingForZero = values
        super.init(perm: perm)
    }
}

/// One struct sembuf.
public struct SemaphoreOp: Sendable {
    public var number: UInt16
    public var op: Int16
    public var flags: Int16
    public init(number: UInt16, op: Int16, flags: Int16) { self.number = number; self.op = op; self.flags = flags }
}

extension IPCNamespace {
    /// semget(2).
    public func semget(key: Int32, count: Int32, flags: Int32, _ c: IPCCredentials) throws(Errno) -> Int32 {
        guard count >= 0, count <= Int32(IPC.SEMMSL) else { throw .EINVAL }
        return try locked { () throws(Errno) -> Int32 in
            try sem.get(key: key, flags: flags, c, check: { (s) throws(Errno) in
                if Int(count) > s.values.count { throw .EINVAL }
            }, make: { (perm) throws(Errno) -> SemaphoreSet in
                guard count > 0 else { throw .EINVAL }
                return SemaphoreSet(perm: perm, count: Int(count))
            })
        }
    }

    /// One attempt at semop's operations, all or none (perform_atomic_semop):
    /// nil if the caller must wait (after counting it as a waiter), else the
    /// outcome. Under the lock.
    private func trySemop(_ s: SemaphoreSet, _ ops: [SemaphoreOp], pid: Int32) throws(Errno) -> Bool {
        var values = s.values
        for op in ops {
            let i = Int(op.number)
            let v = values[i] + Int32(op.op)
            if op.op == 0 && values[i] != 0 || v < 0 {
                if op.flags & Int16(IPC.IPC_NOWAIT) != 0 { throw .EAGAIN }
                return false
            }
            if v > IPC.SEMVMX { throw .ERANGE }
            if op.flags & IPC.SEM_UNDO != 0 {
                let adj = (undo[pid]?[s.id]?[i] ?? 0) - Int32(op.op)
                if adj < -IPC.SEMAEM - 1 || adj > IPC.SEMAEM { throw .ERANGE }
            }
            values[i] = v
        }
        s.values = values
        for op in ops {
            let i = Int(op.number)
            s.lastPIDs[i] = pid
            if op.flags & IPC.SEM_UNDO != 0 && op.op != 0 {
                var list = undo[pid]?[s.id] ?? Array(repeating: 0, count: s.values.count)
                list[i] -= Int32(op.op)
                undo[pid, default: [:]][s.id] = list
            }
        }
        s.operationTime = IPCObject.now()
        return true
    }

    /// semop(2) and semtimedop(2). `block` sleeps on the set's queue until
    /// `ready` says the operations went through (EINTR on a signal, EAGAIN
    /// when the deadline passes: semtimedop's errors).
    public func semop(id: Int32, _ ops: [SemaphoreOp], _ c: IPCCredentials, pid: Int32,
                      block: (WaitQueue, () throws(Errno) -> Bool) throws(Errno) -> Bool) throws(Errno) {
        guard !ops.isEmpty, id >= 0 else { throw .EINVAL }
        guard ops.count <= IPC.SEMOPM else { throw .E2BIG }
        let alter = ops.contains { $0.op != 0 }
        let s = try locked { () throws(Errno) -> SemaphoreSet in
            let s = try sem.lookup(id)
            guard Int(ops.map(\.number).max()!) < s.values.count else { throw .EFBIG }
            guard s.perm.allows(alter ? 0o222 : 0o444, c) else { throw .EACCES }
            return s
        }
        var counted = false
        defer {
            if counted { locked { count(s, ops, -1) } }
        }
        let done = try block(s.waiters) { () throws(Errno) -> Bool in
            try locked { () throws(Errno) -> Bool in
                if s.removed { throw .EIDRM }
                if try trySemop(s, ops, pid: pid) { s.waiters.notify(); return true }
                if !counted { count(s, ops, 1); counted = true }
                return false
            }
        }
        if !done { throw .EAGAIN }
    }

    /// semncnt/semzcnt: the ops a blocked caller waits on.
    private func count(_ s: SemaphoreSet, _ ops: [SemaphoreOp], _ delta: Int32) {
        guard !s.removed else { return }
        for op in ops where op.op <= 0 {
            if op.op == 0 { s.waitingForZero[Int(op.number)] += delta } else { s.waitingForIncrease[Int(op.number)] += delta }
        }
    }

    /// How many semaphores set `id` has (what SETALL reads).
    public func semaphoreCount(id: Int32) throws(Errno) -> Int {
        try locked { () throws(Errno) -> Int in try sem.lookup(id).values.count }
    }

    /// semctl(2). `arg` is the union's value: an int for SETVAL, else a buffer
    /// already read (IPC_SET: a semid64_ds; SETALL: the values).
    public func semctl(id: Int32, number: Int32, cmd: Int32, value: Int32, input: [UInt8]?, _ c: IPCCredentials,
                       pid: Int32) throws(Errno) -> (Int64, [UInt8]?) {
        try locked { () throws(Errno) -> (Int64, [UInt8]?) in
            switch cmd {
            case IPC.IPC_INFO, IPC.SEM_INFO:
                // struct seminfo: semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz, semvmx, semaem.
                var b = [UInt8](repeating: 0, count: 40)
                let inUse = sem.byIndex.values.reduce(0) { $0 + $1.values.count }
                // SEM_INFO's usage as semctl_info: semusz the sets in use, semaem the semaphores in them.
                let fields: [Int32] = cmd == IPC.SEM_INFO
                    ? [Int32(IPC.SEMMNI * IPC.SEMMSL), Int32(IPC.SEMMNI), Int32(IPC.SEMMNI * IPC.SEMMSL), Int32(IPC.SEMMNI * IPC.SEMMSL),
                       Int32(IPC.SEMMSL), Int32(IPC.SEMOPM), Int32(IPC.SEMOPM), Int32(sem.count), IPC.SEMVMX, Int32(inUse)]
                    : [Int32(IPC.SEMMNI * IPC.SEMMSL), Int32(IPC.SEMMNI), Int32(IPC.SEMMNI * IPC.SEMMSL), Int32(IPC.SEMMNI * IPC.SEMMSL),
                       Int32(IPC.SEMMSL), Int32(IPC.SEMOPM), Int32(IPC.SEMOPM), 20, IPC.SEMVMX, IPC.SEMAEM]
                for (i, f) in fields.enumerated() { b.store(f, at: i * 4) }
                return (Int64(sem.highestIndex), b)
            case IPC.IPC_STAT, IPC.SEM_STAT, IPC.SEM_STAT_ANY:
                let s = cmd == IPC.IPC_STAT ? try sem.lookup(id) : try sem.at(index: id)
                if cmd != IPC.SEM_STAT_ANY { guard s.perm.allows(0o444, c) else { throw .EACCES } }
                // struct semid64_ds (104 bytes).
                var b = [UInt8](repeating: 0, count: 104)
                s.perm.encode(into: &b, at: 0)
                b.store(Int64(s.operationTime), at: 48); b.store(Int64(s.changeTime), at: 64); b.store(UInt64(s.values.count), at: 80)
                return (cmd == IPC.IPC_STAT ? 0 : Int64(s.id), b)
            case IPC.IPC_SET:
                try sem.lookup(id).set(from: input, c)
                return (0, nil)
            case IPC.IPC_RMID:
                let s = try sem.lookup(id)
                guard s.perm.ownedBy(c) else { throw .EPERM }
                sem.remove(s)
                for p in undo.keys { undo[p]?[s.id] = nil }
                s.waiters.notify()   // blocked callers see EIDRM
                return (0, nil)
            default:
                break
            }
            let s = try sem.lookup(id)
            let write = cmd == IPC.SETVAL || cmd == IPC.SETALL
            guard s.perm.allows(write ? 0o222 : 0o444, c) else { throw .EACCES }
            switch cmd {
            case IPC.GETALL:
                var b = [UInt8](repeating: 0, count: 2 * s.values.count)
                for (i, v) in s.values.enumerated() { b.store(UInt16(v), at: 2 * i) }
                return (0, b)
            case IPC.SETALL:
                guard let input, input.count >= 2 * s.values.count else { throw .EFAULT }
                let vals = (0..<s.values.count).map { Int32(input.load(UInt16.self, at: 2 * $0)) }
                guard vals.allSatisfy({ $0 <= IPC.SEMVMX }) else { throw .ERANGE }
                s.values = vals
                for i in s.lastPIDs.indices { s.lastPIDs[i] = pid }
                for p in undo.keys { undo[p]?[s.id] = nil }
                s.changeTime = IPCObject.now()
                s.waiters.notify()
                return (0, nil)
            default:
                break
            }
            guard number >= 0, Int(number) < s.values.count else { throw .EINVAL }
            let i = Int(number)
            switch cmd {
            case IPC.GETVAL: return (Int64(s.values[i]), nil)
            case IPC.GETPID: return (Int64(s.lastPIDs[i]), nil)
            case IPC.GETNCNT: return (Int64(s.waitingForIncrease[i]), nil)
            case IPC.GETZCNT: return (Int64(s.waitingForZero[i]), nil)
            case IPC.SETVAL:
                guard value >= 0, value <= IPC.SEMVMX else { throw .ERANGE }
                s.values[i] = value
                s.lastPIDs[i] = pid
                for p in undo.keys { undo[p]?[s.id]?[i] = 0 }
                s.changeTime = IPCObject.now()
                s.waiters.notify()
                return (0, nil)
            default:
                throw .EINVAL
            }
        }
    }

    /// exit_sem: a process's SEM_UNDO adjustments are applied as it exits,
    /// each value clamped to 0...SEMVMX as Linux clamps it.
    public func processExited(pid: Int32) {
        locked {
            guard let lists = undo.removeValue(forKey: pid) else { return }
            for (id, adj) in lists {
                guard let s = try? sem.lookup(id) else { continue }
                for (i, a) in adj.enumerated() where a != 0 && i < s.values.count {
                    s.values[i] = min(max(s.values[i] + a, 0), IPC.SEMVMX)
                    s.lastPIDs[i] = pid
                }
                s.operationTime = IPCObject.now()
                s.waiters.notify()
            }
        }
    }
}
