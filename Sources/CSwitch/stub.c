// The stub process: the host process whose address space a guest runs in.
//
// It starts as a tiny static ELF the sentry writes into a memfd (the stub
// code and its seccomp program, nothing else), exec'd from a vfork child of
// the calling thread: no copy of the sentry's address space is ever made.
// The stub code unmaps every other page of the process (stack, vDSO),
// enters its seccomp filter and stops with int3. From then on the tracer
// only ever points it at guest code (under PTRACE_SYSEMU) or at the
// `syscall; int3` gadget to inject mmap/munmap/mprotect. The stub code uses
// no stack and no data but its own data page.
#include "CSwitch.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

// Entry: the ELF's entry point, the first byte of the stub's code page.
// Syscall numbers are x86-64's.
// One entry of the area's batch (index %r15, area %rbx): its call made with
// its six arguments, the result stored in its last word and left in %rax.
#define SW_BATCH_ENTRY \
    "  mov %r15, %r14\n" \
    "  shl $6, %r14\n" \
    "  lea 2048(%rbx,%r14), %r14\n" \
    "  mov 8(%r14), %rdi\n" \
    "  mov 16(%r14), %rsi\n" \
    "  mov 24(%r14), %rdx\n" \
    "  mov 32(%r14), %r10\n" \
    "  mov 40(%r14), %r8\n" \
    "  mov 48(%r14), %r9\n" \
    "  mov (%r14), %rax\n" \
    "  syscall\n" \
    "  mov %rax, 56(%r14)\n"

