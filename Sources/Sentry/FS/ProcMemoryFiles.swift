/// /proc/<pid>/{smaps,smaps_rollup,mountinfo,map_files/,ns/}: what programs
/// read of a process's memory, mounts and namespaces, in fs/proc's formats.
extension ProcFS {
    /// show_smap_vma_flags' two-letter names, by VM_* bit.
    static func vmFlags(_ v: VMA) -> String {
        var f: [String] = []
        if v.prot.contains(.read) { f.append("rd") }
        if v.prot.contains(.write) { f.append("wr") }
        if v.prot.contains(.exec) { f.append("ex") }
        if v.shared { f.append("sh") }
        if v.maxProt.contains(.read) { f.append("mr") }
        if v.maxProt.contains(.write) { f.append("mw") }
        if v.maxProt.contains(.exec) { f.append("me") }
        if v.shared { f.append("ms") }
        if v.name == "[stack]" { f.append("gd") }
        if v.dontCopy { f.append("dc") }
        // VM_ACCOUNT: private writable memory is charged to the commit limit.
        if !v.shared && v.prot.contains(.write) { f.append("ac") }
        if v.wipeOnFork { f.append("wf") }
        return "VmFlags: " + f.map { $0 + " " }.joined() + "\n"
    }

    /// The counters __show_smap prints, in kB, for `bytes` of a mapping.
    /// Every page of an accessible mapping counts as resident (the sentry
    /// does not track which pages the host has faulted in). Private memory
    /// still shared copy-on-write with `owners` processes counts as
    /// Shared_Dirty, and 1/owners of it in Pss, as its pages' mapcount makes
    /// Linux count them.
    static func smapCounters(_ vmas: [VMA], rollup: Bool, owners: (VMA) -> Int) -> String {
        var rss: UInt64 = 0, privateDirty: UInt64 = 0, privateClean: UInt64 = 0, sharedClean: UInt64 = 0, anon: UInt64 = 0
        var sharedDirty: UInt64 = 0, pss: UInt64 = 0
        var pssAnon: UInt64 = 0, pssFile: UInt64 = 0, pssShmem: UInt64 = 0
        for v in vmas where !v.prot.isEmpty {
            rss += v.length
            let isFile: Bool
            if case .file = v.backing { isFile = true } else { isFile = false }
            if v.shared { sharedClean += v.length; pssShmem += isFile ? 0 : v.length; pssFile += isFile ? v.length : 0; pss += v.length }
            else if isFile && !v.prot.contains(.write) { privateClean += v.length; pssFile += v.length; pss += v.length }
            else {
                let n = UInt64(max(1, v.cow ? owners(v) : 1))
                if n > 1 { sharedDirty += v.length } else { privateDirty += v.length }
                anon += v.length; pssAnon += v.length / n; pss += v.length / n
            }
        }
        func line(_ name: String, _ bytes: UInt64, width: Int = 8) -> String {
            name + String(bytes >> 10).leftPadded(width) + " kB\n"
        }
        var out = line("Rss:            ", rss) + line("Pss:            ", pss) + line("Pss_Dirty:      ", pssAnon)
        if rollup {
            out += line("Pss_Anon:       ", pssAnon) + line("Pss_File:       ", pssFile) + line("Pss_Shmem:      ", pssShmem)
        }
        out += line("Shared_Clean:   ", sharedClean) + line("Shared_Dirty:   ", sharedDirty) + line("Private_Clean:  ", privateClean)
            + line("Private_Dirty:  ", privateDirty) + line("Referenced:     ", rss) + line("Anonymous:      ", anon)
            + line("LazyFree:       ", 0) + line("AnonHugePages:  ", 0) + line("ShmemPmdMapped: ", 0)
            + line("FilePmdMapped:  ", 0) + line("Shared_Hugetlb: ", 0) + line("Private_Hugetlb: ", 0, width: 7)
            + line("Swap:           ", 0) + line("SwapPss:        ", 0) + line("Locked:         ", 0)
        return out
    }

    /// /proc/<pid>/smaps: each maps line, then show_smap's fields.
    static func smapsText(_ mm: MemoryManager) -> String {
        let vmas = mm.vmas
        let maps = mm.mapsText().split(separator: "\n", omittingEmptySubsequences: false)
        // mapsText merges adjacent anonymous pieces; smaps shows the same lines.
        var out = "", i = 0
        for line in maps where !line.isEmpty {
            guard let dash = line.firstIndex(of: "-"), let space = line.firstIndex(of: " "),
                  let start = UInt64(line[..<dash], radix: 16), let end = UInt64(line[line.index(after: dash)..<space], radix: 16) else { continue }
            var parts: [VMA] = []
            while i < vmas.count && vmas[i].start.rawValue < end {
                if vmas[i].end.rawValue > start { parts.append(vmas[i]) }
                i += 1
            }
            guard let first = parts.first else { continue }
            out += line + "\n"
            out += "Size:           " + String((end - start) >> 10).leftPadded(8) + " kB\n"
            out += "KernelPageSize:        4 kB\nMMUPageSize:           4 kB\n"
            out += smapCounters(parts, rollup: false, owners: { mm.memory.owners($0.memOffset, $0.length) })
            out += "THPeligible:    0\n"
            out += vmFlags(first)
        }
        // The vsyscall page: nothing resident, execute-only (vsyscall=xonly).
        out += VsyscallPage.mapsLine
        out += "Size:                  4 kB\nKernelPageSize:        4 kB\nMMUPageSize:           4 kB\n"
        out += smapCounters([], rollup: false, owners: { _ in 1 }) + "THPeligible:    0\nVmFlags: ex \n"
        return out
    }

