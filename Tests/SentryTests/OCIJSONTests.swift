import Foundation
import Glibc
import Testing
@testable import Sentry
@testable import sentry

/// JSONValue, which took JSONSerialization's place when Foundation left the
/// sentry: what it writes is what JSONSerialization wrote (with "/" not
/// escaped, as the runtime printed it), and what the OCI readers make of a
/// number is what they made of JSONSerialization's NSNumber. Foundation is
/// the reference here, in the test binary only.
@Suite struct OCIJSONTests {
    /// The value as JSONSerialization's objects.
    static func foundation(_ v: JSONValue) -> Any {
        switch v {
        case .null: return NSNull()
        case .bool(let b): return b
        case .int(let i): return NSNumber(value: i)
        case .uint(let u): return NSNumber(value: u)
        case .double(let d): return NSNumber(value: d)
        case .string(let s): return s
        case .array(let a): return a.map(foundation)
        case .object(let o): return o.mapValues(foundation)
        }
    }

    static func serialized(_ v: JSONValue, pretty: Bool) throws -> String {
        let d = try JSONSerialization.data(withJSONObject: foundation(v), options: pretty ? [.prettyPrinted, .sortedKeys, .fragmentsAllowed] : [.sortedKeys, .fragmentsAllowed])
        return String(decoding: d, as: UTF8.self).replacingOccurrences(of: "\\/", with: "/")
    }

    @Test func writesWhatJSONSerializationWrote() throws {
        var state = OCIState(id: "c1", bundle: "/run/bundles/c1")
        state.pid = 4242
        state.pidStartTime = UInt64.max
        state.rootfs = "/run/bundles/c1/rootfs"
        state.annotations = ["io.kubernetes.cri.container-type": "container", "dev.sentry.platform": "systrap", "empty": ""]
        let docs: [JSONValue] = [
            OCICommand.defaultSpec(rootless: false), OCICommand.defaultSpec(rootless: true),
            state.stateJSON(root: "/nonexistent"),
            .array([state.stateJSON(root: "/nonexistent"), state.stateJSON(root: "/nonexistent")]),
            ["level": "error", "msg": "a \"quoted\" path/with\\slashes\n\ttab \u{1}\u{1f} é 😀", "time": .string(OCIState.now())],
            .array([1, 2, 3]), [], [:], ["a": [], "b": [:], "c": [[:], []]],
            ["n": .null, "t": true, "f": false, "i": .int(Int64.min), "u": .uint(UInt64.max), "d": .double(1.5), "w": .double(2)],
            "a/b\"c", 7, .null,
        ]
        for d in docs {
            for pretty in [false, true] {
                #expect(d.encoded(pretty: pretty) == (try Self.serialized(d, pretty: pretty)), "\(d)")
            }
        }
        // The one difference: keys sort by their bytes (Go's order for a map,
        // as runc writes annotations), where Foundation's compare folded case
        // and read digits as numbers; the runtime's own keys sort the same.
        #expect((["b": 1, "B": 2, "a10": 3, "a9": 4] as JSONValue).encoded() == #"{"B":2,"a10":3,"a9":4,"b":1}"#)
        // And the escapes JSONSerialization wrote short, \b and \f, are \u00XX, the same string to a reader.
        #expect(JSONValue.quote("\u{8}\u{c}") == #""\u0008\u000c""#)
    }

