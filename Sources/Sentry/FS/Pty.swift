import CSwitch
import Glibc
import Synchronization

/// struct termios as the TCGETS family passes it (the kernel's 36 bytes).
struct Termios: Sendable, Equatable {
    var iflag: UInt32, oflag: UInt32, cflag: UInt32, lflag: UInt32
    var line: UInt8 = 0
    var cc: [UInt8]

    // The flag bits the line discipline acts on (asm-generic/termbits.h).
    static let IGNCR: UInt32 = 0o200, ICRNL: UInt32 = 0o400, INLCR: UInt32 = 0o100, ISTRIP: UInt32 = 0o40, IXON: UInt32 = 0o2000
    static let OPOST: UInt32 = 0o1, ONLCR: UInt32 = 0o4
    static let B38400: UInt32 = 0o17, CS8: UInt32 = 0o60, CREAD: UInt32 = 0o200, HUPCL: UInt32 = 0o2000
    static let ISIG: UInt32 = 0o1, ICANON: UInt32 = 0o2, ECHO: UInt32 = 0o10, ECHOE: UInt32 = 0o20, ECHOK: UInt32 = 0o40
    static let ECHONL: UInt32 = 0o100, NOFLSH: UInt32 = 0o200, TOSTOP: UInt32 = 0o400, ECHOCTL: UInt32 = 0o1000, ECHOKE: UInt32 = 0o4000, IEXTEN: UInt32 = 0o100000
    static let VINTR = 0, VQUIT = 1, VERASE = 2, VKILL = 3, VEOF = 4, VTIME = 5, VMIN = 6, VSUSP = 10, VEOL = 11, VEOL2 = 16

    /// tty_std_termios with INIT_C_CC, and pty.c's cflag for the slave.
    static func standard() -> Termios {
        let cc: [UInt8] = [0o3, 0o34, 0o177, 0o25, 0o4, 0, 1, 0, 0o21, 0o23, 0o32, 0, 0o22, 0o17, 0o27, 0o26, 0, 0, 0]
        return Termios(iflag: ICRNL | IXON, oflag: OPOST | ONLCR, cflag: B38400 | CS8 | CREAD,
                       lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN, cc: cc)
    }

    var bytes: [UInt8] {
        var b = [UInt8](repeating: 0, count: 36)
        b.store(iflag, at: 0); b.store(oflag, at: 4); b.store(cflag, at: 8); b.store(lflag, at: 12)
        b[16] = line
        for (i, c) in cc.prefix(19).enumerated() { b[17 + i] = c }
        return b
    }

    init(iflag: UInt32, oflag: UInt32, cflag: UInt32, lflag: UInt32, cc: [UInt8]) {
        self.iflag = iflag; self.oflag = oflag; self.cflag = cflag; self.lflag = lflag; self.cc = cc
    }

    init(_ b: [UInt8]) {
        iflag = b.load(UInt32.self, at: 0); oflag = b.load(UInt32.self, at: 4)
        cflag = b.load(UInt32.self, at: 8); lflag = b.load(UInt32.self, at: 12)
        line = b[16]
        cc = Array(b[17..<36])
    }
}

/// A pseudo-terminal pair (/dev/ptmx and /dev/pts/N): what the master
/// writes goes through the slave's line discipline (canonical lines,
/// erase and kill, echo, CR/NL mapping, ^C ^\ ^Z as signals to the
/// terminal's foreground process group) to the slave's reader; what the
/// slave writes goes through output processing (ONLCR) to the master.
/// One lock guards the pair; `events` is notified on every change.
/// Sendable: both ends' state behind `state`.
final class Pty: @unchecked Sendable {
    let index: Int32
    /// Whose process groups its input and resizes signal. Only the
    /// kernel's own tasks write to a pty or resize it, so the kernel
    /// outlives every use. Not weak: a weak reference gives the kernel a
    /// side table, and then every retain of it, by every task on every
    /// call, takes the runtime's slow path.
    unowned(unsafe) let kernel: Kernel?
    /// Both ends' readiness. Its O_ASYNC signals are n_tty's (`kill`), not one per notify.
    let events = WaitQueue(signalsOnNotify: false)
    /// Bytes either direction holds before a writer waits.
    static let bufferLimit = 65536

