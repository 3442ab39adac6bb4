import Glibc
import Synchronization

/// The USER_NOTIF side of one filter (Linux's `struct notification`): a
/// syscall the filter answers with SECCOMP_RET_USER_NOTIF waits here until a
/// supervisor, holding the listener fd, receives it and replies.
public final class SeccompListener: Sendable {
    enum Phase { case initial, sent, replied }
    struct Pending {
        let id: UInt64
        let tid: Int32
        let data: SeccompData
        var phase: Phase = .initial
        var value: Int64 = 0
        var error: Int32 = 0
        var flags: UInt32 = 0
    }
    struct State {
        var pending: [Pending] = []
        var nextID: UInt64 = 1
        /// The listener fd is gone: nobody will answer.
        var detached = false
        /// No task uses the filter any more (EPOLLHUP).
        var unused = false
    }
    let state = Mutex(State())
    /// Supervisors (recv, poll) wait here.
    let supervisorEvents = WaitQueue()
    /// Trapped tasks wait here for their reply.
    let replies = WaitQueue()

    public static let SECCOMP_USER_NOTIF_FLAG_CONTINUE: UInt32 = 1
    /// sizeof(struct seccomp_notif), sizeof(struct seccomp_notif_resp).
    public static let notifSize = 80, responseSize = 24

    /// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV.
    let waitKillableAfterReceive: Bool

    init(waitKillableAfterReceive: Bool) { self.waitKillableAfterReceive = waitKillableAfterReceive }

    /// A restored listener: its notifications and counters as a checkpoint left them.
    init(restoring s: State, waitKillableAfterReceive: Bool) {
        self.waitKillableAfterReceive = waitKillableAfterReceive
        state.withLock { $0 = s }
    }

    /// seccomp_do_user_notification: queue the call, wait (interruptibly)
    /// for its reply. A signal ends the wait with ERESTARTSYS, so a restarted
    /// call is filtered and notified again, as on Linux.
    func notify(_ task: Task, _ data: SeccompData) -> SeccompVerdict {
        let id: UInt64? = state.withLock { s in
            if s.detached { return nil }
            let id = s.nextID
            s.nextID &+= 1
            s.pending.append(Pending(id: id, tid: task.tid, data: data))
            return id
        }
        guard let id else { return .skip(-Int64(Errno.ENOSYS.rawValue)) }
        supervisorEvents.notify()
        return awaitReply(task, id: id)
    }

    /// The notified call's wait for notification `id`'s answer, and its
    /// verdict. A freeze is no signal: the task parks inside the wait, the
    /// notification kept as it is (a checkpoint keeps it: `Task.seccompWait`).
    func awaitReply(_ task: Task, id: UInt64) -> SeccompVerdict {
        let kernel = task.kernel
        kernel.locked { task.seccompWait = (self, id) }
        defer { kernel.locked { task.seccompWait = nil } }
        var reply: Pending?
        func answered() -> Bool {
            reply = state.withLock { s in s.pending.first { $0.id == id && $0.phase == .replied } }
            return reply != nil
        }
        // should_sleep_killable: once received, a WAIT_KILLABLE_RECV
        // listener's call waits for its answer through any signal but SIGKILL.
        func receivedKillable() -> Bool {
            waitKillableAfterReceive && state.withLock { s in s.pending.contains { $0.id == id && $0.phase == .sent } }
        }
        func freezing() -> Bool { kernel.locked { kernel.freezing } }
        /// Waits (interruptibly or not) until answered or `also` holds; parks through a freeze.
        func wait(interruptible: Bool, also: () -> Bool) throws(Errno) {
            while true {
                _ = try task.block(on: [replies], interruptible: interruptible) { () throws(Errno) -> Bool in
                    answered() || also() || freezing()
                }
                if reply != nil || also() || !freezing() { return }
                if !task.parkInCall() { throw .EINTR }
            }
        }
        do {
            try wait(interruptible: true, also: receivedKillable)
            if reply == nil { try wait(interruptible: false, also: { false }) }
        } catch {
            if error != .ERESTARTSYS || !receivedKillable() || (try? wait(interruptible: false, also: { false })) == nil {
                state.withLock { $0.pending.removeAll { $0.id == id } }
                supervisorEvents.notify()
                return .skip(-Int64(error.rawValue))
            }
        }
        state.withLock { $0.pending.removeAll { $0.id == id } }
        supervisorEvents.notify()
        guard let r = reply else { return .skip(-Int64(Errno.ENOSYS.rawValue)) }
        if r.flags & Self.SECCOMP_USER_NOTIF_FLAG_CONTINUE != 0 { return .run }
        // syscall_set_return_value: the error if any, else the value.
        return .skip(r.error != 0 ? Int64(r.error) : r.value)
    }

