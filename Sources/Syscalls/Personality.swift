import Sentry

/// personality(2) (kernel/exec_domain.c): any value is taken, 0xffffffff
/// only asks, the old value is the answer. What the flags change is where
/// Linux changes it: uname (UNAME26, PER_LINUX32), mmap and mprotect
/// (READ_IMPLIES_EXEC), select/pselect/ppoll (STICKY_TIMEOUTS), exec
/// (Kernel/TaskAttributes' applyExec). ADDR_NO_RANDOMIZE changes nothing
/// because the sandbox lays memory out without randomization anyway, and
/// MMAP_PAGE_ZERO maps nothing because page 0 is below mmap_min_addr,
/// which the sandbox keeps for root too.
enum PersonalityCalls {
    static func personality(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let requested = a.uint32(0)
        let old = t.attributes.withLock { attrs -> UInt32 in
            let old = attrs.personality.rawValue
            if requested != Personality.query { attrs.personality = Personality(rawValue: requested) }
            return old
        }
        return Int64(old)
    }

    static func of(_ t: Task) -> Personality { t.attributes.withLock { $0.personality } }
}
