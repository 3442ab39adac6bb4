/// Landlock's attribute structs as strace 6.1 prints them (landlock.c):
/// the ruleset's handled rights, `...` after them for a larger size, only
/// the address for a size too small; a path-beneath rule's rights and
/// parent descriptor.
extension ArgPrinter {
    private func landlockRights(_ v: UInt64) -> String {
        Decode.flags(v, LandlockAccess.names, unknown: "LANDLOCK_ACCESS_FS_???")
    }

    func landlockRulesetAttr(_ v: UInt64, size: UInt64) -> String {
        guard size >= UInt64(Landlock.rulesetAttrSize), let handled = read(v, UInt64.self) else { return hexOrNull(v) }
        return "{handled_access_fs=\(landlockRights(handled))" + (size > UInt64(Landlock.rulesetAttrSize) ? ", ...}" : "}")
    }

    func landlockRuleAttr(_ v: UInt64, type: UInt64) -> String {
        guard type == UInt64(Landlock.rulePathBeneath), let r = read(v, (UInt64, Int32).self) else { return hexOrNull(v) }
        return "{allowed_access=\(landlockRights(r.0)), parent_fd=\(descriptor(Int64(r.1)))}"
    }
}
