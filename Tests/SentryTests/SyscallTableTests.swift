import Foundation
import Testing
@testable import Sentry
@testable import Syscalls

/// The syscall table (Linux64.swift) against the name list from uapi
/// unistd_64.h (Names.swift). Read as source too: a number written twice in
/// a dictionary literal would only show as a trap when the table is built.
struct SyscallTableTests {
    /// The `N: ...` keys of a dictionary literal in `file`, with the first
    /// quoted string after each.
    static func entries(_ file: String, after marker: String) throws -> [(Int, String)] {
        let url = Harness.packageRoot.appendingPathComponent("Sources/Syscalls/\(file)")
        let text = try String(contentsOf: url, encoding: .utf8)
        var out: [(Int, String)] = []
        for line in text.split(separator: "\n") {
            var rest = Substring(line)
            while let colon = rest.firstIndex(of: ":") {
                let key = rest[..<colon].split(separator: " ").last.flatMap { Int($0.trimmingCharacters(in: CharacterSet(charactersIn: ","))) }
                let after = rest[rest.index(after: colon)...].drop(while: { $0 == " " })
                guard let key, after.hasPrefix(marker) else { break }
                let value = after.dropFirst(marker.count)
                guard let end = value.firstIndex(of: "\"") else { break }
                out.append((key, String(value[..<end])))
                rest = value[value.index(after: end)...]
            }
        }
        return out
    }

    /// Names.swift's list as a dictionary (which traps on a number given twice).
    static let namesByNumber = Dictionary(uniqueKeysWithValues: linuxAMD64Names.pairs)

    @Test func tableNamesAgreeWithLinuxNumbers() throws {
        let table = try Self.entries("Linux64.swift", after: "Syscall(\"")
        let names = try Self.entries("Names.swift", after: "\"")
        #expect(table.count > 200 && names.count > 300)   // the parse found the tables
        #expect(Dictionary(grouping: table, by: \.0).filter { $0.value.count > 1 }.keys.sorted() == [])
        #expect(Dictionary(grouping: names, by: \.0).filter { $0.value.count > 1 }.keys.sorted() == [])
        #expect(Dictionary(grouping: names, by: \.1).filter { $0.value.count > 1 }.keys.sorted() == [])
        for (nr, name) in table {
            #expect(Self.namesByNumber[nr] == name, "table entry \(nr) is \(name), unistd_64.h says \(Self.namesByNumber[nr] ?? "nothing")")
        }
        // The built table: every number Linux names has its name, implemented or not.
        for (nr, name) in Self.namesByNumber {
            #expect(linuxAMD64[UInt64(nr)]?.name == name, "\(nr)")
        }
    }

    @Test func numbersTheSentryUsesItselfMatchTheTable() {
        #expect(Self.namesByNumber[Int(SyscallNumber.mmap)] == "mmap")
        #expect(Self.namesByNumber[Int(SyscallNumber.munmap)] == "munmap")
        #expect(Self.namesByNumber[Int(SyscallNumber.mprotect)] == "mprotect")
        #expect(Self.namesByNumber[Int(SyscallNumber.getpid)] == "getpid")
        #expect(Self.namesByNumber[Int(SyscallNumber.restart_syscall)] == "restart_syscall")
        #expect(Self.namesByNumber[Int(SyscallNumber.gettimeofday)] == "gettimeofday")
        #expect(Self.namesByNumber[Int(SyscallNumber.time)] == "time")
        #expect(Self.namesByNumber[Int(SyscallNumber.getcpu)] == "getcpu")
        for (n, name) in [(SyscallNumber.clone, "clone"), (SyscallNumber.fork, "fork"), (SyscallNumber.vfork, "vfork"),
                          (SyscallNumber.execve, "execve"), (SyscallNumber.execveat, "execveat"), (SyscallNumber.clone3, "clone3")] {
            #expect(Self.namesByNumber[Int(n)] == name)
        }
    }

    /// Every syscall name is in exactly one family, and the README's family
    /// table is the one `sentry syscalls --families` prints.
    @Test func familiesCoverTheTableAndTheReadmeIsCurrent() throws {
        var seen: [String: String] = [:]
        for f in syscallFamilies {
            for m in f.members {
                #expect(linuxAMD64.number(of: m) != nil, "\(m) in family \(f.name) is no syscall name")
                #expect(seen[m] == nil, "\(m) is in both \(seen[m] ?? "") and \(f.name)")
                seen[m] = f.name
            }
        }
        for (_, s) in linuxAMD64.all { #expect(seen[s.name] != nil, "\(s.name) is in no family (Families.swift)") }
        let readme = try String(contentsOf: Harness.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let begin = try #require(readme.range(of: "<!-- families:begin -->\n")), end = try #require(readme.range(of: "<!-- families:end -->"))
        #expect(String(readme[begin.upperBound..<end.lowerBound]) == linuxAMD64.familyTable,
                "README's family table is stale: paste `sentry syscalls --families` between its markers")
    }
}
