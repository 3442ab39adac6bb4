/// struct sched_attr as strace 6.1 prints it: for sched_setattr the size
/// the caller gave (0 read as VER0), only `{size=N}` below VER0, the
/// utilization clamps from VER1 on and `...` for a larger struct; for
/// sched_getattr as much as the kernel wrote (its size field).
extension ArgPrinter {
    private static let schedFlags: [(UInt64, String)] = [
        (0x01, "SCHED_FLAG_RESET_ON_FORK"), (0x02, "SCHED_FLAG_RECLAIM"), (0x04, "SCHED_FLAG_DL_OVERRUN"),
        (0x08, "SCHED_FLAG_KEEP_POLICY"), (0x10, "SCHED_FLAG_KEEP_PARAMS"), (0x20, "SCHED_FLAG_UTIL_CLAMP_MIN"),
        (0x40, "SCHED_FLAG_UTIL_CLAMP_MAX"),
    ]
    private static let ver0: UInt32 = 48, ver1: UInt32 = 56

    /// `kernelSize`: sched_getattr's buffer size; nil for sched_setattr.
    func schedAttr(_ v: UInt64, kernelSize: UInt32?) -> String {
        guard let given = read(v, UInt32.self) else { return hexOrNull(v) }
        let declared = kernelSize == nil ? (given == 0 ? Self.ver0 : given) : given
        var out = "{size=\(given)"
        if declared >= Self.ver0, let h = read(v, (UInt32, UInt32, UInt64, Int32, UInt32, UInt64, UInt64, UInt64).self) {
            let policy = Decode.schedPolicies[UInt64(h.1)] ?? "0x\(String(h.1, radix: 16)) /* SCHED_??? */"
            let known = Self.schedFlags.reduce(UInt64(0)) { $0 | $1.0 }
            let flags = h.2 != 0 && h.2 & known == 0 ? "0x\(String(h.2, radix: 16)) /* SCHED_FLAG_??? */" : Decode.flags(h.2, Self.schedFlags)
            // What sched_setattr's SCHED_FLAG_KEEP_POLICY/KEEP_PARAMS make the kernel ignore is left out.
            let setting = kernelSize == nil
            if !setting || h.2 & 0x18 == 0 { out += ", sched_policy=\(policy)" }   // as strace 6.1: either KEEP flag hides it
            out += ", sched_flags=\(flags)"
            if !setting || h.2 & 0x10 == 0 {
                out += ", sched_nice=\(h.3), sched_priority=\(h.4), sched_runtime=\(h.5), sched_deadline=\(h.6), sched_period=\(h.7)"
            }
            if declared >= Self.ver1, let u = read(v &+ 48, (UInt32, UInt32).self) { out += ", sched_util_min=\(u.0), sched_util_max=\(u.1)" }
        }
        if declared > Self.ver1 { out += ", ..." }
        return out + "}"
    }
}
