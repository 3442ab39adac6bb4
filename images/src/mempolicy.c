// NUMA memory policy calls: every answer compared with Linux's on a machine
// with one memory node.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MPOL_DEFAULT 0
#define MPOL_PREFERRED 1
#define MPOL_BIND 2
#define MPOL_INTERLEAVE 3
#define MPOL_LOCAL 4
#define MPOL_PREFERRED_MANY 5
#define MPOL_F_STATIC_NODES (1 << 15)
#define MPOL_F_RELATIVE_NODES (1 << 14)
#define MPOL_F_NUMA_BALANCING (1 << 13)
#define MPOL_F_NODE 1
#define MPOL_F_ADDR 2
#define MPOL_F_MEMS_ALLOWED 4
#define MPOL_MF_STRICT 1
#define MPOL_MF_MOVE 2
#define MPOL_MF_MOVE_ALL 4

static void show(const char *what, long r) {
    if (r < 0) printf("%-44s -1 %s\n", what, strerrorname_np(errno));
    else printf("%-44s %ld\n", what, r);
}

static long getpol(int *mode, unsigned long *mask, unsigned long maxnode, void *addr, unsigned long flags) {
    return syscall(SYS_get_mempolicy, mode, mask, maxnode, addr, flags);
}
static long setpol(int mode, unsigned long *mask, unsigned long maxnode) {
    return syscall(SYS_set_mempolicy, mode, mask, maxnode);
}
static long mbind_(void *a, unsigned long len, int mode, unsigned long *mask, unsigned long maxnode, unsigned flags) {
    return syscall(SYS_mbind, a, len, mode, mask, maxnode, flags);
}

static void report(const char *what) {
    int mode = -7;
    unsigned long mask[16];
    memset(mask, 0xa5, sizeof mask);
    long r = getpol(&mode, mask, 1025, NULL, 0);
    if (r < 0) { show(what, r); return; }
    printf("%-44s mode %d mask %lx next %lx\n", what, mode, mask[0], mask[1]);
}

