import Glibc

/// The sandbox's System V IPC namespace: shared memory segments, semaphore
/// sets and message queues, each kind with its own ids and keys, as Linux's
/// ipc/util.c keeps them (an id is `seq * 32768 + index`, the index the
/// lowest free one, `seq` bumped at every creation so a stale id misses).
///
/// One lock (`lock`) guards every object of the namespace and the SEM_UNDO
/// lists; it is taken under no other lock, and only the memory file's
/// allocator is taken under it. Blocked semop/msgsnd/msgrcv callers wait on
/// their object's queue outside it.
/// Sendable: the registries and undo lists behind `lock`.
public final class IPCNamespace: @unchecked Sendable {
    let memory: MemoryFile
    let lock = KernelLock()
    // Guarded by `lock`.
    var shm = IPCRegistry<ShmSegment>(max: IPC.SHMMNI)
    var sem = IPCRegistry<SemaphoreSet>(max: IPC.SEMMNI)
    var msg = IPCRegistry<MessageQueue>(max: IPC.MSGMNI)
    /// SEM_UNDO adjustments by process (thread group) id, then set id.
    var undo: [Int32: [Int32: [Int32]]] = [:]

    public init(memory: MemoryFile) { self.memory = memory }

    func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lock.lock(); defer { lock.unlock() }
        return try body()
    }
}

/// System V IPC constants (include/uapi/linux/{ipc,shm,sem,msg}.h).
public enum IPC {
    public static let IPC_PRIVATE: Int32 = 0
    public static let IPC_CREAT: Int32 = 0o1000, IPC_EXCL: Int32 = 0o2000, IPC_NOWAIT: Int32 = 0o4000
    public static let IPC_RMID: Int32 = 0, IPC_SET: Int32 = 1, IPC_STAT: Int32 = 2, IPC_INFO: Int32 = 3
    public static let SHM_LOCK: Int32 = 11, SHM_UNLOCK: Int32 = 12, SHM_STAT: Int32 = 13, SHM_INFO: Int32 = 14, SHM_STAT_ANY: Int32 = 15
    public static let SHM_RDONLY: Int32 = 0o10000, SHM_RND: Int32 = 0o20000, SHM_REMAP: Int32 = 0o40000, SHM_EXEC: Int32 = 0o100000
    public static let SHM_DEST: UInt32 = 0o1000, SHM_LOCKED: UInt32 = 0o2000
    public static let SHM_HUGETLB: Int32 = 0o4000
    public static let GETPID: Int32 = 11, GETVAL: Int32 = 12, GETALL: Int32 = 13, GETNCNT: Int32 = 14, GETZCNT: Int32 = 15
    public static let SETVAL: Int32 = 16, SETALL: Int32 = 17, SEM_STAT: Int32 = 18, SEM_INFO: Int32 = 19, SEM_STAT_ANY: Int32 = 20
    public static let SEM_UNDO: Int16 = 0x1000
    public static let MSG_STAT: Int32 = 11, MSG_INFO: Int32 = 12, MSG_STAT_ANY: Int32 = 13
    public static let MSG_NOERROR: Int32 = 0o10000, MSG_EXCEPT: Int32 = 0o20000, MSG_COPY: Int32 = 0o40000

    static let SHMMNI = 4096, SEMMNI = 32000, MSGMNI = 32000
    static let SHMMIN: UInt64 = 1, SHMMAX: UInt64 = UInt64.max - (1 << 24), SHMALL: UInt64 = UInt64.max - (1 << 24)
    static let SEMMSL = 32000, SEMOPM = 500, SEMVMX: Int32 = 32767, SEMAEM: Int32 = 32767
    static let MSGMAX = 8192, MSGMNB = 16384
    /// IPCMNI: ids are `seq * this + index`.
    static let seqMultiplier: Int32 = 32768
}

