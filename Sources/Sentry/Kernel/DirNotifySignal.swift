extension Kernel {
    /// send_sigio for a dnotify event: to process `pid` (the watch's owner),
    /// F_SETSIG's `signal` with a SIL_POLL siginfo (POLL_MSG, its band, the
    /// fd), or, with no signal set, a plain SIGIO as SEND_SIG_PRIV sends it.
    func sendDirNotify(to pid: Int32, signal: Int32, fd: Int32) {
        // POLL_MSG's band: POLLIN | POLLRDNORM | POLLMSG.
        let info = SignalInfo.sigio(signal: signal, reason: SignalInfo.POLL_MSG, band: 0x441, fd: fd)
        locked {
            guard let g = groupLocked(pid) else { return }
            sendLocked(info, to: g)
        }
    }
}
