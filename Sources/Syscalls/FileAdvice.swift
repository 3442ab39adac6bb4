import Glibc
import Sentry

/// fadvise64 and readahead (mm/fadvise.c, mm/readahead.c): hints about
/// future access. The sentry's files keep their pages in the host's page
/// cache or in sentry memory, so a valid hint has nothing to change; the
/// checks and errnos are Linux's.
enum FileAdvice {
    static let POSIX_FADV_NOREUSE: UInt64 = 5

    static func fadvise64(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let f = try t.fds.get(a.fd(0))
        try advise(f, length: a.int(2), advice: a[3])
        return 0
    }

    /// generic_fadvise: a FIFO cannot be advised; a negative length or an unknown advice is EINVAL.
    static func advise(_ f: FileDescription, length: Int64, advice: UInt64) throws(Errno) {
        if let st = try? f.stat(), st.st_mode & S_IFMT == S_IFIFO { throw .ESPIPE }   // pipes, anonymous or named
        guard length >= 0, advice <= POSIX_FADV_NOREUSE else { throw .EINVAL }
    }

    static func readahead(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let f = try t.fds.get(a.fd(0))
        guard f.flags.readable else { throw .EBADF }
        guard f.location?.inode.kind == .regular else { throw .EINVAL }
        try advise(f, length: a.int(2), advice: 3)   // POSIX_FADV_WILLNEED
        return 0
    }
}
