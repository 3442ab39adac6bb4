import Glibc
import Synchronization

/// An epoll instance: an interest list of (fd, file) with events and data,
/// level- or edge-triggered, one-shot or not.
/// Sendable: the interest list behind `interests`.
public final class EpollFile: FileDescription, @unchecked Sendable {
    struct Interest {
        let fd: Int32
        weak var file: FileDescription?
        var events: UInt32
        var data: UInt64
        /// Edge-triggered: the file's queue generation when last reported.
        var reportedGeneration: UInt64?
        var disabled = false    // EPOLLONESHOT fired
    }
    private let interests = Mutex<[Interest]>([])
    private let queue = WaitQueue()

    public static let EPOLLET: UInt32 = 1 << 31, EPOLLONESHOT: UInt32 = 1 << 30, EPOLLEXCLUSIVE: UInt32 = 1 << 28
    public static let EPOLLWAKEUP: UInt32 = 1 << 29
    /// What an EPOLLEXCLUSIVE registration may ask for (EPOLLEXCLUSIVE_OK_BITS).
    static let exclusiveOK: UInt32 = UInt32(POLLIN | POLLOUT | POLLERR | POLLHUP) | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE
    /// EP_MAX_NESTS: how deep epolls may watch epolls.
    static let maxNests = 4
    /// ep_ctl's epnested_mutex: adding an epoll to an epoll checks for loops
    /// with no other such addition under way.
    private static let nesting = Mutex(())

    public override init(flags: OpenFlags) { super.init(flags: OpenFlags.readWrite.union(flags)) }

    public override var displayPath: String { "anon_inode:[eventpoll]" }
    public override var waitQueue: WaitQueue? { queue }

    /// epoll_ctl: op 1 ADD, 2 DEL, 3 MOD.
    public func control(op: Int32, fd: Int32, file: FileDescription, events: UInt32, data: UInt64) throws(Errno) {
        // ep_ctl's order: a file with no poll method (regular files and
        // directories, whichever filesystem holds them) is EPERM, the epoll
        // itself EINVAL, then EPOLLEXCLUSIVE's rules, then loops.
        if file is HostFile && file.hostPollFD == nil { throw .EPERM }
        if file.waitQueue == nil && file.hostPollFD == nil, let k = file.location?.inode.kind, k == .regular || k == .directory { throw .EPERM }
        if file === self { throw .EINVAL }
        if (op == 1 || op == 3) && events & Self.EPOLLEXCLUSIVE != 0 {
            if op == 3 || file is EpollFile || events & ~Self.exclusiveOK != 0 { throw .EINVAL }
        }
        if let inner = file as? EpollFile, op == 1 || op == 2 {
            try Self.nesting.withLock { (_: inout ()) throws(Errno) in
                if op == 1 {
                    // ep_loop_check: the epoll added may not lead back here, and the
                    // levels below it plus those above this one stay within EP_MAX_NESTS.
                    let below = inner.depth(inserting: self, level: 0)
                    if below > Self.maxNests || below + 1 + upwardsDepth() > Self.maxNests { throw .ELOOP }
                }
                try add(op: op, fd: fd, file: file, events: events, data: data)
                inner.parents.withLock { list in
                    list.removeAll { $0.epoll == nil || $0.epoll === self }
                    if op == 1 { list.append(WeakEpoll(epoll: self)) }
                }
            }
        } else {
            try add(op: op, fd: fd, file: file, events: events, data: data)
        }
        queue.notify()
    }

    struct WeakEpoll { weak var epoll: EpollFile? }
    /// The epolls that watch this one (Linux's ep->refs), for the upward depth.
    private let parents = Mutex<[WeakEpoll]>([])

    /// ep_loop_check_proc: how many levels of epolls lie below this one, or
    /// more than EP_MAX_NESTS if one of them is `target` or they go too deep.
    private func depth(inserting target: EpollFile, level: Int) -> Int {
        let nested = interests.withLock { $0.compactMap { $0.file as? EpollFile } }
        var result = 0
        for child in nested {
            if child === target || level > Self.maxNests { return Self.maxNests + 1 }
            result = max(result, child.depth(inserting: target, level: level + 1) + 1)
            if result > Self.maxNests { break }
        }
        return result
    }

    /// ep_get_upwards_depth_proc: how many levels of epolls watch this one.
    private func upwardsDepth() -> Int {
        let up = parents.withLock { $0.compactMap(\.epoll) }
        return up.map { $0.upwardsDepth() + 1 }.max() ?? 0
    }

