import Glibc

/// A POSIX ACL (fs/posix_acl.c, include/uapi/linux/posix_acl_xattr.h) as
/// the system.posix_acl_access and system.posix_acl_default xattrs carry
/// it: a version-2 header, then (tag, perm, id) entries, little-endian.
/// The rules are Linux 6.1's: posix_acl_from_xattr and posix_acl_valid to
/// accept one, posix_acl_permission to judge by it, posix_acl_equiv_mode,
/// posix_acl_chmod_masq and posix_acl_create_masq to keep it and the mode in step.
public struct PosixACL: Sendable, Equatable {
    public static let accessName = "system.posix_acl_access", defaultName = "system.posix_acl_default"
    static let version: UInt32 = 2
    static let headerSize = 4, entrySize = 8
    public static let USER_OBJ: UInt16 = 0x01, USER: UInt16 = 0x02, GROUP_OBJ: UInt16 = 0x04
    public static let GROUP: UInt16 = 0x08, MASK: UInt16 = 0x10, OTHER: UInt16 = 0x20
    /// ACL_UNDEFINED_ID: the id of the entries that name none.
    static let undefinedID: UInt32 = 0xffff_ffff

    public struct Entry: Sendable, Equatable {
        public var tag: UInt16
        public var perm: UInt16
        public var id: UInt32
    }
    public var entries: [Entry]

    public enum Kind: Sendable { case access, `default` }
    public static func kind(ofXattr name: String) -> Kind? {
        name == accessName ? .access : name == defaultName ? .default : nil
    }

