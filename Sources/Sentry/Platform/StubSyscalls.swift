import Glibc

/// One syscall for a stub to run: number and up to six arguments.
struct StubCall {
    var nr: UInt64
    var args: [UInt64]
}

/// An address space whose host side is a stub that runs syscalls for the
/// sentry (ptrace: injected at a gadget; systrap: a request in the area).
/// The mirror of the memory manager's mappings is written once on top.
protocol StubSyscalls: AnyObject {
    var memory: MemoryFile { get }
    /// Runs one syscall in the calling runner's stub; its raw result.
    func stubSyscall(_ nr: UInt64, _ args: [UInt64]) throws(PlatformError) -> Int64
    /// Runs calls in order, stopping after the first that fails (a raw
    /// result in [-4095, -1]); the raw results of those that ran.
    func stubSyscalls(_ calls: [StubCall]) throws(PlatformError) -> [Int64]
}

extension StubSyscalls {
    /// One call at a time: where a stub has no cheaper way.
    func stubSyscalls(_ calls: [StubCall]) throws(PlatformError) -> [Int64] {
        var out: [Int64] = []
        for c in calls {
            let r = try stubSyscall(c.nr, c.args)
            out.append(r)
            if Self.failed(r) { break }
        }
        return out
    }

    static func failed(_ raw: Int64) -> Bool { raw < 0 && raw >= -4095 }

    /// Whether a mirror call did what was asked: an mmap gives its fixed
    /// address, munmap and mprotect 0.
    static func succeeded(_ c: StubCall, _ raw: Int64) -> Bool {
        raw == (c.nr == SyscallNumber.mmap ? Int64(bitPattern: c.args[0]) : 0)
    }

    /// Mirror calls (`results`: of those that ran, in order) must all have
    /// run and done what they asked: else the mirror is no longer what the
    /// VMAs say.
    static func checkMirrored(_ calls: some Collection<StubCall>, _ results: [Int64]) throws(PlatformError) {
        for (c, r) in zip(calls, results) where !succeeded(c, r) { throw mirrorFailure(c, r) }
        if results.count < calls.count { throw .host("stub mirror batch cut short", .EIO) }
    }

    /// A mirror call that did not, as the sentry reports it.
    static func mirrorFailure(_ c: StubCall, _ raw: Int64) -> PlatformError {
        .host("stub \(c.nr == SyscallNumber.mmap ? "mmap" : c.nr == SyscallNumber.munmap ? "munmap" : c.nr == SyscallNumber.mprotect ? "mprotect" : "call \(c.nr)") 0x\(String(c.args[0], radix: 16))+\(c.args[1])",
              Errno(Int32(truncatingIfNeeded: Self.failed(raw) ? -raw : Int64(EIO))))
    }

    static func mmapCall(at address: UInt64, length: UInt64, fileOffset: UInt64, prot: Prot, fd: Int32) -> StubCall {
        StubCall(nr: SyscallNumber.mmap, args: [address, length, UInt64(prot.rawValue), UInt64(MAP_SHARED | MAP_FIXED), UInt64(fd), fileOffset])
    }

    static func munmapCall(_ range: Range<UInt64>) -> StubCall {
        StubCall(nr: SyscallNumber.munmap, args: [range.lowerBound, range.upperBound - range.lowerBound])
    }

    /// The mmap call that maps `range` to the memory file at `fileOffset`.
    func mmapCall(_ range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot) -> StubCall {
        Self.mmapCall(at: range.lowerBound.rawValue, length: range.upperBound - range.lowerBound,
                      fileOffset: fileOffset, prot: prot, fd: memory.fd)
    }

    /// The mmap call of each mapping of the memory file.
    func mmapCalls(_ mappings: [(range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot)]) -> [StubCall] {
        mappings.map { mmapCall($0.range, fileOffset: $0.fileOffset, prot: $0.prot) }
    }

    /// mmap(MAP_SHARED|MAP_FIXED) of a memory-file chunk at `address`.
    func mapChunk(at address: UInt64, length: UInt64, fileOffset: UInt64, prot: Prot) throws(PlatformError) {
        try map([(GuestAddress(address)..<GuestAddress(address + length), fileOffset, prot)], clearing: nil)
    }

    func map(_ range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot) throws(PlatformError) {
        try map([(range, fileOffset, prot)], clearing: nil)
    }

    /// Several mappings, in as few hand-offs as the stub allows; first,
    /// if given, `clearing` is unmapped (an exec replacing a whole image).
    func map(_ mappings: [(range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot)],
             clearing: Range<GuestAddress>?) throws(PlatformError) {
        try mapBatch(mappings, clearing: clearing, first: nil, last: nil)
    }

    /// The same, with `first` before all (its raw result must be 0) and
    /// `last` after every mapping is made, in the same hand-offs: `last`'s
    /// raw result (nil if none was given).
    @discardableResult
    func mapBatch(_ mappings: [(range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot)],
                  clearing: Range<GuestAddress>?, first: StubCall?, last: StubCall?) throws(PlatformError) -> Int64? {
        var calls: [StubCall] = []
        if let first { calls.append(first) }
        if let c = clearing { calls.append(Self.munmapCall(c.lowerBound.rawValue..<c.upperBound.rawValue)) }
        calls += mmapCalls(mappings)
        let mapped = calls.count
        if let last { calls.append(last) }
        let results = try stubSyscalls(calls)
        try Self.checkMirrored(calls.prefix(mapped), results)
        return last != nil && results.count > mapped ? results[mapped] : nil
    }

    func unmap(_ range: Range<GuestAddress>) throws(PlatformError) {
        let r = try stubSyscall(11, [range.lowerBound.rawValue, range.upperBound - range.lowerBound])
        if r != 0 { throw .host("stub munmap", Errno(Int32(truncatingIfNeeded: -r))) }
    }

    func protect(_ range: Range<GuestAddress>, prot: Prot) throws(PlatformError) {
        let r = try stubSyscall(SyscallNumber.mprotect, Self.protectArgs(range, prot))
        if r != 0 { throw .host("stub mprotect", Errno(Int32(truncatingIfNeeded: -r))) }
    }

    /// The stub's calls that make `edits`.
    func stubCalls(_ edits: [MirrorEdit]) -> [StubCall] {
        edits.map { e in
            switch e {
            case .map(let r, let off, let prot): mmapCall(r, fileOffset: off, prot: prot)
            case .unmap(let r): Self.munmapCall(r.lowerBound.rawValue..<r.upperBound.rawValue)
            case .protect(let r, let prot): StubCall(nr: SyscallNumber.mprotect, args: Self.protectArgs(r, prot))
            }
        }
    }

    static func protectArgs(_ range: Range<GuestAddress>, _ prot: Prot) -> [UInt64] {
        [range.lowerBound.rawValue, range.upperBound - range.lowerBound, UInt64(prot.rawValue)]
    }
}

extension StubSyscalls where Self: AddressSpace {
    /// AddressSpace.edit for every stub platform: the edits as one run of
    /// stub calls, batched where the stub batches (systrap, vmexec), not a
    /// round trip each.
    func edit(_ edits: [MirrorEdit]) throws(PlatformError) {
        let calls = stubCalls(edits)
        try Self.checkMirrored(calls, try stubSyscalls(calls))
    }
}
