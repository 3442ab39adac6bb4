import Glibc

/// The client end: `sentry list`, `sentry kill`, `sentry checkpoint`, and
/// any front end (an OCI runtime's `state`/`kill`) that names a sandbox.
public enum ControlClient {
    /// Sends one request to the sandbox `name` and returns its answer.
    /// `timeout`: seconds to wait for the answer (a checkpoint of a large
    /// sandbox takes a while); nil waits as long as it takes.
    public static func send(_ request: ControlRequest, to name: String, in directory: RuntimeDirectory = .default(),
                            timeout: Int? = 10) throws(ControlError) -> ControlResponse {
        guard RuntimeDirectory.isValid(name: name) else { throw .badName(name) }
        let fd = try connect(name, directory)
        defer { close(fd) }
        if let timeout {
            var tv = timeval(tv_sec: timeout, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        guard ControlProtocol.writeAll(fd, ControlProtocol.encode(request)) else { throw .host("write to \(name)", errno) }
        guard let line = ControlProtocol.readLine(fd, limit: 1 << 20) else {
            throw .protocolError("no answer from '\(name)'")
        }
        guard let r = ControlProtocol.decode(ControlResponse.self, line) else { throw .protocolError("malformed answer from '\(name)'") }
        guard r.version == ControlProtocol.version else {
            throw .protocolError("answer version \(r.version), this sentry speaks version \(ControlProtocol.version)")
        }
        return r
    }

    /// Every live sandbox's state; sockets of dead sentries are removed.
    public static func list(in directory: RuntimeDirectory = .default()) -> [SandboxState] {
        directory.names().compactMap { name in
            guard let r = try? send(ControlRequest(op: .state), to: name, in: directory, timeout: 2) else { return nil }
            return r.state
        }
    }

    static func connect(_ name: String, _ directory: RuntimeDirectory) throws(ControlError) -> Int32 {
        let path = directory.socketPath(name)
        guard var addr = sockaddr_un.make(path) else { throw .badName(name) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .host("socket", errno) }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
        if ok { return fd }
        let e = errno
        close(fd)
        if e == ENOENT { throw .noSuchSandbox(name) }
        if e == ECONNREFUSED { removeIfStale(name, directory); throw .noSuchSandbox(name) }
        throw .host("connect \(path)", e)
    }

    /// A socket nobody listens on, whose name lock nobody holds, is a dead sentry's.
    private static func removeIfStale(_ name: String, _ directory: RuntimeDirectory) {
        let lock = open(directory.lockPath(name), O_RDWR | O_CLOEXEC)
        if lock < 0 { unlink(directory.socketPath(name)); return }
        defer { close(lock) }
        if flock(lock, LOCK_EX | LOCK_NB) == 0 {
            unlink(directory.socketPath(name))
            unlink(directory.lockPath(name))
        }
    }
}
