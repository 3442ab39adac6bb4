import Glibc

/// `sentry trace NAME`, the sandbox's side: a tracer writing to the
/// client's connection, installed while the sandbox runs and removed when
/// the client closes its end (Ctrl-C), stops reading, or the sandbox ends.
///
/// One live tracer at a time, and none in a sandbox started with
/// `--strace` (its tracer stays): a second attach is refused, exit status
/// 81 for the client. The stream is the response line (`{"ok":true}`),
/// then the trace's lines from each task's next syscall entry on (a call
/// already in progress shows whole when it ends), then, with `-c`, the table, then EOF.
public enum LiveTrace {
    /// A client that leaves the stream unread this long is dropped: until
    /// then the guest's traced calls wait on the full socket, as a tracee
    /// waits on a stopped strace, but the sandbox is not held forever.
    static let sendTimeoutSeconds = 30
    /// The client's exit statuses for refusals (its `SentryExit`).
    public static let usageStatus: Int32 = 64, goneStatus: Int32 = 73, busyStatus: Int32 = 81

    public static func serve(_ kernel: Kernel, flags: TraceFlags?, reply: ControlReply) {
        let options: TraceOptions
        do { options = try (flags ?? TraceFlags()).options { kernel.table.number(of: $0) } } catch {
            reply(ControlResponse(ok: false, error: error.message, exitStatus: usageStatus))
            return
        }
        guard let fd = reply.takeConnection() else { return }
        var tv = timeval(tv_sec: sendTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let tracer = Tracer(stream: fd, options: options)   // closes fd when the last user lets go
        let installed: Bool
        do {
            installed = try kernel.attachTracer(tracer) {
                // A fresh connection's empty buffer takes the line whole; never wait here (a lock is held).
                let line = ControlProtocol.encode(ControlResponse(ok: true))
                let n = line.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
                return n == line.count
            }
        } catch {
            let status = error == .finished ? goneStatus : busyStatus
            _ = ControlProtocol.writeAll(fd, ControlProtocol.encode(ControlResponse(ok: false, error: error.description, exitStatus: status)))
            return
        }
        guard installed else { return }
        do {
            try HostThread.spawn { watch(kernel, tracer) }
        } catch {
            kernel.detachTracer(tracer)
            tracer.end()
        }
    }

    /// Waits for the client to hang up or send anything (its detach), or for
    /// the stream to end from this side (the sandbox ended, or a write
    /// failed), then detaches and ends the stream.
    private static func watch(_ kernel: Kernel, _ tracer: Tracer) {
        var p = pollfd(fd: tracer.fd, events: Int16(POLLIN) | pollRDHUP, revents: 0)
        while poll(&p, 1, -1) < 0 && errno == EINTR {}
        kernel.detachTracer(tracer)
        tracer.end()
    }

    /// POLLRDHUP: the peer shut its writing side (Glibc's module leaves it out).
    private static let pollRDHUP: Int16 = 0x2000
}
