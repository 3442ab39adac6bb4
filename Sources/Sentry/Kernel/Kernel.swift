import Glibc
import Synchronization

/// Host signals the sentry passes on to the guest. A signal handler may only
/// touch async-signal-safe state: the pid to forward to.
let forwardSignalsTo = Atomic<Int32>(0)

/// One sandbox: a platform, a memory file, a filesystem view, a syscall
/// table, and the tasks running in it.
public final class Kernel {
    public let platform: Platform
    public let memory: MemoryFile
    public let layout: AddressLayout
    public let table: SyscallTable
    public let vfs: VFS
    public let tracer: Tracer?
    /// CLOCK_MONOTONIC at boot, for sysinfo's uptime.
    public let bootTime: timespec
    private var nextTID: Int32 = 1

    public init(platform: Platform, memory: MemoryFile, layout: AddressLayout, table: SyscallTable, vfs: VFS, tracer: Tracer?) {
        self.platform = platform; self.memory = memory; self.layout = layout
        self.table = table; self.vfs = vfs; self.tracer = tracer
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        bootTime = t
    }

    public enum StartError: Error, CustomStringConvertible {
        case load(LoadError)
        case platform(PlatformError)
        case guest(String, Errno)
        public var description: String {
            switch self {
            case .load(let e): return e.description
            case .platform(let e): return e.description
            case .guest(let what, let e): return "\(what): \(e.message)"
            }
        }
    }

    /// Creates the first task: a stub address space with `path` loaded, the
    /// sentry's stdin/stdout/stderr as fds 0-2. Must run on the thread that
    /// will run the task (the ptrace tracer thread).
    public func start(path guestPath: String, argv: [String], envp: [String], cwd: String) throws(StartError) -> Task {
        let (file, image) = try loadImage(guestPath)
        let space: AddressSpace, context: PlatformContext
        do {
            space = try platform.makeAddressSpace()
            context = try platform.makeContext()
        } catch { throw .platform(error) }
        let mm = MemoryManager(memory: memory, space: space, layout: layout)
        let loaded: Loader.Result
        do { loaded = try Loader.load(image, file: file, into: mm, argv: argv, envp: envp, execfn: guestPath) }
        catch {
            if let broken = mm.brokenReason { throw .platform(broken) }
            throw .guest("loading \(guestPath)", error)
        }
        if let broken = mm.brokenReason { throw .platform(broken) }

        var regs = Registers(raw: (space as? PtraceAddressSpace)?.initialRegisters.raw ?? Registers().raw)
        regs.raw.rax = 0; regs.raw.rbx = 0; regs.raw.rcx = 0; regs.raw.rdx = 0; regs.raw.rsi = 0; regs.raw.rdi = 0
        regs.raw.rbp = 0; regs.raw.r8 = 0; regs.raw.r9 = 0; regs.raw.r10 = 0; regs.raw.r11 = 0; regs.raw.r12 = 0
        regs.raw.r13 = 0; regs.raw.r14 = 0; regs.raw.r15 = 0; regs.raw.fs_base = 0; regs.raw.gs_base = 0
        regs.raw.orig_rax = UInt64.max
        regs.ip = loaded.entry.rawValue
        regs.sp = loaded.stackPointer.rawValue

        let fds = FDTable()
        for n in Int32(0)...2 {
            let dup = fcntl(n, F_DUPFD_CLOEXEC, 3)
            guard dup >= 0 else { continue }  // the sentry was started with it closed: so is the guest
            let acc = fcntl(n, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK)
            _ = try? fds.install(HostFile(fd: dup, flags: OpenFlags(rawValue: acc), root: nil, path: Self.stdioName(n)),
                                 at: FileDescriptor(n), closeOnExec: false)
        }
        let tid = nextTID
        nextTID += 1
        let task = Task(kernel: self, tid: tid, ppid: 0, mm: mm, fds: fds, context: context, regs: regs,
                        executablePath: guestPath, argv: argv, envp: envp, cwd: cwd)
        if let p = space as? PtraceAddressSpace { forwardSignalsTo.store(p.pid, ordering: .relaxed) }
        return task
    }

