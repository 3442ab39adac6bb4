import ArgumentParser
import Testing
@testable import sentry
import Sentry
import Syscalls

/// `sentry run` reads its plain command lines itself (RunOptions.quick) and
/// leaves the rest to ArgumentParser: where it answers, it must answer as
/// ArgumentParser does.
@Suite struct CommandLineTests {
    static let accepted: [[String]] = [
        ["prog"],
        ["prog", "-x", "--platform", "y"],
        ["--", "prog", "--strace"],
        ["--platform", "ptrace", "prog", "a", "b"],
        ["--platform=systrap", "--systrap-trap", "seccomp", "prog"],
        ["--strace", "-o", "trace.txt", "--strace-filter", "openat,read", "./prog"],
        ["--strace-json", "--strace-output=t.json", "prog"],
        ["--root", "/srv/root", "--bind", "/a:/b", "--bind=/c:/d:rw", "prog"],
        ["--strace", "--platform", "vmexec", "--", "prog", "--", "x"],
        ["--overlay", "--root", "/srv", "prog"],
        ["--user", "1000:100", "prog"],
        ["--cwd", "/usr", "--env", "A=1", "--env=B=2", "--env-clear", "--hostname", "box", "prog"],
        ["--network=host", "prog"],
        ["--network", "none", "--strace", "prog"],
        ["--publish", "8080:80", "--publish=127.0.0.2:5353:53/udp", "prog"],
        ["--strace", "--strace-syscalls", "openat,read", "prog"],
        ["--strace-syscalls=openat", "-o", "t", "prog"],
        ["--memory", "64M", "--tmpfs-size=8M", "--pids", "100", "prog"],
        ["--memory=none", "prog"],
        ["--name", "job1", "--platform", "ptrace", "prog"],
    ]

    static let declined: [[String]] = [
        [],
        ["--help"],
        ["-h"],
        ["--bogus", "prog"],
        ["--platform"],
        ["--platform", "--strace", "prog"],
        ["--platform", "ptrace", "--platform", "systrap", "prog"],
        ["--strace", "--strace", "prog"],
        ["-o=trace.txt", "prog"],
        ["--root=", "prog"],
        ["--strace"],
        ["--strace=yes", "prog"],
        ["--env-clear", "--env-clear", "prog"],
        ["--hostname", "a", "--hostname", "b", "prog"],
        ["--network", "host", "--network", "none", "prog"],
        ["--memory", "1G", "--memory", "2G", "prog"],
        ["-c", "prog"],
        ["--strace", "-tt", "-T", "prog"],
        ["--strace", "-e", "trace=%file", "prog"],
        ["--strace-filter", "read", "--strace-syscalls", "write", "prog"],
    ]

    @Test(arguments: accepted)
    func plainCommandLinesParseAsArgumentParserDoes(_ args: [String]) throws {
        let quick = try #require(RunOptions.quick(args))
        let full = try Run.parse(args)
        #expect(quick == full.options)
    }

