/// The System V IPC limits and usage the `*ctl` calls' IPC_INFO, MSG_INFO,
/// SHM_INFO and SEM_INFO store, as strace 6.1 prints them after the call.
extension ArgPrinter {
    func ipcInfo(_ v: UInt64, _ kind: IPCObjectKind, cmd: UInt64) -> String {
        switch kind {
        case .message:
            // struct msginfo: seven ints, then msgseg, an unsigned short.
            guard let m = read(v, (Int32, Int32, Int32, Int32, Int32, Int32, Int32, UInt16).self) else { return hexOrNull(v) }
            return "{msgpool=\(m.0), msgmap=\(m.1), msgmax=\(m.2), msgmnb=\(m.3), msgmni=\(m.4), msgssz=\(m.5), msgtql=\(m.6), msgseg=\(m.7)}"
        case .semaphore:
            // struct seminfo: ten ints.
            guard let s = read(v, (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32).self) else { return hexOrNull(v) }
            return "{semmap=\(s.0), semmni=\(s.1), semmns=\(s.2), semmnu=\(s.3), semmsl=\(s.4), semopm=\(s.5), semume=\(s.6), "
                + "semusz=\(s.7), semvmx=\(s.8), semaem=\(s.9)}"
        case .sharedMemory where cmd == UInt64(IPC.SHM_INFO):
            // struct shm_info: used_ids (an int, padded), then five unsigned longs.
            guard let s = read(v, (Int32, UInt32, UInt64, UInt64, UInt64, UInt64, UInt64).self) else { return hexOrNull(v) }
            return "{used_ids=\(s.0), shm_tot=\(s.2), shm_rss=\(s.3), shm_swp=\(s.4), swap_attempts=\(s.5), swap_successes=\(s.6)}"
        case .sharedMemory:
            // struct shminfo64: five unsigned longs (then unused words strace leaves out).
            guard let s = read(v, (UInt64, UInt64, UInt64, UInt64, UInt64).self) else { return hexOrNull(v) }
            return "{shmmax=\(s.0), shmmin=\(s.1), shmmni=\(s.2), shmseg=\(s.3), shmall=\(s.4)}"
        }
    }
}
