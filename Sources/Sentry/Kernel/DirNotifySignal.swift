extension Kernel {
    /// send_sigio for a dnotify event: to process `pid` (the watch's owner),
    /// F_SETSIG's `signal` with a SIL_POLL siginfo (POLL_MSG, its band, the
    /// fd), or, with no signal set, a plain SIGIO as SEND_SIG_PRIV sends it.
    func sendDirNotify(to pid: Int32, signal: Int32, fd: Int32) {
        var info: SignalInfo
        if signal == 0 {
            info = SignalInfo(.SIGIO, code: SignalInfo.SI_KERNEL)
        } else {
            info = SignalInfo(Signal(signal), code: SignalInfo.POLL_MSG)
            // Signals whose si_codes mean something else take SI_SIGIO (sig_specific_sicodes).
            let specific: Set<Signal> = [.SIGILL, .SIGFPE, .SIGSEGV, .SIGBUS, .SIGTRAP, .SIGCHLD, .SIGSYS]
            if specific.contains(Signal(signal)) { info.code = SignalInfo.SI_SIGIO }
            info.band = 0x441   // POLL_MSG's band: POLLIN | POLLRDNORM | POLLMSG
            info.fd = fd
            info.pollLayout = true
        }
        locked {
            guard let g = groupLocked(pid) else { return }
            sendLocked(info, to: g)
        }
    }
}
