import CSwitch
import Glibc

/// One of an image's data files (pages.bin, files.bin), written as runs
/// appended one after another, each with its checksum in the manifest.
final class DataFileWriter {
    let path: String
    private let fd: Int32
    private(set) var size: UInt64 = 0
    /// Runs deflated (zlib) before they are written: `--compress`.
    let compress: Bool
    private var scratch: [UInt8] = []

    init(_ path: String, compress: Bool = false) throws(CheckpointError) {
        self.path = path
        self.compress = compress
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if fd < 0 { throw .io("create \(path)", Errno(errno)) }
    }
    deinit { close(fd) }

    /// Appends `count` bytes at `p`, to go to `offset` on restore.
    func append(_ p: UnsafeRawPointer?, count: Int, offset: UInt64) throws(CheckpointError) -> StoredRun {
        var run = StoredRun(offset: offset, length: UInt64(count), store: size, checksum: sw_checksum64(p, count))
        guard compress, count > 0 else {
            try write(p, count)
            return run
        }
        let bound = sw_deflate_bound(count)
        if scratch.count < bound { scratch = [UInt8](repeating: 0, count: bound) }
        let r: Result<Void, CheckpointError> = scratch.withUnsafeMutableBytes { b in
            var len = b.count
            guard sw_deflate(b.baseAddress, &len, p, count) == 0 else { return .failure(.io("compressing \(path)", .ENOMEM)) }
            run.compressed = UInt64(len)
            do throws(CheckpointError) { try write(b.baseAddress, len); return .success(()) } catch { return .failure(error) }
        }
        try r.get()
        return run
    }

    private func write(_ p: UnsafeRawPointer?, _ count: Int) throws(CheckpointError) {
        var done = 0
        while done < count {
            let n = Glibc.write(fd, p! + done, count - done)
            if n < 0 { if errno == EINTR { continue }; throw .io("write \(path)", Errno(errno)) }
            done += n
        }
        size += UInt64(count)
    }

    /// Appends a whole buffer (file contents, pipe bytes).
    func append(bytes: [UInt8]) throws(CheckpointError) -> StoredRun {
        let r: Result<StoredRun, CheckpointError> = bytes.withUnsafeBytes { b in
            do throws(CheckpointError) { return .success(try append(b.baseAddress, count: b.count, offset: 0)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    func finish() throws(CheckpointError) {
        if fsync(fd) != 0 { throw .io("fsync \(path)", Errno(errno)) }
    }
}

/// Reads an image's data file back, every run checked against its checksum.
final class DataFileReader {
    let path: String
    private let fd: Int32
    let size: UInt64

    init(_ path: String, expectedSize: UInt64) throws(CheckpointError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { throw .truncated("\(path) is missing") }
            throw .io("open \(path)", Errno(errno))
        }
        var st = stat()
        fstat(fd, &st)
        size = UInt64(st.st_size)
        guard size == expectedSize else {
            close(fd)
            throw size < expectedSize ? .truncated("\(path) has \(size) bytes, the manifest says \(expectedSize)")
                                      : .corrupt("\(path) has \(size) bytes, the manifest says \(expectedSize)")
        }
    }
    deinit { close(fd) }

    /// Reads `run` into `dst` (run.length bytes) and checks it.
    func read(_ run: StoredRun, into dst: UnsafeMutableRawPointer, what: String) throws(CheckpointError) {
        let stored = run.compressed ?? run.length
        let (end, o) = run.store.addingReportingOverflow(stored)
        guard !o, end <= size, run.length <= UInt64(Int.max), stored <= UInt64(Int.max) else {
            throw .truncated("\(what): bytes beyond the end of \(path)")
        }
        let count = Int(run.length)
        if run.compressed != nil {
            guard stored <= 1 << 32 else { throw .corrupt("\(what): a compressed run of \(stored) bytes") }
            var packed = [UInt8](repeating: 0, count: Int(stored))
            let r: Result<Void, CheckpointError> = packed.withUnsafeMutableBytes { b in
                do throws(CheckpointError) { try readRaw(b.baseAddress!, Int(stored), at: run.store, what: what); return .success(()) }
                catch { return .failure(error) }
            }
            try r.get()
            var len = count
            let z = packed.withUnsafeBytes { sw_inflate(dst, &len, $0.baseAddress, $0.count) }
            guard z == 0, len == count else { throw .corrupt("\(what): the compressed run in \(path) at byte \(run.store) does not inflate") }
        } else {
            try readRaw(dst, count, at: run.store, what: what)
        }
        guard sw_checksum64(dst, count) == run.checksum else {
            throw .corrupt("\(what): checksum mismatch in \(path) at byte \(run.store)")
        }
    }

    private func readRaw(_ dst: UnsafeMutableRawPointer, _ count: Int, at store: UInt64, what: String) throws(CheckpointError) {
        var done = 0
        while done < count {
            let n = pread(fd, dst + done, count - done, off_t(store) + off_t(done))
            if n < 0 { if errno == EINTR { continue }; throw .io("read \(path)", Errno(errno)) }
            if n == 0 { throw .truncated("\(what): \(path) ends early") }
            done += n
        }
    }

    func read(_ run: StoredRun, what: String) throws(CheckpointError) -> [UInt8] {
        guard run.length <= 1 << 32 else { throw .corrupt("\(what): a run of \(run.length) bytes") }
        // Checked before the buffer is made: a corrupt run costs no allocation.
        let (end, o) = run.store.addingReportingOverflow(run.compressed ?? run.length)
        guard !o, end <= size else { throw .truncated("\(what): bytes beyond the end of \(path)") }
        var out = [UInt8](repeating: 0, count: Int(run.length))
        if run.length == 0 {
            guard run.checksum == sw_checksum64(nil, 0) else { throw .corrupt("\(what): checksum mismatch") }
            return out
        }
        let r: Result<Void, CheckpointError> = out.withUnsafeMutableBytes { b in
            do throws(CheckpointError) { try read(run, into: b.baseAddress!, what: what); return .success(()) } catch { return .failure(error) }
        }
        try r.get()
        return out
    }
}
