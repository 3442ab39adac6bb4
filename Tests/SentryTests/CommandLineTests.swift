import ArgumentParser
import Testing
@testable import sentry

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
    ]

    @Test(arguments: accepted)
    func plainCommandLinesParseAsArgumentParserDoes(_ args: [String]) throws {
        let quick = try #require(RunOptions.quick(args))
        let full = try Run.parse(args)
        #expect(quick == full.options)
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
}
