import Foundation
import Testing
@testable import Sentry

/// Names, link targets, argv and environment strings are bytes: the
/// ByteString codec round-trips every byte string, and the bytenames guest
/// (file calls on names with bytes 0x80-0xff and invalid UTF-8, then an exec
/// of itself with such argv and envp) gives what it gives natively, in
/// tmpfs, in an rw bind and under --overlay.
@Suite(.serialized) struct ByteNameTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    static let samples: [[UInt8]] = [
        [], Array("plain/ascii".utf8), Array("café".utf8), [0x61, 0x62, 0x63, 0xff], [0x80], [0x78, 0xc3],
        [0x78, 0xe2, 0x82, 0x79], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80],
        [0xf4, 0x8f, 0xbf, 0xbf], [0xf4, 0x8f, 0xbe, 0x80], [0xf4, 0x8f, 0xbd, 0xbf], [0xef, 0xbf, 0xbd],
        [0x65, 0xcc, 0x81], [0xc3, 0xa9], [0xf0, 0x9f, 0x98, 0x80], [0xf0, 0x9f, 0x98], Array(0x80...0xff),
    ]

    @Test func codecRoundTripsBytes() {
        for b in Self.samples {
            #expect(String(rawBytes: b).rawBytes == b, "\(b)")
            #expect(ByteString.encode(String(rawBytes: b)) == b, "\(b) (slow path)")
        }
        // Every two-byte string, valid or not.
        for x in 0...0xff {
            for y in 0...0xff where x != 0 && y != 0 {
                let b = [UInt8(x), UInt8(y)]
                #expect(String(rawBytes: b).rawBytes == b)
            }
        }
    }

    /// The CLI's path (host memory, a concrete buffer type) and a collection
    /// without contiguous storage decode as an array does.
    @Test func everyCollectionDecodesAlike() {
        for b in Self.samples {
            let fromArray = String(rawBytes: b)
            #expect(b.withUnsafeBytes { String(rawBytes: $0) } == fromArray, "\(b)")
            #expect(String(rawBytes: b.lazy.map { $0 }) == fromArray, "\(b) (not contiguous)")
            #expect(String(rawBytes: b[...]) == fromArray, "\(b) (slice)")
        }
    }

    @Test func codecKeepsValidUTF8AndEscapesTheRest() {
        #expect(String(rawBytes: Array("café ☃ 😀".utf8)) == "café ☃ 😀")
        #expect(String(rawBytes: [0x61, 0xff]).unicodeScalars.map(\.value) == [0x61, 0x10FFFF])
        // A truncated sequence is escaped byte by byte, and what follows decodes again.
        #expect(String(rawBytes: [0xe2, 0x82, 0x79]).unicodeScalars.map(\.value) == [0x10FFE2, 0x10FF82, 0x79])
        // The escape range's own encoding is escaped, so it cannot be taken for an escape.
        #expect(String(rawBytes: [0xf4, 0x8f, 0xbf, 0xbf]).unicodeScalars.count == 4)
        #expect(String(rawBytes: [0xf4, 0x8f, 0xbd, 0xbf]).unicodeScalars.map(\.value) == [0x10FF7F])
        #expect("abc".hostCString == [0x61, 0x62, 0x63, 0])
        // Paths split at every slash byte, even one a combining mark follows.
        #expect("/a/\u{301}b//c/".pathComponents == ["a", "\u{301}b", "c"])
        #expect("/\u{301}".startsWithSlash && !"/\u{301}".endsWithSlash && "a/".endsWithSlash)
        // Keys compare bytes, not canonical equivalence.
        #expect(ExactName("e\u{301}") != ExactName("\u{e9}"))
        #expect(Set([ExactName("e\u{301}"), ExactName("\u{e9}"), ExactName("\u{e9}")]).count == 2)
    }

    static let guest = Harness.image("bytenames")

    @Test(arguments: Harness.platforms)
    func byteNamesInTmpfsMatchNative(_ platform: Harness.TestPlatform) throws {
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let native = Harness.run(Self.guest, [scratch.path])
        #expect(native.status == 0, "natively: \(native.stderr)")
        #expect(native.stdout.contains("child status 0"))
        #expect(Harness.sandboxed(platform, "/bin/busybox", FilesystemTests.inFreshDirectory("/tmp", [Self.guest])) == native,
                "bytenames in /tmp on \(platform.rawValue)")
    }

    @Test(arguments: Harness.platforms)
    func byteNamesInRWBindMatchNative(_ platform: Harness.TestPlatform) throws {
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let host = scratch.appendingPathComponent("native").path, bound = scratch.appendingPathComponent("bound").path
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: bound, withIntermediateDirectories: true)
        let native = Harness.run(Self.guest, [host])
        #expect(native.status == 0, "natively: \(native.stderr)")
        #expect(Harness.sandboxed(platform, Self.guest, ["/work"], extra: ["--bind", "\(bound):/work:rw"]) == native,
                "bytenames in an rw bind on \(platform.rawValue)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: bound)) == [])
    }

    /// Host files with byte names below the overlay: listed, shadowed and whited out by their bytes.
    @Test(arguments: Harness.platforms)
    func byteNamesUnderOverlayMatchNative(_ platform: Harness.TestPlatform) throws {
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let host = scratch.appendingPathComponent("native").path, lower = scratch.appendingPathComponent("lower").path
        for dir in [host, lower] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for name: [UInt8] in [[0x6c, 0xff], [0x65, 0xcc, 0x81], [0xf4, 0x8f, 0xbe, 0x80]] {
                let fd = open((dir + "/").hostCString.dropLast() + name.map { CChar(bitPattern: $0) } + [0], O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
                #expect(fd >= 0)
                close(fd)
            }
        }
        let native = Harness.run(Self.guest, [host])
        #expect(native.status == 0, "natively: \(native.stderr)")
        #expect(Harness.sandboxed(platform, Self.guest, [lower], extra: ["--overlay"]) == native,
                "bytenames under --overlay on \(platform.rawValue)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: lower).count) == 3, "the overlay wrote to the host")
    }

    /// The first process's argv and environment come from the CLI as bytes.
    @Test(arguments: Harness.platforms)
    func commandLineBytesReachTheGuest(_ platform: Harness.TestPlatform) {
        let script = #"exec env "$(printf 'BYTES1=a\377\303')" "$@" --child "$(printf 'a\377')" "$(printf '\355\240\200\364\217\276\200')""#
        let native = Harness.run("/bin/sh", ["-c", script, "sh", Self.guest])
        #expect(native.status == 0 && native.stdout.contains("argv         a\\xff"), "natively: \(native)")
        let boxed = Harness.run("/bin/sh", ["-c", script, "sh", Harness.sentry, "run"] + platform.arguments + [Self.guest])
        #expect(boxed == native, "on \(platform.rawValue)")
    }
}
