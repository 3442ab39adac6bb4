/// Classic BPF as seccomp takes it: Linux's verifier (net/core/filter.c's
/// bpf_check_classic, then kernel/seccomp.c's seccomp_check_filter) and an
/// interpreter over the 64-byte `struct seccomp_data`.
public struct ClassicBPF: Sendable {
    /// `struct sock_filter`.
    public struct Instruction: Sendable, Equatable {
        public var code: UInt16
        public var jt: UInt8
        public var jf: UInt8
        public var k: UInt32
        public init(code: UInt16, jt: UInt8, jf: UInt8, k: UInt32) { self.code = code; self.jt = jt; self.jf = jf; self.k = k }
        /// sizeof(struct sock_filter).
        public static let size = 8
    }

    public let instructions: [Instruction]

    // Instruction classes and fields (include/uapi/linux/bpf_common.h, filter.h).
    static let LD: UInt16 = 0x00, LDX: UInt16 = 0x01, ST: UInt16 = 0x02, STX: UInt16 = 0x03
    static let ALU: UInt16 = 0x04, JMP: UInt16 = 0x05, RET: UInt16 = 0x06, MISC: UInt16 = 0x07
    static let W: UInt16 = 0x00, H: UInt16 = 0x08, B: UInt16 = 0x10
    static let IMM: UInt16 = 0x00, ABS: UInt16 = 0x20, IND: UInt16 = 0x40, MEM: UInt16 = 0x60, LEN: UInt16 = 0x80, MSH: UInt16 = 0xa0
    static let ADD: UInt16 = 0x00, SUB: UInt16 = 0x10, MUL: UInt16 = 0x20, DIV: UInt16 = 0x30, OR: UInt16 = 0x40
    static let AND: UInt16 = 0x50, LSH: UInt16 = 0x60, RSH: UInt16 = 0x70, NEG: UInt16 = 0x80, MOD: UInt16 = 0x90, XOR: UInt16 = 0xa0
    static let JA: UInt16 = 0x00, JEQ: UInt16 = 0x10, JGT: UInt16 = 0x20, JGE: UInt16 = 0x30, JSET: UInt16 = 0x40
    static let K: UInt16 = 0x00, X: UInt16 = 0x08, A: UInt16 = 0x10
    static let TAX: UInt16 = 0x00, TXA: UInt16 = 0x80
    /// BPF_MAXINSNS and BPF_MEMWORDS.
    public static let maxInstructions = 4096
    static let memoryWords = 16
    /// SKF_AD_OFF: where the socket filters' ancillary loads begin.
    static let ancillaryOffset: UInt32 = 0xffff_f000
    /// sizeof(struct seccomp_data).
    public static let dataSize: UInt32 = 64

    /// Checks `program` as Linux does before a seccomp filter is attached;
    /// EINVAL for anything either verifier refuses. `BPF_LEN` loads become
    /// immediates of the data's size, as seccomp_check_filter rewrites them.
    public init(verifying program: [Instruction]) throws(Errno) {
        let n = program.count
        guard n > 0, n <= Self.maxInstructions else { throw .EINVAL }
        try Self.checkClassic(program)
        var p = program
        for i in p.indices {
            let code = p[i].code
            switch code {
            case Self.LD | Self.W | Self.ABS:
                if p[i].k >= Self.dataSize || p[i].k & 3 != 0 { throw .EINVAL }
            case Self.LD | Self.W | Self.LEN:
                p[i] = Instruction(code: Self.LD | Self.IMM, jt: 0, jf: 0, k: Self.dataSize)
            case Self.LDX | Self.W | Self.LEN:
                p[i] = Instruction(code: Self.LDX | Self.IMM, jt: 0, jf: 0, k: Self.dataSize)
            default:
                guard Self.seccompAllowed.contains(code) else { throw .EINVAL }
            }
        }
        instructions = p
    }

