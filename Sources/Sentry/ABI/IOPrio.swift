/// I/O priorities (include/uapi/linux/ioprio.h): a class in bits 13-15 and a
/// level in the low 3 bits (the bits between are 6.1's hints).
public enum IOPrio {
    public static let CLASS_NONE: Int32 = 0, CLASS_RT: Int32 = 1, CLASS_BE: Int32 = 2, CLASS_IDLE: Int32 = 3
    public static let WHO_PROCESS: Int32 = 1, WHO_PGRP: Int32 = 2, WHO_USER: Int32 = 3
    static let classShift: Int32 = 13, levels: Int32 = 8
    /// IOPRIO_DEFAULT: class NONE, level 0.
    public static let none: Int32 = 0

    public static func ioClass(_ p: Int32) -> Int32 { (p >> classShift) & 7 }
    public static func level(_ p: Int32) -> Int32 { p & (levels - 1) }
    public static func value(_ ioClass: Int32, _ level: Int32) -> Int32 { ioClass << classShift | level }
    /// ioprio_valid: a class was chosen.
    public static func isSet(_ p: Int32) -> Bool { ioClass(p) != CLASS_NONE }
}
