/// /proc/PID/clear_refs (fs/proc/task_mmu.c clear_refs_write): a number
/// written to it resets what the kernel has recorded of the process's use
/// of its pages.
public enum ClearRefs {
    /// enum clear_refs_types.
    public static let all = 1, anonymous = 2, mapped = 3, softDirty = 4, hiwaterRSS = 5
    /// CLEAR_REFS_LAST.
    static let last = 6

    /// kstrtoint(strstrip(buf), 10) of the bytes written (already cut to
    /// PROC_NUMBUF - 1): EINVAL for anything but an optionally signed
    /// decimal number, ERANGE past int's range, EINVAL for a type out of 1-5.
    public static func type(_ bytes: [UInt8]) throws(Errno) -> Int {
        // The buffer is a C string: a NUL ends it.
        let text = bytes.prefix { $0 != 0 }
        let space: Set<UInt8> = [0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]
        var b = text[...]
        while let f = b.first, space.contains(f) { b = b.dropFirst() }
        while let l = b.last, space.contains(l) { b = b.dropLast() }
        var negative = false
        if b.first == UInt8(ascii: "-") { negative = true; b = b.dropFirst() } else if b.first == UInt8(ascii: "+") { b = b.dropFirst() }
        guard !b.isEmpty, b.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { throw .EINVAL }
        var value: Int64 = 0
        for d in b {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(d - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw .ERANGE }
            value = a
        }
        guard let v = Int32(exactly: negative ? -value : value) else { throw .ERANGE }
        guard v >= all, v < last else { throw .EINVAL }
        return Int(v)
    }
}

extension Task {
    /// clear_refs_write's work on this task's memory. 1-3 clear the pages'
    /// referenced bits, which the sentry does not keep (smaps' `Referenced`
    /// is every resident page): nothing to do. 5 resets VmHWM to the
    /// current RSS, which is what the sentry's VmHWM always shows. 4 starts
    /// soft-dirty tracking afresh (MemoryManager+SoftDirty.swift); another
    /// process's threads in guest code are kicked out of it, and waited for,
    /// to write-protect their mirror before they run it again: a write the
    /// target makes after the clear_refs write returns is seen, as Linux's
    /// TLB flush makes it.
    public func clearRefs(_ type: Int, by writer: Task?) {
        guard type == ClearRefs.softDirty else { return }
        let target = mm
        guard target.clearSoftDirty(runner: writer?.mm === target) else { return }
        kernel.kickOutOfGuestCode { $0.mm === target }
    }
}
