import FoundationEssentials
import Glibc
import Sentry

/// spec, state, list, ps and features: what the runtime reports.
extension OCICommand {
    /// `runc spec`'s starting point, with what the sentry does: a read-only
    /// rootfs/ in the bundle, sh in it, the sandbox's own namespaces. The
    /// terminal is off: `run` relays no terminal of its own (use
    /// --console-socket, or an engine, for one).
    static func defaultSpec(rootless: Bool) -> JSONValue {
        let caps: JSONValue = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        let namespaces = ["pid", "network", "ipc", "uts", "mount"].filter { !rootless || $0 != "network" }.map { ["type": JSONValue.string($0)] as JSONValue }
        return [
            "ociVersion": .string(OCIState.ociVersion),
            "process": [
                "terminal": false,
                "user": ["uid": 0, "gid": 0],
                "args": ["sh"],
                "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
                "cwd": "/",
                "capabilities": ["bounding": caps, "effective": caps, "permitted": caps],
                "rlimits": [["type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024]],
                "noNewPrivileges": true,
            ],
            "root": ["path": "rootfs", "readonly": true],
            "hostname": "sentry",
            "mounts": [
                ["destination": "/proc", "type": "proc", "source": "proc"],
                ["destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]],
                ["destination": "/dev/pts", "type": "devpts", "source": "devpts",
                 "options": ["nosuid", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]],
                ["destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "nodev", "mode=1777", "size=65536k"]],
                ["destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "nodev", "ro"]],
            ],
            "linux": ["namespaces": .array(namespaces)],
        ]
    }

    func spec() -> Never {
        let f = parseFlags(valued: ["bundle": "bundle", "b": "bundle"], switches: ["rootless": "rootless"])
        guard f.positional.isEmpty else { log.fail("spec: unexpected arguments \(f.positional.joined(separator: " "))") }
        let dir = f.values["bundle"] ?? "."
        let path = dir + "/config.json"
        if FileManager.default.fileExists(atPath: path) { log.fail("spec: \(path) exists; remove it first") }
        let text = Self.defaultSpec(rootless: f.switches.contains("rootless")).encoded(pretty: true) + "\n"
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else { log.fail("spec: \(path): \(Errno(errno).message)") }
        exit(0)
    }

    func state() -> Never {
        let f = parseFlags(valued: [:], switches: [:])
        let id = containerID(f)
        print(loadState(id).stateJSON(root: root).encoded(pretty: true))
        exit(0)
    }

    func list() -> Never {
        let f = parseFlags(valued: ["format": "format", "f": "format"], switches: ["quiet": "quiet", "q": "quiet"])
        guard f.positional.isEmpty else { log.fail("list: unexpected arguments") }
        let format = f.values["format"] ?? "table"
        guard format == "table" || format == "json" else { log.fail("list: --format \(format): choose table or json") }
        let states = OCIState.list(root: root).compactMap { try? OCIState.load(root: root, id: $0) }
        if f.switches.contains("quiet") {
            for s in states { print(s.id) }
        } else if format == "json" {
            print(JSONValue.array(states.map { $0.stateJSON(root: root) }).encoded(pretty: true))
        } else {
            var rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
            for s in states {
                let st = s.status(root: root)
                rows.append([s.id, st == .stopped ? "0" : String(s.pid), st.rawValue, s.bundle, s.created, geteuid() == 0 ? "root" : String(geteuid())])
            }
            let widths = (0..<6).map { c in rows.map { $0[c].count }.max()! }
            for r in rows { print(r.enumerated().map { $0.offset == 5 ? $0.element : $0.element.padding(widths[$0.offset] + 2) }.joined()) }
        }
        exit(0)
    }

    /// The host processes of a container: its sentry and the stubs (and any
    /// other process) below it. Guest pids are the sandbox's own and never
    /// host pids; `ps` inside the container lists those.
    func ps() -> Never {
        let f = parseFlags(valued: ["format": "format", "f": "format"], switches: [:])
        guard let id = f.positional.first else { log.fail("ps: missing container id") }
        let format = f.values["format"] ?? "table"
        guard format == "table" || format == "json" else { log.fail("ps: --format \(format): choose table or json") }
        let state = loadState(id)
        let status = state.status(root: root)
        guard status == .created || status == .running else { log.fail("ps: container \(id) is \(status.rawValue)") }
        let pids = Self.hostProcesses(below: state.pid)
        if format == "json" {
            print(JSONValue.array(pids.map { .int(Int64($0)) }).encoded())
        } else {
            print("PID    CMD")
            for p in pids {
                let cmd = (try? String(contentsOfFile: "/proc/\(p)/comm", encoding: .utf8))?.trimmingNewlines() ?? "?"
                print(String(p).padding(7) + cmd)
            }
        }
        exit(0)
    }

    /// `pid` and its descendants, from /proc/*/stat's parent fields.
    static func hostProcesses(below pid: Int32) -> [Int32] {
        var parent: [Int32: Int32] = [:]
        for e in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let p = Int32(e), let text = try? String(contentsOfFile: "/proc/\(e)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { continue }
            let fields = text[text.index(after: close)...].split(separator: " ")
            if fields.count > 1, let pp = Int32(fields[1]) { parent[p] = pp }
        }
        var out: Set<Int32> = [pid]
        var changed = true
        while changed {
            changed = false
            for (p, pp) in parent where out.contains(pp) && !out.contains(p) { out.insert(p); changed = true }
        }
        return out.sorted()
    }

    /// runtime-spec's features.md document: what this runtime accepts.
    func features() -> Never {
        let doc: JSONValue = [
            "ociVersionMin": "1.0.0",
            "ociVersionMax": .string(OCIState.ociVersion),
            "hooks": [],
            "mountOptions": JSONValue((OCIConfig.harmlessMountOptions.sorted() + ["noexec"]).sorted()),
            "linux": [
                "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "uts"],
                "capabilities": JSONValue(OCIConfig.capabilityNames),
                "cgroup": ["v1": false, "v2": false, "systemd": false, "systemdUser": false],
                "seccomp": [
                    "enabled": true,
                    "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                                "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                    "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                                  "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                    "archs": ["SCMP_ARCH_X86_64"],
                    "knownFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
                    "supportedFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
                ],
                "apparmor": ["enabled": false],
                "selinux": ["enabled": false],
            ],
            "annotations": JSONValue([
                OCIConfig.platformAnnotation: "auto, ptrace, systrap or vmexec",
                OCIConfig.systrapTrapAnnotation: "sud or seccomp",
                OCIConfig.straceAnnotation: "true: trace the guest's syscalls to the container's stderr",
                OCIConfig.straceOutputAnnotation: "a host file for the trace",
                OCIConfig.networkAnnotation: "none or host (default: host with a network namespace path or none listed, else none)",
            ]),
        ]
        print(doc.encoded(pretty: true))
        exit(0)
    }
}
