import Foundation
import Glibc
import Testing
@testable import Sentry

/// Named sandboxes: `sentry run --name`, `sentry list`, `sentry kill`, the
/// runtime directory and its socket, and the control protocol itself.
@Suite struct ControlTests {
    static func environment(_ runtime: URL) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["SENTRY_RUNTIME_DIR"] = runtime.path
        return env
    }

    static func list(_ env: [String: String]) -> [SandboxState] {
        let r = Harness.run(Harness.sentry, ["list", "--json"], env: env)
        return r.stdout.split(separator: "\n").compactMap { try? JSONDecoder().decode(SandboxState.self, from: Data($0.utf8)) }
    }

    @Test func nameListAndKill() throws {
        guard Harness.imagesBuilt else { return }
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let runtime = dir.appendingPathComponent("run")
        let env = Self.environment(runtime)
        let bg = try #require(Background(["run", "--name", "job1", "/bin/busybox", "sh", "-c", "sleep 60; echo late"], env: env, in: dir))
        defer { bg.stop() }
        #expect(Background.poll { Self.list(env).contains { $0.name == "job1" } }, "\(bg.stderr)")
        let s = try #require(Self.list(env).first)
        #expect(s.pid == bg.pid && s.status == "running" && s.guests >= 1 && s.memory > 0)
        #expect(["ptrace", "systrap", "vmexec"].contains(s.platform))
        // The directory is the user's alone; the socket too.
        var st = stat()
        #expect(stat(runtime.path, &st) == 0 && st.st_mode & 0o777 == 0o700)
        #expect(stat(runtime.appendingPathComponent("job1.sock").path, &st) == 0 && st.st_mode & S_IFMT == S_IFSOCK)

        // The name is taken while it lives.
        let dup = Harness.run(Harness.sentry, ["run", "--name", "job1", "/bin/true"], env: env)
        #expect(dup.status == 72 && dup.stderr.contains("already running"), "\(dup)")

        let k = Harness.run(Harness.sentry, ["kill", "job1", "TERM"], env: env)
        #expect(k.status == 0, "\(k)")
        #expect(bg.wait() == 128 + SIGTERM, "\(bg.stderr)")
        #expect(!bg.stdout.contains("late"))
        // Gone from the list, and its files with it.
        #expect(Self.list(env).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: runtime.appendingPathComponent("job1.sock").path))
        let missing = Harness.run(Harness.sentry, ["kill", "job1"], env: env)
        #expect(missing.status == 73 && missing.stderr.contains("no sandbox named 'job1'"), "\(missing)")
    }

    /// A sentry killed with SIGKILL leaves its socket: the next one of that
    /// name replaces it, and `list` does not show the dead one.
    @Test func staleSocketOfADeadSentry() throws {
        guard Harness.imagesBuilt else { return }
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = Self.environment(dir.appendingPathComponent("run"))
        let first = try #require(Background(["run", "--name", "svc", "/bin/busybox", "sleep", "60"], env: env, in: dir))
        defer { first.stop() }
        #expect(Background.poll { Self.list(env).count == 1 })
        first.stop()
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("run/svc.sock").path))
        #expect(Self.list(env).isEmpty)
        let second = Harness.run(Harness.sentry, ["run", "--name", "svc", "/bin/busybox", "echo", "again"], env: env)
        #expect(second.status == 0 && second.stdout == "again\n", "\(second)")
    }

    @Test func badNamesAndSignals() throws {
        let r = Harness.run(Harness.sentry, ["run", "--name", "../x", "/bin/true"])
        #expect(r.status == 64, "\(r)")
        #expect(!RuntimeDirectory.isValid(name: ".hidden") && !RuntimeDirectory.isValid(name: "a/b")
                && !RuntimeDirectory.isValid(name: String(repeating: "x", count: 65)) && RuntimeDirectory.isValid(name: "job-1.a_b"))
        let k = Harness.run(Harness.sentry, ["kill", "x", "NOSUCHSIG"])
        #expect(k.status == 64, "\(k)")
    }

    /// Another host user cannot reach the socket (the directory is 0700,
    /// and the server checks SO_PEERCRED besides).
    @Test func otherUsersAreRefused() throws {
        guard Harness.imagesBuilt, geteuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            print("skipped: needs root and setpriv to act as another user"); return
        }
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let runtime = dir.appendingPathComponent("run")
        let env = Self.environment(runtime)
        let bg = try #require(Background(["run", "--name", "mine", "/bin/busybox", "sleep", "60"], env: env, in: dir))
        defer { bg.stop() }
        #expect(Background.poll { Self.list(env).count == 1 })
        // Even with the directory opened up, the server refuses the peer.
        chmod(runtime.path, 0o755)
        chmod(runtime.appendingPathComponent("mine.sock").path, 0o777)
        chmod(dir.path, 0o755)
        let other = Harness.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                     Harness.sentry, "kill", "mine", "KILL"], env: env)
        #expect(other.status == 73 && other.stderr.contains("another host user"), "\(other)")
        #expect(bg.wait(seconds: 0.5) == nil)
    }

    @Test func protocolRoundTrip() throws {
        let req = ControlRequest(op: .checkpoint, image: "/x", leaveRunning: true)
        let line = ControlProtocol.encode(req)
        #expect(line.last == 0x0a)
        #expect(ControlProtocol.decode(ControlRequest.self, Array(line.dropLast())) == req)
        #expect(String(decoding: line, as: UTF8.self).contains("\"version\":1"))
    }
}
