// The benchmark's baseline: the least a PTRACE_SYSEMU tracer can do.
// getppid is answered by the tracer (the guest's syscall never runs); every
// other syscall is passed through to the host by re-issuing it under
// PTRACE_SYSCALL. Usage: sysemu-tracer PROGRAM [ARGS...]
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s PROGRAM [ARGS...]\n", argv[0]); return 64; }
    pid_t pid = fork();
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        execv(argv[1], argv + 1);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD);
    ptrace(PTRACE_SYSCALL, pid, 0, 0);   // let execve itself run
    for (int i = 0; i < 2; i++) { waitpid(pid, &status, 0); ptrace(PTRACE_SYSCALL, pid, 0, 0); }
    waitpid(pid, &status, 0);
    ptrace(PTRACE_SYSEMU, pid, 0, 0);
    for (;;) {
        if (waitpid(pid, &status, 0) < 0 || WIFEXITED(status) || WIFSIGNALED(status)) break;
        int sig = WSTOPSIG(status);
        if (sig != (SIGTRAP | 0x80)) { ptrace(PTRACE_SYSEMU, pid, 0, sig == SIGTRAP ? 0 : sig); continue; }
        struct user_regs_struct r;
        ptrace(PTRACE_GETREGS, pid, 0, &r);
        if (r.orig_rax == SYS_getppid) {
            r.rax = 1;
            ptrace(PTRACE_SETREGS, pid, 0, &r);
            ptrace(PTRACE_SYSEMU, pid, 0, 0);
            continue;
        }
        // Re-issue the syscall for real: back up over the instruction.
        r.rax = r.orig_rax;
        r.rip -= 2;
        ptrace(PTRACE_SETREGS, pid, 0, &r);
        ptrace(PTRACE_SYSCALL, pid, 0, 0);          // to the re-issued entry
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) || WIFSIGNALED(status)) break;
        ptrace(PTRACE_SYSCALL, pid, 0, 0);          // run it, to its exit
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) || WIFSIGNALED(status)) break;
        ptrace(PTRACE_SYSEMU, pid, 0, 0);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
