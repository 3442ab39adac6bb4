import Foundation
import Testing
@testable import Sentry

/// Debian's own dynamic programs (ld.so, libc and friends loaded by the
/// guest's ld.so through mmap), each compared with the same command run
/// natively, on every available platform.
@Suite(.serialized) struct DynamicTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    static let env = ["PATH": "/usr/bin:/bin", "HOME": "/", "LANG": "C"]

    /// Command lines with fixed inputs; the first word must exist here.
    static let commands: [[String]] = [
        ["/bin/true"],
        ["/bin/ls", "-la", "/usr/share/doc/dash"],
        ["/bin/sh", "-c", "seq 1 200 | sort -rn | head -5 | uniq -c | wc"],
        ["/bin/sh", "-c", "find /usr/share/doc/dash -type f | sort | xargs wc -c"],
        ["/usr/bin/sha256sum", "/etc/os-release"],
        ["/bin/grep", "-c", "ID", "/etc/os-release"],
        ["/bin/sed", "-n", "2p", "/etc/os-release"],
        ["/usr/bin/awk", "-F=", "{ print $1 }", "/etc/os-release"],
        ["/bin/sh", "-c", "cd /usr/share && ls | sort | head"],
        ["/usr/bin/perl", "-e", "print 6 * 7, qq(\\n); print join(',', map { $_ * 2 } 1..5), qq(\\n)"],
        ["/usr/bin/python3", "-c",
         "import sqlite3, json, hashlib, subprocess\n"
            + "db = sqlite3.connect(':memory:'); db.execute('create table t(x)'); db.execute('insert into t values (42)')\n"
            + "print(db.execute('select x from t').fetchone()[0], json.dumps({'a': [1, 2]}), hashlib.sha256(b'x').hexdigest()[:16])\n"
            + "print(subprocess.run(['ls', '/usr/share/doc/dash'], capture_output=True).stdout.decode().split())"],
    ]

    @Test(arguments: Harness.platforms)
    func debianToolsMatchNative(_ platform: Harness.TestPlatform) {
        for command in Self.commands {
            guard FileManager.default.isExecutableFile(atPath: command[0]) else {
                print("skipping \(command[0]): not installed here")
                continue
            }
            let native = Harness.run(command[0], Array(command.dropFirst()), env: Self.env)
            let boxed = Harness.sandboxed(platform, command[0], Array(command.dropFirst()), env: Self.env)
            #expect(native.status == 0, "\(command) natively: \(native.stderr)")
            #expect(boxed == native, "\(command) on \(platform.rawValue)")
        }
    }

    /// The project's shell scripts, run by Debian's dash with coreutils.
    @Test(arguments: Harness.platforms)
    func dashRunsTheShellScripts(_ platform: Harness.TestPlatform) {
        #expect(ProcessTests.scripts.count >= 25)
        for script in ProcessTests.scripts {
            let native = Harness.run("/bin/dash", [script], env: Self.env)
            let boxed = Harness.sandboxed(platform, "/bin/dash", [script], env: Self.env)
            #expect(boxed == native, "\(URL(fileURLWithPath: script).lastPathComponent) under dash on \(platform.rawValue)")
        }
    }

    /// Tools that write: cp -r, tar, git, each in a host directory bound
    /// read-write, with the same results as natively.
    @Test(arguments: Harness.platforms)
    func toolsWriteInAnRwBind(_ platform: Harness.TestPlatform) throws {
        let script = """
            set -e
            mkdir -p src/a/b && echo one > src/a/f && echo two > src/a/b/g
            cp -r src copy && find copy | sort
            tar czf out.tgz src && mkdir x && tar xzf out.tgz -C x && cat x/src/a/b/g
            git init -q repo && cd repo && echo a > a && git add a
            git -c user.name=t -c user.email=t@example.com commit -q -m first && git log --format=%s
            """
        var results: [Harness.Result] = []
        for sandboxed in [false, true] {
            let dir = try Harness.scratchDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let args = ["-c", "cd \(dir.path) && " + script]
            results.append(sandboxed
                ? Harness.sandboxed(platform, "/bin/sh", args, extra: ["--bind", "\(dir.path):\(dir.path):rw"], env: Self.env)
                : Harness.run("/bin/sh", args, env: Self.env))
        }
        #expect(results[0].status == 0, "natively: \(results[0].stderr)")
        #expect(results[1] == results[0], "on \(platform.rawValue)")
    }

    /// A guest exec of a program whose loader is missing fails with ENOENT,
    /// as on Linux (the shell says "not found").
    @Test(arguments: Harness.platforms)
    func missingLoaderIsENOENTForTheGuest(_ platform: Harness.TestPlatform) throws {
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var bytes = try Data(contentsOf: URL(fileURLWithPath: "/bin/true"))
        let range = try #require(bytes.range(of: Data("/lib64/ld-linux-x86-64.so.2".utf8)))
        bytes.replaceSubrange(range, with: Data("/lib64/ld-nonexistent-xx.so".utf8))
        let exe = dir.appendingPathComponent("no-loader").path
        try Harness.writeExecutable(bytes, to: exe)
        let args = ["-c", "\(exe); echo status $?"]
        let native = Harness.run("/bin/dash", args, env: Self.env)
        let boxed = Harness.sandboxed(platform, "/bin/dash", args, env: Self.env)
        #expect(native.stdout == "status 127\n")
        #expect(boxed == native, "on \(platform.rawValue)")
    }

    /// Bad interpreters and libraries, as Linux and ld.so answer them: an
    /// interpreter too short for an ELF header (EIO, elf_read's short read),
    /// one for another machine or with its program headers cut off
    /// (ELIBBAD), one that is itself a dynamic program (it runs unrelocated
    /// and crashes), a libc cut short inside its headers (ld.so's "cannot
    /// read file data") or inside its segments (SIGBUS as ld.so touches
    /// pages past the end). The interpreters are named relative to the cwd,
    /// which open_exec allows.
    @Test(arguments: Harness.platforms)
    func badInterpretersAndLibrariesFailAsOnLinux(_ platform: Harness.TestPlatform) throws {
        let dir = try Harness.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try Data(contentsOf: URL(fileURLWithPath: "/bin/true"))
        let loader = try Data(contentsOf: URL(fileURLWithPath: "/lib64/ld-linux-x86-64.so.2"))
        let libc = try Data(contentsOf: URL(fileURLWithPath: "/lib/x86_64-linux-gnu/libc.so.6"))
        let ld = Data("/lib64/ld-linux-x86-64.so.2".utf8)
        // `name` is 26 bytes: with its NUL it takes the place of ld's 27.
        func withInterpreter(_ exe: String, _ name: String, _ bytes: Data) throws {
            var p = program
            let r = try #require(p.range(of: ld))
            p.replaceSubrange(r, with: Data(name.utf8) + Data([0]))
            try Harness.writeExecutable(p, to: dir.appendingPathComponent(exe).path)
            try Harness.writeExecutable(bytes, to: dir.appendingPathComponent(name).path)
        }
        var arm = loader
        arm[18] = 183   // e_machine = EM_AARCH64
        try withInterpreter("text", "text-interp-xxxxxxxxxxxxxx", Data("#!/bin/sh\necho hi\n".utf8))
        try withInterpreter("arm", "arm-interp-xxxxxxxxxxxxxxx", arm)
        try withInterpreter("short", "short-interp-xxxxxxxxxxxxx", loader.prefix(100))
        try withInterpreter("dynamic", "dyn-interp-xxxxxxxxxxxxxxx", program)
        for (sub, size) in [("lib", 100), ("lib2", 200_000)] {
            let d = dir.appendingPathComponent(sub)
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            try libc.prefix(size).write(to: d.appendingPathComponent("libc.so.6"))
        }
        let script = "cd \(dir.path); for p in text arm short dynamic; do ./$p; echo $p $?; done; "
            + "LD_LIBRARY_PATH=lib /bin/true; echo lib $?; LD_LIBRARY_PATH=lib2 /bin/true; echo lib2 $?"
        let native = Harness.run("/bin/dash", ["-c", script], env: Self.env)
        let boxed = Harness.sandboxed(platform, "/bin/dash", ["-c", script], env: Self.env)
        #expect(native.stdout == "text 126\narm 126\nshort 126\ndynamic 139\nlib 127\nlib2 135\n", "natively: \(native)")
        #expect(native.stderr.contains("./text: Input/output error") && native.stderr.contains("cannot read file data"))
        #expect(boxed == native, "on \(platform.rawValue)")
    }

    /// --cwd, --env, --env-clear and --hostname, as `runsc do` and docker users expect.
    @Test(arguments: Harness.platforms)
    func runFlagsShapeTheGuest(_ platform: Harness.TestPlatform) {
        let r = Harness.sandboxed(platform, "/bin/sh", ["-c", "pwd; env | sort; uname -n; cat /proc/sys/kernel/hostname"],
                                  extra: ["--cwd", "/usr/share", "--env-clear", "--env", "PATH=/bin", "--env", "HOME=/root",
                                          "--env", "HOME=/home", "--hostname", "box"])
        #expect(r == Harness.Result(status: 0, stdout: "/usr/share\nHOME=/home\nPATH=/bin\nPWD=/usr/share\nbox\nbox\n", stderr: ""))
        let user = Harness.sandboxed(platform, "/bin/sh", ["-c", "id -u; id -g; grep -E '^(Uid|Gid|CapEff)' /proc/self/status"],
                                     extra: ["--user", "1000:100"])
        #expect(user == Harness.Result(status: 0, stdout: "1000\n100\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\nCapEff:\t0000000000000000\n", stderr: ""))
        // An inherited PWD follows --cwd (Go's os/exec reads it), and a user's --env wins.
        var env = ProcessInfo.processInfo.environment
        env["PWD"] = "/somewhere/on/the/host"
        let pwd = Harness.sandboxed(platform, "/usr/bin/printenv", ["PWD"], extra: ["--cwd", "/usr/share"], env: env)
        #expect(pwd == Harness.Result(status: 0, stdout: "/usr/share\n", stderr: ""))
        let given = Harness.sandboxed(platform, "/usr/bin/printenv", ["PWD"], extra: ["--cwd", "/usr/share", "--env", "PWD=/mine"], env: env)
        #expect(given == Harness.Result(status: 0, stdout: "/mine\n", stderr: ""))
        let missing = Harness.sandboxed(platform, "/bin/true", extra: ["--cwd", "/no/such/dir"])
        #expect(missing.status == 64 && missing.stderr.contains("--cwd /no/such/dir"))
    }

    /// Twenty threads each start a multiprocessing pool (CPython's
    /// test_importlib does): their forks make the process's pages
    /// copy-on-write while the other threads write them, and a write that
    /// faulted while another thread's fault on the same pages was served
    /// finds them copied already. It must run again, not die of SIGSEGV (it
    /// did on systrap with syscall patching, every run).
    @Test(arguments: Harness.platforms)
    func poolsStartedFromThreadsMatchNative(_ platform: Harness.TestPlatform) {
        let script = "import multiprocessing, threading\ndef pool():\n    with multiprocessing.Pool(1):\n        pass\n"
            + "threads = [threading.Thread(target=pool) for _ in range(20)]\nfor t in threads: t.start()\nfor t in threads: t.join()\n"
            + "print('20 pools from 20 threads')\n"
        let native = Harness.run("/usr/bin/python3", ["-c", script])
        #expect(native.status == 0)
        // Twice to catch a race; once under the VM's emulation, where one run takes minutes.
        for _ in 0..<(Harness.inPatchedVM ? 1 : 2) {
            #expect(Harness.sandboxed(platform, "/usr/bin/python3", ["-c", script]) == native, "on \(platform.rawValue)")
        }
    }

    /// sethostname names the sandbox (uname, /proc) and never the host; it
    /// needs CAP_SYS_ADMIN, and a name past 64 bytes is EINVAL.
    @Test(arguments: Harness.platforms)
    func sethostnameNamesOnlyTheSandbox(_ platform: Harness.TestPlatform) {
        let before = Harness.run("/bin/hostname", []).stdout
        let script = "import socket, os\nsocket.sethostname('inside')\nprint(os.uname().nodename, open('/proc/sys/kernel/hostname').read().strip())\n"
            + "try: socket.sethostname('x' * 65)\nexcept OSError as e: print(e.errno)\n"
            + "os.setuid(1000)\ntry: socket.sethostname('again')\nexcept OSError as e: print(e.errno)\n"
        let r = Harness.sandboxed(platform, "/usr/bin/python3", ["-c", script])
        #expect(r.stdout == "inside inside\n22\n1\n", "on \(platform.rawValue): \(r.stderr)")
        #expect(Harness.run("/bin/hostname", []).stdout == before)
    }

    /// --overlay: writes, appends, unlinks, renames, mkdir -p, rmdir and
    /// re-mkdir over the host's tree are seen inside as a native run sees
    /// them in a copy, and the host tree is left byte for byte and mtime for
    /// mtime as it was.
    @Test(arguments: Harness.platforms)
    func overlayKeepsEveryWriteInTheSandbox(_ platform: Harness.TestPlatform) throws {
        let script = """
            set -e
            echo new > a/new; cat a/new
            echo more >> a/f1; cat a/f1
            rm a/sub/f2; ls a/sub | wc -l
            mv a/f1 a/f1.moved; ls a
            mkdir -p x/y/z; echo deep > x/y/z/f; cat x/y/z/f
            rmdir c; mkdir c; ls -a c
            rm -r a/sub; mkdir a/sub; ls -a a/sub
            ln -s new a/l; cat a/l
            chmod 600 a/new; stat -c %a a/new
            mv b/g b/h; ls b; cat b/h
            find . | sort
            """
        var outputs: [Harness.Result] = []
        var digests: [String] = []
        for sandboxed in [false, true] {
            let dir = try Harness.scratchDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            try Self.makeTree(at: dir)
            let before = try Self.digest(dir)
            let args = ["-c", "cd \(dir.path) && " + script]
            outputs.append(sandboxed
                ? Harness.sandboxed(platform, "/bin/sh", args, extra: ["--overlay"], env: Self.env)
                : Harness.run("/bin/sh", args, env: Self.env))
            if sandboxed { digests = [before, try Self.digest(dir)] }
        }
        #expect(outputs[0].status == 0, "natively: \(outputs[0].stderr)")
        #expect(outputs[1] == outputs[0], "on \(platform.rawValue)")
        #expect(digests[0] == digests[1], "the host tree changed under --overlay")

        // Outside the scratch tree too: a new file in /etc is the sandbox's alone.
        let marker = "/etc/sentry-overlay-test-\(getpid())"
        let r = Harness.sandboxed(platform, "/bin/sh", ["-c", "echo x > \(marker) && cat \(marker) && rm \(marker) && ls /etc | grep -c sentry-overlay-test"],
                                  extra: ["--overlay"], env: Self.env)
        #expect(r == Harness.Result(status: 1, stdout: "x\n0\n", stderr: ""))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    static func makeTree(at dir: URL) throws {
        let fm = FileManager.default
        for d in ["a/sub", "b", "c"] { try fm.createDirectory(at: dir.appendingPathComponent(d), withIntermediateDirectories: true) }
        for (f, text) in [("a/f1", "one\n"), ("a/sub/f2", "two\n"), ("b/g", "gee\n")] {
            try text.write(to: dir.appendingPathComponent(f), atomically: false, encoding: .utf8)
        }
    }

    /// Every entry's path, type, mode, size, mtime and contents.
    static func digest(_ dir: URL) throws -> String {
        let fm = FileManager.default
        var lines: [String] = []
        for case let rel as String in fm.enumerator(atPath: dir.path)! {
            let path = dir.appendingPathComponent(rel).path
            var st = stat()
            lstat(path, &st)
            let body = st.st_mode & S_IFMT == S_IFREG ? (try String(contentsOfFile: path, encoding: .utf8)) : ""
            lines.append("\(rel) \(String(st.st_mode, radix: 8)) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(body)")
        }
        return lines.sorted().joined(separator: "\n")
    }

    /// A program under the host's /tmp runs by its host path although the
    /// sandbox has a /tmp of its own; under --overlay /tmp is the host's.
    @Test(arguments: Harness.platforms)
    func programsUnderTheHostsTmpRun(_ platform: Harness.TestPlatform) throws {
        var template = Array("/tmp/sentry-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        try #require(made, "mkdtemp failed")
        let dir = String(cString: template)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let exe = dir + "/prog"
        try Harness.writeExecutable(try Data(contentsOf: URL(fileURLWithPath: Harness.image("hello"))), to: exe)
        try "data\n".write(toFile: dir + "/file", atomically: false, encoding: .utf8)
        let expected = try String(contentsOfFile: Harness.images.appendingPathComponent("expected/hello.out").path, encoding: .utf8)
        #expect(Harness.sandboxed(platform, exe) == Harness.Result(status: 0, stdout: expected, stderr: ""))
        // A relative program path from the sentry's cwd, under --overlay too.
        #expect(Harness.sandboxed(platform, "images/bin/hello", extra: ["--overlay"]) == Harness.Result(status: 0, stdout: expected, stderr: ""))
        let overlaid = Harness.sandboxed(platform, "/bin/sh", ["-c", "cat \(dir)/file && echo more >> \(dir)/file && cat \(dir)/file"],
                                         extra: ["--overlay"], env: Self.env)
        #expect(overlaid == Harness.Result(status: 0, stdout: "data\ndata\nmore\n", stderr: ""))
        #expect(try String(contentsOfFile: dir + "/file", encoding: .utf8) == "data\n")
    }

    /// MAP_SHARED of a file in an :rw bind: two processes' separate mmaps
    /// share pages, msync and munmap write the changed pages to the file
    /// (and only those), msync checks its arguments as Linux does.
    @Test(arguments: Harness.platforms)
    func sharedFileMappingsReachTheFile(_ platform: Harness.TestPlatform) throws {
        var results: [Harness.Result] = []
        for sandboxed in [false, true] {
            let dir = try Harness.scratchDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let file = dir.appendingPathComponent("data").path
            results.append(sandboxed
                ? Harness.sandboxed(platform, Harness.image("mapshared"), [file], extra: ["--bind", "\(dir.path):\(dir.path):rw"])
                : Harness.run(Harness.image("mapshared"), [file]))
        }
        #expect(results[0].status == 0, "natively: \(results[0].stderr)")
        #expect(results[1] == results[0], "on \(platform.rawValue)")
    }

    /// Pages of file mappings beyond the file's end: SIGBUS (BUS_ADRERR, the
    /// address) for private and shared mappings of host files and memfds,
    /// the last page's tail zeros, EFAULT for the kernel's copies, and
    /// ftruncate/O_TRUNC taking pages from every mapping (a forked child's
    /// truncation included) and growth giving them back, as natively.
    @Test(arguments: Harness.platforms)
    func pagesBeyondEndOfFileAreSIGBUS(_ platform: Harness.TestPlatform) throws {
        var results: [Harness.Result] = []
        for sandboxed in [false, true] {
            let dir = try Harness.scratchDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            results.append(sandboxed
                ? Harness.sandboxed(platform, Harness.image("sigbus"), [dir.path], extra: ["--bind", "\(dir.path):\(dir.path):rw"])
                : Harness.run(Harness.image("sigbus"), [dir.path]))
        }
        #expect(results[0].status == 0, "natively: \(results[0].stderr)")
        #expect(results[0].stdout.contains("memfd after ftruncate(0): SIGBUS, code 2, address exact"))
        #expect(results[1] == results[0], "on \(platform.rawValue)")
    }
}
