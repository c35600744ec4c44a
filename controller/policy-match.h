/* Which policy objects a vNIC belongs to: the one definition of group and
 * segment membership, shared by the flow compiler (rules) and the mirror
 * planner (mirror sources).  Pure. */
#ifndef WEFT_POLICY_MATCH_H
#define WEFT_POLICY_MATCH_H 1

#include <stdbool.h>
#include <stddef.h>

struct policy;
struct policy_group;

/* A vNIC as policy sees it. */
struct policy_member {
    const char *segment;        /* Its segment's name. */
    const char *tap;            /* Tap (interface) name. */
    const char *mac;            /* "xx:xx:xx:xx:xx:xx", any case. */
    const char *vm;             /* Domain name, or NULL. */
    const char *const *labels;  /* From the domain's Weft metadata. */
    size_t n_labels;
};

/* True if 'g' names the member itself: by segment, label, tap or MAC.
 * Nested groups (g->groups) are not followed. */
bool policy_group_lists(const struct policy_group *g,
                        const struct policy_member *);

/* True if 'name' (a group or a segment of 'policy') includes the member,
 * following nested groups. */
bool policy_name_includes(const struct policy *, const char *name,
                          const struct policy_member *);

/* True if 'ref' (a vNIC reference of a mirror: tap, MAC or domain name)
 * designates the member. */
bool policy_vnic_ref_matches(const char *ref, const struct policy_member *);

/* True if one of the 'n' 'targets' (of a mirror or a limit) designates
 * the member: vnic:REF by policy_vnic_ref_matches(), group:NAME and
 * segment:NAME by policy_name_includes(). */
struct policy_target;
bool policy_targets_include(const struct policy *,
                            const struct policy_target *targets, size_t n,
                            const struct policy_member *);

#endif /* policy-match.h */
