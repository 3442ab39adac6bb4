import Foundation
import Glibc
import Testing
@testable import Sentry
@testable import sentry

/// The OCI runtime (`sentry create/start/state/kill/delete/run`): bundles
/// made of a directory with busybox-static, driven as an engine drives runc,
/// with a state directory of each test's own (`--root`).
@Suite struct OCITests {
    /// busybox-static: one file that needs no library in the rootfs.
    static let busybox = "/bin/busybox"
    static let busyboxUsable: Bool = {
        guard let d = FileManager.default.contents(atPath: busybox), d.count > 64, d.prefix(4) == Data([0x7f, 0x45, 0x4c, 0x46]) else { return false }
        // A static executable has no PT_INTERP (3) among its program headers.
        func le(_ at: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(d[at + $1]) << (8 * $1) } }
        let phoff = le(32, 8), phentsize = le(54, 2), phnum = le(56, 2)
        guard phoff + phnum * phentsize <= d.count else { return false }
        return !(0..<phnum).contains { le(phoff + $0 * phentsize, 4) == 3 }
    }()

    /// A bundle: rootfs/ with busybox and its applets, /out bound read-write
    /// to the returned host directory, and config.json from `sentry spec`
    /// with `args` and whatever `edit` changes.
    struct Bundle {
        let dir: URL
        let root: String
        var path: String { dir.appendingPathComponent("bundle").path }
        var out: String { dir.appendingPathComponent("out").path }
        /// Whatever a failed test left running goes too.
        func cleanup() {
            for id in sentry(["list", "-q"]).stdout.split(separator: "\n") { _ = sentry(["delete", "--force", String(id)]) }
            try? FileManager.default.removeItem(at: dir)
        }

        /// `sentry --root R ARGS...`
        func sentry(_ args: [String]) -> Harness.Result { Harness.run(Harness.sentry, ["--root", root] + args) }
        func state(_ id: String) -> [String: Any]? {
            let r = sentry(["state", id])
            guard r.status == 0 else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]
        }
        func status(_ id: String) -> String? { state(id)?["status"] as? String }
        /// Polls (the machine is loaded: no fixed sleeps) until the state is `want`.
        func await(_ id: String, _ want: String, seconds: Double = 60) -> Bool {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                if status(id) == want { return true }
                usleep(20_000)
            }
            return false
        }
        func awaitFile(_ name: String, seconds: Double = 60) -> String? {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                if let s = try? String(contentsOfFile: out + "/" + name, encoding: .utf8), s.hasSuffix("\n") { return s }
                usleep(20_000)
            }
            return nil
        }
    }

    static func bundle(_ args: [String], platform: Harness.TestPlatform? = nil, edit: (inout [String: Any]) -> Void = { _ in }) throws -> Bundle {
        let dir = try Harness.scratchDirectory()
        let b = Bundle(dir: dir, root: dir.appendingPathComponent("state").path)
        let fm = FileManager.default
        let bin = b.path + "/rootfs/bin"
        try fm.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for d in ["proc", "dev", "sys", "tmp", "etc", "out"] { try fm.createDirectory(atPath: b.path + "/rootfs/" + d, withIntermediateDirectories: true) }
        try fm.createDirectory(atPath: b.out, withIntermediateDirectories: true)
        chmod(b.out, 0o777)   // guests that are not root write there too
        try fm.copyItem(atPath: busybox, toPath: bin + "/busybox")
        for applet in ["sh", "sleep", "echo", "cat", "id", "hostname", "ls", "ulimit", "kill"] {
            try fm.createSymbolicLink(atPath: bin + "/" + applet, withDestinationPath: "busybox")
        }
        let spec = Harness.run(Harness.sentry, ["spec", "--bundle", b.path])
        #expect(spec.status == 0, "sentry spec: \(spec.stderr)")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: b.path + "/config.json"))) as! [String: Any]
        var process = config["process"] as! [String: Any]
        process["args"] = args
        config["process"] = process
        var mounts = config["mounts"] as! [[String: Any]]
        mounts.append(["destination": "/out", "type": "bind", "source": b.out, "options": ["rbind", "rw"]])
        config["mounts"] = mounts
        if let platform {
            var a: [String: String] = [OCIConfig.platformAnnotation: platform.kind.rawValue]
            if let i = platform.arguments.firstIndex(of: "--systrap-trap") { a[OCIConfig.systrapTrapAnnotation] = platform.arguments[i + 1] }
            config["annotations"] = a
        }
        edit(&config)
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: b.path + "/config.json"))
        return b
    }

    /// runtime-spec's state schema (images/oci/schema): python3's jsonschema
    /// where it is installed; the schema's own rules checked here in any case.
    static func validateState(_ json: String) {
        let o = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]
        #expect(o != nil, "state is not a JSON object: \(json)")
        guard let o else { return }
        for k in ["ociVersion", "id", "status", "bundle"] { #expect(o[k] is String, "state lacks \(k): \(json)") }
        #expect(["creating", "created", "running", "stopped"].contains(o["status"] as? String ?? ""))
        if let pid = o["pid"] { #expect(((pid as? NSNumber)?.intValue ?? -1) >= 0) }
        let schema = Harness.images.appendingPathComponent("oci/schema").path
        let check = Harness.run("/usr/bin/env", ["python3", "-W", "ignore", "-c", """
            import json, sys, pathlib
            try:
                import jsonschema
            except ImportError:
                print("no jsonschema"); sys.exit(0)
            d = pathlib.Path(sys.argv[1])
            s = json.load(open(d / "state-schema.json"))
            r = jsonschema.RefResolver(d.resolve().as_uri() + "/", s)
            jsonschema.validate(json.load(sys.stdin), s, resolver=r)
            print("valid")
            """, schema], stdin: json)
        if check.stdout.hasPrefix("no jsonschema") || check.status == 127 {
            print("state JSON checked structurally only: python3 -m jsonschema is not installed (pip install jsonschema)")
        } else {
            #expect(check.status == 0 && check.stdout.hasPrefix("valid"), "state does not validate: \(check.stdout)\(check.stderr)\n\(json)")
        }
    }

    /// Whether a host process is gone (or a zombie waiting for its parent).
    static func gone(_ pid: Int32) -> Bool {
        guard let (state, _) = OCIState.procStat(pid) else { return true }
        return state == "Z" || state == "X"
    }
    static func awaitGone(_ pids: [Int32], seconds: Double = 30) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if pids.allSatisfy(gone) { return true }
            usleep(20_000)
        }
        return false
    }

    /// create → created (held before the first instruction), start →
    /// running, kill TERM (init has a handler) → stopped with init's exit,
    /// delete → gone, no host process left; on every platform.
    @Test(arguments: Harness.platforms)
    func lifecycle(_ platform: Harness.TestPlatform) throws {
        guard Self.busyboxUsable else { print("skipping OCI lifecycle: /bin/busybox is not busybox-static (apt-get install busybox-static)"); return }
        let b = try Self.bundle(["sh", "-c", "echo started > /out/started; trap 'echo term > /out/term; exit 3' TERM; while true; do sleep 0.05; done"], platform: platform)
        defer { b.cleanup() }
        let pidFile = b.dir.appendingPathComponent("pid").path
        let create = b.sentry(["create", "--bundle", b.path, "--pid-file", pidFile, "c1"])
        #expect(create.status == 0, "create: \(create.stderr)")
        guard create.status == 0 else { return }
        let created = b.sentry(["state", "c1"])
        Self.validateState(created.stdout)
        let s = b.state("c1") ?? [:]
        #expect(s["status"] as? String == "created")
        #expect(s["id"] as? String == "c1")
        #expect(s["bundle"] as? String == b.path)
        let pid = (s["pid"] as? NSNumber)?.int32Value ?? 0
        #expect(pid > 0 && !Self.gone(pid))
        #expect((try? String(contentsOfFile: pidFile, encoding: .utf8)) == "\(pid)")
        // The container's sentry confines itself before create returns, as `sentry run` does
        // (vmexec is not confined on any command).
        #expect(SelfConfinementTests.seccompLine(of: pid) == (platform.kind == .vmexec ? "Seccomp:\t0" : "Seccomp:\t2"), "\(platform)")
        // Held before its first instruction: nothing has run yet.
        usleep(100_000)
        #expect(!FileManager.default.fileExists(atPath: b.out + "/started"))
        #expect(b.sentry(["list", "--format", "json"]).stdout.contains("\"c1\""))

        let start = b.sentry(["start", "c1"])
        #expect(start.status == 0, "start: \(start.stderr)")
        #expect(b.awaitFile("started") == "started\n")
        #expect(b.status("c1") == "running")
        Self.validateState(b.sentry(["state", "c1"]).stdout)
        // A second start is an error: the container is not created any more.
        #expect(b.sentry(["start", "c1"]).status != 0)
        let ps = b.sentry(["ps", "--format", "json", "c1"])
        let hostPIDs = ((try? JSONSerialization.jsonObject(with: Data(ps.stdout.utf8))) as? [Int])?.map(Int32.init) ?? []
        #expect(hostPIDs.contains(pid), "ps: \(ps.stdout) \(ps.stderr)")
        // Running: delete without --force refuses.
        #expect(b.sentry(["delete", "c1"]).status != 0)

        #expect(b.sentry(["kill", "c1", "TERM"]).status == 0)
        #expect(b.awaitFile("term") == "term\n")
        #expect(b.await("c1", "stopped"))
        let stopped = b.sentry(["state", "c1"])
        Self.validateState(stopped.stdout)
        #expect(b.sentry(["kill", "c1", "TERM"]).status != 0, "kill of a stopped container must fail")
        #expect(b.sentry(["delete", "c1"]).status == 0)
        #expect(b.sentry(["state", "c1"]).status != 0)
        #expect(Self.awaitGone(hostPIDs), "host processes left: \(hostPIDs.filter { !Self.gone($0) })")
    }

    /// A signal init has no handler for is dropped, as from a parent pid
    /// namespace (runc's containers behave so); kill --all reaches every
    /// process, and init, whose children died, goes on and exits.
    @Test func killAllAndInitProtection() throws {
        guard Self.busyboxUsable else { print("skipping: /bin/busybox is not busybox-static"); return }
        let b = try Self.bundle(["sh", "-c", "trap '' USR1; (trap - USR1; exec sleep 1000) & (trap - USR1; exec sleep 1000) & echo ready > /out/ready; wait; echo reaped > /out/reaped; exit 4"])
        defer { b.cleanup() }
        #expect(b.sentry(["create", "--bundle", b.path, "k"]).status == 0)
        #expect(b.sentry(["start", "k"]).status == 0)
        #expect(b.awaitFile("ready") == "ready\n")
        // USR1 to init alone: ignored by its trap; the container keeps running.
        #expect(b.sentry(["kill", "k", "USR1"]).status == 0)
        usleep(200_000)
        #expect(b.status("k") == "running")
        #expect(b.sentry(["kill", "--all", "k", "SIGUSR1"]).status == 0)
        #expect(b.awaitFile("reaped") == "reaped\n")
        #expect(b.await("k", "stopped"))
        #expect(b.sentry(["delete", "k"]).status == 0)
    }

    /// delete of a created container (never started) and delete --force of
    /// a running one kill its sentry first and leave no host process.
    @Test func deleteKillsCreatedAndRunning() throws {
        guard Self.busyboxUsable else { print("skipping: /bin/busybox is not busybox-static"); return }
        let b = try Self.bundle(["sh", "-c", "echo up > /out/up; sleep 1000"])
        defer { b.cleanup() }
        #expect(b.sentry(["create", "--bundle", b.path, "held"]).status == 0)
        let heldPIDs = (try? JSONSerialization.jsonObject(with: Data(b.sentry(["ps", "-f", "json", "held"]).stdout.utf8))) as? [Int] ?? []
        #expect(!heldPIDs.isEmpty)
        #expect(b.sentry(["delete", "held"]).status == 0)
        #expect(Self.awaitGone(heldPIDs.map(Int32.init)))
        #expect(!FileManager.default.fileExists(atPath: b.out + "/up"), "a deleted created container must never have run")

        #expect(b.sentry(["create", "--bundle", b.path, "busy"]).status == 0)
        #expect(b.sentry(["start", "busy"]).status == 0)
        #expect(b.awaitFile("up") == "up\n")
        let busyPIDs = (try? JSONSerialization.jsonObject(with: Data(b.sentry(["ps", "-f", "json", "busy"]).stdout.utf8))) as? [Int] ?? []
        #expect(busyPIDs.count >= 2, "the sentry and its stubs: \(busyPIDs)")
        #expect(b.sentry(["delete", "--force", "busy"]).status == 0)
        #expect(Self.awaitGone(busyPIDs.map(Int32.init)), "left: \(busyPIDs)")
        #expect(b.sentry(["list", "-q"]).stdout == "")
        // --force on what does not exist is no error (engines clean up so); without it, it is.
        #expect(b.sentry(["delete", "--force", "busy"]).status == 0)
        #expect(b.sentry(["delete", "busy"]).status != 0)
        // SIGKILL on a running container ends it.
        #expect(b.sentry(["create", "--bundle", b.path, "k9"]).status == 0)
        #expect(b.sentry(["start", "k9"]).status == 0)
        #expect(b.sentry(["kill", "k9", "9"]).status == 0)
        #expect(b.await("k9", "stopped"))
        #expect(b.sentry(["delete", "k9"]).status == 0)
    }

    /// Two containers of one state directory at once, each its own sandbox.
    @Test func twoContainersAtOnce() throws {
        guard Self.busyboxUsable else { print("skipping: /bin/busybox is not busybox-static"); return }
        let b = try Self.bundle(["sh", "-c", "echo $$ $(hostname) > /out/$(hostname); sleep 1000"]) { c in
            c["hostname"] = "one"
        }
        defer { b.cleanup() }
        // The second bundle: the same rootfs, another hostname.
        let second = b.dir.appendingPathComponent("bundle2").path
        try FileManager.default.createDirectory(atPath: second, withIntermediateDirectories: true)
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: b.path + "/config.json"))) as! [String: Any]
        config["hostname"] = "two"
        config["root"] = ["path": b.path + "/rootfs", "readonly": true]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: second + "/config.json"))
        #expect(b.sentry(["create", "--bundle", b.path, "one"]).status == 0)
        #expect(b.sentry(["create", "--bundle", second, "two"]).status == 0)
        #expect(b.sentry(["start", "one"]).status == 0)
        #expect(b.sentry(["start", "two"]).status == 0)
        // Each is its own pid namespace: both inits are pid 1.
        #expect(b.awaitFile("one") == "1 one\n")
        #expect(b.awaitFile("two") == "1 two\n")
        #expect(b.status("one") == "running" && b.status("two") == "running")
        let list = b.sentry(["list"]).stdout
        #expect(list.contains("one") && list.contains("two"))
        #expect(b.sentry(["kill", "one", "KILL"]).status == 0)
        #expect(b.await("one", "stopped"))
        #expect(b.status("two") == "running")
        #expect(b.sentry(["delete", "-f", "two"]).status == 0)
        #expect(b.sentry(["delete", "one"]).status == 0)
    }

    /// run: create, start, wait; the guest's exit status; the record gone.
    /// process.user, rlimits and hostname reach the guest.
    @Test func runAppliesTheProcess() throws {
        guard Self.busyboxUsable else { print("skipping: /bin/busybox is not busybox-static"); return }
        let b = try Self.bundle(["sh", "-c", "id > /out/id; ulimit -n > /out/nofile; hostname > /out/host; exit 7"]) { c in
            var p = c["process"] as! [String: Any]
            p["user"] = ["uid": 1000, "gid": 100, "additionalGids": [10, 20]]
            p["rlimits"] = [["type": "RLIMIT_NOFILE", "hard": 512, "soft": 256]]
            c["process"] = p
            c["hostname"] = "box"
        }
        defer { b.cleanup() }
        let r = b.sentry(["run", "--bundle", b.path, "r"])
        #expect(r.status == 7, "run: \(r.stderr)")
        #expect((try? String(contentsOfFile: b.out + "/id", encoding: .utf8)) == "uid=1000 gid=100 groups=10,20\n")
        #expect((try? String(contentsOfFile: b.out + "/nofile", encoding: .utf8)) == "256\n")
        #expect((try? String(contentsOfFile: b.out + "/host", encoding: .utf8)) == "box\n")
        #expect(b.sentry(["state", "r"]).status != 0, "run removes the container's record")
    }

    /// exec: a process entered into the running sandbox (ppid 0, the
    /// sandbox's pids), with the exec's stdio and its exit status; --detach
    /// leaves a host process standing for it, whose pid is --pid-file's.
    @Test func exec() throws {
        guard Self.busyboxUsable else { print("skipping: /bin/busybox is not busybox-static"); return }
        let b = try Self.bundle(["sh", "-c", "echo up > /out/up; while [ ! -e /out/stop ]; do sleep 0.05; done; echo stopped > /out/init-done"])
        defer { b.cleanup() }
        #expect(b.sentry(["create", "--bundle", b.path, "e"]).status == 0)
        #expect(b.sentry(["start", "e"]).status == 0)
        #expect(b.awaitFile("up") == "up\n")
        let r = b.sentry(["exec", "--env", "X=1", "--env", "Y=2", "e", "sh", "-c", "echo $$ $PPID $X$Y; exit 5"])
        #expect(r.status == 5, "exec: \(r.stderr)")
        let fields = r.stdout.split(separator: " ")
        #expect(fields.count == 3 && (Int(fields[0]) ?? 0) > 1 && fields[1] == "0" && fields[2] == "12\n",
                "a pid of the sandbox's, its parent outside, its environment: \(r.stdout)")
        let missing = b.sentry(["exec", "e", "nosuch"])
        #expect(missing.status != 0 && missing.stderr.contains("executable file not found"), "\(missing.stderr)")
        // --process and --detach: the process file's command; the pid file's process exits with its status.
        let processFile = b.dir.appendingPathComponent("process.json").path
        try Data(#"{"args": ["sh", "-c", "echo detached > /out/detached; exit 3"], "cwd": "/out", "env": []}"#.utf8).write(to: URL(fileURLWithPath: processFile))
        let pidFile = b.dir.appendingPathComponent("exec.pid").path
        let d = b.sentry(["exec", "--process", processFile, "--detach", "--pid-file", pidFile, "e"])
        #expect(d.status == 0, "exec --detach: \(d.stderr)")
        #expect(b.awaitFile("detached") == "detached\n")
        let pid = Int32((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "") ?? 0
        #expect(pid > 0 && Self.awaitGone([pid]))
        _ = FileManager.default.createFile(atPath: b.out + "/stop", contents: nil)
        #expect(b.awaitFile("init-done") == "stopped\n")
        #expect(b.await("e", "stopped"))
        #expect(b.sentry(["exec", "e", "sh", "-c", "exit 0"]).status != 0, "no exec after the container stopped")
        #expect(b.sentry(["delete", "e"]).status == 0)
    }

    /// What the sentry cannot do is refused by name, and leaves no record.
    @Test func refusals() throws {
        guard Self.busyboxUsable else { print("skipping: /bin/busybox is not busybox-static"); return }
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("user namespaces", { c in
                var l = c["linux"] as! [String: Any]
                l["namespaces"] = [["type": "user"]]
                c["linux"] = l
            }),
            ("linux.resources.cpu.cpus", { c in
                var l = c["linux"] as! [String: Any]
                l["resources"] = ["cpu": ["cpus": "0"]]
                c["linux"] = l
            }),
            ("SCMP_ACT_NOTIFY", { c in
                var l = c["linux"] as! [String: Any]
                l["seccomp"] = ["defaultAction": "SCMP_ACT_NOTIFY"]
                c["linux"] = l
            }),
            ("hooks", { c in c["hooks"] = ["prestart": [["path": "/bin/true"]]] }),
            ("mount option idmap", { c in
                var m = c["mounts"] as! [[String: Any]]
                m.append(["destination": "/x", "type": "bind", "source": "/tmp", "options": ["idmap"]])
                c["mounts"] = m
            }),
            ("dev.sentry.platform", { c in c["annotations"] = [OCIConfig.platformAnnotation: "qemu"] }),
            ("mqueue at /mq", { c in
                var m = c["mounts"] as! [[String: Any]]
                m.append(["destination": "/mq", "type": "mqueue", "source": "mqueue"])
                c["mounts"] = m
            }),
            ("process.terminal", { c in
                var p = c["process"] as! [String: Any]
                p["terminal"] = true
                c["process"] = p
            }),
        ]
        for (what, edit) in cases {
            let b = try Self.bundle(["true"], edit: edit)
            defer { b.cleanup() }
            let r = b.sentry(["create", "--bundle", b.path, "x"])
            #expect(r.status != 0 && r.stderr.contains(what), "\(what): \(r.status) \(r.stderr)")
            #expect(b.sentry(["state", "x"]).status != 0, "\(what): a refused create leaves no container")
        }
    }

    /// Which command lines are the OCI runtime's: `sentry run PROGRAM` stays the sentry's own.
    @Test func commandLineDispatch() {
        #expect(OCICommand.parse(["run", "prog"]) == nil)
        #expect(OCICommand.parse(["run", "--root", "/srv", "prog"]) == nil)
        #expect(OCICommand.parse(["platforms"]) == nil)
        #expect(OCICommand.parse(["run", "--bundle", "b", "id"])?.command == "run")
        #expect(OCICommand.parse(["run", "-b=b", "id"])?.command == "run")
        let c = OCICommand.parse(["--root", "/r", "--log=/l", "--log-format", "json", "--systemd-cgroup", "create", "--bundle", "b", "id"])
        #expect(c?.command == "create" && c?.root == "/r" && c?.log.path == "/l" && c?.log.json == true && c?.args == ["--bundle", "b", "id"])
        #expect(OCICommand.parse(["state", "id"])?.root == OCICommand.defaultRoot)
        #expect(OCICommand.splitFlag("-pid-file=/x") == ("pid-file", "/x"))
        #expect(OCICommand.parseSignal("TERM") == SIGTERM && OCICommand.parseSignal("SIGKILL") == SIGKILL)
        #expect(OCICommand.parseSignal("9") == 9 && OCICommand.parseSignal("SIGRTMIN+1") == 35 && OCICommand.parseSignal("NOPE") == nil)
    }

    /// config.json read field by field: what is applied, what is noted.
    @Test func configParsing() throws {
        let json = """
            {"ociVersion": "1.0.2", "root": {"path": "rootfs"},
             "process": {"args": ["sh"], "cwd": "/", "env": ["A=1"], "noNewPrivileges": true,
                         "user": {"uid": 0, "gid": 0},
                         "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"]},
                         "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 18446744073709551615, "soft": 1024}]},
             "mounts": [{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro", "nosuid"]},
                        {"destination": "/run", "type": "tmpfs", "source": "tmpfs"},
                        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "nodev"]},
                        {"destination": "/etc/hosts", "type": "bind", "source": "/etc/hosts", "options": ["rbind", "ro"]}],
             "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}], "seccomp": {"defaultAction": "SCMP_ACT_ALLOW"}}}
            """
        let c = try OCIConfig.parse(Data(json.utf8), bundle: "/b")
        #expect(c.sandbox.root == "/b/rootfs")
        #expect(c.sandbox.overlay, "readonly false (the default) keeps writes in sentry memory")
        #expect(c.sandbox.network == .none, "a network namespace of its own: the sandbox's loopback")
        #expect(c.noNewPrivileges)
        #expect(c.sandbox.credentials?.bounding == (1 << 5 | 1 << 0))
        #expect(c.sandbox.credentials?.effective == 1 << 5)
        #expect(c.rlimits[ResourceLimit.RLIMIT_NOFILE]?.cur == 1024)
        #expect(c.rlimits[ResourceLimit.RLIMIT_NOFILE]?.max == UInt64.max)
        #expect(c.sandbox.mounts == [.empty(guest: "/sys", type: "sysfs"), .tmpfs(guest: "/run"),
                                     .bind(.init(host: "/etc/hosts", guest: "/etc/hosts", readOnly: true))])
        #expect(c.seccomp?.defaultAction == Seccomp.SECCOMP_RET_ALLOW && c.seccomp?.rules == [], "linux.seccomp is read for the guest filter")
        // No network namespace: the host's network, as runc.
        let host = try OCIConfig.parse(Data(#"{"ociVersion":"1.0.2","root":{"path":"r"},"process":{"args":["a"],"cwd":"/"},"linux":{}}"#.utf8), bundle: "/b")
        #expect(host.sandbox.network == .host)
        #expect(host.selfConfine == .on, "the sentry confines itself unless told otherwise")
        let off = try OCIConfig.parse(Data(#"{"ociVersion":"1.0.2","root":{"path":"r"},"process":{"args":["a"],"cwd":"/"},"annotations":{"dev.sentry.self-confine":"off"}}"#.utf8), bundle: "/b")
        #expect(off.selfConfine == .off)
        #expect(throws: OCIError.self) { try OCIConfig.parse(Data(#"{"ociVersion":"1.0.2","root":{"path":"r"},"process":{"args":["a"],"cwd":"/"},"annotations":{"dev.sentry.self-confine":"maybe"}}"#.utf8), bundle: "/b") }
        #expect(throws: OCIError.self) { try OCIConfig.parse(Data(#"{"ociVersion":"1.0.2","root":{"path":"r"},"process":{"args":["a"],"cwd":"/","terminal":1}}"#.utf8), bundle: "/b") }
        #expect(throws: OCIError.self) { try OCIConfig.parse(Data(#"{"ociVersion":"0.9","root":{"path":"r"},"process":{"args":["a"],"cwd":"/"}}"#.utf8), bundle: "/b") }
    }

    /// linux.seccomp compiled to cBPF, run by the kernel's own interpreter:
    /// actions with their data, the first matching rule winning, and every
    /// SCMP_CMP_* on 64-bit values (high and low words both deciding).
    @Test func seccompProfileCompilesAsLibseccompWould() throws {
        let json = #"""
            {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
             "flags": ["SECCOMP_FILTER_FLAG_LOG"],
             "syscalls": [
               {"names": ["read", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
               {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
               {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS"},
               {"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 4294967298, "op": "SCMP_CMP_EQ"}]},
               {"names": ["write"], "action": "SCMP_ACT_TRAP", "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_NE"}]},
               {"names": ["lseek"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 4294967296, "op": "SCMP_CMP_GT"}]},
               {"names": ["lseek"], "action": "SCMP_ACT_LOG", "args": [{"index": 1, "value": 4294967296, "op": "SCMP_CMP_GE"}]},
               {"names": ["pread64"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 3, "value": 4294967296, "op": "SCMP_CMP_LT"}]},
               {"names": ["pread64"], "action": "SCMP_ACT_LOG", "args": [{"index": 3, "value": 4294967296, "op": "SCMP_CMP_LE"}]},
               {"names": ["openat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 30,
                "args": [{"index": 2, "value": 64, "valueTwo": 64, "op": "SCMP_CMP_MASKED_EQ"}, {"index": 0, "value": 18446744073709551516, "op": "SCMP_CMP_EQ"}]}
             ]}
            """#
        let raw = try JSONValue.parse(Data(json.utf8)).objectValue!
        let profile = try OCISeccompProfile(JSONObject(raw, at: "linux.seccomp"))
        #expect(profile.log)
        let names = ["read": 0, "write": 1, "lseek": 8, "pread64": 17, "kill": 62, "mkdir": 83, "openat": 257]
        let (program, unknown) = try profile.compile { names[$0].map { UInt64($0) } }
        #expect(unknown == ["no_such_call"])
        let bpf = try ClassicBPF(verifying: program)
        func run(_ nr: Int32, _ a: [UInt64] = [], arch: UInt32 = SeccompData.AUDIT_ARCH_X86_64) -> UInt32 {
            let w = a + Array(repeating: 0, count: 6 - a.count)
            var d = SeccompData(nr: nr, instructionPointer: 0x1000, args: SyscallArguments(w[0], w[1], w[2], w[3], w[4], w[5]))
            d.arch = arch
            return bpf.run(d)
        }
        let allow = Seccomp.SECCOMP_RET_ALLOW, log = Seccomp.SECCOMP_RET_LOG, trap = Seccomp.SECCOMP_RET_TRAP
        #expect(run(0) == allow)
        #expect(run(83) == Seccomp.SECCOMP_RET_ERRNO | 1)
        #expect(run(62) == Seccomp.SECCOMP_RET_KILL_PROCESS)
        #expect(run(39) == Seccomp.SECCOMP_RET_ERRNO | 38, "the default, with defaultErrnoRet")
        #expect(run(0x4000_0000 | 0) == Seccomp.SECCOMP_RET_ERRNO | 38, "an x32 number takes the default")
        #expect(run(0, arch: SeccompData.AUDIT_ARCH_I386) == Seccomp.SECCOMP_RET_KILL_PROCESS)
        // EQ needs both words; the next rule for the same call is tried on a miss.
        #expect(run(1, [4294967298]) == allow)
        #expect(run(1, [2]) == trap)
        #expect(run(1, [5]) == Seccomp.SECCOMP_RET_ERRNO | 38)
        #expect(run(1, [4294967296 + 5]) == trap, "NE on the high word")
        // GT / GE around 2^32.
        #expect(run(8, [0, 4294967297]) == allow)
        #expect(run(8, [0, 8589934592]) == allow)
        #expect(run(8, [0, 4294967296]) == log)
        #expect(run(8, [0, 4294967295]) == Seccomp.SECCOMP_RET_ERRNO | 38)
        // LT / LE.
        #expect(run(17, [0, 0, 0, 4294967295]) == allow)
        #expect(run(17, [0, 0, 0, 4294967296]) == log)
        #expect(run(17, [0, 0, 0, 4294967297]) == Seccomp.SECCOMP_RET_ERRNO | 38)
        #expect(run(17, [0, 0, 0, 1 << 40]) == Seccomp.SECCOMP_RET_ERRNO | 38)
        // MASKED_EQ and a second comparison, both required (AT_FDCWD is -100).
        #expect(run(257, [UInt64(bitPattern: -100), 0, 0o101]) == Seccomp.SECCOMP_RET_ERRNO | 30)
        #expect(run(257, [UInt64(bitPattern: -100), 0, 0o1]) == Seccomp.SECCOMP_RET_ERRNO | 38)
        #expect(run(257, [3, 0, 0o101]) == Seccomp.SECCOMP_RET_ERRNO | 38)
        // What cannot be enforced as written is refused.
        for bad in [#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#, #"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/x.sock"}"#,
                    #"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_AARCH64"]}"#,
                    #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
                    #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_BITS"}]}]}"#] {
            let o = try JSONValue.parse(Data(bad.utf8)).objectValue!
            #expect(throws: OCIError.self, "\(bad)") { try OCISeccompProfile(JSONObject(o, at: "linux.seccomp")) }
        }
    }

    /// The profile is the container process's guest filter from its first
    /// instruction: mkdir answered EPERM (errnoRet), a set-uid chmod EACCES
    /// (a masked argument) while a plain one runs, sethostname killing a
    /// child and then init itself (SIGSYS, status 159), on every platform.
    @Test(arguments: Harness.platforms)
    func seccompProfileIsApplied(_ platform: Harness.TestPlatform) throws {
        guard Self.busyboxUsable else { print("skipping: /bin/busybox is not busybox-static"); return }
        let script = "mkdir /tmp/d 2>/out/mkdir; echo $? >> /out/mkdir; echo x > /tmp/f; busybox chmod 4755 /tmp/f 2>/out/chmod; "
            + "busybox chmod 755 /tmp/f; echo $? >> /out/chmod; hostname renamed; echo $? > /out/hostname; exec hostname again"
        let b = try Self.bundle(["sh", "-c", script], platform: platform) { c in
            var l = c["linux"] as! [String: Any]
            l["seccomp"] = ["defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                            "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1],
                                         ["names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                                          "args": [["index": 1, "value": 0o4000, "valueTwo": 0o4000, "op": "SCMP_CMP_MASKED_EQ"]]],
                                         ["names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                                          "args": [["index": 2, "value": 0o4000, "valueTwo": 0o4000, "op": "SCMP_CMP_MASKED_EQ"]]],
                                         ["names": ["sethostname"], "action": "SCMP_ACT_KILL_PROCESS"]]]
            c["linux"] = l
        }
        defer { b.cleanup() }
        let r = b.sentry(["run", "--bundle", b.path, "s"])
        #expect(r.status == 159, "\(platform.rawValue): killed by SIGSYS: \(r.status) \(r.stderr)")
        #expect((try? String(contentsOfFile: b.out + "/mkdir", encoding: .utf8)) == "mkdir: can't create directory '/tmp/d': Operation not permitted\n1\n")
        let chmod = (try? String(contentsOfFile: b.out + "/chmod", encoding: .utf8)) ?? ""
        #expect(chmod.contains("Permission denied") && chmod.hasSuffix("\n0\n"), "set-uid refused, 755 allowed: \(chmod)")
        #expect((try? String(contentsOfFile: b.out + "/hostname", encoding: .utf8)) == "159\n", "a child killed at sethostname")
    }

    /// podman 4.3 (conmon) with the sentry as its runtime, on an image
    /// imported from a busybox-static tarball: output, exit status, stop.
    @Test func podman() throws {
        guard Self.busyboxUsable else { print("skipping podman: /bin/busybox is not busybox-static"); return }
        guard let podman = ["/usr/bin/podman", "/usr/local/bin/podman"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            print("skipping podman: not installed (apt-get install podman; README: The OCI runtime)")
            return
        }
        let image = "localhost/sentry-busybox-static"
        if Harness.run(podman, ["image", "exists", image]).status != 0 {
            let dir = try Harness.scratchDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let root = dir.appendingPathComponent("root").path
            try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Self.busybox, toPath: root + "/bin/busybox")
            for applet in ["sh", "echo", "sleep", "ls", "cat", "hostname"] { try FileManager.default.createSymbolicLink(atPath: root + "/bin/" + applet, withDestinationPath: "busybox") }
            let tar = dir.appendingPathComponent("rootfs.tar").path
            #expect(Harness.run("/bin/tar", ["-C", root, "-cf", tar, "."]).status == 0)
            let imported = Harness.run(podman, ["import", tar, image])
            guard imported.status == 0 else { print("skipping podman: podman import failed here: \(imported.stderr)"); return }
        }
        let base = ["--runtime", Harness.sentry, "run", "--rm"]
        let hi = Harness.run(podman, base + [image, "sh", "-c", "echo hi; hostname -s >/dev/null; ls /bin/busybox"])
        if hi.status != 0 && (hi.stderr.contains("cannot") || hi.stderr.contains("netavark") || hi.stderr.contains("cgroup")) && !hi.stderr.contains("sentry") {
            print("skipping podman: podman itself cannot run containers here: \(hi.stderr)")
            return
        }
        #expect(hi.status == 0 && hi.stdout == "hi\n/bin/busybox\n", "podman run: \(hi.status) \(hi.stdout) \(hi.stderr)")
        // podman's default seccomp profile loads as the guest's filter; unconfined, there is none.
        let filtered = Harness.run(podman, base + [image, "sh", "-c", "grep Seccomp: /proc/self/status"])
        #expect(filtered.stdout == "Seccomp:\t2\n", "podman's default profile: \(filtered.stdout) \(filtered.stderr)")
        let unconfined = Harness.run(podman, base + ["--security-opt", "seccomp=unconfined", image, "sh", "-c", "grep Seccomp: /proc/self/status"])
        #expect(unconfined.stdout == "Seccomp:\t0\n", "seccomp=unconfined: \(unconfined.stdout) \(unconfined.stderr)")
        let exit3 = Harness.run(podman, base + [image, "sh", "-c", "exit 3"])
        #expect(exit3.status == 3, "podman run exit status: \(exit3.stderr)")
        // podman's memory and pids limits are the sandbox's --memory and --pids.
        let limited = Harness.run(podman, base + ["--memory", "64m", "--pids-limit", "50", image, "sh", "-c", "grep MemTotal /proc/meminfo"])
        #expect(limited.status == 0 && limited.stdout.contains("65536 kB"), "podman --memory: \(limited.stdout) \(limited.stderr)")
        // podman exec into a running container, and its status.
        let running = Harness.run(podman, ["--runtime", Harness.sentry, "run", "-d", "--pids-limit", "0", image, "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"])
        #expect(running.status == 0, "podman run -d: \(running.stderr)")
        let rid = running.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        if running.status == 0 {
            let ex = Harness.run(podman, ["--runtime", Harness.sentry, "exec", rid, "sh", "-c", "echo exec-ok; exit 6"])
            #expect(ex.status == 6 && ex.stdout == "exec-ok\n", "podman exec: \(ex.status) \(ex.stdout) \(ex.stderr)")
            // podman exec -it: an interactive shell on a terminal of its own (conmon's, through
            // --console-socket), whose job control finds itself in the foreground; script gives podman a tty.
            if FileManager.default.isExecutableFile(atPath: "/usr/bin/script") {
                let tty = Harness.run("/usr/bin/script", ["-qec", "\(podman) --runtime \(Harness.sentry) exec -it \(rid) sh", "/dev/null"],
                                      stdin: "echo typed-$((1+2)); exit 9\n")
                #expect(tty.status == 9 && tty.stdout.contains("typed-3"), "podman exec -it: \(tty.status) \(tty.stdout) \(tty.stderr)")
            } else {
                print("skipping podman exec -it: no script(1) to give podman a terminal (apt-get install bsdutils)")
            }
            // init has a handler: podman stop ends it with SIGTERM, status 0.
            #expect(Harness.run(podman, ["--runtime", Harness.sentry, "stop", "-t", "30", rid]).status == 0)
            let code = Harness.run(podman, ["inspect", "--format", "{{.State.ExitCode}}", rid]).stdout
            #expect(code.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "exit code after stop: \(code)")
            _ = Harness.run(podman, ["--runtime", Harness.sentry, "rm", "-f", rid])
        }
        // podman stop: SIGTERM, which init (sleep, no handler) ignores as in a pid namespace; SIGKILL after the timeout.
        let started = Harness.run(podman, ["--runtime", Harness.sentry, "run", "-d", "--pids-limit", "0", image, "sleep", "1000"])
        #expect(started.status == 0, "podman run -d: \(started.stderr)")
        let id = started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard started.status == 0, !id.isEmpty else { return }
        let stop = Harness.run(podman, ["--runtime", Harness.sentry, "stop", "-t", "1", id])
        #expect(stop.status == 0, "podman stop: \(stop.stderr)")
        let inspect = Harness.run(podman, ["inspect", "--format", "{{.State.ExitCode}}", id])
        #expect(inspect.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "137", "stopped by SIGKILL after the timeout: \(inspect.stdout)")
        _ = Harness.run(podman, ["--runtime", Harness.sentry, "rm", "-f", id])
    }

    /// containerd 1.6's runc shim with --runc-binary pointed at the sentry
    /// (`ctr run`), on a containerd of the test's own (private root, state
    /// and socket), with the image podman made.
    @Test func containerd() throws {
        guard Self.busyboxUsable else { print("skipping containerd: /bin/busybox is not busybox-static"); return }
        let fm = FileManager.default
        guard fm.isExecutableFile(atPath: "/usr/bin/containerd"), fm.isExecutableFile(atPath: "/usr/bin/ctr"),
              fm.isExecutableFile(atPath: "/usr/bin/containerd-shim-runc-v2") else {
            print("skipping containerd: containerd, ctr or containerd-shim-runc-v2 is not installed (apt-get install containerd; README: The OCI runtime)")
            return
        }
        guard fm.isExecutableFile(atPath: "/usr/bin/podman") else { print("skipping containerd: the test's image comes from podman save (apt-get install podman)"); return }
        let image = "localhost/sentry-busybox-static"
        guard Harness.run("/usr/bin/podman", ["image", "exists", image]).status == 0 else {
            print("skipping containerd: podman has no \(image) image (OCITests.podman imports it)")
            return
        }
        // A short directory: the socket's path must fit sockaddr_un.
        let dir = "/tmp/sentry-ctrd-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: dir) }
        let address = dir + "/c.sock"
        guard let daemon = Harness.spawn("/usr/bin/containerd", ["--root", dir + "/root", "--state", dir + "/state", "--address", address],
                                         env: nil, stdin: "/dev/null", stdout: dir + "/log", stderr: dir + "/log") else {
            print("skipping containerd: it did not start")
            return
        }
        defer {
            kill(daemon, SIGTERM)
            var st: Int32 = 0
            waitpid(daemon, &st, 0)
        }
        let ctr = { (args: [String]) in Harness.run("/usr/bin/ctr", ["--address", address] + args) }
        var up = false
        for _ in 0..<500 where !up { up = ctr(["version"]).status == 0; if !up { usleep(20_000) } }
        guard up else { print("skipping containerd: it does not answer here: \((try? String(contentsOfFile: dir + "/log", encoding: .utf8)) ?? "")"); return }
        let archive = dir + "/img.tar"
        #expect(Harness.run("/usr/bin/podman", ["save", "--format", "oci-archive", "-o", archive, image]).status == 0)
        let imported = ctr(["images", "import", "--base-name", image, archive])
        #expect(imported.status == 0, "ctr images import: \(imported.stderr)")
        let r = ctr(["run", "--rm", "--runtime", "io.containerd.runc.v2", "--runc-binary", Harness.sentry,
                     image + ":latest", "c1", "sh", "-c", "echo hi from containerd; exit 4"])
        #expect(r.stdout == "hi from containerd\n" && r.status == 4, "ctr run: \(r.status) \(r.stdout) \(r.stderr)")
    }
}
