import CSwitch
import Glibc

/// Host files mapped MAP_SHARED across a checkpoint. Their pages are runs of
/// the memory file the sentry's HostPageCache keeps, shared by every mapping
/// of the same range; a checkpoint writes the pages the guest changed back
/// to the files first (so each file's size and mtime, taken after, are what
/// a restore must find), stores the runs with the rest of memory, and names
/// each file by the guest path its mappings show. A restore reopens each file
/// through the restored sandbox's mounts, as the guest's open did (a
/// read-only bind refuses a write), checks it is the same host file, and
/// gives the cache its runs back, so the mappings share them again and
/// write back to the file as before.
extension ImageWriter {
    /// The cache's runs, written back, that some mapping in `mms` still
    /// holds (by the file's device and inode): those the image keeps.
    func hostFileRuns(_ mms: [MemoryManager]) throws(CheckpointError) -> [HostFileRunImage] {
        var paths: [HostFileKey: String] = [:]
        for mm in mms {
            for v in mm.vmas where v.shared {
                if case .file(let f as MappedFile, _) = v.backing { paths[HostFileKey(device: f.device, inode: f.inode)] = imagePath(f) }
            }
        }
        let snapshot: [HostPageCache.Snapshot]
        do { snapshot = try kernel.hostPages.checkpointSnapshot() } catch {
            throw .io("writing back the changed pages of host files mapped shared", error)
        }
        return snapshot.compactMap { r -> HostFileRunImage? in
            guard let path = paths[HostFileKey(device: r.device, inode: r.inode)] else { return nil }
            return HostFileRunImage(guestPath: path, fileOffset: r.fileOffset, length: r.length, memOffset: r.memOffset,
                                    writable: r.writable, unsynced: r.unsynced.isEmpty ? nil : r.unsynced.map { [$0.page, $0.hash] })
        }
    }

    /// The name the image keeps a host file mapped shared by: the guest
    /// path it is found at now (`currentPath`), and the path mmap saw with
    /// " (deleted)" after it once the host file has no name (so it is never
    /// taken for a file at that path now).
    func imagePath(_ f: MappedFile) -> String { f.unlinked ? f.path + " (deleted)" : currentPath(f) ?? f.path }

    /// The guest path a restore reopens a shared mapping's host file by:
    /// the path mmap saw while it still finds the file, else, for a file
    /// renamed within its directory since, that directory's path with the
    /// name the host has for the file now (the name of its descriptor's
    /// link, checked to find the same file); nil when neither does (moved
    /// elsewhere, or linked elsewhere and unlinked from that name).
    func currentPath(_ f: MappedFile) -> String? {
        if stillAt(f.path, f) { return f.path }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/fd/\(f.hostFD)", &buf, Int(PATH_MAX))
        guard n > 0, let slash = f.path.lastIndex(of: "/") else { return nil }
        let host = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let name = host.split(separator: "/").last, !host.hasSuffix(" (deleted)") else { return nil }
        let renamed = String(f.path[...slash]) + name
        return stillAt(renamed, f) ? renamed : nil
    }

    /// A host file deleted while mapped shared: its identity with its whole
    /// contents in the image (once per file), as Linux keeps a deleted
    /// file's pages alive while mapped; a restore maps an unlinked copy.
    func deletedHostFile(_ f: MappedFile, store: DataFileWriter, stored: inout [HostFileKey: HostFileIdentity]) throws(CheckpointError) -> HostFileIdentity {
        let key = HostFileKey(device: f.device, inode: f.inode)
        if let id = stored[key] { return id }
        var st = stat()
        guard fstat(f.hostFD, &st) == 0 else { throw .io("fstat of \(f.path) (deleted)", Errno(errno)) }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(f.hostFD, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .io("reading \(f.path) (deleted)", n < 0 ? Errno(errno) : .EIO) }
            done += n
        }
        let id = HostFileIdentity(hostPath: "", guestPath: imagePath(f), size: Int64(st.st_size), mtimeSec: Int64(st.st_mtim.tv_sec),
                                  mtimeNsec: Int64(st.st_mtim.tv_nsec), deletedContents: try store.append(bytes: bytes))
        stored[key] = id
        return id
    }

    /// Whether `path` finds a shared mapping's file.
    private func stillAt(_ path: String, _ f: MappedFile) -> Bool {
        guard let found = try? kernel.vfs.resolve(path, from: kernel.vfs.rootLocation, followLast: false, BootContext(kernel)),
              let st = try? found.inode.stat() else { return false }
        return UInt64(st.st_dev) == f.device && UInt64(st.st_ino) == f.inode
    }
}

struct HostFileKey: Hashable { let device: UInt64, inode: UInt64 }

/// A restore's host files mapped shared: one MappedFile per guest path,
/// opened for writing where a mapping or the cache's run had it so.
final class RestoredHostFiles {
    var opened: [String: MappedFile] = [:]
    let writable: Set<String>
    /// Host paths of files mapped shared that changed since the checkpoint
    /// (the same file): their runs are read from them again.
    let changed: Set<String>

