import Glibc

/// What an exec runs: the ELF program a path names, its interpreter, and the
/// argv binfmt_script gives it when the path is a `#!` script. Shared by
/// execve(2) and the sandbox's first process.
public struct Executable: Sendable {
    public var program: ProgramFile
    public var interpreter: ProgramFile?
    /// The file finally loaded, and its argv (a script's interpreter first).
    public var path: String
    public var argv: [String]
}

extension Kernel {
    /// Follows `#!` lines (up to four nested interpreters, as Linux's
    /// exec_binprm allows) to an ELF program and loads its headers.
    /// `place`, when given, is the file itself (execveat's AT_EMPTY_PATH);
    /// `filename` is bprm->filename, the name a script's interpreter is
    /// given; `pathInaccessible` says that name leads nowhere after the exec
    /// (a close-on-exec descriptor's /dev/fd/N), so a script is ENOENT.
    public func findExecutable(_ path: String, argv: [String], from start: Location, _ ctx: WalkContext,
                               place: Location? = nil, filename: String? = nil,
                               pathInaccessible: Bool = false) throws(StartError) -> Executable {
        var path = path, argv = argv, place = place
        var scriptName = filename ?? path
        for _ in 0..<5 {
            do {
                let (program, interpreter) = try loadImage(path, at: place, from: start, ctx)
                return Executable(program: program, interpreter: interpreter, path: path, argv: argv)
            } catch {
                guard case .load(.notELF) = error, let (interp, arg) = scriptInterpreter(path, at: place, from: start, ctx) else { throw error }
                if pathInaccessible { throw .guest("\(scriptName): a script behind a close-on-exec descriptor", .ENOENT) }
                argv = [interp] + (arg.map { [$0] } ?? []) + [scriptName] + argv.dropFirst()
                path = interp
                scriptName = interp
                place = nil
            }
        }
        throw .guest("\(path): too many levels of #! interpreters", .ELOOP)
    }

    /// `#!interpreter [arg]` from the first line of a script; nil when the
    /// file is no script or names no interpreter (execve's ENOEXEC).
    private func scriptInterpreter(_ path: String, at place: Location?, from start: Location, _ ctx: WalkContext) -> (String, String?)? {
        let opened: FileDescription?
        if let place { opened = try? vfs.open(at: place, flags: [.nonBlock], ctx, execute: true) } else {
            opened = try? vfs.open(path, from: start, flags: [.nonBlock], mode: 0, ctx, execute: true)
        }
        guard let file = opened else { return nil }
        let buf = Self.readPrefix(file, 256)
        guard buf.count > 2, buf[0] == 0x23, buf[1] == 0x21 else { return nil }
        let line = buf[2...].prefix { $0 != 0x0a }
        let text = String(rawBytes: line).trimmingSpaces
        guard !text.isEmpty else { return nil }
        let parts = text.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
        let interp = String(parts[0])
        let arg = parts.count > 1 ? String(parts[1]).trimmingSpaces : nil
        return (interp, arg?.isEmpty == true ? nil : arg)
    }

    /// Opens and validates an ELF executable inside the guest's view, and the
    /// interpreter its PT_INTERP names: each a regular file, on any mount,
    /// with an execute bit set.
    func loadImage(_ path: String, at place: Location? = nil, from start: Location,
                   _ ctx: WalkContext) throws(StartError) -> (program: ProgramFile, interpreter: ProgramFile?) {
        let program = try openProgram(path, at: place, from: start, ctx)
        guard let interp = program.image.interpreter else { return (program, nil) }
        // open_exec: found in the guest's view (a relative name from the
        // cwd), a regular file with execute permission, an ELF of our machine.
        do {
            return (program, try openProgram(interp, from: start, ctx, interpreter: true))
        } catch {
            guard case .load(let e) = error else { throw error }
            throw .load(.interpreter(path, e))
        }
    }

    /// Opens `path` and validates its ELF headers.
    private func openProgram(_ path: String, at place: Location? = nil, from start: Location, _ ctx: WalkContext,
                             interpreter: Bool = false) throws(StartError) -> ProgramFile {
        func failure(_ error: Errno) -> StartError {
            error == .ENOENT || error == .ENOTDIR ? .load(.notFound(path)) : .load(.unreadable(path, error))
        }
        // The path is walked once (a walk through /proc/self/exe walks the
        // program's own path too); what execve checks comes before the
        // open, which would wait for a writer on a FIFO; O_NONBLOCK covers
        // a swap in between.
        let found: Location, first: Glibc.stat
        do throws(Errno) {
            if let place { found = place } else { found = try vfs.resolve(path, from: start, followLast: true, ctx) }
            first = try vfs.stat(at: found)
        } catch { throw failure(error) }
        do { try Self.checkExecutable(first, path) } catch { throw .load(error) }
        let file: FileDescription, st: Glibc.stat
        do throws(Errno) {
            file = try vfs.open(at: found, flags: [.nonBlock], ctx, execute: true)
            st = try file.stat()
        } catch { throw failure(error) }
        do { try Self.checkExecutable(st, path) } catch { throw .load(error) }
        // The ELF and program headers are all validation needs; segment
        // bounds are checked against the file's size. Linkers put the program
        // headers right after the ELF header, in the first page; read the
        // whole file only if they lie further in.
        let size = Int(st.st_size)
        // load_elf_binary reads the interpreter's ELF header with elf_read:
        // a file too short to hold one is EIO, before its magic is looked at.
        if interpreter && size < ELFImage.headerSize { throw .load(.unreadable(path, .EIO)) }
        let image: ELFImage
        do { image = try ELFImage(Self.readPrefix(file, min(size, 4096)), fileSize: size, path: path) } catch {
            guard case .truncated = error, size > 4096 else { throw .load(error) }
            do { image = try ELFImage(Self.readPrefix(file, size), path: path) } catch { throw .load(error) }
        }
        let mapping: (any FileMapping)?
        do { mapping = try file.mappable() } catch { throw .load(.unreadable(path, error)) }
        guard let mapping else { throw .load(.unreadable(path, .ENODEV)) }
        return ProgramFile(file: mapping, image: image, location: file.location ?? found)
    }

    /// execve's EACCES cases: not a regular file, or no execute bit.
    static func checkExecutable(_ st: Glibc.stat, _ path: String) throws(LoadError) {
        let kind = st.st_mode & S_IFMT
        guard kind == S_IFREG else {
            throw .notExecutable(path, kind == S_IFDIR ? "a directory" : kind == S_IFIFO ? "a FIFO"
                : kind == S_IFCHR || kind == S_IFBLK ? "a device" : kind == S_IFSOCK ? "a socket" : "not a regular file")
        }
        if st.st_mode & 0o111 == 0 { throw .notExecutable(path, "no execute permission") }
    }

    /// Up to `count` bytes from the start of a file (fewer at its end).
    static func readPrefix(_ file: FileDescription, _ count: Int) -> [UInt8] {
        var data = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let r = (try? data.withUnsafeMutableBytes { (b) throws(Errno) -> Int in
                try file.pread(into: [UnsafeMutableRawBufferPointer(rebasing: b[got...])], at: Int64(got))
            }) ?? 0
            if r <= 0 { break }
            got += r
        }
        data.removeLast(count - got)
        return data
    }
}
