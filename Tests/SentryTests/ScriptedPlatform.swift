import Foundation
import Glibc
import Synchronization
@testable import Sentry

/// A platform whose guest code is a Swift closure: each task's "program" runs
/// on a thread of its own and hands the sentry a trap whenever it makes a
/// syscall, exactly as a stub would (orig_rax, rcx/r11, rax = -ENOSYS), and
/// sees the registers the sentry leaves: results, signal frames, restarts.
/// The kernel above it is the real one (memory manager, signals, futexes,
/// wait, exit), so its logic is tested in-process without a host stub.
///
/// Guest memory is the memory file itself, reached through the mappings the
/// memory manager mirrored into the space, as guest code reaches it.
final class ScriptedPlatform: Platform, @unchecked Sendable {
    typealias Program = @Sendable (GuestCPU) -> Void
    /// Sendable: `programs` behind its own Mutex.
    let memory: MemoryFile
    private let programs: Mutex<[Program]>

    init(memory: MemoryFile, main: @escaping Program) {
        self.memory = memory
        programs = Mutex([main])
    }

    var name: String { "scripted" }
    func makeAddressSpace() throws(PlatformError) -> AddressSpace { ScriptedSpace(memory) }
    func makeContext() throws(PlatformError) -> PlatformContext {
        // Contexts are made in the order tasks are: pid 1's, then each clone's.
        let next = programs.withLock { $0.isEmpty ? nil : $0.removeFirst() }
        return ScriptedContext(self, program: next)
    }
    /// The program the next task made (by clone) will run.
    func enqueue(_ p: @escaping Program) { programs.withLock { $0.append(p) } }
}

/// The host side of a guest address space: which guest ranges are which
/// memory-file pages. Sendable: `mappings` behind its Mutex.
final class ScriptedSpace: AddressSpace, @unchecked Sendable {
    struct Mapping { var range: Range<UInt64>; var offset: UInt64; var prot: Prot }
    let memory: MemoryFile
    private let mappings = Mutex<[Mapping]>([])
    init(_ memory: MemoryFile) { self.memory = memory }

    private func remove(_ r: Range<UInt64>, from list: inout [Mapping]) {
        var out: [Mapping] = []
        for m in list {
            guard m.range.overlaps(r) else { out.append(m); continue }
            if m.range.lowerBound < r.lowerBound {
                out.append(Mapping(range: m.range.lowerBound..<r.lowerBound, offset: m.offset, prot: m.prot))
            }
            if m.range.upperBound > r.upperBound {
                out.append(Mapping(range: r.upperBound..<m.range.upperBound,
                                   offset: m.offset + (r.upperBound - m.range.lowerBound), prot: m.prot))
            }
        }
        list = out
    }

    func map(_ range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot) throws(PlatformError) {
        let r = range.lowerBound.rawValue..<range.upperBound.rawValue
        mappings.withLock { remove(r, from: &$0); $0.append(Mapping(range: r, offset: fileOffset, prot: prot)) }
    }
    func map(_ list: [(range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot)], clearing: Range<GuestAddress>?) throws(PlatformError) {
        if let clearing { try unmap(clearing) }
        for m in list { try map(m.range, fileOffset: m.fileOffset, prot: m.prot) }
    }
    func unmap(_ range: Range<GuestAddress>) throws(PlatformError) {
        mappings.withLock { remove(range.lowerBound.rawValue..<range.upperBound.rawValue, from: &$0) }
    }
    func protect(_ range: Range<GuestAddress>, prot: Prot) throws(PlatformError) {
        let r = range.lowerBound.rawValue..<range.upperBound.rawValue
        mappings.withLock { list in
            let hit = list.filter { $0.range.overlaps(r) }
            remove(r, from: &list)
            for m in hit {
                let lo = max(m.range.lowerBound, r.lowerBound), hi = min(m.range.upperBound, r.upperBound)
                list.append(Mapping(range: lo..<hi, offset: m.offset + (lo - m.range.lowerBound), prot: prot))
            }
        }
    }
    func prepareRunner() throws(PlatformError) -> RunnerTicket { RunnerTicket(raw: 0) }
    func join(_ ticket: RunnerTicket) throws(PlatformError) {}
    func abandon(_ ticket: RunnerTicket) {}
    var initialRegisters: Registers {
        var r = Registers()
        r.raw.cs = 0x33; r.raw.ss = 0x2b; r.raw.eflags = 0x202
        return r
    }
    var hostPID: Int32? { nil }
    var cpuTimeBase: Int64 { 0 }
    func leave(sentryExiting: Bool) {}

