/// Landlock's access checks (security/landlock/fs.c, Linux 6.1 with its
/// errata 3 and 4): a request is granted when, for every layer of the
/// domain that handles a right, some rule of that layer on the file or on a
/// directory above it grants it, walking up through the guest's mounts to
/// the root as check_access_path_dual does.
extension LandlockDomain {
    /// For each right, the layers that still refuse it (a bit per layer).
    struct LayerMasks {
        var bits = [UInt16](repeating: 0, count: LandlockAccess.count)

        /// scope_to_request: forgets the rights not asked for; whether none is refused.
        mutating func scope(to request: LandlockAccess) -> Bool {
            for b in 0..<bits.count where request.rawValue & (1 << UInt64(b)) == 0 { bits[b] = 0 }
            return bits.allSatisfy { $0 == 0 }
        }

        /// is_eacces: some right other than REFER is refused.
        func refusesBeyondRefer(_ request: LandlockAccess) -> Bool {
            let r = request.subtracting(.refer).rawValue
            return (0..<bits.count).contains { r & (1 << UInt64($0)) != 0 && bits[$0] != 0 }
        }
    }

    /// init_layer_masks: marks each requested right refused by every layer
    /// that handles it (REFER by all); returns the requested rights some layer handles.
    func initLayerMasks(_ request: LandlockAccess, _ masks: inout LayerMasks) -> LandlockAccess {
        masks = LayerMasks()
        var handledRequest: LandlockAccess = []
        for (layer, h) in handled.enumerated() {
            let mine = request.intersection(h.union(.initiallyDenied))
            for b in 0..<LandlockAccess.count where mine.rawValue & (1 << UInt64(b)) != 0 {
                masks.bits[b] |= 1 << UInt16(layer)
            }
            handledRequest.formUnion(mine)
        }
        return handledRequest
    }

    /// unmask_layers: the layers of `rule` that grant a requested right stop
    /// refusing it; whether nothing requested is refused any more.
    static func unmask(_ rule: LandlockRule?, _ request: LandlockAccess, _ masks: inout LayerMasks) -> Bool {
        if request.isEmpty { return true }
        guard let rule else { return false }
        for layer in rule.layers {
            let bit = UInt16(1) << UInt16(layer.level - 1)
            var empty = true
            for b in 0..<LandlockAccess.count where request.rawValue & (1 << UInt64(b)) != 0 {
                if layer.access.rawValue & (1 << UInt64(b)) != 0 { masks.bits[b] &= ~bit }
                empty = empty && masks.bits[b] == 0
            }
            if empty { return true }
        }
        return false
    }

    /// no_more_access: the destination refuses at least what the source
    /// (its parent with the child's own rules) refuses, both ways for an exchange.
    private static func noMoreAccess(_ parent1: LayerMasks, _ child1: LayerMasks, _ child1IsDirectory: Bool,
                                     _ parent2: LayerMasks, _ child2: LayerMasks?, _ child2IsDirectory: Bool) -> Bool {
        for b in 0..<LandlockAccess.count {
            let isFileRight = LandlockAccess.fileRights.rawValue & (1 << UInt64(b)) != 0
            if child1IsDirectory || isFileRight, (parent1.bits[b] & child1.bits[b]) | parent2.bits[b] != parent2.bits[b] { return false }
            guard let child2 else { continue }
            if child2IsDirectory || isFileRight, (parent2.bits[b] & child2.bits[b]) | parent1.bits[b] != parent1.bits[b] { return false }
        }
        return true
    }

    /// A child's own rights: what its rules grant of everything the domain handles.
    private func childMasks(_ child: Location) -> LayerMasks {
        var m = LayerMasks()
        let r = initLayerMasks(.all, &m)
        _ = Self.unmask(rule(child.inode), r, &m)
        return m
    }

