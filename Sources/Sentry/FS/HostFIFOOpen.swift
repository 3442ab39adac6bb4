import CSwitch
import Glibc

/// fifo_open for a FIFO of a host mount: the sentry opens the host's FIFO
/// non-blocking (a sentry thread must never sleep in the host where a
/// signal cannot reach it) and makes a blocking open's wait for the other
/// side (wait_for_partner) itself, interruptibly (ERESTARTSYS): a reader
/// until a writer has opened, a writer until a reader is there. Host opens
/// of the FIFO are announced by inotify; a reader tells a writer's presence
/// by tee, which on an empty pipe answers EAGAIN while a writer holds it
/// and 0 when none does. A host reader blocked in its own open shows no
/// open until it returns, so a waiting writer also tries again every
/// `writerRetry` ns (and either side, where the host has no inotify).
extension HostInode {
    static let writerRetry: Int64 = 20_000_000

    /// `host`: the open flags for the host, without O_NONBLOCK; `flags` the guest's.
    func openFIFO(_ flags: OpenFlags, host: Int32, at location: Location) throws(Errno) -> FileDescription {
        let description = OpenFlags(rawValue: flags.rawValue & ~OpenFlags.closeOnExec.rawValue)
        let mode = flags.rawValue & OpenFlags.accessMode
        let waits = !flags.contains(.nonBlock) && mode != O_RDWR
        // No task (a restore reopening a description): no wait, as a non-blocking open.
        guard waits, let task = Task.current else {
            let r = Glibc.open(procPath, host | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
            if r < 0 { throw Errno(errno) }
            return HostFile(fd: r, flags: description, location: location)
        }
        // The watch first: an open after it is announced, one before it found
        // by the first look. A host without inotify (a tinyconfig kernel):
        // the wait looks again every `writerRetry` ns.
        let watch = Int32(truncatingIfNeeded: sw_open_watch(procPath))
        defer { if watch >= 0 { close(watch) } }
        var sources = watch >= 0 ? [pollfd(fd: watch, events: Int16(POLLIN), revents: 0)] : []
        if mode == O_RDONLY {
            let r = Glibc.open(procPath, host | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
            if r < 0 { throw Errno(errno) }
            let file = HostFile(fd: r, flags: description, location: location)   // closes r if the wait fails
            var scratch: [Int32] = [-1, -1]
            _ = try Errno.check(sw_pipe2(&scratch, O_NONBLOCK | O_CLOEXEC))
            defer { close(scratch[0]); close(scratch[1]) }
            sources.append(pollfd(fd: r, events: Int16(POLLIN), revents: 0))
            var came = false
            while !came {
                _ = try task.block(on: [], hostFDs: sources, deadline: watch >= 0 ? nil : .after(Self.writerRetry)) { () throws(Errno) -> Bool in
                    Self.drain(watch)
                    came = try Self.writerCame(r, scratch: scratch)
                    return came
                }
            }
            return file
        }
        var opened: Int32 = -1
        while opened < 0 {
            _ = try task.block(on: [], hostFDs: sources, deadline: .after(Self.writerRetry)) { () throws(Errno) -> Bool in
                Self.drain(watch)
                opened = Glibc.open(procPath, host | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
                if opened >= 0 { return true }
                if errno != ENXIO { throw Errno(errno) }
                return false
            }
        }
        return HostFile(fd: opened, flags: description, location: location)
    }

    /// Whether a writer has opened the FIFO since the reader `r` did
    /// (Linux's w_counter moved): one holds it (tee finds an empty pipe
    /// with a writer: EAGAIN), wrote to it, or came and went (POLLHUP, which
    /// a non-blocking reader sees only after a writer).
    private static func writerCame(_ r: Int32, scratch: [Int32]) throws(Errno) -> Bool {
        let n = sw_tee_nonblock(r, scratch[1], 1)
        if n > 0 {
            var b: UInt8 = 0
            _ = read(scratch[0], &b, 1)
            return true
        }
        if n == -Int(EAGAIN) { return true }
        if n < 0 { throw Errno(Int32(-n)) }
        var p = pollfd(fd: r, events: Int16(POLLIN), revents: 0)
        return Glibc.poll(&p, 1, 0) > 0 && p.revents & Int16(POLLHUP) != 0
    }

    /// Reads away the inotify events that woke the wait.
    private static func drain(_ watch: Int32) {
        guard watch >= 0 else { return }
        var buf = [UInt8](repeating: 0, count: 4096)
        while read(watch, &buf, buf.count) > 0 {}
    }
}
