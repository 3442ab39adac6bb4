/// An untyped JSON document (an OCI bundle's config.json, a process.json, the
/// runtime's state and reports), in place of Foundation's JSONSerialization,
/// which FoundationEssentials lacks. Read by `JSONParser`, written by `encoded`.
///
/// Numbers keep what JSONSerialization's NSNumber told apart: an integer in
/// Int64's range, one above it (up to UInt64.max, as an rlimit's "unlimited"),
/// and anything else (a fraction, an exponent that is not a whole number, a
/// magnitude past UInt64) as a Double.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses a whole document (any JSON value at the top).
    public static func parse(_ bytes: some Sequence<UInt8>) throws(JSONParseError) -> JSONValue {
        let result = bytes.withContiguousStorageIfAvailable { b in Result { () throws(JSONParseError) in try JSONParser.parse(b) } }
            ?? ContiguousArray(bytes).withUnsafeBufferPointer { b in Result { () throws(JSONParseError) in try JSONParser.parse(b) } }
        return try result.get()
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { return o }; return nil }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    /// An array of strings only.
    public var stringsValue: [String]? {
        guard let a = arrayValue else { return nil }
        var out: [String] = []
        for v in a { guard let s = v.stringValue else { return nil }; out.append(s) }
        return out
    }
    /// A JSON integer that fits `T` (a whole Double too, as NSNumber's accessors gave).
    public func integer<T: FixedWidthInteger>(_: T.Type = T.self) -> T? {
        switch self {
        case .int(let i): return T(exactly: i)
        case .uint(let u): return T(exactly: u)
        case .double(let d): return T(exactly: d)
        default: return nil
        }
    }

    public init(_ strings: [String]) { self = .array(strings.map(JSONValue.string)) }
    public init(_ strings: [String: String]) { self = .object(strings.mapValues(JSONValue.string)) }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    // Not ExpressibleByNilLiteral: a nil meant for an Optional<JSONValue> would become .null.
    public init(stringLiteral s: String) { self = .string(s) }
    public init(integerLiteral i: Int64) { self = .int(i) }
    public init(booleanLiteral b: Bool) { self = .bool(b) }
    public init(arrayLiteral a: JSONValue...) { self = .array(a) }
    public init(dictionaryLiteral pairs: (String, JSONValue)...) {
        // A key given twice traps, as a Dictionary literal's does.
        self = .object(Dictionary(uniqueKeysWithValues: pairs))
    }
}

// MARK: - Writing

extension JSONValue {
    /// JSON text with the keys of every object sorted, compact or indented as
    /// JSONSerialization's `.prettyPrinted` ("key" : value, two spaces a level).
    /// Keys sort by their UTF-8 bytes, as Go's encoding/json sorts a map's
    /// (runc's annotations); "/" is not escaped.
    public func encoded(pretty: Bool = false) -> String {
        var out = ""
        write(to: &out, pretty: pretty, depth: 0)
        return out
    }

    private func write(to out: inout String, pretty: Bool, depth: Int) {
        func newline(_ d: Int) {
            guard pretty else { return }
            out += "\n"
            out += String(repeating: "  ", count: d)
        }
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .uint(let u): out += String(u)
        case .double(let d):
            if let i = Int64(exactly: d) { out += String(i) } else if d.isFinite { out += String(d) } else { out += "null" }
        case .string(let s): out += Self.quote(s)
        case .array(let a):
            out += "["
            // An empty one is "[", a blank line, "]" when indented, as JSONSerialization wrote it.
            if a.isEmpty && pretty { out += "\n" }
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                newline(depth + 1)
                v.write(to: &out, pretty: pretty, depth: depth + 1)
            }
            newline(depth)
            out += "]"
        case .object(let o):
            out += "{"
            if o.isEmpty && pretty { out += "\n" }
            for (i, k) in o.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if i > 0 { out += "," }
                newline(depth + 1)
                out += Self.quote(k)
                out += pretty ? " : " : ":"
                o[k]!.write(to: &out, pretty: pretty, depth: depth + 1)
            }
            newline(depth)
            out += "}"
        }
    }

    /// A JSON string literal: quote, backslash and control characters escaped
    /// (\n, \t and \r short, the rest as \u00XX: JSONSerialization wrote \b and
    /// \f short too, the same string to a reader), everything else as is.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
