import Foundation
import Testing

/// /proc/PID/ns, setns, /proc/PID/map_files and /proc/PID/wchan
/// (images/src/procns.c), on every platform.
@Suite struct ProcNamespaceTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    /// ns links (consistent across threads and processes, distinct per
    /// kind), their nsfs files, setns's errnos as nobody and as root, and
    /// map_files of a memfd and of the executable reopening the object:
    /// all as natively (inode numbers compared, not printed).
    @Test(arguments: Harness.platforms)
    func matchesNative(_ platform: Harness.TestPlatform) {
        if let why = Harness.nativeKernelLacks("namespaces") { print("skipping the procns comparison on \(platform.rawValue): \(why)"); return }
        let native = Harness.run(Harness.image("procns"), [])
        #expect(native.status == 0, "procns natively: \(native.stderr)")
        let boxed = Harness.sandboxed(platform, Harness.image("procns"), [])
        #expect(boxed == native, "\(platform.rawValue)")
    }

    /// Wait channels name the 6.1 function each call sleeps in (the host's
    /// kernel, 6.18 here, names some differently: anon_pipe_read,
    /// futex_do_wait, compiler suffixes), and 0 for the reader itself.
    @Test(arguments: Harness.platforms)
    func waitChannels(_ platform: Harness.TestPlatform) {
        let r = Harness.sandboxed(platform, Harness.image("procns"), ["wchan"])
        #expect(r.stdout == """
            self: 0
            pipe read: pipe_read
            nanosleep: hrtimer_nanosleep
            pause: __do_sys_pause
            wait: do_wait
            futex: futex_wait_queue
            sigsuspend: sigsuspend

            """, "\(platform.rawValue): \(r.stderr)")
    }

    /// Two sandboxes have namespaces of their own: different numbers.
    @Test func eachSandboxHasItsOwnNamespaces() {
        guard let p = Harness.platforms.first else { return }
        let a = Harness.sandboxed(p, "/bin/readlink", ["/proc/self/ns/net"])
        let b = Harness.sandboxed(p, "/bin/readlink", ["/proc/self/ns/net"])
        #expect(a.stdout.hasPrefix("net:["), "\(a)")
        #expect(b.stdout.hasPrefix("net:["), "\(b)")
        #expect(a.stdout != b.stdout)
    }
}
