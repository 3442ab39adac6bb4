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

    /// What is not JSON is an OCIError naming the file and the byte, never a
    /// trap; so is nesting past the parser's depth.
    @Test func malformedDocumentsAreRefused() throws {
        for bad in ["", "{", "{\"a\":}", "nul", "[1,]", "{\"a\" 1}", "\"\\x\"", "[1] 2", String(repeating: "[", count: 100_000)] {
            #expect(throws: OCIError.self, "\(bad.prefix(20))") { try OCIConfig.parse(Data(bad.utf8), bundle: "/b") }
        }
        #expect(throws: OCIError.self) { try OCIConfig.parse(Data("[]".utf8), bundle: "/b") }
        #expect(throws: OCIError.self) { try OCIConfig.process(Data("1".utf8)) }
        do { _ = try OCIConfig.parse(Data("{\"ociVersion\": \"1.0.2\", \"root\": ".utf8), bundle: "/b") } catch {
            #expect(error.description == "config.json: not valid JSON: unexpected end of input at byte 32")
        }
        do { _ = try OCIConfig.parse(Data("{\"ociVersion\": \"1.0.2\",\n\"root\": {\"path\": \"r\",}}".utf8), bundle: "/b") } catch {
            #expect(error.description == "config.json: not valid JSON: unexpected '}' at byte 45")
        }
    }

    static func parse(_ text: String) throws(JSONParseError) -> JSONValue { try JSONValue.parse(Array(text.utf8)) }

    /// The error for `bytes`, nil when they parse.
    static func failure(_ bytes: [UInt8]) -> JSONParseError? {
        do { _ = try JSONValue.parse(bytes); return nil } catch { return error }
    }
    static func failure(_ text: String) -> JSONParseError? { failure(Array(text.utf8)) }

    /// RFC 8259 as Go's encoding/json (runc's reader) takes it: each rule
    /// accepted where Go accepts it, refused with the byte at fault where Go
    /// refuses it.
    @Test func grammarIsGoStrict() throws {
        let accepted: [(String, JSONValue)] = [
            ("null", .null), ("true", true), ("false", false), ("\"\"", ""), ("[]", []), ("{}", [:]),
            (" \t\r\n[ 1 ,\t2 ]\r\n ", [1, 2]), ("{ \"a\" : [ ] , \"b\" : { } }", ["a": [], "b": [:]]),
            ("[null,true,false,\"x\",{\"k\":[0]}]", [.null, true, false, "x", ["k": [0]]]),
            // A key given twice: the last value, as Go's decoder keeps.
            (#"{"a": 1, "a": 2}"#, ["a": 2]), (#"{"a": {"x": 1}, "b": 0, "a": [3]}"#, ["a": [3], "b": 0]),
            // Keys are compared as decoded.
            (#"{"a": 1, "\u0061": 2}"#, ["a": 2]),
        ]
        for (text, value) in accepted {
            #expect(try Self.parse(text) == value, "\(text)")
        }
        let refused: [(String, Int, String)] = [
            ("", 0, "unexpected end of input"), ("   ", 3, "unexpected end of input"),
            ("[1,]", 3, "unexpected ']'"), ("{\"a\":1,}", 7, "unexpected '}'"), ("[,1]", 1, "unexpected ','"),
            ("[1 2]", 3, "unexpected '2'"), ("{\"a\" 1}", 5, "unexpected '1'"), ("{1:2}", 1, "unexpected '1'"),
            ("{'a':1}", 1, "unexpected '''"), ("{\"a\":1", 6, "unexpected end of input"), ("[1", 2, "unexpected end of input"),
            ("1 2", 2, "unexpected '2' after the document"), ("{}x", 2, "unexpected 'x' after the document"),
            ("[1]]", 3, "unexpected ']' after the document"),
            // Whitespace is only space, tab, LF and CR.
            ("\u{0B}1", 0, "unexpected byte 0xb"), ("1\u{0C}", 1, "unexpected byte 0xc after the document"),
            ("\u{A0}1", 0, "unexpected byte 0xc2"), ("\u{FEFF}{}", 0, "unexpected byte 0xef"),
            // No comments, NaN, infinities, bare words or single quotes.
            ("[1 /* c */]", 3, "unexpected '/'"), ("// c\n1", 0, "unexpected '/'"), ("NaN", 0, "unexpected 'N'"),
            ("Infinity", 0, "unexpected 'I'"), ("-Infinity", 1, "unexpected 'I' in a number starting at byte 0"),
            ("nul", 3, "unexpected end of input in a literal starting at byte 0"),
            ("tru e", 3, "unexpected ' ' in a literal starting at byte 0"), ("True", 0, "unexpected 'T'"),
            ("nulll", 4, "unexpected 'l' after the document"),
            // Numbers: no '+', leading zero, bare '.', empty fraction or exponent, hex.
            ("+1", 0, "unexpected '+'"), ("01", 1, "unexpected '1' after a leading zero"),
            ("-01", 2, "unexpected '1' after a leading zero"), ("00", 1, "unexpected '0' after a leading zero"),
            (".5", 0, "unexpected '.'"), ("1.", 2, "unexpected end of input in a number starting at byte 0"),
            ("1.e2", 2, "unexpected 'e' in a number starting at byte 0"), ("1e", 2, "unexpected end of input in a number starting at byte 0"),
            ("1e+", 3, "unexpected end of input in a number starting at byte 0"), ("-", 1, "unexpected end of input in a number starting at byte 0"),
            ("- 1", 1, "unexpected ' ' in a number starting at byte 0"), ("0x10", 1, "unexpected 'x' after the document"),
            ("[1e400]", 1, "number 1e400 out of range"), ("-1e400", 0, "number -1e400 out of range"),
            // Strings: closed, escapes from the list only, no raw control characters.
            ("\"abc", 4, "unexpected end of input in a string starting at byte 0"),
            ("\"a\\", 3, "unexpected end of input in a string starting at byte 0"), ("[\"\\u00", 6, "unexpected end of input in a string starting at byte 1"),
            ("\"\\x\"", 1, "invalid escape '\\x'"), ("\"\\'\"", 1, "invalid escape '\\''"), ("\"\\U0041\"", 1, "invalid escape '\\U'"), ("\"\\\n\"", 1, "invalid escape of byte 0xa"),
            ("\"\\u12\"", 5, "invalid \\u escape: unexpected '\"'"), ("\"\\u12g4\"", 5, "invalid \\u escape: unexpected 'g'"),
            ("\"a\tb\"", 2, "control character byte 0x9 in a string"), ("\"a\nb\"", 2, "control character byte 0xa in a string"),
            ("\"\u{0}\"", 1, "control character byte 0x0 in a string"), ("\"\u{1F}\"", 1, "control character byte 0x1f in a string"),
        ]
        for (text, offset, reason) in refused {
            let e = Self.failure(text)
            #expect(e == JSONParseError(offset: offset, reason: reason), "\(text.debugDescription): \(String(describing: e))")
        }
        // DEL and every byte from 0x20 up are taken as they are.
        #expect(try Self.parse("\"\u{7F} ~\"") == "\u{7F} ~")
        // An error stays one line, whatever the byte at fault.
        #expect(Self.failure("[1\n\n\n,,]")?.description == "not valid JSON: unexpected ',' at byte 6")
        #expect(Self.failure("\"\u{1B}[31m\"")?.description == "not valid JSON: control character byte 0x1b in a string at byte 1")
    }

    /// Escapes and UTF-8 decoded as Go's encoding/json decodes them: an
    /// unpaired surrogate escape and each byte that starts no valid UTF-8
    /// sequence become U+FFFD.
    @Test func stringsDecodeAsGoDoes() throws {
        let escapes: [(String, String)] = [
            (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{8}\u{C}\n\r\t"), (#""\u0041\u00e9\u20AC""#, "Aé€"),
            (#""a\u0000b""#, "a\u{0}b"), (#""\u001f\u007F""#, "\u{1F}\u{7F}"),
            // Surrogate pairs joined; an unpaired one is U+FFFD and what follows is read on its own.
            (#""\ud83d\ude00""#, "😀"), (#""\uD83D\uDE00x""#, "😀x"), (#""\udbff\udfff""#, "\u{10FFFF}"),
            (#""\ud800""#, "\u{FFFD}"), (#""\udc00""#, "\u{FFFD}"), (#""\ud800x""#, "\u{FFFD}x"),
            (#""\ud800\ud83d\ude00""#, "\u{FFFD}😀"), (#""\ude00\ud83d""#, "\u{FFFD}\u{FFFD}"),
            (#""\ud800\u0041""#, "\u{FFFD}A"), (#""\ud800\n""#, "\u{FFFD}\n"),
            ("\"é😀\u{10FFFF}\"", "é😀\u{10FFFF}"),
        ]
        for (text, value) in escapes {
            #expect(try Self.parse(text) == .string(value), "\(text)")
        }
        let f = "\u{FFFD}"
        let utf8: [([UInt8], String)] = [
            ([0xFF], f), ([0x80], f), ([0xC0, 0xAF], f + f), ([0xC1, 0xBF], f + f), // overlong two-byte forms
            ([0xE2, 0x82], f + f), ([0xE2, 0x82, 0x41], f + f + "A"), ([0xE2, 0x82, 0xAC], "€"),
            ([0xE0, 0x80, 0xAF], f + f + f), ([0xED, 0xA0, 0x80], f + f + f), // overlong, a surrogate
            ([0xF4, 0x90, 0x80, 0x80], f + f + f + f), ([0xF5, 0x80], f + f), // past U+10FFFF
            ([0xF0, 0x9F, 0x98, 0x80], "😀"), ([0xF0, 0x9F, 0x98], f + f + f), ([0x61, 0xFE, 0x62], "a" + f + "b"),
        ]
        for (bytes, value) in utf8 {
            #expect(try JSONValue.parse([0x22] + bytes + [0x22]) == .string(value), "\(bytes)")
            // The same in a key.
            #expect(try JSONValue.parse(Array("{\"".utf8) + bytes + Array("\":1}".utf8)) == .object([value: 1]), "\(bytes)")
        }
        // A sequence cut by the closing quote: each byte before it replaced, the string closed.
        #expect(try JSONValue.parse([0x5B, 0x22, 0xF0, 0x9F, 0x22, 0x5D]) == [.string(f + f)])
    }

    /// Numbers at each kind's edges: Int64 both ends, UInt64's top, and
    /// past them a Double; whole numbers by value, however spelled.
    @Test func numbersAtTheirBoundaries() throws {
        let cases: [(String, JSONValue)] = [
            ("0", .int(0)), ("-0", .int(0)), ("-0.0", .int(0)), ("0e5", .int(0)), ("0.000", .int(0)),
            ("1.0", .int(1)), ("1e2", .int(100)), ("1E2", .int(100)), ("1e+2", .int(100)), ("10e-1", .int(1)), ("0.1e1", .int(1)),
            ("1.50e1", .int(15)), ("100e-2", .int(1)), ("12345678901234567890e-19", .double(1.234567890123456789)),
            ("9223372036854775807", .int(.max)), ("9223372036854775807.0", .int(.max)), ("922337203685477580.7e1", .int(.max)),
            ("9223372036854775808", .uint(1 << 63)), ("-9223372036854775808", .int(.min)), ("-9223372036854775808.0", .int(.min)),
            ("-9223372036854775809", .double(-9223372036854775809.0)), ("18446744073709551615", .uint(.max)),
            ("1844674407370955161.5e1", .uint(.max)), ("18446744073709551616", .double(18446744073709551616.0)),
            ("-18446744073709551615", .double(-18446744073709551615.0)), ("1.8446744073709552e19", .double(18446744073709551616.0)),
            ("1e19", .uint(10_000_000_000_000_000_000)), ("1e20", .double(1e20)), ("100000000000000000000e-2", .int(1_000_000_000_000_000_000)),
            ("0.00000000000000000000000000000001e32", .int(1)), ("9007199254740993", .int(9_007_199_254_740_993)),
            ("9007199254740993.0", .int(9_007_199_254_740_993)), ("9007199254740993.5", .double(9007199254740994.0)),
            ("1.5", .double(1.5)), ("-0.5", .double(-0.5)), ("1e300", .double(1e300)), ("-1e300", .double(-1e300)),
            ("1e-300", .double(1e-300)), ("1.7976931348623157e308", .double(.greatestFiniteMagnitude)),
            ("4.9e-324", .double(.leastNonzeroMagnitude)),
            // Too small for a Double is 0 (Go reads it so); too large is refused (grammarIsGoStrict).
            ("1e-400", .double(0)), ("-1e-400", .double(-0.0)), ("1e-99999999999999999999", .double(0)),
        ]
        for (text, value) in cases {
            #expect(try Self.parse(text) == value, "\(text)")
        }
        #expect(Self.failure("1e99999999999999999999")?.reason == "number 1e99999999999999999999 out of range")
        #expect(Self.failure("1" + String(repeating: "0", count: 400))?.reason.hasSuffix(" out of range") == true)
        #expect(try Self.parse("0." + String(repeating: "0", count: 400) + "1e401") == .int(1))
    }

    /// Nesting is refused past 512 levels with an error, however deep the
    /// input goes: each level is a frame of the reader's stack.
    @Test func nestingIsLimited() throws {
        let limit = 512
        func nested(_ n: Int, _ open: String, _ close: String) -> String {
            String(repeating: open, count: n) + String(repeating: close, count: n)
        }
        #expect(try Self.parse(nested(limit, "[", "]")) != .null)
        #expect(try Self.parse(nested(limit, "{\"a\":", "}").replacingOccurrences(of: ":}", with: ":0}")) != .null)
        #expect(Self.failure(nested(limit + 1, "[", "]")) == JSONParseError(offset: limit, reason: "nesting deeper than 512"))
        #expect(Self.failure(nested(limit + 1, "{\"a\":", "}")) == JSONParseError(offset: 5 * limit, reason: "nesting deeper than 512"))
        #expect(Self.failure(String(repeating: "[", count: 100_000)) == JSONParseError(offset: limit, reason: "nesting deeper than 512"))
        #expect(Self.failure(String(repeating: "{\"a\":[", count: 100_000))?.reason == "nesting deeper than 512")
        // Depth is how deep, not how many: siblings do not add up.
        #expect(try Self.parse("[" + Array(repeating: nested(limit - 1, "[", "]"), count: 3).joined(separator: ",") + "]") != .null)
    }

    /// JSON documents the tests and the runtime use (the generated spec, a
    /// state, the OCI and strace schemas) read as JSONSerialization reads
    /// them, and read back the same from what `encoded` writes.
    @Test func documentsRoundTrip() throws {
        var state = OCIState(id: "c1", bundle: "/run/bundles/c1")
        state.pid = 4242
        state.annotations = ["k": "v\n\"", "é": "😀"]
        var docs: [(String, [UInt8])] = [
            ("spec", Array(OCICommand.defaultSpec(rootless: false).encoded(pretty: true).utf8)),
            ("rootless spec", Array(OCICommand.defaultSpec(rootless: true).encoded().utf8)),
            ("state", Array(state.stateJSON(root: "/nonexistent").encoded(pretty: true).utf8)),
        ]
        let root = Harness.images.deletingLastPathComponent()
        for path in ["images/oci/schema/state-schema.json", "images/oci/schema/defs.json", "schemas/strace-json.schema.json"] {
            docs.append((path, Array(try Data(contentsOf: root.appendingPathComponent(path)))))
        }
        for (name, bytes) in docs {
            let v = try JSONValue.parse(bytes)
            let theirs = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            #expect(Self.numbersAsDoubles(v) == Self.numbersAsDoubles(theirs), "\(name)")
            // The writer turns a whole Double into an integer ("-9223372036854776000"
            // reads as a Double, -2^63, written as Int64.min): its text is the fixed point.
            for pretty in [false, true] {
                let text = v.encoded(pretty: pretty)
                let back = try Self.parse(text)
                #expect(back.encoded(pretty: pretty) == text && Self.numbersAsDoubles(back) == Self.numbersAsDoubles(v), "\(name)")
            }
        }
    }

    /// A document with every number a Double, to compare values whatever their kind.
    static func numbersAsDoubles(_ v: JSONValue) -> JSONValue {
        switch v {
        case .int(let i): return .double(Double(i))
        case .uint(let u): return .double(Double(u))
        case .array(let a): return .array(a.map(numbersAsDoubles))
        case .object(let o): return .object(o.mapValues(numbersAsDoubles))
        default: return v
        }
    }

    /// The same of what JSONSerialization read (a boolean is an NSNumber of type "c").
    static func numbersAsDoubles(_ v: Any) -> JSONValue {
        switch v {
        case is NSNull: return .null
        case let s as String: return .string(s)
        case let a as [Any]: return .array(a.map { numbersAsDoubles($0) })
        case let o as [String: Any]: return .object(o.mapValues { numbersAsDoubles($0) })
        case let n as NSNumber: return String(cString: n.objCType) == "c" ? .bool(n.boolValue) : .double(n.doubleValue)
        default: return .string("\(type(of: v))")
        }
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
