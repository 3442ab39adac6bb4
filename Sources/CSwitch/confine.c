// The sentry's own seccomp filter (libseccomp), loaded on every thread of
// the sentry once it has started (SentryConfinement.swift says what it
// allows and why). The variadic seccomp_rule_add is why this is C.
#include "CSwitch.h"
#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/prctl.h>

long sw_self_confine(const struct sw_confine_rule *rules, int count, uint32_t default_action) {
    scmp_filter_ctx ctx = seccomp_init(default_action);
    if (!ctx) return -ENOMEM;
    long rc = 0;
    for (int i = 0; i < count && rc == 0; i++) {
        const struct sw_confine_rule *r = &rules[i];
        uint32_t action = r->errno_value ? SCMP_ACT_ERRNO((uint32_t)r->errno_value) : SCMP_ACT_ALLOW;
        if (r->arg < 0) {
            rc = seccomp_rule_add(ctx, action, r->nr, 0);
        } else if (r->mask) {
            rc = seccomp_rule_add(ctx, action, r->nr, 1,
                                  SCMP_CMP((unsigned)r->arg, SCMP_CMP_MASKED_EQ, r->mask, r->value));
        } else {
            rc = seccomp_rule_add(ctx, action, r->nr, 1, SCMP_CMP((unsigned)r->arg, SCMP_CMP_EQ, r->value));
        }
    }
    // Another ABI (int $0x80, the i386 one) gets the default action too:
    // libseccomp's own (KILL_THREAD) would override the RET_TRAP a systrap
    // stub's filter gives a guest's int $0x80 under the seccomp variant.
    if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, default_action);
    // Every thread of the sentry at once (TSYNC); no_new_privs first, as an
    // unprivileged sentry needs it.
    // A binary tree of syscall numbers rather than a list: every host call
    // of the sentry (and of its stubs, which inherit the filter) runs it.
    if (rc == 0) (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
    if (rc == 0) rc = seccomp_load(ctx);
    seccomp_release(ctx);
    return rc;
}

uint32_t sw_seccomp_action_kill_process(void) { return SCMP_ACT_KILL_PROCESS; }
uint32_t sw_seccomp_action_trap(void) { return SCMP_ACT_TRAP; }
uint32_t sw_seccomp_action_log(void) { return SCMP_ACT_LOG; }
