import Glibc

/// Why a checkpoint or a restore did not happen. Each kind is a distinct
/// exit status of the command line (see `exitStatus`); none leaves a
/// half-restored guest behind, since a restore checks everything before
/// the first task exists.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// Something in the sandbox the image format cannot hold yet: names it.
    case unsupported(String)
    /// Something no image can hold, now or later (a connection to the host): names it and says why.
    case immovable(String, why: String)
    /// The sandbox could not be stopped where its state is whole.
    case notQuiescent(String)
    /// Reading or writing the image directory failed.
    case io(String, Errno)
    /// The manifest or a data file is cut short or is not what it says.
    case truncated(String)
    /// A checksum does not match: the bytes changed since they were written.
    case corrupt(String)
    /// Another format, or a version this sentry does not read.
    case incompatible(String)
    /// A host file the guest had open or mapped changed since the checkpoint.
    case hostFileChanged(String)
    /// Rebuilding the sandbox failed on the host's side.
    case restoreFailed(String)

    public var description: String {
        switch self {
        case .unsupported(let what): return "cannot checkpoint: \(what) is not supported yet"
        case .immovable(let what, let why): return "cannot checkpoint: \(what) cannot be moved (\(why))"
        case .notQuiescent(let why): return "cannot freeze the sandbox: \(why)"
        case .io(let what, let e): return "\(what): \(e.message)"
        case .truncated(let what): return "truncated image: \(what)"
        case .corrupt(let what): return "corrupt image: \(what)"
        case .incompatible(let what): return "incompatible image: \(what)"
        case .hostFileChanged(let what): return "host file changed since the checkpoint: \(what)"
        case .restoreFailed(let why): return "restore failed: \(why)"
        }
    }

    /// The command line's exit status for each kind.
    public var exitStatus: Int32 {
        switch self {
        case .unsupported, .immovable: return 74
        case .notQuiescent: return 75
        case .io: return 76
        case .truncated: return 77
        case .corrupt: return 78
        case .incompatible: return 79
        case .hostFileChanged: return 80
        case .restoreFailed: return 70
        }
    }
}
