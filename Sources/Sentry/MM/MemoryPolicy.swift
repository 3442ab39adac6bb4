/// A NUMA memory policy (mm/mempolicy.c of Linux 6.1): a task's own, set by
/// set_mempolicy(2), or a range's, set by mbind(2).
///
/// The sandbox shows one memory node, node 0, as a machine without NUMA
/// does (`/sys/devices/system/node/possible` is "0" on such a Linux, so
/// nr_node_ids is 1), with Debian's MAX_NUMNODES of 1024. Every page is on
/// node 0, so a policy never moves a page; what the calls validate, store
/// and report back is Linux's, which is what libnuma, numactl and the
/// procps tools probe.
public struct MemoryPolicy: Sendable, Equatable {
    public static let MPOL_DEFAULT: Int32 = 0, MPOL_PREFERRED: Int32 = 1, MPOL_BIND: Int32 = 2
    public static let MPOL_INTERLEAVE: Int32 = 3, MPOL_LOCAL: Int32 = 4, MPOL_PREFERRED_MANY: Int32 = 5, MPOL_MAX: Int32 = 6
    public static let MPOL_F_STATIC_NODES: Int32 = 1 << 15, MPOL_F_RELATIVE_NODES: Int32 = 1 << 14
    public static let MPOL_F_NUMA_BALANCING: Int32 = 1 << 13
    public static let modeFlags = MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING

    /// MAX_NUMNODES (CONFIG_NODES_SHIFT=10) and the one node there is.
    public static let maxNodes: UInt64 = 1024
    public static let onlineNodes: UInt64 = 1

    /// MPOL_PREFERRED with no nodes is stored as MPOL_LOCAL, as 6.1's mpol_new does.
    public let mode: Int32
    /// The MPOL_F_* mode flags the caller gave.
    public let flags: Int32
    /// The nodes in effect (a subset of node 0), and the caller's own mask,
    /// which get_mempolicy reports with MPOL_F_STATIC_NODES/RELATIVE_NODES.
    public let nodes: UInt64
    public let userNodes: [UInt64]
    /// set_mempolicy_home_node's node, for BIND and PREFERRED_MANY ranges.
    public var homeNode: UInt64?

    /// sanitize_mpol_flags: the mode and its flags from one argument.
    public static func split(_ raw: Int32) throws(Errno) -> (mode: Int32, flags: Int32) {
        let flags = raw & modeFlags, mode = raw & ~modeFlags
        guard UInt32(bitPattern: mode) < UInt32(MPOL_MAX) else { throw .EINVAL }
        if flags & MPOL_F_STATIC_NODES != 0 && flags & MPOL_F_RELATIVE_NODES != 0 { throw .EINVAL }
        if flags & MPOL_F_NUMA_BALANCING != 0 && mode != MPOL_BIND { throw .EINVAL }
        return (mode, flags)
    }

    /// mpol_new and mpol_set_nodemask: nil is the default policy.
    /// `mask` is the caller's node mask, word by word.
    public static func make(mode: Int32, flags: Int32, mask: [UInt64]) throws(Errno) -> MemoryPolicy? {
        let empty = mask.allSatisfy { $0 == 0 }
        let userFlags = flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES)
        var mode = mode
        switch mode {
        case MPOL_DEFAULT:
            guard empty else { throw .EINVAL }
            return nil
        case MPOL_PREFERRED where empty:
            guard userFlags == 0 else { throw .EINVAL }
            mode = MPOL_LOCAL
        case MPOL_LOCAL:
            guard empty, userFlags == 0 else { throw .EINVAL }
        default:
            guard !empty else { throw .EINVAL }
        }
        var nodes: UInt64 = 0
        if mode != MPOL_LOCAL {
            // The allowed nodes are node 0 alone: a relative mask folds onto
            // it whatever its bits; any other mask keeps only its bit 0.
            nodes = flags & MPOL_F_RELATIVE_NODES != 0 ? onlineNodes : (mask.first ?? 0) & onlineNodes
            guard nodes != 0 else { throw .EINVAL }
        }
        return MemoryPolicy(mode: mode, flags: flags, nodes: nodes, userNodes: userFlags != 0 ? mask : [], homeNode: nil)
    }

    /// What get_mempolicy reports in its node mask (get_policy_nodemask,
    /// or the user's mask for static and relative policies).
    public var reportedNodes: [UInt64] {
        if flags & (Self.MPOL_F_STATIC_NODES | Self.MPOL_F_RELATIVE_NODES) != 0 { return userNodes }
        return mode == Self.MPOL_LOCAL ? [] : [nodes]
    }
}
