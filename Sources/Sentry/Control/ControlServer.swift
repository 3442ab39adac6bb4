import Glibc

/// A named sandbox's end of the control socket: it owns the name for the
/// sentry's lifetime and answers one request per connection, from the
/// same host user only.
///
/// The name is held by an exclusive `flock` on NAME.lock, which the host
/// drops when the sentry dies however it dies: a socket file whose lock
/// can be taken is a dead sentry's, and is replaced.
public final class ControlServer: @unchecked Sendable {
    public let name: String
    public let directory: RuntimeDirectory
    private let lockFD: Int32
    private let listenFD: Int32

    private init(name: String, directory: RuntimeDirectory, lockFD: Int32, listenFD: Int32) {
        self.name = name; self.directory = directory; self.lockFD = lockFD; self.listenFD = listenFD
    }

    /// Takes `name` in `directory`: refused if a live sentry has it.
    public static func claim(name: String, in directory: RuntimeDirectory = .default()) throws(ControlError) -> ControlServer {
        guard RuntimeDirectory.isValid(name: name) else { throw .badName(name) }
        try directory.ensure()
        let lock = open(directory.lockPath(name), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw .host("open \(directory.lockPath(name))", errno) }
        if flock(lock, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            Glibc.close(lock)
            if e == EWOULDBLOCK { throw .nameTaken(name) }
            throw .host("flock \(directory.lockPath(name))", e)
        }
        let path = directory.socketPath(name)
        unlink(path)   // a dead sentry's socket: we hold the lock, so nobody live owns it
        guard var addr = sockaddr_un.make(path) else { Glibc.close(lock); throw .badName(name) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { let e = errno; Glibc.close(lock); throw .host("socket", e) }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
        if !ok || chmod(path, 0o600) != 0 || listen(fd, 16) != 0 {
            let e = errno
            Glibc.close(fd); Glibc.close(lock)
            throw .host("bind \(path)", e)
        }
        return ControlServer(name: name, directory: directory, lockFD: lock, listenFD: fd)
    }

    /// Serves requests on a thread of its own. `handler` gets each request
    /// and a `reply` to call once; it may go on after replying (a
    /// checkpoint that ends the sandbox replies first), or take the
    /// connection over to answer with a stream (a live trace).
    public func serve(_ handler: @escaping @Sendable (ControlRequest, ControlReply) -> Void) throws(ControlError) {
        let fd = listenFD
        do {
            try HostThread.spawn {
                while true {
                    let c = accept(fd, nil, nil)
                    if c < 0 { if errno == EINTR || errno == ECONNABORTED { continue }; return }
                    _ = fcntl(c, F_SETFD, FD_CLOEXEC)
                    Self.handle(c, handler)
                    Glibc.close(c)
                }
            }
        } catch { throw .host("starting the control thread", error.rawValue) }
    }

    private static func handle(_ c: Int32, _ handler: (ControlRequest, ControlReply) -> Void) {
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        // The request is read first, whoever sent it, so a refusal reaches
        // the client as an answer rather than as a reset connection.
        guard let line = ControlProtocol.readLine(c) else { return }
        // struct ucred: pid, uid, gid.
        var cred: (pid: Int32, uid: UInt32, gid: UInt32) = (0, 0, 0)
        var len = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
        guard getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0, cred.uid == geteuid() else {
            _ = ControlProtocol.writeAll(c, ControlProtocol.encode(ControlResponse.failure("permission denied: another host user")))
            return
        }
        guard let req = ControlProtocol.decode(ControlRequest.self, line) else {
            _ = ControlProtocol.writeAll(c, ControlProtocol.encode(ControlResponse.failure("malformed request")))
            return
        }
        guard req.version == ControlProtocol.version else {
            _ = ControlProtocol.writeAll(c, ControlProtocol.encode(ControlResponse.failure(
                "request version \(req.version), this sentry speaks version \(ControlProtocol.version)")))
            return
        }
        handler(req, ControlReply(c))
    }

    /// Gives the name up: the socket and lock files go. Called as the sentry exits.
    public func close() {
        unlink(directory.socketPath(name))
        unlink(directory.lockPath(name))
        Glibc.close(listenFD)
        Glibc.close(lockFD)
    }
}

/// A request's answer: one response, after which the connection closes;
/// or the connection itself, for a handler that answers with a stream.
public final class ControlReply {
    private let fd: Int32
    private var replied = false

    init(_ fd: Int32) { self.fd = fd }

    public func callAsFunction(_ r: ControlResponse) {
        guard !replied else { return }
        replied = true
        _ = ControlProtocol.writeAll(fd, ControlProtocol.encode(r))
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// The connection, as a descriptor of the caller's own (close-on-exec)
    /// that outlives the request; nothing more is written here. nil if
    /// already answered, or no descriptor is left.
    public func takeConnection() -> Int32? {
        guard !replied else { return nil }
        let d = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard d >= 0 else { return nil }
        replied = true
        return d
    }
}
