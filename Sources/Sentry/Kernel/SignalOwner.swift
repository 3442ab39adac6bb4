import Glibc

/// A file's owner (Linux's fown_struct): the thread, process or process
/// group F_SETOWN, F_SETOWN_EX or a socket's FIOSETOWN/SIOCSPGRP named, with
/// the credentials of whoever named it, which decide whom it may signal
/// (sigio_perm). Sockets send it SIGURG when urgent data arrives, and a
/// pipe, socket or pty with O_ASYNC its SIGIO (FileAsync.swift).
public struct SignalOwner: Sendable {
    /// f_owner_ex's types: F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP.
    public enum Kind: Int32, Sendable { case thread = 0, process = 1, processGroup = 2 }
    public var kind: Kind
    public var id: Int32
    var uid: UInt32, euid: UInt32
    /// The sandbox whose processes it names (the kernel outlives its files).
    unowned(unsafe) let kernel: Kernel

    /// What F_GETOWN answers: a group as a negative number (f_getown).
    public var legacyValue: Int32 { kind == .processGroup ? -id : id }

    /// send_sigurg.
    func sendURG() { if id != 0 { kernel.sendURG(to: self) } }
}

extension Task {
    /// f_setown / f_setown_ex: `id` 0 clears the owner (F_GETOWN_EX still
    /// shows the type); one that names no live thread, process or group is ESRCH.
    public func setOwner(of f: FileDescription, _ kind: SignalOwner.Kind, _ id: Int32) throws(Errno) {
        let live = kernel.locked { () -> Bool in
            switch kind {
            case .thread: return kernel.tasks[id] != nil
            case .process: return kernel.groupLocked(id) != nil
            case .processGroup: return kernel.groups.values.contains { !$0.zombie && $0.pgid == id }
            }
        }
        guard id == 0 || live else { throw .ESRCH }
        let c = attributes.withLock { $0.credentials }
        f.setSignalOwner(SignalOwner(kind: kind, id: id, uid: c.uid, euid: c.euid, kernel: kernel))
    }

    /// F_SETOWN's int (and FIOSETOWN's): negative names a process group.
    public func setOwner(of f: FileDescription, legacy who: Int32) throws(Errno) {
        guard who != Int32.min else { throw .EINVAL }   // no group to negate it to
        try setOwner(of: f, who < 0 ? .processGroup : .process, who < 0 ? -who : who)
    }
}

extension SignalInfo {
    /// send_sigio_to_task's siginfo: a plain SIGIO as SEND_SIG_PRIV sends it
    /// when F_SETSIG named no signal, else that signal with the reason
    /// (POLL_IN, POLL_OUT, POLL_MSG), its band and the fd (SIL_POLL).
    static func sigio(signal: Int32, reason: Int32, band: Int64, fd: Int32) -> SignalInfo {
        guard signal != 0 else {
            var info = SignalInfo(.SIGIO, code: SignalInfo.SI_KERNEL)
            info.pid = 0
            return info
        }
        var info = SignalInfo(Signal(signal), code: reason)
        // Signals whose si_codes mean something else take SI_SIGIO (sig_specific_sicodes).
        let specific: Set<Signal> = [.SIGILL, .SIGFPE, .SIGSEGV, .SIGBUS, .SIGTRAP, .SIGCHLD, .SIGSYS]
        if specific.contains(Signal(signal)) { info.code = SignalInfo.SI_SIGIO }
        info.band = band
        info.fd = fd
        info.pollLayout = true
        return info
    }
}

extension Kernel {
    /// send_sigurg: SIGURG (SEND_SIG_PRIV: SI_KERNEL) to `owner`.
    func sendURG(to owner: SignalOwner) {
        var info = SignalInfo(.SIGURG, code: SignalInfo.SI_KERNEL)
        info.pid = 0
        locked { sendToOwnerLocked(info, owner) }
    }

    /// send_sigio: O_ASYNC's signal to `owner`. A plain SIGIO as
    /// SEND_SIG_PRIV sends it, unless F_SETSIG named `signal`: that one
    /// carries the reason (POLL_IN, POLL_OUT), its band and the fd (SIL_POLL).
    func sendSIGIO(to owner: SignalOwner, signal: Int32, reason: Int32, band: Int64, fd: Int32) {
        let info = SignalInfo.sigio(signal: signal, reason: reason, band: band, fd: fd)
        locked { sendToOwnerLocked(info, owner) }
    }

    /// `owner`'s thread, process or each process of its group that it may
    /// signal (sigio_perm: the owner's setter was root or shares a uid with
    /// the target). Kernel lock held.
    private func sendToOwnerLocked(_ info: SignalInfo, _ owner: SignalOwner) {
        guard owner.id != 0 else { return }
        func permitted(_ g: ThreadGroup) -> Bool {
            guard let t = g.tasks.first else { return false }
            let c = t.attributes.withLock { $0.credentials }
            return owner.euid == 0 || owner.euid == c.suid || owner.euid == c.uid || owner.uid == c.suid || owner.uid == c.uid
        }
        switch owner.kind {
        case .thread:
            if let t = tasks[owner.id], permitted(t.group) { sendLocked(info, to: t.group, thread: t) }
        case .process:
            if let g = groupLocked(owner.id), permitted(g) { sendLocked(info, to: g) }
        case .processGroup:
            for g in groups.values where !g.zombie && g.pgid == owner.id && permitted(g) { sendLocked(info, to: g) }
        }
    }
}
