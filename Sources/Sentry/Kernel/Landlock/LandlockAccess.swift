import Glibc

/// Landlock's filesystem access rights (uapi/linux/landlock.h), as ABI 2
/// (Linux 6.1) knows them: bit n is LANDLOCK_ACCESS_FS_* number n.
public struct LandlockAccess: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let execute = LandlockAccess(rawValue: 1 << 0)
    public static let writeFile = LandlockAccess(rawValue: 1 << 1)
    public static let readFile = LandlockAccess(rawValue: 1 << 2)
    public static let readDir = LandlockAccess(rawValue: 1 << 3)
    public static let removeDir = LandlockAccess(rawValue: 1 << 4)
    public static let removeFile = LandlockAccess(rawValue: 1 << 5)
    public static let makeChar = LandlockAccess(rawValue: 1 << 6)
    public static let makeDir = LandlockAccess(rawValue: 1 << 7)
    public static let makeReg = LandlockAccess(rawValue: 1 << 8)
    public static let makeSock = LandlockAccess(rawValue: 1 << 9)
    public static let makeFifo = LandlockAccess(rawValue: 1 << 10)
    public static let makeBlock = LandlockAccess(rawValue: 1 << 11)
    public static let makeSym = LandlockAccess(rawValue: 1 << 12)
    public static let refer = LandlockAccess(rawValue: 1 << 13)

    /// How many rights ABI 2 has (LANDLOCK_NUM_ACCESS_FS).
    public static let count = 14
    /// LANDLOCK_MASK_ACCESS_FS: every right ABI 2 knows; TRUNCATE (6.2) is not one.
    public static let all = LandlockAccess(rawValue: (1 << UInt64(count)) - 1)
    /// ACCESS_FILE: the rights a rule on a file (not a directory) may grant.
    public static let fileRights: LandlockAccess = [.execute, .writeFile, .readFile]
    /// ACCESS_INITIALLY_DENIED: refused by every layer, handled or not.
    public static let initiallyDenied: LandlockAccess = .refer

    /// The names strace prints, in bit order.
    public static let names: [(UInt64, String)] = [
        "EXECUTE", "WRITE_FILE", "READ_FILE", "READ_DIR", "REMOVE_DIR", "REMOVE_FILE", "MAKE_CHAR",
        "MAKE_DIR", "MAKE_REG", "MAKE_SOCK", "MAKE_FIFO", "MAKE_BLOCK", "MAKE_SYM", "REFER",
    ].enumerated().map { (1 << UInt64($0.offset), "LANDLOCK_ACCESS_FS_" + $0.element) }

    /// get_mode_access: the right that making a node of this type needs
    /// (a weird or zero type counts as a regular file; erratum 4: a
    /// character device 0:0, overlayfs's whiteout, as one too).
    public static func make(_ mode: UInt32, device: UInt32 = 0) -> LandlockAccess {
        switch mode & S_IFMT {
        case S_IFLNK: .makeSym
        case S_IFDIR: .makeDir
        case S_IFCHR: device == 0 ? .makeReg : .makeChar
        case S_IFBLK: .makeBlock
        case S_IFIFO: .makeFifo
        case S_IFSOCK: .makeSock
        default: .makeReg
        }
    }

    /// get_mode_access for an existing file of this kind.
    public static func make(_ kind: FileKind) -> LandlockAccess {
        switch kind {
        case .symlink: .makeSym
        case .directory: .makeDir
        case .character: .makeChar
        case .block: .makeBlock
        case .fifo: .makeFifo
        case .socket: .makeSock
        case .regular: .makeReg
        }
    }

    /// hook_file_open's get_file_access: reading a directory is READ_DIR
    /// alone; a file READ_FILE and WRITE_FILE by the open's mode (O_ACCMODE
    /// 3 asks for neither); execve's open, read-only, READ_FILE and EXECUTE.
    /// O_TRUNC asks for nothing more (TRUNCATE came with ABI 3).
    public static func opening(_ flags: OpenFlags, directory: Bool, execute: Bool) -> LandlockAccess {
        let mode = execute ? 0 : flags.rawValue & OpenFlags.accessMode
        if directory && (mode == 0 || mode == 2) { return .readDir }
        var access: LandlockAccess = []
        if mode == 0 || mode == 2 { access.insert(.readFile) }
        if mode == 1 || mode == 2 { access.insert(.writeFile) }
        if execute { access.insert(.execute) }
        return access
    }

    /// maybe_remove: the right removing this file needs.
    public static func remove(_ kind: FileKind) -> LandlockAccess { kind == .directory ? .removeDir : .removeFile }
}

/// The uapi's other numbers.
public enum Landlock {
    /// LANDLOCK_ABI_VERSION of Linux 6.1.
    public static let abiVersion: Int64 = 2
    /// LANDLOCK_CREATE_RULESET_VERSION / _ERRATA.
    public static let createRulesetVersion: UInt32 = 1 << 0
    public static let createRulesetErrata: UInt32 = 1 << 1
    /// The errata Debian's 6.1 reports fixed (security/landlock/errata/abi-1.h:
    /// numbers 3 and 4), as a bitmask: bit n-1 for erratum n.
    public static let errata: Int64 = 1 << 2 | 1 << 3
    /// LANDLOCK_RULE_PATH_BENEATH.
    public static let rulePathBeneath: UInt32 = 1
    /// LANDLOCK_MAX_NUM_LAYERS.
    public static let maxLayers = 16
    /// sizeof(struct landlock_ruleset_attr), sizeof(struct landlock_path_beneath_attr).
    public static let rulesetAttrSize = 8, pathBeneathAttrSize = 12
}