/// Who asks: the effective ids, groups and the capabilities IPC checks.
public struct IPCCredentials: Sendable {
    public var uid: UInt32
    public var gid: UInt32
    public var groups: [UInt32] = []
    /// CAP_IPC_OWNER: past ipcperms. CAP_SYS_ADMIN: IPC_SET/IPC_RMID of
    /// others' objects. CAP_SYS_RESOURCE: msg_qbytes past MSGMNB. CAP_IPC_LOCK: SHM_LOCK.
    public var ipcOwner = false, sysAdmin = false, sysResource = false, ipcLock = false

    public init(uid: UInt32, gid: UInt32, groups: [UInt32] = []) {
        self.uid = uid; self.gid = gid; self.groups = groups
        if uid == 0 { ipcOwner = true; sysAdmin = true; sysResource = true; ipcLock = true }
    }

    public init(_ c: Credentials) {
        self.init(uid: c.euid, gid: c.egid, groups: c.groups)
        ipcOwner = c.capable(Credentials.CAP_IPC_OWNER); sysAdmin = c.capable(Credentials.CAP_SYS_ADMIN)
        sysResource = c.capable(Credentials.CAP_SYS_RESOURCE); ipcLock = c.capable(Credentials.CAP_IPC_LOCK)
    }
}

/// struct ipc64_perm's contents, and Linux's checks on it.
struct IPCPerm {
    var key: Int32
    var uid: UInt32, gid: UInt32, cuid: UInt32, cgid: UInt32
    var mode: UInt32
    var seq: UInt16

    init(key: Int32, creator c: IPCCredentials, mode: UInt32, seq: UInt16) {
        self.key = key; uid = c.uid; gid = c.gid; cuid = c.uid; cgid = c.gid
        self.mode = mode; self.seq = seq
    }

    /// ipcperms(): `flag`'s permission bits (e.g. 0o400 read, 0o200 write)
    /// against the owner, group or other class the caller falls in.
    func allows(_ flag: Int32, _ c: IPCCredentials) -> Bool {
        let requested = UInt32(bitPattern: (flag >> 6) | (flag >> 3) | flag) & 0o7
        var granted = mode
        if c.uid == cuid || c.uid == uid { granted >>= 6 }
        else if c.gid == cgid || c.gid == gid || c.groups.contains(cgid) || c.groups.contains(gid) { granted >>= 3 }
        return requested & ~granted & 0o7 == 0 || c.ipcOwner
    }

    /// IPC_SET and IPC_RMID: the owner, the creator or a privileged caller.
    func ownedBy(_ c: IPCCredentials) -> Bool { c.uid == cuid || c.uid == uid || c.sysAdmin }

    /// IPC_SET's change: owner and the nine permission bits.
    mutating func set(uid: UInt32, gid: UInt32, mode newMode: UInt32) {
        self.uid = uid; self.gid = gid
        mode = (mode & ~0o777) | (newMode & 0o777)
    }

    /// struct ipc64_perm (48 bytes).
    func encode(into b: inout [UInt8], at o: Int) {
        b.store(UInt32(bitPattern: key), at: o); b.store(uid, at: o + 4); b.store(gid, at: o + 8)
        b.store(cuid, at: o + 12); b.store(cgid, at: o + 16); b.store(mode, at: o + 20); b.store(seq, at: o + 24)
    }
}

/// What every IPC object has.
/// Sendable: guarded by IPCNamespace.lock.
class IPCObject: @unchecked Sendable {   // guarded by IPCNamespace.lock
    var id: Int32 = -1
    var perm: IPCPerm
    var changeTime: Int = IPCObject.now()
    /// IPC_RMID'd: no longer found by id (a segment still attached stays until detached).
    var removed = false
    /// Woken on every change a blocked caller may be waiting for.
    let waiters = WaitQueue()

    init(perm: IPCPerm) { self.perm = perm }

