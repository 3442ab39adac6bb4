import Synchronization

/// The sysctls a sandbox may change for itself (root in it writes them
/// through /proc/sys): fs.protected_*, which the VFS's may_follow_link,
/// may_linkat and may_create_in_sticky read, and net.ipv4.ping_group_range,
/// which ping sockets' creation reads. The host's own values are never touched.
public final class SandboxSysctls: Sendable {
    public struct Values: Codable, Sendable, Equatable {
        /// Debian's, as its procps sets them at boot
        /// (/usr/lib/sysctl.d/99-protect-links.conf) over 6.1's built-in 1, 1, 0, 0.
        public var protectedSymlinks = 1, protectedHardlinks = 1, protectedFIFOs = 1, protectedRegular = 2
        /// net.ipv4.ping_group_range: the gids low...high may open ping
        /// sockets; none if high < low (the kernel's own default, "1 0").
        /// Debian 12's systemd (50-default.conf) and Docker allow every group.
        public var pingGroupLow: UInt32 = 0, pingGroupHigh: UInt32 = 2_147_483_647
        public init() {}

        public func pingAllowed(_ gid: UInt32) -> Bool { pingGroupLow <= gid && gid <= pingGroupHigh }

        /// Every value one a write could set (a restored image's).
        public var valid: Bool {
            SandboxSysctls.protected.allSatisfy { $0.range.contains(self[keyPath: $0.field]) }
                && pingGroupLow < UInt32.max && pingGroupHigh < UInt32.max
                && (pingGroupLow <= pingGroupHigh || (pingGroupLow == 1 && pingGroupHigh == 0))
        }
    }

    /// The fs.protected_* files: name, value, and proc_dointvec_minmax's range (namei_sysctls).
    public struct Protected: Sendable {
        public let name: String
        public let field: WritableKeyPath<Values, Int> & Sendable
        public let range: ClosedRange<Int>
    }
    public static let protected: [Protected] = [
        Protected(name: "protected_symlinks", field: \.protectedSymlinks, range: 0...1),
        Protected(name: "protected_hardlinks", field: \.protectedHardlinks, range: 0...1),
        Protected(name: "protected_fifos", field: \.protectedFIFOs, range: 0...2),
        Protected(name: "protected_regular", field: \.protectedRegular, range: 0...2),
    ]

    private let state = Mutex(Values())
    public init() {}

    public var values: Values { state.withLock { $0 } }
    public func update(_ change: (inout Values) -> Void) { state.withLock { change(&$0) } }

    /// What a checkpoint keeps: the values if the guest changed any.
    public var changedValues: Values? {
        let v = values
        return v == Values() ? nil : v
    }
}
