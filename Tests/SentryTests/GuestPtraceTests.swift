import Foundation
import Testing
@testable import Sentry

/// Guest ptrace, served by the sentry (never the host's ptrace): a tracer
/// of its own (images/src/ptracer.c) compared with its native run on every
/// platform: syscall stops with GET_SYSCALL_INFO, signal-delivery-stops,
/// GETREGS/SETREGS changing an argument and a result, a skipped call,
/// putreg's checks, PEEK/POKE of data and struct user, FPU state and
/// regsets, fork/vfork/exec events, the SUD config get/set, seccomp's
/// RET_TRACE, SEIZE/INTERRUPT/LISTEN with a group-stop, DETACH, and
/// SINGLESTEP through glibc's raise() and its syscalls (the same addresses natively).
/// The host kernel (6.18) answers as 6.1 does for what it prints: the one
/// difference found (6.18 makes a PTRACE_EVENT_EXIT stop for a SIGKILL, 6.1
/// none) is left out of the program.
@Suite(.serialized) struct GuestPtraceTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    /// Whether the native run could trace at all (a container may refuse
    /// ptrace, a kernel before 6.4 has no SUD config requests).
    static func nativeRunUsable(_ r: Harness.Result) -> String? {
        if r.stdout.contains("== detach") && !r.stdout.contains("UNEXPECTED") { return nil }
        return "the native run of ptracer did not complete (no ptrace here, or a kernel before 6.4): \(r.stdout.suffix(300)) \(r.stderr)"
    }

    @Test(arguments: Harness.platforms)
    func tracerMatchesNative(_ platform: Harness.TestPlatform) {
        let native = Harness.run(Harness.image("ptracer"), [])
        if let why = Self.nativeRunUsable(native) { print("skipping the ptracer comparison on \(platform.rawValue): \(why)"); return }
        let boxed = Harness.sandboxed(platform, Harness.image("ptracer"))
        #expect(boxed == native, "ptracer on \(platform.rawValue)")
    }

    /// The same as a user without CAP_SYS_PTRACE: tracing one's own children
    /// needs no privilege.
    @Test func tracerMatchesNativeAsAnotherUser() {
        let native = Harness.run(Harness.image("ptracer"), [])
        if let why = Self.nativeRunUsable(native) { print("skipping: \(why)"); return }
        let boxed = Harness.sandboxed(Harness.platforms[0], Harness.image("ptracer"), extra: ["--user", "1000:1000"])
        #expect(boxed == native)
    }

    /// Yama scope 1 in the sandbox: without CAP_SYS_PTRACE a guest attaches
    /// to its descendants only (the host here has no Yama: natively the
    /// attach to the parent succeeds, so this is the sandbox's own rule).
    @Test func attachingToTheParentNeedsCapSysPtrace() {
        let user = Harness.sandboxed(Harness.platforms[0], Harness.image("ptracer"), ["yama"], extra: ["--user", "1000:1000"])
        #expect(user.stdout == "attach to parent: Operation not permitted\n", "\(user)")
        let root = Harness.sandboxed(Harness.platforms[0], Harness.image("ptracer"), ["yama"], extra: ["--user", "0:0"])
        #expect(root.stdout == "attach to parent: ok\n", "\(root)")
    }
}
