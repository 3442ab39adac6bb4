/// /proc/sys/fs/protected_* and /proc/sys/net/ipv4/ping_group_range: the
/// sandbox's own values (SandboxSysctls). Mode 0644 root's: only an
/// effective uid of 0 may write the fs ones (sysctl_perm), and also a task
/// with CAP_NET_ADMIN the net one (net_ctl_permissions). Writes are read as
/// 6.1's proc_dointvec_minmax and proc_doulongvec_minmax read them.
extension ProcFS {
    static func protectedSysctl(_ s: SandboxSysctls.Protected, _ sysctls: SandboxSysctls) -> Inode {
        ProcControlNode(path: "/proc/sys/fs/" + s.name, device: device, sysctl: true, mayWrite: { (ctx: WalkContext) throws(Errno) -> Bool in
            ctx.credentials.map { $0.euid == 0 } ?? true
        }, contents: { () throws(Errno) in
            Array("\(sysctls.values[keyPath: s.field])\n".utf8)
        }, store: { (bytes: [UInt8], _: WalkContext) throws(Errno) -> Int? in
            // do_proc_dointvec_minmax_conv: an int, then the range.
            let (values, taken) = try SysctlNumbers.parse(bytes, count: 1, negativeAllowed: true)
            let v = Int(Int64(bitPattern: values[0]))
            guard s.range.contains(v) else { throw .EINVAL }
            sysctls.update { $0[keyPath: s.field] = v }
            return taken
        })
    }

    static func pingGroupRangeSysctl(_ sysctls: SandboxSysctls) -> Inode {
        ProcControlNode(path: "/proc/sys/net/ipv4/ping_group_range", device: device, sysctl: true, mayWrite: { (ctx: WalkContext) throws(Errno) -> Bool in
            ctx.credentials.map { $0.euid == 0 || $0.capable(Credentials.CAP_NET_ADMIN) } ?? true
        }, contents: { () throws(Errno) in
            let v = sysctls.values
            return Array("\(v.pingGroupLow)\t\(v.pingGroupHigh)\n".utf8)
        }, store: { (bytes: [UInt8], _: WalkContext) throws(Errno) -> Int? in
            // ipv4_ping_group_range: up to two gids, each at most GID_T_MAX
            // (an invalid gid, (gid_t)-1, is EINVAL); one alone keeps the
            // other; a high below the low allows no group ("1 0").
            let (values, taken) = try SysctlNumbers.parse(bytes, count: 2, negativeAllowed: false)
            let old = sysctls.values
            var low = UInt64(old.pingGroupLow), high = UInt64(old.pingGroupHigh)
            low = values[0]
            if values.count > 1 { high = values[1] }
            guard low < UInt64(UInt32.max), high < UInt64(UInt32.max) else { throw .EINVAL }
            if high < low { (low, high) = (1, 0) }
            sysctls.update { $0.pingGroupLow = UInt32(low); $0.pingGroupHigh = UInt32(high) }
            return taken
        })
    }
}

/// The numbers of a sysctl write as 6.1's __do_proc_dointvec and
/// __do_proc_doulongvec_minmax read them (kernel/sysctl.c): up to `count`
/// numbers, each after spaces, in C's bases (0x hex, 0 octal), ended by a
/// space, tab or newline or the end; a minus sign only where
/// `negativeAllowed`; at most 21 characters a number. Returns the numbers
/// (as two's complement for a negative one) and the bytes taken (trailing
/// spaces included); EINVAL for no number or a malformed first one.
enum SysctlNumbers {
    /// TMPBUFLEN - 1 of proc_get_long.
    static let longestNumber = 21
    static let pageSize = 4096

    static func parse(_ bytes: [UInt8], count: Int, negativeAllowed: Bool) throws(Errno) -> (values: [UInt64], taken: Int) {
        let b = bytes.prefix(pageSize - 1)
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (0x09...0x0d).contains(c) }
        func skipSpaces(_ i: inout Int) { while i < b.count && isSpace(b[i]) { i += 1 } }
        var i = 0, values: [UInt64] = [], failed: Errno?
        while i < b.count && values.count < count {
            skipSpaces(&i)
            if i == b.count { break }
            do throws(Errno) {
                values.append(try number(b, at: &i, negativeAllowed: negativeAllowed))
            } catch {
                failed = error
                break
            }
        }
        if failed == nil && i < b.count { skipSpaces(&i) }
        if values.isEmpty { throw failed ?? .EINVAL }
        // A later number's error still fails the write (the first numbers are not kept by our callers either).
        if let failed { throw failed }
        return (values, i)
    }

    /// proc_get_long and the conversion's sign rule.
    private static func number(_ b: ArraySlice<UInt8>, at i: inout Int, negativeAllowed: Bool) throws(Errno) -> UInt64 {
        let window = b[i..<min(b.count, i + longestNumber)]
        var p = window.startIndex
        var negative = false
        if p < window.endIndex, window[p] == UInt8(ascii: "-"), b.count - i > 1 { negative = true; p += 1 }
        guard p < window.endIndex, (0x30...0x39).contains(window[p]) else { throw .EINVAL }
        // _parse_integer_fixup_radix.
        var radix: UInt64 = 10
        if window[p] == UInt8(ascii: "0") {
            radix = 8
            if p + 2 < window.endIndex, window[p + 1] | 0x20 == UInt8(ascii: "x"), hexValue(window[p + 2]) != nil { radix = 16; p += 2 }
        }
        var value: UInt64 = 0
        while p < window.endIndex, let d = hexValue(window[p]), UInt64(d) < radix {
            let (m, o1) = value.multipliedReportingOverflow(by: radix)
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { throw .EINVAL }
            value = s
            p += 1
        }
        let length = p - window.startIndex
        if length == longestNumber { throw .EINVAL }
        if p < b.count, ![0x20, 0x09, 0x0a].contains(b[p]) { throw .EINVAL }
        i = p
        if negative {
            // do_proc_dointvec_conv: down to INT_MIN; doulongvec refuses any sign.
            guard negativeAllowed, value <= UInt64(Int32.max) + 1 else { throw .EINVAL }
            return UInt64(bitPattern: -Int64(value))
        }
        if negativeAllowed && value > UInt64(Int32.max) { throw .EINVAL }
        return value
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
}
