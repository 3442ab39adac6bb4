import Glibc

/// The host's wall clock as RFC 3339 in UTC ("2026-12-07T01:02:03Z", or with
/// nine digits of fraction): the runtime's state and log lines, a checkpoint
/// manifest's creation time. Formatted with gmtime_r and strftime, which need
/// no locale or time zone data.
public enum UTCTimestamp {
    public static func now(nanoseconds: Bool) -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var tm = Glibc.tm()
        gmtime_r(&t, &tm)
        var buf = [CChar](repeating: 0, count: 64)
        strftime(&buf, buf.count, "%Y-%m-%dT%H:%M:%S", &tm)
        var s = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if nanoseconds {
            let ns = String(ts.tv_nsec)
            s += "." + String(repeating: "0", count: 9 - ns.count) + ns
        }
        return s + "Z"
    }
}