    /// check_access_path_dual. `masks2` set: a refer request (link,
    /// rename), where the source's `child1` (and for an exchange the
    /// destination's `child2`) first must gain no right by the move.
    /// Returns nil, EACCES, or EXDEV (only REFER or a widening refused).
    func checkDual(_ path: Location, _ request1: LandlockAccess, _ masks1: inout LayerMasks, child1: Location?,
                   _ request2: LandlockAccess, _ masks2: inout LayerMasks?, child2: Location?) -> Errno? {
        if request1.isEmpty && request2.isEmpty { return nil }
        var domainCheck = masks2 != nil
        var asked1 = domainCheck ? handledByAny : request1
        var asked2 = domainCheck ? handledByAny : request2
        let child1Masks = child1.map(childMasks), child2Masks = child2.map(childMasks)
        let child1IsDirectory = child1.map { $0.inode.kind == .directory } ?? true
        let child2IsDirectory = child2.map { $0.inode.kind == .directory } ?? true
        var allowed1 = false, allowed2 = false
        var (mount, dentry, inode) = (path.mount, path.dentry, path.inode)
        walk: while true {
            if domainCheck, let c1 = child1Masks, let m2 = masks2,
               Self.noMoreAccess(masks1, c1, child1IsDirectory, m2, child2Masks, child2IsDirectory) {
                allowed1 = masks1.scope(to: request1)
                allowed2 = masks2!.scope(to: request2)
                if allowed1 && allowed2 { break }
                // From here on only what is asked for counts.
                domainCheck = false
                asked1 = request1; asked2 = request2
            }
            let r = rule(inode)
            allowed1 = Self.unmask(r, asked1, &masks1)
            if masks2 != nil { allowed2 = Self.unmask(r, asked2, &masks2!) } else { allowed2 = true }
            if allowed1 && allowed2 { break }
            // Up to the directory above, across mount points (the covered
            // directory's own rules do not count); the sandbox's root is the
            // real root: there not every layer granted.
            while dentry === mount.root {
                guard let up = mount.parent, let mp = mount.mountpoint else { break walk }
                (mount, dentry) = (up, mp)
            }
            guard let p = dentry.parent else {
                // A detached name (memfd's): its filesystem is internal.
                allowed1 = true; allowed2 = true
                break
            }
            dentry = p
            inode = p.inode
        }
        if allowed1 && allowed2 { return nil }
        if masks1.refusesBeyondRefer(request1) || (masks2?.refusesBeyondRefer(request2) ?? false) { return .EACCES }
        return .EXDEV
    }

    /// check_access_path: `access` to the file at `path`.
    public func check(_ path: Location, _ access: LandlockAccess) -> Errno? {
        var masks = LayerMasks()
        let request = initLayerMasks(access, &masks)
        var none: LayerMasks? = nil
        return checkDual(path, request, &masks, child1: nil, [], &none, child2: nil)
    }

    /// `access` to a file on a mount no path reaches (mq_open's queue on
    /// Linux's internal mqueue mount): no rule can be on it or above it,
    /// so every right a layer handles is refused.
    public func checkUnreachable(_ access: LandlockAccess) -> Errno? {
        var masks = LayerMasks()
        return initLayerMasks(access, &masks).isEmpty ? nil : .EACCES
    }

    /// collect_domain_accesses: from `dir` up to the mount's root, what the
    /// rules grant of everything handled; whether every layer grants it all.
    private func collect(_ dir: Dentry, upTo mountRoot: Dentry, _ masks: inout LayerMasks) -> Bool {
        let asked = initLayerMasks(.all, &masks)
        var d = dir
        while true {
            if Self.unmask(rule(d.inode), asked, &masks) { return true }
            guard d !== mountRoot, let p = d.parent else { return false }
            d = p
        }
    }

    /// current_check_refer_path: linking (`removing` false) or renaming
    /// `old` into the directory `newDir` as `new` (nil: a name not taken).
    /// Within one directory only making and removing count; across
    /// directories REFER too, and the file may gain no right by the move
    /// (EXDEV), EACCES first if the making or removing itself is refused.
    public func checkRefer(_ old: Location, into newDir: Location, replacing new: Location?,
                           removing: Bool, exchange: Bool) -> Errno? {
        var request1: LandlockAccess = [], request2 = LandlockAccess.make(old.inode.kind)
        if exchange {
            guard let new else { return .ENOENT }
            request1 = LandlockAccess.make(new.inode.kind)
        }
        if removing {
            request1.formUnion(LandlockAccess.remove(old.inode.kind))
            if let new { request2.formUnion(LandlockAccess.remove(new.inode.kind)) }
        }
        var masks1 = LayerMasks()
        var masks2: LayerMasks? = nil
        if old.dentry.parent === newDir.dentry {
            let request = initLayerMasks(request1.union(request2), &masks1)
            return checkDual(newDir, request, &masks1, child1: nil, [], &masks2, child2: nil)
        }
        request1.insert(.refer); request2.insert(.refer)
        let mountRoot = newDir.mount.root
        let oldParent = old.dentry === mountRoot ? old.dentry : (old.dentry.parent ?? old.dentry)
        var m2 = LayerMasks()
        let allow1 = collect(oldParent, upTo: mountRoot, &masks1)
        let allow2 = collect(newDir.dentry, upTo: mountRoot, &m2)
        if allow1 && allow2 { return nil }
        masks2 = m2
        return checkDual(Location(root: newDir.mount), request1, &masks1, child1: old, request2, &masks2,
                         child2: exchange ? new : nil)
    }
}
