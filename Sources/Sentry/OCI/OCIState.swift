import FoundationEssentials
import Glibc

/// One container's record in the runtime's state directory (`--root`, as
/// runc's /run/runc): `ROOT/ID/state.json`, written by `create`, and
/// `ROOT/ID/exec.fifo`, which the sentry waiting for `start` holds open.
/// The status is never stored: it is read from the sentry process itself
/// (runtime.md's lifecycle), so a sentry that died unseen is "stopped".
public struct OCIState {
    public static let ociVersion = "1.0.2"
    public static let stateFile = "state.json"
    public static let fifoName = "exec.fifo"

    public var id: String
    /// The sentry process that is the container (0 until create has started it).
    public var pid: Int32 = 0
    /// Its start time in clock ticks since boot (/proc/PID/stat field 22): a
    /// pid reused by another process after the sentry exited is not it.
    public var pidStartTime: UInt64 = 0
    public var bundle: String
    public var rootfs: String = ""
    /// RFC 3339, when create began.
    public var created: String
    public var annotations: [String: String] = [:]

    public enum Status: String { case creating, created, running, stopped }

    public init(id: String, bundle: String) {
        self.id = id
        self.bundle = bundle
        created = Self.now()
    }

    /// runc's rule for container ids: they name a directory.
    public static func validate(id: String) throws(OCIError) {
        let ok = !id.isEmpty && id != "." && id != ".." && id.utf8.count <= 1024 && id.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "_+-.".unicodeScalars.contains($0)
        }
        guard ok else { throw OCIError("invalid container id \"\(id)\" (letters, digits, _ + - . only)") }
    }

    public static func directory(root: String, id: String) -> String { root + "/" + id }

    public static func now() -> String { UTCTimestamp.now(nanoseconds: true) }

    // MARK: - Reading and writing

    public static func load(root: String, id: String) throws(OCIError) -> OCIState {
        try validate(id: id)
        let path = directory(root: root, id: id) + "/" + stateFile
        guard let data = FileManager.default.contents(atPath: path) else {
            throw OCIError("container \(id) does not exist")
        }
        guard let o = try? JSONValue.parse(data), let bundle = o["bundle"]?.stringValue else {
            throw OCIError("\(path): not a state file of the sentry")
        }
        var s = OCIState(id: id, bundle: bundle)
        s.pid = o["pid"]?.integer() ?? 0
        s.pidStartTime = o["pidStartTime"]?.integer() ?? 0
        s.rootfs = o["rootfs"]?.stringValue ?? ""
        s.created = o["created"]?.stringValue ?? ""
        if let a = o["annotations"]?.objectValue, a.values.allSatisfy({ $0.stringValue != nil }) {
            s.annotations = a.mapValues { $0.stringValue ?? "" }
        }
        return s
    }

    /// Written whole to a temporary name, then renamed: a reader never sees half of it.
    public func save(root: String) throws(OCIError) {
        let dir = Self.directory(root: root, id: id)
        let record: JSONValue = [
            "ociVersion": .string(Self.ociVersion), "id": .string(id), "pid": .int(Int64(pid)), "pidStartTime": .uint(pidStartTime),
            "bundle": .string(bundle), "rootfs": .string(rootfs), "created": .string(created), "annotations": JSONValue(annotations),
        ]
        let tmp = dir + "/." + Self.stateFile + ".tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(record.encoded().utf8)), rename(tmp, dir + "/" + Self.stateFile) == 0 else {
            throw OCIError("\(dir)/\(Self.stateFile): \(Errno(errno).message)")
        }
    }

    // MARK: - Status

    /// The state of the sentry process: alive (and the same process), or gone.
    public var processAlive: Bool {
        guard pid > 0, let (state, start) = Self.procStat(pid) else { return false }
        return state != "Z" && state != "X" && start == pidStartTime
    }

    public func status(root: String) -> Status {
        if pid == 0 { return .creating }
        guard processAlive else { return .stopped }
        var st = Glibc.stat()
        let waiting = lstat(Self.directory(root: root, id: id) + "/" + Self.fifoName, &st) == 0
        return waiting ? .created : .running
    }

    /// State letter and start time of a process, from /proc/PID/stat (the
    /// fields after the parenthesised command, which may hold anything).
    public static func procStat(_ pid: Int32) -> (state: Character, startTime: UInt64)? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
              let text = String(data: data, encoding: .utf8), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
        guard fields.count > 19, let state = fields[0].first, let start = UInt64(fields[19]) else { return nil }
        return (state, start)
    }

    /// The JSON runtime.md's `state` prints (and runc's extra fields: rootfs, created, owner).
    public func stateJSON(root: String) -> JSONValue {
        let s = status(root: root)
        return [
            "ociVersion": .string(Self.ociVersion), "id": .string(id), "status": .string(s.rawValue),
            "pid": .int(s == .stopped ? 0 : Int64(pid)), "bundle": .string(bundle), "rootfs": .string(rootfs),
            "created": .string(created), "owner": "", "annotations": JSONValue(annotations),
        ]
    }

    /// The ids in a state directory, sorted.
    public static func list(root: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter {
            FileManager.default.fileExists(atPath: root + "/" + $0 + "/" + stateFile)
        }.sorted()
    }
}
