import Foundation
import Glibc
import Synchronization
import Testing
@testable import Sentry
import Syscalls

/// The kernel's logic driven by scripted guests (ScriptedPlatform): signal
/// frames and rt_sigreturn, syscall restart, fork/wait/exit statuses,
/// futexes between threads, thread exit. No stub, no host trap: what is
/// tested is the sentry's own code between the trap and the return.
@Suite(.serialized) struct ScriptedKernelTests {
    /// Records what a program saw, for the test to check after the run.
    final class Log: @unchecked Sendable {
        /// Sendable: behind its Mutex.
        private let lines = Mutex<[String]>([])
        func add(_ s: String) { lines.withLock { $0.append(s) } }
        var all: [String] { lines.withLock { $0 } }
    }

    /// Runs `main` as pid 1 (images/bin/hello's image is loaded, for its
    /// stack and auxv; its code never runs) and returns init's status.
    static func run(_ main: @escaping ScriptedPlatform.Program) throws -> Sentry.ExitStatus {
        #expect(Harness.imagesBuilt, "make -C images failed")
        let memory = try MemoryFile(size: 1 << 32)
        let platform = ScriptedPlatform(memory: memory, main: main)
        let vfs = try VFS(root: try HostFS(path: "/"), overlay: false, memory: memory)
        // The images' directory where the host has it (a checkout under /tmp is
        // otherwise hidden by the sandbox's own /tmp).
        let bin = Harness.images.appendingPathComponent("bin").path
        try vfs.bind(host: bin, at: bin, readOnly: true)
        let kernel = Kernel(platform: platform, memory: memory, layout: AddressLayout(top: GuestAddress(0x7fff_f000_0000)),
                            table: linuxAMD64, vfs: vfs, tracer: nil)
        let task = try kernel.start(path: Harness.image("hello"), argv: ["hello"], envp: [], cwd: "/")
        // Tasks hold their kernel unowned: a sentry exits when init's run
        // ends, a test process goes on, with the killed tasks' threads still
        // unwinding. Their kernels stay.
        Self.kernels.withLock { $0.append(kernel) }
        // The run loop blocks this thread until init's process is gone.
        return kernel.run(task)
    }

    static let kernels = Mutex<[Kernel]>([])
    static let SIGUSR1: UInt64 = 10, SIGCHLD: UInt64 = 17

    /// sigaction with a handler at a scripted address and the scripted restorer.
    static func sigaction(_ cpu: GuestCPU, _ sig: UInt64, _ handler: UInt64, flags: UInt64 = 0, at buf: UInt64) -> Int64 {
        cpu.write(buf, (handler, flags | 0x0400_0000 /* SA_RESTORER */, GuestCPU.restorer, UInt64(0)))
        return cpu.syscall(13, sig, buf, 0, 8)
    }

    @Test func exitGroupStatusReachesTheRunner() throws {
        let status = try Self.run { cpu in cpu.syscall(231, 42) }
        #expect(status == .exited(42))
    }

