import CSwitch
import FoundationEssentials
import Glibc
import Sentry

/// `exec`: a new process in a running container. The container's sentry
/// listens on ROOT/ID/exec.sock (SOCK_SEQPACKET); `sentry exec` sends the
/// process (runtime-spec's process JSON) with its stdin, stdout and stderr
/// (SCM_RIGHTS), and the sentry starts it in the sandbox as a process
/// entered from outside (ppid 0, a session of its own), answers "pid N",
/// and later "exit STATUS". The `sentry exec` process stands for the guest
/// process on the host: engines wait for it (its pid is --pid-file's), and
/// it exits with the guest's status.
enum OCIExec {
    static let socketName = "exec.sock"
    static let maxMessage = 1 << 20
    /// The listener's and each request's thread: glibc's default, as they had
    /// as Foundation Threads (a request parses its JSON and starts the task).
    static let threadStack = 8 << 20

    // MARK: - The container's side

    /// Listens; each request is served on a thread of its own, which then
    /// runs the new process's first task.
    static func serve(at path: String, sandbox: Sandbox, defaults: OCIConfig, log: OCILog) throws(Errno) {
        let sock = try OCISocket.listen(path)
        let box = SandboxBox(sandbox)
        try HostThread.spawn(stack: OCIExec.threadStack) {
            while true {
                let conn = accept(sock, nil, nil)
                if conn < 0 { if errno == EINTR || errno == ECONNABORTED { continue }; return }
                _ = fcntl(conn, F_SETFD, FD_CLOEXEC)
                do { try HostThread.spawn(stack: OCIExec.threadStack) { handle(conn, box.sandbox, defaults, log) } } catch { close(conn) }
            }
        }
    }

