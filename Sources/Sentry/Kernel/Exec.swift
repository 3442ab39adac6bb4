import Glibc

/// execve(2): the sentry loads the new image into a fresh address space; the
/// old one is dropped only once the new one is ready, so a failed exec
/// returns an errno to a still-intact process.
extension Task {
    /// `filename` is bprm->filename when it is not `path` (execveat's
    /// /dev/fd/N names); `place` the file itself for AT_EMPTY_PATH.
    public func execve(path: String, from start: Location, argv: [String], envp: [String],
                       filename: String? = nil, place: Location? = nil, pathInaccessible: Bool = false) throws(Errno) {
        // bprm->filename: comm and AT_EXECFN come from it, even for a script.
        let requestedPath = filename ?? path
        let exe: Executable
        do {
            exe = try kernel.findExecutable(path, argv: argv, from: start, self, place: place, filename: requestedPath,
                                            pathInaccessible: pathInaccessible)
        } catch {
            switch error {
            case .load(.notFound): throw .ENOENT
            case .load(.unreadable(_, let e)): throw e
            case .load(.notExecutable), .load(.interpreter(_, .notExecutable)): throw .EACCES
            // The interpreter's own errors, as load_elf_binary gives them:
            // open_exec's errno, ELIBBAD for a file that is no loader of ours.
            case .load(.interpreter(_, .notFound)): throw .ENOENT
            case .load(.interpreter(_, .unreadable(_, let e))): throw e
            case .load(.interpreter): throw .ELIBBAD
            case .load: throw .ENOEXEC
            case .platform: throw .ENOMEM
            case .guest(_, let e): throw e
            }
        }
        let (program, interpreter, argv) = (exe.program, exe.interpreter, exe.argv)

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
        let newMM = MemoryManager(memory: kernel.memory, space: newSpace, layout: kernel.layout, imageCache: kernel.imageCache,
                                  hostPages: kernel.hostPages)
        let loaded: Loader.Result
        // The credentials exec gives (no set-id files in the sentry): known before the point of no return.
        let execAttributes = attributes.withLock { a in var n = a; n.applyExec(executablePath: requestedPath); return n }
        do { loaded = try Loader.load(program, interpreter: interpreter, into: newMM, argv: argv, envp: envp, execfn: requestedPath,
                                      ids: .init(execAttributes.credentials)) } catch {
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
        releaseFutexes(dying: false)   // exec_mm_release: before clear_child_tid
        if !clearChildTID.isNull {
            _ = try? mm.write(clearChildTID, UInt32(0))
            _ = try? kernel.futexes.wake(mm, clearChildTID, count: 1, bitset: ~0)
            clearChildTID = .null
        }
        // The old image's area, in the stub about to be emptied or left; a
        // stub kept drops it with the old image, in the batch that clears it.
        if newSpace == nil, rseqOnHost == true, let host = hostRseq, host.dropsRseqWhenCleared {
            rseqOnHost = nil
            rseqHostUnsettled = false
            if let r = rseq { mm.unpinRseqArea(r.area) }
        } else {
            rseqDropHost()
        }
        rseq = nil   // rseq_execve
        rseqCPU = nil
        if let newSpace {
            let oldSpace = space
            space = newSpace
            noteStub()
            mm = newMM
            oldSpace?.leave()
        } else {
            // The same stub: empty it, then mirror the new image into it.
            do throws(PlatformError) {
                try newMM.attach(space, clearing: kernel.layout.minAddress..<kernel.layout.top)
                // fpu_flush_thread: the new program starts with the FPU and
                // SSE state a fresh process has (a new stub has it already).
                try context.setFPUState(space, XSave.initialState(like: try context.fpuState(space)))
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
        for f in fds.closeOnExec() { descriptorClosed(f) }
        kernel.locked {
            if kernel.groups.values.contains(where: { $0 !== group && !$0.zombie && $0.handlers === group.handlers }) {
                group.handlers = group.handlers.copy()
            }
            // Caught signals revert to the default; ignored ones stay ignored.
            group.handlers.resetCaught()
            altStack = AltStack()
        }
        restartBlock = nil
        attributes.withLock { $0 = execAttributes }
        kernel.locked {
            group.dumpable = true           // SUID_DUMP_USER again
            group.memoryLocks.removeAll()   // a new mm: nothing locked, no MCL_FUTURE
        }
        setProgram(path: program.file.path, location: program.location, argv: argv, envp: envp)
        regs = Kernel.entryRegisters(space, loaded)
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

}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\r" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s.removeLast() }
        return String(s)
    }
}
