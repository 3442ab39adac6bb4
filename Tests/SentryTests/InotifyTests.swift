import Foundation
import Testing

/// inotify: the inotify guest (images/src/inotify.c) in a fresh directory
/// under /tmp, compared with its native run, and a real follower (Debian's
/// `tail -f`, which watches with inotify) seeing lines another guest
/// process appends.
@Suite struct InotifyTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    /// Linux 6.1 calls fsnotify_open in do_sys_openat2, after do_open's
    /// handle_truncate: an O_TRUNC open sends IN_MODIFY, then IN_OPEN. Later
    /// kernels (the host's 6.18) send IN_OPEN from vfs_open, before the
    /// truncate. The native output is put in 6.1's order.
    static func asLinux61(_ native: String) -> String {
        let openFirst = """
            open O_TRUNC, close:
              D OPEN cookie=0 len=16 name=f
              f OPEN cookie=0 len=0
              D MODIFY cookie=0 len=16 name=f
              f MODIFY cookie=0 len=0

            """
        let modifyFirst = """
            open O_TRUNC, close:
              D MODIFY cookie=0 len=16 name=f
              f MODIFY cookie=0 len=0
              D OPEN cookie=0 len=16 name=f
              f OPEN cookie=0 len=0

            """
        return native.replacingOccurrences(of: openFirst, with: modifyFirst)
    }

    @Test(arguments: Harness.platforms)
    func inotifyMatchesNative(_ platform: Harness.TestPlatform) {
        if let why = Harness.nativeKernelLacks("inotify") {
            // No native run to compare with; the sandbox's own inotify still holds the guest's invariants.
            print("comparing inotify with native skipped on \(platform.rawValue): \(why)")
            let boxed = Harness.sandboxed(platform, Harness.image("inotify"))
            #expect(boxed.status == 0 && boxed.stdout.contains("  f DELETE_SELF cookie=0 len=0\n  f IGNORED cookie=0 len=0\n"),
                    "on \(platform.rawValue): \(boxed.stderr)")
            return
        }
        let native = Harness.run(Harness.image("inotify"), [])
        #expect(native.status == 0, "natively: \(native.stderr)")
        // What the guest must see whatever the kernel: the checks it relies on.
        #expect(native.stdout.contains("wds: dir 1 file 2 link-followed==file 1 link-itself 3"))
        #expect(native.stdout.contains("  f DELETE_SELF cookie=0 len=0\n  f IGNORED cookie=0 len=0\n"))
        let boxed = Harness.sandboxed(platform, Harness.image("inotify"))
        #expect(boxed.status == 0, "on \(platform.rawValue): \(boxed.stderr)")
        #expect(boxed.stdout == Self.asLinux61(native.stdout), "on \(platform.rawValue)")
    }

    /// `tail -f` follows a file by inotify (IN_MODIFY); with a 30 s polling
    /// interval (-s 30), a tail that fell back to polling would miss the
    /// 10 s the script waits for each line. Its strace shows the calls decoded.
    @Test(arguments: Harness.platforms)
    func tailFollowsAppends(_ platform: Harness.TestPlatform) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tail") else { print("skipped: no /usr/bin/tail"); return }
        let script = """
            d=$(mktemp -d /tmp/tailf.XXXXXX); f=$d/log; : > $f
            tail -s 30 -n +1 -f $f > $d/out 2>&1 &
            t=$!
            for i in 1 2 3; do
              echo line$i >> $f
              n=0; while ! grep -q line$i $d/out; do sleep 0.05; n=$((n+1)); if [ $n -gt 200 ]; then echo "line$i: not followed within 10 s"; break; fi; done
            done
            kill $t; wait $t 2>/dev/null
            cat $d/out; rm -r $d
            """
        // The trace goes to a file: a minimal root (the patched kernel's VM) may have no /dev/stderr.
        let scratch = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let log = scratch.appendingPathComponent("trace").path
        let traced = Harness.sandboxed(platform, "/bin/sh", ["-c", script], extra: ["--strace", "-o", log])
        let trace = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(traced.status == 0, "on \(platform.rawValue): \(traced.stderr)")
        #expect(traced.stdout == "line1\nline2\nline3\n", "on \(platform.rawValue)")
        #expect(trace.contains("inotify_init()"), "on \(platform.rawValue)")
        #expect(trace.contains("/log\", IN_MODIFY) = 1"), "on \(platform.rawValue)")
    }
}
