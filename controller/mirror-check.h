/* Checks of a policy's mirrors against what runs, made when an operator
 * changes the policy (not when weftd reads it back, so that a VM stopped
 * since never makes an accepted policy invalid). */
#ifndef WEFT_MIRROR_CHECK_H
#define WEFT_MIRROR_CHECK_H 1

#include <stddef.h>

struct inventory;
struct policy;
struct policy_error;

/* Checks each mirror of 'new' that is absent from 'old' or differs from
 * it: its vNIC sources and destination must be known vNICs (of a running
 * domain, by tap, MAC or domain name), a host destination must be one of
 * 'hosts' (n_hosts names), and a destination vNIC must not be one of its
 * own sources through a group or segment.  Returns 0, or EINVAL with
 * '*error' filled (line and field of the mirror). */
int mirror_check_policy(const struct inventory *,
                        const char *const *hosts, size_t n_hosts,
                        const struct policy *old, const struct policy *new,
                        struct policy_error *);

#endif /* mirror-check.h */