    init(_ m: CheckpointManifest, changed: Set<String>) {
        self.changed = changed
        var w = Set<String>()
        for mm in m.mms { for v in mm.vmas where v.shared && v.fileWritable == true { if let f = v.file { w.insert(f.guestPath) } } }
        for r in m.memory.hostFileRuns ?? [] where r.writable { w.insert(r.guestPath) }
        writable = w
    }
}

extension ImageReader {
    /// A host file mapped shared, reopened by its guest path through the
    /// sandbox's mounts and checked to be the host file `id` names (its size
    /// and mtime were checked before anything was built).
    func sharedHostFile(_ id: HostFileIdentity, _ boot: BootContext) throws(CheckpointError) -> MappedFile {
        if let f = hostFiles.opened[id.guestPath] { return f }
        if let run = id.deletedContents {
            let f = try unlinkedCopy(id, run)
            hostFiles.opened[id.guestPath] = f
            return f
        }
        let flags: OpenFlags = hostFiles.writable.contains(id.guestPath) ? .readWrite : []
        let file: MappedFile
        do throws(Errno) {
            let d = try kernel.vfs.open(id.guestPath, from: kernel.vfs.rootLocation, flags: flags, mode: 0, boot)
            guard let f = try d.mappable() as? MappedFile else { throw Errno.ENODEV }
            file = f
        } catch {
            throw .hostFileChanged("\(id.guestPath), mapped shared: \(error.message)")
        }
        var st = stat()
        guard stat(id.hostPath, &st) == 0, UInt64(st.st_dev) == file.device, UInt64(st.st_ino) == file.inode else {
            throw .hostFileChanged("\(id.guestPath) in the guest no longer leads to \(id.hostPath)")
        }
        hostFiles.opened[id.guestPath] = file
        return file
    }

    /// A host file deleted while mapped shared, as an unlinked copy of its
    /// contents (a host memfd: no name anywhere), its path the guest's.
    private func unlinkedCopy(_ id: HostFileIdentity, _ run: StoredRun) throws(CheckpointError) -> MappedFile {
        let suffix = " (deleted)"
        guard id.guestPath.hasSuffix(suffix), run.length == UInt64(max(0, id.size)) else { throw .corrupt("the deleted file \(id.guestPath)") }
        let bytes = try files.read(run, what: "the deleted file \(id.guestPath)")
        let fd = sw_memfd("sentry-deleted")
        guard fd >= 0 else { throw .restoreFailed("a copy of \(id.guestPath): \(Errno(-fd).message)") }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .restoreFailed("a copy of \(id.guestPath): \(Errno(errno).message)") }
            done += n
        }
        do throws(Errno) { return try MappedFile(duplicating: fd, path: String(id.guestPath.dropLast(suffix.count))) }
        catch { throw .restoreFailed("a copy of \(id.guestPath): \(error.message)") }
    }

    /// The identity of the host file a shared mapping names by `guestPath`.
    private func sharedIdentity(_ guestPath: String) -> HostFileIdentity? {
        for mm in manifest.mms { for v in mm.vmas where v.shared { if let f = v.file, f.guestPath == guestPath { return f } } }
        return nil
    }

    /// The cache's runs, once the mappings that name their files are back.
    func restoreHostFileRuns() throws(CheckpointError) {
        let page = GuestAddress.pageSize
        for r in manifest.memory.hostFileRuns ?? [] {
            let pages = r.length / page
            let (_, o) = r.fileOffset.addingReportingOverflow(r.length)
            guard r.length > 0, r.length % page == 0, r.fileOffset % page == 0, !o, let file = hostFiles.opened[r.guestPath],
                  let at = translate(r.memOffset, r.length),
                  (r.unsynced ?? []).allSatisfy({ $0.count == 2 && $0[0] < pages }) else {
                throw .corrupt("the run of \(r.guestPath) mapped shared at memory offset \(r.memOffset)")
            }
            var unsynced = (r.unsynced ?? []).map { (page: $0[0], hash: $0[1]) }
            if let id = sharedIdentity(r.guestPath), hostFiles.changed.contains(id.hostPath) {
                // Changed since (the same file): its run is what the file holds now, as
                // another mapper's page cache would be; bytes past its end are zeros.
                kernel.memory.zero(at, r.length)
                do { try file.copy(offset: r.fileOffset, length: r.length, into: kernel.memory, at: at) }
                catch { throw .hostFileChanged("reading \(r.guestPath) again: \(error.message)") }
                unsynced = []
            }
            guard kernel.hostPages.adopt(file, fileOffset: r.fileOffset, length: r.length, memOffset: at, unsynced: unsynced) else {
                throw .corrupt("the run of \(r.guestPath) at file offset \(r.fileOffset) twice")
            }
        }
    }
}
