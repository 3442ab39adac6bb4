import Foundation
import Testing
@testable import Sentry

/// Every line `--strace-json` writes (calls with -T -tt -r -k, signals,
/// exits, kills, the -C summary) validates against schemas/strace-json.schema.json.
extension JSONValue {
    static func parse(_ text: some StringProtocol) throws -> JSONValue { try parse(Array(text.utf8)) }
    var number: Double? {
        switch self {
        case .int(let i): Double(i)
        case .uint(let u): Double(u)
        case .double(let d): d
        default: nil
        }
    }
}

@Suite struct StraceJSONSchemaTests {
    static let schemaURL = Harness.images.deletingLastPathComponent().appendingPathComponent("schemas/strace-json.schema.json")

    /// A JSON value that keeps integers, other numbers and booleans apart: the runtime's own.
    typealias JSON = JSONValue

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
                 ("integer", .int), ("integer", .uint), ("number", .int), ("number", .uint), ("number", .double): return true
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
