/// DWARF call frame information as `.eh_frame` holds it (the LSB's
/// "Exception Frames" and DWARF 4 §6.4): the CIE/FDE records and the CFA
/// program that says, at each instruction of a function, where the caller's
/// frame (CFA) is and where each register was saved. Only what unwinding a
/// stack for a trace needs: no personality routines, no LSDA.
enum CallFrameInfo {
    /// x86-64 DWARF register numbers: rax rdx rcx rbx rsi rdi rbp rsp r8-r15, then the return address.
    static let rbp = 6, rsp = 7, returnAddress = 16, registerCount = 17

    /// Where a register's caller value is.
    enum Rule {
        case same
        case undefined
        case offset(Int64)          // saved at CFA + n
        case valueOffset(Int64)     // is CFA + n
        case register(Int)          // is in another register
        case expression([UInt8])    // saved at the address the expression computes
        case valueExpression([UInt8])
    }

    enum CFARule {
        case register(Int, Int64)
        case expression([UInt8])
    }

    /// What the CFA program says at one address.
    struct Row {
        var cfa: CFARule = .register(rsp, 8)
        var rules = [Rule](repeating: .same, count: registerCount)
    }

    /// A little-endian reader over bytes read from the guest.
    struct Reader {
        let bytes: [UInt8]
        var pos = 0
        /// The guest address of bytes[0] (for pc-relative pointers).
        let base: UInt64

        var atEnd: Bool { pos >= bytes.count }

        mutating func u8() -> UInt8? { guard pos < bytes.count else { return nil }; defer { pos += 1 }; return bytes[pos] }
        mutating func fixed<T: FixedWidthInteger>(_: T.Type) -> T? {
            let n = MemoryLayout<T>.size
            guard pos + n <= bytes.count else { return nil }
            var v: T = 0
            for i in 0..<n { v |= T(truncatingIfNeeded: bytes[pos + i]) << (8 * i) }
            pos += n
            return v
        }
        mutating func uleb() -> UInt64? {
            var result: UInt64 = 0, shift: UInt64 = 0
            while let b = u8() {
                if shift < 64 { result |= UInt64(b & 0x7f) << shift }
                shift += 7
                if b & 0x80 == 0 { return result }
            }
            return nil
        }
        mutating func sleb() -> Int64? {
            var result: Int64 = 0, shift: Int64 = 0
            while let b = u8() {
                if shift < 64 { result |= Int64(b & 0x7f) << shift }
                shift += 7
                if b & 0x80 == 0 {
                    if shift < 64 && b & 0x40 != 0 { result |= -(Int64(1) << shift) }
                    return result
                }
            }
            return nil
        }
        mutating func string() -> String? {
            guard let end = bytes[pos...].firstIndex(of: 0) else { return nil }
            defer { pos = end + 1 }
            return String(decoding: bytes[pos..<end], as: UTF8.self)
        }
        mutating func bytes(_ n: Int) -> [UInt8]? {
            guard n >= 0, pos + n <= bytes.count else { return nil }
            defer { pos += n }
            return Array(bytes[pos..<pos + n])
        }

        /// A DW_EH_PE-encoded pointer. `dataBase` is for datarel (eh_frame_hdr's table).
        mutating func pointer(_ encoding: UInt8, dataBase: UInt64 = 0) -> UInt64? {
            if encoding == 0xff { return 0 }   // DW_EH_PE_omit
            let here = base &+ UInt64(pos)
            let value: UInt64?
            switch encoding & 0x0f {
            case 0x00: value = fixed(UInt64.self)
            case 0x01: value = uleb()
            case 0x02: value = fixed(UInt16.self).map(UInt64.init)
            case 0x03: value = fixed(UInt32.self).map(UInt64.init)
            case 0x04: value = fixed(UInt64.self)
            case 0x09: value = sleb().map { UInt64(bitPattern: $0) }
            case 0x0a: value = fixed(Int16.self).map { UInt64(bitPattern: Int64($0)) }
            case 0x0b: value = fixed(Int32.self).map { UInt64(bitPattern: Int64($0)) }
            case 0x0c: value = fixed(Int64.self).map { UInt64(bitPattern: $0) }
            default: return nil
            }
            guard let v = value else { return nil }
            switch encoding & 0x70 {
            case 0x00: return v                      // absptr
            case 0x10: return here &+ v              // pcrel
            case 0x30: return dataBase &+ v          // datarel
            default: return nil
            }
        }
    }

    /// A CIE's parameters.
    struct CIE {
        var codeAlign: UInt64 = 1
        var dataAlign: Int64 = -8
        var returnRegister = returnAddress
        var pointerEncoding: UInt8 = 0
        var hasAugmentationData = false
        var initialInstructions: [UInt8] = []
    }

