import Foundation
import Testing
@testable import Sentry

/// POSIX message queues: images/src/mqueue.c, compared with the same program
/// run natively on every platform, and what only a sandbox can show
/// exactly (its own RLIMIT_MSGQUEUE accounting and /dev/mqueue).
@Suite(.serialized) struct PosixMQTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    @Test(arguments: Harness.platforms)
    func queuesMatchNative(_ platform: Harness.TestPlatform) {
        if let why = Harness.nativeKernelLacks("mqueue") { print("skipping the mqueue comparison on \(platform.rawValue): \(why)"); return }
        let native = Harness.run(Harness.image("mqueue"), [])
        #expect(native.status == 0, "mqueue natively: \(native.stderr)")
        let boxed = Harness.sandboxed(platform, Harness.image("mqueue"))
        #expect(boxed == native, "mqueue on \(platform.rawValue)")
    }

    /// The host charges RLIMIT_MSGQUEUE to the user across every process on
    /// it, so the native run has no known starting point; a sandbox starts
    /// from none.
    @Test(arguments: Harness.platforms)
    func messageQueueLimitIsChargedAsLinuxDoes(_ platform: Harness.TestPlatform) {
        let r = Harness.sandboxed(platform, Harness.image("mqueue"), ["limits"])
        #expect(r.status == 0)
        #expect(r.stdout == """
            setrlimit 82880: 0
            exactly at the limit: 1
            one more, however small: -1 EMFILE
            still open after unlink: send: 0
            while the unlinked one is open: -1 EMFILE
            after its last close: 1
            a queue 1 byte past RLIMIT_MSGQUEUE: -1 EMFILE

            """, "on \(platform.rawValue)")
    }

    /// /dev/mqueue lists the sandbox's queues; a queue's file reads as
    /// mqueue_read_file prints it. (This host mounts no mqueue filesystem
    /// to compare with.)
    @Test(arguments: Harness.platforms)
    func devMqueueListsTheQueues(_ platform: Harness.TestPlatform) {
        let r = Harness.sandboxed(platform, Harness.image("mqueue"), ["dev"])
        #expect(r.status == 0)
        #expect(r.stdout == """
            /dev/mqueue is mqueue: 1
            after mq_open: devtest
            QSIZE:7          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     
            regular 1 mode 600 size 80
            after mq_unlink:
            open O_CREAT: ok
            maxmsg 10 msgsize 8192
            mq_send on it: 0
            mode 640
            after open O_CREAT: devmade
            O_CREAT|O_EXCL again: -1 EEXIST
            mkdir: -1 EPERM
            symlink: -1 EPERM
            rmdir of a queue: -1 ENOTDIR
            unlink: 0
            after unlink:
            still usable while open: 0

            """, "on \(platform.rawValue)")
        // As root, the same program runs natively on an mqueue filesystem of its own.
        if let native = Self.nativeWithOwnMqueue(Harness.image("mqueue") + " dev") {
            #expect(r == native, "/dev/mqueue on \(platform.rawValue) against a native run")
        }
    }

    /// A queue's mq_notify registration goes with the registering process's
    /// descriptor: by exec's close-on-exec, not by an exec that keeps it
    /// (and the process's record locks likewise: images/src/closeflush.c).
    @Test(arguments: Harness.platforms)
    func registrationsGoWithTheDescriptorsExecCloses(_ platform: Harness.TestPlatform) throws {
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        guard let native = Self.nativeWithOwnMqueue(Harness.image("closeflush") + " " + scratch.path + " mq") else { return }
        #expect(native.status == 0 && native.stdout.contains("the kept queue registered by us: yes"), "natively: \(native)")
        #expect(Harness.sandboxed(platform, Harness.image("closeflush"), ["/tmp", "mq"]) == native, "closeflush on \(platform.rawValue)")
    }

    /// /proc/sys/fs/mqueue: read, written by root as proc_dointvec_minmax
    /// (ranges, strict positions), obeyed by mq_open, refused to others.
    @Test(arguments: Harness.platforms)
    func sysctlsMatchAFreshIPCNamespace(_ platform: Harness.TestPlatform) {
        let r = Harness.sandboxed(platform, Harness.image("mqueue"), ["sysctl"])
        #expect(r.status == 0 && r.stdout.contains("a queue made with no attributes: maxmsg 5"), "on \(platform.rawValue): \(r)")
        if let native = Self.nativeWithOwnMqueue(Harness.image("mqueue") + " sysctl") {
            #expect(r == native, "/proc/sys/fs/mqueue on \(platform.rawValue) against a native run")
        }
    }

    /// `command` run natively in new mount and IPC namespaces with an mqueue
    /// filesystem at /dev/mqueue; nil (with the reason printed) where that cannot be.
    static func nativeWithOwnMqueue(_ command: String) -> Harness.Result? {
        guard geteuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else {
            print("skipping a native /dev/mqueue run: needs root and unshare(1)")
            return nil
        }
        let r = Harness.run("/usr/bin/unshare", ["-m", "--ipc", "/bin/sh", "-c", "mount -t mqueue none /dev/mqueue && exec " + command])
        if r.status != 0 && r.stdout.isEmpty {
            print("skipping a native /dev/mqueue run: \(r.stderr)")
            return nil
        }
        return r
    }
}