    struct State {
        /// The terminal's settings. The master's termios calls reach these
        /// too, as tty_mode_ioctl sends a pty master's to its slave.
        var slaveTermios = Termios.standard()
        var winsize: [UInt8] = Array(repeating: 0, count: 8)
        /// Input the slave can read: raw bytes, or completed lines in canonical mode.
        var input: [UInt8] = []
        /// Where each completed canonical line ends in `input` (an EOF is an empty line).
        var lineEnds: [Int] = []
        /// The canonical line being edited.
        var editing: [UInt8] = []
        var output: [UInt8] = []
        var locked = true
        var masterOpen = true
        var slaveOpens = 0
        var slaveEverOpened = false
        var foregroundPGID: Int32 = 0
        var session: Int32 = 0
        var ownerUID: UInt32 = 0
        /// A write on that end stopped short with O_ASYNC on (TTY_DO_WRITE_WAKEUP):
        /// room made by the other end's read signals it POLL_OUT once.
        var masterWriteWakeup = false, slaveWriteWakeup = false
    }
    let state: Mutex<State>

    init(index: Int32, kernel: Kernel?, owner: UInt32) {
        self.index = index
        self.kernel = kernel
        var s = State()
        s.ownerUID = owner
        state = Mutex(s)
    }

    var canonical: Bool { state.withLock { $0.slaveTermios.lflag & Termios.ICANON != 0 } }

    /// The pair as a checkpoint keeps it (the slaves' open count is the
    /// image's slave files, counted again as the restore opens them).
    func checkpointImage(store: ([UInt8]) throws(CheckpointError) -> StoredRun) throws(CheckpointError) -> PtyImage {
        let s = state.withLock { $0 }
        return PtyImage(index: index, termios: s.slaveTermios.bytes, winsize: s.winsize, input: try store(s.input), lineEnds: s.lineEnds,
                        editing: try store(s.editing), output: try store(s.output), locked: s.locked, masterOpen: s.masterOpen,
                        slaveEverOpened: s.slaveEverOpened, foregroundPGID: s.foregroundPGID, session: s.session, ownerUID: s.ownerUID)
    }

    /// A restored pair, with no end open yet.
    init(restoring image: PtyImage, input: [UInt8], editing: [UInt8], output: [UInt8], kernel: Kernel?) {
        index = image.index
        self.kernel = kernel
        var s = State()
        s.slaveTermios = Termios(image.termios)
        s.winsize = image.winsize
        s.input = input; s.lineEnds = image.lineEnds; s.editing = editing; s.output = output
        s.locked = image.locked; s.masterOpen = image.masterOpen; s.slaveEverOpened = image.slaveEverOpened
        s.foregroundPGID = image.foregroundPGID; s.session = image.session; s.ownerUID = image.ownerUID
        state = Mutex(s)
    }

    // MARK: Master to slave: the line discipline's input side.

