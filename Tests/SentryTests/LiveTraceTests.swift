import Foundation
import Glibc
import Testing
@testable import Sentry

/// `sentry trace NAME`: a live tracer attached to a running named sandbox,
/// detached by SIGINT (Ctrl-C) with the guest going on, one at a time, and
/// ended with the sandbox.
@Suite struct LiveTraceTests {
    /// A guest that counts on its stdout forever.
    static let ticker = ["/bin/busybox", "sh", "-c", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done"]

    static func ticks(_ text: String) -> Int { text.split(separator: "\n").filter { $0.hasPrefix("tick ") }.count }

    /// A sandbox name per test and platform, short: the control socket's
    /// path must fit sun_path under the scratch directory.
    static func sandboxName(_ prefix: String, _ platform: Harness.TestPlatform) -> String {
        prefix + "-" + platform.rawValue.split(separator: "-").map { String($0.prefix(2)) }.joined()
    }

    @Test(arguments: Harness.platforms)
    func attachDetachAndEnd(_ platform: Harness.TestPlatform) throws {
        guard Harness.imagesBuilt else { return }
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ControlTests.environment(dir.appendingPathComponent("run"))
        let name = Self.sandboxName("lt", platform)
        let guest = try #require(Background(["run"] + platform.arguments + ["--name", name] + Self.ticker, env: env, in: dir, tag: "guest"))
        defer { guest.stop() }
        #expect(Background.poll { Self.ticks(guest.stdout) > 0 }, "\(guest.stderr)")

        // Attached: the guest's writes appear as strace prints them.
        let first = try #require(Background(["trace", name, "-e", "trace=write"], env: env, in: dir, tag: "first"))
        defer { first.stop() }
        #expect(Background.poll { first.stdout.contains("write(1, \"tick ") }, "\(first.stderr)")
        // Only what was asked for (and the children's exits, which always print).
        let lines = Self.complete(first.stdout).filter { !$0.contains("+++") && !$0.contains("--- SIG") }
        #expect(lines.allSatisfy { $0.contains("write(") }, "\(first.stdout)")

        // One tracer at a time.
        let second = Harness.run(Harness.sentry, ["trace", name], env: env)
        #expect(second.status == 81 && second.stderr.contains("already traced by another `sentry trace`"), "\(second)")

        // Ctrl-C: the client detaches and exits 0; the guest goes on, untraced.
        kill(first.pid, SIGINT)
        #expect(first.wait() == 0, "\(first.stderr)")
        let before = Self.ticks(guest.stdout)
        #expect(Background.poll { Self.ticks(guest.stdout) >= before + 3 })
        #expect(guest.wait(seconds: 0) == nil)

        // Attachable again; -C's table at the detach counts the lines shown.
        let counted = try #require(Background(["trace", name, "-C", "-e", "trace=write"], env: env, in: dir, tag: "counted"))
        defer { counted.stop() }
        #expect(Background.poll { Self.writeLines(counted.stdout) >= 2 }, "\(counted.stderr)")
        kill(counted.pid, SIGINT)
        #expect(counted.wait() == 0, "\(counted.stderr)")
        let out = counted.stdout
        let row = out.split(separator: "\n").first { $0.hasSuffix(" write") }.map { $0.split(separator: " ") }
        #expect(row.map { Int($0[3]) } == Self.writeLines(out), "\(out)")

        // The sandbox's end ends the stream: init's death is its last line.
        let last = try #require(Background(["trace", name, "-e", "trace=write"], env: env, in: dir, tag: "last"))
        defer { last.stop() }
        #expect(Background.poll { Self.writeLines(last.stdout) >= 1 }, "\(last.stderr)")
        #expect(Harness.run(Harness.sentry, ["kill", name, "TERM"], env: env).status == 0)
        #expect(guest.wait() == 128 + SIGTERM)
        #expect(last.wait() == 0, "\(last.stderr)")
        // (Then the other guests' deaths, in whatever order they come.)
        #expect(last.stdout.contains("[pid     1] +++ killed by SIGTERM +++\n") && last.stdout.hasSuffix("+++\n"), "\(last.stdout)")
    }

    /// A guest making nothing but calls its stub may serve itself (clock
    /// reads, rt_sigprocmask, set_robust_list: GuestSideCalls.swift) shows them as soon as a
    /// tracer that wants them attaches: the attach kicks it out of guest code.
    @Test(arguments: Harness.platforms)
    func stubServedCallsSeenAtAttach(_ platform: Harness.TestPlatform) throws {
        guard Harness.imagesBuilt else { return }
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ControlTests.environment(dir.appendingPathComponent("run"))
        let name = Self.sandboxName("ls", platform)
        let guest = try #require(Background(["run"] + platform.arguments + ["--name", name, Harness.image("patching"), "spinserved"],
                                            env: env, in: dir, tag: "guest"))
        defer { guest.stop() }
        #expect(Background.poll { guest.stdout.contains("ready") }, "\(guest.stderr)")
        for (call, line) in [("rt_sigprocmask", "rt_sigprocmask(SIG_BLOCK, [URG], NULL, 8) = 0"),
                             ("clock_gettime", "clock_gettime(CLOCK_MONOTONIC, {"),
                             ("set_robust_list", "set_robust_list(0x")] {
            let tracer = try #require(Background(["trace", name, "-e", "trace=\(call)"], env: env, in: dir, tag: call))
            defer { tracer.stop() }
            #expect(Background.poll { tracer.stdout.contains(line) }, "\(platform.rawValue) \(call): \(tracer.stdout.suffix(300)) \(tracer.stderr)")
            kill(tracer.pid, SIGINT)
            #expect(tracer.wait() == 0, "\(tracer.stderr)")
        }
    }

    /// A call under way when the tracer attaches is shown at its end, whole,
    /// as strace -p shows a read its attach interrupted and restarted
    /// (`read(0, "hi\n", 131072) = 3`), and counted by -C; the calls after it as usual.
    @Test(arguments: Harness.platforms)
    func callInProgressAtAttach(_ platform: Harness.TestPlatform) throws {
        guard Harness.imagesBuilt else { return }
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ControlTests.environment(dir.appendingPathComponent("run"))
        let name = Self.sandboxName("lr", platform)
        // Says it is about to read, then blocks in read(0, ...) on a FIFO until the test writes.
        let guest = try #require(Background(["run"] + platform.arguments + ["--name", name, "/bin/busybox", "sh", "-c", "echo ready; exec /bin/busybox cat"],
                                            env: env, in: dir, tag: "guest", stdinFIFO: true))
        defer { guest.stop() }
        #expect(Background.poll { guest.stdout.contains("ready") }, "\(guest.stderr)")
        // The guest was in its read well before the attach (it has nothing else to do).
        usleep(300_000)
        let tracer = try #require(Background(["trace", name, "-C", "-e", "trace=read,write"], env: env, in: dir, tag: "tracer"))
        defer { tracer.stop() }
        #expect(Background.poll { tracer.stderr.contains("sentry: attached to \(name)") }, "\(tracer.stderr)")
        guest.send("hi\n")
        #expect(Background.poll { guest.stdout.contains("ready\nhi\n") }, "\(guest.stdout)")
        #expect(Background.poll { tracer.stdout.contains("write(1, \"hi\\n\", 3)") }, "\(tracer.stdout)")
        kill(tracer.pid, SIGINT)
        #expect(tracer.wait() == 0, "\(tracer.stderr)")
        let lines = Self.complete(tracer.stdout).map(String.init)
        let calls = lines.filter { $0.hasPrefix("read(") || $0.hasPrefix("write(") }
        #expect(calls.count >= 2 && calls[0].range(of: #"^read\(0, "hi\\n", \d+\) += 3$"#, options: .regularExpression) != nil
                && calls[1].hasPrefix("write(1, \"hi\\n\", 3)"), "\(lines)")
        // -C's table counts the resumed read with the others.
        let row = lines.first { $0.hasSuffix(" read") }.map { $0.split(separator: " ") }
        #expect(row.map { Int($0[3]) } == calls.filter { $0.hasPrefix("read(") }.count, "\(lines)")
    }

    static func writeLines(_ text: String) -> Int { complete(text).filter { $0.contains("write(1, \"tick ") }.count }

    /// The lines written whole so far.
    static func complete(_ text: String) -> [Substring] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()
        return lines
    }

    @Test func refusals() throws {
        guard Harness.imagesBuilt else { return }
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ControlTests.environment(dir.appendingPathComponent("run"))
        let missing = Harness.run(Harness.sentry, ["trace", "nosuch"], env: env)
        #expect(missing.status == 73 && missing.stderr.contains("no sandbox named 'nosuch'"), "\(missing)")
        #expect(Harness.run(Harness.sentry, ["trace", "../x"], env: env).status == 64)
        #expect(Harness.run(Harness.sentry, ["trace", "x", "-e", "trace=nosuchcall"], env: env).status == 64)
        // A sandbox started with --strace keeps its tracer.
        let traced = try #require(Background(["run", "--strace", "-o", "/dev/null", "--name", "st"] + Self.ticker, env: env, in: dir))
        defer { traced.stop() }
        #expect(Background.poll { Self.ticks(traced.stdout) > 0 }, "\(traced.stderr)")
        let r = Harness.run(Harness.sentry, ["trace", "st"], env: env)
        #expect(r.status == 81 && r.stderr.contains("started with --strace"), "\(r)")
    }

    /// The slot's rules without a sandbox: one live tracer, none over the start's, none after the end.
    @Test func slotRules() throws {
        let start = Tracer(fd: -1, options: TraceOptions())
        let withStart = TracerSlot(start)
        #expect(withStart.current === start)
        #expect(throws: TracerSlot.AttachError.busy(startedWithStrace: true)) { try withStart.attach(Tracer(fd: -1, options: TraceOptions())) { true } }
        #expect(!withStart.detach(start) && withStart.current === start)

        let slot = TracerSlot(nil)
        #expect(slot.current == nil)
        let a = Tracer(fd: -1, options: TraceOptions()), b = Tracer(fd: -1, options: TraceOptions())
        #expect(try slot.attach(a) { false } == false && slot.current == nil)
        #expect(try slot.attach(a) { true } && slot.current === a)
        #expect(throws: TracerSlot.AttachError.busy(startedWithStrace: false)) { try slot.attach(b) { true } }
        #expect(!slot.detach(b) && slot.detach(a) && slot.current == nil)
        #expect(try slot.attach(b) { true })
        #expect(slot.close() === b && slot.current == nil)
        #expect(throws: TracerSlot.AttachError.finished) { try slot.attach(a) { true } }
    }
}
