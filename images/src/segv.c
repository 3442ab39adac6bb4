// Dies of SIGSEGV: the sandbox reports it as a shell does, status 139.
int main(void) {
    *(volatile int *)16 = 1;
    return 0;
}