    /// The memory-file offset of guest byte `addr` if mapped with `prot`.
    func offset(of addr: UInt64, _ prot: Prot) -> UInt64? {
        mappings.withLock { list in
            list.first { $0.range.contains(addr) && $0.prot.contains(prot) }.map { $0.offset + (addr - $0.range.lowerBound) }
        }
    }
}

/// One task's guest thread. Sendable: everything behind `cond`.
final class ScriptedContext: PlatformContext, @unchecked Sendable {
    let platform: ScriptedPlatform
    let program: ScriptedPlatform.Program?
    let cond = NSCondition()
    var regs = Registers()
    var space: ScriptedSpace?
    var trap: Trap?
    var resumed = false
    var started = false
    var kicked = false
    /// The program waits in `spin`: a kick may take it out of guest code.
    var spinning = false
    var fpu = [UInt8](repeating: 0, count: XSave.legacySize + XSave.headerSize)

    init(_ platform: ScriptedPlatform, program: ScriptedPlatform.Program?) {
        self.platform = platform; self.program = program
        fpu.withUnsafeMutableBytes { $0.storeBytes(of: XSave.legacyFeatures, toByteOffset: XSave.headerOffset, as: UInt64.self) }
    }

    func switchTo(_ space: AddressSpace, _ regs: inout Registers) throws(PlatformError) -> Trap {
        cond.lock(); defer { cond.unlock() }
        self.space = space as? ScriptedSpace
        self.regs = regs
        if !started {
            started = true
            guard let program else { throw .unavailable("no program for this task") }
            let cpu = GuestCPU(self)
            Thread.detachNewThread { program(cpu); cpu.syscall(60, 0) }
        } else {
            resumed = true
            cond.broadcast()
        }
        while trap == nil && !(kicked && spinning) { cond.wait() }
        kicked = false
        guard let t = trap else { return .interrupted }
        trap = nil
        regs = self.regs
        return t
    }

    func fpuState(_ space: AddressSpace) throws(PlatformError) -> [UInt8] { cond.withLock { fpu } }
    func setFPUState(_ space: AddressSpace, _ image: [UInt8]) throws(PlatformError) { cond.withLock { fpu = image } }
    func kick() { cond.withLock { kicked = true; cond.broadcast() } }

    /// Called by the program's thread: hand `t` to the sentry and wait to be
    /// switched back to. cond held.
    fileprivate func post(_ t: Trap?) {
        if let t { trap = t } else { spinning = true }
        resumed = false
        cond.broadcast()
        while !resumed { cond.wait() }
        spinning = false
    }
}

/// What a scripted program can do: make syscalls, touch memory, install
/// handlers (Swift closures at made-up code addresses), spin in guest code.
final class GuestCPU: @unchecked Sendable {
    /// Sendable: used only by its program's thread.
    let context: ScriptedContext
    /// Where the program's syscall instruction and spin loop "are".
    static let syscallSite: UInt64 = 0x40_1000, spinSite: UInt64 = 0x40_2000
    static let restorer: UInt64 = 0x40_3000, handlerBase: UInt64 = 0x40_4000
    private var handlers: [UInt64: (GuestCPU, Int32, UInt64, UInt64) -> Void] = [:]
    /// Signals whose handlers ran, in order.
    private(set) var delivered: [Int32] = []

    init(_ context: ScriptedContext) { self.context = context }

    var regs: Registers { context.cond.withLock { context.regs } }
    var platform: ScriptedPlatform { context.platform }

    /// A syscall, run to completion: restarts re-execute it, signal handlers
    /// run on the way out, as the CPU would do after the sentry's return.
    @discardableResult
    func syscall(_ nr: Int, _ a: UInt64...) -> Int64 {
        var args = a + Array(repeating: 0, count: 6 - a.count)
        var number = UInt64(nr)
        while true {
            context.cond.lock()
            var r = context.regs.raw
            r.orig_rax = number; r.rax = UInt64(bitPattern: -Int64(Errno.ENOSYS.rawValue))
            (r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9) = (args[0], args[1], args[2], args[3], args[4], args[5])
            r.rip = Self.syscallSite + 2; r.rcx = r.rip; r.r11 = r.eflags
            context.regs.raw = r
            context.post(.syscall)
            context.cond.unlock()
            runHandlers()
            let now = regs.raw
            if now.rip == Self.syscallSite {
                // Rewound for a restart: the syscall instruction runs again
                // with what rax (the number or restart_syscall) and the arguments now hold.
                number = now.rax
                args = [now.rdi, now.rsi, now.rdx, now.r10, now.r8, now.r9]
                continue
            }
            return Int64(bitPattern: now.rax)
        }
    }

