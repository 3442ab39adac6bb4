import Sentry

/// The NUMA memory policy calls, as mm/mempolicy.c and mm/migrate.c of
/// Linux 6.1 answer them on a machine with one memory node (see
/// `MemoryPolicy`): every check and errno in Linux's order, policies stored
/// and reported back, and no page ever moves because every page is on node 0.
enum MemoryPolicies {
    typealias P = MemoryPolicy
    static let MPOL_F_NODE: UInt64 = 1, MPOL_F_ADDR: UInt64 = 2, MPOL_F_MEMS_ALLOWED: UInt64 = 4
    static let MPOL_MF_STRICT: UInt32 = 1, MPOL_MF_MOVE: UInt32 = 2, MPOL_MF_MOVE_ALL: UInt32 = 4
    static let MPOL_MF_VALID = MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL
    static let page = GuestAddress.pageSize
    static let getFlagNames: [(UInt64, String)] = [(1, "MPOL_F_NODE"), (2, "MPOL_F_ADDR"), (4, "MPOL_F_MEMS_ALLOWED")]
    static let mbindFlagNames: [(UInt64, String)] = [(1, "MPOL_MF_STRICT"), (2, "MPOL_MF_MOVE"), (4, "MPOL_MF_MOVE_ALL")]

    /// get_nodes: the caller's node mask of `maxnode` bits (one less, as
    /// Linux counts). Bits past MAX_NUMNODES must be clear, a word at a
    /// time from the top; the mask is at most a page of bits.
    static func nodeMask(_ t: Task, _ addr: GuestAddress, maxnode: UInt64) throws(Errno) -> [UInt64] {
        var bits = maxnode &- 1
        if bits == 0 || addr.isNull { return [] }
        guard bits <= page * 8 else { throw .EINVAL }
        func word(_ i: UInt64) throws(Errno) -> UInt64 { try t.mm.read(addr + i * 8, as: UInt64.self) }
        while bits > P.maxNodes {
            let n = min(bits, 64)
            var w = try word((bits - 1) / 64)
            if n % 64 != 0 { w &= (1 << (n % 64)) - 1 }
            if bits - n >= P.maxNodes { bits -= n } else { bits = P.maxNodes }
            guard w == 0 else { throw .EINVAL }
        }
        var mask: [UInt64] = []
        for i in 0..<(bits + 63) / 64 { mask.append(try word(i)) }
        if bits % 64 != 0 { mask[mask.count - 1] &= (1 << (bits % 64)) - 1 }
        return mask
    }

    /// copy_nodes_to_user: what fits of `maxnode` bits; past the one word
    /// that nr_node_ids needs, zeros (up to a page's worth).
    static func copyNodes(_ t: Task, _ addr: GuestAddress, maxnode: UInt64, _ nodes: [UInt64]) throws(Errno) {
        var copy = (((maxnode &- 1) &+ 63) & ~63) / 8
        if copy > 8 {
            guard copy <= page else { throw .EINVAL }
            try t.mm.copyOut(addr + 8, [UInt8](repeating: 0, count: Int(copy - 8)))
            copy = 8
        }
        if copy > 0 { try t.mm.write(addr, nodes.first ?? 0) }
    }

    static func getMempolicy(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let policyOut = a.address(0), maskOut = a.address(1), maxnode = a[2], addr = a[3], flags = a[4]
        if !maskOut.isNull && maxnode < P.onlineNodes { throw .EINVAL }
        guard flags & ~(MPOL_F_NODE | MPOL_F_ADDR | MPOL_F_MEMS_ALLOWED) == 0 else { throw .EINVAL }
        var value: Int32 = 0
        var nodes: [UInt64]
        if flags & MPOL_F_MEMS_ALLOWED != 0 {
            guard flags & (MPOL_F_NODE | MPOL_F_ADDR) == 0 else { throw .EINVAL }
            nodes = [P.onlineNodes]
        } else {
            let own = t.attributes.withLock { $0.memoryPolicy }
            let policy: MemoryPolicy?
            if flags & MPOL_F_ADDR != 0 {
                guard let v = t.mm.vma(at: GuestAddress(addr)) else { throw .EFAULT }
                policy = v.policy
            } else {
                guard addr == 0 else { throw .EINVAL }
                policy = own
            }
            if flags & MPOL_F_NODE != 0 {
                if flags & MPOL_F_ADDR != 0 {
                    // lookup_node: the node of the page there, faulted in for reading.
                    guard let v = t.mm.vma(at: GuestAddress(addr)), v.prot.contains(.read), GuestAddress(addr) < v.accessibleEnd else { throw .EFAULT }
                    value = 0
                } else if let p = policy, p.mode == P.MPOL_INTERLEAVE {
                    value = 0   // the next node to interleave on: the only one
                } else {
                    throw .EINVAL
                }
            } else if let p = policy {
                value = p.mode | (p.flags & P.modeFlags)
            }
            nodes = policy?.reportedNodes ?? []
        }
        if !policyOut.isNull { try t.mm.write(policyOut, value) }
        if !maskOut.isNull { try copyNodes(t, maskOut, maxnode: maxnode, nodes) }
        return 0
    }

    static func setMempolicy(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let (mode, flags) = try P.split(a.int32(0))
        let mask = try nodeMask(t, a.address(1), maxnode: a[2])
        let policy = try P.make(mode: mode, flags: flags, mask: mask)
        t.attributes.withLock { $0.memoryPolicy = policy }
        return 0
    }