    func masterWrite(_ data: [UInt8], async: Bool = false) throws(Errno) -> Int {
        var signals: [(Signal, Int32)] = []
        var lines = 0, echoed = false, rawInput = false
        let n = try state.withLock { (s: inout State) throws(Errno) -> Int in
            let outputBefore = s.output.count, linesBefore = s.lineEnds.count
            defer {
                lines = s.lineEnds.count - linesBefore
                echoed = s.output.count != outputBefore
            }
            if s.input.count + s.editing.count >= Self.bufferLimit {
                if async { s.masterWriteWakeup = true }
                throw .EAGAIN
            }
            let t = s.slaveTermios
            rawInput = t.lflag & Termios.ICANON == 0
            var taken = 0
            for var c in data {
                if s.input.count + s.editing.count >= Self.bufferLimit { break }
                taken += 1
                if t.iflag & Termios.ISTRIP != 0 { c &= 0x7f }
                if c == 13 {
                    if t.iflag & Termios.IGNCR != 0 { continue }
                    if t.iflag & Termios.ICRNL != 0 { c = 10 }
                } else if c == 10 && t.iflag & Termios.INLCR != 0 {
                    c = 13
                }
                if t.lflag & Termios.ISIG != 0, c != 0 {
                    let sig: Signal? = c == t.cc[Termios.VINTR] ? .SIGINT : c == t.cc[Termios.VQUIT] ? .SIGQUIT
                        : c == t.cc[Termios.VSUSP] ? .SIGTSTP : nil
                    if let sig {
                        if t.lflag & Termios.NOFLSH == 0 { s.input = []; s.lineEnds = []; s.editing = [] }
                        if t.lflag & Termios.ECHO != 0 { echo(&s, c) }
                        signals.append((sig, s.foregroundPGID))
                        continue
                    }
                }
                if t.lflag & Termios.ICANON != 0 {
                    if c == t.cc[Termios.VERASE] && c != 0 {
                        if !s.editing.isEmpty {
                            s.editing.removeLast()
                            if t.lflag & Termios.ECHO != 0 && t.lflag & Termios.ECHOE != 0 { s.output += [8, 32, 8] }
                        }
                        continue
                    }
                    if c == t.cc[Termios.VKILL] && c != 0 {
                        let n = s.editing.count
                        s.editing = []
                        if t.lflag & Termios.ECHO != 0 && t.lflag & Termios.ECHOK != 0 {
                            for _ in 0..<n { s.output += [8, 32, 8] }
                        }
                        continue
                    }
                    if c == t.cc[Termios.VEOF] && c != 0 {
                        s.input += s.editing; s.editing = []
                        s.lineEnds.append(s.input.count)
                        continue
                    }
                    if t.lflag & Termios.ECHO != 0 || (c == 10 && t.lflag & Termios.ECHONL != 0) { echo(&s, c) }
                    s.editing.append(c)
                    if c == 10 || (c == t.cc[Termios.VEOL] && c != 0) || (c == t.cc[Termios.VEOL2] && c != 0) {
                        s.input += s.editing; s.editing = []
                        s.lineEnds.append(s.input.count)
                    }
                } else {
                    if t.lflag & Termios.ECHO != 0 { echo(&s, c) }
                    s.input.append(c)
                }
            }
            if taken < data.count && async { s.masterWriteWakeup = true }
            rawInput = rawInput && !s.input.isEmpty
            return taken
        }
        events.notify()
        // n_tty: POLL_IN to the slave for each line completed (canonical) or
        // once for input taken (raw); the echo is input for the master's own n_tty.
        for _ in 0..<(rawInput ? 1 : lines) { signal(.input, master: false) }
        if echoed { signal(.input, master: true) }
        if let kernel { for (sig, pgid) in signals where pgid > 0 { kernel.signalProcessGroup(pgid, sig) } }
        return n
    }

    /// Echo of one input byte, control characters as ^X with ECHOCTL.
    private func echo(_ s: inout State, _ c: UInt8) {
        let t = s.slaveTermios
        if c < 32 && c != 9 && c != 10 && t.lflag & Termios.ECHOCTL != 0 {
            s.output += [94, c + 64]
        } else {
            output(&s, [c])
        }
    }

    /// Output processing of the slave's termios.
    private func output(_ s: inout State, _ data: [UInt8]) {
        let t = s.slaveTermios
        if t.oflag & Termios.OPOST != 0 && t.oflag & Termios.ONLCR != 0 {
            for c in data { if c == 10 { s.output += [13, 10] } else { s.output.append(c) } }
        } else {
            s.output += data
        }
    }

    // MARK: Slave to master.