    /// posix_acl_from_xattr: nil for an empty value or one with no entries
    /// (the ACL is removed); EINVAL for a short or ragged value, an unknown
    /// tag or an id that is no valid uid/gid; EOPNOTSUPP for another version.
    public static func parse(_ b: [UInt8]) throws(Errno) -> PosixACL? {
        if b.isEmpty { return nil }
        guard b.count >= headerSize else { throw .EINVAL }
        func u16(_ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { UInt32(u16(o)) | UInt32(u16(o + 2)) << 16 }
        guard u32(0) == version else { throw .EOPNOTSUPP }
        guard (b.count - headerSize) % entrySize == 0 else { throw .EINVAL }
        var entries: [Entry] = []
        var o = headerSize
        while o < b.count {
            var e = Entry(tag: u16(o), perm: u16(o + 2), id: u32(o + 4))
            switch e.tag {
            case USER_OBJ, GROUP_OBJ, MASK, OTHER: e.id = undefinedID
            case USER, GROUP: if e.id == undefinedID { throw .EINVAL }   // no valid kuid/kgid
            default: throw .EINVAL
            }
            entries.append(e)
            o += entrySize
        }
        return entries.isEmpty ? nil : PosixACL(entries: entries)
    }

    /// posix_acl_to_xattr.
    public var bytes: [UInt8] {
        var b: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        put(Self.version)
        for e in entries { put(e.tag); put(e.perm); put(e.id) }
        return b
    }

    /// posix_acl_valid: only rwx permissions; the owner, then named users,
    /// the group, named groups, a mask (needed with any named entry), the others.
    public func validate() throws(Errno) {
        enum State { case userObj, user, group, other, done }
        var state = State.userObj
        var needsMask = false
        for e in entries {
            guard e.perm & ~7 == 0 else { throw .EINVAL }
            switch e.tag {
            case Self.USER_OBJ:
                guard state == .userObj else { throw .EINVAL }
                state = .user
            case Self.USER:
                guard state == .user else { throw .EINVAL }
                needsMask = true
            case Self.GROUP_OBJ:
                guard state == .user else { throw .EINVAL }
                state = .group
            case Self.GROUP:
                guard state == .group else { throw .EINVAL }
                needsMask = true
            case Self.MASK:
                guard state == .group else { throw .EINVAL }
                state = .other
            case Self.OTHER:
                guard state == .other || (state == .group && !needsMask) else { throw .EINVAL }
                state = .done
            default:
                throw .EINVAL
            }
        }
        guard state == .done else { throw .EINVAL }
    }

    /// posix_acl_equiv_mode: the permission bits the ACL gives (the mask as
    /// the group's), and whether the mode alone says as much.
    public func equivalentMode(_ mode: UInt32) -> (mode: UInt32, equivalent: Bool) {
        var m: UInt32 = 0
        var equivalent = true
        for e in entries {
            let p = UInt32(e.perm & 7)
            switch e.tag {
            case Self.USER_OBJ: m |= p << 6
            case Self.GROUP_OBJ: m |= p << 3
            case Self.OTHER: m |= p
            case Self.MASK: m = (m & ~0o070) | p << 3; equivalent = false
            default: equivalent = false
            }
        }
        return ((mode & ~0o777) | m, equivalent)
    }

    /// posix_acl_chmod_masq: a new mode rewrites the owner, other and mask
    /// (or, with no mask, group) entries.
    public mutating func chmod(_ mode: UInt32) {
        let mask = entries.firstIndex { $0.tag == Self.MASK }
        for i in entries.indices {
            switch entries[i].tag {
            case Self.USER_OBJ: entries[i].perm = UInt16((mode >> 6) & 7)
            case Self.OTHER: entries[i].perm = UInt16(mode & 7)
            case Self.MASK: entries[i].perm = UInt16((mode >> 3) & 7)
            case Self.GROUP_OBJ where mask == nil: entries[i].perm = UInt16((mode >> 3) & 7)
            default: break
            }
        }
    }

    /// posix_acl_create_masq: a parent's default ACL cut down by the mode
    /// the creating call asked for, and that mode cut down by the ACL.
    /// Returns whether the result needs an ACL (named entries or a mask).
    public mutating func createMasq(_ modeIn: inout UInt32) -> Bool {
        var mode = modeIn
        var notEquivalent = false
        var group: Int?, mask: Int?
        for i in entries.indices {
            switch entries[i].tag {
            case Self.USER_OBJ:
                entries[i].perm &= UInt16(truncatingIfNeeded: (mode >> 6) & 7)
                mode &= (UInt32(entries[i].perm) << 6) | ~UInt32(0o700)
            case Self.USER, Self.GROUP: notEquivalent = true
            case Self.GROUP_OBJ: group = i
            case Self.OTHER:
                entries[i].perm &= UInt16(truncatingIfNeeded: mode & 7)
                mode &= UInt32(entries[i].perm) | ~UInt32(0o007)
            case Self.MASK: mask = i; notEquivalent = true
            default: break
            }
        }
        if let i = mask ?? group {
            entries[i].perm &= UInt16(truncatingIfNeeded: (mode >> 3) & 7)
            mode &= (UInt32(entries[i].perm) << 3) | ~UInt32(0o070)
        }
        modeIn = (modeIn & ~0o777) | (mode & 0o777)
        return notEquivalent
    }

    /// posix_acl_permission for a task that does not own the file: a named
    /// user entry, else the owning and named groups that grant everything
    /// asked (each through the mask), else the others' entry unless a group
    /// matched. `want` is the rwx bits.
    public func permission(_ file: InodeOwnership, want: UInt16, _ c: Credentials) -> Errno? {
        let mask = entries.first { $0.tag == Self.MASK }?.perm ?? 7
        var found = false
        for e in entries {
            switch e.tag {
            case Self.USER_OBJ:
                if c.fsuid == file.uid { return e.perm & want == want ? nil : .EACCES }
            case Self.USER:
                if c.fsuid == e.id { return e.perm & mask & want == want ? nil : .EACCES }
            case Self.GROUP_OBJ, Self.GROUP:
                let gid = e.tag == Self.GROUP_OBJ ? file.gid : e.id
                if c.inGroup(gid) {
                    found = true
                    if e.perm & want == want { return e.perm & mask & want == want ? nil : .EACCES }
                }
            case Self.OTHER:
                if found { return .EACCES }
                return e.perm & want == want ? nil : .EACCES
            default: break
            }
        }
        return .EIO
    }
}
