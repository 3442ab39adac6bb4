import Glibc

/// Where named sandboxes keep their control sockets: one directory per host
/// user, mode 0700, so only that user (and root) can reach them.
/// `$SENTRY_RUNTIME_DIR` if set (tests, and a front end with its own root
/// such as an OCI runtime's `--root`); else `/run/sentry` for root and
/// `$XDG_RUNTIME_DIR/sentry` for others (`/tmp/sentry-UID` without it).
public struct RuntimeDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public static func `default`() -> RuntimeDirectory {
        func env(_ n: String) -> String? { getenv(n).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } }
        if let p = env("SENTRY_RUNTIME_DIR") { return RuntimeDirectory(path: p) }
        if geteuid() == 0 { return RuntimeDirectory(path: "/run/sentry") }
        if let x = env("XDG_RUNTIME_DIR") { return RuntimeDirectory(path: x + "/sentry") }
        return RuntimeDirectory(path: "/tmp/sentry-\(geteuid())")
    }

    /// A name is a file name: letters, digits, `_ . -`, not starting with a
    /// dot, at most 64 bytes (the socket path must fit sun_path).
    public static func isValid(name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 64, name.first != ".", name.first != "-" else { return false }
        return name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f || c == 0x2e || c == 0x2d
        }
    }

    public func socketPath(_ name: String) -> String { path + "/" + name + ".sock" }
    func lockPath(_ name: String) -> String { path + "/" + name + ".lock" }

    /// Creates the directory (and its parents) if missing; refuses one that
    /// is not ours or is open to others.
    public func ensure() throws(ControlError) {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, prefix == path ? 0o700 : 0o755) != 0 && errno != EEXIST {
                throw .host("mkdir \(prefix)", errno)
            }
        }
        var st = stat()
        guard lstat(path, &st) == 0 else { throw .host("stat \(path)", errno) }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw .unsafeDirectory(path, "not a directory") }
        guard st.st_uid == geteuid() else { throw .unsafeDirectory(path, "owned by uid \(st.st_uid), not \(geteuid())") }
        if st.st_mode & 0o077 != 0 && chmod(path, 0o700) != 0 { throw .host("chmod \(path)", errno) }
    }

    /// The names with a socket here, sorted (live or not: ask each).
    public func names() -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let n = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if n.hasSuffix(".sock") { out.append(String(n.dropLast(5))) }
        }
        return out.sorted()
    }
}

public enum ControlError: Error, CustomStringConvertible, Equatable {
    case badName(String)
    case nameTaken(String)
    case noSuchSandbox(String)
    case unsafeDirectory(String, String)
    case host(String, Int32)
    case protocolError(String)

    public var description: String {
        switch self {
        case .badName(let n): return "bad sandbox name '\(n)' (letters, digits, _ . -; at most 64 bytes)"
        case .nameTaken(let n): return "a sandbox named '\(n)' is already running"
        case .noSuchSandbox(let n): return "no sandbox named '\(n)' is running"
        case .unsafeDirectory(let p, let why): return "runtime directory \(p): \(why)"
        case .host(let what, let e): return "\(what): \(String(cString: strerror(e)))"
        case .protocolError(let why): return "control protocol: \(why)"
        }
    }
}

extension sockaddr_un {
    /// An AF_UNIX address for `path`; nil if it does not fit sun_path.
    static func make(_ path: String) -> sockaddr_un? {
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: a.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &a.sun_path) { p in for (i, b) in bytes.enumerated() { p[i] = b } }
        return a
    }
}
