import FoundationEssentials
import Glibc

/// The control protocol: one JSON object per line each way, a request from
/// the client, one response from the sandbox, then the connection closes.
/// Both carry `version`; a sandbox answers a request of another major
/// version with an error naming both, never by guessing.
public enum ControlProtocol {
    public static let version = 1
}

/// What a client asks a named sandbox.
public struct ControlRequest: Codable, Sendable, Equatable {
    public enum Operation: String, Codable, Sendable {
        /// name, pid, platform, guests, memory.
        case state
        /// A signal to the sandbox's init, as from outside the sandbox.
        case kill
        /// Freeze the sandbox, write its image to `image`, then end it (or let it go on).
        case checkpoint
        /// Trace the sandbox live with `trace`'s flags: after the response, the
        /// trace's lines follow on the connection until either end closes it.
        case trace
    }
    public var version = ControlProtocol.version
    public var op: Operation
    public var signal: Int32?
    public var image: String?
    public var leaveRunning: Bool?
    /// checkpoint: deflate the page store and files.bin.
    public var compress: Bool?
    /// checkpoint: fsync the image before answering.
    public var sync: Bool?
    public var trace: TraceFlags?

    public init(op: Operation, signal: Int32? = nil, image: String? = nil, leaveRunning: Bool? = nil, compress: Bool? = nil,
                sync: Bool? = nil, trace: TraceFlags? = nil) {
        self.op = op; self.signal = signal; self.image = image; self.leaveRunning = leaveRunning; self.compress = compress
        self.sync = sync
        self.trace = trace
    }
}

/// A running sandbox as `sentry list` shows it.
public struct SandboxState: Codable, Sendable, Equatable {
    public var name: String
    /// The sentry's host pid.
    public var pid: Int32
    public var platform: String
    /// Live guest processes.
    public var guests: Int
    /// Bytes of the memory file in use by guests.
    public var memory: UInt64
    /// "running", or "stopped" once init has exited and the sentry is leaving.
    public var status: String
    public init(name: String, pid: Int32, platform: String, guests: Int, memory: UInt64, status: String) {
        self.name = name; self.pid = pid; self.platform = platform; self.guests = guests; self.memory = memory; self.status = status
    }
}

/// The sandbox's answer.
public struct ControlResponse: Codable, Sendable, Equatable {
    public var version = ControlProtocol.version
    public var ok: Bool
    public var error: String?
    public var state: SandboxState?
    /// checkpoint: what was written (the manifest's summary line).
    public var summary: String?
    /// A failed checkpoint: the exit status `sentry checkpoint` gives (which kind of failure).
    public var exitStatus: Int32?

    public init(ok: Bool, error: String? = nil, state: SandboxState? = nil, summary: String? = nil, exitStatus: Int32? = nil) {
        self.ok = ok; self.error = error; self.state = state; self.summary = summary; self.exitStatus = exitStatus
    }
    public static func failure(_ why: String) -> ControlResponse { ControlResponse(ok: false, error: why) }
}

extension ControlProtocol {
    /// One JSON line (sorted keys), for front ends that print states.
    public static func encodeLine<T: Encodable>(_ value: T) -> [UInt8] { encode(value) }

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return Array((try? e.encode(value)) ?? Data("{}".utf8)) + [0x0a]
    }

    static func decode<T: Decodable>(_ type: T.Type, _ line: [UInt8]) -> T? {
        try? JSONDecoder().decode(type, from: Data(line))
    }

    /// Reads up to the first newline (at most `limit` bytes); nil on EOF before one or a longer line.
    static func readLine(_ fd: Int32, limit: Int = 1 << 16) -> [UInt8]? {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while out.count < limit {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { return nil }
            if let nl = buf[0..<n].firstIndex(of: 0x0a) { out += buf[0..<nl]; return out }
            out += buf[0..<n]
        }
        return nil
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            // send, not write: a peer that went away is EPIPE, not a SIGPIPE that kills the client.
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, $0.count - done, Int32(MSG_NOSIGNAL)) }
            if n < 0 { if errno == EINTR { continue }; return false }
            done += n
        }
        return true
    }
}
