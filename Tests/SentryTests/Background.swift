import Foundation
import Glibc

/// A sentry started in the background (a named sandbox), its output in files.
final class Background {
    let pid: pid_t
    let dir: URL
    var stdoutPath: String { dir.appendingPathComponent("out").path }
    var stderrPath: String { dir.appendingPathComponent("err").path }
    private var reaped: Int32?

    /// With `stdinFIFO`, stdin is a FIFO the test writes to (`send`): reads block until it does.
    private var stdinWriter: Int32 = -1

    init?(_ args: [String], env: [String: String], in dir: URL, tag: String = UUID().uuidString, stdinFIFO: Bool = false) {
        self.dir = dir.appendingPathComponent("bg-\(tag)")
        try? FileManager.default.createDirectory(at: self.dir, withIntermediateDirectories: true)
        let input = self.dir.appendingPathComponent("in").path
        if stdinFIFO {
            // Opened read-write first, so that the child's open for reading does not wait for a writer.
            guard mkfifo(input, 0o600) == 0 else { return nil }
            stdinWriter = open(input, O_RDWR | O_CLOEXEC)
        } else {
            FileManager.default.createFile(atPath: input, contents: Data())
        }
        guard let p = Harness.spawn(Harness.sentry, args, env: env, stdin: self.dir.appendingPathComponent("in").path,
                                    stdout: self.dir.appendingPathComponent("out").path,
                                    stderr: self.dir.appendingPathComponent("err").path) else { return nil }
        pid = p
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// The exit status as a shell shows it, or nil if it is still running after `seconds`.
    func wait(seconds: Double = 60) -> Int32? {
        if let reaped { return reaped }
        let deadline = Date().addingTimeInterval(seconds)
        var status: Int32 = 0
        while Date() < deadline {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                reaped = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                return reaped
            }
            usleep(5000)
        }
        return nil
    }

    /// Writes `text` to its stdin FIFO.
    func send(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(stdinWriter, $0.baseAddress, $0.count) }
    }

    deinit { if stdinWriter >= 0 { close(stdinWriter) } }

    /// Kills it if still running and reaps it.
    func stop() {
        if reaped == nil { kill(pid, SIGKILL); _ = wait(seconds: 30) }
    }

    /// Polls `condition` until it holds or `seconds` pass.
    static func poll(seconds: Double = 30, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }
}