__asm__(
    ".pushsection .text\n"
    ".balign 16\n"                        // 6f's timespec keeps its alignment in the copy
    ".globl sw_stub_start\n"
    ".type sw_stub_start, @function\n"
    "sw_stub_start:\n"
    "  lea sw_stub_start(%rip), %r12\n"   // stub base
    "  lea 8192(%r12), %r13\n"            // stub end
    // munmap(0, base): everything below the stub.
    "  xor %edi, %edi\n"
    "  mov %r12, %rsi\n"
    "  mov $11, %eax\n"
    "  syscall\n"
    // munmap(end, TASK_SIZE - end): everything above, stack and vDSO included.
    "  mov %r13, %rdi\n"
    "  movabs $0x7ffffffff000, %rsi\n"
    "  sub %r13, %rsi\n"
    "  mov $11, %eax\n"
    "  syscall\n"
    // prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    "  mov $38, %edi\n"
    "  mov $1, %esi\n"
    "  xor %edx, %edx\n"
    "  xor %r10d, %r10d\n"
    "  xor %r8d, %r8d\n"
    "  mov $157, %eax\n"
    "  syscall\n"
    // seccomp(SECCOMP_SET_MODE_FILTER, 0, base + data page)
    "  mov $1, %edi\n"
    "  xor %esi, %esi\n"
    "  lea 4096(%r12), %rdx\n"
    "  mov $317, %eax\n"
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jnz 1f\n"
    "  int3\n"                     // ready: the tracer takes over here
    ".globl sw_stub_syscall\n"
    "sw_stub_syscall:\n"
    "3: syscall\n"
    "  int3\n"
    "  jmp 3b\n"                  // local label: the copy must stay position independent
    "1: ud2\n"                     // no filter: never run a guest unfiltered
    // clone(CLONE_VM) for another task in this address space. The parent
    // stops on int3; the child (rax 0) sleeps until its own tracer attaches
    // (a spinning child could hold a CPU for a whole tick), 100 ms at a time
    // (FUTEX_WAIT on a zero word, with a timeout): it has no PDEATHSIG (a
    // sentry thread's exit would fire it) and no tracer yet, so if the
    // sentry (its pid in r9, set by the injector) is no longer its parent,
    // it ends itself with a call the filter refuses, never left holding
    // the guest's memory.
    ".globl sw_stub_clone\n"
    "sw_stub_clone:\n"
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jz 4f\n"
    "  int3\n"
    "4: lea 6f(%rip), %rdi\n"        // the word (timeout.tv_sec, 0)
    "  mov $128, %esi\n"             // FUTEX_WAIT_PRIVATE
    "  xor %edx, %edx\n"
    "  lea 6f(%rip), %r10\n"         // {0, 100 ms}
    "  mov $202, %eax\n"
    "  syscall\n"
    "  mov $110, %eax\n"             // getppid
    "  syscall\n"
    "  cmp %r9, %rax\n"
    "  je 4b\n"
    "  mov $60, %eax\n"              // exit: not allowed, so SIGSYS kills it
    "  syscall\n"
    "  ud2\n"
    "  .balign 16\n"
    "6: .quad 0, 100000000\n"
    // ---- systrap ------------------------------------------------------
    // Each task has a 64 KiB area, 64 KiB aligned, shared with the sentry
    // through the memory file (layout: SW_AREA_* in CSwitch.h); the
    // signal stack is its upper part, so `rsp & -65536` finds the area.
    // The handler (SIGSYS from Syscall User Dispatch, faults, kicks)
    // records the trap, wakes the sentry and waits; the sentry edits the
    // saved ucontext and says RUN; the stub resumes the guest with
    // rt_sigreturn on that ucontext. While waiting it runs the sentry's
    // requests (mmap, munmap, mprotect, clone) from the area.
    ".globl sw_systrap_handler\n"
    "sw_systrap_handler:\n"
    "  mov %rsp, %rbx\n"
    "  and $-65536, %rbx\n"
    // A signal that interrupted the stub's own code came while it ran
    // unmasked: on a patched syscall's path (or parked). See .Lstub_signal.
    "  mov 168(%rdx), %rax\n"         // uc_mcontext.rip
    "  lea sw_stub_start(%rip), %rcx\n"
    "  sub %rcx, %rax\n"
    "  cmp $4096, %rax\n"
    "  jb .Lstub_signal\n"
    // A SIGSYS for rt_sigprocmask while the stub keeps the mask (MASK_ON 2),
    // from a site the sentry will not patch (no `mov $14, %eax|%rax` right
    // before the syscall instruction in its page): the guest resumes at the
    // patched entry, which serves the call as at a patched site, outside
    // this handler, where a fault on a guest pointer can be caught
    // (.Lstub_fault). rcx and r11 are the syscall instruction's to clobber.
    // Not for a guest single-stepping (TF): the stub's code is not its.
    // A SIGSYS for set_robust_list while ROBUST_ON, from any site, goes
    // the same way (it needs no look at the code: it reads no memory).
    "  cmp $31, %edi\n"
    "  jne .Lguest_signal\n"
    "  testl $0x100, 176(%rdx)\n"    // uc eflags: TF
    "  jnz .Lguest_signal\n"
    "  mov 168(%rdx), %rax\n"        // uc rip: past the syscall instruction
    "  cmpq $273, 144(%rdx)\n"       // uc rax: the call's number
    "  jne 38f\n"
    "  cmpl $0, 1744(%rbx)\n"        // ROBUST_ON
    "  jne 37f\n"
    "  jmp .Lguest_signal\n"
    "38: cmpl $2, 1704(%rbx)\n"      // MASK_ON, here too
    "  jne .Lguest_signal\n"
    "  cmpq $14, 144(%rdx)\n"
    "  jne .Lguest_signal\n"
    "  lea -9(%rax), %rcx\n"
    "  xor %rax, %rcx\n"
    "  cmp $4096, %rcx\n"            // the 7 bytes before it in its page?
    "  jae 37f\n"
    "  cmpl $14, -6(%rax)\n"         // an imm32 of 14 right before it,
    "  jne 37f\n"
    "  cmpb $0xb8, -7(%rax)\n"       // b8: mov $14, %eax
    "  je .Lguest_signal\n"
    "  cmpw $0xc748, -9(%rax)\n"     // 48 c7 c0: mov $14, %rax
    "  jne 37f\n"
    "  cmpb $0xc0, -7(%rax)\n"
    "  je .Lguest_signal\n"
    "37: mov %rax, 152(%rdx)\n"      // uc rcx: the return address
    "  mov %rbx, 64(%rdx)\n"         // uc r11: the area
    "  lea sw_systrap_patched(%rip), %rcx\n"
    "  mov %rcx, 168(%rdx)\n"        // uc rip
    "  jmp 32f\n"
    ".Lguest_signal:\n"
    "  movl $0, 216(%rbx)\n"         // a trap of the guest's own instruction: resume with rt_sigreturn
    "  mov %edi, 4(%rbx)\n"           // signal
    "  movslq 8(%rsi), %rax\n"
    "  mov %rax, 8(%rbx)\n"           // si_code
    "  mov 16(%rsi), %rax\n"
    "  mov %rax, 16(%rbx)\n"          // si_addr / si_call_addr
    "  mov %rdx, 24(%rbx)\n"          // the ucontext to resume from
    ".Lreport:\n"
    "  cmpl $0, 264(%rbx)\n"          // the guest's FS and GS bases as they are now
    "  je 10f\n"                      // (its own WRFSBASE/WRGSBASE), where user mode
    "  rdfsbase %rax\n"               // has FSGSBASE
    "  mov %rax, 248(%rbx)\n"
    "  rdgsbase %rax\n"
    "  mov %rax, 256(%rbx)\n"
    "10: cmpq $0, 296(%rbx)\n"        // a trap of exit(2) with a host rseq registration:
    "  je 26f\n"                      // drop it now, so that the sentry need not ask
    "  cmpl $31, 4(%rbx)\n"           // for it in a round trip of its own before the
    "  jne 26f\n"                     // exit wakes a joiner, who may unmap the area.
    "  mov 24(%rbx), %rax\n"          // The thread has not returned to user mode since
    "  cmpl $60, 144(%rax)\n"         // the trap, so nothing is lost; an exit that does
    "  jne 26f\n"                     // not happen (a guest filter or tracer) gets it
    "  mov 296(%rbx), %rdi\n"         // back with its next RUN (SW_AREA_RUN_CALLS).
    "  mov $32, %esi\n"               // uc_mcontext.rax is the call's number.
    "  mov $1, %edx\n"                // RSEQ_FLAG_UNREGISTER
    "  mov 304(%rbx), %r10d\n"
    "  mov $334, %eax\n"
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jnz 26f\n"
    "  movq $0, 296(%rbx)\n"
    "  movl $1, 292(%rbx)\n"
    // A trap of exit(2) or exit_group(2): the stub's usage as its task
    // ends (the stub is one thread: RUSAGE_SELF is the task's faults and
    // switches; read last, after the rseq drop), so that the sentry's
    // exit need not render /proc's files.
    "26: cmpl $31, 4(%rbx)\n"
    "  jne 27f\n"
    "  mov 24(%rbx), %rax\n"
    "  mov 144(%rax), %rax\n"        // uc_mcontext.rax: the call's number
    "  cmp $60, %rax\n"
    "  je 28f\n"
    "  cmp $231, %rax\n"
    "  jne 27f\n"
    "28: xor %edi, %edi\n"           // RUSAGE_SELF
    "  lea 312(%rbx), %rsi\n"
    "  mov $98, %eax\n"              // getrusage
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jnz 27f\n"
    "  movl $1, 308(%rbx)\n"
    "27: mov $2, %eax\n"              // state = TRAP (xchg: a full barrier before
    "  xchg %eax, (%rbx)\n"           // reading whether the sentry sleeps)
    "  cmpl $0, 168(%rbx)\n"
    "  je 11f\n"
    "  mov %rbx, %rdi\n"
    "  mov $1, %esi\n"                // FUTEX_WAKE (shared: the sentry maps the area too)
    "  mov $1, %edx\n"
    "  mov $202, %eax\n"
    "  syscall\n"
    "11: mov $200, %ecx\n"            // spin a little before sleeping: the sentry
    "  mov $2000, %r8d\n"             // usually answers in a microsecond or two. The
    "16: mov (%rbx), %edx\n"          // first 2000 looks without PAUSE (see SystrapArea.wait)
    "  cmp $1, %edx\n"
    "  je 13f\n"                      // RUN
    "  cmp $3, %edx\n"
    "  je 12f\n"                      // REQUEST
    "  cmp $5, %edx\n"
    "  je 17f\n"                      // BATCH
    "  cmp $6, %edx\n"
    "  je .Lfpsave\n"                 // FPSAVE
    // Not while the task sleeps in the sentry (a read with nothing to
    // read): no answer is coming soon, and on few CPUs the spin would keep
    // the task that is to wake it off the CPU.
    "  cmpl $2, 168(%rbx)\n"          // SENTRY_WAITING == SW_SENTRY_BLOCKED
    "  je 19f\n"
    // Nor when held to the sentry thread's CPU: that thread answers only
    // once this one leaves the CPU.
    "  cmpl $0, 268(%rbx)\n"          // SW_AREA_SAME_CPU
    "  jne 19f\n"
    "  dec %r8d\n"
    "  jns 16b\n"
    "  pause\n"
    "  dec %ecx\n"
    "  jnz 16b\n"
    "19: mov $1, %eax\n"              // say we sleep, then FUTEX_WAIT while
    "  xchg %eax, 172(%rbx)\n"        // the state is unchanged
    "  mov %rbx, %rdi\n"
    "  xor %esi, %esi\n"
    "  xor %r10d, %r10d\n"
    "  mov $202, %eax\n"
    "  syscall\n"
    "  movl $0, 172(%rbx)\n"
    "  jmp 11b\n"
    "12: mov 56(%rbx), %rdi\n"        // a request: one syscall with the area's arguments
    "  mov 64(%rbx), %rsi\n"
    "  mov 72(%rbx), %rdx\n"
    "  mov 80(%rbx), %r10\n"
    "  mov 88(%rbx), %r8\n"
    "  mov 96(%rbx), %r9\n"
    "  mov 48(%rbx), %rax\n"
    "  syscall\n"
    "  mov %rsp, %rcx\n"              // a clone child runs on its own area's stack
    "  and $-65536, %rcx\n"
    "  cmp %rbx, %rcx\n"
    "  jne 14f\n"
    "  mov %rax, 104(%rbx)\n"         // result
    "20: mov $4, %eax\n"              // state = DONE
    "  xchg %eax, (%rbx)\n"
    "  cmpl $0, 168(%rbx)\n"
    "  je 11b\n"
    "  mov %rbx, %rdi\n"
    "  mov $1, %esi\n"
    "  mov $1, %edx\n"
    "  mov $202, %eax\n"
    "  syscall\n"
    "  jmp 11b\n"
    // A batch: the area's entries in order, each result in place; it stops
    // at the first error (a result in [-4095, -1]). One hand-off for what
    // would be one request each (a new address space's whole mirror).
    "17: xor %r15d, %r15d\n"
    "18: cmp 184(%rbx), %r15d\n"
    "  jae 20b\n"
    SW_BATCH_ENTRY
    "  inc %r15d\n"
    "  cmp $-4095, %rax\n"
    "  jae 20b\n"
    "  jmp 18b\n"
    // A patched trap's FPU state for the sentry (signal frames, checkpoints):
    // the guest's, still in the registers; the sentry fills fx_sw_bytes.
    ".Lfpsave:\n"
    "  mov $-1, %eax\n"
    "  mov $-1, %edx\n"
    "  xsave64 4096(%rbx)\n"
    "  movl $1, 224(%rbx)\n"
    "  jmp 20b\n"
    // From here to .Lpatch_jump is the resume: a kick that interrupts it on
    // the patched path restarts it here (it only reads the area), so the
    // kick is seen before the guest runs (see .Lstub_signal).
    ".Lrun:\n"
    "13: movl $1, 192(%rbx)\n"        // RUN: say so (the sentry's spin waits for it),
    "  movl $0, 308(%rbx)\n"         // (an exit trap's usage is stale from here)
    "  cmpq $0, 40(%rbx)\n"           // then a new FS base first, if asked
    "  je 15f\n"
    "  mov $0x1002, %edi\n"           // arch_prctl(ARCH_SET_FS, fs_base)
    "  mov 32(%rbx), %rsi\n"
    "  mov $158, %eax\n"
    "  syscall\n"
    "  movq $0, 40(%rbx)\n"           // after the call: a restart sets it again
    "15: cmpq $0, 240(%rbx)\n"        // and a new GS base
    "  je 22f\n"
    "  mov $0x1001, %edi\n"           // arch_prctl(ARCH_SET_GS, gs_base)
    "  mov 232(%rbx), %rsi\n"
    "  mov $158, %eax\n"
    "  syscall\n"
    "  movq $0, 240(%rbx)\n"
    "22: cmpl $0, 288(%rbx)\n"        // the calls asked with the RUN (their code is
    "  jne .Lrun_calls\n"             // outside this range, which a kick restarts)
    ".Lrun_go:\n"
    "  cmpl $0, 216(%rbx)\n"
    "  jne .Lpatched_resume\n"
    "  cmpl $0, 220(%rbx)\n"         // a kick on a patched trap the sentry turned into
    "  jne .Lpatched_kicked\n"       // a frame to rt_sigreturn through (GS not the area)
    "  mov 24(%rbx), %rsp\n"          // rt_sigreturn reads the frame at rsp - 8
    "  mov $15, %eax\n"
    "  syscall\n"
    "  ud2\n"
    // Back to a patched site: its kick first, then the FPU image if the
    // sentry took it, then every register from PFRAME; rflags, rsp and rip
    // come from the area, never from the guest's stack.
    ".Lpatched_resume:\n"
    "  cmpl $0, 220(%rbx)\n"
    "  jne .Lpatched_kicked\n"
    "  cmpl $0, 224(%rbx)\n"
    "  je 31f\n"
    "  mov $-1, %eax\n"
    "  mov $-1, %edx\n"
    "  xrstor64 4096(%rbx)\n"
    "  movl $0, 224(%rbx)\n"
    "31: mov 1512(%rbx), %rax\n"      // an iretq-shaped frame: rip, cs, rflags, rsp, ss
    "  cmp 272(%rbx), %rax\n"        // a `syscall; <insn>` site's rip (in its patch's bytes):
    "  jne 33f\n"                    // back through its trampoline's replay of <insn>
    "  mov 280(%rbx), %rax\n"
    "33: movq $0, 272(%rbx)\n"
    "  mov %rax, 1664(%rbx)\n"
    "  movq $0x33, 1672(%rbx)\n"      // __USER_CS
    "  mov 1520(%rbx), %rax\n"
    "  mov %rax, 1680(%rbx)\n"
    "  mov 1504(%rbx), %rax\n"
    "  mov %rax, 1688(%rbx)\n"
    "  movq $0x2b, 1696(%rbx)\n"      // __USER_DS
    "  lea 1664(%rbx), %rsp\n"
    "  mov 1384(%rbx), %r8\n"         // sigcontext at PFRAME + 40
    "  mov 1392(%rbx), %r9\n"
    "  mov 1400(%rbx), %r10\n"
    "  mov 1408(%rbx), %r11\n"
    "  mov 1416(%rbx), %r12\n"
    "  mov 1424(%rbx), %r13\n"
    "  mov 1432(%rbx), %r14\n"
    "  mov 1440(%rbx), %r15\n"
    "  mov 1448(%rbx), %rdi\n"
    "  mov 1456(%rbx), %rsi\n"
    "  mov 1464(%rbx), %rbp\n"
    "  mov 1480(%rbx), %rdx\n"
    "  mov 1488(%rbx), %rax\n"
    "  mov 1496(%rbx), %rcx\n"
    "  mov 1472(%rbx), %rbx\n"
    // Not iretq: QEMU's TCG reads a user-mode iretq's frame as a supervisor
    // access, which SMAP refuses (the stub died in the patched kernel's VM).
    // rflags by popfq from the frame, then rsp, then a jump through the
    // area (the stub's GS base); none of these three touch the flags.
    ".Lpatch_iret:\n"
    "  add $16, %rsp\n"              // past rip and cs, to rflags
    "  popfq\n"
    "  mov (%rsp), %rsp\n"           // the guest's rsp
    ".Lpatch_jump:\n"
    "  jmp *%gs:1664\n"              // the guest's rip
    ".Lpatched_kicked:\n"             // report the kick with the frame as the sentry left it
    "  movl $0, 220(%rbx)\n"
    "  movl $28, 4(%rbx)\n"           // SIGWINCH, si_code 0: an interruption
    "  movq $0, 8(%rbx)\n"
    "  jmp .Lreport\n"
    // The calls a RUN carries (RUN_CALLS entries of the batch, taken once;
    // outside the range a kick restarts from .Lrun, so none runs twice),
    // as a batch runs them; one that fails sends the stub back to the
    // sentry before any guest code, as an interruption.
    ".Lrun_calls:\n"
    "  mov 288(%rbx), %r13d\n"
    "  movl $0, 288(%rbx)\n"
    "  xor %r15d, %r15d\n"
    "24:\n"
    SW_BATCH_ENTRY
    "  cmp $-4095, %rax\n"
    "  jae 25f\n"
    "  inc %r15d\n"
    "  cmp %r13d, %r15d\n"
    "  jb 24b\n"
    "  jmp .Lrun_go\n"
    "25: movl $28, 4(%rbx)\n"         // SIGWINCH, si_code 0
    "  movq $0, 8(%rbx)\n"
    "  jmp .Lreport\n"
    // A signal that interrupted stub code, which runs unmasked only on a
    // patched syscall's path or parked. A kick: the task is in the sentry
    // or about to leave it; remember it (KICKED) for the resume, and if
    // the resume had begun, start it again so that it sees KICKED. Any
    // other signal (a fault in stub code) is reported as the guest's.
    ".Lstub_signal:\n"
    "  cmp $28, %edi\n"
    "  jne .Lstub_fault\n"
    // In the tail of a call the stub served itself, from its look at
    // KICKED on: the call is done; the frame becomes the guest's at its
    // return address (rax the result), and the kick is reported from there
    // as in guest code.
    "  mov 168(%rdx), %rax\n"         // uc rip
    "  lea .Lfast_done(%rip), %rcx\n"
    "  cmp %rcx, %rax\n"
    "  jb 34f\n"
    "  lea .Lfast_tail_jump(%rip), %rcx\n"
    "  cmp %rcx, %rax\n"
    "  ja 34f\n"
    "  mov 464(%rbx), %rax\n"
    "  mov %rax, 168(%rdx)\n"        // uc rip
    "  mov %rax, 152(%rdx)\n"        // uc rcx
    "  mov 472(%rbx), %rax\n"
    "  mov %rax, 160(%rdx)\n"        // uc rsp
    "  mov 480(%rbx), %rax\n"
    "  mov %rax, 64(%rdx)\n"         // uc r11
    "  mov %rax, 176(%rdx)\n"        // uc eflags
    "  jmp .Lguest_signal\n"
    "34: movl $1, 220(%rbx)\n"
    "  mov 168(%rdx), %rax\n"
    "  lea .Lrun(%rip), %rcx\n"
    "  cmp %rcx, %rax\n"
    "  jb 32f\n"
    "  lea .Lpatch_jump(%rip), %rcx\n"
    "  cmp %rcx, %rax\n"
    "  ja 32f\n"
    "  lea .Lrun(%rip), %rcx\n"
    "  mov %rcx, 168(%rdx)\n"         // uc rip
    "  mov %rbx, 128(%rdx)\n"         // uc rbx: the area
    "32: mov %rdx, %rsp\n"
    "  mov $15, %eax\n"
    "  syscall\n"
    "  ud2\n"
    // A fault in the stub's own access to guest memory for a call it
    // serves (a page the sentry has not mirrored, or mirrored read-only for
    // copy-on-write; a bad pointer): nothing is changed yet, so the call
    // goes the sentry's way, which copies or says EFAULT as Linux does.
    // Any other fault in stub code is reported as the guest's.
    ".Lstub_fault:\n"
    "  mov 168(%rdx), %rax\n"         // uc rip
    "  lea .Lmask_mem(%rip), %rcx\n"
    "  cmp %rcx, %rax\n"
    "  jb .Lguest_signal\n"
    "  lea .Lmask_mem_end(%rip), %rcx\n"
    "  cmp %rcx, %rax\n"
    "  jae .Lguest_signal\n"
    "  lea .Lmask_redo(%rip), %rcx\n"
    "  mov %rcx, 168(%rdx)\n"
    "  jmp 32b\n"
    // The target of every patched site's trampoline (jmp *slot): r11 the
    // area, rax the number, rcx the return address (the original syscall's
    // + 2), the guest's stack untouched. The registers go into PFRAME as
    // the SIGSYS trap's ucontext would hold them (rcx and r11 as the
    // syscall instruction leaves them), and the trap is reported as one.
    // The target of a `syscall; <insn>` site's trampoline: rcx its replay
    // of <insn> (where the return goes, AFTER_RESUME), whose entry keeps
    // the rip the guest sees (the original syscall's + 2) 26 bytes on
    // (SyscallSite.afterLiteralOffset); then as any patched site, with rcx
    // that rip. No flags touched before the pushfq.
    ".globl sw_systrap_patched_after\n"
    "sw_systrap_patched_after:\n"
    "  mov %rcx, 280(%r11)\n"
    "  mov 26(%rcx), %rcx\n"
    "  mov %rcx, 272(%r11)\n"
    "  jmp .Lpatched_slow\n"
    // A clock read the stub makes itself (SW_AREA_FAST_CLOCKS): a patched
    // clock_gettime of a clock the sentry only passes through from the host
    // is the host's call, made here, with no hand-off. Its own stack in the
    // area for the guest's flags; rcx, r11 and rsp kept in the area. A
    // result of EFAULT goes the sentry's way (a page it has not mirrored,
    // or mirrored read-only for copy-on-write), and so does a kick seen
    // after the call; one that lands after that look is turned into a kick
    // at the guest's return address by the handler (.Lstub_signal).
    ".globl sw_systrap_patched\n"
    "sw_systrap_patched:\n"
    "  mov %rsp, 472(%r11)\n"        // FAST_RSP
    "  lea 488(%r11), %rsp\n"
    "  pushfq\n"                     // FAST_FLAGS (480)
    "  cmp $228, %rax\n"
    "  jne .Lmask_try\n"
    "  cmp $11, %rdi\n"              // unsigned: a CPU clock's negative id is large
    "  ja .Lfast_out\n"
    "  bt %rdi, 456(%r11)\n"         // FAST_CLOCKS: this clock, and the stub may
    "  jnc .Lfast_out\n"
    "  mov %rcx, 464(%r11)\n"        // FAST_RIP
    "  syscall\n"
    "  mov %rsp, %r11\n"
    "  and $-65536, %r11\n"
    "  cmp $-14, %rax\n"             // -EFAULT
    "  je .Lfast_redo\n"
    // A call served: rax its result, r11 the area, rsp at FAST_FLAGS, every
    // other register the guest's. From here a kick is the guest's at its
    // return address (.Lstub_signal); one that came before is reported so.
    ".Lfast_done:\n"
    "  cmpl $0, 220(%r11)\n"         // KICKED
    "  jne .Lfast_report\n"
    "  mov 464(%r11), %rcx\n"
    "  popfq\n"
    "  mov 472(%r11), %rsp\n"
    "  mov 480(%r11), %r11\n"        // as the syscall instruction leaves r11: rflags
    ".Lfast_tail_jump:\n"
    "  jmp *%rcx\n"
    ".Lfast_report:\n"               // done, and the sentry has something for the guest:
    "  movl $0, 220(%r11)\n"         // reported as an interruption at the return address
    "  movl $1, 1708(%r11)\n"        // FAST_REPORT
    "  mov 464(%r11), %rcx\n"
    "  jmp .Lfast_out\n"
    ".Lfast_redo:\n"                 // the call again, through the sentry
    "  mov $228, %eax\n"
    "  mov 464(%r11), %rcx\n"
    ".Lfast_out:\n"
    "  popfq\n"
    "  mov 472(%r11), %rsp\n"
    "  jmp .Lpatched_slow\n"
    // rt_sigprocmask(how, set, oldset, 8) served here while the task's mask
    // is the stub's (MASK_ON; Kernel/GuestSideSignalMask.swift): old and new
    // masks computed as Linux does, oldset written before the new mask is
    // committed, so that a fault (.Lstub_fault) leaves nothing done and the
    // sentry makes the call. After the commit (a full barrier), a pending
    // signal the new mask lets through is reported at the return address,
    // where the sentry delivers it, as Linux does on the call's way out;
    // the sentry writes PENDING before it reads the mask to pick whom to
    // kick, so one side or the other sees each signal. Anything else (a
    // bad `how` or size: the errors are the sentry's) goes the sentry's way.
    ".Lmask_try:\n"
    "  cmp $14, %rax\n"
    "  jne .Lrobust_try\n"
    "  cmpl $0, 1704(%r11)\n"        // MASK_ON
    "  je .Lfast_out\n"
    "  cmp $8, %r10\n"
    "  jne .Lfast_out\n"
    "  cmp $2, %rdi\n"
    "  ja .Lfast_out\n"
    "  mov %rcx, 464(%r11)\n"        // FAST_RIP
    "  mov %rdx, 1728(%r11)\n"       // FAST_SAVE
    "  mov %r8, 1736(%r11)\n"
    "  mov 1712(%r11), %rax\n"       // SIGMASK: the old mask
    "  mov %rax, %r8\n"              // r8: the new one
    ".Lmask_mem:\n"                  // a fault from here to .Lmask_mem_end: .Lmask_redo
    "  test %rsi, %rsi\n"
    "  jz 41f\n"
    "  mov (%rsi), %rcx\n"
    "  cmp $1, %rdi\n"
    "  jb 42f\n"
    "  je 43f\n"
    "  mov %rcx, %r8\n"              // SIG_SETMASK
    "  jmp 44f\n"
    "42: or %rcx, %r8\n"             // SIG_BLOCK
    "  jmp 44f\n"
    "43: not %rcx\n"                 // SIG_UNBLOCK
    "  and %rcx, %r8\n"
    "44: movabs $0xfffffffffffbfeff, %rcx\n" // never SIGKILL (bit 8) nor SIGSTOP (bit 18)
    "  and %rcx, %r8\n"
    "41: test %rdx, %rdx\n"
    "  jz 45f\n"
    "  mov %rax, (%rdx)\n"           // oldset
    ".Lmask_mem_end:\n"
    "45: mov %r8, %rcx\n"
    "  xchg %rcx, 1712(%r11)\n"      // commit: SIGMASK, a full barrier
    "  mov 1720(%r11), %rax\n"       // SIGPENDING
    "  not %r8\n"
    "  and %r8, %rax\n"              // pending and now let through
    "  mov 1736(%r11), %r8\n"        // the guest's r8 and rdx back
    "  mov 1728(%r11), %rdx\n"
    "  jnz 46f\n"
    "  xor %eax, %eax\n"
    "  jmp .Lfast_done\n"
    "46: xor %eax, %eax\n"            // done, with a signal to deliver
    "  jmp .Lfast_report\n"
    // set_robust_list(head, 24) while ROBUST_ON (Kernel/GuestSideRobustList.swift):
    // the head goes into the area (HEAD, then SET: the sentry reads SET
    // first), the task's from the run's end on. Linux reads no memory
    // here either (only at the thread's exit). Another size: the sentry's EINVAL.
    ".Lrobust_try:\n"
    "  cmp $273, %rax\n"
    "  jne .Lfast_out\n"
    "  cmpl $0, 1744(%r11)\n"        // ROBUST_ON
    "  je .Lfast_out\n"
    "  cmp $24, %rsi\n"
    "  jne .Lfast_out\n"
    "  mov %rcx, 464(%r11)\n"        // FAST_RIP
    "  mov %rdi, 1752(%r11)\n"       // ROBUST_HEAD
    "  movl $1, 1748(%r11)\n"        // ROBUST_SET
    "  xor %eax, %eax\n"
    "  jmp .Lfast_done\n"
    ".Lmask_redo:\n"                 // nothing done: the call goes the sentry's way
    "  mov 1736(%r11), %r8\n"
    "  mov 1728(%r11), %rdx\n"
    "  mov 464(%r11), %rcx\n"
    "  mov $14, %eax\n"
    "  jmp .Lfast_out\n"
    ".Lpatched_slow:\n"
    "  mov %rsp, 1504(%r11)\n"
    "  lea 1344(%r11), %rsp\n"        // a scratch word below PFRAME
    "  pushfq\n"
    "  mov %r8, 1384(%r11)\n"
    "  mov %r9, 1392(%r11)\n"
    "  mov %r10, 1400(%r11)\n"
    "  mov %r12, 1416(%r11)\n"
    "  mov %r13, 1424(%r11)\n"
    "  mov %r14, 1432(%r11)\n"
    "  mov %r15, 1440(%r11)\n"
    "  mov %rdi, 1448(%r11)\n"
    "  mov %rsi, 1456(%r11)\n"
    "  mov %rbp, 1464(%r11)\n"
    "  mov %rbx, 1472(%r11)\n"
    "  mov %rdx, 1480(%r11)\n"
    "  mov %rax, 1488(%r11)\n"
    "  mov %rcx, 1496(%r11)\n"
    "  mov %rcx, 1512(%r11)\n"        // rip
    "  pop %rax\n"
    "  mov %rax, 1520(%r11)\n"        // eflags
    "  mov %rax, 1408(%r11)\n"        // r11
    "  mov %r11, %rbx\n"
    "  movl $1, 216(%rbx)\n"
    "  cmpl $0, 1708(%rbx)\n"        // FAST_REPORT: not a trap
    "  jne 35f\n"
    "  movl $31, 4(%rbx)\n"           // SIGSYS, SYS_USER_DISPATCH
    "  movq $2, 8(%rbx)\n"
    "  jmp 36f\n"
    "35: movl $0, 1708(%rbx)\n"
    "  movl $28, 4(%rbx)\n"           // SIGWINCH, si_code 0: an interruption
    "  movq $0, 8(%rbx)\n"
    "36: mov %rcx, 16(%rbx)\n"
    "  lea 1344(%rbx), %rax\n"
    "  mov %rax, 24(%rbx)\n"
    "  jmp .Lreport\n"
    // Set-up of a systrap stub, on its area's stack: the first stub of an
    // address space starts here when the sentry lets it go; a sibling
    // (clone child) comes here from the request above. Its own signal
    // stack; the trap handler (sigaction prepared in the area) for SIGSYS,
    // the faults and the kick (SIGWINCH); death with its parent; Syscall
    // User Dispatch (not inherited by clone; with a zero length, for the
    // seccomp variant, the prctl fails harmlessly).
    ".globl sw_systrap_init\n"
    "sw_systrap_init:\n"
    "14: mov %rsp, %rbx\n"
    "  and $-65536, %rbx\n"
    "  lea 128(%rbx), %rdi\n"         // sigaltstack(&area.stack, NULL)
    "  xor %esi, %esi\n"
    "  mov $131, %eax\n"
    "  syscall\n"
    "  mov $31, %edi\n"
    "  lea 512(%rbx), %rsi\n"
    "  xor %edx, %edx\n"
    "  mov $8, %r10d\n"
    "  mov $13, %eax\n"
    "  syscall\n"
    "  mov $11, %edi\n"
    "  lea 512(%rbx), %rsi\n"
    "  xor %edx, %edx\n"
    "  mov $8, %r10d\n"
    "  mov $13, %eax\n"
    "  syscall\n"
    "  mov $7, %edi\n"
    "  lea 512(%rbx), %rsi\n"
    "  xor %edx, %edx\n"
    "  mov $8, %r10d\n"
    "  mov $13, %eax\n"
    "  syscall\n"
    "  mov $8, %edi\n"
    "  lea 512(%rbx), %rsi\n"
    "  xor %edx, %edx\n"
    "  mov $8, %r10d\n"
    "  mov $13, %eax\n"
    "  syscall\n"
    "  mov $4, %edi\n"
    "  lea 512(%rbx), %rsi\n"
    "  xor %edx, %edx\n"
    "  mov $8, %r10d\n"
    "  mov $13, %eax\n"
    "  syscall\n"
    "  mov $5, %edi\n"
    "  lea 512(%rbx), %rsi\n"
    "  xor %edx, %edx\n"
    "  mov $8, %r10d\n"
    "  mov $13, %eax\n"
    "  syscall\n"
    "  mov $28, %edi\n"
    "  lea 512(%rbx), %rsi\n"
    "  xor %edx, %edx\n"
    "  mov $8, %r10d\n"
    "  mov $13, %eax\n"
    "  syscall\n"
    "  mov $0x1001, %edi\n"           // arch_prctl(ARCH_SET_GS, area): patched sites find it
    "  mov %rbx, %rsi\n"
    "  mov $158, %eax\n"
    "  syscall\n"
    "  mov $1, %edi\n"                // prctl(PR_SET_PDEATHSIG, SIGKILL)
    "  mov $9, %esi\n"
    "  mov $157, %eax\n"
    "  syscall\n"
    "  mov $59, %edi\n"               // prctl(PR_SET_SYSCALL_USER_DISPATCH, ON, code, len, selector)
    "  mov $1, %esi\n"
    "  mov 152(%rbx), %rdx\n"
    "  mov 160(%rbx), %r10\n"
    "  lea 112(%rbx), %r8\n"
    "  mov $157, %eax\n"
    "  syscall\n"
    "  mov %eax, 176(%rbx)\n"         // its result, for the sentry to check
    // Parked: report "ready" (signal 0) and wait for the first RUN.
    ".globl sw_systrap_park\n"
    "sw_systrap_park:\n"
    "  mov %rsp, %rbx\n"
    "  and $-65536, %rbx\n"
    "  movl $0, 4(%rbx)\n"
    "  jmp 10b\n"
    ".globl sw_stub_end\n"
    "sw_stub_end:\n"
    ".popsection\n");

