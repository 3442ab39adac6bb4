import CSwitch
import Glibc
import Sentry
import Synchronization

/// membarrier(2), as kernel/sched/membarrier.c answers. The barriers are
/// the host's MEMBARRIER_CMD_GLOBAL, which makes every CPU pass a full
/// barrier: more than the private and expedited commands ask for, and what
/// a guest whose threads run in host processes of their own can be given.
enum Membarrier {
    static let CMD_QUERY: Int32 = 0, CMD_GLOBAL: Int32 = 1, CMD_GLOBAL_EXPEDITED: Int32 = 2
    static let CMD_REGISTER_GLOBAL_EXPEDITED: Int32 = 4, CMD_PRIVATE_EXPEDITED: Int32 = 8
    static let CMD_REGISTER_PRIVATE_EXPEDITED: Int32 = 16, CMD_PRIVATE_EXPEDITED_SYNC_CORE: Int32 = 32
    static let CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: Int32 = 64, CMD_PRIVATE_EXPEDITED_RSEQ: Int32 = 128
    static let CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ: Int32 = 256
    static let CMD_FLAG_CPU: UInt32 = 1
    /// MEMBARRIER_CMD_BITMASK of 6.1 (every command but QUERY).
    static let commands: Int32 = 511

    /// The mm's registration bits (MEMBARRIER_STATE_*_READY).
    static let privateReady: UInt32 = 1 << 1, globalReady: UInt32 = 1 << 3, syncCoreReady: UInt32 = 1 << 5, rseqReady: UInt32 = 1 << 7

    static func membarrier(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let cmd = a.int32(0), flags = a.uint32(1)
        // Only the RSEQ command takes a flag (MEMBARRIER_CMD_FLAG_CPU).
        if cmd == CMD_PRIVATE_EXPEDITED_RSEQ ? flags & ~CMD_FLAG_CPU != 0 : flags != 0 { throw .EINVAL }
        let mm = t.mm
        func barrier() throws(Errno) -> Int64 {
            let r = sw_membarrier_global()
            guard r == 0 else { throw Errno(-r) }
            return 0
        }
        func register(_ bit: UInt32) -> Int64 {
            mm.membarrierState.bitwiseOr(bit, ordering: .sequentiallyConsistent)
            return 0
        }
        func expedited(_ bit: UInt32) throws(Errno) -> Int64 {
            guard mm.membarrierState.load(ordering: .sequentiallyConsistent) & bit != 0 else { throw .EPERM }
            return try barrier()
        }
        switch cmd {
        case CMD_QUERY: return Int64(commands)
        case CMD_GLOBAL, CMD_GLOBAL_EXPEDITED: return try barrier()
        case CMD_REGISTER_GLOBAL_EXPEDITED: return register(globalReady)
        case CMD_PRIVATE_EXPEDITED: return try expedited(privateReady)
        case CMD_REGISTER_PRIVATE_EXPEDITED: return register(privateReady)
        case CMD_PRIVATE_EXPEDITED_SYNC_CORE: return try expedited(syncCoreReady)
        case CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: return register(syncCoreReady)
        case CMD_PRIVATE_EXPEDITED_RSEQ:
            let r = try expedited(rseqReady)
            // MEMBARRIER_CMD_FLAG_CPU names one CPU; an offline or absent one
            // is no error and aborts nothing. The sentry does not know which
            // host CPU a stub runs on, so a valid one aborts on every thread
            // (a spurious abort is allowed by rseq's contract).
            if flags & CMD_FLAG_CPU != 0 {
                let cpu = a.int32(2)
                guard cpu >= 0, cpu < Int32(sysconf(Int32(_SC_NPROCESSORS_ONLN))) else { return r }
            }
            t.rseqPreemptOthers()
            return r
        case CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ: return register(rseqReady)
        default: throw .EINVAL
        }
    }
}
