/// What AF_INET and AF_INET6 sockets reach (`sentry run --network`).
/// AF_UNIX and netlink sockets are the sentry's own in every mode.
public enum NetworkMode: String, Sendable, CaseIterable {
    /// The sandbox's own loopback, served by the sentry: nothing leaves the sandbox.
    case none
    /// Host sockets the sentry opens on the guest's behalf: the host's network.
    case host
}
