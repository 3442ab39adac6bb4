import CSwitch
import Glibc

/// /proc/PID/pagemap (fs/proc/task_mmu.c pagemap_read), opened through
/// ProcMemNode: one 64-bit entry per virtual page, at offset address /
/// 4096 * 8 (MemoryManager.pagemapEntries says what each holds), of the
/// memory map the process had at open. Offsets and counts not a multiple
/// of 8 are EINVAL; reads end at TASK_SIZE.
/// Its position and seeking are /proc/PID/mem's (pagemap borrows mem_lseek).
final class ProcPagemapFile: ProcMemFile, @unchecked Sendable {
    /// PM_ENTRY_BYTES.
    static let entryBytes = 8
    /// Entries made at a time: PAGEMAP_WALK_SIZE (a PMD's 512 pages).
    static let walkPages: UInt64 = 512

    override var wholeReadUnit: Int? { Self.entryBytes }

    override func pread(into bufs: [UnsafeMutableRawBufferPointer], at offset: Int64) throws(Errno) -> Int {
        guard flags.readable else { throw .EBADF }
        let pos = UInt64(bitPattern: offset), count = bufs.reduce(0) { $0 + $1.count }
        guard pos % UInt64(Self.entryBytes) == 0, count % Self.entryBytes == 0 else { throw .EINVAL }
        // An mm whose process has exited holds no mappings: nothing to read (mmget_not_zero).
        guard count > 0, !mm.vmas.isEmpty else { return 0 }
        let end = UInt64(SW_TASK_SIZE), page = GuestAddress.pageSize
        let vpn = pos / UInt64(Self.entryBytes)
        var addr = vpn <= UInt64.max / page ? vpn * page : end
        if addr > end { addr = end }
        // The entries, a walk at a time, into the buffers in order.
        var out = bufs.makeIterator(), current = out.next(), used = 0, total = 0
        while total < count, addr < end {
            let stop = min(end, (addr / (Self.walkPages * page) + 1) * Self.walkPages * page)
            let wanted = min(UInt64(count - total) / UInt64(Self.entryBytes), (stop - addr) / page)
            let entries = mm.pagemapEntries(GuestAddress(addr)..<GuestAddress(addr + wanted * page))
            entries.withUnsafeBytes { src in
                var from = 0
                while from < src.count, let b = current {
                    let n = min(b.count - used, src.count - from)
                    memcpy(b.baseAddress! + used, src.baseAddress! + from, n)
                    from += n; used += n
                    if used == b.count { current = out.next(); used = 0 }
                }
            }
            total += entries.count * Self.entryBytes
            addr += wanted * page
        }
        return total
    }

    /// No write handler: EINVAL (vfs_write without FMODE_CAN_WRITE), EBADF first if not open for writing.
    override func pwrite(from bufs: [UnsafeRawBufferPointer], at offset: Int64) throws(Errno) -> Int {
        guard flags.writable else { throw .EBADF }
        throw .EINVAL
    }
}
