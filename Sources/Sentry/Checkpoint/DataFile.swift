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
    private var gather: [UInt8] = []
    /// Linux's UIO_MAXIOV: the most pieces one pwritev takes.
    static let iovMax = 1024

    init(_ path: String, compress: Bool = false) throws(CheckpointError) {
        self.path = path
        self.compress = compress
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if fd < 0 { throw .io("create \(path)", Errno(errno)) }
    }
    deinit { close(fd) }

    /// Appends `count` bytes at `p`, to go to `offset` on restore.
    func append(_ p: UnsafeRawPointer?, count: Int, offset: UInt64) throws(CheckpointError) -> StoredRun {
        var run = StoredRun(offset: offset, length: UInt64(count), store: size, checksum: UInt64(sw_crc32c(0, p, count)))
        guard compress, count > 0 else {
            try write(p, count)
            return run
        }
        try deflate(p, count, into: &run)
        return run
    }

    /// Appends an extent of pages (`PageExtent`): the pages it holds, back
    /// to back, gathered straight from where they are (pwritev: the kernel
    /// copies them, no buffer in between), checksummed on the way.
    func append(_ extent: PageExtent) throws(CheckpointError) -> StoredRun {
        let count = extent.pieces.reduce(0) { $0 + $1.count }
        var run = StoredRun(offset: extent.offset, length: UInt64(count), store: size, checksum: 0, present: extent.present)
        var crc: UInt32 = 0
        for piece in extent.pieces { crc = sw_crc32c(crc, piece.baseAddress, piece.count) }
        run.checksum = UInt64(crc)
        if compress {
            if gather.count < count { gather = [UInt8](repeating: 0, count: count) }
            let r: Result<Void, CheckpointError> = gather.withUnsafeMutableBytes { g in
                var at = 0
                for piece in extent.pieces { memcpy(g.baseAddress! + at, piece.baseAddress!, piece.count); at += piece.count }
                do throws(CheckpointError) { try deflate(g.baseAddress, count, into: &run); return .success(()) } catch { return .failure(error) }
            }
            try r.get()
            return run
        }
        var iov = extent.pieces.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
        var first = 0
        var done = 0
        while first < iov.count {
            let n = iov.withUnsafeMutableBufferPointer { b in
                Glibc.pwritev(fd, b.baseAddress! + first, Int32(min(b.count - first, Self.iovMax)), off_t(size) + off_t(done))
            }
            if n < 0 { if errno == EINTR { continue }; throw .io("write \(path)", Errno(errno)) }
            if n == 0 { throw .io("write \(path)", .EIO) }
            done += n
            // Past the pieces written, into the one a short write stopped in.
            var left = n
            while first < iov.count && left >= iov[first].iov_len { left -= iov[first].iov_len; first += 1 }
            if left > 0 { iov[first].iov_base += left; iov[first].iov_len -= left }
        }
        size += UInt64(count)
        return run
    }

    private func deflate(_ p: UnsafeRawPointer?, _ count: Int, into run: inout StoredRun) throws(CheckpointError) {
        let bound = sw_deflate_bound(count)
        if scratch.count < bound { scratch = [UInt8](repeating: 0, count: bound) }
        let r: Result<Void, CheckpointError> = scratch.withUnsafeMutableBytes { b in
            var len = b.count
            guard sw_deflate(b.baseAddress, &len, p, count) == 0 else { return .failure(.io("compressing \(path)", .ENOMEM)) }
            run.compressed = UInt64(len)
            do throws(CheckpointError) { try write(b.baseAddress, len); return .success(()) } catch { return .failure(error) }
        }
        try r.get()
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

    /// `sync`: on disk before this returns (`--sync`); otherwise the
    /// kernel writes it back in its own time.
    func finish(sync: Bool) throws(CheckpointError) {
        if sync && fsync(fd) != 0 { throw .io("fsync \(path)", Errno(errno)) }
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
        guard UInt64(sw_crc32c(0, dst, count)) == run.checksum else {
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

    /// Reads a page run (an extent, `present` saying where its pages go),
    /// checks it, and hands each stretch of consecutive pages to `place`
    /// with its byte offset from `run.offset`. Nothing is placed unless the
    /// whole run's checksum matches.
    /// `buffer` holds at least `maxPageRun` bytes (the pages of one extent).
    func readPages(_ run: StoredRun, pageSize: Int, what: String, buffer: UnsafeMutableRawPointer,
                   place: (UInt64, UnsafeRawPointer, Int) throws(CheckpointError) -> Void) throws(CheckpointError) {
        let stretches = try Self.stretches(run, pageSize: pageSize, what: what)
        guard run.length <= UInt64(Self.maxPageRun(pageSize)) else { throw .corrupt("\(what): a page run of \(run.length) bytes") }
        try read(run, into: buffer, what: what)
        var at = 0
        for (page, pages) in stretches {
            try place(UInt64(page) * UInt64(pageSize), buffer + at, pages * pageSize)
            at += pages * pageSize
        }
    }

    /// The largest page run an image holds: one extent's pages.
    static func maxPageRun(_ pageSize: Int) -> Int { ImageWriter.extentPages * pageSize }

    /// A page run's stretches of held pages: (first page, pages), checked
    /// against its length.
    static func stretches(_ run: StoredRun, pageSize: Int, what: String) throws(CheckpointError) -> [(Int, Int)] {
        guard let present = run.present else {
            guard run.length % UInt64(pageSize) == 0, run.length <= 1 << 40 else { throw .corrupt("\(what): a page run of \(run.length) bytes") }
            return run.length == 0 ? [] : [(0, Int(run.length) / pageSize)]
        }
        guard present.utf8.count <= ImageWriter.extentPages / 4 else { throw .corrupt("\(what): a page bitmap of \(present.utf8.count) digits") }
        var out: [(Int, Int)] = []
        var page = 0
        for c in present.utf8 {
            let digit: Int
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = Int(c - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = Int(c - UInt8(ascii: "A")) + 10
            default: throw .corrupt("\(what): a page bitmap that is not hex")
            }
            for bit in 0..<4 {
                if digit & (1 << bit) != 0 {
                    if let last = out.last, last.0 + last.1 == page { out[out.count - 1].1 += 1 } else { out.append((page, 1)) }
                }
                page += 1
            }
        }
        let held = out.reduce(0) { $0 + $1.1 }
        guard UInt64(held) * UInt64(pageSize) == run.length else {
            throw .corrupt("\(what): a page bitmap of \(held) pages for \(run.length) bytes")
        }
        return out
    }

    func read(_ run: StoredRun, what: String) throws(CheckpointError) -> [UInt8] {
        guard run.length <= 1 << 32 else { throw .corrupt("\(what): a run of \(run.length) bytes") }
        // Checked before the buffer is made: a corrupt run costs no allocation.
        let (end, o) = run.store.addingReportingOverflow(run.compressed ?? run.length)
        guard !o, end <= size else { throw .truncated("\(what): bytes beyond the end of \(path)") }
        var out = [UInt8](repeating: 0, count: Int(run.length))
        if run.length == 0 {
            guard run.checksum == UInt64(sw_crc32c(0, nil, 0)) else { throw .corrupt("\(what): checksum mismatch") }
            return out
        }
        let r: Result<Void, CheckpointError> = out.withUnsafeMutableBytes { b in
            do throws(CheckpointError) { try read(run, into: b.baseAddress!, what: what); return .success(()) } catch { return .failure(error) }
        }
        try r.get()
        return out
    }
}

/// The pages of one page-store extent, gathered for writing: where each
/// stretch of held pages is now, and the `present` bitmap that says where
/// they go from `offset` on.
struct PageExtent {
    let offset: UInt64
    var pieces: [UnsafeRawBufferPointer] = []
    /// nil when every page from `offset` to the last is held.
    var present: String?

    /// Builds the bitmap one page at a time.
    struct Builder {
        let offset: UInt64
        private(set) var pages = 0
        private var digits: [UInt8] = []
        private var bits: UInt8 = 0
        private var held = 0
        private var lastHeld = -1
        private(set) var extent: PageExtent

        init(offset: UInt64) { self.offset = offset; extent = PageExtent(offset: offset) }

        mutating func add(_ page: UnsafeRawPointer?, size: Int) {
            if let page {
                bits |= 1 << UInt8(pages % 4)
                held += 1
                lastHeld = pages
                if let last = extent.pieces.last, last.baseAddress! + last.count == page {
                    extent.pieces[extent.pieces.count - 1] = UnsafeRawBufferPointer(start: last.baseAddress, count: last.count + size)
                } else { extent.pieces.append(UnsafeRawBufferPointer(start: page, count: size)) }
            }
            pages += 1
            if pages % 4 == 0 { digits.append(Self.hex[Int(bits)]); bits = 0 }
        }

        /// The extent, its bitmap ending at its last held page.
        mutating func finish() -> PageExtent {
            if pages % 4 != 0 { digits.append(Self.hex[Int(bits)]) }
            while digits.last == UInt8(ascii: "0") { digits.removeLast() }
            extent.present = held == lastHeld + 1 ? nil : String(decoding: digits, as: UTF8.self)
            return extent
        }
        static let hex = Array("0123456789abcdef".utf8)
    }
}
