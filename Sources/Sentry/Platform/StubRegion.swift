import CSwitch
import Glibc

/// The stub image every stub process execs: a tiny static ELF in a memfd
/// with two pages at a fixed address, the stub code (read, exec) and the
/// seccomp program (read only). Guest mappings stay below `base`.
public struct StubRegion: Sendable {
    public let base: GuestAddress
    public var end: GuestAddress { base + UInt64(SW_STUB_PAGES) * GuestAddress.pageSize }
    /// Address of the `syscall; int3` gadget used to inject syscalls.
    public let syscallGadget: GuestAddress
    /// Address of the clone gadget: a sibling stub sharing the address space.
    public let cloneGadget: GuestAddress
    /// The memfd holding the ELF image (close-on-exec; the spawn execs it by fd).
    public let imageFD: Int32
    /// Its seccomp filter traps guest syscalls (systrap's seccomp variant).
    public let trapsGuestSyscalls: Bool

    /// High in the address space, far below where Linux puts stacks, so the
    /// guest keeps almost all of the 47-bit user range.
    public static let defaultBase: UInt64 = 0x7e00_0000_0000

    /// Syscalls the stub may execute itself, once its filter is on.
    /// ptrace stubs use the first four; systrap stubs the rest too (their
    /// trap handler, and the set-up the sentry injects before letting go).
    static let allowedSyscalls: [Int32] = [9 /* mmap */, 10 /* mprotect */, 11 /* munmap */, 34 /* pause */,
                                           13 /* rt_sigaction */, 15 /* rt_sigreturn */, 131 /* sigaltstack */,
                                           157 /* prctl */, 158 /* arch_prctl */, 202 /* futex */,
                                           110 /* getppid: an unattached sibling watching the sentry */,
                                           324 /* membarrier: systrap's code patching syncs the mm's CPUs */,
                                           334 /* rseq: the guest's area registered with the host for its stub */,
                                           98 /* getrusage: a systrap stub's own usage, at its task's exit and when emptied */,
                                           228 /* clock_gettime: a systrap stub's reads for a patched site (SW_AREA_FAST_CLOCKS) */]
    /// The only clone the filter lets through: a sibling sharing the mm,
    /// with no exit signal, whose parent is the stub's own parent
    /// (CLONE_PARENT): every stub of an address space is then a child of the
    /// sentry thread that made the first one, so a systrap sibling's
    /// PDEATHSIG fires only when that thread (the last to leave) or the
    /// sentry goes, not when the task that cloned it exits.
    static let siblingCloneFlags: UInt64 = CloneArgs.CLONE_VM | CloneArgs.CLONE_PARENT

    /// The rules for the stub's own calls: the allowed ones, prctl,
    /// arch_prctl and membarrier only with the options the stub uses, clone
    /// only with the sibling's flags; anything else kills the process (and
    /// another ABI the thread, libseccomp's default the filter was first built with).
    static func stubFilter() -> HostFilter {
        let allow = Seccomp.SECCOMP_RET_ALLOW
        var rules: [HostFilter.Rule] = []
        for nr in allowedSyscalls {
            let options: [UInt64]
            switch nr {
            case 157: options = [1 /* PR_SET_PDEATHSIG */, 59 /* PR_SET_SYSCALL_USER_DISPATCH */]
            case 158: options = [0x1002 /* ARCH_SET_FS */, 0x1001 /* ARCH_SET_GS: a systrap stub's own area */]
            case 324: options = [32 /* PRIVATE_EXPEDITED_SYNC_CORE */, 64 /* its registration */]
            case 98: options = [0 /* RUSAGE_SELF */]
            case 228: options = GuestClock.hostClocks.map { UInt64($0) }   // never a CPU clock
            default: rules.append(.init(nr: nr, arg: nil, action: allow)); continue
            }
            for o in options { rules.append(.init(nr: nr, arg: 0, value: o, action: allow)) }
        }
        rules.append(.init(nr: 56 /* clone */, arg: 0, value: siblingCloneFlags, action: allow))
        return HostFilter(defaultAction: Seccomp.SECCOMP_RET_KILL_PROCESS, badArch: Seccomp.SECCOMP_RET_KILL_THREAD, rules: rules)
    }

    /// Builds the stub image: the code of CSwitch's stub and a seccomp
    /// program that expects to live at `base + 4096`.
    /// `trapGuestSyscalls`: the image's filter traps (SIGSYS) every syscall
    /// made outside the stub's code, for systrap's seccomp variant.
    public static func install(base: UInt64 = defaultBase, trapGuestSyscalls: Bool = false) throws(PlatformError) -> StubRegion {
        var codeLen = 0, gadget = 0, cloneGadget = 0
        guard let code = sw_stub_code(&codeLen, &gadget, &cloneGadget), codeLen <= 4096 else {
            throw .unavailable("stub code missing or larger than a page")
        }
        var filter = [UInt8](repeating: 0, count: 4096)
        let program = stubFilter().compile()
        let n = program.withUnsafeBytes { p in
            filter.withUnsafeMutableBytes { out in
                sw_build_stub_filter(p.baseAddress, Int32(program.count), base, trapGuestSyscalls ? 1 : 0,
                                     out.baseAddress, out.count, base + UInt64(SW_STUB_DATA_OFFSET))
            }
        }
        if n < 0 { throw .host("building the stub seccomp filter", Errno(Int32(-n))) }

        var elf = Self.elfHeaders(base: base, codeLength: codeLen, dataLength: Int(n))
        elf += [UInt8](repeating: 0, count: 4096 - elf.count)
        elf += UnsafeRawBufferPointer(start: code, count: codeLen)
        elf += [UInt8](repeating: 0, count: 8192 - elf.count)
        elf += filter[0..<Int(n)]

        let fd = sw_memfd("sentry-stub")
        if fd < 0 { throw .host("memfd for the stub image", Errno(-fd)) }
        let w = elf.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if w != elf.count { close(fd); throw .host("writing the stub image", Errno(errno)) }
        return StubRegion(base: GuestAddress(base), syscallGadget: GuestAddress(base + UInt64(gadget)),
                          cloneGadget: GuestAddress(base + UInt64(cloneGadget)), imageFD: fd, trapsGuestSyscalls: trapGuestSyscalls)
    }

    /// ELF header and two PT_LOAD program headers: code at file offset 4096
    /// to `base`, data at 8192 to `base + 4096`.
    private static func elfHeaders(base: UInt64, codeLength: Int, dataLength: Int) -> [UInt8] {
        var b: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        put(UInt16(2)); put(UInt16(62)); put(UInt32(1))         // ET_EXEC, EM_X86_64, EV_CURRENT
        put(base); put(UInt64(64)); put(UInt64(0))               // entry, phoff, shoff
        put(UInt32(0)); put(UInt16(64)); put(UInt16(56)); put(UInt16(2))   // flags, ehsize, phentsize, phnum
        put(UInt16(64)); put(UInt16(0)); put(UInt16(0))          // shentsize, shnum, shstrndx
        for (offset, vaddr, size, flags) in [(UInt64(4096), base, codeLength, UInt32(5)),
                                             (UInt64(8192), base + 4096, dataLength, UInt32(4))] {
            put(UInt32(1)); put(flags)                           // PT_LOAD, PF_R(|PF_X)
            put(offset); put(vaddr); put(vaddr)
            put(UInt64(size)); put(UInt64(4096)); put(UInt64(4096))
        }
        return b
    }
}
