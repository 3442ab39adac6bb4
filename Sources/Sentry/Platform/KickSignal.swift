import Glibc

/// The host signal every platform uses to kick a task's thread or stub out of
/// guest code (a signal to deliver, an exit, a freeze). SIGWINCH's default
/// action is to be ignored, so it is harmless to a stub or thread that is not
/// (yet) expecting it.
public enum KickSignal {
    public static let signal = SIGWINCH
}
