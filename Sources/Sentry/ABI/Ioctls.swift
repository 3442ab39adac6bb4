/// ioctl request numbers (include/uapi/asm-generic/ioctls.h and the pty
/// ones), defined once: the handlers switch on them and strace names them
/// from `names`.
public enum Ioctl {
    public static let TCGETS: UInt64 = 0x5401, TCSETS: UInt64 = 0x5402, TCSETSW: UInt64 = 0x5403, TCSETSF: UInt64 = 0x5404
    public static let TCSBRK: UInt64 = 0x5409, TCXONC: UInt64 = 0x540A, TCFLSH: UInt64 = 0x540B, TIOCSCTTY: UInt64 = 0x540E
    public static let TIOCGPGRP: UInt64 = 0x540F, TIOCSPGRP: UInt64 = 0x5410, TIOCOUTQ: UInt64 = 0x5411
    public static let TIOCGWINSZ: UInt64 = 0x5413, TIOCSWINSZ: UInt64 = 0x5414, FIONREAD: UInt64 = 0x541B
    public static let FIONBIO: UInt64 = 0x5421, TIOCNOTTY: UInt64 = 0x5422, TIOCGETD: UInt64 = 0x5424, TIOCGSID: UInt64 = 0x5429
    public static let FIONCLEX: UInt64 = 0x5450, FIOCLEX: UInt64 = 0x5451, FIOASYNC: UInt64 = 0x5452
    public static let TIOCGPTN: UInt64 = 0x8004_5430, TIOCSPTLCK: UInt64 = 0x4004_5431, TIOCGPTLCK: UInt64 = 0x8004_5439
    public static let TIOCGPTPEER: UInt64 = 0x5441
    /// A seccomp listener's (include/uapi/linux/seccomp.h): `SECCOMP_IOWR(0,
    /// struct seccomp_notif)` and the rest; ID_VALID's number before 5.17 fixed
    /// its direction is still taken; ADDFD's struct is extensible, so its
    /// size (and direction) bits are masked off before comparing (EA_IOCTL).
    public static let SECCOMP_IOCTL_NOTIF_RECV: UInt64 = 0xc050_2100, SECCOMP_IOCTL_NOTIF_SEND: UInt64 = 0xc018_2101
    public static let SECCOMP_IOCTL_NOTIF_ID_VALID: UInt64 = 0x4008_2102, SECCOMP_IOCTL_NOTIF_ID_VALID_WRONG_DIR: UInt64 = 0x8008_2102
    public static let SECCOMP_IOCTL_NOTIF_ADDFD: UInt64 = 0x4018_2103
    /// Sockets answer the terminal numbers: SIOCINQ is FIONREAD, SIOCOUTQ is TIOCOUTQ.
    public static let SIOCINQ = FIONREAD, SIOCOUTQ = TIOCOUTQ
    /// sock_ioctl's owner requests (an int pid, negative for a group) and SIOCATMARK (linux/sockios.h).
    public static let FIOSETOWN: UInt64 = 0x8901, SIOCSPGRP: UInt64 = 0x8902, FIOGETOWN: UInt64 = 0x8903
    public static let SIOCGPGRP: UInt64 = 0x8904, SIOCATMARK: UInt64 = 0x8905
    /// TCP's bytes not yet sent (linux/sockios.h).
    public static let SIOCOUTQNSD: UInt64 = 0x894B