extern const uint8_t sw_stub_start[], sw_stub_syscall[], sw_stub_clone[], sw_stub_end[];
extern const uint8_t sw_systrap_handler[], sw_systrap_park[], sw_systrap_init[], sw_systrap_patched[],
    sw_systrap_patched_after[];

size_t sw_systrap_patched_offset(void) { return (size_t)(sw_systrap_patched - sw_stub_start); }
size_t sw_systrap_patched_after_offset(void) { return (size_t)(sw_systrap_patched_after - sw_stub_start); }

size_t sw_systrap_init_offset(void) { return (size_t)(sw_systrap_init - sw_stub_start); }

size_t sw_systrap_handler_offset(void) { return (size_t)(sw_systrap_handler - sw_stub_start); }
size_t sw_systrap_park_offset(void) { return (size_t)(sw_systrap_park - sw_stub_start); }

const uint8_t *sw_stub_code(size_t *len, size_t *gadget, size_t *clone_gadget) {
    *len = (size_t)(sw_stub_end - sw_stub_start);
    *gadget = (size_t)(sw_stub_syscall - sw_stub_start);
    *clone_gadget = (size_t)(sw_stub_clone - sw_stub_start);
    return sw_stub_start;
}

static long raw(long nr, long a, long b, long c, long d, long e, long f) {
    return syscall(nr, a, b, c, d, e, f);
}