    func slaveWrite(_ data: [UInt8], async: Bool = false) throws(Errno) -> Int {
        let n = try state.withLock { (s: inout State) throws(Errno) -> Int in
            if !s.masterOpen { throw .EIO }
            if s.output.count >= Self.bufferLimit {
                if async { s.slaveWriteWakeup = true }
                throw .EAGAIN
            }
            let take = min(data.count, Self.bufferLimit - s.output.count)
            output(&s, Array(data.prefix(take)))
            if take < data.count && async { s.slaveWriteWakeup = true }
            return take
        }
        events.notify()
        if n > 0 { signal(.input, master: true) }
        return n
    }

    /// kill_fasync on one end's tty, from a read or write of the guest's
    /// (no leaf lock held: sent at once, as the ISIG signals are).
    private func signal(_ e: AsyncEvent, master: Bool) {
        events.kill(e, now: true) { ($0 as? PtyEnd)?.master == master }
    }

    /// A read made room in the direction the other end writes: its writer,
    /// if a write of its stopped short, hears POLL_OUT (pty_unthrottle's
    /// tty_wakeup, n_tty_write_wakeup).
    private func roomForWriter(master: Bool) {
        let wanted = state.withLock { s -> Bool in
            if master { defer { s.masterWriteWakeup = false }; return s.masterWriteWakeup }
            defer { s.slaveWriteWakeup = false }
            return s.slaveWriteWakeup
        }
        if wanted { signal(.output, master: master) }
    }

    /// What the slave reads: one line at most in canonical mode, else what there is.
    func slaveRead(_ max: Int) throws(Errno) -> [UInt8] {
        let out = try state.withLock { (s: inout State) throws(Errno) -> [UInt8] in
            let t = s.slaveTermios
            if t.lflag & Termios.ICANON != 0 {
                guard let end = s.lineEnds.first else {
                    if !s.masterOpen { return [] }
                    throw .EAGAIN
                }
                let n = min(max, end)
                let line = Array(s.input.prefix(n))
                s.input.removeFirst(n)
                if n == end { s.lineEnds.removeFirst() }
                s.lineEnds = s.lineEnds.map { $0 - n }
                return line
            }
            if s.input.isEmpty {
                if !s.masterOpen || t.cc[Termios.VMIN] == 0 { return [] }
                throw .EAGAIN
            }
            let n = min(max, s.input.count)
            defer { s.input.removeFirst(n) }
            return Array(s.input.prefix(n))
        }
        events.notify()
        if !out.isEmpty { roomForWriter(master: true) }
        return out
    }

    func masterRead(_ max: Int) throws(Errno) -> [UInt8] {
        let out = try state.withLock { (s: inout State) throws(Errno) -> [UInt8] in
            if s.output.isEmpty {
                if s.slaveEverOpened && s.slaveOpens == 0 { throw .EIO }
                throw .EAGAIN
            }
            let n = min(max, s.output.count)
            defer { s.output.removeFirst(n) }
            return Array(s.output.prefix(n))
        }
        events.notify()
        if !out.isEmpty { roomForWriter(master: false) }
        return out
    }

    func slaveReadable() -> Bool {
        state.withLock { s in
            !s.masterOpen || (s.slaveTermios.lflag & Termios.ICANON != 0 ? !s.lineEnds.isEmpty : !s.input.isEmpty)
        }
    }
}

extension Kernel {
    /// A terminal's signal to its foreground process group.
    func signalProcessGroup(_ pgid: Int32, _ sig: Signal) {
        locked {
            for g in groups.values where g.pgid == pgid && !g.zombie {
                var info = SignalInfo(sig, code: SignalInfo.SI_KERNEL)
                info.pid = 0
                sendLocked(info, to: g)
            }
        }
    }
}

/// The ptys of a sandbox, by index (/dev/pts).
final class PtyTable: Sendable {
    private let table = Mutex<[Int32: Pty]>([:])

