import Glibc

/// `-y`/`-yy`: a descriptor with what it refers to, as strace prints it:
/// `3</etc/hostname>`, `4<pipe:[12]>`, and with -yy `5<TCP:[127.0.0.1:80->127.0.0.1:5555]>`.
extension ArgPrinter {
    func descriptor(_ fd: Int64) -> String {
        let n = String(fd)
        guard options.fdPaths > 0, fd >= 0, fd <= Int64(Int32.max),
              let file = task.fds.entry(FileDescriptor(Int32(fd)))?.file else { return n }
        if options.fdPaths > 1, let socket = file as? SocketFile { return n + "<" + Self.describe(socket) + ">" }
        let path = file.location.map { $0.path(relativeTo: task.rootLocation) } ?? file.displayPath
        return n + "<" + path + ">"
    }

    /// strace -yy's socket forms, from what the sentry's endpoint knows.
    static func describe(_ socket: SocketFile) -> String {
        let e = socket.endpoint
        let inode = String(socket.inode)
        switch e.family {
        case SocketConstants.AF_UNIX:
            let kind = e.kind == .stream ? "STREAM" : e.kind == .datagram ? "DGRAM" : "SEQPACKET"
            if case .unix(.path(let p))? = e.address {
                return "UNIX-\(kind):[\(inode),\(Decode.quote(p[...], truncated: false))]"
            }
            return "UNIX-\(kind):[\(inode)]"
        case SocketConstants.AF_INET, SocketConstants.AF_INET6:
            let v6 = e.family == SocketConstants.AF_INET6
            let proto = (e.kind == .datagram ? "UDP" : "TCP") + (v6 ? "v6" : "")
            guard case .inet(let local)? = e.address else { return "\(proto):[\(inode)]" }
            var text = inetText(local, v6: v6)
            if case .inet(let peer)? = e.peerAddress { text += "->" + inetText(peer, v6: v6) }
            return "\(proto):[\(text)]"
        case SocketConstants.AF_NETLINK:
            return "NETLINK:[\(inode)]"
        default:
            return socket.displayPath
        }
    }

    /// 127.0.0.1:80, or [::1]:80 for an AF_INET6 socket.
    static func inetText(_ a: InetAddress, v6: Bool) -> String {
        if !v6 {
            let ip = a.v4
            return "\(ip >> 24).\(ip >> 16 & 0xff).\(ip >> 8 & 0xff).\(ip & 0xff):\(a.port)"
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: a.high >> (56 - 8 * UInt64(i))) }
        for i in 0..<8 { bytes[8 + i] = UInt8(truncatingIfNeeded: a.low >> (56 - 8 * UInt64(i))) }
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        _ = inet_ntop(AF_INET6, bytes, &buf, socklen_t(buf.count))
        return "[" + String(cString: buf) + "]:\(a.port)"
    }
}
