import CSwitch
import Foundation
import Testing
@testable import Sentry

/// The everyday syscall families (credentials, prctl, the scheduler,
/// vectored I/O, memory locking, close_range, xattrs): C guests from images/
/// that print what they see, compared with the same program run natively on
/// every platform. They are written to hold whatever uid runs them.
@Suite(.serialized) struct SyscallFamilyTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    @Test(arguments: Harness.platforms)
    func credentialsPrctlAndSchedulerMatchNative(_ platform: Harness.TestPlatform) {
        for name in ["creds", "prctl", "sched", "schedattr"] {
            let native = Harness.run(Harness.image(name), [])
            #expect(native.status == 0, "\(name) natively: \(native.stderr)")
            let boxed = Harness.sandboxed(platform, Harness.image(name))
            #expect(boxed == native, "\(name) on \(platform.rawValue)")
        }
    }

    /// personality(2) and what its flags change (uname under UNAME26 and
    /// PER_LINUX32, READ_IMPLIES_EXEC in mmap/mprotect, STICKY_TIMEOUTS,
    /// fork and exec), protection keys as on a CPU without PKU, I/O
    /// priorities (set, inherited, derived from nice for a group) and
    /// sync_file_range's checks, in tmpfs.
    @Test(arguments: Harness.platforms)
    func personalityKeysAndIOPrioritiesMatchNative(_ platform: Harness.TestPlatform) throws {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        if cpuinfo.contains(" pku") {
            print("skipping persona's native comparison on \(platform.rawValue): this CPU has protection keys, the sandbox presents none"); return
        }
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let native = Harness.run(Harness.image("persona"), [scratch.path])
        #expect(native.status == 0 && native.stdout.contains("PER_LINUX32 machine: i686\n"), "persona natively: \(native.stderr)")
        #expect(Harness.sandboxed(platform, Harness.image("persona"), ["/tmp"]) == native, "persona on \(platform.rawValue)")
    }

    /// POSIX ACLs through the raw system.posix_acl_* xattrs (acl.c): their
    /// validation, permission checks by named users and groups through the
    /// mask, chmod, default ACLs inherited instead of the umask, the owner
    /// rule and S_ISGID, in tmpfs and an overlay's upper layer, compared with
    /// the same program in a native tmpfs (/dev/shm). It must start as root.
    @Test(arguments: Harness.platforms)
    func posixACLsMatchNative(_ platform: Harness.TestPlatform) throws {
        guard getuid() == 0 else { print("skipping acl on \(platform.rawValue): natively it must start as root"); return }
        let native = "/dev/shm/sentry-acl-\(getpid())-\(platform.rawValue)"
        guard mkdir(native, 0o755) == 0 || errno == EEXIST else { print("skipping acl on \(platform.rawValue): no /dev/shm"); return }
        defer { _ = Harness.run("/bin/rm", ["-rf", native]) }
        if let why = Harness.nativeKernelLacks("acl") {
            // No tmpfs ACLs natively there (CONFIG_TMPFS_POSIX_ACL): the sandbox's own run is checked alone.
            print("skipping acl's native comparison on \(platform.rawValue): \(why)")
            let r = Harness.sandboxed(platform, Harness.image("acl"), ["/tmp"])
            #expect(r.status == 0 && r.stdout.contains("full: 0\n"), "acl in tmpfs on \(platform.rawValue): \(r)")
            return
        }
        let reference = Harness.run(Harness.image("acl"), [native])
        #expect(reference.status == 0 && reference.stdout.contains("full: 0\n"), "acl natively: \(reference.stderr)")
        #expect(Harness.sandboxed(platform, Harness.image("acl"), ["/tmp"]) == reference, "acl in tmpfs on \(platform.rawValue)")
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        chmod(scratch.path, 0o755)
        let over = scratch.appendingPathComponent("over").path
        try FileManager.default.createDirectory(atPath: over, withIntermediateDirectories: true)
        chmod(over, 0o755)
        #expect(Harness.sandboxed(platform, Harness.image("acl"), [over], extra: ["--overlay"]) == reference,
                "acl in an overlay on \(platform.rawValue)")

        // Debian's setfacl and getfacl (dynamic binaries), where the acl package is installed.
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setfacl") else {
            print("skipping setfacl/getfacl on \(platform.rawValue): the acl package is not installed"); return
        }
        let script = { (dir: String) in
            "cd \(dir) && touch f && setfacl -m u:1000:rw,g:5:r f && getfacl -n f && ls -l f | cut -c1-11 && mkdir d && "
                + "setfacl -d -m u:1000:rwx d && touch d/x && getfacl -n d/x && setfacl -b f && getfacl -n f"
        }
        let tools = native + "/tools"
        _ = mkdir(tools, 0o755)
        let toolsNative = Harness.run("/bin/sh", ["-c", script(tools)])
        #expect(toolsNative.status == 0 && toolsNative.stdout.contains("user:1000:rwx\t#effective:rw-\n"), "setfacl natively: \(toolsNative.stderr)")
        #expect(Harness.sandboxed(platform, "/bin/sh", ["-c", script("/tmp")]) == toolsNative, "setfacl/getfacl on \(platform.rawValue)")
    }

    /// POSIX ACLs of host files through an rw bind (acl.c, then Debian's
    /// setfacl and getfacl): the host's ACLs consulted in the guest's
    /// permission checks, set on the host through the sandbox with the
    /// guest's owner rule, a host directory's default ACL inherited
    /// without the umask (and elsewhere the guest's umask, not the
    /// sentry's), compared with the same program in a host
    /// directory natively. It must start as root (it plays other users;
    /// the sentry, root on the host, must judge them itself).
    @Test(arguments: Harness.platforms)
    func hostFileACLsJudgeTheCaller(_ platform: Harness.TestPlatform) throws {
        guard getuid() == 0 else { print("skipping host acl on \(platform.rawValue): natively it must start as root"); return }
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        chmod(scratch.path, 0o755)
        let host = scratch.appendingPathComponent("native").path, bound = scratch.appendingPathComponent("bound").path
        for d in [host, bound] {
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            chmod(d, 0o755)
        }
        guard Harness.nativeFilesystemComparable(host, "host acl on \(platform.rawValue)") else { return }
        if sw_getxattr(host, "system.posix_acl_access", nil, 0) == -Int(EOPNOTSUPP) {
            print("skipping host acl on \(platform.rawValue): the host filesystem of \(host) keeps no POSIX ACLs"); return
        }
        let native = Harness.run(Harness.image("acl"), [host])
        #expect(native.status == 0 && native.stdout.contains("1000 write (mask): -13\n"), "acl natively in \(host): \(native.stderr)")
        #expect(Harness.sandboxed(platform, Harness.image("acl"), ["/mnt"], extra: ["--bind", "\(bound):/mnt:rw"]) == native,
                "acl in a host bind on \(platform.rawValue)")
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setfacl") else {
            print("skipping host setfacl/getfacl on \(platform.rawValue): the acl package is not installed"); return
        }
        // setfacl through the sandbox sets the host's ACL, which the host's getfacl shows.
        let script = { (dir: String) in
            "mkdir \(dir)/tools && cd \(dir)/tools && umask 077 && touch f && setfacl -m u:1000:rw,g:5:r f && getfacl -n f && ls -l f | cut -c1-11 && mkdir d && "
                + "setfacl -d -m u:1000:rwx,o::r d && touch d/x && mkdir d/y && getfacl -n d/x d/y && ls -ld d/x d/y | cut -c1-11 && "
                + "setfacl -b f && getfacl -n f && umask 0 && touch u && mkdir ud && ls -ld u ud | cut -c1-11"
        }
        let toolsNative = Harness.run("/bin/sh", ["-c", script(host)])
        #expect(toolsNative.status == 0 && toolsNative.stdout.contains("user:1000:rwx\t#effective:rw-\n"), "setfacl natively: \(toolsNative)")
        let boxed = Harness.sandboxed(platform, "/bin/sh", ["-c", script("/mnt")], extra: ["--bind", "\(bound):/mnt:rw"])
        #expect(boxed == toolsNative, "setfacl/getfacl in a host bind on \(platform.rawValue)")
        let onHost = Harness.run("/usr/bin/getfacl", ["-n", "--omit-header", bound + "/tools/d/x"])
        let nativeACL = Harness.run("/usr/bin/getfacl", ["-n", "--omit-header", host + "/tools/d/x"])
        #expect(onHost.status == 0 && onHost == nativeACL, "the host's own getfacl of d/x")
    }

    /// fs.protected_symlinks/hardlinks/fifos/regular in tmpfs and an
    /// overlay's upper layer: the guest prints each refusal with the errno
    /// Linux's rules give for the values /proc/sys/fs shows, and flags a
    /// mismatch. The sandbox shows Debian's values (1, 1, 1, 2); this host
    /// may show others (a container's 0, 1, 0, 0): the outputs are compared
    /// whole only where the values agree, each run is checked against the
    /// rules always. The guest must start as root to make other users' files.
    @Test(arguments: Harness.platforms)
    func protectedLinksFIFOsAndRegularFiles(_ platform: Harness.TestPlatform) throws {
        guard getuid() == 0 else { print("skipping protected on \(platform.rawValue): natively it must start as root"); return }
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        chmod(scratch.path, 0o755)
        let native = Harness.run(Harness.image("protected"), [scratch.path])
        #expect(native.status == 0 && !native.stdout.contains("MISMATCH"), "protected natively: \(native.stdout) \(native.stderr)")
        let debian = "sysctls: symlinks 1 hardlinks 1 fifos 1 regular 2\n"
        for extra in [[], ["--overlay"]] {
            let dir = extra.isEmpty ? "/tmp" : scratch.appendingPathComponent("over").path
            if !extra.isEmpty {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                chmod(dir, 0o755)
            }
            let boxed = Harness.sandboxed(platform, Harness.image("protected"), [dir], extra: extra)
            #expect(boxed.status == 0 && boxed.stdout.hasPrefix(debian) && !boxed.stdout.contains("MISMATCH"),
                    "protected \(extra) on \(platform.rawValue): \(boxed.stdout) \(boxed.stderr)")
            #expect(boxed.stdout.contains("root follows another's link in sticky: -13\n")
                    && boxed.stdout.contains("O_CREAT of another's FIFO, group-writable sticky: 0\n")
                    && boxed.stdout.contains("O_CREAT of another's file, group-writable sticky: -13\n"),
                    "protected \(extra) on \(platform.rawValue): \(boxed.stdout)")
            if native.stdout.hasPrefix(debian) { #expect(boxed == native, "protected \(extra) on \(platform.rawValue)") }
        }
    }

    /// The sandbox's own fs.protected_* and ping_group_range (sysctls.c):
    /// root writes them as 6.1's proc_dointvec_minmax and
    /// ipv4_ping_group_range read (ranges, bases, EINVAL, the bytes taken),
    /// others may not open them to write, and the VFS and ping sockets obey
    /// what was written. Then the sandbox is given the host's own values
    /// and protected.c's output is compared with its native run. Writing
    /// the host's would change the host: the guest checks its answers itself.
    @Test(arguments: Harness.platforms)
    func sandboxSysctlsAreWritable(_ platform: Harness.TestPlatform) throws {
        let r = Harness.sandboxed(platform, Harness.image("sysctls"), ["/tmp"])
        #expect(r.status == 0 && r.stdout.hasSuffix("0 mismatches\n"), "sysctls on \(platform.rawValue): \(r.stdout) \(r.stderr)")
        guard getuid() == 0 else { print("skipping protected with the host's values on \(platform.rawValue): natively it must start as root"); return }
        let names = ["protected_symlinks", "protected_hardlinks", "protected_fifos", "protected_regular"]
        let host = names.map { Harness.procText("/proc/sys/fs/" + $0).trimmingCharacters(in: .whitespacesAndNewlines) }
        guard host.allSatisfy({ Int($0) != nil }) else { print("skipping protected with the host's values: /proc/sys/fs unreadable"); return }
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        chmod(scratch.path, 0o755)
        let native = Harness.run(Harness.image("protected"), [scratch.path])
        let script = zip(names, host).map { "echo \($1) > /proc/sys/fs/\($0) && " }.joined() + "exec \(Harness.image("protected")) /tmp"
        let boxed = Harness.sandboxed(platform, "/bin/sh", ["-c", script])
        #expect(native.status == 0 && boxed == native, "protected with the host's values \(host) on \(platform.rawValue)")
    }

    /// inode_init_owner in tmpfs and an overlay's upper layer: what a
    /// process makes belongs to its fsuid and fsgid (setfsuid alone too), or
    /// in a set-group-ID directory to that group, a new directory there
    /// set-group-ID as well (PostgreSQL's initdb refused a data directory
    /// owned by root before). The guest must start as root to become 1000.
    @Test(arguments: Harness.platforms)
    func newFilesBelongToTheirMaker(_ platform: Harness.TestPlatform) throws {
        guard getuid() == 0 else { print("skipping owners on \(platform.rawValue): natively it must start as root"); return }
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        chmod(scratch.path, 0o755)
        let native = Harness.run(Harness.image("owners"), [scratch.path])
        #expect(native.status == 0 && native.stdout.contains("user-dir: uid 1000 gid 2000 setgid 1\n"), "owners natively: \(native.stderr)")
        #expect(Harness.sandboxed(platform, Harness.image("owners"), ["/tmp"]) == native, "owners in tmpfs on \(platform.rawValue)")
        let over = scratch.appendingPathComponent("over").path
        try FileManager.default.createDirectory(atPath: over, withIntermediateDirectories: true)
        chmod(over, 0o755)
        #expect(Harness.sandboxed(platform, Harness.image("owners"), [over], extra: ["--overlay"]) == native,
                "owners in an overlay on \(platform.rawValue)")
    }

    /// Discretionary access control (images/src/dac.c): root makes a tree
    /// of modes and owners, then users 1000 and 1001, a root without the
    /// DAC capabilities, and tasks whose real and effective ids differ try
    /// opens, the walk through 0700 and 0711 directories, creating and
    /// removing in 0755 and sticky directories, rename, chmod/chown/utimensat,
    /// truncate, access against AT_EACCESS, exec and hard links: the same
    /// errnos as natively, in tmpfs, in a writable host bind (judged from the
    /// host's ownership before the sentry opens anything) and in an overlay.
    @Test(arguments: Harness.platforms)
    func permissionBitsJudgeTheCaller(_ platform: Harness.TestPlatform) throws {
        guard getuid() == 0 else { print("skipping dac on \(platform.rawValue): natively it must start as root"); return }
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        chmod(scratch.path, 0o755)
        let host = scratch.appendingPathComponent("native").path, bound = scratch.appendingPathComponent("bound").path
        let over = scratch.appendingPathComponent("over").path
        for d in [host, bound, over] {
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            chmod(d, 0o755)
        }
        guard Harness.nativeFilesystemComparable(host, "dac on \(platform.rawValue)") else { return }
        let native = Harness.run(Harness.image("dac"), [host])
        #expect(native.status == 0 && native.stdout.contains("  unlink 1001's in sticky: EPERM\n")
                && native.stdout.contains("  real 0, euid 1000: access 0600: ok\n"), "dac natively: \(native.stderr)")
        #expect(Harness.sandboxed(platform, Harness.image("dac"), ["/tmp"]) == native, "dac in tmpfs on \(platform.rawValue)")
        #expect(Harness.sandboxed(platform, Harness.image("dac"), ["/mnt"], extra: ["--bind", "\(bound):/mnt:rw"]) == native,
                "dac in a host bind on \(platform.rawValue)")
        #expect(Harness.sandboxed(platform, Harness.image("dac"), [over], extra: ["--overlay"]) == native,
                "dac in an overlay on \(platform.rawValue)")
    }

    /// Vectored I/O, advice, FIO* ioctls, close_range, getdents, msync,
    /// mincore and mlock accounting, in tmpfs and in an rw bind of a host directory.
    @Test(arguments: Harness.platforms)
    func fileAndMemoryCallsMatchNative(_ platform: Harness.TestPlatform) throws {
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let host = scratch.appendingPathComponent("native").path, bound = scratch.appendingPathComponent("bound").path
        for d in [host, bound] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let native = Harness.run(Harness.image("vecio"), [host])
        #expect(native.status == 0, "vecio natively: \(native.stderr)")
        guard Harness.nativeFilesystemComparable(host, "vecio's native comparisons") else { return }
        #expect(Harness.sandboxed(platform, Harness.image("vecio"), ["/tmp"]) == native, "vecio in /tmp on \(platform.rawValue)")
        #expect(Harness.sandboxed(platform, Harness.image("vecio"), ["/work"], extra: ["--bind", "\(bound):/work:rw"]) == native,
                "vecio in an rw bind on \(platform.rawValue)")
    }

    /// Extended attributes: stored with tmpfs inodes (and an overlay's upper
    /// layer), passed through to the host in an rw bind, all as the host's own
    /// filesystem answers natively;
    /// a read-only host mount answers EROFS to writes and the host's values to reads.
    @Test(arguments: Harness.platforms)
    func extendedAttributesMatchNative(_ platform: Harness.TestPlatform) throws {
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let host = scratch.appendingPathComponent("native").path, bound = scratch.appendingPathComponent("bound").path
        for d in [host, bound] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let native = Harness.run(Harness.image("xattr"), [host])
        #expect(native.status == 0, "xattr natively: \(native.stderr)")
        // An rw bind passes through to the same host filesystem: always comparable.
        #expect(Harness.sandboxed(platform, Harness.image("xattr"), ["/work"], extra: ["--bind", "\(bound):/work:rw"]) == native,
                "xattr in an rw bind on \(platform.rawValue)")
        let comparable = Harness.nativeFilesystemComparable(host, "xattr's tmpfs and overlay comparisons")
        if comparable {
            #expect(Harness.sandboxed(platform, Harness.image("xattr"), ["/tmp"]) == native, "xattr in /tmp on \(platform.rawValue)")
        }
        // Under --overlay the files are made in the upper layer: the host directory stays empty.
        let over = scratch.appendingPathComponent("over").path
        try FileManager.default.createDirectory(atPath: over, withIntermediateDirectories: true)
        let overlaid = Harness.sandboxed(platform, Harness.image("xattr"), [over], extra: ["--overlay"])
        if comparable { #expect(overlaid == native, "xattr in an overlay root on \(platform.rawValue)") }
        #expect((try? FileManager.default.contentsOfDirectory(atPath: over)) == [])
        let ro = Harness.sandboxed(platform, Harness.image("xattr"), ["readonly", Harness.image("xattr")])
        #expect(ro.stdout == """
            setxattr: -30
            removexattr: -30
            getxattr missing: -61
            listxattr: ok
            getxattr /proc/self/status: -95

            """, "read-only mount on \(platform.rawValue)")
    }

    /// FIFOs: blocking opens wait for the other side (and for signals),
    /// ENXIO, O_RDWR, POLLHUP only after a writer, the buffer freed with the
    /// last end; in tmpfs and, as host FIFOs, in an rw bind, where the
    /// partner may also be a host process.
    @Test(arguments: Harness.platforms)
    func fifoOpensMatchNative(_ platform: Harness.TestPlatform) throws {
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let native = Harness.run(Harness.image("fifo"), [scratch.path])
        #expect(native.status == 0, "fifo natively: \(native.stderr)")
        #expect(Harness.sandboxed(platform, Harness.image("fifo"), ["/tmp"]) == native, "fifo in /tmp on \(platform.rawValue)")
        // Host FIFOs in an rw bind: the sentry waits for the partner itself, interruptibly.
        let bound = scratch.appendingPathComponent("bound").path
        try FileManager.default.createDirectory(atPath: bound, withIntermediateDirectories: true)
        #expect(Harness.sandboxed(platform, Harness.image("fifo"), ["/mnt"], extra: ["--bind", "\(bound):/mnt:rw"]) == native,
                "fifo in a host bind on \(platform.rawValue)")
        // Partners outside the sandbox: a host writer that comes later, a
        // host reader already waiting in its open, and one that comes later.
        let sentry = ([Harness.sentry, "run"] + platform.arguments + ["--bind", "\(bound):/mnt:rw"]).joined(separator: " ")
        let script = """
            cd \(bound) && mkfifo p q r && { (sleep 1; echo from-host > p) & \(sentry) /bin/cat /mnt/p; wait; } && \
            { cat q & sleep 1; \(sentry) /bin/sh -c 'echo from-guest > /mnt/q'; wait; } && \
            { \(sentry) /bin/sh -c 'echo waited-for-a-reader > /mnt/r' & sleep 1; cat r; wait; }
            """
        let crossing = Harness.run("/bin/sh", ["-c", script])
        #expect(crossing.status == 0 && crossing.stdout == "from-host\nfrom-guest\nwaited-for-a-reader\n",
                "host FIFO partners across the sandbox on \(platform.rawValue): \(crossing)")
    }

    /// A process's record locks go when any of its descriptors of the file
    /// closes: close, dup2 onto it, exec's close-on-exec (not one exec keeps).
    @Test(arguments: Harness.platforms)
    func recordLocksGoWithAnyClose(_ platform: Harness.TestPlatform) throws {
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let native = Harness.run(Harness.image("closeflush"), [scratch.path])
        #expect(native.status == 0, "closeflush natively: \(native.stderr)")
        #expect(Harness.sandboxed(platform, Harness.image("closeflush"), ["/tmp"]) == native, "closeflush on \(platform.rawValue)")
    }

    /// O_TMPFILE: an unnamed file, linkat through /proc/self/fd, O_EXCL, the flag checks.
    @Test(arguments: Harness.platforms)
    func tmpfileMatchesNative(_ platform: Harness.TestPlatform) throws {
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let native = Harness.run(Harness.image("tmpfile"), [scratch.path])
        #expect(native.status == 0, "tmpfile natively: \(native.stderr)")
        let boxed = Harness.sandboxed(platform, Harness.image("tmpfile"), ["/tmp"])
        if native.stdout.hasPrefix("O_TMPFILE|O_RDWR: -1 Operation not supported") {
            // The native scratch directory's filesystem makes no unnamed files (the VM's root).
            print("skipping tmpfile's native comparison on \(platform.rawValue): the host filesystem has no O_TMPFILE")
            #expect(boxed.stdout.hasPrefix("O_TMPFILE|O_RDWR: ok\n") && boxed.stdout.hasSuffix("rmdir (empty again): ok\n"), "tmpfile on \(platform.rawValue): \(boxed)")
            return
        }
        #expect(boxed == native, "tmpfile in /tmp on \(platform.rawValue)")
    }

    /// splice between a file and a pipe at offsets, pipe to pipe, and its errnos.
    @Test(arguments: Harness.platforms)
    func spliceMatchesNative(_ platform: Harness.TestPlatform) throws {
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let native = Harness.run(Harness.image("splice"), [scratch.path])
        #expect(native.status == 0, "splice natively: \(native.stderr)")
        #expect(Harness.sandboxed(platform, Harness.image("splice"), ["/tmp"]) == native, "splice in /tmp on \(platform.rawValue)")
    }
}
