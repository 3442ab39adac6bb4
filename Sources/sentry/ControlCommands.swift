import ArgumentParser
import Glibc
import Sentry

/// `sentry list`: the named sandboxes running as this host user.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the named sandboxes running as this user.")

    @Flag(help: "One JSON object per sandbox.")
    var json = false

    func run() throws {
        let all = ControlClient.list()
        if json {
            for s in all { print(String(decoding: ControlProtocol.encodeLine(s), as: UTF8.self), terminator: "") }
            return
        }
        print("NAME".padding(20) + "PID".padding(9) + "PLATFORM".padding(9) + "GUESTS".padding(7) + "MEMORY".padding(11) + "STATUS")
        for s in all {
            print(s.name.padding(20) + String(s.pid).padding(9) + s.platform.padding(9) + String(s.guests).padding(7)
                  + Self.size(s.memory).padding(11) + s.status)
        }
    }

    static func size(_ b: UInt64) -> String {
        if b >= 1 << 30 { return "\(b >> 30)G" }
        if b >= 1 << 20 { return "\(b >> 20)M" }
        if b >= 1 << 10 { return "\(b >> 10)K" }
        return "\(b)"
    }
}

/// `sentry kill NAME [SIGNAL]`: a signal to the sandbox's init, from outside.
struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Send a signal (default SIGTERM) to a named sandbox's init.")

    @Argument(help: "The sandbox's name.")
    var name: String

    @Argument(help: "A signal number or name (TERM, SIGKILL, 9).")
    var signal: String = "TERM"

    func validate() throws {
        guard Self.parse(signal) != nil else { throw ValidationError("unknown signal '\(signal)'") }
    }

    static func parse(_ s: String) -> Int32? {
        if let n = Int32(s) { return (1...64).contains(n) ? n : nil }
        let up = s.uppercased()
        let name = up.hasPrefix("SIG") ? up : "SIG" + up
        return (1...31).first { Signal(Int32($0)).name == name }.map(Int32.init)
    }

    func run() throws {
        let r: ControlResponse
        do { r = try ControlClient.send(ControlRequest(op: .kill, signal: Self.parse(signal)), to: name) } catch {
            fail(error.description, .control)
        }
        if !r.ok { fail(r.error ?? "kill failed", .control) }
    }
}