    /// What the config readers make of each kind of JSON number, and of the
    /// values that are not numbers, as they did with NSNumber's type codes.
    @Test func numbersReadAsBefore() throws {
        func field(_ text: String) throws -> JSONObject {
            JSONObject(try JSONValue.parse(Data(#"{"k": \#(text)}"#.utf8)).objectValue!, at: "x")
        }
        /// Each accessor's answer, nil where it refused.
        struct Read { var int: Int?; var u64: UInt64?; var u32: UInt32? }
        func read(_ text: String) throws -> Read {
            let f = try field(text)
            return Read(int: try? f.int("k"), u64: try? f.uint64("k"), u32: try? f.uint32("k"))
        }
        for (text, i, u) in [("1", 1, 1), ("-1", -1, nil), ("1.0", 1, 1), ("1e2", 100, 100), ("0", 0, 0),
                             ("9223372036854775807", Int.max, UInt64(Int.max)), ("-9223372036854775808", Int.min, nil),
                             ("1.5", nil, nil), ("0.5", nil, nil), ("true", nil, nil), ("false", nil, nil), ("\"1\"", nil, nil), ("[1]", nil, nil),
                             ("4294967296", 4294967296, 4294967296),
                             // An rlimit's unlimited, and past 2^64 as a double: unlimited, as before.
                             ("9223372036854775808", nil, 9223372036854775808), ("18446744073709551615", nil, UInt64.max),
                             ("1.8446744073709552e19", nil, UInt64.max), ("1e300", nil, UInt64.max)] as [(String, Int?, UInt64?)] {
            let r = try read(text)
            #expect(r.int == i && r.u64 == u, "\(text): \(String(describing: r.int)) \(String(describing: r.u64))")
            #expect(r.u32 == i.flatMap { UInt32(exactly: $0) }, "\(text)")
        }
        #expect(try field("true").bool("k") == true)
        #expect(throws: OCIError.self) { try field("1").bool("k") }
        #expect(try field("null").int("k") == nil, "null is absent")
        #expect(throws: OCIError.self) { try field("1").string("k") }
        #expect(try field("[\"a\", \"b\"]").strings("k") == ["a", "b"])
        #expect(throws: OCIError.self) { try field("[\"a\", 1]").strings("k") }
        // JSONSerialization's reading of the same texts, for the kinds: an integer, above Int64, a double.
        for (text, expected) in [("1", JSONValue.int(1)), ("18446744073709551615", .uint(UInt64.max)), ("0.5", .double(0.5)), ("-9223372036854775809", .double(-9223372036854775809.0))] {
            #expect(try JSONValue.parse(Data(text.utf8)) == expected)
            let n = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) as! NSNumber
            let value: Double
            switch expected {
            case .int(let i): value = Double(i); #expect(String(cString: n.objCType) != "d")
            case .uint(let u): value = Double(u); #expect(String(cString: n.objCType) == "Q")
            case .double(let d): value = d; #expect(String(cString: n.objCType) == "d")
            default: value = .nan
            }
            #expect(n.doubleValue == value, "\(text)")
        }
    }

    /// What is not JSON is an OCIError naming the file, never a trap; so is
    /// nesting past the decoder's depth.
    @Test func malformedDocumentsAreRefused() throws {
        for bad in ["", "{", "{\"a\":}", "nul", "[1,]", "{\"a\" 1}", "\"\\x\"", "[1] 2", String(repeating: "[", count: 100_000)] {
            #expect(throws: OCIError.self, "\(bad.prefix(20))") { try OCIConfig.parse(Data(bad.utf8), bundle: "/b") }
        }
        #expect(throws: OCIError.self) { try OCIConfig.parse(Data("[]".utf8), bundle: "/b") }
        #expect(throws: OCIError.self) { try OCIConfig.process(Data("1".utf8)) }
        do { _ = try OCIConfig.parse(Data("{\"ociVersion\": \"1.0.2\", \"root\": ".utf8), bundle: "/b") } catch {
            #expect(error.description == "config.json: not valid JSON")
        }
        // A key given twice keeps its first value (README, Known gaps: JSONSerialization kept the last).
        #expect(try JSONValue.parse(Data(#"{"a": 1, "a": 2}"#.utf8)) == ["a": 1])
        let deep = String(repeating: "[", count: 400) + String(repeating: "]", count: 400)
        #expect((try? JSONValue.parse(Data(deep.utf8))) != nil, "400 levels parse")
    }

    @Test func timestampsAreRFC3339() {
        let s = UTCTimestamp.now(nanoseconds: false), ns = UTCTimestamp.now(nanoseconds: true)
        // ISO8601DateFormatter's default form, which checkpoint manifests carry.
        let f = ISO8601DateFormatter()
        #expect(f.date(from: s) != nil && s.count == 20 && s.hasSuffix("Z"), "\(s)")
        #expect(ns.count == 30 && ns.hasPrefix(String(s.prefix(10))) && ns.hasSuffix("Z"), "\(ns)")
        #expect(abs(f.date(from: s)!.timeIntervalSinceNow) < 5)
    }

    @Test func trimming() {
        #expect(" \t\n a b \r\n\u{2028}".trimmingWhitespace() == "a b")
        #expect("\n x \n\u{85}".trimmingNewlines() == " x ")
        #expect("\n\n".trimmingNewlines() == "" && "".trimmingWhitespace() == "")
        for s in ["  a\n", "\u{a0}x\u{3000}", "\n\r\u{b}\u{c}y\u{2029}"] {
            #expect(s.trimmingWhitespace() == s.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(s.trimmingNewlines() == s.trimmingCharacters(in: .newlines))
        }
    }
}
