import Glibc

/// execve(2): the sentry loads the new image into a fresh address space; the
/// old one is dropped only once the new one is ready, so a failed exec
/// returns an errno to a still-intact process.
extension Task {
    public func execve(path: String, from start: Location, argv: [String], envp: [String]) throws(Errno) {
        var path = path, argv = argv
        var loadedImage: (any FileMapping, ELFImage)?
        for _ in 0..<5 {   // binfmt_script nests at most a few interpreters
            do {
                loadedImage = try kernel.loadImage(path, from: start, self, executable: true)
                break
            } catch {
                switch error {
                case .load(.notELF):
                    guard let (interp, arg) = try scriptInterpreter(path, from: start) else { throw .ENOEXEC }
                    argv = [interp] + (arg.map { [$0] } ?? []) + [path] + argv.dropFirst()
                    path = interp
                case .load(.notFound): throw .ENOENT
                case .load(.unreadable(_, let e)): throw e
                case .load(.dynamic(let p, _)):
                    Kernel.warn("\(p): dynamic binaries are not supported yet")
                    throw .ELIBBAD
                case .load: throw .ENOEXEC
                case .platform: throw .ENOMEM
                case .guest(_, let e): throw e
                }
            }
        }
        guard let (file, image) = loadedImage else { throw .ELOOP }

        // When no other task uses this mm (no other thread, no vfork parent or
        // CLONE_VM sibling), the task keeps its stub: the image is built on
        // the sentry side, then swapped in. Otherwise a new stub is made and
        // the old address space is left to the others.
        let sole = kernel.locked { kernel.tasks.values.allSatisfy { $0 === self || $0.mm !== mm } }
        let newSpace: AddressSpace?
        if sole {
            newSpace = nil
        } else {
            do { newSpace = try kernel.platform.makeAddressSpace() } catch { throw .ENOMEM }
        }
        let newMM = MemoryManager(memory: kernel.memory, space: newSpace, layout: kernel.layout, imageCache: kernel.imageCache)
        let loaded: Loader.Result
        do { loaded = try Loader.load(image, file: file, into: newMM, argv: argv, envp: envp, execfn: path) } catch {
            newSpace?.leave()
            throw error == .EFAULT ? .ENOMEM : error
        }
        if newMM.brokenReason != nil { newSpace?.leave(); throw .ENOMEM }

        // Point of no return. The other threads go first (de_thread).
        killOtherThreads()
        kernel.locked {
            if tid != group.pid {   // a non-leader takes over the process's id
                kernel.tasks[tid] = nil
                tid = group.pid
                kernel.tasks[tid] = self
            }
        }
        if !clearChildTID.isNull {
            _ = try? mm.write(clearChildTID, UInt32(0))
            _ = try? kernel.futexes.wake(mm, clearChildTID, count: 1, bitset: ~0)
            clearChildTID = .null
        }
        robustList = (.null, 0)
        if let newSpace {
            let oldSpace = space
            space = newSpace
            mm = newMM
            oldSpace?.leave()
        } else {
            // The same stub: empty it, then mirror the new image into it.
            do throws(PlatformError) {
                try newMM.attach(space, clearing: kernel.layout.minAddress..<kernel.layout.top)
            } catch {
                mm = newMM
                platformFailed(error)
                return
            }
            mm = newMM
        }
        if fds.isShared {
            let own = fds.copy()
            fds.releaseUser()
            fds = own
        }
        fds.closeOnExec()
        kernel.locked {
            if kernel.groups.values.contains(where: { $0 !== group && !$0.zombie && $0.handlers === group.handlers }) {
                group.handlers = group.handlers.copy()
            }
            // Caught signals revert to the default; ignored ones stay ignored.
            for i in 1...64 where group.handlers.actions[i].handler > SignalAction.SIG_IGN {
                group.handlers.actions[i] = SignalAction()
            }
            altStack = AltStack()
        }
        restartBlock = nil
        executablePath = file.path
        commandLine = argv
        environment = envp
        regs = Kernel.entryRegisters(space, loaded)
        registersReplaced = true
        releaseVforkParent()
    }

    /// Kills every other thread of the process and waits until they are gone.
    func killOtherThreads() {
        kernel.locked {
            for t in group.tasks where t !== self { t.killed = true; t.interruptLocked() }
        }
        _ = try? block(on: [group.groupEvents], interruptible: false) { () throws(Errno) in
            kernel.locked { group.tasks.count == 1 }
        }
    }

    /// `#!interpreter [arg]` from the first line of a script.
    private func scriptInterpreter(_ path: String, from start: Location) throws(Errno) -> (String, String?)? {
        let file = try kernel.vfs.open(path, from: start, flags: [], mode: 0, self)
        let buf = Kernel.readPrefix(file, 256)
        guard buf.count > 2, buf[0] == 0x23, buf[1] == 0x21 else { return nil }
        let line = buf[2...].prefix { $0 != 0x0a }
        let text = String(decoding: line, as: UTF8.self).trimmingSpaces
        guard !text.isEmpty else { throw .ENOEXEC }
        let parts = text.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
        let interp = String(parts[0])
        let arg = parts.count > 1 ? String(parts[1]).trimmingSpaces : nil
        return (interp, arg?.isEmpty == true ? nil : arg)
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\r" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s.removeLast() }
        return String(s)
    }
}
