import CSwitch

/// The XSAVE image as signal frames carry it (arch/x86/include/uapi/asm/sigcontext.h,
/// struct _fpx_sw_bytes): a 512-byte legacy FXSAVE area whose reserved bytes
/// 464..511 hold the software-reserved words that announce extended state,
/// the 64-byte XSAVE header, then the components.
public enum XSave {
    public static let legacySize = 512
    /// fx_sw_bytes: magic1, extended_size, xfeatures, xstate_size.
    public static let swBytes = 464
    public static let magic1Offset = swBytes, extendedSizeOffset = swBytes + 4
    public static let xfeaturesOffset = swBytes + 8, xstateSizeOffset = swBytes + 16
    /// The XSAVE header's xstate_bv.
    public static let headerOffset = legacySize
    public static let headerSize = 64
    public static let FP_XSTATE_MAGIC1: UInt32 = 0x4650_5853
    public static let FP_XSTATE_MAGIC2: UInt32 = 0x4650_5845
    public static let magic2Size = 4
    /// x87 and SSE: the features every image has.
    public static let legacyFeatures: UInt64 = 1 | 2

    /// The size of the image at `head` (at least `legacySize` bytes readable):
    /// xstate_size when fx_sw_bytes says there is extended state, else the legacy area.
    public static func imageSize(_ head: UnsafeRawPointer) -> Int {
        guard head.loadUnaligned(fromByteOffset: magic1Offset, as: UInt32.self) == FP_XSTATE_MAGIC1 else { return legacySize }
        return Int(head.loadUnaligned(fromByteOffset: xstateSizeOffset, as: UInt32.self))
    }

    /// The kernel's image carries the fx_sw_bytes that tell a reader the frame
    /// holds extended state; writes them when missing.
    public static func markExtended(_ image: inout [UInt8]) {
        guard image.count >= legacySize + headerSize else { return }
        let magic1 = image.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: magic1Offset, as: UInt32.self) }
        if magic1 == FP_XSTATE_MAGIC1 { return }
        let bv = image.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: headerOffset, as: UInt64.self) }
        let count = image.count
        image.withUnsafeMutableBytes { p in
            p.storeBytes(of: FP_XSTATE_MAGIC1, toByteOffset: magic1Offset, as: UInt32.self)
            p.storeBytes(of: UInt32(count + magic2Size), toByteOffset: extendedSizeOffset, as: UInt32.self)
            p.storeBytes(of: bv | legacyFeatures, toByteOffset: xfeaturesOffset, as: UInt64.self)
            p.storeBytes(of: UInt32(count), toByteOffset: xstateSizeOffset, as: UInt32.self)
        }
    }

    /// XCR0: the components the host kernel enabled for user code (fpu_user_cfg.max_features).
    public static let userFeatures: UInt64 = sw_xcr0()

    /// The image as ptrace's NT_X86_XSTATE and core dumps give it (struct
    /// user_xstateregs): bytes 464..511 are xstate_fx_sw_bytes, XCR0 in the
    /// first word and zeros after; debuggers (gdb) read the register set's
    /// layout from that word.
    public static func forPtrace(_ image: [UInt8]) -> [UInt8] {
        var out = image
        guard out.count >= legacySize else { return out }
        out.withUnsafeMutableBytes { p in
            for i in stride(from: swBytes, to: legacySize, by: 8) { p.storeBytes(of: UInt64(0), toByteOffset: i, as: UInt64.self) }
            p.storeBytes(of: userFeatures, toByteOffset: swBytes, as: UInt64.self)
        }
        return out
    }

    /// The legacy area as PTRACE_GETFPREGS and NT_PRFPREG give it
    /// (XSTATE_COPY_FX): its padding and reserved bytes from 416 on zero.
    public static func legacyForPtrace(_ image: [UInt8]) -> [UInt8] {
        Array(image.prefix(416)) + [UInt8](repeating: 0, count: legacySize - min(416, image.count))
    }

    /// The image followed by FP_XSTATE_MAGIC2, as it goes into a frame.
    public static func withMagic2(_ image: [UInt8]) -> [UInt8] {
        image + withUnsafeBytes(of: FP_XSTATE_MAGIC2.littleEndian) { Array($0) }
    }

    /// FXSAVE's x87 control word and MXCSR, and their values after FNINIT /
    /// at reset (fpstate_init_fx: 0x37f, MXCSR_DEFAULT 0x1f80).
    public static let fcwOffset = 0, mxcsrOffset = 24, mxcsrMaskOffset = 28
    public static let initialFCW: UInt16 = 0x37f, initialMXCSR: UInt32 = 0x1f80

    /// The image exec leaves (fpu_flush_thread) and a signal handler starts
    /// with: every component in its initial state, the default control
    /// words, and the layout words of `image` (MXCSR_MASK, fx_sw_bytes,
    /// XCOMP_BV) kept. x87 and SSE are marked present (XSTATE_BV 3) with
    /// their initial values written out: a kernel loading the image through
    /// ptrace (copy_uabi_to_xstate) takes MXCSR only from an image that says
    /// it holds one of them, and would keep the old rounding mode.
    public static func initialState(like image: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: image.count)
        guard image.count >= legacySize else { return out }
        out.withUnsafeMutableBytes { p in
            p.storeBytes(of: initialFCW, toByteOffset: fcwOffset, as: UInt16.self)
            p.storeBytes(of: initialMXCSR, toByteOffset: mxcsrOffset, as: UInt32.self)
        }
        out.replaceSubrange(mxcsrMaskOffset..<(mxcsrMaskOffset + 4), with: image[mxcsrMaskOffset..<(mxcsrMaskOffset + 4)])
        out.replaceSubrange(swBytes..<legacySize, with: image[swBytes..<legacySize])
        if image.count >= headerOffset + 16 {
            // xstate_bv: x87 and SSE as written above; xcomp_bv (the format) is the image's own.
            out.withUnsafeMutableBytes { $0.storeBytes(of: legacyFeatures, toByteOffset: headerOffset, as: UInt64.self) }
            out.replaceSubrange((headerOffset + 8)..<(headerOffset + 16), with: image[(headerOffset + 8)..<(headerOffset + 16)])
        }
        return out
    }
}
