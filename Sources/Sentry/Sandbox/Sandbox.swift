import Glibc

/// Everything a sandbox is made of, as plain values: what the command line,
/// an OCI bundle or a checkpoint image say, before anything exists.
public struct SandboxConfiguration: Sendable {
    /// A host directory shown in the guest's tree.
    public struct Bind: Sendable, Equatable {
        public var host: String
        public var guest: String
        public var readOnly: Bool
        public init(host: String, guest: String, readOnly: Bool) { self.host = host; self.guest = guest; self.readOnly = readOnly }
    }

    /// The trapping backend; nil: the first available (`--platform auto`).
    public var platform: PlatformKind?
    /// systrap's trap: seccomp RET_TRAP instead of Syscall User Dispatch (the
    /// default where the kernel has it).
    public var seccompTrap: Bool?
    /// systrap rewrites hot syscall sites into calls to its stub (Arch/SyscallSite.swift);
    /// nil: the environment's SENTRY_SYSTRAP_PATCH (on, off), else on.
    public var systrapPatch: Bool?
    /// The host directory that is the guest's `/`.
    public var root = "/"
    /// `/` writable, its changes kept in sentry memory.
    public var overlay = false
    public var binds: [Bind] = []
    /// What an OCI bundle mounts besides the sentry's own /proc and /dev,
    /// made after `binds`, in order (a later mount covers an earlier one).
    public enum MountSpec: Sendable, Equatable {
        /// A host directory, or a single host file.
        case bind(Bind)
        case tmpfs(guest: String)
        /// An empty read-only directory standing for a filesystem the sentry
        /// does not serve (sysfs, cgroup), shown with that type.
        case empty(guest: String, type: String)
    }
    public var mounts: [MountSpec] = []
    public var hostname: String?
    /// The first guest's credentials; nil: the sentry's own.
    public var credentials: Credentials?
    public var tracer: Tracer?
    /// What the guest's AF_INET/AF_INET6 sockets reach: the sandbox's own loopback (the default) or the host's network.
    public var network = NetworkMode.none
    /// Host ports carried into the sandbox loopback (`--publish`).
    public var published: [PublishedPort] = []
    /// `--memory`: what guest pages may add up to before the OOM killer
    /// ends a guest process; nil: `MemoryLimit.defaultLimit()`, read from
    /// the host when first needed; `.max`: none.
    public var memory: UInt64?
    /// `--tmpfs-size`: the size of /tmp, /dev/shm and the overlay's upper
    /// layer; nil: half of the memory.
    public var tmpfsSize: UInt64?
    /// `--pids`: tasks the sandbox may hold (fork and clone past it: EAGAIN); nil: no limit.
    public var pids: Int?

    public init() {}
}

/// Why a sandbox could not be built; each is a distinct failure of the
/// caller's input or of the host.
public enum SandboxError: Error, CustomStringConvertible {
    case platformUnavailable(String)
    case platformFailed(String)
    case root(String, Errno)
    case bind(Bind, Errno)
    /// A published host port that could not be bound (in use, not a local address, ...).
    case publish(PublishedPort, Errno)
    public typealias Bind = SandboxConfiguration.Bind

    public var description: String {
        switch self {
        case .platformUnavailable(let why), .platformFailed(let why): return why
        case .root(let path, let e): return "--root \(path): \(e.message)"
        case .bind(let b, let e): return "--bind \(b.host):\(b.guest): \(b.host): \(e.message)"
        case .publish(let p, let e): return "--publish \(p.hostDescription): \(e.message)"
        }
    }
}

/// A built sandbox: memory file, stub region, platform, filesystem view and
/// kernel, wired in the one order that works (the platform before the first
/// stub, mounts before the first walk), for the CLI, the OCI runtime and
/// checkpoint restore alike.
public final class Sandbox: Sendable {
    public let kernel: Kernel
    /// What it was built from (a checkpoint records it).
    public let configuration: SandboxConfiguration
    private let hostDirectories: [(host: String, guest: String)]
    private let platformKind: PlatformKind
    private let seccompTrap: Bool
    private let stubImageFD: Int32
    /// The sentry itself opens host sockets (--network host, --publish).
    private let hostSockets: Bool

