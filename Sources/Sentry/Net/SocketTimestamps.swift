import Glibc

/// SO_TIMESTAMP, SO_TIMESTAMPNS and their y2038 forms (_NEW): a receive
/// reports when what it took arrived, as a control message
/// (__sock_recv_timestamp). Datagram sockets (UDP, raw, ping, AF_UNIX
/// datagram and seqpacket) report every datagram, stamped when queued, or
/// at the read if it came before the option was set (6.1's "false
/// timestamp"); TCP reports the last segment read if it was stamped;
/// AF_UNIX streams report nothing, as Linux's.
struct ReceiveTimestamps: Sendable {
    /// SOCK_RCVTSTAMP, SOCK_RCVTSTAMPNS, SOCK_TSTAMP_NEW.
    var on = false, nanoseconds = false, new = false

    static let SO_TIMESTAMP_OLD: Int32 = 29, SO_TIMESTAMPNS_OLD: Int32 = 35
    static let SO_TIMESTAMP_NEW: Int32 = 63, SO_TIMESTAMPNS_NEW: Int32 = 64
    static let names: Set<Int32> = [SO_TIMESTAMP_OLD, SO_TIMESTAMPNS_OLD, SO_TIMESTAMP_NEW, SO_TIMESTAMPNS_NEW]

    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// sock_set_timestamp: turning one form on chooses it; off clears both.
    mutating func set(_ name: Int32, _ value: Bool) {
        guard value else { on = false; nanoseconds = false; return }
        on = true
        new = name == Self.SO_TIMESTAMP_NEW || name == Self.SO_TIMESTAMPNS_NEW
        nanoseconds = name == Self.SO_TIMESTAMPNS_OLD || name == Self.SO_TIMESTAMPNS_NEW
    }

    /// sk_getsockopt's readings.
    func get(_ name: Int32) -> Bool {
        switch name {
        case Self.SO_TIMESTAMP_OLD: return on && !new && !nanoseconds
        case Self.SO_TIMESTAMPNS_OLD: return nanoseconds && !new
        case Self.SO_TIMESTAMP_NEW: return on && new
        default: return nanoseconds && new
        }
    }

    /// The control message for a stamp (ns): its type and body (a timeval
    /// or a timespec; the old and new layouts are the same on x86-64).
    func control(_ stamp: Int64) -> (type: Int32, body: [UInt8]) {
        let sec = stamp / 1_000_000_000, ns = stamp % 1_000_000_000
        let type = nanoseconds ? (new ? Self.SO_TIMESTAMPNS_NEW : Self.SO_TIMESTAMPNS_OLD)
                               : (new ? Self.SO_TIMESTAMP_NEW : Self.SO_TIMESTAMP_OLD)
        return (type, withUnsafeBytes(of: (sec, nanoseconds ? ns : ns / 1000)) { Array($0) })
    }
}

extension SocketEndpoint {
    func timestampOption(_ name: Int32) -> Bool { locked { $0.timestamps.get(name) } }

    func setTimestampOption(_ name: Int32, _ value: Bool) {
        locked { s in
            s.timestamps.set(name, value)
            s.rx.stampArrivals = s.timestamps.on
        }
    }

    /// The timestamp control message for a receive that took what arrived
    /// at `arrival` (0: not stamped); nil if the socket asked for none or
    /// has none to give.
    public func timestampControl(arrival: Int64) -> (type: Int32, body: [UInt8])? {
        let t = locked { $0.timestamps }
        guard t.on else { return nil }
        if kind == .stream {
            guard isTCP, arrival != 0 else { return nil }
            return t.control(arrival)
        }
        return t.control(arrival != 0 ? arrival : ReceiveTimestamps.now())
    }
}