    /// Loops in guest code until the sentry takes the task out (a signal, a kill).
    func spin() {
        context.cond.lock()
        context.regs.ip = Self.spinSite
        context.post(nil)
        context.cond.unlock()
        runHandlers()
    }

    /// A handler at a made-up code address: (cpu, signo, &siginfo, &ucontext).
    func handler(_ body: @escaping (GuestCPU, Int32, UInt64, UInt64) -> Void) -> UInt64 {
        let addr = Self.handlerBase + UInt64(handlers.count) * 16
        handlers[addr] = body
        return addr
    }

    /// While the registers point at a handler: run it, then "return" to the
    /// restorer, which makes rt_sigreturn.
    private func runHandlers() {
        while let h = handlers[regs.ip] {
            let r = regs.raw
            delivered.append(Int32(truncatingIfNeeded: r.rdi))
            h(self, Int32(truncatingIfNeeded: r.rdi), r.rsi, r.rdx)
            // `ret`: the frame's first word is the restorer's address.
            let ret = read(regs.sp, as: UInt64.self)
            precondition(ret == Self.restorer, "the frame does not return to the restorer")
            context.cond.withLock { context.regs.sp += 8 }
            // rt_sigreturn replaces every register: no result to take.
            context.cond.lock()
            var s = context.regs.raw
            s.orig_rax = 15; s.rax = UInt64(bitPattern: -Int64(Errno.ENOSYS.rawValue))
            s.rip = Self.restorer + 2; s.rcx = s.rip; s.r11 = s.eflags
            context.regs.raw = s
            context.post(.syscall)
            context.cond.unlock()
        }
    }

    // MARK: Memory, as guest code sees it

    func read<T: BitwiseCopyable>(_ addr: UInt64, as: T.Type) -> T {
        let bytes = read(addr, MemoryLayout<T>.size)
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
    }

    func read(_ addr: UInt64, _ count: Int) -> [UInt8] {
        (0..<UInt64(count)).map { i in
            guard let off = context.space?.offset(of: addr + i, .read) else { preconditionFailure("guest read of unmapped \(addr + i)") }
            return context.platform.memory.pointer(off).load(as: UInt8.self)
        }
    }

    func write(_ addr: UInt64, _ bytes: [UInt8]) {
        for (i, b) in bytes.enumerated() {
            let a = addr + UInt64(i)
            // A page mapped without write access (copy-on-write after a
            // fork): a write fault, as the CPU takes, then the write again.
            if context.space?.offset(of: a, .write) == nil, context.space?.offset(of: a, .read) != nil {
                context.cond.lock()
                context.post(.fault(.SIGSEGV, address: GuestAddress(a), code: SignalInfo.SEGV_ACCERR, access: .write))
                context.cond.unlock()
            }
            guard let off = context.space?.offset(of: a, .write) else { preconditionFailure("guest write to unmapped \(addr)") }
            context.platform.memory.pointer(off).storeBytes(of: b, as: UInt8.self)
        }
    }

    func write<T: BitwiseCopyable>(_ addr: UInt64, _ value: T) {
        write(addr, withUnsafeBytes(of: value) { Array($0) })
    }

    /// Anonymous read-write pages shared with the processes forked after (mmap MAP_SHARED).
    func allocateShared(_ size: Int) -> UInt64 {
        let r = syscall(9, 0, UInt64(size), 3, 0x21, UInt64(bitPattern: -1), 0)
        precondition(r > 0, "mmap: \(r)")
        return UInt64(r)
    }

    /// Anonymous read-write pages (mmap).
    func allocate(_ size: Int) -> UInt64 {
        let r = syscall(9, 0, UInt64(size), 3, 0x22, UInt64(bitPattern: -1), 0)
        precondition(r > 0, "mmap: \(r)")
        return UInt64(r)
    }
}