struct spawn_args { int memfd, elffd; pid_t parent; };

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SW_TSAN 1
#endif
#endif
#ifdef SW_TSAN
#include <dlfcn.h>
// ThreadSanitizer (scripts/tsan) intercepts clone() and books a CLONE_VM
// child as a fork of this thread, which breaks its state for the parent.
// The child only makes raw syscalls until its execveat: call libc's clone
// around the interceptor, and leave the child uninstrumented.
typedef int (*clone_fn)(int (*)(void *), void *, int, void *, ...);
#define SW_CLONE ((clone_fn)dlsym(RTLD_NEXT, "clone"))
#define SW_UNINSTRUMENTED __attribute__((no_sanitize("thread")))

// Swift's Mutex on Linux takes its fast path with atomics ThreadSanitizer
// sees, but under contention it locks and unlocks in the kernel
// (FUTEX_LOCK_PI) from libswiftSynchronization, which isn't instrumented:
// every section guarded by a contended Mutex would then look like a race.
// These wrap the two slow paths, telling TSan what they do, on the same
// address as the fast path's atomics (the handle, passed in r13 as swift_context).
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define SW_LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define SW_UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"
typedef void (*sw_lock_slow_fn)(uint32_t, void *__attribute__((swift_context))) __attribute__((swiftcall));
typedef void (*sw_unlock_slow_fn)(void *__attribute__((swift_context))) __attribute__((swiftcall));