    static func parseCIE(_ r: inout Reader) -> CIE? {
        var cie = CIE()
        guard let version = r.u8(), version == 1 || version == 3, let aug = r.string() else { return nil }
        if aug.contains("eh") { _ = r.fixed(UInt64.self) }
        guard let ca = r.uleb(), let da = r.sleb() else { return nil }
        cie.codeAlign = ca; cie.dataAlign = da
        if version == 1 { guard let b = r.u8() else { return nil }; cie.returnRegister = Int(b) }
        else { guard let v = r.uleb() else { return nil }; cie.returnRegister = Int(min(v, 64)) }
        if aug.hasPrefix("z") {
            cie.hasAugmentationData = true
            guard let len = r.uleb() else { return nil }
            let end = r.pos + Int(min(len, 1 << 16))
            for c in aug.dropFirst() {
                switch c {
                case "R": guard let e = r.u8() else { return nil }; cie.pointerEncoding = e
                case "P": guard let e = r.u8(), r.pointer(e) != nil else { return nil }
                case "L": guard r.u8() != nil else { return nil }
                default: break   // "S" (signal frame), "B": no data
                }
            }
            r.pos = end
        }
        cie.initialInstructions = Array(r.bytes[min(r.pos, r.bytes.count)...])
        return cie
    }

    /// Runs CFA instructions from `start` (the FDE's first address) until the
    /// row for `pc`; `initial` is the CIE's row, for DW_CFA_restore.
    static func run(_ program: [UInt8], _ cie: CIE, row: inout Row, initial: Row?, start: UInt64, pc: UInt64) -> Bool {
        var r = Reader(bytes: program, base: 0)
        var loc = start
        var stack: [Row] = []
        func reg(_ n: UInt64) -> Int? { n < UInt64(registerCount) ? Int(n) : nil }
        while !r.atEnd {
            guard let op = r.u8() else { return false }
            let low = UInt64(op & 0x3f)
            switch op >> 6 {
            case 1:   // DW_CFA_advance_loc
                loc &+= low &* cie.codeAlign
                if loc > pc { return true }
                continue
            case 2:   // DW_CFA_offset
                guard let off = r.uleb() else { return false }
                if let n = reg(low) { row.rules[n] = .offset(Int64(bitPattern: off) &* cie.dataAlign) }
                continue
            case 3:   // DW_CFA_restore
                if let n = reg(low) { row.rules[n] = initial?.rules[n] ?? .same }
                continue
            default: break
            }
            switch op {
            case 0x00: break   // nop
            case 0x01:         // set_loc
                guard let a = r.pointer(cie.pointerEncoding) else { return false }
                loc = a
                if loc > pc { return true }
            case 0x02, 0x03, 0x04:   // advance_loc1/2/4
                let d: UInt64? = op == 0x02 ? r.u8().map(UInt64.init) : op == 0x03 ? r.fixed(UInt16.self).map(UInt64.init)
                    : r.fixed(UInt32.self).map(UInt64.init)
                guard let d else { return false }
                loc &+= d &* cie.codeAlign
                if loc > pc { return true }
            case 0x05:   // offset_extended
                guard let n = r.uleb(), let off = r.uleb() else { return false }
                if let n = reg(n) { row.rules[n] = .offset(Int64(bitPattern: off) &* cie.dataAlign) }
            case 0x06:   // restore_extended
                guard let n = r.uleb() else { return false }
                if let n = reg(n) { row.rules[n] = initial?.rules[n] ?? .same }
            case 0x07, 0x08:   // undefined, same_value
                guard let n = r.uleb() else { return false }
                if let n = reg(n) { row.rules[n] = op == 0x07 ? .undefined : .same }
            case 0x09:   // register
                guard let n = r.uleb(), let m = r.uleb() else { return false }
                if let n = reg(n), let m = reg(m) { row.rules[n] = .register(m) }
            case 0x0a: stack.append(row)   // remember_state
            case 0x0b:                     // restore_state: the whole row, CFA included (epilogues rely on it)
                guard let saved = stack.popLast() else { return false }
                row = saved
            case 0x0c:   // def_cfa
                guard let n = r.uleb(), let off = r.uleb() else { return false }
                row.cfa = .register(Int(min(n, 255)), Int64(bitPattern: off))
            case 0x0d:   // def_cfa_register
                guard let n = r.uleb() else { return false }
                if case .register(_, let off) = row.cfa { row.cfa = .register(Int(min(n, 255)), off) } else { row.cfa = .register(Int(min(n, 255)), 0) }
            case 0x0e:   // def_cfa_offset
                guard let off = r.uleb() else { return false }
                if case .register(let n, _) = row.cfa { row.cfa = .register(n, Int64(bitPattern: off)) }
            case 0x0f:   // def_cfa_expression
                guard let len = r.uleb(), let e = r.bytes(Int(min(len, 1 << 16))) else { return false }
                row.cfa = .expression(e)
            case 0x10, 0x16:   // expression, val_expression
                guard let n = r.uleb(), let len = r.uleb(), let e = r.bytes(Int(min(len, 1 << 16))) else { return false }
                if let n = reg(n) { row.rules[n] = op == 0x10 ? .expression(e) : .valueExpression(e) }
            case 0x11:   // offset_extended_sf
                guard let n = r.uleb(), let off = r.sleb() else { return false }
                if let n = reg(n) { row.rules[n] = .offset(off &* cie.dataAlign) }
            case 0x12:   // def_cfa_sf
                guard let n = r.uleb(), let off = r.sleb() else { return false }
                row.cfa = .register(Int(min(n, 255)), off &* cie.dataAlign)
            case 0x13:   // def_cfa_offset_sf
                guard let off = r.sleb() else { return false }
                if case .register(let n, _) = row.cfa { row.cfa = .register(n, off &* cie.dataAlign) }
            case 0x14, 0x15:   // val_offset, val_offset_sf
                guard let n = r.uleb() else { return false }
                let off: Int64? = op == 0x14 ? r.uleb().map { Int64(bitPattern: $0) &* cie.dataAlign } : r.sleb().map { $0 &* cie.dataAlign }
                guard let off else { return false }
                if let n = reg(n) { row.rules[n] = .valueOffset(off) }
            case 0x2e:   // GNU_args_size
                guard r.uleb() != nil else { return false }
            case 0x2f:   // GNU_negative_offset_extended
                guard let n = r.uleb(), let off = r.uleb() else { return false }
                if let n = reg(n) { row.rules[n] = .offset(-(Int64(bitPattern: off) &* cie.dataAlign)) }
            default:
                return false
            }
        }
        return true
    }

