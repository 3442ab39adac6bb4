import CSwitch
import Glibc

/// An executable file and its validated headers.
public struct ProgramFile: Sendable {
    public let file: any FileMapping
    public let image: ELFImage
    /// Where the walk found it: /proc/PID/exe's place after the exec.
    public let location: Location?
    public init(file: any FileMapping, image: ELFImage, location: Location? = nil) {
        self.file = file; self.image = image; self.location = location
    }
}

/// Loads an ELF program, and its interpreter if it names one, into a fresh
/// memory manager and builds the initial stack, as Linux's load_elf_binary,
/// load_elf_interp and create_elf_tables do.
public struct Loader {
    /// Where Linux puts a PIE (ELF_ET_DYN_BASE, without randomization); the
    /// sentry puts a static-pie there too.
    public static let pieBase: UInt64 = 0x5555_5555_4000

    public struct Result: Sendable {
        public var entry: GuestAddress
        public var stackPointer: GuestAddress
        public var brk: GuestAddress
        public var auxv: [(UInt64, UInt64)]
    }

    /// Maps `program`'s segments (and `interpreter`'s, where the program
    /// names one) and the stack. Entry is the interpreter's when there is one;
    /// the program's own entry and headers reach it through the auxv.
    public static func load(_ program: ProgramFile, interpreter: ProgramFile? = nil, into mm: MemoryManager,
                            argv: [String], envp: [String], execfn: String, ids: IDs = .sentrys) throws(Errno) -> Result {
        let image = program.image
        let bias = image.isPIE ? pieBase &- (image.loads[0].vaddr & ~(GuestAddress.pageSize - 1)) : 0
        let highest = try mapSegments(image, file: program.file, bias: bias, into: mm)
        mm.setBrk(start: GuestAddress(highest))

        // The interpreter goes where mmap would put it (top-down below the
        // stack), its whole span reserved first so its segments keep their
        // distances; the gaps between them are then left unmapped, as Linux does.
        var interpBase: UInt64 = 0
        let programEntry = bias &+ image.entry   // a wild e_entry faults in the guest, as on Linux
        var entry = programEntry
        if let interpreter {
            let interp = interpreter.image
            var interpBias: UInt64 = 0
            if interp.isPIE {
                let first = interp.loads[0].vaddr & ~(GuestAddress.pageSize - 1)
                let span = interp.loads.map { $0.vaddr + $0.memSize }.max()! - first
                let base = try mm.map(hint: .null, length: span, prot: [], flags: [.private, .anonymous])
                interpBias = base.rawValue &- first
                try mm.unmap(base, length: span)
            }
            _ = try mapSegments(interp, file: interpreter.file, bias: interpBias, into: mm)
            interpBase = interpBias
            entry = interpBias &+ interp.entry
        }

        // Program headers as the guest sees them: PT_PHDR, or inside the first segment mapping them.
        var phdr = bias &+ image.phoff
        if let p = image.segments.first(where: { $0.type == ProgramHeader.phdr }) {
            phdr = bias &+ p.vaddr
        } else if let l = image.loads.first(where: { $0.offset <= image.phoff && image.phoff - $0.offset < $0.fileSize }) {
            phdr = bias &+ l.vaddr &+ (image.phoff - l.offset)
        }

        let layout = mm.layout
        let stackBottom = layout.stackTop - layout.stackSize
        let stackProt: Prot = image.executableStack ? [.read, .write, .exec] : .rw
        _ = try mm.map(hint: stackBottom, length: layout.stackSize, prot: stackProt, flags: [.private, .fixed, .anonymous, .growsDown],
                       name: "[stack]")

        var stack = StackBuilder(top: layout.stackTop, mm: mm)
        stack.pushBytes([0, 0, 0, 0, 0, 0, 0, 0])           // end marker
        let execfnAddr = stack.pushString(execfn)
        var envAddrs: [GuestAddress] = []
        for e in envp.reversed() { envAddrs.append(stack.pushString(e)) }
        envAddrs.reverse()
        var argAddrs: [GuestAddress] = []
        for a in argv.reversed() { argAddrs.append(stack.pushString(a)) }
        argAddrs.reverse()
        let platformAddr = stack.pushString("x86_64")
        var random = [UInt8](repeating: 0, count: 16)
        _ = random.withUnsafeMutableBytes { getrandom($0.baseAddress, 16, 0) }
        let randomAddr = stack.pushBytes(random)

        let auxv: [(UInt64, UInt64)] = [
            (51, UInt64(getauxval(51))),            // AT_MINSIGSTKSZ
            (16, UInt64(getauxval(16))),            // AT_HWCAP: the CPU's, as Linux reports it
            (6, GuestAddress.pageSize),     // AT_PAGESZ
            (17, UInt64(sysconf(Int32(_SC_CLK_TCK)))), // AT_CLKTCK
            (3, phdr),                      // AT_PHDR
            (4, 56),                        // AT_PHENT
            (5, UInt64(image.segments.count)), // AT_PHNUM
            (7, interpBase),                // AT_BASE: where the interpreter is, 0 without one
            (8, 0),                         // AT_FLAGS
            (9, programEntry),              // AT_ENTRY: the program's, even when the interpreter starts
            (11, UInt64(ids.uid)), (12, UInt64(ids.euid)),   // AT_UID, AT_EUID
            (13, UInt64(ids.gid)), (14, UInt64(ids.egid)),   // AT_GID, AT_EGID
            (23, 0),                        // AT_SECURE
            (25, randomAddr.rawValue),      // AT_RANDOM
            (26, UInt64(getauxval(26))),            // AT_HWCAP2
            (31, execfnAddr.rawValue),      // AT_EXECFN
            (15, platformAddr.rawValue),    // AT_PLATFORM
            (0, 0),                         // AT_NULL
        ]
        // argc, argv[], NULL, envp[], NULL, auxv pairs: sp ends 16-byte aligned.
        let words = 1 + argAddrs.count + 1 + envAddrs.count + 1 + auxv.count * 2
        stack.alignDown(16)
        if words % 2 == 1 { stack.pushBytes([UInt8](repeating: 0, count: 8)) }
        var table: [UInt64] = [UInt64(argAddrs.count)]
        table += argAddrs.map(\.rawValue) + [0]
        table += envAddrs.map(\.rawValue) + [0]
        for (k, v) in auxv { table += [k, v] }
        let sp = stack.pushBytes(table.flatMap { w in (0..<8).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } })
        try stack.flush()
        return Result(entry: GuestAddress(entry), stackPointer: sp, brk: GuestAddress(highest), auxv: auxv)
    }

    /// Maps the PT_LOAD segments of `image` at `bias`; returns the end of the
    /// highest. A bias below a segment's vaddr wraps (`&+`); ELFImage has
    /// checked each segment fits below the user address space, so the sums
    /// land where Linux's unsigned arithmetic puts them, and mm.map refuses
    /// what lies beyond the guest's top.
    private static func mapSegments(_ image: ELFImage, file: any FileMapping, bias: UInt64, into mm: MemoryManager) throws(Errno) -> UInt64 {
        var highest: UInt64 = 0
        for seg in image.loads {
            let start = GuestAddress(bias &+ seg.vaddr).pageDown
            let fileEnd = GuestAddress(bias &+ seg.vaddr &+ seg.fileSize)
            guard let memEnd = GuestAddress(bias &+ seg.vaddr &+ seg.memSize).pageUp, memEnd >= start else { throw .ENOMEM }
            let fileOffset = seg.offset & ~(GuestAddress.pageSize - 1)
            // File-backed pages: the whole pages of the file the segment covers.
            let filePagesEnd = min(fileEnd.pageUp!, memEnd)
            if filePagesEnd > start {
                // Read-only pages nobody writes (no bss to clear in them) can be
                // shared with every other exec of the same file.
                let clearsBSS = seg.memSize > seg.fileSize && fileEnd < filePagesEnd
                _ = try mm.map(hint: start, length: filePagesEnd - start, prot: seg.prot, flags: [.private, .fixed],
                               file: file, fileOffset: fileOffset, cacheable: !clearsBSS)
                // The bytes after p_filesz in the last file page are bss: zero them.
                if seg.memSize > seg.fileSize, fileEnd < filePagesEnd {
                    for b in try mm.buffers(fileEnd, Int(filePagesEnd - fileEnd), write: false) {
                        memset(b.baseAddress!, 0, b.count)
                    }
                }
            }
            // The rest of bss: anonymous pages.
            if memEnd > filePagesEnd {
                _ = try mm.map(hint: filePagesEnd, length: memEnd - filePagesEnd, prot: seg.prot, flags: [.private, .fixed, .anonymous])
            }
            highest = max(highest, memEnd.rawValue)
        }
        return highest
    }
}