    private func add(op: Int32, fd: Int32, file: FileDescription, events: UInt32, data: UInt64) throws(Errno) {
        try interests.withLock { (list: inout [Interest]) throws(Errno) in
            list.removeAll { $0.file == nil }
            let i = list.firstIndex { $0.fd == fd && $0.file === file }
            switch op {
            case 1:
                if i != nil { throw .EEXIST }
                list.append(Interest(fd: fd, file: file, events: events | UInt32(POLLERR | POLLHUP), data: data))
            case 2:
                guard let i else { throw .ENOENT }
                list.remove(at: i)
            case 3:
                guard let i else { throw .ENOENT }
                if list[i].events & Self.EPOLLEXCLUSIVE != 0 { throw .EINVAL }
                list[i].events = events | UInt32(POLLERR | POLLHUP)
                list[i].data = data
                list[i].disabled = false
                list[i].reportedGeneration = nil
            default: throw .EINVAL
            }
        }
    }

    /// The interest list as a checkpoint keeps it: each file's fd, events,
    /// data and whether EPOLLONESHOT has disarmed it (edge state is not kept).
    var interestList: [(fd: Int32, file: FileDescription, events: UInt32, data: UInt64, disabled: Bool)] {
        interests.withLock { $0.compactMap { i in i.file.map { (i.fd, $0, i.events, i.data, i.disabled) } } }
    }

    /// A restored interest, as it was.
    func restoreInterest(fd: Int32, file: FileDescription, events: UInt32, data: UInt64, disabled: Bool) {
        interests.withLock { $0.append(Interest(fd: fd, file: file, events: events, data: data, disabled: disabled)) }
    }

    /// The files to wait on (for the task's poll engine).
    /// The file of the `nth` registration made under descriptor number `fd`
    /// (kcmp's KCMP_EPOLL_TFD, ep_find_tfd).
    public func watchedFile(fd: Int32, nth: UInt32) -> FileDescription? {
        interests.withLock { list in
            let same = list.filter { $0.fd == fd }
            return Int(nth) < same.count ? same[Int(nth)].file : nil
        }
    }

    var watched: [(FileDescription?, Int16)] {
        interests.withLock { $0.compactMap { i in i.file.map { ($0, Int16(truncatingIfNeeded: i.events & 0xffff)) } } }
    }

    /// Collects up to `max` ready events, updating edge and one-shot state.
    public func collect(max: Int) -> [(events: UInt32, data: UInt64)] {
        interests.withLock { list in
            var out: [(UInt32, UInt64)] = []
            list.removeAll { $0.file == nil }
            for i in list.indices where out.count < max && !list[i].disabled {
                guard let f = list[i].file else { continue }
                let ready = UInt32(UInt16(bitPattern: f.readiness(Int16(truncatingIfNeeded: list[i].events & 0xffff))))
                    & (list[i].events | UInt32(POLLERR | POLLHUP))
                guard ready != 0 else { continue }
                if list[i].events & Self.EPOLLET != 0, let q = f.waitQueue {
                    let g = q.generation.load(ordering: .relaxed)
                    if list[i].reportedGeneration == g { continue }
                    list[i].reportedGeneration = g
                }
                if list[i].events & Self.EPOLLONESHOT != 0 { list[i].disabled = true }
                out.append((ready, list[i].data))
            }
            return out
        }
    }

    public override func readiness(_ mask: Int16) -> Int16 {
        let any = interests.withLock { list in
            list.contains { i in
                guard !i.disabled, let f = i.file else { return false }
                return f.readiness(Int16(truncatingIfNeeded: i.events & 0xffff)) != 0
            }
        }
        return any ? mask & Int16(POLLIN | POLLRDNORM) : 0
    }
}

extension Task {
    /// epoll_wait: blocks until an event, the deadline, or a signal (EINTR).
    public func epollWait(_ ep: EpollFile, max: Int, deadline: Deadline?) throws(Errno) -> [(events: UInt32, data: UInt64)] {
        var got: [(events: UInt32, data: UInt64)] = []
        while true {
            let (queues, hostFDs) = Task.waitSources(ep.watched, extra: [ep.waitQueue!])
            // epoll_ctl from another thread changes what to watch: start over.
            let generation = ep.waitQueue!.generation.load(ordering: .relaxed)
            let r = try block(on: queues, hostFDs: hostFDs, deadline: deadline, interruptedBy: .EINTR) { () throws(Errno) in
                got = ep.collect(max: max)
                return !got.isEmpty || ep.waitQueue!.generation.load(ordering: .relaxed) != generation
            }
            if !got.isEmpty || r == .timedOut { return got }
        }
    }
}