int main(void) {
    unsigned long one[16] = {1}, two[16] = {2}, none[16] = {0}, both[16] = {3};
    unsigned long high[17] = {0};
    high[16] = 1;   // node 1024: past MAX_NUMNODES

    report("initial");
    show("get(MEMS_ALLOWED)", getpol(NULL, one, 64, NULL, MPOL_F_MEMS_ALLOWED));
    printf("%-44s %lx\n", "  allowed", one[0]);
    one[0] = 1;
    show("get(maxnode 0, mask)", getpol(NULL, one, 0, NULL, 0));
    show("get(flags 8)", getpol(NULL, NULL, 0, NULL, 8));
    show("get(MEMS_ALLOWED|ADDR)", getpol(NULL, NULL, 0, NULL, MPOL_F_MEMS_ALLOWED | MPOL_F_ADDR));
    show("get(addr without ADDR)", getpol(NULL, NULL, 0, (void *)4096, 0));
    show("get(NODE, default)", getpol(NULL, NULL, 0, NULL, MPOL_F_NODE));
    show("get(bad policy pointer)", getpol((int *)8, NULL, 0, NULL, 0));
    show("get(maxnode 2^62, huge copy)", getpol(NULL, one, 1UL << 62, NULL, 0));
    show("get(maxnode 129, bad mask)", getpol(NULL, (unsigned long *)8, 129, NULL, 0));

    show("set(MPOL_MAX)", setpol(6, NULL, 0));
    show("set(-1)", setpol(-1, NULL, 0));
    show("set(STATIC|RELATIVE)", setpol(MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, one, 64));
    show("set(NUMA_BALANCING with INTERLEAVE)", setpol(MPOL_INTERLEAVE | MPOL_F_NUMA_BALANCING, one, 64));
    show("set(DEFAULT with nodes)", setpol(MPOL_DEFAULT, one, 64));
    show("set(BIND, no nodes)", setpol(MPOL_BIND, none, 64));
    show("set(BIND, node 1 only)", setpol(MPOL_BIND, two, 64));
    show("set(LOCAL with nodes)", setpol(MPOL_LOCAL, one, 64));
    show("set(LOCAL|STATIC)", setpol(MPOL_LOCAL | MPOL_F_STATIC_NODES, NULL, 0));
    show("set(PREFERRED|STATIC, no nodes)", setpol(MPOL_PREFERRED | MPOL_F_STATIC_NODES, none, 64));
    show("set(BIND, node 1024)", setpol(MPOL_BIND, high, 17 * 64));
    show("set(BIND, maxnode past a page)", setpol(MPOL_BIND, one, 4096 * 8 + 2));
    show("set(BIND, bad mask)", setpol(MPOL_BIND, (unsigned long *)8, 64));
    show("set(BIND, mask NULL)", setpol(MPOL_BIND, NULL, 64));

    show("set(BIND, nodes 0 and 1)", setpol(MPOL_BIND, both, 64));
    report("  bind");
    show("set(BIND, maxnode 1: no bits)", setpol(MPOL_BIND, one, 1));
    show("set(INTERLEAVE, node 0)", setpol(MPOL_INTERLEAVE, one, 64));
    report("  interleave");
    int node = -7;
    show("get(NODE) under interleave", getpol(&node, NULL, 0, NULL, MPOL_F_NODE));
    printf("%-44s %d\n", "  node", node);
    show("set(PREFERRED, no nodes)", setpol(MPOL_PREFERRED, NULL, 0));
    report("  preferred becomes local");
    show("set(PREFERRED_MANY|STATIC, 0-1)", setpol(MPOL_PREFERRED_MANY | MPOL_F_STATIC_NODES, both, 64));
    report("  preferred many static");
    show("set(BIND|RELATIVE, node 5)", setpol(MPOL_BIND | MPOL_F_RELATIVE_NODES, (unsigned long[16]){32}, 64));
    report("  bind relative");
    show("set(BIND|NUMA_BALANCING)", setpol(MPOL_BIND | MPOL_F_NUMA_BALANCING, one, 64));
    report("  bind balancing");
    unsigned long m1 = 0xff;
    show("get(maxnode 1, mask)", getpol(NULL, &m1, 1, NULL, 0));
    printf("%-44s %lx\n", "  untouched", m1);

    // Inherited by a child.
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) { report("  child"); fflush(stdout); _exit(0); }
    waitpid(c, NULL, 0);
    show("set(DEFAULT)", setpol(MPOL_DEFAULT, NULL, 0));
    report("  default again");

    // mbind
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(m + 4 * page, page);   // a hole at page 4
    show("mbind(flags 8)", mbind_(m, page, MPOL_BIND, one, 64, 8));
    show("mbind(unaligned)", mbind_(m + 1, page, MPOL_BIND, one, 64, 0));
    show("mbind(len 0)", mbind_(m, 0, MPOL_BIND, none, 64, 0));
    show("mbind(len wraps)", mbind_(m, -1UL, MPOL_BIND, one, 64, 0));
    show("mbind(end wraps)", mbind_((void *)(-2UL * page), 4 * page, MPOL_BIND, one, 64, 0));
    show("mbind(BIND, no nodes)", mbind_(m, page, MPOL_BIND, none, 64, 0));
    show("mbind(BIND over the hole)", mbind_(m, 8 * page, MPOL_BIND, one, 64, 0));
    show("mbind(DEFAULT over the hole)", mbind_(m, 8 * page, MPOL_DEFAULT, NULL, 0, 0));
    show("mbind(DEFAULT, all hole)", mbind_(m + 4 * page, page, MPOL_DEFAULT, NULL, 0, 0));
    show("mbind(BIND, pages 1-2, STRICT|MOVE)", mbind_(m + page, 2 * page, MPOL_BIND, one, 64, MPOL_MF_STRICT | MPOL_MF_MOVE));
    int mode = -7;
    show("get(ADDR) page 1", getpol(&mode, NULL, 0, m + page, MPOL_F_ADDR));
    printf("%-44s %d\n", "  mode", mode);
    show("get(ADDR) page 0", getpol(&mode, NULL, 0, m, MPOL_F_ADDR));
    printf("%-44s %d\n", "  mode", mode);
    show("get(ADDR) hole", getpol(&mode, NULL, 0, m + 4 * page, MPOL_F_ADDR));
    show("get(ADDR|NODE) page 1", getpol(&mode, NULL, 0, m + page, MPOL_F_ADDR | MPOL_F_NODE));
    printf("%-44s %d\n", "  node", mode);
    mprotect(m + 2 * page, page, PROT_NONE);
    show("get(ADDR|NODE) PROT_NONE page", getpol(&mode, NULL, 0, m + 2 * page, MPOL_F_ADDR | MPOL_F_NODE));
    show("get(ADDR|NODE) hole", getpol(&mode, NULL, 0, m + 4 * page, MPOL_F_ADDR | MPOL_F_NODE));
    show("mbind(INTERLEAVE|STATIC, page 3)", mbind_(m + 3 * page, page, MPOL_INTERLEAVE | MPOL_F_STATIC_NODES, both, 64, 0));
    unsigned long got[2] = {0, 0};
    show("get(ADDR, mask) page 3", getpol(&mode, got, 128, m + 3 * page, MPOL_F_ADDR));
    printf("%-44s %d %lx %lx\n", "  mode, mask", mode, got[0], got[1]);
    show("get(ADDR, NODE) page 3 (interleave)", getpol(&mode, NULL, 0, m + 3 * page, MPOL_F_ADDR | MPOL_F_NODE));
    show("get(NODE) default, not interleave", getpol(&mode, NULL, 0, NULL, MPOL_F_NODE));
    show("mbind(MOVE_ALL) as root", mbind_(m, page, MPOL_BIND, one, 64, MPOL_MF_MOVE_ALL));

    // set_mempolicy_home_node
    show("home(unaligned)", syscall(SYS_set_mempolicy_home_node, m + 1, page, 0, 0));
    show("home(flags)", syscall(SYS_set_mempolicy_home_node, m, page, 0, 1));
    show("home(node 1)", syscall(SYS_set_mempolicy_home_node, m, page, 1, 0));
    show("home(len 0)", syscall(SYS_set_mempolicy_home_node, m, 0, 0, 0));
    show("home(no policy: page 5)", syscall(SYS_set_mempolicy_home_node, m + 5 * page, page, 0, 0));
    show("home(bind pages 1-2)", syscall(SYS_set_mempolicy_home_node, m + page, 2 * page, 0, 0));
    show("home(interleave page 3)", syscall(SYS_set_mempolicy_home_node, m + 3 * page, page, 0, 0));
    show("home(pages 0-3)", syscall(SYS_set_mempolicy_home_node, m, 4 * page, 0, 0));
    show("home(hole)", syscall(SYS_set_mempolicy_home_node, m + 4 * page, page, 0, 0));

    // migrate_pages and move_pages
    show("migrate(self, 0 -> 0)", syscall(SYS_migrate_pages, 0, 64, one, one));
    show("migrate(self, 0 -> 1)", syscall(SYS_migrate_pages, 0, 64, one, two));
    show("migrate(no such pid)", syscall(SYS_migrate_pages, 99999, 64, one, one));
    show("migrate(bad old mask)", syscall(SYS_migrate_pages, 0, 64, (unsigned long *)8, one));
    m[0] = 1;   // page 0 touched, page 5 never
    void *pages[4] = { m, m + 5 * page, m + 4 * page, m + 1 };
    int status[4] = { 9, 9, 9, 9 };
    show("move_pages(stat)", syscall(SYS_move_pages, 0, 4, pages, NULL, status, 0));
    printf("%-44s %d %d %d %d\n", "  status", status[0], status[1], status[2], status[3]);
    int nodes[4] = { 0, 0, 0, 0 };
    for (int i = 0; i < 4; i++) status[i] = 9;
    show("move_pages(to node 0)", syscall(SYS_move_pages, 0, 4, pages, nodes, status, MPOL_MF_MOVE));
    printf("%-44s %d %d %d %d\n", "  status", status[0], status[1], status[2], status[3]);
    nodes[1] = 1;
    for (int i = 0; i < 4; i++) status[i] = 9;
    show("move_pages(page 1 to node 1)", syscall(SYS_move_pages, 0, 4, pages, nodes, status, MPOL_MF_MOVE));
    printf("%-44s %d %d %d %d\n", "  status", status[0], status[1], status[2], status[3]);
    show("move_pages(flags 8)", syscall(SYS_move_pages, 0, 1, pages, NULL, status, 8));
    show("move_pages(bad status)", syscall(SYS_move_pages, 0, 1, pages, NULL, (int *)8, 0));
    show("move_pages(no such pid)", syscall(SYS_move_pages, 99999, 1, pages, NULL, status, 0));
    return 0;
}
