/// Why an executable can't be loaded. Each case is a distinct exit status of
/// the `sentry` command (see README).
public enum LoadError: Error, Equatable, CustomStringConvertible {
    case notFound(String)
    case unreadable(String, Errno)
    case notExecutable(String, String)
    case notELF(String)
    case truncated(String, String)
    case corrupt(String, String)
    case wrongArchitecture(String, String)
    /// The program's PT_INTERP names an interpreter that can't be loaded.
    indirect case interpreter(String, LoadError)

    public var description: String {
        switch self {
        case .notFound(let p): return "\(p): no such file"
        case .unreadable(let p, let e): return "\(p): cannot read: \(e.message)"
        case .notExecutable(let p, let why): return "\(p): cannot execute: Permission denied (\(why))"
        case .notELF(let p): return "\(p): not an ELF executable"
        case .truncated(let p, let what): return "\(p): truncated ELF file (\(what))"
        case .corrupt(let p, let what): return "\(p): corrupt ELF file (\(what))"
        case .wrongArchitecture(let p, let what): return "\(p): not an x86-64 executable (\(what))"
        case .interpreter(let p, let e): return "\(p): its interpreter \(e.description)"
        }
    }
}

/// One ELF64 program header.
public struct ProgramHeader: Sendable, Equatable {
    public static let load: UInt32 = 1, interp: UInt32 = 3, phdr: UInt32 = 6, gnuStack: UInt32 = 0x6474_e551
    public static let PF_X: UInt32 = 1, PF_W: UInt32 = 2, PF_R: UInt32 = 4
    public var type: UInt32
    public var flags: UInt32
    public var offset: UInt64
    public var vaddr: UInt64
    public var fileSize: UInt64
    public var memSize: UInt64
    public var align: UInt64

    /// PF_R/PF_W/PF_X as mmap protections.
    public var prot: Prot {
        var p: Prot = []
        if flags & Self.PF_R != 0 { p.insert(.read) }
        if flags & Self.PF_W != 0 { p.insert(.write) }
        if flags & Self.PF_X != 0 { p.insert(.exec) }
        return p
    }
}

/// A validated x86-64 ELF executable (ET_EXEC, or ET_DYN: a PIE, a static-pie
/// or an interpreter such as ld.so).
public struct ELFImage: Sendable {
    public static let ET_EXEC: UInt16 = 2, ET_DYN: UInt16 = 3
    public var type: UInt16
    public var entry: UInt64
    public var phoff: UInt64
    public var phentsize: UInt16
    public var segments: [ProgramHeader]
    /// PT_INTERP's path (the dynamic loader), nil for a static program.
    public var interpreter: String?
    /// sizeof(Elf64_Ehdr).
    public static let headerSize = 64
    public var isPIE: Bool { type == Self.ET_DYN }
    /// PT_GNU_STACK with PF_X asks for an executable stack; without the
    /// header x86-64 Linux gives a non-executable one too.
    public var executableStack: Bool {
        segments.first { $0.type == ProgramHeader.gnuStack }.map { $0.flags & ProgramHeader.PF_X != 0 } ?? false
    }
    public var loads: [ProgramHeader] { segments.filter { $0.type == ProgramHeader.load } }

