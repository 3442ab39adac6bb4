/// A config.json's `linux.seccomp` (config-linux.md "Seccomp"), compiled to
/// the classic BPF program runc would have libseccomp build, and installed
/// as the container process's guest seccomp filter (Kernel/Seccomp/) before
/// its first instruction: the guest's syscalls never reach the host, so the
/// profile is enforced by the sentry's kernel exactly where Linux's would be.
///
/// The program: the architecture check (x86-64 only: the sentry has no
/// i386 entry, and an x32 number takes the default action), then each rule
/// in the profile's order, first match wins: a syscall-number test, its
/// argument comparisons (64-bit, as libseccomp makes them on x86-64: high
/// word, then low word), its action; then the default action.
public struct OCISeccompProfile: Sendable, Equatable {
    public struct Comparison: Sendable, Equatable {
        public var index: Int
        public var op: Op
        public var value: UInt64
        public var valueTwo: UInt64
    }
    /// SCMP_CMP_* of libseccomp.
    public enum Op: String, Sendable, Equatable {
        case notEqual = "SCMP_CMP_NE", lessThan = "SCMP_CMP_LT", lessOrEqual = "SCMP_CMP_LE"
        case equal = "SCMP_CMP_EQ", greaterOrEqual = "SCMP_CMP_GE", greaterThan = "SCMP_CMP_GT"
        case maskedEqual = "SCMP_CMP_MASKED_EQ"
    }
    public struct Rule: Sendable, Equatable {
        public var names: [String]
        /// The SECCOMP_RET_* value, its data included (an errno).
        public var action: UInt32
        public var args: [Comparison]
    }

    public var defaultAction: UInt32
    public var rules: [Rule]
    /// SECCOMP_FILTER_FLAG_LOG.
    public var log = false

    /// AUDIT_ARCH_X86_64, and x32's bit in a syscall number.
    static let archX8664: UInt32 = 0xc000_003e
    static let x32Bit: UInt32 = 0x4000_0000

    /// Reads `linux.seccomp`: what cannot be enforced as written is refused.
    init(_ s: JSONObject) throws(OCIError) {
        for k in s.raw.keys where !["defaultAction", "defaultErrnoRet", "architectures", "flags", "syscalls", "listenerPath", "listenerMetadata"].contains(k) {
            throw OCIError("linux.seccomp.\(k): not supported")
        }
        if let p = try s.string("listenerPath"), !p.isEmpty {
            throw OCIError("linux.seccomp.listenerPath: SCMP_ACT_NOTIFY to a listener outside the sandbox is not supported")
        }
        let defaultErrno = try s.uint32("defaultErrnoRet")
        guard let d = try s.string("defaultAction") else { throw OCIError("linux.seccomp.defaultAction: required") }
        defaultAction = try Self.action(d, errno: defaultErrno, at: "linux.seccomp.defaultAction")
        let arches = try s.strings("architectures") ?? []
        if !arches.isEmpty && !arches.contains("SCMP_ARCH_X86_64") {
            throw OCIError("linux.seccomp.architectures: no SCMP_ARCH_X86_64 (the sandbox runs x86-64 code only)")
        }
        for f in try s.strings("flags") ?? [] {
            switch f {
            case "SECCOMP_FILTER_FLAG_LOG": log = true
            case "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW": break   // one thread at start; no speculation control to keep
            default: throw OCIError("linux.seccomp.flags: \(f) is not supported")
            }
        }
        rules = []
        for (i, any) in (try s.array("syscalls") ?? []).enumerated() {
            let at = "linux.seccomp.syscalls[\(i)]"
            guard let o = any.objectValue else { throw OCIError("\(at): expected an object") }
            let r = JSONObject(o, at: at)
            guard let names = try r.strings("names"), !names.isEmpty else { throw OCIError("\(at).names: required") }
            guard let a = try r.string("action") else { throw OCIError("\(at).action: required") }
            let action = try Self.action(a, errno: try r.uint32("errnoRet") ?? defaultErrno, at: at + ".action")
            var args: [Comparison] = []
            for (j, anyArg) in (try r.array("args") ?? []).enumerated() {
                guard let ao = anyArg.objectValue else { throw OCIError("\(at).args[\(j)]: expected an object") }
                let c = JSONObject(ao, at: "\(at).args[\(j)]")
                guard let index = try c.int("index"), (0..<6).contains(index) else { throw OCIError("\(at).args[\(j)].index: 0 to 5") }
                guard let opName = try c.string("op"), let op = Op(rawValue: opName) else {
                    throw OCIError("\(at).args[\(j)].op: one of SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ")
                }
                args.append(Comparison(index: index, op: op, value: try c.uint64("value") ?? 0, valueTwo: try c.uint64("valueTwo") ?? 0))
            }
            rules.append(Rule(names: names, action: action, args: args))
        }
    }

