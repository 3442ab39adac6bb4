/// The legacy vsyscall page (arch/x86/entry/vsyscall/vsyscall_64.c): three
/// entry points 1024 bytes apart at a fixed address above user space. With
/// Linux 6.1's default `vsyscall=xonly` the page cannot be read, and a call
/// into it faults; the kernel emulates the call and returns to the caller.
public enum VsyscallPage {
    public static let address: UInt64 = 0xffff_ffff_ff60_0000
    public static let size: UInt64 = 4096
    /// Entries are 1024 bytes apart: gettimeofday, time, getcpu.
    public static let entryStride: UInt64 = 1024
    public static let entryCount: UInt64 = 3

    public static func contains(_ a: UInt64) -> Bool { a &- address < size }

    /// The entry `a` calls (addr_to_vsyscall_nr), or nil for a misaligned one.
    public static func entry(at a: UInt64) -> Int? {
        let offset = a &- address
        guard offset < size, offset % entryStride == 0, offset / entryStride < entryCount else { return nil }
        return Int(offset / entryStride)
    }

    /// The /proc/PID/maps line of the gate VMA, as show_map_vma prints it.
    public static let mapsLine = "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"
}
