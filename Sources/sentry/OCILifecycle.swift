import FoundationEssentials
import Glibc
import Sentry

/// create, start, kill, delete and run: runtime.md's operations on the
/// state directory and on the sentry process that is the container.
extension OCICommand {
    /// The host signals the container's sentry passes to the guest: those
    /// whose default action ends a process, but SIGKILL (which ends the
    /// sentry, and with it the sandbox) and SIGWINCH (the platforms' kick).
    static let forwardedSignals: [Int32] = [SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGALRM, SIGPWR] + Array(34...64)
    /// sigqueue's value that asks for `kill --all`.
    static let killAllValue: Int32 = 0x6b616c6c

    struct CreateOptions {
        var bundle: String
        var pidFile: String?
        var consoleSocket: String?
    }

    func createFlags() -> (CreateOptions, Flags) {
        let f = parseFlags(valued: ["bundle": "bundle", "b": "bundle", "pid-file": "pid-file", "console-socket": "console-socket",
                                    "preserve-fds": "preserve-fds"],
                           switches: ["no-pivot": "no-pivot", "no-new-keyring": "no-new-keyring", "detach": "detach", "d": "detach",
                                      "keep": "keep", "no-subreaper": "no-subreaper"])
        if let n = f.values["preserve-fds"], n != "0" { log.fail("\(command): --preserve-fds \(n): passing extra descriptors is not supported") }
        for s in ["no-pivot", "no-new-keyring", "no-subreaper"] where f.switches.contains(s) {
            log.write("info", "--\(s): accepted; nothing to do (the sentry makes no host mount namespace, keyring or subreaper)")
        }
        var bundle = f.values["bundle"] ?? FileManager.default.currentDirectoryPath
        if !bundle.hasPrefix("/") { bundle = FileManager.default.currentDirectoryPath + "/" + bundle }
        bundle = VFS.normalize(bundle)
        return (CreateOptions(bundle: bundle, pidFile: f.values["pid-file"], consoleSocket: f.values["console-socket"]), f)
    }

    func create() -> Never {
        let (o, f) = createFlags()
        if f.switches.contains("detach") || f.switches.contains("keep") { log.fail("create: unknown flag (--detach and --keep are run's)") }
        let id = containerID(f)
        _ = createContainer(id, o)
        exit(0)
    }

