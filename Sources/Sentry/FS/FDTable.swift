import Synchronization

/// A process's file descriptor table (shared by tasks cloned with CLONE_FILES).
public final class FDTable: Sendable {
    public struct Entry: Sendable {
        public var file: FileDescription
        public var closeOnExec: Bool
    }
    private struct State {
        var entries: [Int32: Entry] = [:]
        var limit: Int32 = 1024
        /// Tasks using the table: the last one out closes every file, so a
        /// pipe sees its writers go when the process dies, not when ARC says.
        var users = 1
        /// fdt->max_fds: the table's capacity, which only grows (select
        /// ignores descriptors past it; /proc's FDSize shows it).
        var capacity: Int32 = FDTable.defaultCapacity

        /// expand_files for descriptor `fd`: NR_OPEN_DEFAULT, then powers of
        /// two of 128-entry steps (alloc_fdtable's rounding).
        mutating func grow(toHold fd: Int32) {
            guard fd >= capacity else { return }
            capacity = FDTable.capacity(holding: fd)
        }
    }

    /// NR_OPEN_DEFAULT: BITS_PER_LONG descriptors.
    static let defaultCapacity: Int32 = 64

    static func capacity(holding fd: Int32) -> Int32 {
        if fd < defaultCapacity { return defaultCapacity }
        var n: Int32 = 1
        while n < fd / 128 + 1 { n *= 2 }
        return n * 128
    }

    /// The table's capacity (max_fds).
    public var capacity: Int32 { state.withLock { $0.capacity } }
    private let state = Mutex(State())

    public init() {}

    public var limit: Int32 {
        get { state.withLock { $0.limit } }
        set { state.withLock { $0.limit = newValue } }
    }

    public func get(_ fd: FileDescriptor) throws(Errno) -> FileDescription {
        guard let e = state.withLock({ $0.entries[fd.rawValue] }) else { throw .EBADF }
        return e.file
    }

    public func entry(_ fd: FileDescriptor) -> Entry? { state.withLock { $0.entries[fd.rawValue] } }

    /// Installs at the lowest free number >= `minimum`.
    public func install(_ file: FileDescription, closeOnExec: Bool = false, minimum: Int32 = 0) throws(Errno) -> FileDescriptor {
        let r: Int32? = state.withLock { s in
            var n = minimum
            while s.entries[n] != nil { n += 1 }
            guard n < s.limit else { return nil }
            s.entries[n] = Entry(file: file, closeOnExec: closeOnExec)
            s.grow(toHold: n)
            return n
        }
        guard let r else { throw minimum >= limit ? .EINVAL : .EMFILE }
        return FileDescriptor(r)
    }

    /// Installs at exactly `fd`, replacing (and returning) what was there.
    @discardableResult
    public func install(_ file: FileDescription, at fd: FileDescriptor, closeOnExec: Bool) throws(Errno) -> FileDescription? {
        try state.withLock { (s: inout State) throws(Errno) -> FileDescription? in
            guard fd.rawValue >= 0, fd.rawValue < s.limit else { throw .EBADF }
            let old = s.entries[fd.rawValue]?.file
            s.entries[fd.rawValue] = Entry(file: file, closeOnExec: closeOnExec)
            s.grow(toHold: fd.rawValue)
            return old
        }
    }

    @discardableResult
    public func remove(_ fd: FileDescriptor) throws(Errno) -> FileDescription {
        guard let e = state.withLock({ $0.entries.removeValue(forKey: fd.rawValue) }) else { throw .EBADF }
        return e.file
    }

    public func setCloseOnExec(_ fd: FileDescriptor, _ on: Bool) throws(Errno) {
        try state.withLock { (s: inout State) throws(Errno) in
            guard s.entries[fd.rawValue] != nil else { throw .EBADF }
            s.entries[fd.rawValue]!.closeOnExec = on
        }
    }

    /// Another task shares the table (CLONE_FILES).
    public func retainUser() -> FDTable { state.withLock { $0.users += 1 }; return self }

    public func releaseUser() {
        let dropped: [Int32: Entry] = state.withLock { s in
            s.users -= 1
            guard s.users == 0 else { return [:] }
            defer { s.entries = [:] }
            return s.entries
        }
        _ = dropped  // released here, outside the lock
    }

    public var isShared: Bool { state.withLock { $0.users > 1 } }

    /// fork's copy: the same open file descriptions under the same numbers.
    public func copy() -> FDTable {
        let c = FDTable()
        let (entries, limit) = state.withLock { ($0.entries, $0.limit) }
        // dup_fd sizes the copy to hold the open descriptors only.
        c.state.withLock { $0.entries = entries; $0.limit = limit; $0.grow(toHold: entries.keys.max() ?? 0) }
        return c
    }

    /// execve: close the close-on-exec descriptors.
    /// Drops the close-on-exec descriptors; returns their files (closed
    /// once the caller lets go of them), lowest descriptor first.
    @discardableResult
    public func closeOnExec() -> [FileDescription] {
        state.withLock { s in
            let gone = s.entries.filter { $0.value.closeOnExec }
            for k in gone.keys { s.entries[k] = nil }
            return gone.sorted { $0.key < $1.key }.map(\.value.file)
        }
    }

    /// Every entry, by number (a checkpoint).
    public var entries: [(fd: Int32, entry: Entry)] {
        state.withLock { $0.entries.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    }

    public var descriptors: [FileDescriptor] { state.withLock { $0.entries.keys.sorted().map { FileDescriptor($0) } } }
}
