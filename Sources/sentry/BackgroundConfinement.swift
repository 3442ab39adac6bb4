import Glibc
import Sentry
import Synchronization
import Syscalls

/// The sentry's own filter compiled and installed on a thread of its own
/// while the main thread loads the first guest, then waited for before any
/// guest code runs. Compiling and installing it (the kernel's checks, its
/// conversion to eBPF and the JIT, with TSYNC) are about a quarter of a
/// millisecond of `sentry run hello` that need not be on its critical path.
///
/// Safe to overlap because the load is made of the calls every later exec
/// makes under the filter (the path walk, reading and mapping the image,
/// the memory file, the stub's mirror): TSYNC may reach the main thread at
/// any of them, and a call outside the filter would end the sentry there,
/// as it would at the guest's next execve.
struct BackgroundConfinement {
    private let job: Job
    private let thread: pthread_t?

    /// Starts the install (nothing to wait for when `mode` is off).
    init(_ sandbox: Sandbox, mode: SelfConfinement.Mode, controlSocket: Bool) {
        job = Job(sandbox: sandbox, mode: mode, controlSocket: controlSocket)
        guard mode != .off else { thread = nil; return }
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setstacksize(&attr, 1 << 20)
        // The thread takes no signals: the forwarding thread answers them.
        var all = sigset_t(), old = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        let box = Unmanaged.passRetained(job).toOpaque()
        var tid = pthread_t()
        let r = pthread_create(&tid, &attr, { arg in
            Unmanaged<Job>.fromOpaque(arg!).takeRetainedValue().run()
            return nil
        }, box)
        guard r == 0 else {
            // No thread to be had: installed here instead, as before.
            Unmanaged<Job>.fromOpaque(box).release()
            job.run()
            thread = nil
            return
        }
        thread = tid
    }

    /// Returns once the filter is in force on every sentry thread; a filter
    /// the kernel refused ends the sentry before any guest runs.
    func wait() {
        if let thread { pthread_join(thread, nil) }
        if let error = job.error.withLock({ $0 }) { RunOptions.failConfining(error) }
    }

    private final class Job: Sendable {
        let sandbox: Sandbox, mode: SelfConfinement.Mode, controlSocket: Bool
        let error = Mutex<Errno?>(nil)
        init(sandbox: Sandbox, mode: SelfConfinement.Mode, controlSocket: Bool) {
            self.sandbox = sandbox; self.mode = mode; self.controlSocket = controlSocket
        }
        func run() {
            guard mode != .off else { return }
            do { try RunOptions.installFilter(sandbox, mode: mode, controlSocket: controlSocket) } catch {
                self.error.withLock { $0 = error }
            }
        }
    }
}