    /// strace's own spellings, as ArgumentParser reads them (grouped short flags count).
    @Test func straceFlagsParse() throws {
        let o = try Run.parse(["-C", "-ttt", "-T", "-r", "-yy", "-f", "-s", "200", "-e", "trace=%file,%process",
                               "-e", "status=failed", "prog", "-c"]).options
        #expect(o.summary && !o.summaryOnly && o.callTime && o.relative && o.follow)
        #expect(o.timestamps == 3 && o.fdPaths == 2 && o.stringLimit == 200)
        #expect(o.expressions == ["trace=%file,%process", "status=failed"])
        #expect(o.command == ["prog", "-c"])
        let t = try #require(try o.traceOptions())
        #expect(t.summary && t.lines && t.timestamps == .epoch && t.fdPaths == 2 && t.stringLimit == 200)
        #expect(t.statuses == [.failed])
        let traced = try #require(t.traced)
        for name in ["openat", "execve", "clone", "stat"] { #expect(traced[linuxAMD64.number(of: name)!], "\(name)") }
        for name in ["read", "mmap", "getpid"] { #expect(!traced[linuxAMD64.number(of: name)!], "\(name)") }

        let c = try #require(try Run.parse(["-c", "prog"]).options.traceOptions())
        #expect(c.summary && !c.lines)
        #expect(try Run.parse(["prog"]).options.traceOptions() == nil)
        let negated = try #require(try Run.parse(["-e", "trace=!%memory", "prog"]).options.traceOptions()?.traced)
        #expect(!negated[linuxAMD64.number(of: "mmap")!] && negated[linuxAMD64.number(of: "read")!])
        let signals = try #require(try Run.parse(["-e", "signal=SIGCHLD,usr1", "prog"]).options.traceOptions()?.signals)
        #expect(signals == [17, 10])
        for bad in [["-e", "trace=nosuchcall", "prog"], ["-e", "trace=%nosuchclass", "prog"], ["-e", "status=maybe", "prog"],
                    ["-e", "bogus=1", "prog"], ["-s", "-1", "prog"]] {
            #expect(throws: (any Error).self, "\(bad)") { _ = try Run.parse(bad) }
        }
    }

    @Test(arguments: declined)
    func otherCommandLinesGoToArgumentParser(_ args: [String]) {
        #expect(RunOptions.quick(args) == nil)
    }

    /// --network names a mode; anything else is a usage error on both paths.
    @Test func networkModes() throws {
        #expect(RunOptions.quick(["prog"])?.network == "none")
        try #require(RunOptions.quick(["--network=host", "prog"])).validate()
        #expect(throws: ValidationError.self) { try RunOptions.quick(["--network=bridge", "prog"])?.validate() }
        #expect(throws: (any Error).self) { try Run.parse(["--network", "bridge", "prog"]) }
    }

    /// --publish takes docker -p's forms; a bad one, or one under --network=host, is a usage error.
    @Test func publishedPorts() throws {
        #expect(PublishedPort.parse("8080:80") == PublishedPort(hostPort: 8080, guestPort: 80))
        #expect(PublishedPort.parse("0.0.0.0:53:5353/udp") == PublishedPort(hostIP: "0.0.0.0", hostPort: 53, guestPort: 5353, udp: true))
        #expect(PublishedPort.parse("[::1]:8080:80/tcp") == PublishedPort(hostIP: "::1", hostPort: 8080, guestPort: 80))
        for bad in ["80", "0:80", "8080:0", "8080:65536", "8080:80/sctp", "host:8080:80", "::1:8080:80", "[::1]8080:80", "a:b"] {
            #expect(PublishedPort.parse(bad) == nil, "\(bad)")
        }
        try #require(RunOptions.quick(["--publish", "8080:80", "prog"])).validate()
        #expect(throws: ValidationError.self) { try RunOptions.quick(["--publish", "8080", "prog"])?.validate() }
        #expect(throws: ValidationError.self) { try RunOptions.quick(["--network=host", "--publish", "8080:80", "prog"])?.validate() }
    }

    @Test func resourceLimitsParse() throws {
        let o = try #require(RunOptions.quick(["--memory", "64M", "--tmpfs-size", "1G", "--pids", "10", "prog"]))
        let l = try o.resourceLimits()
        #expect(l.memory == 64 << 20 && l.tmpfs == 1 << 30 && l.pids == 10)
        #expect(try RunOptions.quick(["--memory", "none", "prog"])?.resourceLimits().memory == .max)
        #expect(try RunOptions.quick(["prog"])?.resourceLimits().memory == nil)
        for bad in [["--memory", "12", "prog"], ["--memory", "lots", "prog"], ["--pids", "0", "prog"], ["--tmpfs-size", "x", "prog"]] {
            #expect(throws: ValidationError.self, "\(bad)") { try RunOptions.quick(bad)?.validate() ?? Run.parse(bad).options.validate() }
        }
    }
}
