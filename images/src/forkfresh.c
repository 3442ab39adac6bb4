// Fresh memory after short-lived children: what a child's process gave
// back at its exit must reach the parent's next mappings as zeros, with
// nothing written there after the exit (the sandbox's host side of a
// child, its stub, outlives the child a little, with the child's rseq
// area still registered with the host until the stub is emptied; the host
// writes the CPU number there whenever the stub wakes). Each child also
// dirties a few pages, so that its memory is worth reusing. Prints what it
// checked.
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 200
#define CHUNK (64 << 10)
#define CHUNKS 8

int main(void) {
    static unsigned char data[3 * 4096];   // .bss: copied at fork
    for (int i = 0; i < CHILDREN; i++) {
        pid_t p = fork();
        if (p < 0) { perror("fork"); return 1; }
        if (p == 0) {
            memset(data, 0xa5, sizeof data);
            _exit(0);
        }
        int st;
        if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            printf("child %d: bad wait\n", i);
            return 1;
        }
        // Fresh private anonymous memory reads as zeros, every byte.
        unsigned char *m[CHUNKS];
        for (int c = 0; c < CHUNKS; c++) {
            m[c] = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m[c] == MAP_FAILED) { perror("mmap"); return 1; }
        }
        usleep(200);   // time for anything late to land
        for (int c = 0; c < CHUNKS; c++) {
            for (size_t j = 0; j < CHUNK; j += 8) {
                if (*(uint64_t *)(m[c] + j) != 0) {
                    printf("after child %d: fresh memory not zero at +%zu\n", i, j);
                    return 1;
                }
            }
            munmap(m[c], CHUNK);
        }
        if (data[0] != 0) { printf("child's write seen by the parent\n"); return 1; }
    }
    printf("fresh memory was zero after each of %d children\n", CHILDREN);
    return 0;
}
