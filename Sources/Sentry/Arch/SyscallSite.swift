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
public struct SyscallSite: Sendable, Equatable {
    /// The mov's address (the site's start; the jmp goes here).
    public let start: UInt64
    /// The mov's bytes, as they were (5 or 7).
    public let original: [UInt8]

    public static let syscallInstruction: [UInt8] = [0x0f, 0x05]
    static let movEAX: UInt8 = 0xb8
    static let movRAX: [UInt8] = [0x48, 0xc7, 0xc0]
    static let jmpRel32: UInt8 = 0xe9
    static let int3: UInt8 = 0xcc

    public static let entryStride: UInt64 = 64
    public static let pageSize: UInt64 = 4096
    public static let entriesPerPage = Int(pageSize / entryStride) - 1
    /// Where a trampoline page keeps the stub entry's address.
    public static let slotOffset: UInt64 = 0
    /// The trampoline's check of %gs (CSwitch.h).
    static let magic = UInt64(SW_PATCH_MAGIC)
    static let selfOffset = UInt32(SW_AREA_SELF), checkOffset = UInt32(SW_AREA_CHECK)
    /// Offset of the fallback's copy of the mov in an entry.
    static let fallbackOffset = 28

    /// The syscall instruction's address (R): the trap's rip - 2.
    public var syscallAddress: UInt64 { start + UInt64(original.count) }
    /// The bytes the patch writes at `start` for a jump to `entry`.
    public func patchBytes(entry: UInt64) -> [UInt8] {
        let rel = Int64(bitPattern: entry) &- Int64(bitPattern: start &+ 5)
        var b = [Self.jmpRel32] + Self.le32(Int32(truncatingIfNeeded: rel))
        while b.count < original.count { b.append(Self.int3) }   // never run: the jmp skips them
        return b
    }

    /// Whether a jmp from this site reaches `entry`.
    public func reaches(_ entry: UInt64) -> Bool {
        let rel = Int64(bitPattern: entry) &- Int64(bitPattern: start &+ 5)
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

    /// The trampoline entry at `entry` for this site; `slot` is the
    /// address of the page's slot.
    public func trampoline(entry: UInt64, slot: UInt64) -> [UInt8] {
        var b: [UInt8] = []
        // mov %gs:SELF, %r11 ; mov %gs:CHECK, %rcx
        b += [0x65, 0x4c, 0x8b, 0x1c, 0x25] + Self.le32(Int32(bitPattern: Self.selfOffset))
        b += [0x65, 0x48, 0x8b, 0x0c, 0x25] + Self.le32(Int32(bitPattern: Self.checkOffset))
        // lea -MAGIC(%r11,%rcx,1), %rcx
        b += [0x49, 0x8d, 0x8c, 0x0b] + Self.le32(-Int32(truncatingIfNeeded: Self.magic))
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

    /// Where the guest is, in terms of the original code, when it stopped
    /// at `rip` inside the trampoline entry whose bytes are `entryBytes`
    /// (read from guest memory, so checked): the site's start, the
    /// syscall's address, and the number the mov sets. nil if the bytes
    /// are no entry.
    public static func decode(entry: UInt64, _ b: [UInt8]) -> (start: UInt64, syscall: UInt64, rax: UInt64)? {
        guard b.count >= fallbackOffset + 12 else { return nil }
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
        let jmp = fallbackOffset + movLength
        guard b[jmp] == jmpRel32 else { return nil }
        let next = entry &+ UInt64(jmp + 5)
        let syscall = UInt64(bitPattern: Int64(bitPattern: next) &+ Int64(Int32(bitPattern: le32(b, at: jmp + 1))))
        return (syscall &- UInt64(movLength), syscall, rax)
    }

    static func rel32(from next: UInt64, to target: UInt64) -> Int32 {
        Int32(truncatingIfNeeded: Int64(bitPattern: target) &- Int64(bitPattern: next))
    }
    static func le32(_ v: Int32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func le32(_ b: [UInt8], at i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
}