    func open(kernel: Kernel?, owner: UInt32) -> Pty {
        table.withLock { t in
            var i: Int32 = 0
            while t[i] != nil { i += 1 }
            let p = Pty(index: i, kernel: kernel, owner: owner)
            t[i] = p
            return p
        }
    }
    func get(_ i: Int32) -> Pty? { table.withLock { $0[i] } }
    /// A restored pair at its own index (false: the index is taken). One
    /// whose master was closed is in no table, as `remove` left it.
    func adopt(_ p: Pty) -> Bool {
        table.withLock { t in
            guard t[p.index] == nil else { return false }
            t[p.index] = p
            return true
        }
    }
    var indices: [Int32] { table.withLock { $0.keys.sorted() } }
    func remove(_ p: Pty) { table.withLock { if $0[p.index] === p { $0[p.index] = nil } } }
}

/// One end of a pty, as an open file.
/// Sendable: only `let`s; the pty guards both ends' state.
final class PtyEnd: FileDescription, @unchecked Sendable {
    let pty: Pty
    let master: Bool
    let table: PtyTable

    init(_ pty: Pty, master: Bool, table: PtyTable, flags: OpenFlags) {
        self.pty = pty
        self.master = master
        self.table = table
        super.init(flags: flags)
        if !master { pty.state.withLock { $0.slaveOpens += 1; $0.slaveEverOpened = true } }
    }

    deinit {
        if master {
            pty.state.withLock { $0.masterOpen = false }
            table.remove(pty)
        } else {
            pty.state.withLock { $0.slaveOpens -= 1 }
        }
        pty.events.notify()
    }

    override var displayPath: String { master ? "/dev/ptmx" : "/dev/pts/\(pty.index)" }
    override var waitQueue: WaitQueue? { pty.events }

    override func readiness(_ mask: Int16) -> Int16 {
        var r: Int16 = 0
        if master {
            let (out, hup) = pty.state.withLock { (!$0.output.isEmpty, $0.slaveEverOpened && $0.slaveOpens == 0) }
            if out { r |= Int16(POLLIN | POLLRDNORM) }
            if hup { r |= Int16(POLLHUP) }
            r |= Int16(POLLOUT | POLLWRNORM)
        } else {
            if pty.slaveReadable() { r |= Int16(POLLIN | POLLRDNORM) }
            if pty.state.withLock({ !$0.masterOpen }) { r |= Int16(POLLHUP) } else { r |= Int16(POLLOUT | POLLWRNORM) }
        }
        return r & (mask | Int16(POLLHUP))
    }

    /// __tty_check_change for the slave: a background process of the
    /// terminal's session reading it (SIGTTIN), or writing under TOSTOP or
    /// changing its settings (SIGTTOU).
    private func jobControl(_ sig: Signal) throws(Errno) {
        guard !master, let t = Task.current else { return }
        let (session, fg) = pty.state.withLock { ($0.session, $0.foregroundPGID) }
        try t.terminalJobControl(session: session, foreground: fg, sig)
    }

