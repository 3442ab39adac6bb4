import Glibc

/// The one network interface a sandbox has, `lo`, as the interface ioctls
/// on any socket describe it (dev_ioctl, devinet_ioctl): index 1, up,
/// loopback, running, MTU 65536, 127.0.0.1/8.
enum LoopbackInterface {
    static let name = "lo", index: Int32 = 1, mtu: Int32 = 65536
    static let flags: Int16 = 0x1 | 0x8 | 0x40   // IFF_UP | IFF_LOOPBACK | IFF_RUNNING
    static let ARPHRD_LOOPBACK: UInt16 = 772
    /// sizeof(struct ifreq): a 16-byte name and a 24-byte union.
    static let ifreqSize = 40

    static let SIOCGIFNAME: UInt64 = 0x8910, SIOCGIFCONF: UInt64 = 0x8912, SIOCGIFFLAGS: UInt64 = 0x8913
    static let SIOCGIFADDR: UInt64 = 0x8915, SIOCGIFNETMASK: UInt64 = 0x891b, SIOCGIFMTU: UInt64 = 0x8921
    static let SIOCGIFHWADDR: UInt64 = 0x8927, SIOCGIFINDEX: UInt64 = 0x8933
    static let requests: Set<UInt64> = [SIOCGIFNAME, SIOCGIFCONF, SIOCGIFFLAGS, SIOCGIFADDR, SIOCGIFNETMASK,
                                         SIOCGIFMTU, SIOCGIFHWADDR, SIOCGIFINDEX]

    /// Answers one of `requests` for a socket of `family`.
    static func ioctl(_ request: UInt64, argument: GuestAddress, family: Int32, mm: MemoryManager) throws(Errno) -> Int64 {
        if request == SIOCGIFCONF { return try configuration(argument, mm: mm) }
        var req = try mm.copyIn(argument, ifreqSize)
        if request == SIOCGIFNAME {
            guard req.withUnsafeBytes({ $0.loadUnaligned(fromByteOffset: 16, as: Int32.self) }) == index else { throw .ENODEV }
            req.replaceSubrange(0..<16, with: paddedName)
            try mm.copyOut(argument, Array(req[0..<16]))
            return 0
        }
        let asked = req[0..<16].prefix { $0 != 0 }
        guard Array(asked) == Array(name.utf8) else { throw .ENODEV }
        var value: [UInt8]
        switch request {
        case SIOCGIFFLAGS: value = bytes(of: flags)
        case SIOCGIFINDEX: value = bytes(of: index)
        case SIOCGIFMTU: value = bytes(of: mtu)
        case SIOCGIFHWADDR: value = bytes(of: ARPHRD_LOOPBACK) + [UInt8](repeating: 0, count: 14)
        case SIOCGIFADDR, SIOCGIFNETMASK:
            // devinet_ioctl: only AF_INET sockets know interface addresses.
            guard family == SocketConstants.AF_INET else { throw .ENOTTY }
            value = InetAddress(v4: request == SIOCGIFADDR ? 0x7f00_0001 : 0xff00_0000, port: 0).encoded
        default: throw .ENOTTY
        }
        try mm.copyOut(argument + 16, value)
        return 0
    }

    private static var paddedName: [UInt8] { Array(name.utf8) + [UInt8](repeating: 0, count: 16 - name.utf8.count) }
    private static func bytes<T: BitwiseCopyable>(of v: T) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }

    /// SIOCGIFCONF: one ifreq per interface with an IPv4 address; with a
    /// NULL buffer, only the length it would take.
    private static func configuration(_ argument: GuestAddress, mm: MemoryManager) throws(Errno) -> Int64 {
        let conf = try mm.copyIn(argument, 16)
        let length = conf.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        let buffer = conf.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self) }
        var written: Int32 = 0
        if buffer == 0 {
            written = Int32(ifreqSize)
        } else if length >= Int32(ifreqSize) {
            let entry = paddedName + InetAddress(v4: 0x7f00_0001, port: 0).encoded + [UInt8](repeating: 0, count: 8)
            try mm.copyOut(GuestAddress(buffer), entry)
            written = Int32(ifreqSize)
        }
        try mm.write(argument, written)
        return 0
    }
}