    public init(_ config: SandboxConfiguration, table: SyscallTable) throws(SandboxError) {
        configuration = config
        guard let kind = config.platform ?? PlatformKind.auto() else {
            throw .platformUnavailable("no platform is available here (see `sentry platforms`)")
        }
        let memory: MemoryFile, stub: StubRegion, backend: Platform
        let seccomp = kind == .systrap && (config.seccompTrap ?? !PlatformKind.sudAvailable)
        do {
            memory = try MemoryFile(deferredLimit: config.memory.map { DeferredLimit($0) } ?? MemoryLimit.deferredDefault())
            stub = try StubRegion.install(trapGuestSyscalls: seccomp)
            backend = try kind.make(memory: memory, stub: stub, patchSyscalls: config.systrapPatch ?? SandboxConfiguration.defaultSystrapPatch)
        } catch {
            if case .unavailable = error { throw .platformUnavailable(error.description) }
            throw .platformFailed(error.description)
        }

        let vfs: VFS, rootFS: HostFS
        do {
            rootFS = try HostFS(path: config.root)
            vfs = try VFS(root: rootFS, overlay: config.overlay, memory: memory, tmpfsSize: config.tmpfsSize)
        } catch {
            throw .root(config.root, error)
        }
        var dirs: [(host: String, guest: String)] = [(rootFS.hostPath, "/")]
        for b in config.binds {
            do { try vfs.bind(host: b.host, at: b.guest, readOnly: b.readOnly) } catch { throw .bind(b, error) }
            if let m = vfs.mounts.mount(at: VFS.normalize(b.guest)) { dirs.append((m.source, m.path)) }
        }
        for spec in config.mounts {
            switch spec {
            case .bind(let b):
                do { try vfs.bind(host: b.host, at: VFS.normalize(b.guest), readOnly: b.readOnly, allowFile: true) } catch { throw .bind(b, error) }
            case .tmpfs(let guest): vfs.mountTmpfs(at: VFS.normalize(guest))
            case .empty(let guest, let type): vfs.mountTmpfs(at: VFS.normalize(guest), readOnly: true, type: type)
            }
        }
        hostDirectories = dirs
        platformKind = kind
        seccompTrap = seccomp
        stubImageFD = stub.imageFD
        hostSockets = config.network == .host || !config.published.isEmpty
        kernel = Kernel(platform: backend, memory: memory, layout: AddressLayout(top: stub.base), table: table,
                        vfs: vfs, tracer: config.tracer)
        if let hostname = config.hostname { kernel.hostname = hostname }
        if let c = config.credentials { kernel.initialCredentials = c }
        kernel.network = config.network
        for p in config.published {
            do throws(Errno) { try PortForwarder(p, names: kernel.unixNames).start() } catch { throw .publish(p, error) }
        }
        kernel.pidsLimit = config.pids
    }

    /// Confines the sentry (SelfConfinement) once the sandbox is built and
    /// its first guest loaded. vmexec is left unconfined: its filter was
    /// never measured (the platform runs only in the patched kernel's VM).
    /// `controlSocket`: the sandbox is named and answers `sentry list/kill/checkpoint` on a socket.
    /// `serviceSocket`: the sentry accepts and answers on a listening socket
    /// it opened before (an OCI container's exec socket): the socket calls only.
    public func confine(_ mode: SelfConfinement.Mode, controlSocket: Bool = false, serviceSocket: Bool = false,
                        number: (String) -> Int?) throws(Errno) {
        guard platformKind != .vmexec else { return }
        try SelfConfinement.install(mode, platform: platformKind, seccompTrap: seccompTrap, hostSockets: hostSockets || serviceSocket,
                                    control: controlSocket,
                                    stubImageFD: stubImageFD, number: number)
    }

    /// The guest path of a host path, under the bind (or root) that holds
    /// it, the deepest winning; and the guest mount point it was translated through.
    public func guestPath(ofHost host: String) -> (path: String, through: String)? {
        Self.guestPath(ofHost: host, hostDirectories)
    }

    static func guestPath(ofHost host: String, _ dirs: [(host: String, guest: String)]) -> (path: String, through: String)? {
        var best: (depth: Int, path: String, through: String)?
        for d in dirs {
            let rel: String
            if d.host == "/" { rel = host } else if host == d.host { rel = "" }
            else if host.hasPrefix(d.host + "/") { rel = String(host.dropFirst(d.host.count)) } else { continue }
            if let b = best, b.depth >= d.host.count { continue }
            best = (d.host.count, VFS.normalize(d.guest + "/" + rel), d.guest)
        }
        return best.map { ($0.path, $0.through) }
    }

    /// The guest path of host directory `host`, made visible there
    /// (read-only) if the sandbox's own /tmp, /dev or /proc, or a bind of
    /// some other host directory, cover it; nil if the guest can't see it.
    /// (The sentry's cwd stays visible so; so does a program named by its host path.)
    public func expose(hostDirectory host: String) -> String? {
        guard let (g, through) = guestPath(ofHost: host) else { return nil }
        let vfs = kernel.vfs
        if let m = vfs.mounts.mount(covering: g), m.path != through, m.path != g || m.type != "bind" {
            do { try vfs.bind(host: host, at: g, readOnly: true) } catch { return nil }
        }
        return g
    }

    /// Whether `path` names a directory in the guest's view.
    public func isDirectory(_ path: String) -> Bool {
        let boot = BootContext(kernel)
        guard let st = try? kernel.vfs.stat(path, from: kernel.vfs.rootLocation, followLast: true, boot) else { return false }
        return st.st_mode & S_IFMT == S_IFDIR
    }

    /// A program name without a slash, looked up in the guest's PATH as execvp does.
    public func resolveProgram(_ name: String, cwd: String, env: [String]) -> String {
        if name.utf8.contains(UInt8(ascii: "/")) { return name }
        let path = env.first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/local/bin:/usr/bin:/bin"
        let boot = BootContext(kernel)
        let start = (try? kernel.vfs.directory(cwd, from: kernel.vfs.rootLocation, boot)) ?? kernel.vfs.rootLocation
        for dir in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = dir.isEmpty ? name : dir + "/" + name
            if let st = try? kernel.vfs.stat(candidate, from: start, followLast: true, boot),
               st.st_mode & S_IFMT == S_IFREG && st.st_mode & 0o111 != 0 { return candidate }
        }
        return name
    }
}

extension SandboxConfiguration {
    /// systrap's patching when nothing says: SENTRY_SYSTRAP_PATCH=off (or on), else on.
    public static var defaultSystrapPatch: Bool {
        guard let v = getenv("SENTRY_SYSTRAP_PATCH") else { return true }
        return String(cString: v) != "off"
    }
}