    override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        try jobControl(.SIGTTIN)
        let room = bufs.reduce(0) { $0 + $1.count }
        if room == 0 { return 0 }
        let data = master ? try pty.masterRead(room) : try pty.slaveRead(room)
        return data.withUnsafeBytes { Self.scatter($0, into: bufs) }
    }

    override func write(from bufs: [UnsafeRawBufferPointer]) throws(Errno) -> Int {
        if pty.state.withLock({ $0.slaveTermios.lflag & Termios.TOSTOP != 0 }) { try jobControl(.SIGTTOU) }
        var data: [UInt8] = []
        for b in bufs { data += b }
        if data.isEmpty { return 0 }
        // A non-blocking write that stops short leaves the wake-up asked for; a blocking one goes on until done.
        let async = flags.contains(.async) && flags.contains(.nonBlock)
        return master ? try pty.masterWrite(data, async: async) : try pty.slaveWrite(data, async: async)
    }

    override func stat() throws(Errno) -> Glibc.stat {
        if master { return PtmxNode.ptmxStat }
        return PtsNode.stat(pty)
    }

    // The terminal ioctls (tty_ioctl and pty_unix98_ioctl).
    override func ioctl(_ request: UInt64, argument: GuestAddress, mm: MemoryManager) throws(Errno) -> Int64 {
        switch request {
        case Ioctl.TCGETS:
            try mm.copyOut(argument, pty.state.withLock { $0.slaveTermios }.bytes)
        case Ioctl.TCSETS, Ioctl.TCSETSW, Ioctl.TCSETSF:
            try jobControl(.SIGTTOU)
            let t = Termios(try mm.copyIn(argument, 36))
            pty.state.withLock { s in
                let wasCanonical = s.slaveTermios.lflag & Termios.ICANON != 0
                s.slaveTermios = t
                // Leaving canonical mode makes the line being edited readable.
                if wasCanonical && t.lflag & Termios.ICANON == 0 { s.input += s.editing; s.editing = []; s.lineEnds = [] }
                if request == Ioctl.TCSETSF { s.input = []; s.lineEnds = []; s.editing = [] }
            }
            pty.events.notify()
        case Ioctl.TIOCGWINSZ:
            try mm.copyOut(argument, pty.state.withLock { $0.winsize })
        case Ioctl.TIOCSWINSZ:
            let w = try mm.copyIn(argument, 8)
            let (changed, fg) = pty.state.withLock { s -> (Bool, Int32) in
                defer { s.winsize = w }
                return (s.winsize != w, s.foregroundPGID)
            }
            if changed && fg > 0 { pty.kernel?.signalProcessGroup(fg, .SIGWINCH) }
        case Ioctl.FIONREAD:
            let n = pty.state.withLock { s in master ? s.output.count : (s.slaveTermios.lflag & Termios.ICANON != 0 ? (s.lineEnds.last ?? 0) : s.input.count) }
            try mm.write(argument, Int32(n))
        case Ioctl.TIOCOUTQ:
            try mm.write(argument, Int32(0))
        case Ioctl.TIOCGETD:
            try mm.write(argument, Int32(0))   // N_TTY
        case Ioctl.TCSBRK, Ioctl.TCXONC:
            break
        case Ioctl.TCFLSH:
            try jobControl(.SIGTTOU)
            let which = argument.rawValue
            guard which <= 2 else { throw .EINVAL }
            pty.state.withLock { s in
                if which != 1 { if master { s.output = [] } else { s.input = []; s.lineEnds = []; s.editing = [] } }
                if which != 0 { if master { s.input = []; s.lineEnds = []; s.editing = [] } else { s.output = [] } }
            }
            pty.events.notify()
        case Ioctl.TIOCGPTN:
            guard master else { throw .ENOTTY }
            try mm.write(argument, UInt32(pty.index))
        case Ioctl.TIOCSPTLCK:
            guard master else { throw .ENOTTY }
            let v = try mm.read(argument, as: Int32.self)
            pty.state.withLock { $0.locked = v != 0 }
        case Ioctl.TIOCGPTLCK:
            guard master else { throw .ENOTTY }
            try mm.write(argument, Int32(pty.state.withLock { $0.locked } ? 1 : 0))
        case Ioctl.TIOCGPTPEER:
            guard master, let t = Task.current else { throw .ENOTTY }
            let f = try PtsNode.openSlave(pty, table: table, flags: OpenFlags(rawValue: Int32(truncatingIfNeeded: argument.rawValue)))
            return Int64(try t.fds.install(f, closeOnExec: argument.rawValue & UInt64(O_CLOEXEC) != 0).rawValue)
        case Ioctl.TIOCSCTTY:
            guard let t = Task.current else { throw .ENOTTY }
            let (pid, sid, pgid) = t.sessionIDs
            guard pid == sid else { throw .EPERM }   // only a session leader takes a controlling terminal
            pty.state.withLock { $0.session = sid; $0.foregroundPGID = pgid }
        case Ioctl.TIOCNOTTY:
            break
        case Ioctl.TIOCGPGRP:
            let fg = pty.state.withLock { $0.foregroundPGID }
            try mm.write(argument, fg)
        case Ioctl.TIOCSPGRP:
            // tiocspgrp: the check is the terminal's (a master's, its slave's), EIO said as ENOTTY.
            if let t = Task.current {
                let (session, fg) = pty.state.withLock { ($0.session, $0.foregroundPGID) }
                do { try t.terminalJobControl(session: session, foreground: fg, .SIGTTOU) } catch .EIO { throw .ENOTTY }
            }
            let pg = try mm.read(argument, as: Int32.self)
            guard pg > 0 else { throw .EINVAL }
            pty.state.withLock { $0.foregroundPGID = pg }
        case Ioctl.TIOCGSID:
            let sid = pty.state.withLock { $0.session }
            guard sid > 0 else { throw .ENOTTY }
            try mm.write(argument, sid)
        default:
            throw .ENOTTY
        }
        return 0
    }
}

