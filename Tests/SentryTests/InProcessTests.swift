import Foundation
import Glibc
import Testing
@testable import Sentry

/// Kernel logic tested in-process, without a guest or a stub: the VFS walk
/// and the overlay, System V IPC's namespace, the host page cache. A kernel
/// here has a platform that refuses to run anything.
@Suite struct InProcessTests {
    final class NoPlatform: Platform {
        var name: String { "none" }
        func makeAddressSpace() throws(PlatformError) -> AddressSpace { throw .unavailable("in-process test") }
        func makeContext() throws(PlatformError) -> PlatformContext { throw .unavailable("in-process test") }
    }

    /// A kernel over host directory `root` (overlaid or read-only).
    static func kernel(root: String, overlay: Bool) throws -> Kernel {
        let memory = try MemoryFile()
        let vfs = try VFS(root: try HostFS(path: root), overlay: overlay, memory: memory)
        return Kernel(platform: NoPlatform(), memory: memory, layout: AddressLayout(top: GuestAddress(0x7000_0000_0000)),
                      table: SyscallTable([:]), vfs: vfs, tracer: nil)
    }

    static func names(_ k: Kernel, _ path: String) throws -> [String] {
        let ctx = BootContext(k)
        let dir = try k.vfs.resolve(path, from: k.vfs.rootLocation, followLast: true, ctx)
        return try dir.inode.entries(ctx).map(\.name)
    }

    static func read(_ k: Kernel, _ path: String) throws -> String {
        let f = try k.vfs.open(path, from: k.vfs.rootLocation, flags: [], mode: 0, BootContext(k))
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = try buf.withUnsafeMutableBytes { (b) throws(Errno) -> Int in try f.read(into: [b]) }
        return String(decoding: buf.prefix(n), as: UTF8.self)
    }

    static func write(_ k: Kernel, _ path: String, _ text: String, flags: OpenFlags = [.create, .truncate]) throws {
        let f = try k.vfs.open(path, from: k.vfs.rootLocation, flags: OpenFlags(rawValue: OpenFlags.writeOnly.rawValue | flags.rawValue),
                               mode: 0o644, BootContext(k))
        _ = try Array(text.utf8).withUnsafeBytes { (b) throws(Errno) -> Int in try f.write(from: [b]) }
    }

    // MARK: The overlay

    @Test func overlayCopiesUpWhitesOutAndMerges() throws {
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        try fm.createDirectory(at: dir.appendingPathComponent("d/sub"), withIntermediateDirectories: true)
        try "lower\n".write(to: dir.appendingPathComponent("d/f"), atomically: false, encoding: .utf8)
        try "gone\n".write(to: dir.appendingPathComponent("d/sub/g"), atomically: false, encoding: .utf8)

        let k = try Self.kernel(root: dir.path, overlay: true)
        let ctx = BootContext(k)
        #expect(try Self.read(k, "/d/f") == "lower\n")
        try Self.write(k, "/d/f", "upper\n")
        #expect(try Self.read(k, "/d/f") == "upper\n")
        try Self.write(k, "/d/new", "new\n")
        #expect(try Self.names(k, "/d").sorted() == ["f", "new", "sub"])

        // A whiteout hides the lower file; a directory made over a removed one is opaque.
        try k.vfs.unlink("/d/sub/g", from: k.vfs.rootLocation, directory: false, ctx)
        #expect(try Self.names(k, "/d/sub") == [])
        try k.vfs.unlink("/d/sub", from: k.vfs.rootLocation, directory: true, ctx)
        #expect(throws: Errno.ENOENT) { _ = try k.vfs.resolve("/d/sub", from: k.vfs.rootLocation, followLast: true, ctx) }
        try k.vfs.mkdir("/d/sub", from: k.vfs.rootLocation, mode: 0o755, ctx)
        #expect(try Self.names(k, "/d/sub") == [])

        // Renaming a directory with entries below is EXDEV (mv copies); a file's rename leaves a whiteout.
        try fm.createDirectory(at: dir.appendingPathComponent("e/x"), withIntermediateDirectories: true)
        #expect(throws: Errno.EXDEV) { try k.vfs.rename("/e", from: k.vfs.rootLocation, to: "/e2", from: k.vfs.rootLocation, flags: 0, ctx) }
        try k.vfs.rename("/d/f", from: k.vfs.rootLocation, to: "/d/f2", from: k.vfs.rootLocation, flags: 0, ctx)
        #expect(try Self.names(k, "/d").sorted() == ["f2", "new", "sub"])
        #expect(try Self.read(k, "/d/f2") == "upper\n")

        // The host is as it was.
        #expect(try String(contentsOf: dir.appendingPathComponent("d/f"), encoding: .utf8) == "lower\n")
        #expect(fm.fileExists(atPath: dir.appendingPathComponent("d/sub/g").path))
        #expect(!fm.fileExists(atPath: dir.appendingPathComponent("d/new").path))
    }

