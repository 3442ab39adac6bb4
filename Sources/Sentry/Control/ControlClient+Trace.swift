import Glibc
import Synchronization

/// The write end of the pipe the trace client's signal handler writes to.
private let interruptPipe = Atomic<Int32>(-1)

extension ControlClient {
    /// `sentry trace NAME`: asks the sandbox for a live trace with `flags`
    /// and copies it to `output` until the sandbox ends the stream. The first
    /// SIGINT, SIGTERM or SIGHUP asks the sandbox to detach (the client shuts
    /// its sending side; the sandbox writes a `-c` table if asked for, then
    /// closes); a second one leaves at once. Returns the status to exit with:
    /// 0, or the refusal's (`ControlResponse.exitStatus`) with its message.
    public static func trace(_ flags: TraceFlags, name: String, output: Int32,
                             in directory: RuntimeDirectory = .default()) throws(ControlError) -> (status: Int32, error: String?) {
        guard RuntimeDirectory.isValid(name: name) else { throw .badName(name) }
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else { throw .host("pipe", errno) }
        for p in pipeFDs { _ = fcntl(p, F_SETFD, FD_CLOEXEC); _ = fcntl(p, F_SETFL, O_NONBLOCK) }
        interruptPipe.store(pipeFDs[1], ordering: .relaxed)
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            var sa = sigaction()
            sa.__sigaction_handler.sa_handler = { _ in
                var b: UInt8 = 1
                _ = Glibc.write(interruptPipe.load(ordering: .relaxed), &b, 1)
            }
            sigaction(sig, &sa, nil)
        }
        let fd = try connect(name, directory)
        defer { close(fd) }
        guard ControlProtocol.writeAll(fd, ControlProtocol.encode(ControlRequest(op: .trace, trace: flags))) else {
            throw .host("write to \(name)", errno)
        }
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: pipeFDs[0], events: Int16(POLLIN), revents: 0)]
        var pending: [UInt8] = []
        var answered = false
        var interrupts = 0
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            // The answer is due at once; the stream may be quiet for as long as the guest is.
            let r = poll(&fds, 2, answered ? -1 : 10_000)
            if r < 0 { if errno == EINTR { continue }; throw .host("poll", errno) }
            if r == 0 { throw .protocolError("no answer from '\(name)'") }
            if fds[1].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 16)
                let n = read(pipeFDs[0], &drain, drain.count)
                interrupts += max(0, n)
                // Asking to detach: our side of the connection closes for writing.
                if interrupts == 1 || !answered { shutdown(fd, Int32(SHUT_WR)) }
                if interrupts > 1 { return (answered ? 0 : 130, nil) }
            }
            guard fds[0].revents != 0 else { continue }
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return (0, nil) }   // ECONNRESET: the sandbox is gone
            if n == 0 {
                if !answered { throw .protocolError("no answer from '\(name)'") }
                return (0, nil)
            }
            var chunk = buf[0..<n]
            if !answered {
                pending += chunk
                guard let nl = pending.firstIndex(of: 0x0a) else {
                    if pending.count > 1 << 16 { throw .protocolError("malformed answer from '\(name)'") }
                    continue
                }
                guard let resp = ControlProtocol.decode(ControlResponse.self, Array(pending[..<nl])) else {
                    throw .protocolError("malformed answer from '\(name)'")
                }
                guard resp.version == ControlProtocol.version else {
                    throw .protocolError("answer version \(resp.version), this sentry speaks version \(ControlProtocol.version)")
                }
                if !resp.ok { return (resp.exitStatus ?? 73, resp.error ?? "trace refused") }
                answered = true
                // As strace's "Process N attached": the tracer is in place from here on.
                let note = "sentry: attached to \(name)\n"
                _ = writeAll(2, Array(note.utf8)[...])
                chunk = pending[(nl + 1)...]
                pending = []
            }
            guard writeAll(output, chunk) else { return (0, nil) }   // our reader left: detaching by closing
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
        var off = bytes.startIndex
        while off < bytes.endIndex {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + (off - bytes.startIndex), bytes.endIndex - off) }
            if n < 0 { if errno == EINTR { continue }; return false }
            off += n
        }
        return true
    }
}
