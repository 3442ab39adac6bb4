/// Linux names, paths, argv and environment strings are bytes (anything but
/// NUL), not UTF-8. The sentry keeps them in `String`, so it decodes them
/// losslessly: valid UTF-8 stays as it is, and each byte of an invalid
/// sequence becomes one reserved scalar, U+10FF00 + byte (plane 16's private
/// use area, which real names essentially never use). Encoding turns each
/// reserved scalar back into its byte, so bytes -> String -> bytes is exact.
///
/// A well-formed encoding of a reserved scalar (F4 8F BE xx / F4 8F BF xx)
/// in the input is escaped byte by byte too, so it round-trips as well.
///
/// Every byte string entering the sentry (guest memory, host dirents,
/// readlink, the CLI) is decoded with `String(rawBytes:)`; every one leaving it
/// (guest memory, host *at() calls, /proc files, the initial stack) is
/// encoded with `.rawBytes` or `.hostCString`, never with `.utf8`, and never by
/// Swift's implicit String-to-C-string bridging (which would write UTF-8).
public enum ByteString {
    /// The first scalar of the escape range; only bytes 0x80-0xff are ever escaped.
    static let escapeBase: UInt32 = 0x10FF00
    static let escapeFirst: UInt32 = escapeBase + 0x80

    /// The scalars for `bytes`.
    public static func decode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        // Through a concrete type: a caller in another module (the CLI) runs
        // this unspecialised, and its generic scan looked the collection's
        // conformances up at first use, about 0.15 ms of every `sentry run`.
        if let s = bytes.withContiguousStorageIfAvailable({ decode(UnsafeRawBufferPointer($0)) }) { return s }
        return Array(bytes).withUnsafeBytes { decode($0) }
    }

    /// The scalars for `bytes` (see `decode`).
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> String {
        var ascii = true
        for c in bytes where c >= 0x80 { ascii = false; break }
        if ascii { return String(decoding: bytes, as: UTF8.self) }
        let b = Array(bytes)
        var s = String.UnicodeScalarView()
        var i = 0
        while i < b.count {
            if let (scalar, n) = wellFormed(b, at: i), scalar < escapeFirst {
                s.append(Unicode.Scalar(scalar)!)
                i += n
            } else {
                s.append(Unicode.Scalar(escapeBase + UInt32(b[i]))!)
                i += 1
            }
        }
        return String(s)
    }

    /// The scalar and its length if a well-formed UTF-8 sequence (Unicode
    /// table 3-7: no overlongs, no surrogates, nothing above U+10FFFF) starts at `i`.
    static func wellFormed(_ b: [UInt8], at i: Int) -> (UInt32, Int)? {
        let c0 = b[i]
        if c0 < 0x80 { return (UInt32(c0), 1) }
        let n: Int, low: UInt8, high: UInt8
        switch c0 {
        case 0xC2...0xDF: n = 2; low = 0x80; high = 0xBF
        case 0xE0: n = 3; low = 0xA0; high = 0xBF
        case 0xE1...0xEC, 0xEE...0xEF: n = 3; low = 0x80; high = 0xBF
        case 0xED: n = 3; low = 0x80; high = 0x9F
        case 0xF0: n = 4; low = 0x90; high = 0xBF
        case 0xF1...0xF3: n = 4; low = 0x80; high = 0xBF
        case 0xF4: n = 4; low = 0x80; high = 0x8F
        default: return nil
        }
        guard b.count - i >= n, (low...high).contains(b[i + 1]) else { return nil }
        var v = UInt32(c0) & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07)
        for k in 1..<n {
            let c = b[i + k]
            guard c & 0xC0 == 0x80 else { return nil }
            v = v << 6 | UInt32(c & 0x3F)
        }
        return (v, n)
    }

    /// The bytes `s` stands for.
    public static func encode(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            if u.value >= escapeFirst && u.value <= escapeBase + 0xFF {
                out.append(UInt8(u.value - escapeBase))
            } else {
                out.append(contentsOf: UTF8.encode(u)!)
            }
        }
        return out
    }
}

extension String {
    /// `bytes` decoded losslessly (see ByteString).
    public init<C: Collection>(rawBytes bytes: C) where C.Element == UInt8 { self = ByteString.decode(bytes) }
    /// Host memory's bytes, without the generic's dispatch (see ByteString.decode).
    public init(rawBytes bytes: UnsafeRawBufferPointer) { self = ByteString.decode(bytes) }

    /// The bytes this string stands for (see ByteString): what the guest or the host sees.
    public var rawBytes: [UInt8] {
        // Fast path: nothing in plane 16 (lead byte F4) means no escapes.
        if !utf8.contains(0xF4) { return Array(utf8) }
        return ByteString.encode(self)
    }

    /// The bytes with a NUL, as a C string for a host call: `[CChar]` passes
    /// where an `UnsafePointer<CChar>` is expected.
    public var hostCString: [CChar] { (rawBytes + [0]).map { CChar(bitPattern: $0) } }
}

/// A name as a dictionary key that is equal to another only when the bytes
/// are: Swift's String equality is canonical equivalence, which would make
/// "e\u{301}" and "\u{e9}" (two different Linux names) one file.
public struct ExactName: Hashable, Sendable {
    public let name: String
    public init(_ name: String) { self.name = name }
    public static func == (a: ExactName, b: ExactName) -> Bool { a.name.utf8.elementsEqual(b.name.utf8) }
    public func hash(into h: inout Hasher) {
        var s = name
        s.withUTF8 { h.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

extension String {
    /// The names between slashes, split by bytes: to Swift a '/' followed by
    /// a combining mark is one Character, which `split(separator: "/")` would
    /// not split at; to Linux it is a slash and the start of the next name.
    /// (Not Substrings: a Substring's bounds are rounded to Characters.
    /// Decoding is exact here: a split at an ASCII byte cuts no scalar.)
    public var pathComponents: [String] {
        utf8.split(separator: UInt8(ascii: "/")).map { String(decoding: $0, as: UTF8.self) }
    }
    /// The first byte is a slash (an absolute path).
    public var startsWithSlash: Bool { utf8.first == UInt8(ascii: "/") }
    /// The last byte is a slash.
    public var endsWithSlash: Bool { utf8.last == UInt8(ascii: "/") }
}