    /// SECCOMP_IOCTL_NOTIF_RECV: the oldest notification nobody received
    /// yet; waits for one (6.1 waits even on a non-blocking fd).
    func receive(_ task: Task) throws(Errno) -> (id: UInt64, tid: Int32, data: SeccompData) {
        var got: Pending?
        _ = try task.block(on: [supervisorEvents]) { () throws(Errno) -> Bool in
            got = state.withLock { s in
                guard let i = s.pending.firstIndex(where: { $0.phase == .initial }) else { return nil }
                s.pending[i].phase = .sent
                return s.pending[i]
            }
            return got != nil
        }
        supervisorEvents.notify()
        return (got!.id, got!.tid, got!.data)
    }

    /// Userspace lost a received notification (EFAULT copying it out): it
    /// may be received again.
    func unreceive(_ id: UInt64) {
        state.withLock { s in
            if let i = s.pending.firstIndex(where: { $0.id == id && $0.phase == .sent }) { s.pending[i].phase = .initial }
        }
        supervisorEvents.notify()
    }

    /// SECCOMP_IOCTL_NOTIF_SEND.
    func send(id: UInt64, value: Int64, error: Int32, flags: UInt32) throws(Errno) {
        guard flags & ~Self.SECCOMP_USER_NOTIF_FLAG_CONTINUE == 0 else { throw .EINVAL }
        if flags & Self.SECCOMP_USER_NOTIF_FLAG_CONTINUE != 0 && (error != 0 || value != 0) { throw .EINVAL }
        try state.withLock { (s: inout State) throws(Errno) in
            guard let i = s.pending.firstIndex(where: { $0.id == id }) else { throw .ENOENT }
            guard s.pending[i].phase == .sent else { throw .EINPROGRESS }
            s.pending[i].phase = .replied
            s.pending[i].value = value; s.pending[i].error = error; s.pending[i].flags = flags
        }
        replies.notify()
    }

    /// SECCOMP_IOCTL_NOTIF_ID_VALID: received and not yet answered.
    func isValid(_ id: UInt64) -> Bool {
        state.withLock { s in s.pending.contains { $0.id == id && $0.phase == .sent } }
    }

    /// SECCOMP_IOCTL_NOTIF_ADDFD: the task a received, unanswered
    /// notification belongs to, for the caller to install a file in its table.
    func addFDTarget(id: UInt64) throws(Errno) -> Int32 {
        try state.withLock { (s: inout State) throws(Errno) -> Int32 in
            guard let i = s.pending.firstIndex(where: { $0.id == id }) else { throw .ENOENT }
            guard s.pending[i].phase == .sent else { throw .EINPROGRESS }
            return s.pending[i].tid
        }
    }

    /// ADDFD with SECCOMP_ADDFD_FLAG_SEND succeeded: the new fd is the call's result.
    func completeWithFD(id: UInt64, fd: Int32) {
        state.withLock { s in
            if let i = s.pending.firstIndex(where: { $0.id == id && $0.phase == .sent }) {
                s.pending[i].phase = .replied; s.pending[i].value = Int64(fd); s.pending[i].error = 0; s.pending[i].flags = 0
            }
        }
        replies.notify()
    }

    /// seccomp_notify_poll: POLLIN with a notification to receive, POLLOUT
    /// with one to answer, POLLHUP once no task uses the filter.
    func readiness(_ mask: Int16) -> Int16 {
        let (toReceive, toAnswer, unused) = state.withLock { s in
            (s.pending.contains { $0.phase == .initial }, s.pending.contains { $0.phase == .sent }, s.unused)
        }
        var r: Int16 = 0
        if toReceive { r |= Int16(POLLIN | POLLRDNORM) }
        if toAnswer { r |= Int16(POLLOUT | POLLWRNORM) }
        return (r & mask) | (unused ? Int16(POLLHUP) : 0)
    }

    /// seccomp_notify_detach: the fd closed; every waiting call gets ENOSYS.
    func detach() {
        state.withLock { s in
            s.detached = true
            for i in s.pending.indices where s.pending[i].phase != .replied {
                s.pending[i].phase = .replied; s.pending[i].error = -Errno.ENOSYS.rawValue; s.pending[i].value = 0; s.pending[i].flags = 0
            }
        }
        replies.notify()
    }

    /// The filter's last user is gone (__seccomp_filter_orphan).
    func filterReleased() {
        state.withLock { $0.unused = true }
        supervisorEvents.notify()
    }
}
