import Glibc

/// What a recycled root stub still maps of its last guest when it goes back
/// to the pool, read from the host (/proc/PID/maps) after its emptying:
/// the next address space's first mirror keeps each mapping that is
/// exactly one it asks for (range, memory-file offset, protection, shared)
/// and unmaps the rest, instead of the emptying unmapping it all and the
/// child mapping it all again. A fork's child asks for much of what the
/// last child of the same parent had (the image's text, its patched pages,
/// copies the allocator placed where the last ones were): each `mmap` cost
/// about 2 µs here, and each page touched again a fault.
///
/// Read from the host, never from the sentry's books: a mapping the host
/// holds that the sentry does not know of (a protection left for a RUN
/// that never came; a guest that reached stub code) is unmapped, not kept.
struct KeptMirror: Sendable {
    struct Mapping: Sendable, Equatable {
        let range: Range<UInt64>
        let fileOffset: UInt64
        let prot: Prot
        /// A shared mapping of the memory file; anything else is only ever unmapped.
        let ofMemoryFile: Bool
    }
    let mappings: [Mapping]

    /// /proc/PID/maps is read whole only up to this: a guest that left
    /// thousands of mappings is cleared as before.
    static let maxMapsBytes = 64 * 1024

    /// The mappings of process `pid` below `top`; nil if the host did not
    /// tell (the file unreadable, too long, or a line not understood).
    static func read(pid: pid_t, below top: UInt64, memoryFile fd: Int32) -> KeptMirror? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        let maps = open("/proc/\(pid)/maps", O_RDONLY | O_CLOEXEC)
        guard maps >= 0 else { return nil }
        defer { close(maps) }
        var bytes = [UInt8](repeating: 0, count: maxMapsBytes + 1)
        var used = 0
        while used < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(maps, $0.baseAddress! + used, $0.count - used) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { break }
            used += n
        }
        guard used <= maxMapsBytes else { return nil }
        var out: [Mapping] = []
        for line in bytes[..<used].split(separator: UInt8(ascii: "\n")) {
            guard let m = parse(Array(line), device: UInt64(st.st_dev), inode: UInt64(st.st_ino)) else { return nil }
            // Clipped at `top`: what lies above is the stub's own.
            if m.range.lowerBound < top {
                out.append(Mapping(range: m.range.lowerBound..<min(m.range.upperBound, top), fileOffset: m.fileOffset,
                                   prot: m.prot, ofMemoryFile: m.ofMemoryFile))
            }
        }
        return KeptMirror(mappings: out)
    }

    /// One line: `start-end perms offset major:minor inode [path]`, numbers in hex but the inode.
    static func parse(_ line: [UInt8], device: UInt64, inode: UInt64) -> Mapping? {
        let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count >= 5 else { return nil }
        let bounds = fields[0].split(separator: UInt8(ascii: "-"))
        let dev = fields[3].split(separator: UInt8(ascii: ":"))
        guard bounds.count == 2, dev.count == 2, fields[1].count == 4,
              let start = number(bounds[0], radix: 16), let end = number(bounds[1], radix: 16), start < end,
              let offset = number(fields[2], radix: 16), let major = number(dev[0], radix: 16),
              let minor = number(dev[1], radix: 16), let ino = number(fields[4], radix: 10) else { return nil }
        let perms = Array(fields[1])
        var prot: Prot = []
        if perms[0] == UInt8(ascii: "r") { prot.insert(.read) }
        if perms[1] == UInt8(ascii: "w") { prot.insert(.write) }
        if perms[2] == UInt8(ascii: "x") { prot.insert(.exec) }
        // The kernel prints a device as MAJOR:MINOR of its dev_t (new_encode_dev's halves).
        let sameDevice = major == (device >> 8) & 0xfff | (device >> 32) & ~0xfff
            && minor == device & 0xff | (device >> 12) & ~0xff
        return Mapping(range: start..<end, fileOffset: offset, prot: prot,
                       ofMemoryFile: perms[3] == UInt8(ascii: "s") && sameDevice && ino == inode)
    }

    private static func number(_ s: ArraySlice<UInt8>, radix: Int) -> UInt64? {
        UInt64(String(decoding: s, as: UTF8.self), radix: radix)
    }

    /// Whether one kept mapping holds all of `range` as a shared mapping of
    /// the memory file at `fileOffset` with `prot` (the host merges
    /// neighbours whose offsets follow on, so one may hold several).
    func holds(_ range: Range<UInt64>, fileOffset: UInt64, prot: Prot) -> Bool {
        mappings.contains { m in
            m.ofMemoryFile && m.prot == prot && m.range.lowerBound <= range.lowerBound
                && range.upperBound <= m.range.upperBound
                && m.fileOffset &+ (range.lowerBound - m.range.lowerBound) == fileOffset
        }
    }

    /// What of the kept mappings no range of `wanted` covers, to unmap.
    func uncovered(by wanted: [Range<UInt64>]) -> [Range<UInt64>] {
        let cover = wanted.sorted { $0.lowerBound < $1.lowerBound }
        var out: [Range<UInt64>] = []
        for m in mappings {
            var at = m.range.lowerBound
            for c in cover where c.upperBound > at && c.lowerBound < m.range.upperBound {
                if c.lowerBound > at { out.append(at..<c.lowerBound) }
                at = max(at, c.upperBound)
                if at >= m.range.upperBound { break }
            }
            if at < m.range.upperBound { out.append(at..<m.range.upperBound) }
        }
        return out
    }
}
