import CSwitch
import Foundation
import Glibc
@testable import Sentry

/// Runs guests natively and in the sandbox, and finds the pieces tests need.
enum Harness {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let images = packageRoot.appendingPathComponent("images")

    static func image(_ name: String) -> String { images.appendingPathComponent("bin/\(name)").path }

    /// The `sentry` executable built next to the test bundle.
    static let sentry: String = {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [here, here.deletingLastPathComponent()] {
            let c = dir.appendingPathComponent("sentry").path
            if FileManager.default.isExecutableFile(atPath: c) { return c }
        }
        return packageRoot.appendingPathComponent(".build/debug/sentry").path
    }()

    /// Builds images/ once per test process (make is a no-op when up to date).
    static let imagesBuilt: Bool = {
        let r = run("/usr/bin/make", ["-s", "-C", images.path])
        if r.status != 0 { print("images/ failed to build:\n\(r.stderr)") }
        return r.status == 0
    }()

    /// A fresh directory for one test's files; the caller removes it.
    static func scratchDirectory() throws -> URL {
        // Not under /tmp: the sandbox has its own /tmp. Under the package,
        // which is the tests' working directory and so visible to guests.
        let dir = packageRoot.appendingPathComponent(".build/scratch/sentry-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Writes an executable file through a close-on-exec descriptor: tests
    /// run in parallel, and a write descriptor inherited by another test's
    /// child would make a native exec of the file fail with ETXTBSY.
    static func writeExecutable(_ bytes: Data, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw POSIXError(.EIO) }
    }

    /// How long one program may run before the harness kills it (the VM's
    /// emulated CPU is tens of times slower than the host's).
    static let runLimit: TimeInterval = 300

    /// Whether the host's own loopback carries TCP (the VM's may be down):
    /// without it a native socket test would wait for a connection forever.
    static let hostLoopbackWorks: Bool = {
        let l = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0), c = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        defer { close(l); close(c) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                bind(l, sp, len) == 0 && listen(l, 1) == 0 && getsockname(l, sp, &len) == 0
                    && (connect(c, sp, len) == 0 || errno == EINPROGRESS)
            }
        }
        guard ok else { return false }
        var p = pollfd(fd: c, events: Int16(POLLOUT), revents: 0)
        guard poll(&p, 1, 2000) == 1 else { return false }
        var err: Int32 = 0, elen = socklen_t(4)
        getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &elen)
        return err == 0
    }()

    /// Whether a native run in `dir` is a fair reference for the sentry's own
    /// tmpfs: a local disk filesystem or tmpfs. The VM's root (9p under
    /// overlayfs) lacks user xattrs and RWF_NOWAIT, so comparisons made
    /// there are skipped with the reason printed.
    static func nativeFilesystemComparable(_ dir: String, _ what: String) -> Bool {
        var s = sw_statfs()
        guard statfs(dir, &s) == 0 else { return true }
        let local: Set<Int> = [0xEF53 /* ext2-4 */, 0x0102_1994 /* tmpfs */, 0x5846_5342 /* xfs */, 0x9123_683E /* btrfs */]
        if local.contains(Int(s.f_type)) { return true }
        print("skipping \(what): the native directory is on filesystem 0x\(String(s.f_type, radix: 16)), not a local disk or tmpfs")
        return false
    }

    /// Why the host kernel cannot run guest `name` natively (the VM's
    /// tinyconfig kernel has no System V IPC and no devpts), nil if it can.
    /// Whether the host's memfds report their holes (SEEK_DATA on shmem; a
    /// kernel without CONFIG_SHMEM backs them by ramfs, all data): the
    /// sentry's OOM killer measures guests by them.
    static let memfdReportsHoles: Bool = {
        let fd = sw_memfd("probe")
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard ftruncate(fd, 1 << 20) == 0 else { return false }
        var b: UInt8 = 1
        guard pwrite(fd, &b, 1, 0) == 1 else { return false }
        return lseek(fd, 65536, 3 /* SEEK_DATA */) < 0 && errno == ENXIO
    }()

    /// strace's lines as the comparisons read them: no "+++" exit lines,
    /// no "[pid N] " prefix, stack addresses as ADDR, then each (regular
    /// expression, template) of `rules` in turn.
    static func straceLines(_ text: String, _ rules: [(String, String)] = []) -> [String] {
        text.split(separator: "\n").map(String.init).filter { !$0.contains("+++") }.map { line in
            let base = line.replacingOccurrences(of: #"^\[pid +\d+\] "#, with: "", options: .regularExpression)
                .replacingOccurrences(of: #"0x7[0-9a-f]{7,}"#, with: "ADDR", options: .regularExpression)
            return rules.reduce(base) { $0.replacingOccurrences(of: $1.0, with: $1.1, options: .regularExpression) }
        }
    }

    /// A /proc file's text (their size is 0, so read until EOF).
    static func procText(_ path: String) -> String {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var out: [UInt8] = [], buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Running in the patched kernel's VM (images/kernel/vm): a tinyconfig
    /// 6.1 under QEMU TCG, whose native runs lack much of what the
    /// comparisons need (IA32 emulation, mqueue, dnotify, THP, checkpoint/restore
    /// interfaces, shmem accounting).
    static var inPatchedVM: Bool { platforms.contains { $0.kind == .vmexec } }
    /// Why CPU-time bounds of a few milliseconds don't hold here, if they don't.
    static let cpuTimeIsInexact: String? = inPatchedVM
        ? "under the VM's emulation (no steal time) a guest thread is charged for the host's preemption of its vCPU, so bounds of a few ms of CPU time don't hold"
        : nil
    static let vmLacks: Set<String> = ["sud", "mqueue", "dnotify", "procabi", "procfmt", "x86abi", "memedge", "oom", "mempolicy", "inet", "sockdiag", "procmem", "acl", "landlock", "softdirty"]

    /// A page can be mapped at 2^48: the host has 5-level paging (la57; QEMU's `-cpu max`).
    static let hostUserSpacePasses47Bits: Bool = {
        let MAP_FIXED_NOREPLACE: Int32 = 0x100000
        guard let p = mmap(UnsafeMutableRawPointer(bitPattern: 1 << 48), 4096, PROT_READ,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0), p != MAP_FAILED else { return false }
        munmap(p, 4096)
        return true
    }()

    static func nativeKernelLacks(_ name: String) -> String? {
        if inPatchedVM && vmLacks.contains(name) {
            return "the patched kernel's VM runs a tinyconfig kernel whose native run differs here (\(name))"
        }
        switch name {
        case "sysvipc" where !FileManager.default.fileExists(atPath: "/proc/sysvipc/shm"):
            return "no System V IPC in the host kernel"
        case "pty", "jobctl":
            var s = sw_statfs()
            return statfs("/dev/pts", &s) == 0 && s.f_type == 0x1cd1 /* DEVPTS_SUPER_MAGIC */ ? nil : "no devpts at /dev/pts in the host"
        case "procabi" where getuid() != 0:
            return "the native run needs root (set_tid's EEXIST, dropping to another user)"
        case "int80" where inPatchedVM:
            return "the patched kernel's VM runs a tinyconfig kernel"
        case "int80" where FileManager.default.fileExists(atPath: "/proc/sys/abi/vsyscall32")
                           && !procText("/proc/cmdline").contains("ia32_emulation=0"):
            return "the host kernel has IA32 emulation (its int $0x80 runs an i386 syscall); the sentry presents 6.1 without it"
        case "vsyscall" where inPatchedVM:
            return "the patched kernel's VM runs a tinyconfig kernel"
        case "vsyscall" where !procText("/proc/self/maps").contains("--xp 00000000 00:00 0                  [vsyscall]"):
            return "the host kernel's vsyscall page is not vsyscall=xonly (none, or emulate with a readable page)"
        case "x86abi" where !procText("/proc/self/maps").contains("[vsyscall]"):
            return "the host kernel has no vsyscall page (no X86_VSYSCALL_EMULATION): x86abi's vsyscall calls are a SIGSEGV there"
        case "softdirty" where !FileManager.default.fileExists(atPath: "/proc/self/pagemap"):
            return "no /proc/PID/pagemap (CONFIG_PROC_PAGE_MONITOR) in the host kernel"
        case "memedge" where !FileManager.default.fileExists(atPath: "/sys/kernel/mm/transparent_hugepage"):
            return "no transparent huge pages in the host kernel (its MADV_HUGEPAGE is EINVAL)"
        case "aio" where !FileManager.default.fileExists(atPath: "/proc/sys/fs/aio-max-nr"):
            return "no Linux AIO (CONFIG_AIO) in the host kernel"
        case "pkru" where !procText("/proc/cpuinfo").contains(" ospke"):
            return "the host CPU has no protection keys enabled (no ospke in /proc/cpuinfo)"
        case "inotify" where !FileManager.default.fileExists(atPath: "/proc/sys/fs/inotify"):
            return "no inotify (CONFIG_INOTIFY_USER) in the host kernel"
        case "dnotify" where !FileManager.default.fileExists(atPath: "/proc/sys/fs/dir-notify-enable"):
            return "no dnotify (CONFIG_DNOTIFY) in the host kernel"
        case "procabi" where !FileManager.default.fileExists(atPath: "/proc/self/map_files"),
             "procfmt" where !FileManager.default.fileExists(atPath: "/proc/self/map_files"):
            return "no CONFIG_CHECKPOINT_RESTORE in the host kernel (kcmp, /proc/PID/map_files)"
        case "mempolicy" where procText("/sys/devices/system/node/possible") != "0\n":
            return "the host is not a one-node NUMA machine (CONFIG_NUMA with node 0 alone), which is what the sandbox shows"
        case "mqueue" where !FileManager.default.fileExists(atPath: "/proc/sys/fs/mqueue"):
            return "no POSIX message queues in the host kernel"
        case "namespaces" where !FileManager.default.fileExists(atPath: "/proc/self/ns/net"):
            return "no namespaces (CONFIG_NAMESPACES) in the host kernel: its /proc/PID/ns has mnt alone"
        case "userspace47" where hostUserSpacePasses47Bits:
            return "the host kernel runs 5-level paging: its user space goes past 47 bits, where the sentry's (and 6.1's default) ends"
        default:
            return nil
        }
    }

    struct Result: Equatable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `exe` with a clean signal state (Foundation's Process leaves
    /// most signals blocked in the child, which breaks shells' `wait`).
    static func run(_ exe: String, _ args: [String], env: [String: String]? = nil, stdin: String? = nil,
                    stdinPath: String? = nil) -> Result {
        guard let dir = try? scratchDirectory() else { return Result(status: -1, stdout: "", stderr: "no scratch directory") }
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out").path, err = dir.appendingPathComponent("err").path
        let inp = dir.appendingPathComponent("in").path
        FileManager.default.createFile(atPath: inp, contents: Data((stdin ?? "").utf8))

        guard let pid = spawn(exe, args, env: env, stdin: stdinPath ?? (stdin == nil ? "/dev/null" : inp), stdout: out, stderr: err) else {
            return Result(status: -1, stdout: "", stderr: "posix_spawn \(exe) failed")
        }
        // A run that hangs fails the test instead of holding CI until its
        // time runs out: killed (with its process group) after `runLimit`.
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(runLimit)
        var timedOut = false
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno != EINTR) { break }
            if Date() > deadline {
                timedOut = true
                kill(-pid, SIGKILL); kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                break
            }
            usleep(2000)
        }
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let errText = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        return Result(status: code,
                      stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                      stderr: timedOut ? errText + "\n[killed after \(Int(runLimit)) s: the run hung]\n" : errText)
    }

    /// Starts `exe` with default dispositions and an empty signal mask.
    static func spawn(_ exe: String, _ args: [String], env: [String: String]?, stdin: String, stdout: String, stderr: String) -> pid_t? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([exe] + args).map { strdup($0) } + [nil]
        var environment = env ?? ProcessInfo.processInfo.environment
        // scripts/tsan: a sanitized sentry must report to its files, whatever environment the test gives.
        if env != nil, let tsan = ProcessInfo.processInfo.environment["TSAN_OPTIONS"] { environment["TSAN_OPTIONS"] = tsan }
        // And the sentry's self-confinement mode (SENTRY_SELF_CONFINE=log: how its filter's list is measured).
        if env != nil, environment["SENTRY_SELF_CONFINE"] == nil, let mode = ProcessInfo.processInfo.environment["SENTRY_SELF_CONFINE"] {
            environment["SENTRY_SELF_CONFINE"] = mode
        }
        let envList = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envList.forEach { free($0) } }
        var pid: pid_t = 0
        return posix_spawn(&pid, exe, &actions, &attr, argv, envList) == 0 ? pid : nil
    }

    /// The guest under `sentry run --platform P`.
    static func sandboxed(_ platform: TestPlatform, _ exe: String, _ args: [String] = [], extra: [String] = [],
                          env: [String: String]? = nil, stdin: String? = nil, stdinPath: String? = nil) -> Result {
        run(sentry, ["run"] + platform.arguments + extra + [exe] + args, env: env, stdin: stdin, stdinPath: stdinPath)
    }

    /// A platform as the tests run it: systrap once per trap kind.
    struct TestPlatform: Sendable, CustomStringConvertible {
        let kind: PlatformKind
        let arguments: [String]
        let rawValue: String
        var description: String { rawValue }
    }

    /// Platforms to test here; the others are printed with the reason.
    /// SENTRY_TEST_PLATFORMS (e.g. "vmexec") narrows the set, as the
    /// VM run does to keep emulated time down.
    static let platforms: [TestPlatform] = {
        let all = availablePlatforms
        guard let wanted = ProcessInfo.processInfo.environment["SENTRY_TEST_PLATFORMS"]?.split(separator: ",").map(String.init) else {
            return all
        }
        for p in all where !wanted.contains(p.rawValue) { print("skipping platform \(p.rawValue): not in SENTRY_TEST_PLATFORMS") }
        for w in wanted where !all.contains(where: { $0.rawValue == w }) { print("platform \(w) was asked for but is not available here") }
        return all.filter { wanted.contains($0.rawValue) }
    }()

    static let availablePlatforms: [TestPlatform] = {
        var out: [TestPlatform] = []
        for s in PlatformKind.survey() {
            guard s.available else { print("skipping platform \(s.kind.rawValue): \(s.reason)"); continue }
            if s.kind == .systrap {
                if PlatformKind.sudAvailable {
                    out.append(TestPlatform(kind: .systrap, arguments: ["--platform", "systrap", "--systrap-trap", "sud"], rawValue: "systrap-sud"))
                } else {
                    print("skipping platform systrap with --systrap-trap sud: no Syscall User Dispatch on this kernel")
                }
                out.append(TestPlatform(kind: .systrap, arguments: ["--platform", "systrap", "--systrap-trap", "seccomp"], rawValue: "systrap-seccomp"))
            } else {
                out.append(TestPlatform(kind: s.kind, arguments: ["--platform", s.kind.rawValue], rawValue: s.kind.rawValue))
            }
        }
        return out
    }()
}