    static func handle(_ conn: Int32, _ sandbox: Sandbox, _ defaults: OCIConfig, _ log: OCILog) {
        func reply(_ s: String) { var m = s.hasSuffix("\n") ? s : s + "\n"; m.withUTF8 { _ = send(conn, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
        guard let (data, fds) = try? OCISocket.receive(conn, max: maxMessage), fds.count == 3 else {
            reply("error the request must carry a process and three descriptors")
            close(conn)
            return
        }
        let process: OCIConfig
        do { process = try OCIConfig.process(data) } catch {
            reply("error \(error.description)")
            fds.forEach { close($0) }
            close(conn)
            return
        }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let kernel = sandbox.kernel
        guard sandbox.isDirectory(process.cwd) else {
            reply("error process.cwd \(process.cwd): no such directory in the container")
            fds.forEach { close($0) }
            close(conn)
            return
        }
        let program = sandbox.resolveProgram(process.args[0], cwd: process.cwd, env: process.env)
        let task: Task
        do {
            task = try kernel.enter(path: program, argv: process.args, envp: process.env, cwd: process.cwd,
                                    credentials: process.sandbox.credentials ?? defaults.sandbox.credentials ?? kernel.initialCredentials,
                                    stdio: fds) { status in
                // Kernel lock held: one short write to a socket with room, then the connection ends.
                var m = "exit \(status.shellStatus)\n"
                m.withUTF8 { _ = send(conn, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                close(conn)
            }
        } catch {
            reply("error " + OCIInit.describe(error, process.args[0]))
            fds.forEach { close($0) }
            close(conn)
            return
        }
        if !process.rlimits.isEmpty { task.group.limits.withLock { for (r, l) in process.rlimits { $0[r] = l } } }
        if process.noNewPrivileges { task.attributes.withLock { $0.noNewPrivs = true } }
        // The container's profile, as runc applies it to every exec'd process.
        if let why = OCIInit.applySeccomp(defaults, to: task, log: log) { log.warn("exec: \(why)") }
        log.write("info", "exec: pid \(task.pid): \(process.args.joined(separator: " "))")
        reply("pid \(task.pid)\n")
        kernel.runEntered(task)
    }

    // MARK: - The command

    /// runc exec's flags: --process, or the container's process with the
    /// command line's ARGS, --cwd, --env, --user, --tty; --detach,
    /// --pid-file, --console-socket.
    static func main(_ cmd: OCICommand) -> Never {
        let log = cmd.log
        let f = cmd.parseFlags(valued: ["process": "process", "p": "process", "console-socket": "console-socket", "pid-file": "pid-file",
                                        "cwd": "cwd", "env": "env", "e": "env", "user": "user", "u": "user", "preserve-fds": "preserve-fds",
                                        "process-label": "process-label", "apparmor": "apparmor", "cap": "cap", "c": "cap"],
                               switches: ["detach": "detach", "d": "detach", "tty": "tty", "t": "tty", "no-new-privs": "no-new-privs",
                                          "ignore-paused": "ignore-paused"])
        guard let id = f.positional.first else { log.fail("exec: missing container id") }
        if let n = f.values["preserve-fds"], n != "0" { log.fail("exec: --preserve-fds \(n): passing extra descriptors is not supported") }
        if let c = f.values["cap"] { log.fail("exec: --cap \(c): adding capabilities to one process is not supported") }
        for k in ["process-label", "apparmor"] where f.values[k] != nil { log.warn("exec: --\(k): not applied (the guest makes no host syscall)") }
        let state = cmd.loadState(id)
        let status = state.status(root: cmd.root)
        guard status == .running || status == .created else { log.fail("cannot exec in container \(id): it is \(status.rawValue)") }

        var process: [String: JSONValue]
        if let path = f.values["process"] {
            guard let d = FileManager.default.contents(atPath: path),
                  let o = (try? JSONValue.parse(d))?.objectValue else { log.fail("exec: --process \(path): not a JSON process") }
            process = o
        } else {
            guard f.positional.count > 1 else { log.fail("exec: missing the command to run (ARGS or --process)") }
            let config = FileManager.default.contents(atPath: state.bundle + "/config.json").flatMap { try? JSONValue.parse($0) }
            process = config?["process"]?.objectValue ?? ["cwd": "/"]
            process["args"] = JSONValue(Array(f.positional.dropFirst()))
            process["terminal"] = .bool(f.switches.contains("tty"))
            if let cwd = f.values["cwd"] { process["cwd"] = .string(cwd) }
            if let e = f.values["env"] {
                // The bundle's env (unless it is not a list of strings), then --env's.
                process["env"] = JSONValue((process["env"]?.stringsValue ?? []) + e.split(separator: "\u{0}").map(String.init))
            }
            if let u = f.values["user"] {
                let parts = u.split(separator: ":").map { UInt32($0) }
                guard !parts.isEmpty, parts.count <= 2, parts.allSatisfy({ $0 != nil }) else { log.fail("exec: --user \(u): expected UID[:GID]") }
                process["user"] = ["uid": .int(Int64(parts[0]!)), "gid": .int(Int64(parts.count > 1 ? parts[1]! : 0))]
            }
            if f.switches.contains("no-new-privs") { process["noNewPrivileges"] = true }
        }
        let data = Data(JSONValue.object(process).encoded().utf8)
        let parsed: OCIConfig
        do { parsed = try OCIConfig.process(data) } catch { log.fail("exec: \(error.description)") }

        var stdio: [Int32] = [0, 1, 2]
        var slave: Int32 = -1
        if parsed.terminal {
            guard let cs = f.values["console-socket"] else { log.fail("exec: process.terminal is true: --console-socket is needed to pass the terminal's master on") }
            do { slave = try OCIInit.openConsole(sendingMasterTo: cs) } catch { log.fail("exec: --console-socket \(cs): \(error.message)") }
            stdio = [slave, slave, slave]
        } else if f.values["console-socket"] != nil {
            log.fail("exec: --console-socket: process.terminal is false, so there is no terminal to pass")
        }

        let sock: Int32
        do { sock = try OCISocket.connect(OCIState.directory(root: cmd.root, id: id) + "/" + socketName) } catch {
            log.fail("exec: container \(id): \(error.message)")
        }
        do { try OCISocket.send(sock, Array(data), fds: stdio) } catch { log.fail("exec: \(error.message)") }
        if slave >= 0 { close(slave) }
        var reader = LineReader(fd: sock)
        guard let first = reader.line() else { log.fail("exec: the container's sentry closed the connection") }
        if first.hasPrefix("error ") { log.fail(String(first.dropFirst(6))) }
        guard first.hasPrefix("pid ") else { log.fail("exec: unexpected reply \(first)") }

        let pidFile = f.values["pid-file"]
        func writePID(_ pid: Int32) {
            guard let pidFile else { return }
            let tmp = pidFile + ".tmp-sentry"
            guard FileManager.default.createFile(atPath: tmp, contents: Data("\(pid)".utf8)), rename(tmp, pidFile) == 0 else {
                log.fail("--pid-file \(pidFile): \(Errno(errno).message)")
            }
        }
        if f.switches.contains("detach") {
            // The host process that stands for the guest's: a child that
            // waits for its exit status; this one reports its pid and leaves.
            let child = fork()
            if child < 0 { log.fail("exec: fork: \(Errno(errno).message)") }
            if child > 0 {
                writePID(child)
                exit(0)
            }
            _ = setsid()
        } else {
            writePID(getpid())
        }
        guard let last = reader.line(), last.hasPrefix("exit "), let code = Int32(last.dropFirst(5)) else {
            // The sandbox ended first: the process was killed with it.
            exit(128 + SIGKILL)
        }
        exit(code)
    }

    /// Lets the Sandbox cross to the accept thread; it is only read there.
    final class SandboxBox: @unchecked Sendable {
        let sandbox: Sandbox
        init(_ s: Sandbox) { sandbox = s }
    }

    /// Lines from a socket, one read at a time.
    struct LineReader {
        let fd: Int32
        var buffer: [UInt8] = []
        mutating func line() -> String? {
            while true {
                if let nl = buffer.firstIndex(of: 0x0a) {
                    let l = String(decoding: buffer[..<nl], as: UTF8.self)
                    buffer.removeSubrange(...nl)
                    return l
                }
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = read(fd, &chunk, chunk.count)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return nil }
                buffer += chunk[0..<n]
            }
        }
    }
}

/// AF_UNIX helpers: a listening SOCK_SEQPACKET socket, and messages that carry descriptors.
enum OCISocket {
    static func address(_ path: String) throws(Errno) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw .ENAMETOOLONG }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in for (k, b) in bytes.enumerated() { p[k] = b } }
        return addr
    }

    static func listen(_ path: String) throws(Errno) -> Int32 {
        let s = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw Errno(errno) }
        unlink(path)
        var addr = try address(path)
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard r == 0, Glibc.listen(s, 16) == 0 else { let e = Errno(errno); close(s); throw e }
        chmod(path, 0o600)
        return s
    }

