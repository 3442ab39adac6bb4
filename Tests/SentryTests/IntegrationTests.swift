import Foundation
import Testing
@testable import Sentry

/// Guests from images/ on every available platform, compared with the same
/// program run natively.
@Suite(.serialized) struct IntegrationTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    static let compared: [(String, [String])] = [
        ("hello", []), ("hello-pie", []), ("hello-musl", []), ("args", ["one", "two words", ""]),
        ("fileio", []), ("memory", []), ("efault", []), ("enosys", []),
    ]

    @Test(arguments: Harness.platforms)
    func guestsMatchNative(_ platform: Harness.TestPlatform) {
        let env = ["SENTRY_TEST_VAR": "value 1", "PATH": "/usr/bin:/bin"]
        for (name, args) in Self.compared {
            let native = Harness.run(Harness.image(name), args, env: env)
            let boxed = Harness.sandboxed(platform, Harness.image(name), args, env: env)
            #expect(boxed == native, "\(name) on \(platform.rawValue)")
        }
    }

    @Test(arguments: Harness.platforms)
    func helloPrintsItsExpectedOutput(_ platform: Harness.TestPlatform) throws {
        let expected = try String(contentsOf: Harness.images.appendingPathComponent("expected/hello.out"), encoding: .utf8)
        let r = Harness.sandboxed(platform, Harness.image("hello"))
        #expect(r.status == 0 && r.stdout == expected)
    }

    @Test(arguments: Harness.platforms)
    func badPointerIsEFAULTAndUnknownSyscallENOSYS(_ platform: Harness.TestPlatform) {
        let f = Harness.sandboxed(platform, Harness.image("efault"))
        #expect(f.stdout.contains("write(bad pointer) = -1 errno=Bad address"))
        let n = Harness.sandboxed(platform, Harness.image("enosys"), extra: ["--strace"])
        #expect(n.stdout.contains("errno=Function not implemented"))
        #expect(n.stderr.contains("syscall_0x1f3(") && n.stderr.contains("= -1 ENOSYS (Function not implemented)"))
    }

    @Test(arguments: Harness.platforms)
    func segfaultIsReportedLikeAShell(_ platform: Harness.TestPlatform) {
        let r = Harness.sandboxed(platform, Harness.image("segv"))
        #expect(r.status == 139)
        #expect(r.stderr == "Segmentation fault\n")
    }

    @Test(arguments: Harness.platforms)
    func busyboxAppletsMatchNative(_ platform: Harness.TestPlatform) throws {
        let busybox = "/bin/busybox"
        try #require(FileManager.default.isExecutableFile(atPath: busybox), "busybox-static is not installed")
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("input.txt").path
        let lines = (1...40).map { "line \($0 % 7) \(String(repeating: "xy", count: $0 % 5))" }
        try (lines.joined(separator: "\n") + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let cases: [[String]] = [
            ["echo", "hello", "sandbox"], ["cat", input], ["head", "-n", "5", input], ["tail", "-n", "3", input],
            ["wc", input], ["sort", input], ["sort", "-r", "-u", input], ["uniq", "-c", input],
            ["tr", "a-z", "A-Z"], ["od", "-c", input], ["md5sum", input], ["sha256sum", input],
            ["basename", "/a/b/c.txt", ".txt"], ["seq", "1", "3", "20"], ["expr", "6", "*", "7"],
            ["expr", "1", "=", "2"], ["cat", "/nonexistent"],
        ]
        for c in cases {
            let stdin = c[0] == "tr" ? "mixed Case text\n" : nil
            let native = Harness.run(busybox, c, stdin: stdin)
            let boxed = Harness.sandboxed(platform, busybox, c, stdin: stdin)
            #expect(boxed == native, "busybox \(c.joined(separator: " ")) on \(platform.rawValue)")
        }
    }

    @Test func badInputGetsOneLineAndADistinctStatus() throws {
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let hello = try Data(contentsOf: URL(fileURLWithPath: Harness.image("hello")))
        let truncated = dir.appendingPathComponent("truncated").path
        try hello.prefix(200).write(to: URL(fileURLWithPath: truncated))
        let text = dir.appendingPathComponent("text").path
        try "echo hi\n".write(toFile: text, atomically: true, encoding: .utf8)
        chmod(text, 0o755)
        let script = dir.appendingPathComponent("script").path   // mode 0644: execve's EACCES
        try "#!/bin/sh\necho hi\n".write(toFile: script, atomically: true, encoding: .utf8)
        // /bin/true naming a loader that does not exist (same length, so the headers stay valid).
        var noLoader = try Data(contentsOf: URL(fileURLWithPath: "/bin/true"))
        let ld = Data("/lib64/ld-linux-x86-64.so.2".utf8)
        if let r = noLoader.range(of: ld) { noLoader.replaceSubrange(r, with: Data("/lib64/ld-nonexistent-xx.so".utf8)) }
        let noLoaderPath = dir.appendingPathComponent("no-loader").path
        try noLoader.write(to: URL(fileURLWithPath: noLoaderPath))
        chmod(noLoaderPath, 0o755)
        var arm = hello
        arm[18] = 183  // e_machine = EM_AARCH64
        let armPath = dir.appendingPathComponent("arm").path
        try arm.write(to: URL(fileURLWithPath: armPath))
        chmod(truncated, 0o755)
        chmod(armPath, 0o755)

        let cases: [([String], Int32, String)] = [
            (["run", "/no/such/program"], 66, "no such file"),
            (["run", text], 65, "not an ELF executable"),
            (["run", truncated], 67, "truncated ELF file"),
            (["run", armPath], 68, "not an x86-64 executable"),
            (["run", script], 66, "Permission denied"),
            (["run", noLoaderPath], 69, "its interpreter /lib64/ld-nonexistent-xx.so: no such file"),
            (["run", "--no-such-flag", "x"], 64, "Error:"),
            (["run", "--platform", "nonsense", Harness.image("hello")], 64, "unknown platform"),
            (["run", "--strace-filter", "openat,notacall", Harness.image("hello")], 64, "unknown syscall 'notacall'"),
        ]
        for (args, status, message) in cases {
            let r = Harness.run(Harness.sentry, args)
            #expect(r.status == status, "\(args)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
        let distinct = Set(cases.map(\.1))
        #expect(distinct.count == 6)
    }

    /// The syscall names --strace prints match real strace's for the same
    /// image, in order. The one allowed difference: strace sees the execve
    /// that starts the program; the sentry loads the image itself.
    @Test(arguments: Harness.platforms)
    func traceNamesMatchRealStrace(_ platform: Harness.TestPlatform) throws {
        let strace = "/usr/bin/strace"
        try #require(FileManager.default.isExecutableFile(atPath: strace), "strace is not installed")
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let native = dir.appendingPathComponent("native").path, ours = dir.appendingPathComponent("ours").path
        for img in ["hello", "fileio"] {
            _ = Harness.run(strace, ["-f", "-o", native, Harness.image(img)])
            _ = Harness.sandboxed(platform, Harness.image(img), extra: ["--strace", "-o", ours])
            let expected = try names(native).filter { $0 != "execve" }
            let got = try names(ours)
            #expect(got == expected, "\(img): sentry \(got) vs strace \(expected)")
        }
    }

    @Test(arguments: Harness.platforms)
    func straceFilterAndJSON(_ platform: Harness.TestPlatform) throws {
        let r = Harness.sandboxed(platform, "/bin/busybox", ["cat", "/etc/os-release"], extra: ["--strace", "--strace-filter", "openat,read"])
        let lines = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("+++") }
        #expect(!lines.isEmpty && lines.allSatisfy { $0.hasPrefix("openat(") || $0.hasPrefix("read(") })
        #expect(r.stderr.contains("openat(AT_FDCWD, \"/etc/os-release\", O_RDONLY) = 3"))
        let j = Harness.sandboxed(platform, Harness.image("hello"), extra: ["--strace-json"])
        for line in j.stderr.split(separator: "\n") {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(obj != nil)
        }
        #expect(j.stderr.contains("\"syscall\":\"write\""))
    }

    private func names(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line -> String? in
            var l = Substring(line)
            if l.hasPrefix("[pid") { l = l.drop { $0 != "]" }.dropFirst().drop { $0 == " " } }
            else if l.first?.isNumber == true { l = l.drop { $0 != " " }.drop { $0 == " " } }
            guard let paren = l.firstIndex(of: "("), !l.hasPrefix("---"), !l.hasPrefix("+++") else { return nil }
            return String(l[..<paren])
        }
    }
}
