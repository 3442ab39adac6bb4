/// name_to_handle_at's `struct file_handle` as strace 6.1 prints it: the
/// size the caller offers at entry, then after the call the size the kernel
/// wants if it changed (` => 8`, also after EOVERFLOW), and on success the
/// handle's type and bytes.
extension ArgPrinter {
    private static let prefix = "{handle_bytes="
    /// MAX_HANDLE_SZ: strace shows at most this many bytes of a handle.
    private static let maxHandleSize = 128

    func fileHandleAtEntry(_ v: UInt64) -> String {
        guard let size = read(v, UInt32.self) else { return hexOrNull(v) }
        return Self.prefix + String(size)   // closed after the call
    }

    func fileHandleAtExit(_ i: Int, entry: String) -> String {
        guard entry.hasPrefix(Self.prefix) else { return entry }   // NULL or unreadable at entry
        let v = args[i]
        var out = entry
        let overflow = result == -Int64(Errno.EOVERFLOW.rawValue)
        if result >= 0 || overflow, let h = read(v, (UInt32, Int32).self) {
            if String(h.0) != entry.dropFirst(Self.prefix.count) { out += " => " + String(h.0) }
            if result >= 0 {
                out += ", handle_type=\(h.1), f_handle="
                let n = min(Int(h.0), Self.maxHandleSize)
                if let bytes = try? mm.copyIn(GuestAddress(v &+ 8), n) {
                    out += "\"" + bytes.map { b in
                        let hex = String(b, radix: 16)
                        return "\\x" + (hex.count == 1 ? "0" + hex : hex)
                    }.joined() + "\""
                } else {
                    out += hexOrNull(v &+ 8)
                }
            }
        }
        return out + "}"
    }
}
