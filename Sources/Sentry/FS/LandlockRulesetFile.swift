import Glibc

/// The descriptor landlock_create_ruleset returns: an anonymous inode
/// ("[landlock-ruleset]") holding a ruleset for landlock_add_rule and
/// landlock_restrict_self. Read and write exist only to give it both
/// modes; each answers EINVAL, as Linux's dummies do.
/// Sendable: the ruleset guards its own rules.
public final class LandlockRulesetFile: FileDescription, @unchecked Sendable {
    public let ruleset: LandlockRuleset

    public init(_ ruleset: LandlockRuleset) {
        self.ruleset = ruleset
        super.init(flags: .readWrite)
    }

    public override var displayPath: String { "anon_inode:[landlock-ruleset]" }
    /// anon_inode_getfd: only the flags it was made with.
    public override var reportsLargeFile: Bool { false }
    public override func stat() throws(Errno) -> Glibc.stat { Self.anonymousInodeStat }
}
