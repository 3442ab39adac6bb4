// Prints argv, one environment variable and what the auxiliary vector
// promises a static binary, in a form that is the same natively.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <elf.h>

int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    const char *v = getenv("SENTRY_TEST_VAR");
    printf("SENTRY_TEST_VAR=%s\n", v ? v : "(unset)");
    printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
    printf("AT_PHENT=%lu\n", getauxval(AT_PHENT));
    printf("AT_PHNUM>0=%d\n", getauxval(AT_PHNUM) > 0);
    const Elf64_Phdr *ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
    printf("AT_PHDR readable=%d\n", ph != NULL && ph[0].p_type != 0xffffffff);
    printf("AT_RANDOM set=%d\n", getauxval(AT_RANDOM) != 0);
    printf("AT_ENTRY set=%d\n", getauxval(AT_ENTRY) != 0);
    printf("AT_UID=euid:%d\n", getauxval(AT_UID) == getauxval(AT_EUID));
    printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
    printf("AT_CLKTCK=%lu\n", getauxval(AT_CLKTCK));
    const char *plat = (const char *)getauxval(AT_PLATFORM);
    printf("AT_PLATFORM=%s\n", plat ? plat : "(none)");
    const char *fn = (const char *)getauxval(AT_EXECFN);
    printf("AT_EXECFN ends with args=%d\n", fn && strlen(fn) >= 4 && strcmp(fn + strlen(fn) - 4, "args") == 0);
    return 3;
}