    /// A DWARF expression as CFI uses them (PLT entries' CFA, signal
    /// trampolines): registers, constants, arithmetic, comparisons and deref.
    static func evaluate(_ expr: [UInt8], registers: [UInt64?], initial: UInt64? = nil,
                         read: (UInt64) -> UInt64?) -> UInt64? {
        var r = Reader(bytes: expr, base: 0)
        var stack: [UInt64] = initial.map { [$0] } ?? []
        func pop() -> UInt64? { stack.popLast() }
        var steps = 0
        while !r.atEnd {
            steps += 1
            guard steps < 256, let op = r.u8() else { return nil }
            switch op {
            case 0x30...0x4f: stack.append(UInt64(op - 0x30))                 // lit0-31
            case 0x70...0x8f:                                                 // breg0-31
                guard let off = r.sleb(), Int(op - 0x70) < registers.count, let v = registers[Int(op - 0x70)] else { return nil }
                stack.append(v &+ UInt64(bitPattern: off))
            case 0x08: guard let v = r.u8() else { return nil }; stack.append(UInt64(v))
            case 0x09: guard let v = r.fixed(Int8.self) else { return nil }; stack.append(UInt64(bitPattern: Int64(v)))
            case 0x0a: guard let v = r.fixed(UInt16.self) else { return nil }; stack.append(UInt64(v))
            case 0x0b: guard let v = r.fixed(Int16.self) else { return nil }; stack.append(UInt64(bitPattern: Int64(v)))
            case 0x0c: guard let v = r.fixed(UInt32.self) else { return nil }; stack.append(UInt64(v))
            case 0x0d: guard let v = r.fixed(Int32.self) else { return nil }; stack.append(UInt64(bitPattern: Int64(v)))
            case 0x0e: guard let v = r.fixed(UInt64.self) else { return nil }; stack.append(v)
            case 0x10: guard let v = r.uleb() else { return nil }; stack.append(v)
            case 0x11: guard let v = r.sleb() else { return nil }; stack.append(UInt64(bitPattern: v))
            case 0x12: guard let v = stack.last else { return nil }; stack.append(v)          // dup
            case 0x13: guard pop() != nil else { return nil }                                  // drop
            case 0x16: guard stack.count >= 2 else { return nil }; stack.swapAt(stack.count - 1, stack.count - 2)
            case 0x06: guard let a = pop(), let v = read(a) else { return nil }; stack.append(v)   // deref
            case 0x23: guard let a = pop(), let c = r.uleb() else { return nil }; stack.append(a &+ c)   // plus_uconst
            case 0x1a, 0x1c, 0x1e, 0x21, 0x22, 0x24, 0x25, 0x27, 0x29...0x2e:
                guard let b = pop(), let a = pop() else { return nil }
                switch op {
                case 0x1a: stack.append(a & b)
                case 0x1c: stack.append(a &- b)
                case 0x1e: stack.append(a &* b)
                case 0x21: stack.append(a | b)
                case 0x22: stack.append(a &+ b)
                case 0x24: stack.append(b < 64 ? a << b : 0)
                case 0x25: stack.append(b < 64 ? a >> b : 0)
                case 0x27: stack.append(a ^ b)
                case 0x29: stack.append(a == b ? 1 : 0)
                case 0x2a: stack.append(Int64(bitPattern: a) >= Int64(bitPattern: b) ? 1 : 0)
                case 0x2b: stack.append(Int64(bitPattern: a) > Int64(bitPattern: b) ? 1 : 0)
                case 0x2c: stack.append(Int64(bitPattern: a) <= Int64(bitPattern: b) ? 1 : 0)
                case 0x2d: stack.append(Int64(bitPattern: a) < Int64(bitPattern: b) ? 1 : 0)
                default: stack.append(a != b ? 1 : 0)
                }
            default: return nil
            }
        }
        return stack.last
    }
}
