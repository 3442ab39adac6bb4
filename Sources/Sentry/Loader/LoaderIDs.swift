import Glibc

extension Loader {
    /// The ids the auxiliary vector reports (AT_UID, AT_EUID, AT_GID, AT_EGID): the task's after exec.
    public struct IDs: Sendable {
        public var uid, euid, gid, egid: UInt32
        public init(uid: UInt32, euid: UInt32, gid: UInt32, egid: UInt32) {
            self.uid = uid; self.euid = euid; self.gid = gid; self.egid = egid
        }
        public init(_ c: Credentials) { self.init(uid: c.uid, euid: c.euid, gid: c.gid, egid: c.egid) }
        public static var sentrys: IDs { IDs(uid: getuid(), euid: geteuid(), gid: getgid(), egid: getegid()) }
    }
}