__attribute__((swiftcall)) void sw_tsan_lock_slow(uint32_t v, void *__attribute__((swift_context)) handle) __asm__(SW_LOCK_SLOW);
SW_UNINSTRUMENTED __attribute__((swiftcall)) void sw_tsan_lock_slow(uint32_t v, void *__attribute__((swift_context)) handle) {
    static sw_lock_slow_fn real;
    if (!real) real = (sw_lock_slow_fn)dlsym(RTLD_NEXT, SW_LOCK_SLOW);
    real(v, handle);
    __tsan_acquire(handle);
}

__attribute__((swiftcall)) void sw_tsan_unlock_slow(void *__attribute__((swift_context)) handle) __asm__(SW_UNLOCK_SLOW);
SW_UNINSTRUMENTED __attribute__((swiftcall)) void sw_tsan_unlock_slow(void *__attribute__((swift_context)) handle) {
    static sw_unlock_slow_fn real;
    if (!real) real = (sw_unlock_slow_fn)dlsym(RTLD_NEXT, SW_UNLOCK_SLOW);
    __tsan_release(handle);
    real(handle);
}
#else
#define SW_CLONE clone
#define SW_UNINSTRUMENTED
#endif

// The vfork child: it shares the sentry's memory until its execveat, so it
// makes raw syscalls only and touches nothing but its own stack.
SW_UNINSTRUMENTED static int spawn_child(void *p) {
    const struct spawn_args *a = p;
    raw(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0, 0);
    // The sentry may have exited before that: then this child now belongs to
    // a reaper, and PTRACE_TRACEME would leave it stopped forever under a
    // tracer that never looks at it.
    if (raw(SYS_getppid, 0, 0, 0, 0, 0, 0) != a->parent) raw(SYS_exit_group, 122, 0, 0, 0, 0, 0);
    // Own process group: terminal signals reach the sentry, which forwards them.
    raw(SYS_setpgid, 0, 0, 0, 0, 0, 0);
    long empty = 0;
    raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&empty, 0, 8, 0, 0);
    // Keep only the memory file (across exec) and the image to exec.
    raw(SYS_fcntl, a->memfd, F_SETFD, 0, 0, 0, 0);
    int lo = a->memfd < a->elffd ? a->memfd : a->elffd, hi = a->memfd ^ a->elffd ^ lo;
    if (lo > 0) raw(SYS_close_range, 0, lo - 1, 0, 0, 0, 0);
    if (hi > lo + 1) raw(SYS_close_range, lo + 1, hi - 1, 0, 0, 0, 0);
    raw(SYS_close_range, hi + 1, ~0U, 0, 0, 0, 0);
    if (raw(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0, 0, 0) < 0) raw(SYS_exit_group, 120, 0, 0, 0, 0, 0);
    char *argv[] = { "sentry-stub", NULL }, *envp[] = { NULL };
    raw(SYS_execveat, a->elffd, (long)"", (long)argv, (long)envp, AT_EMPTY_PATH, 0);
    raw(SYS_exit_group, 121, 0, 0, 0, 0, 0);
    return 0;
}

pid_t sw_stub_spawn(int memfd, int elffd) {
    char stack[16384] __attribute__((aligned(16)));
    struct spawn_args a = { memfd, elffd, getpid() };
    pid_t pid = SW_CLONE(spawn_child, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
    return pid < 0 ? -errno : pid;
}