    /// libseccomp's action names as runc maps them; an errno action without
    /// errnoRet is EPERM, and TRACE's data is the errno too (runc's default).
    static func action(_ name: String, errno: UInt32?, at: String) throws(OCIError) -> UInt32 {
        let data = min(errno ?? UInt32(Errno.EPERM.rawValue), Seccomp.SECCOMP_RET_DATA)
        switch name {
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return Seccomp.SECCOMP_RET_KILL_THREAD
        case "SCMP_ACT_KILL_PROCESS": return Seccomp.SECCOMP_RET_KILL_PROCESS
        case "SCMP_ACT_TRAP": return Seccomp.SECCOMP_RET_TRAP
        case "SCMP_ACT_ERRNO": return Seccomp.SECCOMP_RET_ERRNO | data
        case "SCMP_ACT_TRACE": return Seccomp.SECCOMP_RET_TRACE | data
        case "SCMP_ACT_ALLOW": return Seccomp.SECCOMP_RET_ALLOW
        case "SCMP_ACT_LOG": return Seccomp.SECCOMP_RET_LOG
        case "SCMP_ACT_NOTIFY": throw OCIError("\(at): SCMP_ACT_NOTIFY needs a listener outside the sandbox, which is not supported")
        default: throw OCIError("\(at): unknown action \(name)")
        }
    }

    /// The program, and the names it skipped: a name the x86-64 table does
    /// not have is left out, as runc leaves out what libseccomp cannot resolve.
    public func compile(number: (String) -> UInt64?) throws(OCIError) -> (program: [ClassicBPF.Instruction], unknown: [String]) {
        typealias B = ClassicBPF
        func stmt(_ code: UInt16, _ k: UInt32) -> B.Instruction { B.Instruction(code: code, jt: 0, jf: 0, k: k) }
        let ldAbs = B.LD | B.W | B.ABS
        let loadNr = stmt(ldAbs, 0), ret = B.RET | B.K
        var out: [B.Instruction] = [
            stmt(ldAbs, 4),                                                            // arch
            B.Instruction(code: B.JMP | B.JEQ | B.K, jt: 1, jf: 0, k: Self.archX8664),
            stmt(ret, Seccomp.SECCOMP_RET_KILL_PROCESS),
            loadNr,
            B.Instruction(code: B.JMP | B.JSET | B.K, jt: 0, jf: 1, k: Self.x32Bit),
            stmt(ret, defaultAction),
        ]
        var unknown: [String] = []
        for rule in rules {
            for name in rule.names {
                guard let nr = number(name) else { unknown.append(name); continue }
                let block = Self.ruleBlock(nr: UInt32(truncatingIfNeeded: nr), rule: rule)
                out += block
            }
        }
        out.append(stmt(ret, defaultAction))
        guard out.count <= B.maxInstructions else {
            throw OCIError("linux.seccomp: the profile compiles to \(out.count) BPF instructions, more than \(B.maxInstructions)")
        }
        return (out, unknown)
    }