    /// strace's names (for the socket aliases it prints the terminal name, as strace does).
    public static let names: [UInt64: String] = Dictionary(uniqueKeysWithValues: [
        (TCGETS, "TCGETS"), (TCSETS, "TCSETS"), (TCSETSW, "TCSETSW"), (TCSETSF, "TCSETSF"), (TCSBRK, "TCSBRK"),
        (TCXONC, "TCXONC"), (TCFLSH, "TCFLSH"), (TIOCSCTTY, "TIOCSCTTY"), (TIOCGPGRP, "TIOCGPGRP"),
        (TIOCSPGRP, "TIOCSPGRP"), (TIOCOUTQ, "TIOCOUTQ"), (TIOCGWINSZ, "TIOCGWINSZ"), (TIOCSWINSZ, "TIOCSWINSZ"),
        (FIONREAD, "FIONREAD"), (FIONBIO, "FIONBIO"), (TIOCNOTTY, "TIOCNOTTY"), (TIOCGETD, "TIOCGETD"),
        (TIOCGSID, "TIOCGSID"), (FIONCLEX, "FIONCLEX"), (FIOCLEX, "FIOCLEX"), (FIOASYNC, "FIOASYNC"),
        (TIOCGPTN, "TIOCGPTN"), (TIOCSPTLCK, "TIOCSPTLCK"), (TIOCGPTLCK, "TIOCGPTLCK"), (TIOCGPTPEER, "TIOCGPTPEER"),
        (SECCOMP_IOCTL_NOTIF_RECV, "SECCOMP_IOCTL_NOTIF_RECV"), (SECCOMP_IOCTL_NOTIF_SEND, "SECCOMP_IOCTL_NOTIF_SEND"),
        (SECCOMP_IOCTL_NOTIF_ID_VALID, "SECCOMP_IOCTL_NOTIF_ID_VALID"),
        (SECCOMP_IOCTL_NOTIF_ID_VALID_WRONG_DIR, "SECCOMP_IOCTL_NOTIF_ID_VALID_WRONG_DIR"),
        (SECCOMP_IOCTL_NOTIF_ADDFD, "SECCOMP_IOCTL_NOTIF_ADDFD"),
        (FIOSETOWN, "FIOSETOWN"), (SIOCSPGRP, "SIOCSPGRP"), (FIOGETOWN, "FIOGETOWN"), (SIOCGPGRP, "SIOCGPGRP"),
        (SIOCATMARK, "SIOCATMARK"), (SIOCOUTQNSD, "SIOCOUTQNSD"),
    ])
}

/// arch_prctl(2) codes (arch/x86/include/uapi/asm/prctl.h).
public enum ArchPrctl {
    public static let ARCH_SET_GS: UInt64 = 0x1001, ARCH_SET_FS: UInt64 = 0x1002
    public static let ARCH_GET_FS: UInt64 = 0x1003, ARCH_GET_GS: UInt64 = 0x1004
    public static let ARCH_GET_CPUID: UInt64 = 0x1011, ARCH_SET_CPUID: UInt64 = 0x1012
    public static let ARCH_GET_XCOMP_SUPP: UInt64 = 0x1021, ARCH_GET_XCOMP_PERM: UInt64 = 0x1022
    public static let ARCH_REQ_XCOMP_PERM: UInt64 = 0x1023, ARCH_GET_XCOMP_GUEST_PERM: UInt64 = 0x1024
    public static let ARCH_REQ_XCOMP_GUEST_PERM: UInt64 = 0x1025

    public static let names: [UInt64: String] = Dictionary(uniqueKeysWithValues: [
        (ARCH_SET_GS, "ARCH_SET_GS"), (ARCH_SET_FS, "ARCH_SET_FS"), (ARCH_GET_FS, "ARCH_GET_FS"),
        (ARCH_GET_GS, "ARCH_GET_GS"), (ARCH_GET_CPUID, "ARCH_GET_CPUID"), (ARCH_SET_CPUID, "ARCH_SET_CPUID"),
        (ARCH_GET_XCOMP_SUPP, "ARCH_GET_XCOMP_SUPP"), (ARCH_GET_XCOMP_PERM, "ARCH_GET_XCOMP_PERM"),
        (ARCH_REQ_XCOMP_PERM, "ARCH_REQ_XCOMP_PERM"), (ARCH_GET_XCOMP_GUEST_PERM, "ARCH_GET_XCOMP_GUEST_PERM"),
        (ARCH_REQ_XCOMP_GUEST_PERM, "ARCH_REQ_XCOMP_GUEST_PERM"),
    ])
}
