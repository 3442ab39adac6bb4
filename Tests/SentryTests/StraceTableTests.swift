import Testing
@testable import Sentry
import Syscalls

/// Walks the syscall table: every argument of an implemented call has a
/// decoded format, except the ones listed here, each for its reason. A
/// decoder added for a listed argument must take it off the list (the test
/// fails on a stale entry), so the list is the tracer's to-do.
struct StraceTableTests {
    /// Numbers strace itself prints in hex: an IPC key, mmap's offset,
    /// futex_waitv's flags (none defined), rseq's length and
    /// signature, an ioctl argument whose request strace does not know, ioperm's first port,
    /// pidfd_getfd's and set_mempolicy_home_node's flags (none defined).
    static let hexInStrace: [String: [Int]] = [
        "mmap": [5], "shmget": [0], "semget": [0], "msgget": [0], "ioctl": [2], "futex_waitv": [2],
        "rseq": [1, 3], "ioperm": [0], "pidfd_getfd": [2], "set_mempolicy_home_node": [3], "pkey_alloc": [0],
    ]

    /// Arguments strace decodes and the sentry still prints as raw hex.
    static let notYetDecoded: [String: [Int]] = [:]

    @Test func everyImplementedArgumentIsDecodedOrListed() {
        var raw: [String: [Int]] = [:]
        for (_, s) in linuxAMD64.implemented {
            for (i, f) in s.args.enumerated() { if case .hex = f { raw[s.name, default: []].append(i) } }
        }
        for (name, indices) in raw.sorted(by: { $0.key < $1.key }) {
            for i in indices {
                let listed = Self.hexInStrace[name]?.contains(i) == true || Self.notYetDecoded[name]?.contains(i) == true
                #expect(listed, "\(name) argument \(i) is printed as raw hex; decode it or list it with a reason")
            }
        }
        for (name, indices) in Self.hexInStrace.merging(Self.notYetDecoded, uniquingKeysWith: +) {
            for i in indices { #expect(raw[name]?.contains(i) == true, "\(name) argument \(i) is listed but no longer raw hex") }
        }
    }

    /// Addresses print as strace prints them: NULL for 0.
    @Test func addressesPrintNull() throws {
        let brk = try #require(linuxAMD64[12])
        guard case .address = brk.args[0] else { Issue.record("brk's argument is not an address"); return }
        let mmap = try #require(linuxAMD64[9])
        guard case .address = mmap.args[0] else { Issue.record("mmap's first argument is not an address"); return }
    }
}

/// Real-time signals by the kernel's numbering, as strace names them.
struct StraceSignalNameTests {
    @Test func realTimeSignalsAsStraceNamesThem() {
        #expect(Signal(32).straceName == "SIGRTMIN" && Signal(33).straceName == "SIGRT_1" && Signal(64).straceName == "SIGRT_32")
        #expect(Signal.SIGCHLD.straceName == "SIGCHLD")
        #expect(Decode.sigset(1 << 31 | 1 << 32) == "[RTMIN RT_1]")
        #expect(TraceOptions.signalNumber("SIGRT_1") == 33 && TraceOptions.signalNumber("chld") == 17)
    }
}