/// /dev/ptmx: each open makes a new pty and returns its master.
/// Sendable: only `let`s; the table has its own lock.
final class PtmxNode: Inode, @unchecked Sendable {
    let table: PtyTable
    init(table: PtyTable) { self.table = table }
    static var ptmxStat: Glibc.stat {
        var st = Glibc.stat.synthetic(mode: S_IFCHR | 0o666, inode: 1002, device: DevFS.device)
        st.st_rdev = (5 << 8) | 2
        return st
    }
    override var kind: FileKind { .character }
    override func stat() throws(Errno) -> Glibc.stat { Self.ptmxStat }
    override func open(_ flags: OpenFlags, at location: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        let kernel = ctx.sandbox as? Kernel
        let owner = Task.current.map { t in t.attributes.withLock { $0.credentials.euid } } ?? getuid()
        let p = table.open(kernel: kernel, owner: owner)
        let f = PtyEnd(p, master: true, table: table, flags: OpenFlags(rawValue: flags.rawValue & ~OpenFlags.closeOnExec.rawValue))
        f.location = location
        return f
    }
}

/// /dev/pts/N: the slave of pty N, once unlocked (TIOCSPTLCK 0, as unlockpt does).
/// Sendable: only `let`s; the pty and table have their own locks.
final class PtsNode: Inode, @unchecked Sendable {
    let pty: Pty
    let table: PtyTable
    init(_ pty: Pty, table: PtyTable) { self.pty = pty; self.table = table }
    static func stat(_ pty: Pty) -> Glibc.stat {
        var st = Glibc.stat.synthetic(mode: S_IFCHR | 0o620, inode: 2000 + UInt64(pty.index), device: DevFS.device)
        st.st_rdev = UInt((136 << 8) | (Int(pty.index) & 0xff) | ((Int(pty.index) >> 8) << 20))
        st.st_uid = pty.state.withLock { $0.ownerUID }
        st.st_gid = 5   // tty
        return st
    }
    override var kind: FileKind { .character }
    override func stat() throws(Errno) -> Glibc.stat { Self.stat(pty) }
    override func open(_ flags: OpenFlags, at location: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        let f = try Self.openSlave(pty, table: table, flags: flags)
        f.location = location
        return f
    }

    static func openSlave(_ pty: Pty, table: PtyTable, flags: OpenFlags) throws(Errno) -> PtyEnd {
        guard pty.state.withLock({ !$0.locked && $0.masterOpen }) else { throw .EIO }
        let f = PtyEnd(pty, master: false, table: table, flags: OpenFlags(rawValue: flags.rawValue & ~OpenFlags.closeOnExec.rawValue))
        // A session leader without a terminal that opens one without O_NOCTTY gets it as its controlling terminal.
        if flags.rawValue & O_NOCTTY == 0, let t = Task.current {
            let (pid, sid, pgid) = t.sessionIDs
            if pid == sid { pty.state.withLock { s in if s.session == 0 { s.session = sid; s.foregroundPGID = pgid } } }
        }
        return f
    }
}

extension Task {
    /// (pid, session id, process group id) of this task's process.
    var sessionIDs: (Int32, Int32, Int32) { kernel.locked { (group.pid, group.sid, group.pgid) } }
}
