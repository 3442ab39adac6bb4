import Glibc
import Synchronization

/// What a Landlock rule is tied to: an inode, known by the device and inode
/// number its stat shows (the sentry may make several Inode objects for
/// one file, as /proc does per lookup, or a host file reached by two binds).
/// A host file's numbers are the host's, a sentry-made one's the sentry's
/// own: `host` keeps the two apart.
public struct LandlockObject: Hashable, Sendable {
    public let device: UInt64, inode: UInt64
    public let host: Bool
    init?(_ node: Inode) {
        // An overlay's file shows the layer that holds it: known by its
        // lower file while it has one, so a copy-up keeps its rules (as the
        // overlay inode Linux ties them to stays).
        let identity = (node as? OverlayNode).flatMap { $0.kind == .directory ? nil : $0.lower } ?? node
        guard let st = try? identity.stat() else { return nil }
        device = UInt64(st.st_dev); inode = UInt64(st.st_ino); host = identity is HostInode
    }
}

/// One rule of a domain: for each layer that has a rule on the object, the
/// rights it grants there (`level` counted from 1, the first restriction).
struct LandlockRule: Sendable {
    /// Holds the file while the rule lives, as Linux's landlock_object
    /// holds its inode: a host file's number cannot be reused meanwhile.
    /// The place it was named by is how a checkpoint names it (its path then).
    let pin: Location
    var layers: [(level: Int, access: LandlockAccess)]
}

/// A ruleset being built (landlock_create_ruleset, landlock_add_rule):
/// the rights it handles and one rule per object, what an fd refers to.
/// Sendable: the rules behind their Mutex, a leaf lock.
public final class LandlockRuleset: Sendable {
    public let handled: LandlockAccess
    private let rules = Mutex<[LandlockObject: (pin: Location, access: LandlockAccess)]>([:])

    public init(handled: LandlockAccess) { self.handled = handled }

    /// landlock_append_fs_rule: a rule on a file grants file rights only
    /// (EINVAL); the rights the ruleset does not handle are granted too, so
    /// that a later refer check sees them as not restricted. A second rule
    /// on one object adds its rights to the first's.
    public func add(_ place: Location, _ access: LandlockAccess) throws(Errno) {
        let node = place.inode
        if node.kind != .directory && !LandlockAccess.fileRights.isSuperset(of: access) { throw .EINVAL }
        guard let object = LandlockObject(node) else { throw .ENOENT }
        let absolute = access.union(unhandled)
        rules.withLock { r in
            if let old = r[object] { r[object] = (old.pin, old.access.union(absolute)) } else { r[object] = (place, absolute) }
        }
    }

    /// What a rule grants beyond what it was asked for: the rights no layer
    /// of this ruleset restricts.
    var unhandled: LandlockAccess { LandlockAccess.all.subtracting(handled.union(.initiallyDenied)) }

    var snapshot: [LandlockObject: (pin: Location, access: LandlockAccess)] { rules.withLock { $0 } }
}

/// A Landlock domain: the stack of rulesets a task restricted itself with
/// (landlock_restrict_self), immutable, shared by every task whose
/// credentials hold it. Identity is what tells domains apart.
public final class LandlockDomain: Sendable, Equatable {
    /// What each layer handles, the first restriction first.
    public let handled: [LandlockAccess]
    let rules: [LandlockObject: LandlockRule]
    /// The domain this one was stacked on (its hierarchy).
    public let parent: LandlockDomain?

    private init(handled: [LandlockAccess], rules: [LandlockObject: LandlockRule], parent: LandlockDomain?) {
        self.handled = handled; self.rules = rules; self.parent = parent
    }

    public var layers: Int { handled.count }

    /// landlock_merge_ruleset: a new domain with `ruleset` as its top layer
    /// over `parent`'s; E2BIG past 16 layers.
    public static func merge(_ parent: LandlockDomain?, _ ruleset: LandlockRuleset) throws(Errno) -> LandlockDomain {
        if let parent, parent.layers >= Landlock.maxLayers { throw .E2BIG }
        let level = (parent?.layers ?? 0) + 1
        var rules = parent?.rules ?? [:]
        for (object, rule) in ruleset.snapshot {
            rules[object, default: LandlockRule(pin: rule.pin, layers: [])].layers.append((level, rule.access))
        }
        return LandlockDomain(handled: (parent?.handled ?? []) + [ruleset.handled], rules: rules, parent: parent)
    }

    /// task_ptrace's domain_scope_le: a task in `tracer`'s domain may trace
    /// (or inspect) one whose domain is the same or stacked above it; an
    /// unconfined task anyone, a confined one no unconfined task (EPERM).
    public static func scopes(_ tracer: LandlockDomain?, _ tracee: LandlockDomain?) -> Bool {
        guard let tracer else { return true }
        var d = tracee
        while let c = d { if c === tracer { return true }; d = c.parent }
        return false
    }

    func rule(_ node: Inode) -> LandlockRule? {
        if rules.isEmpty { return nil }
        return LandlockObject(node).flatMap { rules[$0] }
    }

    /// get_handled_accesses: what any layer handles, REFER always.
    var handledByAny: LandlockAccess {
        handled.reduce(LandlockAccess.initiallyDenied) { $0.union($1) }.intersection(.all)
    }

    public static func == (a: LandlockDomain, b: LandlockDomain) -> Bool { a === b }
}