    /// Checks the bundle, records the container as creating, starts its
    /// sentry and waits until the guest is loaded and held before its first
    /// instruction. Returns the sentry's pid (a child of this process).
    func createContainer(_ id: String, _ o: CreateOptions) -> Int32 {
        let config: OCIConfig
        do { config = try OCIConfig.load(bundle: o.bundle) } catch { log.fail(error.description) }
        if config.terminal && o.consoleSocket == nil {
            log.fail("process.terminal is true: --console-socket is needed to pass the terminal's master on")
        }
        if !config.terminal, o.consoleSocket != nil {
            log.fail("--console-socket: process.terminal is false, so there is no terminal to pass")
        }
        do { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711]) } catch {
            log.fail("--root \(root): \(Self.fileErrorMessage(error))")
        }
        let dir = OCIState.directory(root: root, id: id)
        if mkdir(dir, 0o711) != 0 {
            if errno == EEXIST { log.fail("container \(id) already exists") }
            log.fail("\(dir): \(Errno(errno).message)")
        }
        func abandon(_ message: String) -> Never {
            try? FileManager.default.removeItem(atPath: dir)
            log.fail(message)
        }
        var state = OCIState(id: id, bundle: o.bundle)
        state.rootfs = config.sandbox.root
        state.annotations = config.annotations
        do { try state.save(root: root) } catch { abandon(error.description) }
        if mkfifo(dir + "/" + OCIState.fifoName, 0o600) != 0 { abandon("\(dir)/\(OCIState.fifoName): \(Errno(errno).message)") }

        var p: [Int32] = [0, 0]
        guard pipe(&p) == 0 else { abandon("pipe: \(Errno(errno).message)") }
        for fd in p { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var argv = ["sentry", "--root", root]
        if let path = log.path { argv += ["--log", path, "--log-format", log.json ? "json" : "text"] }
        argv += [Self.initCommand, "--bundle", o.bundle, "--ready-fd", "3"]
        if let s = o.consoleSocket { argv += ["--console-socket", s] }
        argv.append(id)
        let pid: Int32
        do { pid = try Self.spawnSelf(argv, passing: p[1], as: 3) } catch { abandon("starting the sentry: \(error.message)") }
        close(p[1])
        var reply: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(p[0], &buf, buf.count)
            if n > 0 { reply += buf[0..<n]; continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        close(p[0])
        let text = String(decoding: reply, as: UTF8.self)
        guard text == "ok\n" else {
            Glibc.kill(pid, SIGKILL)
            var st: Int32 = 0
            _ = waitpid(pid, &st, 0)
            abandon(text.isEmpty ? "the sentry exited before the container was created" : text.trimmingNewlines())
        }
        state.pid = pid
        state.pidStartTime = OCIState.procStat(pid)?.startTime ?? 0
        do { try state.save(root: root) } catch { abandon(error.description) }
        if let pidFile = o.pidFile {
            let tmp = pidFile + ".tmp-sentry"
            guard FileManager.default.createFile(atPath: tmp, contents: Data("\(pid)".utf8)), rename(tmp, pidFile) == 0 else {
                Glibc.kill(pid, SIGKILL)
                abandon("--pid-file \(pidFile): \(Errno(errno).message)")
            }
        }
        return pid
    }

    /// glibc's spawn.h, behind _GNU_SOURCE: the child calls setsid.
    static let POSIX_SPAWN_SETSID: Int32 = 0x80

    /// posix_spawn of this executable, in a session of its own, with
    /// default signal dispositions and no blocked signal; `fd` as `target`.
    static func spawnSelf(_ argv: [String], passing fd: Int32, as target: Int32) throws(Errno) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fd, target)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(Self.POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let cargs = argv.map { strdup($0.hostCString) } + [nil]
        defer { cargs.forEach { free($0) } }
        var pid: pid_t = 0
        // By its own name, so that ps and /proc/PID/comm say "sentry".
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, Int(PATH_MAX))
        let exe = n > 0 ? String(rawBytes: buf[0..<n].map { UInt8(bitPattern: $0) }) : "/proc/self/exe"
        let r = posix_spawn(&pid, exe.hostCString, &actions, &attr, cargs, environ)
        if r != 0 { throw Errno(r) }
        return pid
    }

    func start() -> Never {
        let f = parseFlags(valued: [:], switches: [:])
        let id = containerID(f)
        startContainer(loadState(id))
        exit(0)
    }

    /// Lets the held guest run: the sentry waits in open(2) on exec.fifo for
    /// a reader, writes one byte, and goes on; the fifo's removal marks the
    /// container running.
    func startContainer(_ state: OCIState) {
        let status = state.status(root: root)
        guard status == .created else { log.fail("cannot start container \(state.id): it is \(status.rawValue), not created") }
        let path = OCIState.directory(root: root, id: state.id) + "/" + OCIState.fifoName
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { log.fail("cannot start container \(state.id): \(path): \(Errno(errno).message)") }
        defer { close(fd) }
        var byte: UInt8 = 0
        while true {
            let n = read(fd, &byte, 1)
            if n == 1 { break }
            guard state.processAlive else { log.fail("cannot start container \(state.id): its sentry has exited") }
            // No writer yet (EOF) or none ready (EAGAIN): the sentry is about to open its end.
            usleep(1000)
        }
        unlink(path)
    }

    func kill() -> Never {
        let f = parseFlags(valued: [:], switches: ["all": "all", "a": "all"])
        let id = containerID(f, extra: 0...1)
        let sig = f.positional.count > 1 ? Self.parseSignal(f.positional[1]) : SIGTERM
        guard let sig else { log.fail("kill: unknown signal \(f.positional[1])") }
        let state = loadState(id)
        let status = state.status(root: root)
        guard status == .created || status == .running else { log.fail("cannot kill container \(id): it is \(status.rawValue)") }
        signalContainer(state, sig, all: f.switches.contains("all"))
        exit(0)
    }

    /// SIGKILL ends the sentry, and with it every guest process. Others go to
    /// the sentry, which passes them on to init (or to every process, for
    /// --all, told by sigqueue's value); before `start` the guest has not run,
    /// and the sentry ends as the signal would end a process.
    func signalContainer(_ state: OCIState, _ sig: Int32, all: Bool) {
        if sig == SIGKILL {
            if Glibc.kill(state.pid, SIGKILL) != 0 { log.fail("kill \(state.id): \(Errno(errno).message)") }
            return
        }
        guard Self.forwardedSignals.contains(sig) else {
            log.fail("kill: \(Signal(sig).name) cannot be sent into the sandbox (the sentry forwards \(Self.forwardedSignals.prefix(8).map { Signal($0).name }.joined(separator: ", ")), SIGRTMIN..SIGRTMAX and SIGKILL)")
        }
        var value = sigval()
        value.sival_int = all ? Self.killAllValue : 0
        if sigqueue(state.pid, sig, value) != 0 { log.fail("kill \(state.id): \(Errno(errno).message)") }
    }

    /// "TERM", "SIGTERM", "15", "SIGRTMIN+3".
    static func parseSignal(_ s: String) -> Int32? {
        if let n = Int32(s) { return (1...64).contains(n) ? n : nil }
        let name = s.uppercased().hasPrefix("SIG") ? s.uppercased() : "SIG" + s.uppercased()
        return (Int32(1)...64).first { Signal($0).name == name }
    }

    func delete() -> Never {
        let f = parseFlags(valued: [:], switches: ["force": "force", "f": "force"])
        let id = containerID(f)
        let dir = OCIState.directory(root: root, id: id)
        let state: OCIState
        do { state = try OCIState.load(root: root, id: id) } catch {
            // A container whose create failed half-way leaves at most its directory.
            if FileManager.default.fileExists(atPath: dir) { try? FileManager.default.removeItem(atPath: dir); exit(0) }
            // As runc: --force on a container that does not exist is no error (engines clean up after a failed create so).
            if f.switches.contains("force") { exit(0) }
            log.fail(error.description)
        }
        deleteContainer(state, force: f.switches.contains("force"))
        exit(0)
    }

    /// Stopped: its record goes. Created (as runc) or running with --force:
    /// the sentry is killed first, and waited for, so that no host process
    /// is left when delete returns.
    func deleteContainer(_ state: OCIState, force: Bool) {
        let status = state.status(root: root)
        if status == .running && !force { log.fail("cannot delete container \(state.id): it is running (stop it first, or --force)") }
        if status == .created || status == .running {
            _ = Glibc.kill(state.pid, SIGKILL)
            Self.awaitExit(state, seconds: 10)
            guard !state.processAlive else { log.fail("cannot delete container \(state.id): its sentry (pid \(state.pid)) did not exit") }
        }
        do { try FileManager.default.removeItem(atPath: OCIState.directory(root: root, id: state.id)) } catch {
            log.fail("delete \(state.id): \(Self.fileErrorMessage(error))")
        }
    }

    /// Polls until the sentry is gone (a zombie counts as gone: its parent reaps it).
    static func awaitExit(_ state: OCIState, seconds: Int) {
        for _ in 0..<(seconds * 200) where state.processAlive { usleep(5000) }
    }

    /// runc run: create, start, and (unless --detach) wait for the container,
    /// passing this process's signals on, then delete it; its exit status is
    /// the guest's.
    func runContainer() -> Never {
        let (o, f) = createFlags()
        let id = containerID(f)
        let detach = f.switches.contains("detach")
        // Blocked before the sentry exists, collected below with sigtimedwait.
        var set = sigset_t()
        sigemptyset(&set)
        for s in Self.forwardedSignals { sigaddset(&set, s) }
        if !detach { pthread_sigmask(SIG_BLOCK, &set, nil) }
        let pid = createContainer(id, o)
        var state = loadState(id)
        state.pid = pid
        startContainer(state)
        if detach { exit(0) }
        var status: Int32 = 0
        var timeout = timespec(tv_sec: 0, tv_nsec: 50_000_000)
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { break }
            let sig = sigtimedwait(&set, nil, &timeout)
            if sig > 0 { _ = Glibc.kill(pid, sig) }
        }
        if !f.switches.contains("keep") { try? FileManager.default.removeItem(atPath: OCIState.directory(root: root, id: id)) }
        // A signal that ended the sentry is the container's status, as a shell reports it.
        if status & 0x7f != 0 { exit(128 + (status & 0x7f)) }
        exit((status >> 8) & 0xff)
    }

    /// A FileManager error in one line: strerror's text for the POSIX error
    /// under it (Foundation's localized sentences need its string tables).
    static func fileErrorMessage(_ error: any Error) -> String {
        if let e = error as? CocoaError, let p = e.underlying as? POSIXError { return Errno(p.code.rawValue).message }
        return String(describing: error)
    }
}