    @Test func readOnlyRootRefusesWritesAndWalkStaysInside() throws {
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("a"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("loop").path, withDestinationPath: "loop")
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("up").path, withDestinationPath: "../../..")
        let k = try Self.kernel(root: dir.path, overlay: false)
        let ctx = BootContext(k)
        #expect(throws: Errno.EROFS) { try Self.write(k, "/a/f", "x") }
        #expect(throws: Errno.ELOOP) { _ = try k.vfs.resolve("/loop", from: k.vfs.rootLocation, followLast: true, ctx) }
        // `..` past the root and a link pointing above it both end at the guest's /.
        #expect(try k.vfs.resolve("/a/../../..", from: k.vfs.rootLocation, followLast: true, ctx).path == "/")
        #expect(try k.vfs.resolve("/up/a", from: k.vfs.rootLocation, followLast: true, ctx).path == "/a")
        #expect(throws: Errno.EXDEV) {
            _ = try k.vfs.walk("../a", from: k.vfs.rootLocation, followLast: true, parentOnly: false, ctx, rules: .beneath)
        }
    }

    // MARK: System V IPC

    @Test func ipcKeysIdsAndPermissions() throws {
        let ipc = IPCNamespace(memory: try MemoryFile())
        let root = IPCCredentials(uid: 0, gid: 0), alice = IPCCredentials(uid: 1000, gid: 1000), bob = IPCCredentials(uid: 1001, gid: 1001)
        let a = try ipc.msgget(key: 42, flags: IPC.IPC_CREAT | 0o600, alice)
        #expect(try ipc.msgget(key: 42, flags: 0, alice) == a)
        #expect(throws: Errno.EEXIST) { _ = try ipc.msgget(key: 42, flags: IPC.IPC_CREAT | IPC.IPC_EXCL, alice) }
        #expect(throws: Errno.ENOENT) { _ = try ipc.msgget(key: 43, flags: 0, alice) }
        #expect(throws: Errno.EACCES) { _ = try ipc.msgget(key: 42, flags: 0o400, bob) }
        #expect(try ipc.msgget(key: 42, flags: 0o400, root) == a)
        #expect(throws: Errno.EPERM) { _ = try ipc.msgctl(id: a, cmd: IPC.IPC_RMID, input: nil, bob) }
        _ = try ipc.msgctl(id: a, cmd: IPC.IPC_RMID, input: nil, alice)
        // The index is reused with a new sequence number: the stale id misses.
        let b = try ipc.msgget(key: IPC.IPC_PRIVATE, flags: 0o600, alice)
        #expect(b % 32768 == a % 32768 && b != a)
        #expect(throws: Errno.EINVAL) { _ = try ipc.msgctl(id: a, cmd: IPC.IPC_STAT, input: nil, alice) }

        // Semaphores: all operations or none, ERANGE past SEMVMX, SEM_UNDO applied at exit.
        let s = try ipc.semget(key: IPC.IPC_PRIVATE, count: 2, flags: 0o600, alice)
        let never: (WaitQueue, () throws(Errno) -> Bool) throws(Errno) -> Bool = { _, ready throws(Errno) in try ready() }
        #expect(throws: Errno.EAGAIN) {
            try ipc.semop(id: s, [SemaphoreOp(number: 0, op: 1, flags: 0), SemaphoreOp(number: 1, op: -1, flags: Int16(IPC.IPC_NOWAIT))],
                          alice, pid: 7, block: never)
        }
        #expect(try ipc.semctl(id: s, number: 0, cmd: IPC.GETVAL, value: 0, input: nil, alice, pid: 7).0 == 0)
        try ipc.semop(id: s, [SemaphoreOp(number: 1, op: 3, flags: IPC.SEM_UNDO)], alice, pid: 7, block: never)
        #expect(try ipc.semctl(id: s, number: 1, cmd: IPC.GETVAL, value: 0, input: nil, alice, pid: 7).0 == 3)
        ipc.processExited(pid: 7)
        #expect(try ipc.semctl(id: s, number: 1, cmd: IPC.GETVAL, value: 0, input: nil, alice, pid: 7).0 == 0)
        #expect(throws: Errno.ERANGE) { _ = try ipc.semctl(id: s, number: 0, cmd: IPC.SETVAL, value: 32768, input: nil, alice, pid: 7) }
    }

    // MARK: Shared pages of host files

    /// A host file of `size` bytes of 'a' open for writing, a cache over a
    /// memory file of its own, and the cache's run of the file's first two pages.
    private func withCachedHostFile(size: Int, _ body: (Int32, MemoryFile, HostPageCache, MappedFile, UInt64) throws -> Void) throws {
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("f").path
        try Data(repeating: 0x61, count: size).write(to: URL(fileURLWithPath: path))
        let fd = open(path, O_RDWR)
        defer { close(fd) }
        let memory = try MemoryFile()
        let cache = HostPageCache(memory: memory)
        let file = try MappedFile(duplicating: fd, path: path)
        try body(fd, memory, cache, file, try cache.pages(file, offset: 0, length: 8192))
    }

    @Test func hostPagesWriteBackOnlyChangedPages() throws {
        try withCachedHostFile(size: 8192) { fd, memory, cache, file, run in
            #expect(try cache.pages(file, offset: 0, length: 8192) == run)   // one run per range
            memory.pointer(run).storeBytes(of: UInt8(0x42), as: UInt8.self)
            _ = pwrite(fd, "Z", 1, 4096)   // written meanwhile to a page the mapping did not touch
            try cache.writeBack(file, memOffset: run, length: 8192)
            var buf = [UInt8](repeating: 0, count: 2)
            _ = pread(fd, &buf, 1, 0); _ = pread(fd, &buf[1], 1, 4096)
            #expect(buf == [0x42, UInt8(ascii: "Z")])
        }
    }

    /// A checkpoint's view of the cache writes the changed pages back and
    /// names the ones it could not (past the file's end) with their hashes;
    /// a restore's cache adopts the run with those hashes, so such a page is
    /// written once the file grows under it, as the first cache would have.
    @Test func hostPagesSnapshotAndAdopt() throws {
        try withCachedHostFile(size: 100) { fd, memory, cache, file, run in
            memory.pointer(run).storeBytes(of: UInt8(0x42), as: UInt8.self)
            memory.pointer(run + 4096).storeBytes(of: UInt8(0x43), as: UInt8.self)   // past the end: never written back
            let snap = try cache.checkpointSnapshot()
            #expect(snap.count == 1 && snap[0].memOffset == run && snap[0].length == 8192 && snap[0].writable)
            #expect(snap.first?.unsynced.map(\.page) == [1])
            var b: UInt8 = 0
            _ = pread(fd, &b, 1, 0)
            #expect(b == 0x42)

            let memory2 = try MemoryFile()
            let cache2 = HostPageCache(memory: memory2)
            let at = try memory2.allocate(8192)
            memory2.pointer(at).copyMemory(from: memory.pointer(run), byteCount: 8192)
            let file2 = try MappedFile(duplicating: fd, path: file.path)
            #expect(cache2.adopt(file2, fileOffset: 0, length: 8192, memOffset: at, unsynced: snap[0].unsynced))
            #expect(!cache2.adopt(file2, fileOffset: 0, length: 8192, memOffset: at, unsynced: []))
            #expect(ftruncate(fd, 8192) == 0)
            try cache2.writeBack(file2, memOffset: at, length: 8192)
            _ = pread(fd, &b, 1, 4096)
            #expect(b == 0x43)
        }
    }
}
