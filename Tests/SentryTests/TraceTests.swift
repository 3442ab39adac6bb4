import Foundation
import Testing
@testable import Sentry

/// strace's flags on the sentry's tracer, compared with real `strace -f` where
/// the two can agree: a busybox pipeline and a threaded program, task by task.
@Suite(.serialized) struct TraceTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    static let programs: [(String, [String])] = [
        ("/bin/busybox", ["sh", "-c", "cat /etc/hostname | wc -c"]),
        (Harness.image("tracethreads"), []),
    ]

    /// Each task's calls and results, in order, match strace -f's for the
    /// same program. Normalised: pids (the values of calls that return one),
    /// addresses; tasks are compared as a set, since their interleaving is
    /// the scheduler's. Left out, each for a stated reason: the execve that
    /// starts the program (the sentry loads it itself), futex (whether a
    /// waiter sleeps is timing), rt_sigreturn
    /// and restarted calls (a SIGCHLD may or may not land inside a wait).
    @Test(arguments: Harness.platforms)
    func tasksMatchRealStrace(_ platform: Harness.TestPlatform) throws {
        let strace = "/usr/bin/strace"
        try #require(FileManager.default.isExecutableFile(atPath: strace), "strace is not installed")
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let native = dir.appendingPathComponent("native").path, ours = dir.appendingPathComponent("ours").path
        for (exe, args) in Self.programs {
            _ = Harness.run(strace, ["-f", "-o", native, exe] + args)
            let r = Harness.sandboxed(platform, exe, args, extra: ["--strace", "-f", "-o", ours])
            #expect(r.status == 0)
            var expected = try Self.tasks(native, native: true)
            if !expected.isEmpty, expected[0].first?.hasPrefix("execve ") == true { expected[0].removeFirst() }
            let got = try Self.tasks(ours, native: false)
            #expect(got.count == expected.count, "\(exe): \(got.count) tasks vs strace's \(expected.count)")
            #expect(got.sorted { $0.lexicographicallyPrecedes($1) } == expected.sorted { $0.lexicographicallyPrecedes($1) },
                    "\(exe):\nsentry \(got)\nstrace \(expected)")
        }
    }

    /// Struct arguments (itimerval, timezone, rusage, tms, stack_t, id
    /// arrays, utimes/utime/utimensat times with strace's date comments,
    /// epoll events, futex by op, file offsets, open_how, capability sets,
    /// siginfo)
    /// decoded as real strace prints them. Left out: values
    /// that differ run to run (the time of day, times()'s ticks, getcpu) and
    /// sched_rr_get_interval (6.1's CFS slice; the host kernel is newer).
    @Test(arguments: Harness.platforms)
    func structsMatchRealStrace(_ platform: Harness.TestPlatform) throws {
        let strace = "/usr/bin/strace"
        try #require(FileManager.default.isExecutableFile(atPath: strace), "strace is not installed")
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let calls = "getitimer,setitimer,getrusage,sigaltstack,getresuid,getresgid,getgroups,sched_getparam,"
            + "nanosleep,clock_nanosleep,utimes,utime,utimensat,epoll_wait,epoll_pwait"
        let file = dir.appendingPathComponent("f").path
        let native = Harness.run(strace, ["-e", "trace=" + calls, Harness.image("structs"), file])
        try? FileManager.default.removeItem(atPath: file)
        let ours = Harness.sandboxed(platform, Harness.image("structs"), [file],
                                     extra: ["--bind", "\(dir.path):\(dir.path):rw", "--strace", "-e", "trace=" + calls])
        func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("+++") } }
        #expect(lines(native.stderr).count == 20)
        #expect(lines(ours.stderr) == lines(native.stderr), "on \(platform.rawValue)")

        // Flags and structs of the fd-making and timer calls (structs2.c).
        let calls2 = "memfd_create,renameat2,mknodat,timerfd_create,timerfd_settime,timer_create,timer_settime,signalfd4,sched_setaffinity"
        let native2 = Harness.run(strace, ["-qq", "-e", "trace=" + calls2, "-e", "signal=none", Harness.image("structs2"), dir.path])
        let ours2 = Harness.sandboxed(platform, Harness.image("structs2"), [dir.path],
                                      extra: ["--bind", "\(dir.path):\(dir.path):rw", "--strace", "-e", "trace=" + calls2, "-e", "signal=none"])
        func callLines(_ text: String) -> [String] { lines(text).filter { !$0.hasPrefix("[pid") } }
        #expect(callLines(native2.stderr).count == 9)
        #expect(callLines(ours2.stderr) == callLines(native2.stderr), "structs2 on \(platform.rawValue)")

        // Arguments that depend on the call's op or point at structs (structs3.c):
        // futex by op, offsets in and out, open_how, capability sets, mincore's
        // vector, siginfos sent and taken, System V semaphore operations and
        // messages and their *ctl commands and structs, epoll_pwait2's events, message vectors, settimeofday's
        // zone, the robust list's head (in the heap). Stack and mapping addresses are the
        // sandbox's own layout, its pid is 1, IPC ids are each namespace's, and
        // the native run's new fds come after the ones the test runner leaves open.
        let calls3 = "futex,sendfile,copy_file_range,splice,openat2,capget,capset,mincore,clock_nanosleep,"
            + "rt_sigqueueinfo,rt_tgsigqueueinfo,rt_sigtimedwait,pidfd_send_signal,semop,semtimedop,msgsnd,msgrcv,epoll_pwait2,"
            + "sendmmsg,recvmmsg,settimeofday,get_robust_list,semctl,msgctl,shmctl"
        func structs3(_ text: String) -> [String] {
            lines(text).map {
                $0.replacingOccurrences(of: #"0x7[0-9a-f]{7,}"#, with: "ADDR", options: .regularExpression)
                    .replacingOccurrences(of: #"^(openat2\(.*) = \d+$"#, with: "$1 = FD", options: .regularExpression)
                    .replacingOccurrences(of: #"^get_robust_list\(0, \[0x[0-9a-f]+\], \[24\]\) +="#, with: "get_robust_list(0, [ADDR], [24]) =", options: .regularExpression)
                    .replacingOccurrences(of: #"^(pidfd_send_signal|epoll_pwait2|sendmmsg|recvmmsg)\(\d+, (.*\)) +="#, with: "$1(FD, $2 =", options: .regularExpression)
                    .replacingOccurrences(of: #"^(semtimedop|msgsnd|msgrcv|semctl|msgctl|shmctl)\(\d+, (.*\)) +="#, with: "$1(ID, $2 =", options: .regularExpression)
                    .replacingOccurrences(of: #"(_[srcad]time)=[1-9]\d*"#, with: "$1=TIME", options: .regularExpression)
                    .replacingOccurrences(of: #"(msg_lspid|msg_lrpid|shm_cpid|shm_lpid)=[1-9]\d*"#, with: "$1=PID", options: .regularExpression)
                    .replacingOccurrences(of: #"si_pid=\d+"#, with: "si_pid=PID", options: .regularExpression)
                    .replacingOccurrences(of: #"^(rt_sigqueueinfo|rt_tgsigqueueinfo)\(\d+, (\d+, )?"#, with: "$1(PID, ", options: .regularExpression)
            }
        }
        if let why = Harness.nativeKernelLacks("sysvipc") {
            print("structs3 not compared with real strace: \(why) (its semaphore and message calls are ENOSYS natively)")
        } else {
        let native3 = Harness.run(strace, ["-qq", "-e", "trace=" + calls3, Harness.image("structs3"), dir.path])
        let ours3 = Harness.sandboxed(platform, Harness.image("structs3"), [dir.path],
                                      extra: ["--bind", "\(dir.path):\(dir.path):rw", "--strace", "-e", "trace=" + calls3])
        #expect(structs3(native3.stderr).count == 49)
        let (n3, o3) = (structs3(native3.stderr), structs3(ours3.stderr))
        #expect(o3 == n3, "structs3 on \(platform.rawValue): strace \(n3.filter { !o3.contains($0) }), sentry \(o3.filter { !n3.contains($0) })")
        }

        // The last arguments decoded (structs4.c): file handles (the sentry's
        // filesystems have none, as procfs: compared where both fail), seccomp's
        // operations, programs and actions, prctl(PR_SET_SECCOMP), and the System V
        // *_INFO structs. Native in a fresh IPC namespace, so that its usage counts
        // are this program's alone (none) as in the sandbox.
        let calls4 = "name_to_handle_at,seccomp,prctl,msgctl,shmctl,semctl"
        if let why = Harness.nativeKernelLacks("sysvipc") ?? (getuid() == 0 ? nil : "unshare -i needs root") {
            print("structs4 not compared with real strace: \(why)")
        } else {
            func structs4(_ text: String) -> [String] {
                lines(text).map { $0.replacingOccurrences(of: #"0x7[0-9a-f]{7,}"#, with: "ADDR", options: .regularExpression) }
            }
            let native4 = Harness.run("/usr/bin/unshare", ["-i", strace, "-qq", "-e", "trace=" + calls4, Harness.image("structs4")])
            let ours4 = Harness.sandboxed(platform, Harness.image("structs4"), extra: ["--strace", "-e", "trace=" + calls4])
            let (n4, o4) = (structs4(native4.stderr), structs4(ours4.stderr))
            #expect(n4.count == 23, "\(native4.stderr)")
            #expect(o4 == n4, "structs4 on \(platform.rawValue): strace \(n4.filter { !o4.contains($0) }), sentry \(o4.filter { !n4.contains($0) })")
        }

        // The NUMA policy calls (mempolicy.c): modes with their flags, node masks
        // as strace's arrays of words, move_pages' arrays. A one-node host only
        // (the native answers are the comparison), and the parent's calls only
        // (strace without -f does not follow the child the sentry shows).
        if Harness.nativeKernelLacks("mempolicy") == nil {
            let numa = "get_mempolicy,set_mempolicy,mbind,migrate_pages,move_pages,set_mempolicy_home_node"
            func numaLines(_ text: String) -> [String] {
                // The guest's own lines (pid 1 in the sandbox, prefixed once its child exists).
                lines(text).map { $0.replacingOccurrences(of: #"^\[pid +1\] "#, with: "", options: .regularExpression) }
                    .filter { !$0.hasPrefix("[pid") && !$0.hasPrefix("---") && !$0.hasPrefix("+++") }.map {
                    $0.replacingOccurrences(of: #"0x7[0-9a-f]{7,}"#, with: "ADDR", options: .regularExpression)
                        .replacingOccurrences(of: #"0xffff[0-9a-f]+"#, with: "ADDR", options: .regularExpression)
                        .replacingOccurrences(of: #" /\* MPOL_\?\?\? \*/"#, with: "", options: .regularExpression)
                        .replacingOccurrences(of: #" +="#, with: " =", options: .regularExpression)
                }
            }
            let nativeNuma = Harness.run(strace, ["-e", "trace=" + numa, Harness.image("mempolicy")])
            let oursNuma = Harness.sandboxed(platform, Harness.image("mempolicy"), extra: ["--strace", "-e", "trace=" + numa])
            let ours = numaLines(oursNuma.stderr)
            #expect(numaLines(nativeNuma.stderr).count > 70)
            let theirs = numaLines(nativeNuma.stderr)
            #expect(ours == theirs, "mempolicy on \(platform.rawValue): strace \(theirs.filter { !ours.contains($0) }), sentry \(ours.filter { !theirs.contains($0) })")
        }

        // select and pselect6, with what they report ready; the time left is the scheduler's.
        func selects(_ text: String) -> [String] {
            lines(text).map { $0.replacingOccurrences(of: #"left \{[^}]*\}"#, with: "left {...}", options: .regularExpression) }
        }
        let nativeSel = Harness.run(strace, ["-e", "trace=select,pselect6", Harness.image("selects")], stdin: "")
        let oursSel = Harness.sandboxed(platform, Harness.image("selects"), extra: ["--strace", "-e", "trace=select,pselect6"], stdin: "")
        #expect(selects(nativeSel.stderr).count == 4)
        #expect(selects(oursSel.stderr) == selects(nativeSel.stderr), "selects on \(platform.rawValue)")

        // clone and clone3 (a fork by dash, threads by glibc), addresses and pids aside.
        func clones(_ text: String) -> [String] {
            text.split(separator: "\n").map(String.init).filter { $0.contains("clone") && !$0.contains("resumed") }
                .map { line in
                    var l = line.replacingOccurrences(of: #"^\[pid +\d+\] "#, with: "", options: .regularExpression)
                    l = l.replacingOccurrences(of: #"0x[0-9a-f]+"#, with: "ADDR", options: .regularExpression)
                    l = l.replacingOccurrences(of: #"\[\d+\]"#, with: "[PID]", options: .regularExpression)
                    return l.replacingOccurrences(of: #"= \d+$"#, with: "= PID", options: .regularExpression)
                }
        }
        for (exe, args) in [("/bin/sh", ["-c", "/bin/true & wait"]), (Harness.image("threads"), [])] {
            let n = Harness.run(strace, ["-qq", "-e", "trace=clone,clone3", exe] + args)
            let o = Harness.sandboxed(platform, exe, args, extra: ["--strace", "-e", "trace=clone,clone3"])
            #expect(!clones(n.stderr).isEmpty)
            #expect(clones(o.stderr) == clones(n.stderr), "\(exe) on \(platform.rawValue)")
        }
    }

    /// sched_setattr/sched_getattr's struct sched_attr as strace 6.1 prints
    /// it (sizes, E2BIG's written-back size, the fields SCHED_FLAG_KEEP_*
    /// hide, unknown policies and flags), for schedattr.c and its
    /// unprivileged child. Normalised: stack addresses, pids, and a fair
    /// task's sched_runtime (kernels after 6.1 report its slice there; 6.1 and the sentry 0).
    @Test(arguments: Harness.platforms)
    func schedAttrMatchesRealStrace(_ platform: Harness.TestPlatform) throws {
        let strace = "/usr/bin/strace"
        try #require(FileManager.default.isExecutableFile(atPath: strace), "strace is not installed")
        let calls = ["-f", "-e", "trace=sched_setattr,sched_getattr", "-e", "signal=none"]
        func normalised(_ text: String) -> [String] {
            Harness.straceLines(text, [(#"^sched_setattr\((?!0,|-1,|99999,)\d+,"#, "sched_setattr(PID,"),
                                       (#"(sched_policy=SCHED_(OTHER|BATCH|IDLE), .*sched_runtime=)\d+"#, "$1N")])
        }
        let native = Harness.run(strace, ["-qq"] + calls + [Harness.image("schedattr")])
        let ours = Harness.sandboxed(platform, Harness.image("schedattr"), extra: ["--strace"] + calls)
        let (n, o) = (normalised(native.stderr), normalised(ours.stderr))
        #expect(n.count >= 60, "\(native.stderr)")
        #expect(o == n, "schedattr on \(platform.rawValue): strace \(n.filter { !o.contains($0) }), sentry \(o.filter { !n.contains($0) })")
    }

    /// -k: the guest's stack after each call, unwound by .eh_frame and named
    /// from each ELF's symbols, line for line as real `strace -k` prints it
    /// (a dynamic coreutils program through libc, and a static one of ours).
    @Test(arguments: Harness.platforms)
    func stackTracesMatchRealStrace(_ platform: Harness.TestPlatform) throws {
        let strace = "/usr/bin/strace"
        try #require(FileManager.default.isExecutableFile(atPath: strace), "strace is not installed")
        let probe = Harness.run(strace, ["-k", "-e", "trace=none", "/bin/true"])
        guard probe.status == 0 else {
            print("skipping the -k comparison: this strace has no stack tracing (\(probe.stderr.prefix(80)))")
            return
        }
        for exe in ["/bin/echo", Harness.image("hello")] {
            let native = Harness.run(strace, ["-k", "-e", "trace=write,exit_group", exe, "hi"])
            let ours = Harness.sandboxed(platform, exe, ["hi"], extra: ["--strace", "-k", "-e", "trace=write,exit_group"])
            // strace prints a frame it has no symbol for as "()" the first time and
            // "(+0x0)" when its cache answers for the same address again: read both as "()".
            func frames(_ text: String) -> [String] {
                text.split(separator: "\n").map(String.init).filter { $0.hasPrefix(" > ") }
                    .map { $0.replacingOccurrences(of: "(+0x0) [", with: "() [") }
            }
            #expect(!frames(native.stderr).isEmpty)
            #expect(frames(ours.stderr) == frames(native.stderr), "\(exe) on \(platform.rawValue)")
        }
    }

    /// `-c`'s times are the CPU time the sentry spent serving each call, as
    /// strace's default sums the tracee's system time (a sleep costs next to
    /// nothing); with -w, the wall-clock time, sleeping included.
    @Test(arguments: Harness.platforms)
    func summaryTimesCPUOrWallClock(_ platform: Harness.TestPlatform) throws {
        func seconds(_ text: String, _ call: String) -> Double? {
            text.split(separator: "\n").first { $0.hasSuffix(" " + call) }.flatMap { Double($0.split(separator: " ")[1]) }
        }
        let wall = Harness.sandboxed(platform, "/bin/busybox", ["sleep", "0.3"], extra: ["-c", "-w"])
        let cpu = Harness.sandboxed(platform, "/bin/busybox", ["sleep", "0.3"], extra: ["-c"])
        #expect(wall.status == 0 && cpu.status == 0)
        let call = wall.stderr.contains(" clock_nanosleep\n") ? "clock_nanosleep" : "nanosleep"
        let w = try #require(seconds(wall.stderr, call), "\(wall.stderr)"), c = try #require(seconds(cpu.stderr, call), "\(cpu.stderr)")
        #expect(w >= 0.3, "\(wall.stderr)")
        #expect(c < 0.1, "\(cpu.stderr)")
    }

    /// `-c`'s total is the number of call lines a full trace of the same run
    /// prints (-C prints both), and its ENOSYS section names what the sentry lacks.
    @Test(arguments: Harness.platforms)
    func summaryCountsEveryCall(_ platform: Harness.TestPlatform) throws {
        let (exe, args) = Self.programs[0]
        let both = Harness.sandboxed(platform, exe, args, extra: ["-C"])
        #expect(both.status == 0 && both.stdout == "3\n")
        let all = both.stderr.split(separator: "\n")
        let start = try #require(all.firstIndex(of: "% time     seconds  usecs/call     calls    errors syscall"))
        let lines = all[..<start].filter { !$0.hasPrefix("+++") && !$0.hasPrefix("---") && $0.contains("(") }
        let table = Array(all[start...])
        let total = try #require(table.first { $0.hasSuffix(" total") }).split(separator: " ")
        #expect(total.count == 6 && Int(total[3]) == lines.count, "\(total) vs \(lines.count) lines")
        #expect(Int(total[4]) == lines.filter { $0.contains(" = -1 ") || $0.contains(" = ? ERESTART") }.count)
        // Everything this program calls is implemented: no ENOSYS section.
        #expect(!table.contains { $0.hasPrefix("not implemented in the sentry") })
        let unknown = Harness.sandboxed(platform, Harness.image("enosys"), [], extra: ["-c"]).stderr.split(separator: "\n")
        let missing = try #require(unknown.firstIndex { $0.hasPrefix("not implemented in the sentry") })
        #expect(unknown[(missing + 3)...].contains { $0.hasSuffix(" syscall_0x1f3") })
        // Sorted by time: the seconds column never rises.
        let seconds = table.dropFirst(2).prefix { !$0.hasPrefix("------") }.compactMap { Double($0.split(separator: " ")[1]) }
        #expect(!seconds.isEmpty && seconds == seconds.sorted(by: >))

        let c = Harness.sandboxed(platform, exe, args, extra: ["-c"])
        #expect(c.stderr.hasPrefix("% time") && !c.stderr.contains("openat("))
    }

    /// -y prints a descriptor's path, -e trace=%file keeps to file calls,
    /// -e status=failed to failures, -T and -tt add strace's times.
    @Test(arguments: Harness.platforms)
    func pathsClassesAndTimes(_ platform: Harness.TestPlatform) throws {
        let y = Harness.sandboxed(platform, "/bin/busybox", ["cat", "/etc/hostname"], extra: ["--strace", "-y", "-e", "trace=openat,read,close"])
        #expect(y.stderr.contains("openat(AT_FDCWD, \"/etc/hostname\", O_RDONLY) = 3</etc/hostname>"), "\(y.stderr)")
        #expect(y.stderr.contains("close(3</etc/hostname>)"))

        let file = Harness.sandboxed(platform, "/bin/busybox", ["ls", "/etc/hostname", "/nonexistent"], extra: ["--strace", "-e", "trace=%file"])
        let calls = file.stderr.split(separator: "\n").filter { !$0.hasPrefix("+++") && $0.contains("(") }
        let fileCalls = Set(SyscallClass.members("%file")!)
        #expect(!calls.isEmpty && calls.allSatisfy { fileCalls.contains(String($0.prefix { $0 != "(" })) }, "\(calls)")
        #expect(calls.contains { $0.hasPrefix("newfstatat(AT_FDCWD, \"/nonexistent\"") || $0.hasPrefix("lstat(\"/nonexistent\"") })

        let failed = Harness.sandboxed(platform, "/bin/busybox", ["ls", "/nonexistent"], extra: ["--strace", "-e", "status=failed"])
        let failures = failed.stderr.split(separator: "\n").filter { !$0.hasPrefix("+++") && $0.contains("(") && !$0.hasPrefix("ls:") }
        #expect(!failures.isEmpty && failures.allSatisfy { $0.contains(" = -1 E") }, "\(failures)")

        let timed = Harness.sandboxed(platform, Harness.image("hello"), extra: ["--strace", "-T", "-tt", "-e", "trace=write"])
        let line = try #require(timed.stderr.split(separator: "\n").first { $0.contains("write(1") })
        #expect(line.wholeMatch(of: /\d\d:\d\d:\d\d\.\d{6} write\(1, .*\) += \d+ <\d+\.\d{6}>/) != nil, "\(line)")

        let s = Harness.sandboxed(platform, "/bin/busybox", ["echo", "abcdefgh"], extra: ["--strace", "-s", "4", "-e", "trace=write"])
        #expect(s.stderr.contains("write(1, \"abcd\"..., 9)"), "\(s.stderr)")
    }

    /// A Go program: the runtime's threads (how many, and which runs what)
    /// and its timing-driven calls differ from run to run even natively, so
    /// the distinct calls are compared as a set, halves of interrupted calls
    /// joined, addresses aside. Left out, each for its reason: calls natively
    /// served by the vDSO (clock_gettime, which the sentry has no vDSO for);
    /// the scheduler's (futex, nanosleep, sched_yield, the preemption signals'
    /// getpid/tgkill/rt_sigreturn, clone, gettid); the first execve (the
    /// sentry starts the program itself); the transparent-huge-page probe
    /// (its /sys file read and madvise); the descriptor limit (the sandbox's
    /// own, a quarter of the sentry's); sched_getaffinity's size, which is
    /// the host kernel's cpumask size (NR_CPUS-based on 6.18's config); the
    /// old disposition of SIGRTMIN and SIGRT_1, glibc's own signals, which the
    /// runner may leave ignored and the sentry does not pass on (glibc's
    /// sigaction refuses to look at them); calls a thread was in when
    /// exit_group cut it off, which strace prints only when the race happens.
    @Test(arguments: Harness.platforms)
    func goProgramMatchesRealStrace(_ platform: Harness.TestPlatform) throws {
        let strace = "/usr/bin/strace", exe = Harness.image("go-hello")
        try #require(FileManager.default.isExecutableFile(atPath: strace), "strace is not installed")
        guard FileManager.default.isExecutableFile(atPath: exe) else { print("skipped: no Go guests here (golang-go is not installed)"); return }
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let native = dir.appendingPathComponent("native").path, ours = dir.appendingPathComponent("ours").path
        let n = Harness.run(strace, ["-f", "-qq", "-o", native, exe])
        let o = Harness.sandboxed(platform, exe, extra: ["--strace", "-o", ours])
        #expect(n.stdout == "hello from Go\n" && o.stdout == n.stdout, "\(o)")
        let expected = try Self.goCalls(native), got = try Self.goCalls(ours)
        #expect(expected.count > 20)
        #expect(got == expected, "only natively: \(expected.subtracting(got).sorted())\nonly in the sandbox: \(got.subtracting(expected).sorted())")
    }

    static func goCalls(_ path: String) throws -> Set<String> {
        let skipped: Set<String> = ["futex", "nanosleep", "sched_yield", "rt_sigreturn", "clock_gettime", "gettid", "clone", "getpid",
                                    "tgkill", "madvise", "execve", "getrlimit", "prlimit64", "close", "read", "openat"]
        var pending: [String: String] = [:], out: Set<String> = []
        for raw in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            var line = String(raw), pid = "1"
            if line.hasPrefix("[pid ") {
                pid = String(line.dropFirst(5).drop { $0 == " " }.prefix { $0.isNumber }); line = String(line.drop { $0 != "]" }.dropFirst(2))
            } else if line.first?.isNumber == true {
                pid = String(line.prefix { $0.isNumber }); line = String(line.drop { $0.isNumber }.drop { $0 == " " })
            }
            if line.hasPrefix("---") || line.hasPrefix("+++") { continue }
            // A thread cut off by exit_group: strace prints the call it was in
            // as "<unfinished ...>) = ?", as "???()" if it had not read it
            // yet, or with exit_group's number (231) as its result when it
            // read the registers as the group exit rewrote them.
            if line.hasSuffix("<unfinished ...>) = ?") || line.hasPrefix("???(") || line.contains(/\) += 231$/) { continue }
            if line.hasSuffix(" <unfinished ...>") { pending[pid] = String(line.dropLast(17)); continue }
            if line.hasPrefix("<... "), let r = line.range(of: "resumed>") {
                guard let start = pending.removeValue(forKey: pid) else { continue }  // its start was one of the above
                line = start + line[r.upperBound...]
            }
            guard !skipped.contains(String(line.prefix { $0 != "(" })),
                  !line.hasPrefix("rt_sigaction(SIGRTMIN, NULL,"), !line.hasPrefix("rt_sigaction(SIGRT_1, NULL,") else { continue }
            line = line.replacingOccurrences(of: #"0x[0-9a-f]+"#, with: "ADDR", options: .regularExpression)
                .replacingOccurrences(of: #"\) += "#, with: ") = ", options: .regularExpression)
                .replacingOccurrences(of: #"^(sched_getaffinity\(.*\)) = \d+$"#, with: "$1 = SIZE", options: .regularExpression)
            out.insert(line)
        }
        return out
    }

    /// Per task (keyed by pid), the call lines as "name = result" after
    /// normalising; strace's <unfinished ...>/<... resumed> halves joined.
    static func tasks(_ path: String, native: Bool) throws -> [[String]] {
        var order: [String] = [], byTask: [String: [String]] = [:], pending: [String: String] = [:]
        for raw in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            // The sentry's first task is pid 1; its lines before the first clone have no prefix.
            var line = Substring(raw), pid = "1"
            if native {
                pid = String(line.prefix { $0.isNumber }); line = line.drop { $0.isNumber }.drop { $0 == " " }
            } else if line.hasPrefix("[pid ") {
                pid = String(line.dropFirst(5).drop { $0 == " " }.prefix { $0.isNumber }); line = line.drop { $0 != "]" }.dropFirst(2)
            }
            if order.isEmpty { order.append(pid) }
            if line.hasPrefix("---") || line.hasPrefix("+++") { continue }
            // A thread cut off by exit_group: strace prints the call it was in
            // as "<unfinished ...>) = ?", as "???()" if it had not read it
            // yet, or with exit_group's number (231) as its result when it
            // read the registers as the group exit rewrote them.
            if line.hasSuffix("<unfinished ...>) = ?") || line.hasPrefix("???(") || line.contains(/\) += 231$/) { continue }
            if line.hasSuffix(" <unfinished ...>") { pending[pid] = String(line.prefix { $0 != "(" }); continue }
            var name = String(line.prefix { $0 != "(" })
            if line.hasPrefix("<... ") { name = pending.removeValue(forKey: pid) ?? String(line.dropFirst(5).prefix { $0 != " " }) }
            guard let eq = line.range(of: " = ", options: .backwards) else { continue }
            var result = String(line[eq.upperBound...])
            if let cut = result.range(of: " (not implemented in the sentry)") { result.removeSubrange(cut.lowerBound...) }
            if ["futex", "rt_sigreturn", "restart_syscall"].contains(name) || result.hasPrefix("? ERESTART") { continue }
            // Pids; getppid's too, 0 for the sandbox's init as in a pid namespace.
            if ["set_tid_address", "clone", "clone3", "fork", "vfork", "getpid", "getppid", "gettid", "wait4"].contains(name),
               let n = Int(result), n >= 0 { result = "PID" }
            if result.hasPrefix("0x") { result = "0x" }
            if !order.contains(pid) { order.append(pid) }
            byTask[pid, default: []].append(name + " = " + result)
        }
        return order.map { byTask[$0] ?? [] }
    }
}
