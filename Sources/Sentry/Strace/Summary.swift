import Glibc
import Synchronization

/// `-c`: calls, errors and time per syscall, printed as strace's table at the
/// end. Every traced call counts, those answered ENOSYS and those that never
/// return (exit_group) included, so the total is the number of lines a full
/// trace of the same run prints. Time is what Tracer.exit measures: the CPU
/// time the sentry's thread spent serving the call (strace's default, which
/// sums the tracee's system time), or with -w the wall-clock time, blocking included.
final class Summary: Sendable {
    struct Count {
        var name: String
        var implemented: Bool
        var calls = 0
        var errors = 0
        var ns: Int64 = 0
    }
    private let counts = Mutex<[UInt64: Count]>([:])

    func record(nr: UInt64, name: String, implemented: Bool, ns: Int64, failed: Bool) {
        counts.withLock { c in
            c[nr, default: Count(name: name, implemented: implemented)].calls += 1
            if failed { c[nr]!.errors += 1 }
            c[nr]!.ns = c[nr]!.ns.addingReportingOverflow(ns).partialValue
        }
    }

    /// Most time first, then by number (strace's default -S time).
    var sorted: [(UInt64, Count)] {
        counts.withLock { $0 }.sorted { $0.1.ns != $1.1.ns ? $0.1.ns > $1.1.ns : $0.0 < $1.0 }
    }

    func render() -> String {
        let rows = sorted
        let total = rows.reduce(Int64(0)) { $0 &+ $1.1.ns }
        let calls = rows.reduce(0) { $0 + $1.1.calls }, errors = rows.reduce(0) { $0 + $1.1.errors }
        let rule = "------ ----------- ----------- --------- --------- ----------------\n"
        var out = "% time     seconds  usecs/call     calls    errors syscall\n" + rule
        func row(_ percent: Double, _ ns: Int64, _ calls: Int, _ errors: Int, _ name: String) -> String {
            let usecs = calls > 0 ? ns / 1000 / Int64(calls) : 0
            return Self.pad(Self.twoDecimals(percent), 6) + " " + Self.pad(Tracer.seconds(ns), 11) + " "
                + Self.pad(String(usecs), 11) + " " + Self.pad(String(calls), 9) + " "
                + Self.pad(errors > 0 ? String(errors) : "", 9) + " " + name + "\n"
        }
        for (_, c) in rows {
            out += row(total > 0 ? Double(c.ns) * 100 / Double(total) : 0, c.ns, c.calls, c.errors, c.name)
        }
        out += rule + row(100, total, calls, errors, "total")
        let missing = rows.filter { !$0.1.implemented }.sorted { $0.0 < $1.0 }
        if !missing.isEmpty {
            out += "\nnot implemented in the sentry (answered ENOSYS):\n    calls syscall\n--------- ----------------\n"
            for (_, c) in missing { out += Self.pad(String(c.calls), 9) + " " + c.name + "\n" }
        }
        return out
    }

    /// The same as one JSON object: {"summary":[{"syscall":..., "calls":..., ...}], "total":{...}}.
    func json() -> String {
        let rows = sorted
        func obj(_ name: String, _ c: Count) -> String {
            "{\"syscall\":\(Tracer.json(name)),\"calls\":\(c.calls),\"errors\":\(c.errors),\"seconds\":\(Tracer.seconds(c.ns))"
                + (c.implemented ? "" : ",\"implemented\":false") + "}"
        }
        var total = Count(name: "total", implemented: true)
        for (_, c) in rows { total.calls += c.calls; total.errors += c.errors; total.ns &+= c.ns }
        return "{\"summary\":[" + rows.map { obj($0.1.name, $0.1) }.joined(separator: ",") + "],\"total\":" + obj("total", total) + "}"
    }

    /// printf's "%.2f" (strace's percentages), by vsnprintf itself.
    static func twoDecimals(_ v: Double) -> String {
        var buf = [CChar](repeating: 0, count: 32)
        _ = withVaList([v]) { vsnprintf(&buf, buf.count, "%.2f", $0) }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }
}