/// Writes downward from the top of the guest stack: the bytes are gathered
/// here and copied in one step by `flush` (an environment's strings were a
/// copy each, every one a walk of the mm under its lock).
struct StackBuilder {
    private(set) var sp: GuestAddress
    let top: GuestAddress
    let mm: MemoryManager
    /// What was pushed, and where.
    private var pushed: [(GuestAddress, [UInt8])] = []
    init(top: GuestAddress, mm: MemoryManager) { sp = top; self.top = top; self.mm = mm }

    @discardableResult
    mutating func pushBytes(_ b: [UInt8]) -> GuestAddress {
        sp = sp - UInt64(b.count)
        pushed.append((sp, b))
        return sp
    }
    mutating func pushString(_ s: String) -> GuestAddress {
        pushBytes(s.rawBytes + [0])
    }
    /// Copies [sp, top) into the stack; EFAULT, as the copies would have
    /// been, when it reaches below the stack's mapping.
    func flush() throws(Errno) {
        let length = top - sp
        guard length <= mm.layout.stackSize else { throw .EFAULT }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        for (at, b) in pushed {
            let from = Int(at - sp)
            bytes.replaceSubrange(from..<from + b.count, with: b)
        }
        try mm.copyOut(sp, bytes)
    }
    mutating func alignDown(_ n: UInt64) { sp = GuestAddress(sp.rawValue & ~(n - 1)) }
}
