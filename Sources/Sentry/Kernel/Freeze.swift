import CSwitch
import Glibc

/// How a sleep continues through restart_syscall, as data: what a
/// checkpoint keeps of a task's `restartBlock`.
public enum RestartState: Sendable, Equatable {
    /// nanosleep / clock_nanosleep (relative): the deadline, and where the
    /// time left goes if a handler interrupts it.
    case sleep(deadline: Deadline, remaining: GuestAddress)
    /// FUTEX_WAIT(_BITSET) with a timeout (futex_wait_restart).
    case futexWait(address: GuestAddress, value: UInt32, bitset: UInt32, deadline: Deadline)
}

extension Deadline: Equatable {
    public static func == (a: Deadline, b: Deadline) -> Bool { a.nanoseconds == b.nanoseconds && a.clock == b.clock }
}

extension Task {
    /// A relative sleep that a signal with no handler (or a freeze) resumes
    /// through restart_syscall with the same deadline; a handler ends it
    /// with EINTR and the time left in `remaining`.
    public func restartableSleep(until deadline: Deadline, remaining: GuestAddress) throws(Errno) -> Int64 {
        do { try sleep(until: deadline, interruptedBy: .ERESTART_RESTARTBLOCK) } catch {
            if !remaining.isNull {
                let left = deadline.remaining
                try mm.write(remaining, timespec(tv_sec: Int(left / 1_000_000_000), tv_nsec: Int(left % 1_000_000_000)))
            }
            restartState = .sleep(deadline: deadline, remaining: remaining)
            restartBlock = { (t: Task) throws(Errno) -> Int64 in try t.restartableSleep(until: deadline, remaining: remaining) }
            throw error
        }
        return 0
    }

    /// FUTEX_WAIT(_BITSET): a signal restarts a wait without a timeout
    /// (ERESTARTSYS), and one with a timeout through restart_syscall with
    /// the same deadline (futex_wait_restart).
    public func restartableFutexWait(_ addr: GuestAddress, _ val: UInt32, bitset: UInt32, deadline: Deadline?) throws(Errno) -> Int64 {
        do {
            try kernel.futexWait(self, addr, expected: val, bitset: bitset, deadline: deadline,
                                 interruptedBy: deadline == nil ? .ERESTARTSYS : .ERESTART_RESTARTBLOCK)
        } catch let e where e == .ERESTART_RESTARTBLOCK {
            if let deadline { restartState = .futexWait(address: addr, value: val, bitset: bitset, deadline: deadline) }
            restartBlock = { (t: Task) throws(Errno) -> Int64 in try t.restartableFutexWait(addr, val, bitset: bitset, deadline: deadline) }
            throw e
        }
        return 0
    }

    /// Stops at the top of the run loop, where the task's whole state is in
    /// the sentry (registers final, an interrupted call set to restart),
    /// until the freeze ends, the task is killed, or `unparkLocked` sends
    /// it on. `holds` (kernel lock held) is what makes the task park, looked
    /// at again as it parks: one that no longer holds by then goes on.
    func park(while holds: () -> Bool = { true }) {
        let fpu = try? context.fpuState(space)
        let parks: Bool = kernel.locked {
            guard holds() else { return false }
            frozenFPU = fpu; parked = true
            return true
        }
        guard parks else { return }
        kernel.parkEvents.wake()
        _ = try? block(on: [kernel.thawEvents], interruptible: false) { () throws(Errno) in kernel.locked { !kernel.freezing || !parked } }
        kernel.locked { parked = false; frozenFPU = nil }
    }

    /// A parked tracee its tracer has just answered (resumed, detached, or
    /// given work for its thread) goes on, and the freeze waits for it to
    /// park again: the image keeps a ptrace stop, not an answer the tracee
    /// has yet to take up (restored without it, the tracee would wait in
    /// its stop for an answer its tracer believes given). Kernel lock held.
    func unparkLocked() {
        parked = false
        waker.wake()
    }
}

extension Task {
    /// Parks inside a call whose wait a checkpoint keeps as it is (a vfork
    /// parent's, a seccomp-notified call's), its registers still the
    /// call's; false when the task is being killed.
    func parkInCall() -> Bool {
        park()
        return kernel.locked { !killed && group.exitStatus == nil }
    }
}

/// Why a sandbox could not be frozen.
public struct FreezeError: Error, CustomStringConvertible {
    public let description: String
}

extension Kernel {
    /// Stops every task where its whole state is in the sentry: kicked out of
    /// guest code, or out of a blocking call that will restart (Linux's
    /// restart rules with no handler: ERESTARTSYS, ERESTARTNOHAND and
    /// restart_syscall for sleeps with their deadline). A task in an
    /// uninterruptible wait (a stopped process, an exec
    /// waiting for its other threads) that does not park within `timeout`
    /// seconds fails the freeze, and everything goes on.
    public func freeze(timeout: Double = 10) throws(FreezeError) {
        locked {
            freezing = true
            for t in tasks.values { t.interruptLocked() }
        }
        let deadline = Deadline.after(Int64(timeout * 1e9))
        while true {
            let running: [Task] = locked {
                if initStatus != nil { return [] }
                return tasks.values.filter { !$0.parked }
            }
            if running.isEmpty {
                if locked({ initStatus != nil }) { thaw(); throw FreezeError(description: "the sandbox is exiting") }
                return
            }
            if deadline.remaining == 0 {
                thaw()
                let names = running.map { "tid \($0.tid)" }.sorted().joined(separator: ", ")
                throw FreezeError(description: "\(names) did not stop within \(Int(timeout)) s (an uninterruptible wait: a job-control stop, or an exec)")
            }
            var p = pollfd(fd: parkEvents.fd, events: Int16(POLLIN), revents: 0)
            _ = sw_ppoll(&p, 1, 10_000_000)
            parkEvents.drain()
        }
    }

    /// Lets every parked task go on.
    public func thaw() {
        locked { freezing = false }
        thawEvents.notify()
    }
}
