/// include/uapi/linux/ptrace.h and the x86-64 regset notes: the numbers a
/// guest tracer passes to ptrace(2) and finds in wait's status words.
public enum PtraceABI {
    // Requests.
    public static let PTRACE_TRACEME: Int64 = 0, PTRACE_PEEKTEXT: Int64 = 1, PTRACE_PEEKDATA: Int64 = 2
    public static let PTRACE_PEEKUSR: Int64 = 3, PTRACE_POKETEXT: Int64 = 4, PTRACE_POKEDATA: Int64 = 5
    public static let PTRACE_POKEUSR: Int64 = 6, PTRACE_CONT: Int64 = 7, PTRACE_KILL: Int64 = 8
    public static let PTRACE_SINGLESTEP: Int64 = 9, PTRACE_GETREGS: Int64 = 12, PTRACE_SETREGS: Int64 = 13
    public static let PTRACE_GETFPREGS: Int64 = 14, PTRACE_SETFPREGS: Int64 = 15, PTRACE_ATTACH: Int64 = 16
    public static let PTRACE_DETACH: Int64 = 17, PTRACE_SYSCALL: Int64 = 24, PTRACE_SYSEMU: Int64 = 31
    public static let PTRACE_SYSEMU_SINGLESTEP: Int64 = 32
    public static let PTRACE_SETOPTIONS: Int64 = 0x4200, PTRACE_GETEVENTMSG: Int64 = 0x4201
    public static let PTRACE_GETSIGINFO: Int64 = 0x4202, PTRACE_SETSIGINFO: Int64 = 0x4203
    public static let PTRACE_GETREGSET: Int64 = 0x4204, PTRACE_SETREGSET: Int64 = 0x4205
    public static let PTRACE_SEIZE: Int64 = 0x4206, PTRACE_INTERRUPT: Int64 = 0x4207, PTRACE_LISTEN: Int64 = 0x4208
    public static let PTRACE_PEEKSIGINFO: Int64 = 0x4209, PTRACE_GETSIGMASK: Int64 = 0x420a, PTRACE_SETSIGMASK: Int64 = 0x420b
    public static let PTRACE_GET_SYSCALL_INFO: Int64 = 0x420e
    /// 6.4's checkpoint support for Syscall User Dispatch (the seeds' v15 series).
    public static let PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG: Int64 = 0x4210
    public static let PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG: Int64 = 0x4211

    // Options (PTRACE_SETOPTIONS, PTRACE_SEIZE's data).
    public static let PTRACE_O_TRACESYSGOOD: UInt32 = 1, PTRACE_O_TRACEFORK: UInt32 = 1 << 1
    public static let PTRACE_O_TRACEVFORK: UInt32 = 1 << 2, PTRACE_O_TRACECLONE: UInt32 = 1 << 3
    public static let PTRACE_O_TRACEEXEC: UInt32 = 1 << 4, PTRACE_O_TRACEVFORKDONE: UInt32 = 1 << 5
    public static let PTRACE_O_TRACEEXIT: UInt32 = 1 << 6, PTRACE_O_TRACESECCOMP: UInt32 = 1 << 7
    public static let PTRACE_O_EXITKILL: UInt32 = 1 << 20, PTRACE_O_SUSPEND_SECCOMP: UInt32 = 1 << 21
    public static let PTRACE_O_MASK: UInt32 = 0x0000_00ff | PTRACE_O_EXITKILL | PTRACE_O_SUSPEND_SECCOMP

    // Events: status >> 16, and the option that enables each is 1 << event.
    public static let PTRACE_EVENT_FORK: Int32 = 1, PTRACE_EVENT_VFORK: Int32 = 2, PTRACE_EVENT_CLONE: Int32 = 3
    public static let PTRACE_EVENT_EXEC: Int32 = 4, PTRACE_EVENT_VFORK_DONE: Int32 = 5, PTRACE_EVENT_EXIT: Int32 = 6
    public static let PTRACE_EVENT_SECCOMP: Int32 = 7, PTRACE_EVENT_STOP: Int32 = 128

    /// ptrace_message at syscall stops (PTRACE_EVENTMSG_SYSCALL_*).
    public static let PTRACE_EVENTMSG_SYSCALL_ENTRY: UInt64 = 1, PTRACE_EVENTMSG_SYSCALL_EXIT: UInt64 = 2

    /// struct ptrace_syscall_info's op.
    public static let PTRACE_SYSCALL_INFO_NONE: UInt8 = 0, PTRACE_SYSCALL_INFO_ENTRY: UInt8 = 1
    public static let PTRACE_SYSCALL_INFO_EXIT: UInt8 = 2, PTRACE_SYSCALL_INFO_SECCOMP: UInt8 = 3

    /// struct ptrace_peeksiginfo_args' one flag.
    public static let PTRACE_PEEKSIGINFO_SHARED: UInt32 = 1

    /// ELF note types of GETREGSET/SETREGSET.
    public static let NT_PRSTATUS: UInt64 = 1, NT_PRFPREG: UInt64 = 2, NT_X86_XSTATE: UInt64 = 0x202

    /// sizeof(struct user_regs_struct), and where struct user keeps the debug
    /// registers (offsetof(struct user, u_debugreg)) and ends.
    public static let userRegsSize = 27 * 8
    public static let userDebugRegs = 848
    public static let userSize = 928

    /// arch/x86/kernel/ptrace.c FLAG_MASK (64-bit): the rflags bits a tracer may set.
    public static let flagMask: UInt64 = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x4000 | 0x1_0000 | 0x4_0000
    /// TASK_SIZE_MAX: fs_base and gs_base must be below it.
    public static let taskSizeMax: UInt64 = (1 << 47) - 4096
    /// The trap a syscall stop reports with PTRACE_O_TRACESYSGOOD.
    public static let sysgoodBit: Int32 = 0x80
    /// X86_EFLAGS_TF: the trap flag single-stepping sets.
    public static let trapFlag: UInt64 = 0x100
    /// si_code of the SIGTRAP after a stepped syscall (user_single_step_report).
    public static let TRAP_BRKPT: Int32 = 1
}
