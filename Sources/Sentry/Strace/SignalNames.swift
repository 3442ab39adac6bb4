/// Signal names as strace prints them: the kernel's real-time range starts at
/// 32 (strace's SIGRTMIN; glibc keeps 32 and 33 for itself and calls 34 its
/// SIGRTMIN, which is what `Signal.name` and the shell's messages follow).
extension Signal {
    var straceName: String {
        switch rawValue {
        case 32: "SIGRTMIN"
        case 33...64: "SIGRT_\(rawValue - 32)"
        default: name
        }
    }

    /// The same inside a signal set: `RTMIN`, `RT_1`, `CHLD`.
    var straceSetName: String {
        let n = straceName
        return n.hasPrefix("SIG") ? String(n.dropFirst(3)) : n
    }
}