    /// /proc/<pid>/smaps_rollup: the span of all mappings, then the sums.
    static func smapsRollupText(_ mm: MemoryManager) -> String {
        let vmas = mm.vmas
        guard let first = vmas.first, let last = vmas.last else { return "" }
        func hex8(_ v: UInt64) -> String { String(v, radix: 16).leftPadded(8, "0") }
        let head = hex8(first.start.rawValue) + "-" + hex8(last.end.rawValue) + " ---p 00000000 00:00 0"
        return head.padded(73) + "[rollup]\n" + smapCounters(vmas, rollup: true, owners: { mm.memory.owners($0.memOffset, $0.length) })
    }

    /// /proc/<pid>/mountinfo (show_mountinfo): id, parent id, major:minor,
    /// root within the filesystem, mount point, options, optional fields,
    /// "-", type, source, super options.
    static func mountinfoText(_ vfs: VFS, root: Location) -> String {
        let all = vfs.mounts.all
        var out = ""
        for m in all {
            guard let p = Location.relative(m.path, to: root.path) else { continue }
            // The parent: the mount whose path holds this one most closely; the root's is itself.
            let parent = all.filter { $0 !== m && (m.path.hasPrefix($0.path == "/" ? "/" : $0.path + "/")) }
                .max { $0.path.count < $1.path.count }
            let dev = (try? m.rootInode.stat().st_dev) ?? 0
            let major = (dev >> 8) & 0xfff | (dev >> 32) & ~0xfff, minor = dev & 0xff | (dev >> 12) & ~0xff
            let opts = m.readOnly ? "ro" : "rw"
            out += "\(m.id) \((parent ?? m).id) \(major):\(minor) / \(escapeMountPath(p)) \(opts),relatime - \(m.type) \(m.source) \(opts)\n"
        }
        return out
    }

    /// mangle(): space, tab, newline and backslash as octal escapes.
    static func escapeMountPath(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case " ": out += "\\040"
            case "\t": out += "\\011"
            case "\n": out += "\\012"
            case "\\": out += "\\134"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// /proc/<pid>/ns: a link per namespace, "kind:[inode]", whose opening
    /// gives the nsfs file setns takes (the sandbox's namespaces, which all
    /// its tasks share: Kernel/Namespaces.swift).
    static func nsDir(_ base: String, owner: FileOwner?) -> Inode {
        dir(base, mode: 0o511, owner: owner, list: { _ in Namespaces.entries.map { DirEntry($0.entry, .symlink) } }, child: { n, ctx throws(Errno) in
            guard let e = Namespaces.entries.first(where: { $0.entry == n }) else { throw .ENOENT }
            let ino = ctx.sandbox.namespaces.inode(of: e.kind)
            let file = NamespaceFile(kind: e.kind, inode: ino, flags: [])
            return SyntheticLinkNode(path: base + "/" + n, device: device, owner: owner, target: { _ in file.displayPath }, described: file)
        })
    }

    /// /proc/<pid>/map_files: one link per file mapping, named "start-end",
    /// leading to the mapped file. Following one needs CAP_SYS_ADMIN or
    /// CAP_CHECKPOINT_RESTORE, as proc_map_files_get_link asks.
    static func mapFilesDir(_ pid: Int32, _ tid: Int32?, _ base: String, _ vfs: VFS, owner: FileOwner?) -> Inode {
        func fileVMAs(_ ctx: WalkContext) throws(Errno) -> [(String, VMA)] {
            try view(pid, tid, ctx).mm.vmas.compactMap { v in
                guard case .file = v.backing else { return nil }
                return (String(v.start.rawValue, radix: 16) + "-" + String(v.end.rawValue, radix: 16), v)
            }
        }
        return dir(base, mode: 0o500, owner: owner, list: { ctx throws(Errno) in try fileVMAs(ctx).map { DirEntry($0.0, .symlink) } },
                   child: { n, ctx throws(Errno) in
            guard let (_, v) = try fileVMAs(ctx).first(where: { $0.0 == n }), case .file(let f, _) = v.backing else { throw .ENOENT }
            let path = f.path, opened = f.openedAt
            return SyntheticLinkNode(path: base + "/" + n, device: device, owner: owner, target: { _ in path }, place: { ctx throws(Errno) in
                let c = ctx.process?.taskAttributes.credentials
                guard let c, c.capable(Credentials.CAP_SYS_ADMIN) || c.capable(Credentials.CAP_CHECKPOINT_RESTORE) else { throw .EPERM }
                // The mapped object itself, as proc_map_files_get_link's
                // vm_file path: a memfd or deleted file too.
                if let opened { return opened }
                return try vfs.resolve(path, from: ctx.rootLocation, followLast: true, ctx)
            })
        })
    }
}