    /// One rule for one syscall, entered and left with the number in A:
    /// a miss anywhere jumps to the block's last instruction, which loads the
    /// number again (the argument tests overwrite A).
    static func ruleBlock(nr: UInt32, rule: Rule) -> [ClassicBPF.Instruction] {
        typealias B = ClassicBPF
        if rule.args.isEmpty {
            return [B.Instruction(code: B.JMP | B.JEQ | B.K, jt: 0, jf: 1, k: nr),
                    B.Instruction(code: B.RET | B.K, jt: 0, jf: 0, k: rule.action)]
        }
        // Jump targets, resolved once the block's length is known.
        enum Target { case next, argEnd, miss }
        struct Pending { var code: UInt16; var k: UInt32; var jt: Target; var jf: Target }
        var items: [Pending] = [Pending(code: B.JMP | B.JEQ | B.K, k: nr, jt: .next, jf: .miss)]
        var argEnds: [Int] = []   // per item: the index its .argEnd means
        argEnds.append(0)
        let ld = B.LD | B.W | B.ABS, jeq = B.JMP | B.JEQ | B.K, jgt = B.JMP | B.JGT | B.K, jge = B.JMP | B.JGE | B.K
        for c in rule.args {
            let lo = UInt32(16 + 8 * c.index), hi = lo + 4
            let vhi = UInt32(truncatingIfNeeded: c.value >> 32), vlo = UInt32(truncatingIfNeeded: c.value)
            var code: [Pending]
            switch c.op {
            case .equal:
                code = [Pending(code: ld, k: hi, jt: .next, jf: .next), Pending(code: jeq, k: vhi, jt: .next, jf: .miss),
                        Pending(code: ld, k: lo, jt: .next, jf: .next), Pending(code: jeq, k: vlo, jt: .argEnd, jf: .miss)]
            case .notEqual:
                code = [Pending(code: ld, k: hi, jt: .next, jf: .next), Pending(code: jeq, k: vhi, jt: .next, jf: .argEnd),
                        Pending(code: ld, k: lo, jt: .next, jf: .next), Pending(code: jeq, k: vlo, jt: .miss, jf: .argEnd)]
            case .greaterThan, .greaterOrEqual:
                code = [Pending(code: ld, k: hi, jt: .next, jf: .next), Pending(code: jgt, k: vhi, jt: .argEnd, jf: .next),
                        Pending(code: jeq, k: vhi, jt: .next, jf: .miss), Pending(code: ld, k: lo, jt: .next, jf: .next),
                        Pending(code: c.op == .greaterThan ? jgt : jge, k: vlo, jt: .argEnd, jf: .miss)]
            case .lessThan, .lessOrEqual:
                code = [Pending(code: ld, k: hi, jt: .next, jf: .next), Pending(code: jgt, k: vhi, jt: .miss, jf: .next),
                        Pending(code: jeq, k: vhi, jt: .next, jf: .argEnd), Pending(code: ld, k: lo, jt: .next, jf: .next),
                        Pending(code: c.op == .lessThan ? jge : jgt, k: vlo, jt: .miss, jf: .argEnd)]
            case .maskedEqual:
                // value is the mask, valueTwo the datum (libseccomp's order).
                let dhi = UInt32(truncatingIfNeeded: c.valueTwo >> 32), dlo = UInt32(truncatingIfNeeded: c.valueTwo)
                let and = B.ALU | B.AND | B.K
                code = [Pending(code: ld, k: hi, jt: .next, jf: .next), Pending(code: and, k: vhi, jt: .next, jf: .next),
                        Pending(code: jeq, k: dhi & vhi, jt: .next, jf: .miss),
                        Pending(code: ld, k: lo, jt: .next, jf: .next), Pending(code: and, k: vlo, jt: .next, jf: .next),
                        Pending(code: jeq, k: dlo & vlo, jt: .argEnd, jf: .miss)]
            }
            let end = items.count + code.count
            items += code
            argEnds += Array(repeating: end, count: code.count)
        }
        items.append(Pending(code: B.RET | B.K, k: rule.action, jt: .next, jf: .next))
        argEnds.append(0)
        let missIndex = items.count   // the reload of the number
        func offset(_ t: Target, from i: Int) -> UInt8 {
            let target: Int
            switch t {
            case .next: target = i + 1
            case .argEnd: target = argEnds[i]
            case .miss: target = missIndex
            }
            // A block holds at most six comparisons of six instructions: far below 255.
            return UInt8(target - i - 1)
        }
        var out: [ClassicBPF.Instruction] = []
        for (i, p) in items.enumerated() {
            let isJump = p.code & 0x07 == B.JMP
            out.append(ClassicBPF.Instruction(code: p.code, jt: isJump ? offset(p.jt, from: i) : 0,
                                              jf: isJump ? offset(p.jf, from: i) : 0, k: p.k))
        }
        out.append(ClassicBPF.Instruction(code: B.LD | B.W | B.ABS, jt: 0, jf: 0, k: 0))
        return out
    }
}