    /// IPC_SET: the owner, the creator or a privileged caller gives the
    /// object the owner and mode of the guest's *id64_ds (`input`, at least
    /// `length` bytes); `more` checks and applies what else that kind takes.
    func set(from input: [UInt8]?, length: Int = 48, _ c: IPCCredentials,
             more: (_ input: [UInt8]) throws(Errno) -> Void = { _ throws(Errno) in }) throws(Errno) {
        guard let input, input.count >= length else { throw .EFAULT }
        guard perm.ownedBy(c) else { throw .EPERM }
        try more(input)
        perm.set(uid: input.load(UInt32.self, at: 4), gid: input.load(UInt32.self, at: 8), mode: input.load(UInt32.self, at: 20))
        changeTime = IPCObject.now()
    }

    static func now() -> Int { Int(time(nil)) }
}

/// The objects of one kind: by index (the low part of the id) and by key.
struct IPCRegistry<Object: IPCObject> {
    private(set) var byIndex: [Int32: Object] = [:]
    private(set) var nextSeq: Int32 = 0
    let max: Int

    init(max: Int) { self.max = max }

    var highestIndex: Int32 { byIndex.keys.max() ?? 0 }
    var count: Int { byIndex.count }

    /// ipcget(): IPC_PRIVATE always makes a new object; a key finds one, or
    /// makes one with IPC_CREAT (EEXIST with IPC_EXCL). `check` validates a
    /// found object (size, count) before the permission check.
    mutating func get(key: Int32, flags: Int32, _ c: IPCCredentials, check: (Object) throws(Errno) -> Void,
                      make: (IPCPerm) throws(Errno) -> Object) throws(Errno) -> Int32 {
        if key != IPC.IPC_PRIVATE, let found = byIndex.values.first(where: { $0.perm.key == key && !$0.removed }) {
            if flags & IPC.IPC_CREAT != 0 && flags & IPC.IPC_EXCL != 0 { throw .EEXIST }
            try check(found)
            guard found.perm.allows(flags, c) else { throw .EACCES }
            return found.id
        }
        if key != IPC.IPC_PRIVATE && flags & IPC.IPC_CREAT == 0 { throw .ENOENT }
        guard byIndex.count < max else { throw .ENOSPC }
        var index: Int32 = 0
        while byIndex[index] != nil { index += 1 }
        let seq = nextSeq
        nextSeq = nextSeq >= Int32.max / IPC.seqMultiplier - 1 ? 0 : nextSeq + 1
        let object = try make(IPCPerm(key: key, creator: c, mode: UInt32(bitPattern: flags) & 0o777, seq: UInt16(truncatingIfNeeded: seq)))
        object.id = seq * IPC.seqMultiplier + index
        byIndex[index] = object
        return object.id
    }

    /// The object an id names: EINVAL for a negative, stale or unknown id.
    func lookup(_ id: Int32) throws(Errno) -> Object {
        guard id >= 0, let o = byIndex[id % IPC.seqMultiplier], o.id == id, !o.removed else { throw .EINVAL }
        return o
    }

    /// SHM_STAT, SEM_STAT, MSG_STAT: by index, not by id.
    func at(index: Int32) throws(Errno) -> Object {
        guard index >= 0, let o = byIndex[index], !o.removed else { throw .EINVAL }
        return o
    }

    /// Restore: an object with the id it had (nil: a removed one, kept by
    /// its attachments alone), and the next sequence number.
    mutating func restore(_ o: Object, id: Int32?) throws(Errno) {
        guard let id else { o.removed = true; return }
        guard id >= 0, byIndex[id % IPC.seqMultiplier] == nil, byIndex.count < max else { throw .EINVAL }
        o.id = id
        byIndex[id % IPC.seqMultiplier] = o
    }
    mutating func restoreNextSeq(_ seq: Int32) throws(Errno) {
        guard seq >= 0, seq < Int32.max / IPC.seqMultiplier else { throw .EINVAL }
        nextSeq = seq
    }

    mutating func remove(_ o: Object) {
        o.removed = true
        byIndex[o.id % IPC.seqMultiplier] = nil
    }
}