    /// Parses and checks `data`, the start of a file of `fileSize` bytes
    /// (the whole file when nil); it must hold the headers. `path` names it in errors.
    public init(_ data: [UInt8], fileSize: Int? = nil, path: String) throws(LoadError) {
        let size = UInt64(fileSize ?? data.count)
        func u16(_ o: Int) -> UInt16 { UInt16(data[o]) | UInt16(data[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(data[o + $1]) << (8 * $1) } }
        func u64(_ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(data[o + $1]) << (8 * $1) } }

        guard data.count >= 4, data[0] == 0x7f, data[1] == 0x45, data[2] == 0x4c, data[3] == 0x46 else {
            throw .notELF(path)
        }
        guard data.count >= Self.headerSize else { throw .truncated(path, "ELF header is \(data.count) of 64 bytes") }
        guard data[4] == 2 else { throw .wrongArchitecture(path, data[4] == 1 ? "32-bit ELF" : "ELF class \(data[4])") }
        guard data[5] == 1 else { throw .wrongArchitecture(path, "big-endian ELF") }
        guard data[6] == 1 else { throw .corrupt(path, "ELF version \(data[6])") }
        let machine = u16(18)
        guard machine == 62 else { throw .wrongArchitecture(path, "e_machine \(machine)") }
        type = u16(16)
        guard type == Self.ET_EXEC || type == Self.ET_DYN else {
            throw .corrupt(path, type == 1 ? "a relocatable object, not an executable" : type == 4 ? "a core dump" : "e_type \(type)")
        }
        entry = u64(24)
        phoff = u64(32)
        phentsize = u16(54)
        let phnum = Int(u16(56))
        guard phentsize == 56 else { throw .corrupt(path, "e_phentsize \(phentsize)") }
        guard phnum > 0, phnum <= 512 else { throw .corrupt(path, "\(phnum) program headers") }
        let (phEnd, o) = phoff.addingReportingOverflow(UInt64(phnum) * 56)
        guard !o, phEnd <= size else { throw .truncated(path, "program headers end at \(phEnd), file has \(size) bytes") }
        guard phEnd <= UInt64(data.count) else { throw .truncated(path, "program headers beyond the bytes read") }

        var segs: [ProgramHeader] = []
        for i in 0..<phnum {
            let b = Int(phoff) + i * 56
            segs.append(ProgramHeader(type: u32(b), flags: u32(b + 4), offset: u64(b + 8), vaddr: u64(b + 16),
                                      fileSize: u64(b + 32), memSize: u64(b + 40), align: u64(b + 48)))
        }
        segments = segs
        // As load_elf_binary: a NUL-terminated path of 2 to PATH_MAX bytes.
        if let interp = segs.first(where: { $0.type == ProgramHeader.interp }) {
            guard interp.fileSize >= 2, interp.fileSize <= 4096 else { throw .corrupt(path, "PT_INTERP of \(interp.fileSize) bytes") }
            let (end, o) = interp.offset.addingReportingOverflow(interp.fileSize)
            guard !o, end <= size else { throw .truncated(path, "PT_INTERP beyond the end of the file") }
            guard end <= UInt64(data.count) else { throw .truncated(path, "PT_INTERP beyond the bytes read") }
            let name = data[Int(interp.offset)..<Int(end)]
            guard name.last == 0 else { throw .corrupt(path, "PT_INTERP not NUL-terminated") }
            interpreter = String(rawBytes: name.prefix { $0 != 0 })
        }
        let loads = segs.filter { $0.type == ProgramHeader.load }
        guard !loads.isEmpty else { throw .corrupt(path, "no PT_LOAD segment") }
        var lastEnd: UInt64 = 0
        for l in loads {
            let (fileEnd, o1) = l.offset.addingReportingOverflow(l.fileSize)
            guard !o1, fileEnd <= size else {
                throw .truncated(path, "segment at offset \(l.offset) needs \(l.fileSize) bytes, file has \(size)")
            }
            guard l.fileSize <= l.memSize else { throw .corrupt(path, "segment file size exceeds memory size") }
            guard l.vaddr % 4096 == l.offset % 4096 else { throw .corrupt(path, "segment address and offset disagree modulo the page size") }
            let (memEnd, o2) = l.vaddr.addingReportingOverflow(l.memSize)
            guard !o2, memEnd < 0x7000_0000_0000 else { throw .corrupt(path, "segment beyond the user address space") }
            guard l.vaddr >= lastEnd & ~4095 else { throw .corrupt(path, "PT_LOAD segments out of order") }
            lastEnd = memEnd
        }
        if type == Self.ET_EXEC, loads[0].vaddr & ~4095 < 0x10000 {
            throw .corrupt(path, "segment below the minimum mappable address")
        }
    }
}
