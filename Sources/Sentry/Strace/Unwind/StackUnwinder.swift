import Glibc
import Synchronization

/// `strace -k`: the guest's call stack at a syscall, unwound with the
/// `.eh_frame` CFI of each mapped ELF (read from guest memory, as the guest
/// loaded it), falling back to frame pointers where a module has none, and
/// named from the module's `.symtab` (or `.dynsym`) read from its host file.
/// Printed as strace prints it: ` > /lib/libc.so.6(__write+0x10) [0xf8350]`.
final class StackUnwinder: Sendable {
    struct Frame: Equatable {
        let pc: UInt64
        /// The mapped file's path, nil outside any file mapping.
        let module: String?
        let symbol: String?
        let symbolOffset: UInt64
        /// pc relative to the module's load bias (strace's bracketed number).
        let moduleOffset: UInt64

        /// strace's line for the frame.
        var text: String {
            guard let module else { return " > unexpected_backtracing_error [0x" + String(pc, radix: 16) + "]" }
            let where_ = symbol.map { "\($0)+0x" + String(symbolOffset, radix: 16) } ?? ""
            return " > \(module)(\(where_)) [0x" + String(moduleOffset, radix: 16) + "]"
        }
    }

    static let maxFrames = 256

    /// A loaded ELF: where its CFI is and its function symbols.
    final class Module: Sendable {
        let path: String
        /// Where its first mapping (file offset 0) starts: strace's offsets count from there.
        let base: UInt64
        /// What st_value and p_vaddr are added to (0 for a fixed-address executable).
        let bias: UInt64
        let ehFrameHdr: UInt64?
        /// eh_frame_hdr's sorted table: (first address, FDE address), absolute.
        let table: [(start: UInt64, fde: UInt64)]
        /// Function symbols by st_value (not biased), sorted.
        let symbols: [(value: UInt64, name: String)]

        init(path: String, base: UInt64, bias: UInt64, ehFrameHdr: UInt64?, table: [(start: UInt64, fde: UInt64)], symbols: [(value: UInt64, name: String)]) {
            self.path = path; self.base = base; self.bias = bias; self.ehFrameHdr = ehFrameHdr; self.table = table; self.symbols = symbols
        }

        func symbol(for pc: UInt64) -> (String, UInt64)? {
            let rel = pc &- bias
            var lo = 0, hi = symbols.count
            while lo < hi { let mid = (lo + hi) / 2; if symbols[mid].value <= rel { lo = mid + 1 } else { hi = mid } }
            guard lo > 0 else { return nil }
            let s = symbols[lo - 1]
            return (s.name, rel - s.value)
        }

        func fde(for pc: UInt64) -> UInt64? {
            var lo = 0, hi = table.count
            while lo < hi { let mid = (lo + hi) / 2; if table[mid].start <= pc { lo = mid + 1 } else { hi = mid } }
            return lo > 0 ? table[lo - 1].fde : nil
        }
    }

    private struct Key: Hashable { let device: UInt64, inode: UInt64, base: UInt64, path: String }
    private let modules = Mutex<[Key: Module]>([:])

    init() {}

    /// The frames of `task` as it stands (at a syscall's entry: rip is just after the syscall instruction).
    func frames(_ task: Task) -> [Frame] {
        let vmas = task.mm.vmas
        let r = task.regs.raw
        var regs: [UInt64?] = [r.rax, r.rdx, r.rcx, r.rbx, r.rsi, r.rdi, r.rbp, r.rsp,
                               r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip]
        func read(_ a: UInt64) -> UInt64? { try? task.mm.read(GuestAddress(a), as: UInt64.self) }
        var out: [Frame] = []
        var first = true
        while out.count < Self.maxFrames, let pc = regs[CallFrameInfo.returnAddress], pc != 0 {
            // A return address points after the call: look up the call itself.
            let lookup = first ? pc : pc &- 1
            let module = self.module(containing: lookup, vmas, task)
            if let module {
                let sym = module.symbol(for: lookup)
                out.append(Frame(pc: pc, module: module.path, symbol: sym?.0, symbolOffset: sym.map { $0.1 &+ (pc &- lookup) } ?? 0,
                                 moduleOffset: pc &- module.base))
            } else {
                out.append(Frame(pc: pc, module: nil, symbol: nil, symbolOffset: 0, moduleOffset: 0))
                break
            }
            let oldSP = regs[CallFrameInfo.rsp] ?? 0
            guard let next = step(regs, lookup: lookup, module, read: read) else { break }
            // The stack grows down: a caller's frame is above; anything else is a loop or garbage.
            guard let sp = next[CallFrameInfo.rsp], sp > oldSP || (first && sp >= oldSP) else { break }
            regs = next
            first = false
        }
        return out
    }