    /// A handler runs on the guest's stack with signo, &siginfo, &ucontext; the
    /// frame's siginfo says who sent it; rt_sigreturn puts every register back,
    /// and the interrupted syscall's result (kill's 0) is what the program sees.
    @Test func signalFrameAndSigreturnRestoreTheRegisters() throws {
        let log = Log()
        let status = try Self.run { cpu in
            let buf = cpu.allocate(4096)
            let h = cpu.handler { cpu, signo, info, uc in
                let siSigno = cpu.read(info, as: Int32.self), siCode = cpu.read(info + 8, as: Int32.self)
                let siPid = cpu.read(info + 16, as: Int32.self)
                // uc_mcontext.rip (ucontext + 40 + 16*8) is where the program was: after its syscall.
                let rip = cpu.read(uc + 40 + 16 * 8, as: UInt64.self)
                log.add("handler signo=\(signo) si_signo=\(siSigno) si_code=\(siCode) si_pid=\(siPid) rip=\(rip == GuestCPU.syscallSite + 2)")
                // A write to the saved rbx comes back on sigreturn, as on Linux.
                cpu.write(uc + 40 + 11 * 8, UInt64(0xabcd))
            }
            log.add("sigaction=\(Self.sigaction(cpu, Self.SIGUSR1, h, at: buf))")
            let before = cpu.regs.raw.rsp
            log.add("kill=\(cpu.syscall(62, 1, Self.SIGUSR1))")
            log.add("rsp kept=\(cpu.regs.raw.rsp == before) rbx=\(String(cpu.regs.raw.rbx, radix: 16))")
            cpu.syscall(231, 0)
        }
        #expect(status == .exited(0))
        #expect(log.all == [
            "sigaction=0",
            "handler signo=10 si_signo=10 si_code=0 si_pid=1 rip=true",
            "kill=0",
            "rsp kept=true rbx=abcd",
        ])
    }

    /// Signals that interrupt blocking calls: pause() is never restarted
    /// (EINTR after the handler), nanosleep's ERESTART_RESTARTBLOCK becomes
    /// EINTR with the remaining time written, since a handler ran.
    @Test func interruptedCallsFailWithEINTRAfterTheHandler() throws {
        let log = Log()
        let status = try Self.run { cpu in
            let buf = cpu.allocate(4096)
            let phase = cpu.allocateShared(4096)
            let h = cpu.handler { _, _, _, _ in log.add("handler") }
            _ = Self.sigaction(cpu, Self.SIGUSR1, h, at: buf)
            // The child signals its parent once the parent says it is about
            // to block (a word in shared memory): the signal then finds the
            // parent blocked, or pending at the call's entry; either way the
            // call is interrupted.
            cpu.platform.enqueue { child in
                for p in [UInt32(1), 2] {
                    while child.read(phase, as: UInt32.self) != p { child.syscall(24) }
                    child.syscall(62, 1, Self.SIGUSR1)
                }
                child.syscall(60, 0)
            }
            let pid = cpu.syscall(57)   // fork
            log.add("fork>0=\(pid > 0)")
            cpu.write(phase, UInt32(1))
            log.add("pause=\(cpu.syscall(34))")
            let ts = buf + 512, rem = buf + 1024
            cpu.write(ts, (Int64(10), Int64(0)))
            cpu.write(phase, UInt32(2))
            log.add("nanosleep=\(cpu.syscall(35, ts, rem))")
            log.add("remaining<=10s=\(cpu.read(rem, as: Int64.self) <= 10)")
            let st = buf + 2048
            cpu.write(st, Int32(-1))
            log.add("wait4=\(cpu.syscall(61, UInt64(pid), st, 0, 0) == pid) status=\(cpu.read(st, as: Int32.self))")
            cpu.syscall(231, 0)
        }
        #expect(status == .exited(0))
        #expect(log.all == ["fork>0=true", "handler", "pause=-4", "handler", "nanosleep=-4", "remaining<=10s=true", "wait4=true status=0"])
    }

    /// Parent and child: the child's exit status, a kill by signal, and
    /// SIGCHLD's siginfo for the parent, as wait4 and the handler see them.
    @Test func forkWaitAndExitStatuses() throws {
        let log = Log()
        let status = try Self.run { cpu in
            let buf = cpu.allocate(4096)
            let h = cpu.handler { cpu, _, info, _ in
                log.add("SIGCHLD code=\(cpu.read(info + 8, as: Int32.self)) status=\(cpu.read(info + 24, as: Int32.self))")
            }
            _ = Self.sigaction(cpu, Self.SIGCHLD, h, at: buf)
            cpu.platform.enqueue { child in child.syscall(60, 7) }
            let a = cpu.syscall(57)
            cpu.write(buf + 256, Int32(-1))
            log.add("wait4 a=\(cpu.syscall(61, UInt64(a), buf + 256, 0, 0) == a) status=\(String(cpu.read(buf + 256, as: Int32.self), radix: 16))")
            cpu.platform.enqueue { child in child.spin() }
            let b = cpu.syscall(57)
            log.add("kill b=\(cpu.syscall(62, UInt64(b), 9))")
            let rb = cpu.syscall(61, UInt64(b), buf + 256, 0, 0)
            log.add("wait4 b=\(rb == b ? "true" : "\(rb)") status=\(cpu.read(buf + 256, as: Int32.self))")
            log.add("wait4 none=\(cpu.syscall(61, UInt64(bitPattern: -1), buf + 256, 0, 0))")
            cpu.syscall(231, 3)
        }
        #expect(status == .exited(3))
        // b's SIGCHLD may come before kill returns or after: b dies on its own thread.
        let lines = log.all
        #expect(lines.count == 6)
        // A blocked wait4 woken by SIGCHLD finds the zombie: the scan and
        // the signal check are one look under the kernel lock.
        #expect(Array(lines.prefix(2)) == ["SIGCHLD code=1 status=7", "wait4 a=true status=700"])
        // b dies on its own thread, which may be between the wait's look
        // and its sleep: then the wake-up finds the SIGCHLD first and, with
        // no SA_RESTART, the wait is EINTR, as do_wait's can be when a child
        // dies between its scan and its signal_pending check. The catch-all
        // wait reaps b then.
        let tail = Array(lines.suffix(2))
        #expect(tail == ["wait4 b=true status=9", "wait4 none=-10"] || tail == ["wait4 b=-4 status=1792", "wait4 none=3"], "\(tail)")
        #expect(Set(lines.dropFirst(2).prefix(2)) == ["kill b=0", "SIGCHLD code=2 status=9"])
    }

    /// Threads of one process: FUTEX_WAIT sleeps until FUTEX_WAKE, a stale
    /// value is EAGAIN, and CLONE_CHILD_CLEARTID wakes the joiner at exit.
    @Test func futexesBetweenThreads() throws {
        let log = Log()
        let status = try Self.run { cpu in
            let mem = cpu.allocate(4096)
            let word = mem, tid = mem + 64
            cpu.write(word, UInt32(0))
            log.add("stale=\(cpu.syscall(202, word, 0 | 128, 1, 0))")   // FUTEX_WAIT_PRIVATE, expecting 1: EAGAIN
            cpu.platform.enqueue { thread in
                while thread.read(word, as: UInt32.self) == 0 { thread.syscall(24) }   // sched_yield
                // A wake before the main thread sleeps finds nobody: again.
                while thread.syscall(202, word, 1 | 128, 1) == 0 { thread.syscall(24) }
                log.add("woke")
                thread.syscall(60, 0)
            }
            // CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|CHILD_CLEARTID|PARENT_SETTID
            let flags: UInt64 = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x200000 | 0x100000
            let t = cpu.syscall(56, flags, mem + 2048, tid, tid, 0)
            log.add("clone>0=\(t > 0) settid=\(cpu.read(tid, as: Int32.self) == Int32(t))")
            cpu.write(word, UInt32(1))
            log.add("wait=\(cpu.syscall(202, word, 0 | 128, 1, 0))")
            // Join: the kernel clears *tid and wakes it when the thread exits.
            while true {
                let v = cpu.read(tid, as: Int32.self)
                if v == 0 { break }
                _ = cpu.syscall(202, tid, 0, UInt64(UInt32(bitPattern: v)), 0)
            }
            log.add("joined")
            cpu.syscall(231, 0)
        }
        #expect(status == .exited(0))
        let lines = log.all
        #expect(lines.first == "stale=-11")
        #expect(lines.contains("clone>0=true settid=true"))
        #expect(lines.contains("woke"))
        #expect(lines.contains("wait=0"))
        #expect(lines.last == "joined")
    }
}