    private static func stdioName(_ n: Int32) -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let r = readlink("/proc/self/fd/\(n)", &buf, 4095)
        return r > 0 ? String(cString: buf) : "/dev/fd/\(n)"
    }

    /// Opens and validates an executable inside the guest's view.
    public func loadImage(_ guestPath: String) throws(StartError) -> (MappedFile, ELFImage) {
        let (pathFD, st) : (Int32, Glibc.stat)
        do { (pathFD, st) = try vfs.root.lookup(guestPath) } catch {
            throw error == .ENOENT || error == .ENOTDIR ? .load(.notFound(guestPath)) : .load(.unreadable(guestPath, error))
        }
        defer { close(pathFD) }
        guard st.st_mode & S_IFMT == S_IFREG else { throw .load(.unreadable(guestPath, st.st_mode & S_IFMT == S_IFDIR ? .EISDIR : .EACCES)) }
        let fd: Int32
        do { fd = try vfs.root.reopen(pathFD, flags: O_RDONLY) } catch { throw .load(.unreadable(guestPath, error)) }
        defer { close(fd) }
        // The header and program headers are all the validation needs, but
        // segment bounds are checked against the real size: read it all.
        let size = Int(st.st_size)
        var data = [UInt8](repeating: 0, count: size)
        var got = 0
        while got < size {
            let n = data.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, size - got, off_t(got)) }
            if n <= 0 { break }
            got += n
        }
        if got < size { data.removeLast(size - got) }
        let image: ELFImage
        do { image = try ELFImage(data, path: guestPath) } catch { throw .load(error) }
        do { return (try MappedFile(duplicating: fd, path: guestPath), image) } catch { throw .load(.unreadable(guestPath, error)) }
    }

    /// Runs one trapped syscall through the table.
    func dispatch(_ task: Task) {
        let nr = task.regs.syscallNumber
        let args = task.regs.syscallArguments
        let entry = table[nr]
        let tracing = tracer?.wants(nr: nr, entry) ?? false
        let pre = tracing ? tracer!.enter(task, nr: nr, entry, args) : nil
        task.registersReplaced = false
        var result: Int64
        // int $0x80 also stops under PTRACE_SYSEMU; its numbers are the i386 ABI's.
        if Self.isInt80(task) {
            result = -Int64(Errno.ENOSYS.rawValue)
        } else if let handler = entry?.handler {
            do { result = try handler(task, args) } catch { result = -Int64(error.rawValue) }
        } else {
            result = -Int64(Errno.ENOSYS.rawValue)
        }
        if !task.registersReplaced { task.regs.returnValue = UInt64(bitPattern: result) }
        if let pre { tracer!.exit(task, pre, result: result, exiting: task.exitStatus != nil) }
    }

    /// The host pid whose CPU time is the task's (the ptrace stub).
    public func hostPID(of task: Task) -> Int32? {
        (task.mm.addressSpace as? PtraceAddressSpace)?.pid
    }

    private static func isInt80(_ task: Task) -> Bool {
        guard let b = try? task.mm.copyIn(GuestAddress(task.regs.ip &- 2), 2) else { return false }
        return b[0] == 0xcd && b[1] == 0x80
    }

    /// Forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to the sentry to the
    /// guest, so Ctrl-C and `kill` act on it as they would natively. SIGPIPE
    /// is ignored: a broken pipe is the guest's EPIPE, not the sentry's death.
    public static func installHostSignalForwarding() {
        signal(SIGPIPE, SIG_IGN)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
            signal(s) { sig in
                let pid = forwardSignalsTo.load(ordering: .relaxed)
                if pid > 0 { kill(pid, sig) }
            }
        }
    }
}