    /// PAGE_ALIGN(len) added to a page-aligned start, as Linux computes it
    /// (both wrap): nil when the range is empty, EINVAL when it wraps.
    private static func range(_ start: UInt64, _ len: UInt64) throws(Errno) -> Range<GuestAddress>? {
        let aligned = (len &+ (page - 1)) & ~(page - 1)
        let end = start &+ aligned
        guard end >= start else { throw .EINVAL }
        return end == start ? nil : GuestAddress(start)..<GuestAddress(end)
    }

    static func mbind(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let start = a[0], len = a[1]
        let (mode, modeFlags) = try P.split(a.int32(2))
        let mask = try nodeMask(t, a.address(3), maxnode: a[4])
        // do_mbind
        let flags = a.uint32(5)
        guard flags & ~MPOL_MF_VALID == 0 else { throw .EINVAL }
        if flags & MPOL_MF_MOVE_ALL != 0 && !Creds.creds(t).capable(Credentials.CAP_SYS_NICE) { throw .EPERM }
        guard start % page == 0 else { throw .EINVAL }
        guard let r = try range(start, len) else { return 0 }
        let policy = try P.make(mode: mode, flags: modeFlags, mask: mask)
        // MPOL_MF_STRICT finds nothing to report: no page is off node 0.
        try t.mm.setPolicy(policy, on: r)
        return 0
    }

    static func setMempolicyHomeNode(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let start = a[0], len = a[1], node = a[2], flags = a[3]
        guard start % page == 0, flags == 0 else { throw .EINVAL }
        guard node < P.maxNodes, node < 64, P.onlineNodes & (1 << node) != 0 else { throw .EINVAL }
        guard let r = try range(start, len) else { return 0 }
        try t.mm.setHomeNode(node, on: r)
        return 0
    }

    /// find_mm_struct / kernel_migrate_pages' lookup: the caller for pid 0,
    /// else a task the caller may inspect (PTRACE_MODE_READ_REALCREDS).
    private static func target(_ t: Task, _ pid: Int32) throws(Errno) -> Task {
        if pid == 0 { return t }
        guard pid > 0, let task = t.kernel.task(pid) else { throw .ESRCH }
        guard t.mayInspect(task) else { throw .EPERM }
        return task
    }

    static func migratePages(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        _ = try nodeMask(t, a.address(2), maxnode: a[1])   // the old nodes: all pages are on node 0 already
        let new = try nodeMask(t, a.address(3), maxnode: a[1])
        _ = try target(t, a.int32(0))
        // Nodes outside the target's cpuset need CAP_SYS_NICE; what is left
        // inside the caller's must not be empty. Then nothing moves: every
        // page is on the only node, and 0 pages failed to move.
        let outside = new.enumerated().contains { $0.offset == 0 ? $0.element & ~P.onlineNodes != 0 : $0.element != 0 }
        if outside && !Creds.creds(t).capable(Credentials.CAP_SYS_NICE) { throw .EPERM }
        guard (new.first ?? 0) & P.onlineNodes != 0 else { throw .EINVAL }
        return 0
    }

    static func movePages(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let count = a[1], pages = a.address(2), nodes = a.address(3), status = a.address(4), flags = a.uint32(5)
        guard flags & ~(MPOL_MF_MOVE | MPOL_MF_MOVE_ALL) == 0 else { throw .EINVAL }
        if flags & MPOL_MF_MOVE_ALL != 0 && !Creds.creds(t).capable(Credentials.CAP_SYS_NICE) { throw .EPERM }
        let task = try target(t, a.int32(0))
        // What a page's status is: its node, -EFAULT with no mapping there,
        // -ENOENT for a page never touched (add_page_for_migration, do_pages_stat_array).
        func state(_ p: UInt64) -> Int32 {
            let at = GuestAddress(p & ~(page - 1))
            guard let v = task.mm.vma(at: at) else { return -Errno.EFAULT.rawValue }
            if at >= v.accessibleEnd { return -Errno.EFAULT.rawValue }
            return task.mm.residency(at..<(at + page)).first == 1 ? 0 : -Errno.ENOENT.rawValue
        }
        if nodes.isNull {
            // do_pages_stat: sixteen pointers in, sixteen statuses out, at a time.
            var i: UInt64 = 0
            while i < count {
                let n = min(count - i, 16)
                var out: [Int32] = []
                for k in 0..<n { out.append(state(try t.mm.read(pages + (i + k) &* 8, as: UInt64.self))) }
                try t.mm.copyOut(status + i &* 4, out.withUnsafeBytes { Array($0) })
                i += n
            }
            return 0
        }
        // do_pages_move: a node other than 0 is not a memory node (ENODEV);
        // a page already on its target node gets that node as its status.
        for i in 0..<count {
            let p = try t.mm.read(pages + i &* 8, as: UInt64.self)
            let node = try t.mm.read(nodes + i &* 4, as: Int32.self)
            guard node >= 0, UInt64(node) < P.maxNodes, node < 64, P.onlineNodes & (1 << UInt64(node)) != 0 else { throw .ENODEV }
            let s = state(p)
            try t.mm.write(status + i &* 4, s == 0 ? node : s)
        }
        return 0
    }
}
