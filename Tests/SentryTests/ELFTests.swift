import Foundation
import Testing
@testable import Sentry

struct ELFTests {
    init() { #expect(Harness.imagesBuilt) }
    func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: Harness.image(name)))) }

    @Test func staticAndStaticPIEParse() throws {
        let exec = try ELFImage(try bytes("hello"), path: "hello")
        #expect(exec.type == ELFImage.ET_EXEC && !exec.loads.isEmpty && exec.entry != 0)
        let pie = try ELFImage(try bytes("hello-pie"), path: "hello-pie")
        #expect(pie.isPIE)
    }

    @Test func badFilesAreRejectedWithTheRightReason() throws {
        let good = try bytes("hello")
        #expect(throws: LoadError.notELF("x")) { try ELFImage([], path: "x") }
        #expect(throws: LoadError.notELF("x")) { try ELFImage(Array("#!/bin/sh\n".utf8), path: "x") }
        #expect(throws: LoadError.truncated("x", "ELF header is 20 of 64 bytes")) { try ELFImage(Array(good.prefix(20)), path: "x") }
        var b32 = good; b32[4] = 1
        #expect(throws: LoadError.wrongArchitecture("x", "32-bit ELF")) { try ELFImage(b32, path: "x") }
        var arm = good; arm[18] = 183; arm[19] = 0
        #expect(throws: LoadError.wrongArchitecture("x", "e_machine 183")) { try ELFImage(arm, path: "x") }
        var rel = good; rel[16] = 1
        #expect(throws: LoadError.corrupt("x", "a relocatable object, not an executable")) { try ELFImage(rel, path: "x") }
        var phent = good; phent[54] = 32
        #expect(throws: LoadError.corrupt("x", "e_phentsize 32")) { try ELFImage(phent, path: "x") }
        do {
            _ = try ELFImage(Array(good.prefix(good.count / 2)), path: "x")
            Issue.record("a half file loaded")
        } catch { if case .truncated = error {} else { Issue.record("expected truncated, got \(error)") } }
        let ls = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "/bin/ls")))
        #expect(try ELFImage(ls, path: "ls").interpreter == "/lib64/ld-linux-x86-64.so.2")
        #expect(try ELFImage(try bytes("hello"), path: "hello").interpreter == nil)
        // PT_INTERP must be NUL-terminated, as load_elf_binary requires.
        var unterminated = ls
        if let i = ls.firstRange(of: Array("/lib64/ld-linux-x86-64.so.2\0".utf8))?.upperBound { unterminated[i - 1] = 0x41 }
        #expect(throws: LoadError.corrupt("ls", "PT_INTERP not NUL-terminated")) { try ELFImage(unterminated, path: "ls") }
    }
}