    /// The caller's registers: by the FDE covering `lookup`, else by rbp.
    private func step(_ regs: [UInt64?], lookup: UInt64, _ module: Module?, read: (UInt64) -> UInt64?) -> [UInt64?]? {
        if let module, let fdeAddr = module.fde(for: lookup), let row = row(at: lookup, fde: fdeAddr, read: read) {
            let cfa: UInt64?
            switch row.row.cfa {
            case .register(let n, let off): cfa = n < regs.count ? regs[n].map { $0 &+ UInt64(bitPattern: off) } : nil
            case .expression(let e): cfa = CallFrameInfo.evaluate(e, registers: regs, read: read)
            }
            guard let cfa else { return nil }
            var next = regs
            for n in 0..<CallFrameInfo.registerCount {
                switch row.row.rules[n] {
                case .same: break
                case .undefined: next[n] = nil
                case .offset(let off): next[n] = read(cfa &+ UInt64(bitPattern: off))
                case .valueOffset(let off): next[n] = cfa &+ UInt64(bitPattern: off)
                case .register(let m): next[n] = regs[m]
                case .expression(let e): next[n] = CallFrameInfo.evaluate(e, registers: regs, initial: cfa, read: read).flatMap(read)
                case .valueExpression(let e): next[n] = CallFrameInfo.evaluate(e, registers: regs, initial: cfa, read: read)
                }
            }
            // The return address register's rule gives the caller's pc.
            let ra = row.returnRegister < regs.count ? next[row.returnRegister] : nil
            next[CallFrameInfo.returnAddress] = ra
            next[CallFrameInfo.rsp] = cfa
            return next
        }
        // No CFI: the frame-pointer chain, if rbp looks like one.
        guard let bp = regs[CallFrameInfo.rbp], let sp = regs[CallFrameInfo.rsp], bp >= sp, bp & 7 == 0,
              let ra = read(bp &+ 8), let savedBP = read(bp) else { return nil }
        var next = regs
        next[CallFrameInfo.rbp] = savedBP
        next[CallFrameInfo.rsp] = bp &+ 16
        next[CallFrameInfo.returnAddress] = ra
        return next
    }

    /// The CFA row for `pc` from the FDE at `fdeAddr` and its CIE.
    private func row(at pc: UInt64, fde fdeAddr: UInt64, read: (UInt64) -> UInt64?) -> (row: CallFrameInfo.Row, returnRegister: Int)? {
        guard let fde = record(at: fdeAddr, read: read), fde.bytes.count >= 4 else { return nil }
        var r = CallFrameInfo.Reader(bytes: fde.bytes, base: fde.address)
        guard let ciePointer = r.fixed(UInt32.self), ciePointer != 0 else { return nil }
        let cieAddr = fde.address &- UInt64(ciePointer)
        guard let cieRec = record(at: cieAddr, read: read) else { return nil }
        var cr = CallFrameInfo.Reader(bytes: cieRec.bytes, base: cieRec.address)
        guard cr.fixed(UInt32.self) == 0, let cie = CallFrameInfo.parseCIE(&cr) else { return nil }
        guard let start = r.pointer(cie.pointerEncoding), let range = r.pointer(cie.pointerEncoding & 0x0f),
              pc >= start, pc &- start < range else { return nil }
        if cie.hasAugmentationData { guard let len = r.uleb() else { return nil }; r.pos += Int(min(len, 1 << 16)) }
        guard r.pos <= fde.bytes.count else { return nil }
        var initial = CallFrameInfo.Row()
        guard CallFrameInfo.run(cie.initialInstructions, cie, row: &initial, initial: nil, start: start, pc: .max) else { return nil }
        var row = initial
        guard CallFrameInfo.run(Array(fde.bytes[r.pos...]), cie, row: &row, initial: initial, start: start, pc: pc) else { return nil }
        return (row, cie.returnRegister)
    }

