import FoundationEssentials
import Glibc

/// A bundle's config.json (runtime-spec 1.0.2, config.md and config-linux.md)
/// turned into what the sentry builds: a SandboxConfiguration and the first
/// process. Every field is either applied, true of a sandbox by construction
/// (a note, logged), or refused with a message naming it: nothing is dropped
/// silently.
public struct OCIConfig: Sendable {
    public var sandbox = SandboxConfiguration()
    public var args: [String] = []
    public var env: [String] = []
    public var cwd = "/"
    /// process.terminal: the guest's stdio is a pty whose master goes to --console-socket.
    public var terminal = false
    /// process.rlimits, by resource number.
    public var rlimits: [Int32: (cur: UInt64, max: UInt64)] = [:]
    public var noNewPrivileges = false
    /// process.oomScoreAdj: applied to the sentry process, which holds all the guest's memory.
    public var oomScoreAdj: Int?
    /// linux.namespaces' network path: the sentry joins it and opens the guest's sockets there.
    public var networkNamespace: String?
    /// linux.seccomp: the guest filter every container process starts under.
    public var seccomp: OCISeccompProfile?
    public var annotations: [String: String] = [:]
    /// dev.sentry.strace, dev.sentry.strace-output.
    public var strace = false
    public var straceOutput: String?
    /// dev.sentry.self-confine: the sentry's own seccomp filter (on, log, off).
    public var selfConfine: SelfConfinement.Mode = .on
    /// What was accepted without effect, and why: the runtime logs them as warnings.
    public var notes: [String] = []

    /// The annotations that set the sentry's own options.
    public static let annotationPrefix = "dev.sentry."
    public static let platformAnnotation = "dev.sentry.platform"
    public static let systrapTrapAnnotation = "dev.sentry.systrap-trap"
    public static let straceAnnotation = "dev.sentry.strace"
    public static let straceOutputAnnotation = "dev.sentry.strace-output"
    public static let networkAnnotation = "dev.sentry.network"
    public static let selfConfineAnnotation = "dev.sentry.self-confine"

    /// Linux's capability names, by number (uapi linux/capability.h, up to CAP_CHECKPOINT_RESTORE).
    public static let capabilityNames = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
        "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ]

    /// The devices the sentry's /dev serves itself; a bundle may list them.
    static let servedDevices: Set<String> = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx"]
    /// Mount options that change nothing the guest can observe in the sentry
    /// (propagation, atime policy, sizes of its tmpfs, devpts' instance), or
    /// that the sentry's own checks already imply (nosuid: exec never raises
    /// privileges from set-id bits; nodev: host device nodes are refused).
    public static let harmlessMountOptions: Set<String> = [
        "bind", "rbind", "ro", "rw", "nosuid", "suid", "nodev", "dev", "exec",
        "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable",
        "relatime", "norelatime", "strictatime", "nostrictatime", "noatime", "atime", "nodiratime", "diratime",
        "newinstance", "sync", "async", "dirsync", "tmpcopyup", "notmpcopyup", "z", "Z",
    ]
    static let harmlessMountOptionPrefixes = ["mode=", "size=", "ptmxmode=", "gid=", "uid=", "nr_inodes=", "nr_blocks="]

    public init() {}

