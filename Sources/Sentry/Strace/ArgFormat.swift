/// How strace prints one syscall argument. Formats marked "out" are printed
/// from guest memory after the call (and only if it succeeded).
public indirect enum ArgFormat: Sendable {
    case int            // signed decimal, 64-bit (long, off_t)
    case int32          // signed decimal, a C int (pid_t, int flags): the low 32 bits
    case uint           // unsigned decimal
    case hex            // 0x..., 0 for 0: a number strace prints in hex, or a pointer not decoded yet
    case address        // a guest address strace prints raw: 0x..., NULL for 0
    case octal          // mode bits: 0644
    case fd             // a descriptor
    case dirFD          // AT_FDCWD or a descriptor
    case path           // a NUL-terminated string, printed whole
    case inBuffer(count: Int)   // bytes, length in argument `count`
    case outBuffer              // out: bytes, length = the return value
    case iovecIn(count: Int)    // struct iovec[count] with contents
    case iovecOut(count: Int)   // out: contents up to the return value
    case openFlags
    case openMode(flagsArg: Int)  // printed only with O_CREAT/O_TMPFILE
    case prot
    case mapFlags
    case whence
    case atFlags
    case accessMode
    case fcntlCmd
    case ioctlRequest
    case clockID
    case timespecIn
    case timespecOut             // out
    case statOut                 // out: struct stat
    case statxOut                // out: struct statx
    case statxMask
    case signal
    case sigactionIn
    case sigactionOut            // out
    case sigset                  // in
    case sigsetOut               // out
    case sigprocmaskHow
    case archPrctlCode
    case archPrctlAddr           // in for SET, out for GET
    case rlimitResource
    case rlimitIn
    case rlimitOut               // out
    case utsnameOut              // out
    case madvice
    case mremapFlags
    case getrandomFlags
    case pathOut                 // out: string of return-value length (readlink)
    case cwdOut                  // out: NUL-terminated string (getcwd)
    case dirents                 // out: summarised count
    case sysinfoOut              // out
    case timevalIn               // in: {tv_sec=..., tv_usec=...}
    case timevalOut              // out
    case cpuMaskOut              // out
    case cloneFlags              // flags|exit signal
    case stringArray             // argv: ["a", "b"]
    case envArray                // envp: 0x7ff... /* 12 vars */
    case waitStatusOut           // out: [{WIFEXITED(s) && WEXITSTATUS(s) == 0}]
    case waitOptions
    case futexOp
    case futexWaitv(countArg: Int)  // in: [{val=0x1, uaddr=0x..., flags=FUTEX_32|FUTEX_PRIVATE_FLAG}]
    case mqAttrCreate(flagsArg: Int)  // in, only with O_CREAT: {mq_flags=0, mq_maxmsg=10, mq_msgsize=8192, mq_curmsgs=0}
    case mqAttrIn                // in: the same
    case mqAttrOut               // out: the same
    case pipeFDsOut              // out: [3, 4]
    case pollFDs                 // in: [{fd=3, events=POLLIN}]
    case epollEvent              // in: {events=EPOLLIN, data=...}
    case epollCtlOp
    // prctl, scheduler, vectored I/O, mlock, xattr (names from Decode+Process.swift).
    case prctlOption             // PR_SET_NAME
    case prctlArg(Int)           // argument n as that option uses it: "name", SIGUSR1, or left out
    case schedParam              // [5]: struct sched_param
    case schedAttrIn             // {size=56, sched_policy=SCHED_FIFO, sched_flags=0, sched_nice=0, sched_priority=5, ...}
    case schedAttrOut            // out: the same, as the kernel wrote it
    case landlockRulesetAttr(sizeArg: Int)   // {handled_access_fs=LANDLOCK_ACCESS_FS_READ_FILE|..., ...}, the address below its size
    case landlockRuleAttr(typeArg: Int)      // {allowed_access=LANDLOCK_ACCESS_FS_READ_FILE, parent_fd=3} for a path-beneath rule
    case omitted                 // a register the call ignores (the high word of an offset on x86-64)
    case schedPolicy             // SCHED_FIFO|SCHED_RESET_ON_FORK
    case priorityWhich           // PRIO_PROCESS
    case ioprioWhich             // IOPRIO_WHO_PGRP
    case ioprio                  // IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 4)
    case personality             // PER_LINUX|ADDR_NO_RANDOMIZE, or 0xffffffff
    case rwfFlags                // RWF_NOWAIT|RWF_APPEND
    case fadvice                 // POSIX_FADV_WILLNEED
    case msyncFlags              // MS_SYNC|MS_INVALIDATE
    case mlockFlags              // MLOCK_ONFAULT (mlock2)
    case mlockallFlags           // MCL_CURRENT|MCL_FUTURE
    case closeRangeFlags         // CLOSE_RANGE_CLOEXEC
    case xattrFlags              // XATTR_CREATE
    case capHeader               // {version=_LINUX_CAPABILITY_VERSION_3, pid=0}
    case socketDomain            // AF_UNIX
    case socketType              // SOCK_STREAM|SOCK_CLOEXEC
    case socketProtocol(domainArg: Int)  // IPPROTO_TCP for AF_INET, else the number
    case socketFlags             // accept4: SOCK_CLOEXEC|SOCK_NONBLOCK
    case sockaddrIn(lengthArg: Int)      // {sa_family=AF_INET, sin_port=htons(80), ...}
    case sockaddrOut(lengthPointerArg: Int)  // out: the same, as long as the kernel wrote
    case socklenOut              // out: [16]
    case msgFlags                // MSG_DONTWAIT|MSG_NOSIGNAL
    case msghdrIn                // {msg_name=..., msg_iov=[...], msg_iovlen=1, msg_controllen=0, msg_flags=0}
    case msghdrOut               // out: the same after the call
    case shutdownHow
    case sockoptLevel
    /// `getting`: getsockopt's, where option 26 reads as SO_GET_FILTER.
    case sockoptName(levelArg: Int, getting: Bool)
    case intPointerIn            // [1]
    case intPointerOut           // out: [1]
    // Time and resource structs, as strace 6.1 prints them.
    case itimerWhich             // ITIMER_REAL
    case itimervalIn             // {it_interval={tv_sec=0, tv_usec=0}, it_value={...}}
    case itimervalOut            // out
    case timezoneOut             // out: {tz_minuteswest=0, tz_dsttime=0}
    case rusageWho               // RUSAGE_SELF, RUSAGE_CHILDREN
    case rusageOut               // out: {ru_utime={...}, ru_stime={...}, ...}
    case tmsOut                  // out: {tms_utime=0, tms_stime=0, tms_cutime=0, tms_cstime=0}
    case stackIn                 // {ss_sp=0x..., ss_flags=0, ss_size=8192}
    case stackOut                // out
    case groupsIn(countArg: Int) // [0, 1]
    case groupsOut               // out: as many as the call returned
    case remainingOut            // nanosleep's rem: the struct after EINTR, else the address
    case timevalPairIn           // utimes: [{tv_sec=1, tv_usec=2} /* date */, {...}]
    case utimbufIn               // utime: {actime=5 /* date */, modtime=6 /* date */}
    case timespecPairIn          // utimensat: [UTIME_NOW, {tv_sec=7, tv_nsec=9} /* date */]
    case epollEventsOut          // out: [{events=EPOLLIN, data={u32=7, u64=7}}], as many as returned
    case timeOut                 // out: time(2)'s [1700000000 /* date */]
    // clone(2) as strace prints it: child_stack=, flags=, then what the flags use.
    case cloneStackAndFlags      // argument 0: "child_stack=0x..., flags=CLONE_VM|...|SIGCHLD" (reads argument 1)
    case cloneParentTID          // out: parent_tid=[123], with CLONE_PARENT_SETTID
    case cloneChildTID           // child_tidptr=0x..., with CLONE_CHILD_SETTID or CLONE_CHILD_CLEARTID
    case cloneTLS                // tls=0x..., with CLONE_SETTLS
    case clone3Args              // out: {flags=..., ..., tls=...} => {parent_tid=[123]}
    case named([UInt64: String]) // one of several values: RENAME_NOREPLACE; else the number
    case flagBits([(UInt64, String)])  // A|B, or 0
    case flagBitsOr([(UInt64, String)], unknown: String)  // A|0x20, or 0x20 /* unknown */ when no bit is known (printflags)
    case namedOr([UInt64: String], unknown: String)       // a name, else 0x63 /* unknown */ (printxval)
    case fileModeWithType        // mknod: S_IFIFO|0644
    case mknodDevice(modeArg: Int)     // makedev(0x1, 0x3), only for character and block devices
    case itimerspecIn            // {it_interval={tv_sec=0, tv_nsec=0}, it_value={...}}
    case itimerspecOut           // out
    case sigeventIn              // {sigev_value={sival_int=5, sival_ptr=0x5}, sigev_signo=SIGUSR2, sigev_notify=SIGEV_SIGNAL}
    case statfsOut               // out: {f_type=EXT2_SUPER_MAGIC, f_bsize=4096, ...}
    case cpuMaskIn(sizeArg: Int) // [0 1]
    case siginfoOut              // out: {si_signo=SIGCHLD, si_code=CLD_EXITED, ...}
    case fdSet(nfdsArg: Int)     // select's sets at entry: [0 3]
    case pselectSigmask          // {sigmask=[USR1], sigsetsize=8}: pselect6 and io_pgetevents (the same two words)
    case mempolicyMode           // MPOL_BIND|MPOL_F_STATIC_NODES
    case mempolicyOut            // out: [MPOL_DEFAULT] (a node with MPOL_F_NODE, printed as a mode as strace does)
    case nodemask(maxnodeArg: Int)     // in: [0x00000000000001, 0000000000000000]
    case nodemaskOut(maxnodeArg: Int)  // out: the same
    case futexArg(Int)           // futex's argument n (2-5) as its op uses it: val, timeout or val2, uaddr2, val3; "" if unused
    case offsetIn                // an loff_t the call reads: [4096], or NULL
    case offsetInOut             // sendfile's: [2], then " => [6]" after a call that moved it
    case openHow(sizeArg: Int)   // {flags=O_RDONLY|O_CLOEXEC, resolve=RESOLVE_BENEATH}
    case capDataIn               // {effective=1<<CAP_CHOWN|..., permitted=..., inheritable=0}
    case capDataOut              // out: the same
    case mincoreVectorOut        // out: [1, 0, 1], one per page
    case low32(ArgFormat)        // a C (unsigned) int: the register's upper half ignored, as the kernel does
    case siginfoIn               // a siginfo the caller sends: {si_signo=SIGUSR1, si_code=SI_QUEUE, si_pid=..., ...}
    case siginfoTakenOut         // out: the siginfo of a signal taken (rt_sigtimedwait), the same form
    case sembufs(countArg: Int)  // [{sem_num=0, sem_op=2, sem_flg=SEM_UNDO|IPC_NOWAIT}]
    case msgbufIn(sizeArg: Int)  // {mtype=3, mtext="hello"}
    case msgbufOut(sizeArg: Int) // out: the same, msgsz bytes of text
    case mmsgVectorOut(countArg: Int)  // out: [{msg_hdr={...}, msg_len=3}, ...], the entries the call did
    case timezoneIn              // {tz_minuteswest=60, tz_dsttime=0}
    case pointerOut              // out: [0x7f...], a pointer the call stores
    case sizeOut                 // out: [24], a size_t the call stores
    case pointerArray(countArg: Int)    // in: [0x7f..., NULL], move_pages' pages
    case intArray(countArg: Int)        // in: [0, 1], move_pages' nodes
    case nodeStatusOut(countArg: Int)   // out: [0, -ENOENT, -EFAULT], move_pages' status
    case ipcCmd(IPCObjectKind)   // IPC_STAT, SHM_LOCK, GETVAL, ...
    case ipcDSOut(IPCObjectKind) // msgctl/shmctl's buffer: IPC_STAT's struct after the call, IPC_SET's fields, the *_INFO limits; else the address
    case semInfoOut              // out: semctl's fourth argument, struct seminfo for IPC_INFO/SEM_INFO; else the address
    case fileHandle              // {handle_bytes=128} at entry, then ` => 8, handle_type=1, f_handle="\x..."}` after
    case seccompArg(Int)         // seccomp's argument n as its operation uses it: the op, flags, program, action or sizes

    var isOutput: Bool {
        switch self {
        case .outBuffer, .iovecOut, .timespecOut, .statOut, .statxOut, .sigactionOut, .sigsetOut, .rlimitOut,
             .utsnameOut, .pathOut, .cwdOut, .dirents, .sysinfoOut, .timevalOut, .cpuMaskOut, .waitStatusOut,
             .pipeFDsOut, .sockaddrOut, .socklenOut, .msghdrOut, .intPointerOut, .mqAttrOut, .itimervalOut, .timezoneOut,
             .rusageOut, .tmsOut, .stackOut, .groupsOut, .remainingOut, .epollEventsOut, .timeOut, .cloneParentTID, .clone3Args,
             .itimerspecOut, .statfsOut, .siginfoOut, .capDataOut, .mincoreVectorOut, .siginfoTakenOut, .msgbufOut,
             .mmsgVectorOut, .pointerOut, .sizeOut, .ipcDSOut, .semInfoOut, .mempolicyOut, .nodemaskOut, .nodeStatusOut, .schedAttrOut:
            return true
        default: return false
        }
    }
}

/// Which System V IPC object a `*ctl` call names (its commands and buffer differ).
public enum IPCObjectKind: Sendable { case message, semaphore, sharedMemory }

extension ArgFormat {
    /// An output strace prints after a failure too (nanosleep's remaining time after EINTR).
    var printsOnFailure: Bool {
        switch self {
        case .remainingOut, .cloneParentTID, .clone3Args, .mincoreVectorOut: true
        case .nodemaskOut: true   // a node mask: "[]" when empty, whatever the outcome
        default: false
        }
    }
}

/// How strace prints the return value.
public enum RetFormat: Sendable, Equatable {
    case int, hex, fd
    /// Seconds since the epoch, with the date: `1700000000 (2023-11-14T22:13:20+0000)`.
    case time
    /// select/pselect6: the count, then what is ready and the time left: `1 (in [3], left {...})`, `0 (Timeout)`.
    case selectResult(nanoseconds: Bool)
    /// The call does not return (exit, exit_group): `= ?`.
    case noReturn
    /// fcntl: F_GETFL's and F_GETFD's flags after the number, `0x8002 (flags O_RDWR|O_LARGEFILE)`; else a number.
    case fcntl
    /// A signal number, with its name: `10 (SIGUSR1)`.
    case signal
}
