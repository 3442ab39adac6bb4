import Glibc
import Synchronization

/// /proc/PID/stat and /proc/PID/status of host processes whose counts the
/// sentry reads again and again (a stub: when each task gets it, at the
/// task's exit, for getrusage and /proc), kept open: a reading is then two
/// `pread`s at offset 0, which make the kernel generate the file afresh
/// (seq_file starts over at 0), instead of an open, read and close of each
/// file with its path walk, twice per fork and per guest thread.
/// An open file stays bound to the process it was opened for: once that
/// process is gone a read fails (ESRCH), and the pid is opened afresh, in
/// case it now names another process. Files of processes the sentry
/// reaps are closed then (`forget`); at most `maxOpen` pids are kept.
/// Sendable: the table, and the reads of its descriptors (so none is
/// closed and its number reused meanwhile), are behind the mutex.
final class ProcCounterFiles: Sendable {
    static let shared = ProcCounterFiles()

    private struct Files {
        var stat: Int32, status: Int32
        /// The last reading's bytes (`lastRead`).
        var last: (stat: [UInt8], status: [UInt8])?
    }
    private let maxOpen = 32
    private let files = Mutex<[pid_t: Files]>([:])

    /// `parse` of the two files' bytes; nil if the process is gone or unreadable.
    func read<T>(_ pid: pid_t, _ parse: ([UInt8], [UInt8]) -> T?) -> T? {
        files.withLock { table -> T? in
            if let f = table[pid] {
                if let s = Self.contents(f.stat), let st = Self.contents(f.status) {
                    table[pid]?.last = (s, st)
                    return parse(s, st)
                }
                Self.close(f)
                table[pid] = nil
            }
            let stat = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
            guard stat >= 0 else { return nil }
            let status = open("/proc/\(pid)/status", O_RDONLY | O_CLOEXEC)
            guard status >= 0 else { Glibc.close(stat); return nil }
            var f = Files(stat: stat, status: status)
            guard let s = Self.contents(f.stat), let st = Self.contents(f.status) else { Self.close(f); return nil }
            if table.count >= maxOpen {
                for (_, old) in table { Self.close(old) }
                table.removeAll()
            }
            f.last = (s, st)
            table[pid] = f
            return parse(s, st)
        }
    }

    /// `parse` of what the last `read` of `pid` found, without reading
    /// again: for a process known to have slept since (a stub parked
    /// after its task's exit reading); nil if there is none.
    func lastRead<T>(_ pid: pid_t, _ parse: ([UInt8], [UInt8]) -> T?) -> T? {
        guard let last = files.withLock({ $0[pid]?.last }) else { return nil }
        return parse(last.stat, last.status)
    }

    func forget(_ pid: pid_t) {
        if let f = files.withLock({ $0.removeValue(forKey: pid) }) { Self.close(f) }
    }

    private static func close(_ f: Files) {
        Glibc.close(f.stat)
        Glibc.close(f.status)
    }

    /// The whole file, generated afresh (these are at most a few KB).
    private static func contents(_ fd: Int32) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        buf.removeSubrange(n...)
        return buf
    }
}