    /// Reads `bundle`/config.json.
    public static func load(bundle: String) throws(OCIError) -> OCIConfig {
        let path = bundle + "/config.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw OCIError("\(path): \(Errno(errno).message)")
        }
        return try parse(data, bundle: bundle)
    }

    public static func parse(_ data: Data, bundle: String) throws(OCIError) -> OCIConfig {
        let top = try JSONObject.document(data, "config.json")
        var c = OCIConfig()
        try c.read(top, bundle: bundle)
        return c
    }

    private mutating func read(_ top: [String: JSONValue], bundle: String) throws(OCIError) {
        let j = JSONObject(top, at: "")
        let version = try j.string("ociVersion") ?? ""
        guard version.hasPrefix("1.") else { throw OCIError("ociVersion \"\(version)\": the sentry implements runtime-spec 1.x") }
        for key in top.keys {
            switch key {
            case "ociVersion", "process", "root", "hostname", "mounts", "annotations", "linux": break
            case "hooks":
                let hooks = try j.object("hooks")
                if let hooks, hooks.raw.values.contains(where: { $0.arrayValue?.isEmpty == false }) {
                    throw OCIError("hooks: not supported (the sentry runs no host programs on the container's behalf)")
                }
            case "domainname":
                if let d = try j.string("domainname"), !d.isEmpty { throw OCIError("domainname: not supported (the sandbox has no NIS domain name)") }
            default:
                throw OCIError("\(key): not supported by the sentry (a Linux x86-64 runtime)")
            }
        }
        if let a = try j.object("annotations") {
            for (k, v) in a.raw {
                guard let s = v.stringValue else { throw OCIError("annotations.\(k): expected a string") }
                annotations[k] = s
            }
        }
        try readAnnotations()
        guard let root = try j.object("root") else { throw OCIError("root: missing (the container's root filesystem)") }
        guard let rootPath = try root.string("path"), !rootPath.isEmpty else { throw OCIError("root.path: missing") }
        sandbox.root = rootPath.hasPrefix("/") ? rootPath : bundle + "/" + rootPath
        // A writable root keeps its changes in sentry memory: the host tree is never written.
        sandbox.overlay = !(try root.bool("readonly") ?? false)
        if let h = try j.string("hostname"), !h.isEmpty {
            guard h.utf8.count <= 64 else { throw OCIError("hostname: longer than 64 bytes") }
            sandbox.hostname = h
        }
        guard let process = try j.object("process") else { throw OCIError("process: missing (create needs a process to start)") }
        try readProcess(process)
        if let mounts = try j.array("mounts") {
            for (i, m) in mounts.enumerated() {
                guard let o = m.objectValue else { throw OCIError("mounts[\(i)]: expected an object") }
                try readMount(JSONObject(o, at: "mounts[\(i)]"), bundle: bundle)
            }
        }
        if let linux = try j.object("linux") { try readLinux(linux) }
        // No network namespace listed: the container shares the host's network, as with runc.
        else if annotations[Self.networkAnnotation] == nil { sandbox.network = .host }
    }

    /// A process.json alone (runtime-spec's process object, as `exec --process` takes it).
    public static func process(_ data: Data) throws(OCIError) -> OCIConfig {
        let o = try JSONObject.document(data, "process")
        var c = OCIConfig()
        try c.readProcess(JSONObject(o, at: "process"))
        return c
    }

    private mutating func readAnnotations() throws(OCIError) {
        for (k, v) in annotations where k.hasPrefix(Self.annotationPrefix) {
            switch k {
            case Self.platformAnnotation:
                guard v == "auto" || PlatformKind(rawValue: v) != nil else {
                    throw OCIError("annotation \(k)=\(v): choose auto, ptrace, systrap or vmexec")
                }
                sandbox.platform = v == "auto" ? nil : PlatformKind(rawValue: v)
            case Self.systrapTrapAnnotation:
                guard v == "sud" || v == "seccomp" else { throw OCIError("annotation \(k)=\(v): choose sud or seccomp") }
                sandbox.seccompTrap = v == "seccomp"
            case Self.straceAnnotation:
                guard v == "true" || v == "false" else { throw OCIError("annotation \(k)=\(v): expected true or false") }
                strace = v == "true"
            case Self.straceOutputAnnotation:
                guard v.hasPrefix("/") else { throw OCIError("annotation \(k)=\(v): expected an absolute host path") }
                straceOutput = v
                strace = true
            case Self.networkAnnotation:
                guard let mode = NetworkMode(rawValue: v) else { throw OCIError("annotation \(k)=\(v): choose none or host") }
                sandbox.network = mode
            case Self.selfConfineAnnotation:
                guard let mode = SelfConfinement.Mode(rawValue: v) else { throw OCIError("annotation \(k)=\(v): choose on, log or off") }
                selfConfine = mode
            default:
                throw OCIError("annotation \(k): not an option of the sentry (\(Self.platformAnnotation), \(Self.systrapTrapAnnotation), \(Self.straceAnnotation), \(Self.straceOutputAnnotation), \(Self.networkAnnotation), \(Self.selfConfineAnnotation))")
            }
        }
    }

    private mutating func readProcess(_ p: JSONObject) throws(OCIError) {
        for key in p.raw.keys {
            switch key {
            case "terminal", "consoleSize", "user", "args", "env", "cwd", "capabilities", "rlimits", "noNewPrivileges", "oomScoreAdj":
                break
            case "apparmorProfile", "selinuxLabel":
                if let s = try p.string(key), !s.isEmpty {
                    notes.append("process.\(key) \(s): not applied (a host LSM label confines host processes; the guest never makes a host syscall)")
                }
            default:
                throw OCIError("process.\(key): not supported")
            }
        }
        terminal = try p.bool("terminal") ?? false
        guard let args = try p.strings("args"), !args.isEmpty, !args[0].isEmpty else { throw OCIError("process.args: missing (the program to run)") }
        self.args = args
        env = try p.strings("env") ?? []
        for e in env where !e.contains("=") { throw OCIError("process.env: \"\(e)\" is not NAME=VALUE") }
        guard let cwd = try p.string("cwd"), cwd.hasPrefix("/") else { throw OCIError("process.cwd: must be an absolute path") }
        self.cwd = cwd
        var uid: UInt32 = 0, gid: UInt32 = 0, groups: [UInt32] = []
        if let u = try p.object("user") {
            for key in u.raw.keys where !["uid", "gid", "additionalGids", "umask", "username"].contains(key) {
                throw OCIError("process.user.\(key): not supported")
            }
            uid = try u.uint32("uid") ?? 0
            gid = try u.uint32("gid") ?? 0
            if let gs = try u.array("additionalGids") {
                for g in gs {
                    guard let n = g.integer(UInt32.self) else {
                        throw OCIError("process.user.additionalGids: expected numbers below 4294967296")
                    }
                    groups.append(n)
                }
            }
            // The sandbox's processes start with Linux's default umask; another one is the guest's own umask(2).
            if let umask = try u.uint32("umask"), umask != 0o022 {
                throw OCIError("process.user.umask \(String(umask, radix: 8)): only 022 is supported (the guest may call umask itself)")
            }
        }
        var cred = Credentials.user(uid: uid, gid: gid)
        cred.groups = Array(Set(groups)).sorted()
        if let caps = try p.object("capabilities") {
            func set(_ name: String) throws(OCIError) -> UInt64 {
                var bits: UInt64 = 0
                for n in try caps.strings(name) ?? [] {
                    guard let i = Self.capabilityNames.firstIndex(of: n) else { throw OCIError("process.capabilities.\(name): unknown capability \(n)") }
                    bits |= 1 << UInt64(i)
                }
                return bits
            }
            for key in caps.raw.keys where !["bounding", "effective", "inheritable", "permitted", "ambient"].contains(key) {
                throw OCIError("process.capabilities.\(key): not a capability set")
            }
            cred.bounding = try set("bounding")
            cred.effective = try set("effective")
            cred.inheritable = try set("inheritable")
            cred.permitted = try set("permitted")
            cred.ambient = try set("ambient")
        }
        sandbox.credentials = cred
        if let rl = try p.array("rlimits") {
            for (i, r) in rl.enumerated() {
                guard let o = r.objectValue else { throw OCIError("process.rlimits[\(i)]: expected an object") }
                let j = JSONObject(o, at: "process.rlimits[\(i)]")
                guard let type = try j.string("type"), let n = ResourceLimit.names.firstIndex(of: type) else {
                    throw OCIError("process.rlimits[\(i)].type: not a Linux resource (RLIMIT_NOFILE, ...)")
                }
                let hard = try j.uint64("hard") ?? 0, soft = try j.uint64("soft") ?? 0
                guard soft <= hard else { throw OCIError("process.rlimits[\(i)]: soft limit above the hard limit") }
                rlimits[Int32(n)] = (soft, hard)
            }
        }
        noNewPrivileges = try p.bool("noNewPrivileges") ?? false
        if let adj = try p.int("oomScoreAdj") {
            guard (-1000...1000).contains(adj) else { throw OCIError("process.oomScoreAdj \(adj): outside -1000...1000") }
            oomScoreAdj = adj
        }
    }

    private mutating func readMount(_ m: JSONObject, bundle: String) throws(OCIError) {
        let at = m.path
        guard let dest = try m.string("destination"), !dest.isEmpty else { throw OCIError("\(at).destination: missing") }
        let guest = VFS.normalize(dest.hasPrefix("/") ? dest : "/" + dest)
        let options = try m.strings("options") ?? []
        var type = try m.string("type") ?? ""
        if type.isEmpty || type == "none", options.contains("bind") || options.contains("rbind") { type = "bind" }
        for o in options where !Self.harmlessMountOptions.contains(o) && !Self.harmlessMountOptionPrefixes.contains(where: { o.hasPrefix($0) }) {
            if o == "noexec" {
                notes.append("\(at) \(guest): noexec is not enforced by the sentry")
                continue
            }
            throw OCIError("\(at) \(guest): mount option \(o) is not supported")
        }
        let readOnly = options.contains("ro")
        switch type {
        case "bind":
            guard let src = try m.string("source"), !src.isEmpty else { throw OCIError("\(at).source: missing for a bind mount") }
            let host = src.hasPrefix("/") ? src : bundle + "/" + src
            var st = Glibc.stat()
            guard stat(host.hostCString, &st) == 0 else { throw OCIError("\(at) \(guest): \(host): \(Errno(errno).message)") }
            let kind = st.st_mode & S_IFMT
            guard kind == S_IFDIR || kind == S_IFREG else {
                throw OCIError("\(at) \(guest): \(host) is neither a directory nor a regular file (host devices and sockets are never shown to a guest)")
            }
            sandbox.mounts.append(.bind(.init(host: host, guest: guest, readOnly: readOnly)))
        case "proc":
            guard guest == "/proc" else { throw OCIError("\(at): proc at \(guest): the sentry serves its own proc at /proc only") }
        case "devpts":
            guard guest == "/dev/pts" else { throw OCIError("\(at): devpts at \(guest): the sentry serves its own devpts at /dev/pts only") }
        case "tmpfs":
            if guest == "/dev" {
                notes.append("\(at): tmpfs at /dev is the sentry's own /dev (null, zero, full, random, urandom, tty, ptmx, pts, shm, mqueue)")
            } else {
                if readOnly { throw OCIError("\(at): a read-only tmpfs at \(guest) is not supported") }
                sandbox.mounts.append(.tmpfs(guest: guest))
            }
        case "mqueue":
            guard guest == "/dev/mqueue" else { throw OCIError("\(at): mqueue at \(guest): the sentry serves its own mqueue at /dev/mqueue only") }
        case "sysfs", "cgroup", "cgroup2":
            // Not served: an empty read-only directory, so the mount point
            // exists and nothing of the host shows through it.
            sandbox.mounts.append(.empty(guest: guest, type: type))
            notes.append("\(at): \(type) at \(guest) is an empty read-only directory (the sentry does not serve \(type))")
        default:
            throw OCIError("\(at): mount type \(type.isEmpty ? "(none)" : type) at \(guest) is not supported (bind, tmpfs, proc, devpts, mqueue, sysfs, cgroup)")
        }
    }

    private mutating func readLinux(_ l: JSONObject) throws(OCIError) {
        var sawNetwork = false
        for key in l.raw.keys {
            switch key {
            case "namespaces":
                for (i, n) in (try l.array(key) ?? []).enumerated() {
                    guard let o = n.objectValue else { throw OCIError("linux.namespaces[\(i)]: expected an object") }
                    let j = JSONObject(o, at: "linux.namespaces[\(i)]")
                    let type = try j.string("type") ?? ""
                    let path = try j.string("path") ?? ""
                    switch type {
                    case "pid", "ipc", "uts", "mount", "cgroup":
                        // Each sandbox is its own pid, IPC, UTS, mount and cgroup namespace.
                        guard path.isEmpty else { throw OCIError("linux.namespaces: joining the \(type) namespace \(path) is not supported (each sandbox is its own)") }
                    case "network":
                        sawNetwork = true
                        if !path.isEmpty {
                            networkNamespace = path
                            if annotations[Self.networkAnnotation] == nil { sandbox.network = .host }
                        }
                    case "user":
                        throw OCIError("linux.namespaces: user namespaces are not supported (the guest's ids are the sentry's own: process.user)")
                    default:
                        throw OCIError("linux.namespaces: \(type) namespace not supported")
                    }
                }
            case "uidMappings", "gidMappings":
                if let a = try l.array(key), !a.isEmpty { throw OCIError("linux.\(key): user namespaces are not supported") }
            case "resources":
                if let r = try l.object(key) { try readResources(r) }
            case "cgroupsPath":
                if let p = try l.string(key), !p.isEmpty { notes.append("linux.cgroupsPath \(p): not created (limits are the sentry's own)") }
            case "devices":
                for (i, d) in (try l.array(key) ?? []).enumerated() {
                    guard let p = d["path"]?.stringValue else { throw OCIError("linux.devices[\(i)]: expected an object with a path") }
                    guard Self.servedDevices.contains(p) else { throw OCIError("linux.devices: \(p) is not supported (the sentry's /dev serves \(Self.servedDevices.sorted().joined(separator: ", ")))") }
                }
            case "maskedPaths", "readonlyPaths":
                if let a = try l.strings(key), !a.isEmpty {
                    notes.append("linux.\(key): nothing to mask (the sentry's /proc shows only the sandbox, and /sys is not served)")
                }
            case "seccomp":
                if let s = try l.object(key) { seccomp = try OCISeccompProfile(s) }
            case "sysctl":
                if let s = try l.object(key) {
                    for k in s.raw.keys.sorted() { notes.append("linux.sysctl \(k): not applied (the sentry's kernel has no such setting)") }
                }
            case "rootfsPropagation", "mountLabel":
                notes.append("linux.\(key): not applicable (the sandbox's mounts are the sentry's own)")
            case "personality":
                if let p = try l.object(key), let d = try p.string("domain"), d != "LINUX" {
                    throw OCIError("linux.personality \(d): only LINUX is supported")
                }
            default:
                throw OCIError("linux.\(key): not supported")
            }
        }
        // No network namespace: the container shares the host's network, as with runc.
        if !sawNetwork && annotations[Self.networkAnnotation] == nil { sandbox.network = .host }
    }

    private mutating func readResources(_ r: JSONObject) throws(OCIError) {
        for key in r.raw.keys {
            switch key {
            case "devices":
                notes.append("linux.resources.devices: not applied (the guest reaches no host device; the sentry's /dev serves its own)")
            case "memory":
                if let m = try r.object(key) {
                    for k in m.raw.keys.sorted() where m.raw[k] != .null {
                        switch k {
                        case "limit":
                            // The sandbox's --memory: past it the sentry's OOM killer ends the largest guest process.
                            if let v = try m.int(k), v > 0 { sandbox.memory = UInt64(v) }
                        case "swap", "reservation", "swappiness", "disableOOMKiller", "kernel", "kernelTCP", "useHierarchy":
                            // The sentry has no swap of its own, no soft limits and no kernel memory to account.
                            notes.append("linux.resources.memory.\(k): not applied (only the limit is; the sentry's OOM killer enforces it)")
                        default:
                            throw OCIError("linux.resources.memory.\(k): not supported (only the limit is)")
                        }
                    }
                }
            case "cpu":
                // containerd gives every container the default weight (shares 1024): a weight
                // relative to other cgroups, which changes no guest-visible result. A CFS
                // quota (with its period and burst) is advisory here: Kubernetes sets one for
                // every container with a CPU limit, so refusing it would refuse those pods, and
                // it bounds only how fast the guest runs, never what it computes; the sentry
                // makes no cgroup to enforce it in (README: the OCI runtime). CPU and memory-node
                // sets and real-time budgets change what the guest sees (sched_getaffinity,
                // SCHED_FIFO), and are refused.
                if let cpu = try r.object(key) {
                    for k in cpu.raw.keys.sorted() where cpu.raw[k] != .null {
                        if k == "shares" { notes.append("linux.resources.cpu.shares: not applied (a relative weight; the sentry keeps no cgroups)"); continue }
                        if ["quota", "period", "burst"].contains(k) {
                            notes.append("linux.resources.cpu.\(k): advisory, not enforced (the sentry makes no cgroup; confine the runtime's own cgroup to enforce it)")
                            continue
                        }
                        if cpu.raw[k] == "" { continue }
                        throw OCIError("linux.resources.cpu.\(k): CPU sets and real-time limits are not supported")
                    }
                }
            case "pids":
                // The sandbox's --pids: fork and clone past it fail with EAGAIN, as the pids cgroup's.
                if let p = try r.object(key), let v = try p.int("limit"), v > 0 { sandbox.pids = Int(clamping: v) }
            default:
                if let o = r.raw[key], o != .null, o.objectValue?.isEmpty != true, o.arrayValue?.isEmpty != true {
                    throw OCIError("linux.resources.\(key): not supported (only memory and pids limits are)")
                }
            }
        }
    }
}