    static func connect(_ path: String, type: Int32 = Int32(SOCK_SEQPACKET.rawValue)) throws(Errno) -> Int32 {
        let s = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw Errno(errno) }
        var addr = try address(path)
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard r == 0 else { let e = Errno(errno); close(s); throw e }
        return s
    }

    static func send(_ sock: Int32, _ payload: [UInt8], fds: [Int32]) throws(Errno) {
        var payload = payload
        let header = MemoryLayout<cmsghdr>.size
        var control = [UInt8](repeating: 0, count: (header + 4 * fds.count + 7) & ~7)
        let sent = payload.withUnsafeMutableBytes { pb -> Int in
            control.withUnsafeMutableBytes { cb -> Int in
                var iov = iovec(iov_base: pb.baseAddress, iov_len: pb.count)
                return withUnsafeMutablePointer(to: &iov) { iovp -> Int in
                    var msg = msghdr()
                    msg.msg_iov = iovp
                    msg.msg_iovlen = 1
                    msg.msg_control = cb.baseAddress
                    msg.msg_controllen = cb.count
                    let h = cb.baseAddress!.assumingMemoryBound(to: cmsghdr.self)
                    h.pointee.cmsg_len = header + 4 * fds.count
                    h.pointee.cmsg_level = SOL_SOCKET
                    h.pointee.cmsg_type = Int32(SCM_RIGHTS)
                    for (i, fd) in fds.enumerated() { (cb.baseAddress! + header + 4 * i).storeBytes(of: fd, as: Int32.self) }
                    return sendmsg(sock, &msg, Int32(MSG_NOSIGNAL))
                }
            }
        }
        guard sent >= 0 else { throw Errno(errno) }
    }

    static func receive(_ sock: Int32, max limit: Int) throws(Errno) -> (Data, [Int32]) {
        var payload = [UInt8](repeating: 0, count: limit)
        let header = MemoryLayout<cmsghdr>.size
        var control = [UInt8](repeating: 0, count: header + 4 * 8)
        var fds: [Int32] = []
        let n = payload.withUnsafeMutableBytes { pb -> Int in
            control.withUnsafeMutableBytes { cb -> Int in
                var iov = iovec(iov_base: pb.baseAddress, iov_len: pb.count)
                return withUnsafeMutablePointer(to: &iov) { iovp -> Int in
                    var msg = msghdr()
                    msg.msg_iov = iovp
                    msg.msg_iovlen = 1
                    msg.msg_control = cb.baseAddress
                    msg.msg_controllen = cb.count
                    let r = recvmsg(sock, &msg, Int32(MSG_CMSG_CLOEXEC))
                    if r >= 0 && msg.msg_controllen >= header {
                        let h = cb.baseAddress!.assumingMemoryBound(to: cmsghdr.self)
                        if h.pointee.cmsg_level == SOL_SOCKET && h.pointee.cmsg_type == Int32(SCM_RIGHTS) {
                            let count = (Int(h.pointee.cmsg_len) - header) / 4
                            for i in 0..<max(0, count) { fds.append((cb.baseAddress! + header + 4 * i).load(as: Int32.self)) }
                        }
                    }
                    return r
                }
            }
        }
        guard n >= 0 else { throw Errno(errno) }
        return (Data(payload[0..<n]), fds)
    }
}
