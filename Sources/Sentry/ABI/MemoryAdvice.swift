/// madvise(2) advice values and mremap(2) flags (uapi asm-generic/mman-common.h,
/// linux/mman.h), defined once for the memory manager and --strace.
public enum MemoryAdvice {
    public static let MADV_NORMAL: Int32 = 0, MADV_RANDOM: Int32 = 1, MADV_SEQUENTIAL: Int32 = 2
    public static let MADV_WILLNEED: Int32 = 3, MADV_DONTNEED: Int32 = 4, MADV_FREE: Int32 = 8
    public static let MADV_REMOVE: Int32 = 9, MADV_DONTFORK: Int32 = 10, MADV_DOFORK: Int32 = 11
    public static let MADV_MERGEABLE: Int32 = 12, MADV_UNMERGEABLE: Int32 = 13, MADV_HUGEPAGE: Int32 = 14
    public static let MADV_NOHUGEPAGE: Int32 = 15, MADV_DONTDUMP: Int32 = 16, MADV_DODUMP: Int32 = 17
    public static let MADV_WIPEONFORK: Int32 = 18, MADV_KEEPONFORK: Int32 = 19, MADV_COLD: Int32 = 20
    public static let MADV_PAGEOUT: Int32 = 21, MADV_POPULATE_READ: Int32 = 22, MADV_POPULATE_WRITE: Int32 = 23

    /// Every advice Linux 6.1 accepts (without CONFIG_MEMORY_FAILURE's MADV_HWPOISON / MADV_SOFT_OFFLINE).
    public static let known: Set<Int32> = [
        MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED, MADV_FREE, MADV_REMOVE,
        MADV_DONTFORK, MADV_DOFORK, MADV_MERGEABLE, MADV_UNMERGEABLE, MADV_HUGEPAGE, MADV_NOHUGEPAGE,
        MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_COLD, MADV_PAGEOUT,
        MADV_POPULATE_READ, MADV_POPULATE_WRITE,
    ]

    public static let MREMAP_MAYMOVE: UInt32 = 1, MREMAP_FIXED: UInt32 = 2, MREMAP_DONTUNMAP: UInt32 = 4
}
