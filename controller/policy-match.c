/* Group and segment membership (see policy-match.h). */
#include "policy-match.h"

#include <string.h>
#include <strings.h>

#include "policy.h"

static bool
list_has(char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(list[i], s)) {
            return true;
        }
    }
    return false;
}

bool
policy_group_lists(const struct policy_group *g,
                   const struct policy_member *m)
{
    if (m->segment && list_has(g->segments, g->n_segments, m->segment)) {
        return true;
    }
    for (size_t i = 0; i < m->n_labels; i++) {
        if (m->labels[i] && list_has(g->labels, g->n_labels, m->labels[i])) {
            return true;
        }
    }
    for (size_t i = 0; i < g->n_vnics; i++) {
        if ((m->tap && !strcmp(g->vnics[i], m->tap))
            || (m->mac && !strcasecmp(g->vnics[i], m->mac))) {
            return true;
        }
    }
    return false;
}

/* The policy has no group loops; 'depth' guards against them anyway. */
static bool
name_includes(const struct policy *p, const char *name,
              const struct policy_member *m, int depth)
{
    if (depth > 64) {
        return false;
    }
    const struct policy_group *g = policy_find_group(p, name);
    if (g) {
        if (policy_group_lists(g, m)) {
            return true;
        }
        for (size_t i = 0; i < g->n_groups; i++) {
            if (name_includes(p, g->groups[i], m, depth + 1)) {
                return true;
            }
        }
        return false;
    }
    return (policy_find_segment(p, name) && m->segment
            && !strcmp(name, m->segment));
}

bool
policy_name_includes(const struct policy *p, const char *name,
                     const struct policy_member *m)
{
    return name_includes(p, name, m, 0);
}

bool
policy_vnic_ref_matches(const char *ref, const struct policy_member *m)
{
    return ((m->tap && !strcmp(ref, m->tap))
            || (m->mac && !strcasecmp(ref, m->mac))
            || (m->vm && !strcmp(ref, m->vm)));
}

bool
policy_targets_include(const struct policy *p,
                       const struct policy_target *targets, size_t n,
                       const struct policy_member *m)
{
    for (size_t i = 0; i < n; i++) {
        const struct policy_target *t = &targets[i];
        if (t->type == POLICY_REF_VNIC
            ? policy_vnic_ref_matches(t->name, m)
            : policy_name_includes(p, t->name, m)) {
            return true;
        }
    }
    return false;
}