    /// A CIE or FDE's bytes after its length field, and their address.
    private func record(at addr: UInt64, read: (UInt64) -> UInt64?) -> (bytes: [UInt8], address: UInt64)? {
        guard let word = read(addr) else { return nil }
        var length = word & 0xffff_ffff, start = addr &+ 4
        if length == 0xffff_ffff { guard let l = read(addr &+ 4) else { return nil }; length = l; start = addr &+ 12 }
        guard length > 0, length < 1 << 20 else { return nil }
        var bytes = [UInt8](); bytes.reserveCapacity(Int(length))
        var a = start
        while UInt64(bytes.count) < length {
            guard let w = read(a) else { return nil }
            withUnsafeBytes(of: w.littleEndian) { bytes += $0 }
            a &+= 8
        }
        return (Array(bytes.prefix(Int(length))), start)
    }

    // MARK: Modules

    /// The ELF mapped at `pc`, loaded (its header is at the mapping of file offset 0).
    private func module(containing pc: UInt64, _ vmas: [VMA], _ task: Task) -> Module? {
        guard let v = vmas.first(where: { $0.range.contains(GuestAddress(pc)) }), case .file(let file, _) = v.backing else { return nil }
        // Each mmap of a file may have its own mapping object: the same file is the same device and inode.
        // The module's header is in the nearest mapping of offset 0 at or below pc.
        guard let head = vmas.last(where: { v in
            guard v.start.rawValue <= pc, case .file(let f, offset: 0) = v.backing else { return false }
            return f === file || (f.device == file.device && f.inode == file.inode)
        }) else { return nil }
        let key = Key(device: file.device, inode: file.inode, base: head.start.rawValue, path: file.path)
        if let m = modules.withLock({ $0[key] }) { return m }
        guard let m = load(file, base: head.start.rawValue, task) else { return nil }
        modules.withLock { cache in
            if cache.count >= 256 { cache.removeAll() }
            cache[key] = m
        }
        return m
    }

    private func load(_ file: FileMapping, base: UInt64, _ task: Task) -> Module? {
        guard let ehdr = try? task.mm.copyIn(GuestAddress(base), 64), ehdr.starts(with: [0x7f, 0x45, 0x4c, 0x46]) else { return nil }
        func u16(_ b: [UInt8], _ o: Int) -> UInt64 { UInt64(b[o]) | UInt64(b[o + 1]) << 8 }
        func u32(_ b: [UInt8], _ o: Int) -> UInt64 { u16(b, o) | u16(b, o + 2) << 16 }
        func u64(_ b: [UInt8], _ o: Int) -> UInt64 { u32(b, o) | u32(b, o + 4) << 32 }
        let phoff = u64(ehdr, 32), phentsize = Int(u16(ehdr, 54)), phnum = Int(u16(ehdr, 56))
        guard phentsize >= 56, phnum > 0, phnum <= 512,
              let ph = try? task.mm.copyIn(GuestAddress(base &+ phoff), phentsize * phnum) else { return nil }
        var bias: UInt64?, hdr: (addr: UInt64, size: UInt64)?
        for i in 0..<phnum {
            let o = i * phentsize
            let type = u32(ph, o), offset = u64(ph, o + 8), vaddr = u64(ph, o + 16), memsz = u64(ph, o + 40)
            if type == 1 && bias == nil { bias = base &- (vaddr &- offset) }   // the first PT_LOAD
            if type == 0x6474_e550 { hdr = (vaddr, memsz) }                 // PT_GNU_EH_FRAME
        }
        guard let bias else { return nil }
        var table: [(start: UInt64, fde: UInt64)] = []
        var hdrAddr: UInt64?
        if let hdr, hdr.size >= 12, hdr.size < 1 << 24, let bytes = try? task.mm.copyIn(GuestAddress(bias &+ hdr.addr), Int(hdr.size)) {
            let at = bias &+ hdr.addr
            hdrAddr = at
            var r = CallFrameInfo.Reader(bytes: bytes, base: at)
            if r.u8() == 1, let ptrEnc = r.u8(), let countEnc = r.u8(), let tableEnc = r.u8(),
               r.pointer(ptrEnc, dataBase: at) != nil, let count = r.pointer(countEnc, dataBase: at) {
                for _ in 0..<min(count, 1 << 20) {
                    guard let s = r.pointer(tableEnc, dataBase: at), let f = r.pointer(tableEnc, dataBase: at) else { break }
                    table.append((s, f))
                }
            }
        }
        return Module(path: file.path, base: base, bias: bias, ehFrameHdr: hdrAddr, table: table, symbols: Self.symbols(file))
    }

