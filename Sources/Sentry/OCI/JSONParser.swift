/// A JSON document that could not be read: what was wrong and where, as one
/// line (the OCI commands print it after the file's name).
public struct JSONParseError: Error, CustomStringConvertible, Equatable {
    /// Bytes from the start of the document to the one at fault (from 0); the
    /// document's length when it ended too soon.
    public var offset: Int
    public var reason: String
    public var description: String { "not valid JSON: \(reason) at byte \(offset)" }
}

/// Reads RFC 8259 JSON in one pass over its bytes, accepting what Go's
/// encoding/json (runc's reader) accepts: whitespace only space, tab, LF and
/// CR; no comments, trailing commas, NaN, leading zeros or '+'; a string's
/// control characters escaped. Where Go's reader repairs rather than refuses,
/// so does this one: an invalid UTF-8 byte in a string and a \u escape of an
/// unpaired surrogate each become U+FFFD. A key given twice keeps its last
/// value, as Go's map and struct decoding do.
struct JSONParser: ~Copyable {
    /// Arrays and objects nested deeper than this are refused: each level is a
    /// frame of the recursive reader, and a config is the user's input.
    static let maxDepth = 512

    private let bytes: UnsafeBufferPointer<UInt8>
    private var pos = 0
    private var depth = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        var p = JSONParser(bytes)
        p.skipWhitespace()
        let v = try p.value()
        p.skipWhitespace()
        if p.pos < bytes.count { throw p.error("unexpected \(p.describe(p.pos)) after the document") }
        return v
    }

    // MARK: Bytes

    private static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
    private static let minus = UInt8(ascii: "-"), plus = UInt8(ascii: "+"), dot = UInt8(ascii: ".")
    private static let zero = UInt8(ascii: "0"), nine = UInt8(ascii: "9")

    private func error(_ reason: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(offset: offset ?? pos, reason: reason)
    }

    /// The byte at `i` for an error message: printable ASCII quoted, anything
    /// else (a newline, a UTF-8 lead byte) in hex, so the message stays one line.
    private func describe(_ i: Int) -> String {
        guard i < bytes.count else { return "end of input" }
        let b = bytes[i]
        return b >= 0x20 && b < 0x7f ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
    }

    private func unexpected() -> JSONParseError {
        error("unexpected \(describe(pos))")
    }

    private mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0a, 0x0d: pos += 1
            default: return
            }
        }
    }

    private mutating func expect(_ c: UInt8) throws(JSONParseError) {
        guard pos < bytes.count, bytes[pos] == c else { throw unexpected() }
        pos += 1
    }

    // MARK: Values

    private mutating func value() throws(JSONParseError) -> JSONValue {
        guard pos < bytes.count else { throw unexpected() }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case Self.quote: return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case Self.minus, Self.zero...Self.nine: return try number()
        default: throw unexpected()
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let start = pos
        for i in 0..<word.utf8CodeUnitCount {
            guard pos < bytes.count, bytes[pos] == word.utf8Start[i] else {
                throw error("unexpected \(describe(pos)) in a literal starting at byte \(start)")
            }
            pos += 1
        }
    }

    private mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > Self.maxDepth { throw error("nesting deeper than \(Self.maxDepth)") }
        pos += 1
    }

    private mutating func array() throws(JSONParseError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        var a: [JSONValue] = []
        if try closed(UInt8(ascii: "]"), empty: true) { return .array(a) }
        repeat {
            skipWhitespace()
            a.append(try value())
        } while try !closed(UInt8(ascii: "]"))
        return .array(a)
    }

    private mutating func object() throws(JSONParseError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        var o: [String: JSONValue] = [:]
        if try closed(UInt8(ascii: "}"), empty: true) { return .object(o) }
        repeat {
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == Self.quote else { throw unexpected() }
            let key = try string()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            o[key] = try value()
        } while try !closed(UInt8(ascii: "}"))
        return .object(o)
    }

    /// After an opening bracket (`empty`) or a member: true past the closing
    /// one, false past a comma (none allowed before the closing bracket).
    private mutating func closed(_ close: UInt8, empty: Bool = false) throws(JSONParseError) -> Bool {
        skipWhitespace()
        guard pos < bytes.count else { throw unexpected() }
        if bytes[pos] == close { pos += 1; return true }
        if empty { return false }
        guard bytes[pos] == UInt8(ascii: ",") else { throw unexpected() }
        pos += 1
        return false
    }

    // MARK: Strings

    /// A string from its opening quote, escapes decoded and UTF-8 repaired.
    private mutating func string() throws(JSONParseError) -> String {
        pos += 1
        let start = pos
        // Most strings are printable ASCII with nothing to decode: taken as is.
        while pos < bytes.count {
            let b = bytes[pos]
            if b == Self.quote {
                pos += 1
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos - 1]), as: UTF8.self)
            }
            if b == Self.backslash || b < 0x20 || b >= 0x80 { break }
            pos += 1
        }
        var out: [UInt8] = Array(bytes[start..<pos])
        while true {
            guard pos < bytes.count else { throw endOfString(start - 1) }
            let b = bytes[pos]
            switch b {
            case Self.quote:
                pos += 1
                return String(decoding: out, as: UTF8.self)
            case Self.backslash:
                try escape(into: &out, string: start - 1)
            case 0..<0x20:
                throw error("control character \(describe(pos)) in a string")
            case 0x80...:
                let length = Self.utf8Length(bytes, at: pos)
                if length > 0 {
                    out.append(contentsOf: bytes[pos..<pos + length])
                    pos += length
                } else {
                    Self.append(Self.replacement, to: &out)
                    pos += 1
                }
            default:
                out.append(b)
                pos += 1
            }
        }
    }

    private func endOfString(_ start: Int) -> JSONParseError {
        error("unexpected end of input in a string starting at byte \(start)", at: bytes.count)
    }

    private static let replacement = Unicode.Scalar(0xFFFD)!

    private static func append(_ s: Unicode.Scalar, to out: inout [UInt8]) {
        out.append(contentsOf: UTF8.encode(s)!)
    }

    /// One escape from its backslash.
    private mutating func escape(into out: inout [UInt8], string: Int) throws(JSONParseError) {
        let at = pos
        pos += 1
        guard pos < bytes.count else { throw endOfString(string) }
        let c = bytes[pos]
        pos += 1
        switch c {
        case Self.quote, Self.backslash, UInt8(ascii: "/"): out.append(c)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0c)
        case UInt8(ascii: "n"): out.append(0x0a)
        case UInt8(ascii: "r"): out.append(0x0d)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try hex4(string: string)
            var scalar = Unicode.Scalar(unit)
            if UTF16.isLeadSurrogate(unit), let low = trailSurrogate() {
                // A pair: both escapes taken.
                scalar = Unicode.Scalar(0x10000 + (UInt32(unit - 0xD800) << 10) + UInt32(low - 0xDC00))
                pos += 6
            }
            // An unpaired surrogate (lead or trail) is U+FFFD, as Go reads it.
            Self.append(scalar ?? Self.replacement, to: &out)
        default:
            let shown = c >= 0x20 && c < 0x7f ? "'\\\(Character(Unicode.Scalar(c)))'" : "of \(describe(pos - 1))"
            throw error("invalid escape \(shown)", at: at)
        }
    }

    /// The four hex digits of a \u escape, `pos` just after the "u".
    private mutating func hex4(string: Int) throws(JSONParseError) -> UInt16 {
        guard let v = hex4(at: pos) else {
            var i = pos
            while i < pos + 4, i < bytes.count, Self.hexDigit(bytes[i]) != nil { i += 1 }
            throw i < bytes.count ? error("invalid \\u escape: unexpected \(describe(i))", at: i) : endOfString(string)
        }
        pos += 4
        return v
    }

    private func hex4(at i: Int) -> UInt16? {
        guard i + 4 <= bytes.count else { return nil }
        var v: UInt16 = 0
        for j in i..<i + 4 {
            guard let d = Self.hexDigit(bytes[j]) else { return nil }
            v = v << 4 | UInt16(d)
        }
        return v
    }

    /// A "\uDC00"-"\uDFFF" escape at `pos`, which would pair with a lead surrogate.
    private func trailSurrogate() -> UInt16? {
        guard pos + 6 <= bytes.count, bytes[pos] == Self.backslash, bytes[pos + 1] == UInt8(ascii: "u"),
              let unit = hex4(at: pos + 2), UTF16.isTrailSurrogate(unit) else { return nil }
        return unit
    }

    private static func hexDigit(_ b: UInt8) -> UInt8? {
        switch b {
        case zero...nine: return b - zero
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The length of the UTF-8 sequence at `i` (RFC 3629: no overlong form,
    /// surrogate or value past U+10FFFF), 0 when the byte at `i` starts none:
    /// each such byte becomes one U+FFFD, as Go's utf8.DecodeRune steps.
    static func utf8Length(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
        let length: Int, low: UInt8, high: UInt8
        switch b[i] {
        case 0..<0x80: return 1
        case 0xC2...0xDF: (length, low, high) = (2, 0x80, 0xBF)
        case 0xE0: (length, low, high) = (3, 0xA0, 0xBF)
        case 0xED: (length, low, high) = (3, 0x80, 0x9F)
        case 0xE1...0xEF: (length, low, high) = (3, 0x80, 0xBF)
        case 0xF0: (length, low, high) = (4, 0x90, 0xBF)
        case 0xF4: (length, low, high) = (4, 0x80, 0x8F)
        case 0xF1...0xF3: (length, low, high) = (4, 0x80, 0xBF)
        default: return 0
        }
        // The second byte's range rules out the overlong and out-of-range forms.
        guard i + length <= b.count, (low...high).contains(b[i + 1]) else { return 0 }
        for j in 2..<length where b[i + j] & 0xC0 != 0x80 { return 0 }
        return length
    }

    // MARK: Numbers

    /// A number, kept as the three kinds JSONSerialization's NSNumber told
    /// apart: a whole number in Int64's range is an int (whatever its
    /// spelling: 1.0, 1e2 and -0 are integers), one above it up to UInt64.max
    /// a uint, and the rest a Double. A number past Double's range is refused,
    /// as Go refuses it; one too small for a Double is 0, as Go reads it.
    private mutating func number() throws(JSONParseError) -> JSONValue {
        let start = pos
        let negative = bytes[pos] == Self.minus
        if negative { pos += 1 }
        let integer = try digits(start: start)
        // A leading zero is a number of its own: "01" is 0, then an unexpected '1'.
        if integer.count > 1 && bytes[integer.lowerBound] == Self.zero { throw error("unexpected \(describe(integer.lowerBound + 1)) after a leading zero", at: integer.lowerBound + 1) }
        var fraction = pos..<pos
        if pos < bytes.count, bytes[pos] == Self.dot {
            pos += 1
            fraction = try digits(start: start)
        }
        var exponent = 0
        if pos < bytes.count, bytes[pos] | 0x20 == UInt8(ascii: "e") {
            pos += 1
            var negativeExponent = false
            if pos < bytes.count, bytes[pos] == Self.minus || bytes[pos] == Self.plus {
                negativeExponent = bytes[pos] == Self.minus
                pos += 1
            }
            // Saturated: far past any Double either way.
            for i in try digits(start: start) { exponent = min(exponent * 10 + Int(bytes[i] - Self.zero), 1_000_000) }
            if negativeExponent { exponent = -exponent }
        }
        if let whole = wholeNumber(integer, fraction, exponent) {
            if !negative {
                return whole <= UInt64(Int64.max) ? .int(Int64(whole)) : .uint(whole)
            }
            if whole <= UInt64(Int64.max) { return .int(-Int64(whole)) }
            if whole == UInt64(Int64.max) + 1 { return .int(.min) }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        guard let d = Double(text), d.isFinite else {
            throw error("number \(text.prefix(40)) out of range", at: start)
        }
        return .double(d)
    }

    /// One or more decimal digits at `pos`.
    private mutating func digits(start: Int) throws(JSONParseError) -> Range<Int> {
        let first = pos
        while pos < bytes.count, (Self.zero...Self.nine).contains(bytes[pos]) { pos += 1 }
        if pos == first { throw error("unexpected \(describe(pos)) in a number starting at byte \(start)") }
        return first..<pos
    }

    /// The magnitude of integer.fraction × 10^exponent when it is a whole
    /// number that fits a UInt64, exactly (not through a Double).
    private func wholeNumber(_ integer: Range<Int>, _ fraction: Range<Int>, _ exponent: Int) -> UInt64? {
        // The digits as one sequence, k from 0; digit k weighs 10^(n-1-k+exponent).
        let n = integer.count, count = n + fraction.count
        func digit(_ k: Int) -> UInt8 { bytes[k < n ? integer.lowerBound + k : fraction.lowerBound + k - n] - Self.zero }
        guard let first = (0..<count).first(where: { digit($0) != 0 }) else { return 0 }
        let last = (0..<count).last(where: { digit($0) != 0 })!
        let highest = n - 1 - first + exponent, lowest = n - 1 - last + exponent
        // A fraction left over, or 10^20 and more (past 2^64).
        guard lowest >= 0, highest < 20 else { return nil }
        var m: UInt64 = 0
        for k in 0..<(last + 1 + lowest) {
            let (p, o1) = m.multipliedReportingOverflow(by: 10)
            let (q, o2) = p.addingReportingOverflow(k <= last ? UInt64(digit(k)) : 0)
            if o1 || o2 { return nil }
            m = q
        }
        return m
    }
}
