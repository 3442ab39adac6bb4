import Foundation
import Testing

/// Every line `--strace-json` writes (calls with -T -tt -r -k, signals,
/// exits, kills, the -C summary) validates against schemas/strace-json.schema.json.
@Suite struct StraceJSONSchemaTests {
    static let schemaURL = Harness.images.deletingLastPathComponent().appendingPathComponent("schemas/strace-json.schema.json")

    /// A JSON value that keeps integers, other numbers and booleans apart.
    indirect enum JSON: Decodable, Equatable {
        case null, bool(Bool), int(Int64), number(Double), string(String), array([JSON]), object([String: JSON])

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null }
            else if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let i = try? c.decode(Int64.self) { self = .int(i) }
            else if let d = try? c.decode(Double.self) { self = .number(d) }
            else if let s = try? c.decode(String.self) { self = .string(s) }
            else if let a = try? c.decode([JSON].self) { self = .array(a) }
            else { self = .object(try c.decode([String: JSON].self)) }
        }

        static func parse(_ text: some StringProtocol) throws -> JSON { try JSONDecoder().decode(JSON.self, from: Data(text.utf8)) }

        var number: Double? { if case .int(let i) = self { Double(i) } else if case .number(let d) = self { d } else { nil } }
    }

    /// The JSON Schema keywords the schema uses: type, const, minimum,
    /// maximum, required, properties, additionalProperties, items, oneOf, $ref.
    struct Validator {
        let root: [String: JSON]

        func validate(_ value: JSON, _ schema: [String: JSON], at path: String = "$") -> [String] {
            if case .string(let ref)? = schema["$ref"] {
                guard case .object(let defs)? = root["$defs"], case .object(let target)? = defs[String(ref.dropFirst("#/$defs/".count))]
                else { return ["\(path): bad $ref \(ref)"] }
                return validate(value, target, at: path)
            }
            if case .array(let options)? = schema["oneOf"] {
                let matches = options.filter { if case .object(let o) = $0 { validate(value, o, at: path).isEmpty } else { false } }.count
                return matches == 1 ? [] : ["\(path): matches \(matches) of oneOf"]
            }
            var errors: [String] = []
            if let t = schema["type"] {
                var types: [String] = []
                if case .string(let one) = t { types = [one] }
                if case .array(let many) = t { types = many.compactMap { if case .string(let s) = $0 { s } else { nil } } }
                if !types.contains(where: { Self.isType(value, $0) }) { return ["\(path): not \(types)"] }
            }
            if let c = schema["const"], c != value { errors.append("\(path): not \(c)") }
            if let n = value.number {
                if let min = schema["minimum"]?.number, n < min { errors.append("\(path): below \(min)") }
                if let max = schema["maximum"]?.number, n > max { errors.append("\(path): above \(max)") }
            }
            if case .object(let obj) = value {
                if case .array(let req)? = schema["required"] {
                    for case .string(let key) in req where obj[key] == nil { errors.append("\(path): missing \(key)") }
                }
                var props: [String: JSON] = [:]
                if case .object(let p)? = schema["properties"] { props = p }
                for (key, v) in obj {
                    if case .object(let p)? = props[key] { errors += validate(v, p, at: path + "." + key) }
                    else if schema["additionalProperties"] == .bool(false) { errors.append("\(path): unexpected \(key)") }
                }
            }
            if case .array(let arr) = value, case .object(let items)? = schema["items"] {
                for (i, v) in arr.enumerated() { errors += validate(v, items, at: "\(path)[\(i)]") }
            }
            return errors
        }

        static func isType(_ v: JSON, _ t: String) -> Bool {
            switch (t, v) {
            case ("object", .object), ("array", .array), ("string", .string), ("null", .null), ("boolean", .bool),
                 ("integer", .int), ("number", .int), ("number", .number): return true
            default: return false
            }
        }
    }

    @Test(arguments: Harness.platforms)
    func everyLineMatchesTheSchema(_ platform: Harness.TestPlatform) throws {
        guard case .object(let schema) = try JSON.parse(String(contentsOf: Self.schemaURL, encoding: .utf8)) else {
            Issue.record("the schema is not an object"); return
        }
        let v = Validator(root: schema)
        // A child killed by a signal (init ignores signals from inside, as a pid namespace's would).
        let r = Harness.sandboxed(platform, "/bin/sh", ["-c", "ls /nonexistent; sh -c 'kill -9 $$'; true"],
                                  extra: ["--strace-json", "-C", "-T", "-tt", "-r", "-k"])
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(lines.count > 50)
        var kinds = Set<String>()
        for line in lines {
            let obj = try JSON.parse(line)
            let errors = v.validate(obj, schema)
            #expect(errors.isEmpty, "\(line.prefix(200)): \(errors)")
            if case .object(let o) = obj { kinds.insert(["syscall", "signal", "exited", "killed", "summary"].first { o[$0] != nil } ?? "?") }
        }
        #expect(kinds == ["syscall", "signal", "exited", "killed", "summary"], "record kinds seen: \(kinds)")
    }
}
