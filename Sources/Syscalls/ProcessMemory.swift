import Sentry

/// process_madvise and process_mrelease (memory of the process a pidfd
/// names), and remap_file_pages (a deprecated rearrangement of a shared
/// file mapping's pages, which 6.1 emulates with mmap).
enum ProcessMemory {
    static let page = GuestAddress.pageSize

    /// The advice process_madvise takes (process_madvise_behavior_valid).
    static let remoteAdvice: Set<Int32> = [MemoryAdvice.MADV_COLD, MemoryAdvice.MADV_PAGEOUT, MemoryAdvice.MADV_WILLNEED, 25]   // 25: MADV_COLLAPSE

    /// process_madvise(pidfd, iovec, vlen, advice, flags), in 6.1's order:
    /// flags, the vector (import_iovec), the pidfd, the advice, read access
    /// to the target (EACCES), then CAP_SYS_NICE, which 6.1 asks even of a
    /// process advising itself (EPERM). The ranges are advised one by one;
    /// a failure after some ranges answers the bytes advised before it.
    static func processMadvise(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a.uint32(4) == 0 else { throw .EINVAL }
        guard a[2] <= 1024 else { throw .EINVAL }   // UIO_MAXIOV
        let ranges = try t.iovecRanges(a.address(1), count: Int(a[2]))
        let target = try t.process(ofPidFD: a.int32(0))
        let advice = a.int32(3)
        guard remoteAdvice.contains(advice) else { throw .EINVAL }
        let mm = try t.memory(ofProcess: target)
        guard Creds.creds(t).capable(Credentials.CAP_SYS_NICE) else { throw .EPERM }
        var done: Int64 = 0
        for r in ranges {
            do { try mm.advise(r.address, length: UInt64(r.count), advice: advice) } catch {
                if done > 0 { break }
                throw error
            }
            done += Int64(r.count)
        }
        return done
    }

    /// process_mrelease(pidfd, flags): see Task.releaseMemory(ofProcess:).
    static func processMrelease(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a.uint32(1) == 0 else { throw .EINVAL }
        try t.releaseMemory(ofProcess: try t.process(ofPidFD: a.int32(0)))
        return 0
    }

    /// remap_file_pages(start, size, prot, pgoff, flags): as 6.1, which
    /// emulates it with mmap: the range, within one shared mapping of one
    /// file (or several adjacent ones of the same file with the same flags),
    /// is mapped again from page `pgoff` of that file, with the mapping's
    /// protection; prot must be 0 and flags other than MAP_NONBLOCK are
    /// ignored. A shared anonymous mapping (which Linux backs with a shmem
    /// file) is EINVAL here: the sentry keeps no file behind it.
    static func remapFilePages(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a[2] == 0 else { throw .EINVAL }
        let start = a[0] & ~(page - 1), size = a[1] & ~(page - 1), pgoff = a[3]
        let (end, wraps) = start.addingReportingOverflow(size)
        guard !wraps, end > start else { throw .EINVAL }
        let (_, pgoffWraps) = pgoff.addingReportingOverflow(size / page)
        guard !pgoffWraps else { throw .EINVAL }
        let vmas = t.mm.vmas
        guard let i = vmas.firstIndex(where: { $0.start.rawValue <= start && start < $0.end.rawValue }) else { throw .EINVAL }
        let first = vmas[i]
        guard first.shared, case .file(let file, _) = first.backing else { throw .EINVAL }
        // Every page of the range in adjacent mappings of the same file and flags.
        var j = i
        while vmas[j].end.rawValue < end {
            let next = j + 1
            guard next < vmas.count, vmas[next].start == vmas[j].end, vmas[next].prot == first.prot,
                  vmas[next].shared, vmas[next].maxProt == first.maxProt,
                  case .file(let f, _) = vmas[next].backing, f === file else { throw .EINVAL }
            j = next
        }
        // do_mmap's file_mmap_ok: the pages must lie below MAX_LFS_FILESIZE.
        guard pgoff <= UInt64(Int64.max) / page, size <= UInt64(Int64.max) - pgoff * page else { throw .EOVERFLOW }
        _ = try t.mm.map(hint: GuestAddress(start), length: size, prot: first.prot, flags: [.shared, .fixed],
                         file: file, fileOffset: pgoff * page, maxProt: first.maxProt)
        return 0
    }
}