    /// The codes seccomp_check_filter lets through besides the loads it rewrites.
    private static let seccompAllowed: Set<UInt16> = {
        var s: Set<UInt16> = [RET | K, RET | A, ALU | NEG, LD | IMM, LDX | IMM, MISC | TAX, MISC | TXA,
                              LD | MEM, LDX | MEM, ST, STX, JMP | JA]
        for op in [ADD, SUB, MUL, DIV, AND, OR, XOR, LSH, RSH] { s.insert(ALU | op | K); s.insert(ALU | op | X) }
        for op in [JEQ, JGE, JGT, JSET] { s.insert(JMP | op | K); s.insert(JMP | op | X) }
        return s
    }()

    /// chk_code_allowed: every code classic BPF knows.
    private static let classicCodes: Set<UInt16> = {
        var s: Set<UInt16> = [ALU | NEG, LD | W | ABS, LD | H | ABS, LD | B | ABS, LD | W | LEN, LD | W | IND, LD | H | IND,
                              LD | B | IND, LD | IMM, LD | MEM, LDX | W | LEN, LDX | B | MSH, LDX | IMM, LDX | MEM, ST, STX,
                              MISC | TAX, MISC | TXA, RET | K, RET | A, JMP | JA]
        for op in [ADD, SUB, MUL, DIV, MOD, AND, OR, XOR, LSH, RSH] { s.insert(ALU | op | K); s.insert(ALU | op | X) }
        for op in [JEQ, JGE, JGT, JSET] { s.insert(JMP | op | K); s.insert(JMP | op | X) }
        return s
    }()

    private static func isConditionalJump(_ code: UInt16) -> Bool {
        code & 0x07 == JMP && code & 0xf0 != JA && classicCodes.contains(code)
    }

    /// bpf_check_classic: known codes, no constant division by zero or
    /// shift by 32 or more, scratch cells in range, jumps that land inside
    /// the program, a RET at the end, and no scratch cell read before a store
    /// on every path to it (check_load_and_stores).
    private static func checkClassic(_ p: [Instruction]) throws(Errno) {
        let n = p.count
        for (pc, ins) in p.enumerated() {
            guard classicCodes.contains(ins.code) else { throw .EINVAL }
            switch ins.code {
            case ALU | DIV | K, ALU | MOD | K:
                if ins.k == 0 { throw .EINVAL }
            case ALU | LSH | K, ALU | RSH | K:
                if ins.k >= 32 { throw .EINVAL }
            case LD | MEM, LDX | MEM, ST, STX:
                if ins.k >= UInt32(memoryWords) { throw .EINVAL }
            case JMP | JA:
                if UInt64(ins.k) >= UInt64(n - pc - 1) { throw .EINVAL }
            case LD | W | ABS, LD | H | ABS, LD | B | ABS:
                // No socket-filter ancillary load means anything to seccomp;
                // the offset check below refuses them all the same.
                if ins.k >= ancillaryOffset { throw .EINVAL }
            default:
                if isConditionalJump(ins.code) && (pc + Int(ins.jt) + 1 >= n || pc + Int(ins.jf) + 1 >= n) { throw .EINVAL }
            }
        }
        guard p[n - 1].code == RET | K || p[n - 1].code == RET | A else { throw .EINVAL }
        var masks = [UInt16](repeating: 0xffff, count: n)
        var valid: UInt16 = 0
        for (pc, ins) in p.enumerated() {
            valid &= masks[pc]
            switch ins.code {
            case ST, STX: valid |= 1 << UInt16(ins.k)
            case LD | MEM, LDX | MEM: if valid & (1 << UInt16(ins.k)) == 0 { throw .EINVAL }
            case JMP | JA:
                masks[pc + 1 + Int(ins.k)] &= valid
                valid = 0xffff
            default:
                if isConditionalJump(ins.code) {
                    masks[pc + 1 + Int(ins.jt)] &= valid
                    masks[pc + 1 + Int(ins.jf)] &= valid
                    valid = 0xffff
                }
            }
        }
    }

