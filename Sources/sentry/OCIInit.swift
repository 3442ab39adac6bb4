import CSwitch
import Glibc
import Sentry
import Synchronization
import Syscalls

/// The container's sentry process (`sentry oci-init`, started by create in
/// a session of its own, as runc's init). Its pid is the one in --pid-file
/// and in `state`: engines wait for it, and its exit status is the guest
/// init's (128+N if signal N ended it). It builds the sandbox, loads the
/// program, reports to create through the ready descriptor, then waits on
/// exec.fifo until `start` with the guest held before its first
/// instruction. Host signals it is sent go to the guest (see
/// OCICommand.forwardedSignals); SIGKILL ends it, and its stubs die with it.
enum OCIInit {
    /// Set once the guest may run: a signal before that ends the sentry.
    static let started = Atomic<Bool>(false)

    static func main(_ args: [String], root: String, log: OCILog) -> Never {
        var bundle = "", readyFD: Int32 = -1, consoleSocket: String?, id = ""
        var i = 0
        while i + 1 < args.count && args[i].hasPrefix("--") {
            switch args[i] {
            case "--bundle": bundle = args[i + 1]
            case "--ready-fd": readyFD = Int32(args[i + 1]) ?? -1
            case "--console-socket": consoleSocket = args[i + 1]
            default: log.fail("oci-init: unknown flag \(args[i]) (this command is create's, not for use by hand)")
            }
            i += 2
        }
        if i < args.count { id = args[i] }
        guard readyFD >= 0, !bundle.isEmpty, !id.isEmpty else { log.fail("oci-init is started by create, not by hand") }
        _ = fcntl(readyFD, F_SETFD, FD_CLOEXEC)

        /// A failure before the guest is ready goes back to create, which reports it.
        func refuse(_ message: String) -> Never {
            var m = message + "\n"
            m.withUTF8 { _ = write(readyFD, $0.baseAddress, $0.count) }
            exit(1)
        }

        let config: OCIConfig
        do { config = try OCIConfig.load(bundle: bundle) } catch { refuse(error.description) }
        for note in config.notes { log.warn(note) }

        // Joined before any thread exists: a thread's network namespace is
        // the one its creator had, and the host sockets of --network=host
        // are opened by the task threads.
        if let ns = config.networkNamespace {
            let fd = open(ns, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { refuse("linux.namespaces network \(ns): \(Errno(errno).message)") }
            let r = sw_setns_net(fd)
            guard r == 0 else { refuse("linux.namespaces network \(ns): setns: \(Errno(-r).message)") }
            close(fd)
        }
        if let adj = config.oomScoreAdj {
            let fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC)
            var s = "\(adj)"
            if fd < 0 || s.withUTF8({ write(fd, $0.baseAddress, $0.count) }) < 0 { refuse("process.oomScoreAdj \(adj): \(Errno(errno).message)") }
            close(fd)
        }
        if config.terminal {
            guard let consoleSocket else { refuse("process.terminal: no --console-socket") }
            do { try Self.setUpConsole(consoleSocket) } catch { refuse("--console-socket \(consoleSocket): \(error.description)") }
        }
        let tracer: Tracer?
        if config.strace {
            var fd: Int32 = 2
            if let out = config.straceOutput {
                fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                if fd < 0 { refuse("annotation \(OCIConfig.straceOutputAnnotation) \(out): \(Errno(errno).message)") }
            }
            tracer = Tracer(fd: fd, options: TraceOptions())
        } else {
            tracer = nil
        }

        // Every thread made from here on inherits these blocked; one thread
        // takes the forwarded ones with sigwaitinfo.
        Kernel.blockStubExitSignals()
        var forwarded = sigset_t()
        sigemptyset(&forwarded)
        for s in OCICommand.forwardedSignals { sigaddset(&forwarded, s) }
        pthread_sigmask(SIG_BLOCK, &forwarded, nil)
        signal(SIGPIPE, SIG_IGN)

        var sc = config.sandbox
        sc.tracer = tracer
        let sandbox: Sandbox
        do { sandbox = try Sandbox(sc, table: linuxAMD64) } catch { refuse(error.description) }
        let kernel = sandbox.kernel
        guard sandbox.isDirectory(config.cwd) else { refuse("process.cwd \(config.cwd): no such directory in the container") }
        let program = sandbox.resolveProgram(config.args[0], cwd: config.cwd, env: config.env)
        _ = ThreadGroup.startingLimits
        RunOptions.raiseDescriptorLimit()
        let task: Task
        do { task = try kernel.start(path: program, argv: config.args, envp: config.env, cwd: config.cwd) } catch {
            refuse(describe(error, config.args[0]))
        }
        if !config.rlimits.isEmpty { task.group.limits.withLock { for (r, l) in config.rlimits { $0[r] = l } } }
        if config.noNewPrivileges { task.attributes.withLock { $0.noNewPrivs = true } }
        if let why = applySeccomp(config, to: task, log: log) { refuse(why) }

        let execSocket = OCIState.directory(root: root, id: id) + "/" + OCIExec.socketName
        do { try OCIExec.serve(at: execSocket, sandbox: sandbox, defaults: config, log: log) } catch {
            refuse("\(execSocket): \(error.message)")
        }
        let signals = forwarded
        do { try HostThread.spawn { forward(signals, kernel) } } catch { refuse("starting the signal forwarder: \(error.message)") }
        // Built, loaded and listening: from here on the same filter as
        // `sentry run`, with the socket calls the exec socket needs. The
        // annotation's log or off wins, else the engine's SENTRY_SELF_CONFINE.
        let mode = config.selfConfine != .on ? config.selfConfine : RunOptions.selfConfineMode(off: false)
        let names = linuxAMD64.numbersByName()
        do { try sandbox.confine(mode, serviceSocket: true) { names[$0] } } catch {
            refuse("confining the sentry (seccomp): \(error.message); annotation \(OCIConfig.selfConfineAnnotation)=off runs without")
        }
        #if DEBUG
        RunOptions.testForbiddenSyscall()
        #endif
        var ok = "ok\n"
        ok.withUTF8 { _ = write(readyFD, $0.baseAddress, $0.count) }
        close(readyFD)

        // Held until `start` opens the fifo for reading.
        let fifo = OCIState.directory(root: root, id: id) + "/" + OCIState.fifoName
        let fd = open(fifo, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { log.fail("\(fifo): \(Errno(errno).message)") }
        var go: UInt8 = 0x30
        _ = write(fd, &go, 1)
        close(fd)
        started.store(true, ordering: .releasing)
        log.write("info", "container \(id) started")

        let status = kernel.run(task)
        tracer?.finish()
        exit(status.shellStatus)
    }

    /// Why process.args[0] cannot start, in the words runc uses, which
    /// engines match to pick the status (podman: 127 not found, 126 not
    /// executable).
    static func describe(_ e: Kernel.StartError, _ arg0: String) -> String {
        if case .load(let l) = e {
            switch l {
            case .notFound: return "exec: \"\(arg0)\": executable file not found in $PATH: no such file or directory"
            case .notExecutable, .unreadable: return "exec: \"\(arg0)\": permission denied (\(l.description))"
            default: break
            }
        }
        return "process.args[0] \(arg0): \(e.description)"
    }

    /// The signal thread: a signal from the host goes to the guest's init
    /// (or to every guest process when sigqueue's value asks, `kill --all`);
    /// before `start`, it ends the sentry as it would end any process.
    static func forward(_ set: sigset_t, _ kernel: Kernel) {
        var s = set
        while true {
            var info = siginfo_t()
            let sig = sigwaitinfo(&s, &info)
            guard sig > 0 else { continue }
            if !started.load(ordering: .acquiring) {
                signal(sig, SIG_DFL)
                var one = sigset_t()
                sigemptyset(&one)
                sigaddset(&one, sig)
                pthread_sigmask(SIG_UNBLOCK, &one, nil)
                raise(sig)
                exit(128 + sig)
            }
            let all = sw_siginfo_code(&info) == SI_QUEUE && sw_siginfo_value_int(&info) == OCICommand.killAllValue
            kernel.signalFromHost(Signal(sig), all: all)
        }
    }

    /// process.terminal: a host pty whose slave is the sentry's (and so the
    /// guest's) stdin, stdout and stderr and controlling terminal.
    static func setUpConsole(_ socketPath: String) throws(Errno) {
        let slave = try openConsole(sendingMasterTo: socketPath)
        for n in Int32(0)...2 { guard dup2(slave, n) == n else { throw Errno(errno) } }
        close(slave)
        // The sentry is a session leader (create spawned it with setsid): the pty becomes its terminal.
        _ = ioctl(0, UInt(TIOCSCTTY), 0)
    }

    /// The host's pty ioctls (asm-generic/ioctls.h), for the console the sentry opens on the host.
    static let TIOCSPTLCK: UInt = 0x4004_5431, TIOCGPTN: UInt = 0x8004_5430

    /// A new host pty: its master goes to the engine over the console
    /// socket with SCM_RIGHTS, as runc sends it (the payload is the
    /// terminal's name); the slave is returned.
    static func openConsole(sendingMasterTo socketPath: String) throws(Errno) -> Int32 {
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw Errno(errno) }
        defer { close(master) }
        var unlock: Int32 = 0, number: UInt32 = 0
        guard sw_ioctl_ptr(master, Self.TIOCSPTLCK, &unlock) == 0, sw_ioctl_ptr(master, Self.TIOCGPTN, &number) == 0 else { throw Errno(errno) }
        let slavePath = "/dev/pts/\(number)"
        let slave = open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else { throw Errno(errno) }
        do {
            let sock = try OCISocket.connect(socketPath, type: Int32(SOCK_STREAM.rawValue))
            defer { close(sock) }
            try OCISocket.send(sock, Array(slavePath.utf8), fds: [master])
        } catch {
            close(slave)
            throw error
        }
        return slave
    }

    /// linux.seccomp as the process's guest filter, before its first
    /// instruction (runc's order: after no_new_privs); nil, or why not.
    static func applySeccomp(_ config: OCIConfig, to task: Task, log: OCILog) -> String? {
        guard let profile = config.seccomp else { return nil }
        do {
            let (program, unknown) = try profile.compile { linuxAMD64.number(of: $0).map { UInt64($0) } }
            if !unknown.isEmpty {
                log.warn("linux.seccomp: left out \(unknown.count) names x86-64 has no syscall for: \(unknown.joined(separator: " "))")
            }
            try task.attachRuntimeFilter(program, log: profile.log)
            return nil
        } catch let e as OCIError {
            return e.description
        } catch {
            return "linux.seccomp: the compiled filter was refused (\(error))"
        }
    }
}
