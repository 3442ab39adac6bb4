/// /proc/PID/wchan: Linux 6.1 prints the function a sleeping task's stack
/// shows first outside the scheduler (get_wchan), or "0" for a running task
/// or one the reader may not inspect. A sentry task sleeps in the sentry,
/// not in a Linux kernel, so its wait is named by the call it sleeps in, as
/// 6.1's x86-64 build names the place that call waits (the function, not a
/// compiler clone's suffix). A call with no single such place is "0" as well.
extension Task {
    /// The wait channel `reader` sees (nil: a reader from outside, e.g. the sentry).
    public func waitChannel(readBy reader: ProcessView?) -> String {
        if let r = reader as? Task, r !== self, !r.mayInspect(self) { return "0" }
        if reader === self { return "0" }   // the reader runs
        let (traced, stopped) = kernel.locked { (ptrace?.stop != nil, group.stopped) }
        if traced { return "ptrace_stop" }
        if stopped { return "do_signal_stop" }
        guard let line = sleepingIn.withLock({ $0 }) else { return "0" }
        return Self.waitChannel(nr: line[0], args: Array(line[1...6]), fds: fds)
    }

    static func waitChannel(nr: UInt64, args a: [UInt64], fds: FDTable) -> String {
        func file(_ i: Int) -> FileDescription? { try? fds.get(FileDescriptor(Int32(truncatingIfNeeded: a[i]))) }
        switch nr {
        case 0, 17, 19, 295, 327:                           // read, pread64, readv, preadv, preadv2
            return fileWait(file(0), reading: true)
        case 1, 18, 20, 296, 328:                           // write, pwrite64, writev, pwritev, pwritev2
            return fileWait(file(0), reading: false)
        case 7, 23, 270, 271: return "poll_schedule_timeout" // poll, select, pselect6, ppoll
        case 232, 281, 441: return "do_epoll_wait"          // epoll_wait, epoll_pwait, epoll_pwait2 (ep_poll inlined)
        case 202:                                           // futex: the PI locks sleep in the rt_mutex
            let op = a[1] & 0x7f                            // without FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME
            return op == 6 || op == 13 ? "futex_lock_pi" : "futex_wait_queue"   // FUTEX_LOCK_PI, FUTEX_LOCK_PI2
        case 449: return "futex_wait_multiple"              // futex_waitv
        case 35: return "hrtimer_nanosleep"                 // nanosleep
        case 230:                                           // clock_nanosleep: CPU clocks sleep elsewhere
            let clock = Int32(truncatingIfNeeded: a[0])
            return clock < 0 || clock == 2 ? "do_cpu_nanosleep" : "hrtimer_nanosleep"
        case 34: return "__do_sys_pause"                    // pause
        case 130: return "sigsuspend"                       // rt_sigsuspend
        case 128: return "do_sigtimedwait"                  // rt_sigtimedwait
        case 61, 247: return "do_wait"                      // wait4, waitid
        case 65, 220: return "do_semtimedop"                // semop, semtimedop
        case 69: return "do_msgsnd"
        case 70: return "do_msgrcv"
        case 242, 243: return "wq_sleep"                    // mq_timedsend, mq_timedreceive
        case 72: return "do_lock_file_wait"                 // fcntl(F_SETLKW, F_OFD_SETLKW)
        case 73: return "locks_lock_inode_wait"             // flock
        default: return "0"
        }
    }

    /// A read or write that sleeps on its file: pipes and eventfds wait in
    /// their own functions; sockets and terminals in wait_woken (sk_wait_data,
    /// n_tty_read and the like), which the sentry's other files stand for.
    private static func fileWait(_ f: FileDescription?, reading: Bool) -> String {
        switch f {
        case is PipeEnd: return reading ? "pipe_read" : "pipe_write"
        case is EventFD: return reading ? "eventfd_read" : "eventfd_write"
        case nil: return "0"
        default: return "wait_woken"
        }
    }
}
