/// personality(2)'s value (include/uapi/linux/personality.h): an execution
/// domain in the low byte, and flags that change what a few calls do.
public struct Personality: RawRepresentable, Sendable, Equatable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let UNAME26: UInt32 = 0x0020000
    public static let ADDR_NO_RANDOMIZE: UInt32 = 0x0040000
    public static let FDPIC_FUNCPTRS: UInt32 = 0x0080000
    public static let MMAP_PAGE_ZERO: UInt32 = 0x0100000
    public static let ADDR_COMPAT_LAYOUT: UInt32 = 0x0200000
    public static let READ_IMPLIES_EXEC: UInt32 = 0x0400000
    public static let ADDR_LIMIT_32BIT: UInt32 = 0x0800000
    public static let SHORT_INODE: UInt32 = 0x1000000
    public static let WHOLE_SECONDS: UInt32 = 0x2000000
    public static let STICKY_TIMEOUTS: UInt32 = 0x4000000
    public static let ADDR_LIMIT_3GB: UInt32 = 0x8000000
    /// What an exec that gains privilege clears (PER_CLEAR_ON_SETID).
    public static let clearedOnSetID = READ_IMPLIES_EXEC | ADDR_NO_RANDOMIZE | ADDR_COMPAT_LAYOUT | MMAP_PAGE_ZERO
    public static let PER_MASK: UInt32 = 0xff
    public static let PER_LINUX: UInt32 = 0, PER_LINUX32: UInt32 = 8
    /// personality(0xffffffff) only asks.
    public static let query: UInt32 = 0xffff_ffff

    public static let linux = Personality(rawValue: PER_LINUX)

    public func has(_ flag: UInt32) -> Bool { rawValue & flag != 0 }
    public var domain: UInt32 { rawValue & Self.PER_MASK }

    /// uname's machine: a PER_LINUX32 process sees the 32-bit one
    /// (override_architecture, COMPAT_UTS_MACHINE).
    public func machine(_ native: String) -> String { domain == Self.PER_LINUX32 ? "i686" : native }

    /// uname's release under UNAME26 (override_release): 2.6.(60 + the
    /// minor version), then whatever follows the third number.
    public func release(_ native: String) -> String {
        guard has(Self.UNAME26) else { return native }
        var dots = 0
        var rest = Substring(native)
        while let c = rest.first {
            if c == "." { dots += 1; if dots >= 3 { break } }
            if !c.isASCII || (!c.isNumber && c != ".") { break }
            rest = rest.dropFirst()
        }
        let parts = native.split(separator: ".", maxSplits: 2)
        let minor = parts.count > 1 ? UInt32(parts[1].prefix { $0.isNumber }) ?? 0 : 0
        return "2.6.\(minor + 60)" + rest
    }
}