    /// Function symbols from the host file: .symtab if it has one, else .dynsym.
    static func symbols(_ file: FileMapping) -> [(value: UInt64, name: String)] {
        guard let mapped = file as? MappedFile else { return [] }
        let fd = mapped.hostFD
        func pread(_ off: UInt64, _ n: Int) -> [UInt8]? {
            guard n >= 0, n <= 256 << 20 else { return nil }
            var b = [UInt8](repeating: 0, count: n)
            let got = b.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress, n, off_t(truncatingIfNeeded: off)) }
            return got == n ? b : nil
        }
        func u16(_ b: [UInt8], _ o: Int) -> UInt64 { UInt64(b[o]) | UInt64(b[o + 1]) << 8 }
        func u32(_ b: [UInt8], _ o: Int) -> UInt64 { u16(b, o) | u16(b, o + 2) << 16 }
        func u64(_ b: [UInt8], _ o: Int) -> UInt64 { u32(b, o) | u32(b, o + 4) << 32 }
        guard let eh = pread(0, 64), eh.starts(with: [0x7f, 0x45, 0x4c, 0x46]) else { return [] }
        let shoff = u64(eh, 40), shentsize = Int(u16(eh, 58)), shnum = Int(u16(eh, 60))
        guard shentsize >= 64, shnum > 0, shnum < 1 << 16, let sh = pread(shoff, shentsize * shnum) else { return [] }
        func section(_ i: Int) -> (type: UInt64, offset: UInt64, size: UInt64, link: Int) {
            let o = i * shentsize
            return (u32(sh, o + 4), u64(sh, o + 24), u64(sh, o + 32), Int(u32(sh, o + 40)))
        }
        let all = (0..<shnum).map(section)
        guard let symIndex = all.firstIndex(where: { $0.type == 2 }) ?? all.firstIndex(where: { $0.type == 11 }) else { return [] }
        let symtab = all[symIndex]
        guard symtab.link < shnum, symtab.size < 128 << 20, let syms = pread(symtab.offset, Int(symtab.size)) else { return [] }
        let strtab = all[symtab.link]
        guard strtab.size < 128 << 20, let strs = pread(strtab.offset, Int(strtab.size)) else { return [] }
        var out: [(value: UInt64, name: String)] = []
        for o in stride(from: 0, to: syms.count - 23, by: 24) {
            let type = syms[o + 4] & 0xf, shndx = u16(syms, o + 6), value = u64(syms, o + 8)
            guard type == 2 || type == 10, shndx != 0, value != 0 else { continue }   // STT_FUNC, STT_GNU_IFUNC
            let nameOff = Int(u32(syms, o))
            guard nameOff < strs.count, let end = strs[nameOff...].firstIndex(of: 0) else { continue }
            out.append((value, String(decoding: strs[nameOff..<end], as: UTF8.self)))
        }
        // One name per address: the first in the table, as a sort keeps equal keys' order.
        out.sort { $0.value < $1.value }
        var unique: [(value: UInt64, name: String)] = []
        for s in out where unique.last?.value != s.value { unique.append(s) }
        return unique
    }
}