    /// Runs the verified program over `data` (the 64 bytes of seccomp_data)
    /// and returns what its RET gives. Loads are native-endian, as seccomp's
    /// translation reads the context; a division by a zero X returns 0, and
    /// shifts by X use its low five bits, as the x86-64 JIT does.
    public func run(_ data: SeccompData) -> UInt32 {
        var a: UInt32 = 0, x: UInt32 = 0
        var mem = (UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0),
                   UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0))
        var pc = 0
        return instructions.withUnsafeBufferPointer { prog in
            withUnsafeMutableBytes(of: &mem) { m in
                while pc < prog.count {
                    let ins = prog[pc]
                    pc += 1
                    let code = ins.code
                    switch code & 0x07 {
                    case Self.RET:
                        return code & Self.A != 0 ? a : ins.k
                    case Self.LD:
                        switch code {
                        case Self.LD | Self.W | Self.ABS: a = data.word(at: Int(ins.k))
                        case Self.LD | Self.IMM: a = ins.k
                        default: a = m.load(fromByteOffset: Int(ins.k) * 4, as: UInt32.self)   // LD | MEM
                        }
                    case Self.LDX:
                        x = code == Self.LDX | Self.IMM ? ins.k : m.load(fromByteOffset: Int(ins.k) * 4, as: UInt32.self)
                    case Self.ST:
                        m.storeBytes(of: a, toByteOffset: Int(ins.k) * 4, as: UInt32.self)
                    case Self.STX:
                        m.storeBytes(of: x, toByteOffset: Int(ins.k) * 4, as: UInt32.self)
                    case Self.MISC:
                        if code & 0xf8 == Self.TXA { a = x } else { x = a }
                    case Self.ALU:
                        let src = code & Self.X != 0 ? x : ins.k
                        switch code & 0xf0 {
                        case Self.ADD: a = a &+ src
                        case Self.SUB: a = a &- src
                        case Self.MUL: a = a &* src
                        case Self.DIV:
                            if src == 0 { return 0 }
                            a = a / src
                        case Self.AND: a &= src
                        case Self.OR: a |= src
                        case Self.XOR: a ^= src
                        case Self.LSH: a = a << (src & 31)
                        case Self.RSH: a = a >> (src & 31)
                        default: a = 0 &- a   // NEG
                        }
                    default:   // JMP
                        let op = code & 0xf0
                        if op == Self.JA { pc += Int(ins.k); continue }
                        let src = code & Self.X != 0 ? x : ins.k
                        let taken: Bool
                        switch op {
                        case Self.JEQ: taken = a == src
                        case Self.JGT: taken = a > src
                        case Self.JGE: taken = a >= src
                        default: taken = a & src != 0   // JSET
                        }
                        pc += Int(taken ? ins.jt : ins.jf)
                    }
                }
                return 0   // unreachable: the verifier ends every path with a RET
            }
        }
    }
}

/// `struct seccomp_data`: what a filter sees of a syscall.
public struct SeccompData: Sendable {
    public var nr: Int32
    public var arch: UInt32
    public var instructionPointer: UInt64
    public var args: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

    /// AUDIT_ARCH_X86_64 (EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE).
    public static let AUDIT_ARCH_X86_64: UInt32 = 0xc000_003e
    /// AUDIT_ARCH_I386: what an `int $0x80` call reports.
    public static let AUDIT_ARCH_I386: UInt32 = 0x4000_0003

    public init(nr: Int32, instructionPointer: UInt64, args: SyscallArguments) {
        self.nr = nr; arch = Self.AUDIT_ARCH_X86_64; self.instructionPointer = instructionPointer
        self.args = args.words
    }

    /// The 32-bit word at a verified offset (a multiple of 4 below 64).
    func word(at offset: Int) -> UInt32 {
        switch offset {
        case 0: return UInt32(bitPattern: nr)
        case 4: return arch
        default:
            let i = (offset - 8) / 8
            let v: UInt64
            switch i {
            case 0: v = instructionPointer
            case 1: v = args.0
            case 2: v = args.1
            case 3: v = args.2
            case 4: v = args.3
            case 5: v = args.4
            case 6: v = args.5
            default: v = 0
            }
            return offset & 4 == 0 ? UInt32(truncatingIfNeeded: v) : UInt32(truncatingIfNeeded: v >> 32)
        }
    }

    /// The 64 bytes, as a USER_NOTIF supervisor receives them.
    public var bytes: [UInt8] {
        var b = [UInt8](repeating: 0, count: Int(ClassicBPF.dataSize))
        for off in stride(from: 0, to: Int(ClassicBPF.dataSize), by: 4) { b.store(word(at: off), at: off) }
        return b
    }
}
