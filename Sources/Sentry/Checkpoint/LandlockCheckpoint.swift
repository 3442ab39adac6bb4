import Glibc

/// A Landlock ruleset as an image keeps it (a ruleset descriptor's, or one
/// layer of a domain): the rights it handles and its path-beneath rules.
/// A rule is on a file (Linux's landlock_object, an inode): the image names
/// that file by its guest path at the checkpoint (the place the rule was
/// made on, after any rename), which must still find the same file then,
/// and a restore takes the file that path finds through the restored mounts
/// (tmpfs files are the image's; a host file is whatever the host has there).
public struct LandlockRulesetImage: Codable, Sendable, Equatable {
    /// LANDLOCK_ACCESS_FS_* bits.
    public var handled: UInt64
    public var rules: [LandlockRuleImage]
}

public struct LandlockRuleImage: Codable, Sendable, Equatable {
    public var path: String
    /// A directory's rule (a file's grants file rights alone): a restore
    /// refuses a path that now names the other kind.
    public var directory: Bool
    /// The rights landlock_add_rule granted (within `handled`), every call's on the file together.
    public var access: UInt64
}

/// A domain (landlock_restrict_self's stack of layers): its top layer over
/// the domain it was stacked on, by index in `landlockDomains` (before it).
/// Tasks that share a domain name one index, so the ptrace scope (a domain
/// and those stacked over it) is the same after a restore.
public struct LandlockDomainImage: Codable, Sendable, Equatable {
    public var parent: Int?
    public var layer: LandlockRulesetImage
}

/// Gathers the domains the frozen tasks hold, each once, parents first.
final class LandlockCollector {
    private var index: [ObjectIdentifier: Int] = [:]
    private(set) var domains: [LandlockDomainImage] = []
    private let kernel: Kernel

    init(_ kernel: Kernel) { self.kernel = kernel }

    func find(_ d: LandlockDomain) -> Int? { index[ObjectIdentifier(d)] }

    func hold(_ d: LandlockDomain, tid: Int32) throws(CheckpointError) -> Int {
        if let i = index[ObjectIdentifier(d)] { return i }
        let parent = try d.parent.map { (p) throws(CheckpointError) in try hold(p, tid: tid) }
        // The rules of the top layer: those whose last layer is this level.
        let level = d.layers, handled = d.handled[level - 1]
        let rules = d.rules.values.compactMap { r -> (Location, LandlockAccess)? in
            guard let top = r.layers.last, top.level == level else { return nil }
            return (r.pin, top.access)
        }
        let layer = try Self.image(handled: handled, rules: rules, kernel: kernel, what: "tid \(tid): its Landlock domain")
        domains.append(LandlockDomainImage(parent: parent, layer: layer))
        index[ObjectIdentifier(d)] = domains.count - 1
        return domains.count - 1
    }

    /// A ruleset descriptor's ruleset.
    static func image(_ r: LandlockRuleset, kernel: Kernel, what: String) throws(CheckpointError) -> LandlockRulesetImage {
        try image(handled: r.handled, rules: r.snapshot.values.map { ($0.pin, $0.access) }, kernel: kernel, what: what)
    }

    /// Each rule by the path of the place it was made on, which must still
    /// find the same file (device and inode, as the rule knows it). A rule
    /// holds the rights it was asked for with those its ruleset does not
    /// handle: the image keeps the asked ones (`add` puts the others back).
    private static func image(handled: LandlockAccess, rules: [(Location, LandlockAccess)], kernel: Kernel,
                              what: String) throws(CheckpointError) -> LandlockRulesetImage {
        var out: [LandlockRuleImage] = []
        for (place, access) in rules {
            let path = place.path
            guard !place.isDeleted, let object = LandlockObject(place.inode),
                  let found = try? kernel.vfs.resolve(path, from: kernel.vfs.rootLocation, followLast: false, BootContext(kernel)),
                  LandlockObject(found.inode) == object else {
                throw .unsupported("\(what): a rule on \(path), which that path no longer finds (removed, or renamed out of the sandbox's reach)")
            }
            out.append(LandlockRuleImage(path: path, directory: place.inode.kind == .directory, access: access.intersection(handled).rawValue))
        }
        return LandlockRulesetImage(handled: handled.rawValue, rules: out.sorted { $0.path < $1.path })
    }
}

/// Rebuilds rulesets and domains through the calls that made them
/// (LandlockRuleset.add, LandlockDomain.merge), so an image's rules meet
/// landlock_add_rule's checks again.
enum LandlockRestorer {
    static func ruleset(_ image: LandlockRulesetImage, kernel: Kernel, _ boot: BootContext, what: String) throws(CheckpointError) -> LandlockRuleset {
        let handled = LandlockAccess(rawValue: image.handled)
        guard image.handled != 0, LandlockAccess.all.isSuperset(of: handled) else { throw .corrupt("\(what): handled rights \(image.handled)") }
        let ruleset = LandlockRuleset(handled: handled)
        for rule in image.rules {
            let access = LandlockAccess(rawValue: rule.access)
            guard rule.access != 0, handled.isSuperset(of: access) else { throw .corrupt("\(what): a rule on \(rule.path) granting \(rule.access)") }
            let place: Location
            do { place = try kernel.vfs.resolve(rule.path, from: kernel.vfs.rootLocation, followLast: false, boot) }
            catch { throw .hostFileChanged("\(what): the rule on \(rule.path): \(error.message)") }
            guard (place.inode.kind == .directory) == rule.directory else {
                throw .hostFileChanged("\(what): the rule on \(rule.path): \(rule.directory ? "no longer a directory" : "a directory now")")
            }
            do { try ruleset.add(place, access) } catch { throw .corrupt("\(what): the rule on \(rule.path): \(error.message)") }
        }
        return ruleset
    }

    static func domains(_ images: [LandlockDomainImage], kernel: Kernel, _ boot: BootContext) throws(CheckpointError) -> [LandlockDomain] {
        var out: [LandlockDomain] = []
        for (i, d) in images.enumerated() {
            guard d.parent.map({ (0..<i).contains($0) }) ?? true else { throw .corrupt("Landlock domain \(i): its parent \(d.parent!)") }
            let layer = try ruleset(d.layer, kernel: kernel, boot, what: "Landlock domain \(i)")
            do { out.append(try LandlockDomain.merge(d.parent.map { out[$0] }, layer)) }
            catch { throw .corrupt("Landlock domain \(i): more than \(Landlock.maxLayers) layers") }
        }
        return out
    }
}
