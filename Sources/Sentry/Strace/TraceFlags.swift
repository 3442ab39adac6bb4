/// strace's flags as a command line gives them: what `sentry run` turns
/// into its TraceOptions, and what `sentry trace NAME` sends the sandbox,
/// which reads the `-e` expressions with its own syscall table.
public struct TraceFlags: Codable, Sendable, Equatable {
    public var strace = false
    public var json = false
    /// --strace-filter / --strace-syscalls: `-e trace=` by another name.
    public var filter: String?
    public var summaryOnly = false    // -c
    public var summary = false        // -C
    public var callTime = false       // -T
    /// -w (optional: a sandbox's request from an older client has no such key).
    public var summaryWallClock: Bool?
    public var timestamps = 0         // -t, -tt, -ttt
    public var relative = false       // -r
    public var fdPaths = 0            // -y, -yy
    public var stackTraces = false    // -k
    public var stringLimit: Int?      // -s
    public var expressions: [String] = []   // -e

    public init() {}

    /// Whether any flag asks for a trace or a summary.
    public var requested: Bool {
        strace || json || filter != nil || !expressions.isEmpty || summaryOnly || summary
            || callTime || timestamps > 0 || relative || fdPaths > 0 || stackTraces || stringLimit != nil
    }

    /// The tracer's options (whether or not `requested`); the message names the flag at fault.
    public func options(number: (String) -> Int?) throws(TraceOptions.Invalid) -> TraceOptions {
        var t = TraceOptions()
        if let stringLimit {
            guard stringLimit >= 0 else { throw TraceOptions.Invalid(message: "-s \(stringLimit): expected a length of 0 or more") }
            t.stringLimit = stringLimit
        }
        func apply(_ e: String) throws(TraceOptions.Invalid) {
            do { try t.apply(e, number: number) } catch { throw TraceOptions.Invalid(message: "-e \(e): \(error.message)") }
        }
        if let filter { try apply("trace=" + filter) }
        for e in expressions { try apply(e) }
        t.style = json ? .json : .text
        t.summary = summaryOnly || summary
        t.lines = !summaryOnly || summary
        t.callTime = callTime
        t.summaryWallClock = summaryWallClock ?? false
        t.timestamps = TraceOptions.Timestamps(rawValue: max(0, min(timestamps, 3)))!
        t.relative = relative
        t.fdPaths = max(0, min(fdPaths, 2))
        t.stackTraces = stackTraces
        return t
    }
}