/// A refusal, or a failure to read the bundle or the state: one line for the user.
public struct OCIError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Typed access to a JSON object, with the path of each field for messages.
struct JSONObject {
    let raw: [String: JSONValue]
    let path: String
    init(_ raw: [String: JSONValue], at path: String) { self.raw = raw; self.path = path }

    /// A whole document that must be an object (`what` names it in messages).
    static func document(_ data: Data, _ what: String) throws(OCIError) -> [String: JSONValue] {
        let v: JSONValue
        do { v = try JSONValue.parse(data) } catch { throw OCIError("\(what): \(error.description)") }
        guard let o = v.objectValue else { throw OCIError("\(what): not a JSON object") }
        return o
    }

    private func name(_ k: String) -> String { path.isEmpty ? k : path + "." + k }
    private func present(_ k: String) -> JSONValue? { raw[k].flatMap { $0 == .null ? nil : $0 } }

    func string(_ k: String) throws(OCIError) -> String? {
        guard let v = present(k) else { return nil }
        guard let s = v.stringValue else { throw OCIError("\(name(k)): expected a string") }
        return s
    }
    func bool(_ k: String) throws(OCIError) -> Bool? {
        guard let v = present(k) else { return nil }
        guard case .bool(let b) = v else { throw OCIError("\(name(k)): expected true or false") }
        return b
    }
    func int(_ k: String) throws(OCIError) -> Int? {
        guard let v = present(k) else { return nil }
        switch v {
        case .int(let i): return Int(i)
        case .uint: throw OCIError("\(name(k)): out of range")
        case .double(let d):
            guard let i = Int(exactly: d) else { throw OCIError("\(name(k)): expected an integer") }
            return i
        default: throw OCIError("\(name(k)): expected a number")
        }
    }
    func uint32(_ k: String) throws(OCIError) -> UInt32? {
        guard let i = try int(k) else { return nil }
        guard let u = UInt32(exactly: i) else { throw OCIError("\(name(k)): expected 0...4294967295") }
        return u
    }
    func uint64(_ k: String) throws(OCIError) -> UInt64? {
        guard let v = present(k) else { return nil }
        switch v {
        case .uint(let u): return u
        case .double(let d):
            // 2^64-1 (unlimited) may arrive as a double that rounds up to 2^64.
            if d >= 18446744073709551615.0 { return UInt64.max }
            guard let u = UInt64(exactly: d) else { throw OCIError("\(name(k)): expected a non-negative integer") }
            return u
        case .int(let i):
            guard i >= 0 else { throw OCIError("\(name(k)): expected a non-negative integer") }
            return UInt64(i)
        default: throw OCIError("\(name(k)): expected a number")
        }
    }
    func object(_ k: String) throws(OCIError) -> JSONObject? {
        guard let v = present(k) else { return nil }
        guard let o = v.objectValue else { throw OCIError("\(name(k)): expected an object") }
        return JSONObject(o, at: name(k))
    }
    func array(_ k: String) throws(OCIError) -> [JSONValue]? {
        guard let v = present(k) else { return nil }
        guard let a = v.arrayValue else { throw OCIError("\(name(k)): expected an array") }
        return a
    }
    func strings(_ k: String) throws(OCIError) -> [String]? {
        guard let a = try array(k) else { return nil }
        var out: [String] = []
        for v in a {
            guard let s = v.stringValue else { throw OCIError("\(name(k)): expected an array of strings") }
            out.append(s)
        }
        return out
    }
}
