import Testing
@testable import Sentry

struct StraceFormatTests {
    @Test func stringsAreQuotedAndCutAsStraceDoes() {
        #expect(Decode.quote(Array("vm\n".utf8)[...], truncated: false) == "\"vm\\n\"")
        #expect(Decode.quote([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0][...], truncated: true) == "\"\\177ELF\\2\\1\\1\\0\"...")
        #expect(Decode.quote([0, 0x31][...], truncated: false) == "\"\\0001\"")   // octal digit follows: three digits
        #expect(Decode.quote(Array("a\"b\\".utf8)[...], truncated: false) == "\"a\\\"b\\\\\"")
    }

    @Test func flagsDecode() {
        #expect(Decode.openFlags(0o2000000) == "O_RDONLY|O_CLOEXEC")
        #expect(Decode.openFlags(0o1101) == "O_WRONLY|O_CREAT|O_TRUNC")
        #expect(Decode.openFlags(0o20200002) == "O_RDWR|O_TMPFILE")
        #expect(Decode.prot(0) == "PROT_NONE" && Decode.prot(3) == "PROT_READ|PROT_WRITE")
        #expect(Decode.mapFlags(0x22) == "MAP_PRIVATE|MAP_ANONYMOUS")
        #expect(Decode.fileMode(0o100644) == "S_IFREG|0644")
        #expect(Decode.sigset(1 << 1 | 1 << 14) == "[INT TERM]")
        #expect(Decode.sigset(~UInt64(0) & ~(1 << 8)) == "~[KILL]")
        #expect(Decode.rlim(8 << 20) == "8192*1024" && Decode.rlim(.max) == "RLIM64_INFINITY")
    }

    @Test func errnoNamesAndMessages() {
        #expect(Errno.ENOENT.name == "ENOENT" && Errno.ENOENT.message == "No such file or directory")
        #expect(Errno.ENOSYS.name == "ENOSYS" && Errno(133).name == "EHWPOISON")
    }
}
