import CSwitch
import Glibc

/// A seccomp filter for the host kernel (the sentry's own confinement, a
/// stub's filter), compiled here in a few microseconds instead of by
/// libseccomp, whose rule database and optimiser cost about 1 ms of every
/// `sentry run` (a sixth of hello's start-up, by callgrind).
///
/// The program is the one libseccomp makes with `SCMP_FLTATR_CTL_OPTIMIZE` 2:
/// the architecture check (anything but x86-64 takes `badArch`), x32 numbers
/// (bit 30) take `badArch` too, then a binary search on the syscall number
/// down to groups of a few numbers tested in a row; a number's block returns
/// its action at once or tests argument comparisons (64-bit: high word, then
/// low word), first match wins; every miss returns `defaultAction`.
struct HostFilter {
    struct Rule {
        var nr: Int32
        /// The argument compared, or nil: the call with any arguments.
        var arg: Int32?
        /// Compared as `arg & mask == value & mask`; a mask of 0 means all bits.
        var mask: UInt64 = 0
        var value: UInt64 = 0
        var action: UInt32
    }

    var defaultAction: UInt32
    var badArch: UInt32
    var rules: [Rule]

    /// AUDIT_ARCH_X86_64, and the x32 ABI's bit in a syscall number.
    static let archX8664: UInt32 = 0xc000_003e
    static let x32Bit: UInt32 = 0x4000_0000
    /// Numbers tested in a row at the bottom of the search.
    static let leafSize = 4

    typealias I = ClassicBPF.Instruction
    private static func stmt(_ code: UInt16, _ k: UInt32) -> I { I(code: code, jt: 0, jf: 0, k: k) }
    private static func jump(_ code: UInt16, _ k: UInt32, _ jt: Int, _ jf: Int) -> I {
        // Block bodies are at most a few dozen instructions (the longest is
        // ptrace's eleven requests); longer jumps go through BPF_JA.
        precondition(jt <= 255 && jf <= 255, "host filter jump too far")
        return I(code: code, jt: UInt8(jt), jf: UInt8(jf), k: k)
    }
    private static let loadWord = ClassicBPF.LD | ClassicBPF.W | ClassicBPF.ABS
    private static let ret = ClassicBPF.RET | ClassicBPF.K
    private static let jeq = ClassicBPF.JMP | ClassicBPF.JEQ | ClassicBPF.K
    private static let jge = ClassicBPF.JMP | ClassicBPF.JGE | ClassicBPF.K

    func compile() -> [ClassicBPF.Instruction] {
        // Rules grouped by number (unsigned, the order the search compares
        // in), each number's in the order given: one UInt64 key per rule,
        // number above position, put in order by insertion. The standard
        // library's sort of more than 20 elements keeps its runs in a
        // [Range<Int>], whose metadata's first instantiation checks
        // `Int: Comparable` by a scan of every conformance record of the
        // static binary: ~0.1 ms of every start, for ~200 keys.
        var keys = rules.indices.map { UInt64(UInt32(bitPattern: rules[$0].nr)) << 32 | UInt64($0) }
        for i in keys.indices.dropFirst() {
            let k = keys[i]
            var j = i
            while j > 0, keys[j - 1] > k { keys[j] = keys[j - 1]; j -= 1 }
            keys[j] = k
        }
        var groups: [(nr: UInt32, rules: [Rule])] = []
        for k in keys {
            let r = rules[Int(truncatingIfNeeded: k & 0xffff_ffff)]
            if let last = groups.last, last.nr == UInt32(bitPattern: r.nr) { groups[groups.count - 1].rules.append(r) }
            else { groups.append((UInt32(bitPattern: r.nr), [r])) }
        }
        var out: [I] = [
            Self.stmt(Self.loadWord, 4),                              // seccomp_data.arch
            Self.jump(Self.jeq, Self.archX8664, 1, 0),
            Self.stmt(Self.ret, badArch),
            Self.stmt(Self.loadWord, 0),                              // seccomp_data.nr
            Self.jump(Self.jge, Self.x32Bit, 0, 1),
            Self.stmt(Self.ret, badArch),
        ]
        out += search(groups[...])
        return out
    }

    /// The search over `groups` (sorted), entered with the number in A;
    /// every path ends in a return.
    private func search(_ groups: ArraySlice<(nr: UInt32, rules: [Rule])>) -> [I] {
        if groups.count <= Self.leafSize {
            var out: [I] = []
            for g in groups {
                let body = block(g.rules)
                out.append(Self.jump(Self.jeq, g.nr, 0, body.count))
                out += body
            }
            out.append(Self.stmt(Self.ret, defaultAction))
            return out
        }
        let mid = groups.startIndex + groups.count / 2
        let low = search(groups[..<mid]), high = search(groups[mid...])
        // At or above the middle number: the BPF_JA over the lower half.
        return [Self.jump(Self.jge, groups[mid].nr, 0, 1), Self.stmt(ClassicBPF.JMP | ClassicBPF.JA, UInt32(low.count))]
            + low + high
    }

    /// One number's rules; A may be overwritten (every path returns).
    private func block(_ rules: [Rule]) -> [I] {
        if let any = rules.first(where: { $0.arg == nil }) { return [Self.stmt(Self.ret, any.action)] }
        var out: [I] = []
        for r in rules {
            guard let arg = r.arg else { continue }
            let lo = UInt32(16 + 8 * arg), hi = lo + 4
            let mask = r.mask == 0 ? UInt64.max : r.mask
            let mhi = UInt32(truncatingIfNeeded: mask >> 32), mlo = UInt32(truncatingIfNeeded: mask)
            let vhi = UInt32(truncatingIfNeeded: r.value >> 32) & mhi, vlo = UInt32(truncatingIfNeeded: r.value) & mlo
            let and = ClassicBPF.ALU | ClassicBPF.AND | ClassicBPF.K
            var low: [I] = [Self.stmt(Self.loadWord, lo)]
            if mlo != .max { low.append(Self.stmt(and, mlo)) }
            low += [Self.jump(Self.jeq, vlo, 0, 1), Self.stmt(Self.ret, r.action)]
            out.append(Self.stmt(Self.loadWord, hi))
            if mhi != .max { out.append(Self.stmt(and, mhi)) }
            out.append(Self.jump(Self.jeq, vhi, 0, low.count))
            out += low
        }
        out.append(Self.stmt(Self.ret, defaultAction))
        return out
    }

    /// Loads `program` on the calling thread, or with `allThreads` on every
    /// thread of the process (SECCOMP_FILTER_FLAG_TSYNC), after setting
    /// no_new_privs (an unprivileged process needs it). 0 or an errno.
    static func install(_ program: [ClassicBPF.Instruction], allThreads: Bool) -> Int32 {
        program.withUnsafeBytes { p in
            Int32(truncatingIfNeeded: -sw_install_filter(p.baseAddress, UInt16(program.count), allThreads ? 1 : 0))
        }
    }
}
