import Foundation
@testable import Sentry

/// Runs guests natively and in the sandbox, and finds the pieces tests need.
enum Harness {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let images = packageRoot.appendingPathComponent("images")

    static func image(_ name: String) -> String { images.appendingPathComponent("bin/\(name)").path }

    /// The `sentry` executable built next to the test bundle.
    static let sentry: String = {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [here, here.deletingLastPathComponent()] {
            let c = dir.appendingPathComponent("sentry").path
            if FileManager.default.isExecutableFile(atPath: c) { return c }
        }
        return packageRoot.appendingPathComponent(".build/debug/sentry").path
    }()

    /// Builds images/ once per test process (make is a no-op when up to date).
    static let imagesBuilt: Bool = {
        let r = run("/usr/bin/make", ["-s", "-C", images.path])
        if r.status != 0 { print("images/ failed to build:\n\(r.stderr)") }
        return r.status == 0
    }()

    /// A fresh directory for one test's files; the caller removes it.
    static func scratchDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sentry-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    struct Result: Equatable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ exe: String, _ args: [String], env: [String: String]? = nil, stdin: String? = nil) -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        if let env { p.environment = env }
        guard let dir = try? scratchDirectory() else { return Result(status: -1, stdout: "", stderr: "no scratch directory") }
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardOutput = try? FileHandle(forWritingTo: out)
        p.standardError = try? FileHandle(forWritingTo: err)
        if let stdin {
            let inp = dir.appendingPathComponent("in")
            FileManager.default.createFile(atPath: inp.path, contents: Data(stdin.utf8))
            p.standardInput = try? FileHandle(forReadingFrom: inp)
        }
        do { try p.run() } catch { return Result(status: -1, stdout: "", stderr: "\(error)") }
        p.waitUntilExit()
        let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        return Result(status: status,
                      stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// The guest under `sentry run --platform P`.
    static func sandboxed(_ platform: PlatformKind, _ exe: String, _ args: [String] = [], extra: [String] = [],
                          env: [String: String]? = nil, stdin: String? = nil) -> Result {
        run(sentry, ["run", "--platform", platform.rawValue] + extra + [exe] + args, env: env, stdin: stdin)
    }

    /// Platforms to test here; the others are printed with the reason.
    static let platforms: [PlatformKind] = {
        var out: [PlatformKind] = []
        for s in PlatformKind.survey() {
            if s.available { out.append(s.kind) } else { print("skipping platform \(s.kind.rawValue): \(s.reason)") }
        }
        return out
    }()
}
