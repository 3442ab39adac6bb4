import CSwitch

/// A syscall site systrap can patch, and the x86-64 code that patching
/// writes (Sources/Sentry/MM/SyscallPatches.swift does the writing).
///
/// A site is `mov $imm32, %eax` (b8 imm32) or `mov $imm32, %rax`
/// (48 c7 c0 imm32) right before `syscall` (0f 05). Only the mov is
/// replaced, by `jmp rel32` to the site's entry in a trampoline page
/// within ±2 GiB; the `syscall` stays where it was. So the guest's rip
/// never has to point into rewritten bytes: the return address is the
/// original one (the syscall's + 2), a restart backs up onto the original
/// `syscall`, which traps as before, and a jump straight to the `syscall`
/// (with its own number in eax) still works.
///
/// A trampoline entry (64 bytes; `entryStride`):
///
///     mov  %gs:SELF, %r11             the stub's area (its GS base)
///     mov  %gs:CHECK, %rcx
///     lea  -MAGIC(%r11,%rcx), %rcx    0 iff SELF + CHECK == MAGIC
///     jrcxz fast
///     <the original mov>              GS is not the stub's (another platform,
///     jmp  R                          a guest that moved it): the original syscall
/// fast:
///     <the original mov>
///     lea  R+2(%rip), %rcx            as `syscall` leaves rcx
///     jmp  *slot(%rip)                the stub's patched entry
///
/// It clobbers only rcx and r11 (the syscall does too) and nothing of the
/// guest's stack or flags before the stub saves them. A trampoline page
/// holds the slot (the stub entry's absolute address) in its first 64
/// bytes, then `entriesPerPage` entries.
///
/// A second kind (`after`) is a `syscall` followed by `cmp $imm32, %rax`
/// (48 3d imm32), glibc's check of a wrapper's result, whatever set rax
/// before (`xor %eax,%eax` in `read`, a register in `syscall()`), as rr's
/// syscallbuf patches a syscall with the instruction that follows it.
/// Its 8 bytes become
///
///     eb 01        jmp .+3          (the site's start: the syscall's address)
///     cc           int3             (where the cmp began)
///     e9 rel32     jmp entry
///
/// and its entry (`afterTrampoline`) makes the call with rax as it is,
/// then replays the cmp (flags as the original leaves them for the `ja`
/// or `jae` after it) and jumps back past it. The cmp's address is the
/// one place in those bytes original code may jump to (a jump into any
/// other is into the middle of an instruction); it holds an int3, so
/// such a jump, and a return there (a signal handler's, with the rip the
/// guest saw), traps and the sentry runs the entry's replay instead
/// (`MemoryManager.patchStop`). A jump to the syscall runs the call with
/// rax as the original would. Nothing about the function around the site
/// is assumed.
public struct SyscallSite: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// `mov $nr, %eax|%rax; syscall`: the mov is replaced.
        case movBefore
        /// `syscall; cmp $imm32, %rax`: both are replaced.
        case after
    }
    /// The mov's address, or the syscall's (`after`): the site's start.
    public let start: UInt64
    /// The bytes the patch replaces, as they were: the mov's (5 or 7), or
    /// the syscall's and the cmp's (8).
    public let original: [UInt8]
    public var kind: Kind { original.first == Self.syscallInstruction[0] ? .after : .movBefore }

    public static let syscallInstruction: [UInt8] = [0x0f, 0x05]
    static let movEAX: UInt8 = 0xb8
    static let movRAX: [UInt8] = [0x48, 0xc7, 0xc0]
    static let jmpRel32: UInt8 = 0xe9
    static let jmpRel8: UInt8 = 0xeb
    /// `cmp $imm32, %rax`: the instruction an `after` site replays.
    static let cmpRAX: [UInt8] = [0x48, 0x3d]
    static let afterLength = 8
    static let int3: UInt8 = 0xcc

    public static let entryStride: UInt64 = 64
    public static let pageSize: UInt64 = 4096
    public static let entriesPerPage = Int(pageSize / entryStride) - 1
    /// Where a trampoline page keeps the stub entry's address.
    public static let slotOffset: UInt64 = 0
    /// The trampoline's check of %gs (CSwitch.h).
    static let magic = UInt64(SW_PATCH_MAGIC)
    static let selfOffset = UInt32(SW_AREA_SELF), checkOffset = UInt32(SW_AREA_CHECK)
    /// Offset of the fallback's copy of the mov in an entry (an `after`
    /// entry's syscall).
    static let fallbackOffset = 28
    /// An `after` entry: its replay of the cmp, and the rip the guest sees
    /// (the syscall's + 2), which the stub reads (stub.c: 26 past the replay).
    public static let replayOffset = 30
    static let afterLiteralOffset = 56
    /// Where a trampoline page keeps the `after` stub entry's address.
    public static let afterSlotOffset: UInt64 = 8
    /// The stub's entry for `after` sites, given its entry for the others.
    public static func afterStubEntry(_ stubEntry: UInt64) -> UInt64 {
        stubEntry &+ UInt64(sw_systrap_patched_after_offset()) &- UInt64(sw_systrap_patched_offset())
    }

    /// The syscall instruction's address (R): the trap's rip - 2.
    public var syscallAddress: UInt64 { kind == .after ? start : start + UInt64(original.count) }
    /// The end of the bytes the patch replaces.
    public var end: UInt64 { start + UInt64(original.count) }
    /// Where the patch's jmp rel32 ends (its rel32 counts from there).
    var jumpEnd: UInt64 { kind == .after ? start + 8 : start + 5 }
    /// The offsets of the patched bytes where an instruction begins, in the
    /// original or the patch: written with an int3 first (text_poke_bp).
    var boundaries: [Int] { kind == .after ? [0, 2, 3] : [0] }

    /// The bytes the patch writes at `start` for a jump to `entry`.
    public func patchBytes(entry: UInt64) -> [UInt8] {
        let rel = Self.le32(Self.rel32(from: jumpEnd, to: entry))
        if kind == .after { return [Self.jmpRel8, 1, Self.int3, Self.jmpRel32] + rel }
        var b = [Self.jmpRel32] + rel
        while b.count < original.count { b.append(Self.int3) }   // never run: the jmp skips them
        return b
    }

    /// Whether a jmp from this site reaches `entry`.
    public func reaches(_ entry: UInt64) -> Bool {
        let rel = Int64(bitPattern: entry) &- Int64(bitPattern: jumpEnd)
        return rel >= Int64(Int32.min) && rel <= Int64(Int32.max)
    }

    /// Recognises a site from the bytes before a trapped `syscall` at
    /// `syscallAddress`: `before` are the 7 bytes ending there. `rax` is
    /// the number the trap carried: the mov must be what set it (a byte
    /// pattern that is the tail of a longer instruction, movabs's
    /// immediate for one, would not have).
    public static func recognise(before: [UInt8], syscallAddress: UInt64, rax: UInt64) -> SyscallSite? {
        guard before.count == 7 else { return nil }
        if Array(before[0..<3]) == movRAX {
            let imm = Int32(bitPattern: le32(before, at: 3))
            guard UInt64(bitPattern: Int64(imm)) == rax else { return nil }
            return SyscallSite(start: syscallAddress - 7, original: Array(before))
        }
        if before[2] == movEAX {
            let imm = le32(before, at: 3)
            guard UInt64(imm) == rax else { return nil }
            return SyscallSite(start: syscallAddress - 5, original: Array(before[2..<7]))
        }
        return nil
    }

    /// Recognises an `after` site from the 6 bytes after a trapped
    /// `syscall` at `syscallAddress` (`original` is the 8 bytes from it).
    public static func recognise(after: [UInt8], syscallAddress: UInt64) -> SyscallSite? {
        guard after.count == afterLength - 2, Array(after[0..<2]) == cmpRAX else { return nil }
        return SyscallSite(start: syscallAddress, original: syscallInstruction + after)
    }

    /// The trampoline entry at `entry` for this site; `slot` is the
    /// address of the page's slot (an `after` entry uses the one after it).
    public func trampoline(entry: UInt64, slot: UInt64) -> [UInt8] {
        var b = checkOfGS()
        if kind == .after {
            //     jrcxz fast
            //     syscall                  GS is not the stub's: the call traps
            // replay:                      (its rip is translated to R + 2)
            //     cmp $imm32, %rax
            //     jmp R + 8
            // fast:
            //     lea replay(%rip), %rcx   where the stub's return goes
            //     jmp *afterSlot(%rip)
            //     .quad R + 2              the rip the guest sees
            b += [0xe3, UInt8(2 + 6 + 5)]
            b += Self.syscallInstruction
            precondition(b.count == Self.replayOffset)
            b += Array(original[2...])
            b += [Self.jmpRel32] + Self.le32(Self.rel32(from: entry + UInt64(b.count) + 5, to: end))
            b += [0x48, 0x8d, 0x0d] + Self.le32(Self.rel32(from: entry + UInt64(b.count) + 7, to: entry + UInt64(Self.replayOffset)))
            b += [0xff, 0x25] + Self.le32(Self.rel32(from: entry + UInt64(b.count) + 6, to: slot + Self.afterSlotOffset))
            while b.count < Self.afterLiteralOffset { b.append(Self.int3) }
            b += withUnsafeBytes(of: (start + 2).littleEndian) { Array($0) }
            precondition(UInt64(b.count) == Self.entryStride)
            return b
        }
        let fallbackLength = original.count + 5
        b += [0xe3, UInt8(fallbackLength)]   // jrcxz fast
        precondition(b.count == Self.fallbackOffset)
        b += original
        b += [Self.jmpRel32] + Self.le32(Self.rel32(from: entry + UInt64(b.count) + 5, to: syscallAddress))
        b += original
        b += [0x48, 0x8d, 0x0d] + Self.le32(Self.rel32(from: entry + UInt64(b.count) + 7, to: syscallAddress + 2))
        b += [0xff, 0x25] + Self.le32(Self.rel32(from: entry + UInt64(b.count) + 6, to: slot))
        precondition(UInt64(b.count) <= Self.entryStride)
        return b
    }

    /// The first 26 bytes of every entry: rcx is 0 iff GS is the stub's area.
    private func checkOfGS() -> [UInt8] {
        var b: [UInt8] = []
        // mov %gs:SELF, %r11 ; mov %gs:CHECK, %rcx
        b += [0x65, 0x4c, 0x8b, 0x1c, 0x25] + Self.le32(Int32(bitPattern: Self.selfOffset))
        b += [0x65, 0x48, 0x8b, 0x0c, 0x25] + Self.le32(Int32(bitPattern: Self.checkOffset))
        // lea -MAGIC(%r11,%rcx,1), %rcx
        b += [0x49, 0x8d, 0x8c, 0x0b] + Self.le32(-Int32(truncatingIfNeeded: Self.magic))
        return b
    }

    /// The site an entry was written for, read back from the entry's bytes
    /// `b` at `entry` (guest memory, so checked), and for a `movBefore`
    /// site the number its mov sets. nil if the bytes are no entry.
    public static func decode(entry: UInt64, _ b: [UInt8]) -> (site: SyscallSite, rax: UInt64?)? {
        guard b.count >= Int(entryStride) else { return nil }
        func jumpTarget(at jmp: Int) -> UInt64? {
            guard b[jmp] == jmpRel32 else { return nil }
            let next = entry &+ UInt64(jmp + 5)
            return UInt64(bitPattern: Int64(bitPattern: next) &+ Int64(Int32(bitPattern: le32(b, at: jmp + 1))))
        }
        if Array(b[fallbackOffset..<replayOffset]) == syscallInstruction, Array(b[replayOffset..<(replayOffset + 2)]) == cmpRAX {
            guard let end = jumpTarget(at: replayOffset + 6), end >= UInt64(afterLength) else { return nil }
            let start = end - UInt64(afterLength)
            let literal = b[afterLiteralOffset..<(afterLiteralOffset + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard literal == start &+ 2 else { return nil }
            return (SyscallSite(start: start, original: syscallInstruction + Array(b[replayOffset..<(replayOffset + 6)])), nil)
        }
        let movLength: Int
        let rax: UInt64
        if b[fallbackOffset] == movEAX {
            movLength = 5
            rax = UInt64(le32(b, at: fallbackOffset + 1))
        } else if Array(b[fallbackOffset..<(fallbackOffset + 3)]) == movRAX {
            movLength = 7
            rax = UInt64(bitPattern: Int64(Int32(bitPattern: le32(b, at: fallbackOffset + 3))))
        } else {
            return nil
        }
        guard let syscall = jumpTarget(at: fallbackOffset + movLength), syscall >= UInt64(movLength) else { return nil }
        return (SyscallSite(start: syscall - UInt64(movLength), original: Array(b[fallbackOffset..<(fallbackOffset + movLength)])), rax)
    }

    /// Where a guest stopped at `offset` into this site's entry goes on, in
    /// terms of the original code: before the call (the site's start, run
    /// again), or (`after`) past it: at the cmp (the rip the guest sees
    /// after the call; run from there, it traps on the int3 and goes to the
    /// replay) or past the cmp.
    public func resumeAfterStop(atEntryOffset offset: Int) -> UInt64 {
        guard kind == .after else { return start }
        if offset >= Self.replayOffset + 6 && offset < Self.replayOffset + 11 { return end }
        if offset >= Self.replayOffset && offset < Self.replayOffset + 6 { return start + 2 }
        return start
    }

    static func rel32(from next: UInt64, to target: UInt64) -> Int32 {
        Int32(truncatingIfNeeded: Int64(bitPattern: target) &- Int64(bitPattern: next))
    }
    static func le32(_ v: Int32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func le32(_ b: [UInt8], at i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
}
