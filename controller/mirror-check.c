/* Mirror checks against the inventory (see mirror-check.h). */
#include "mirror-check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "policy-match.h"
#include "policy.h"
#include "xalloc.h"

static bool
same_mirror(const struct policy_mirror *a, const struct policy_mirror *b)
{
    if (a->n_sources != b->n_sources || a->to_type != b->to_type
        || a->direction != b->direction || strcmp(a->to_name, b->to_name)
        || (a->to_port || b->to_port)
           != (a->to_port && b->to_port && !strcmp(a->to_port, b->to_port))) {
        return false;
    }
    for (size_t i = 0; i < a->n_sources; i++) {
        if (a->sources[i].type != b->sources[i].type
            || strcmp(a->sources[i].name, b->sources[i].name)) {
            return false;
        }
    }
    return true;
}

/* A vNIC of the inventory as policy sees it; labels split into 'buf'. */
static struct policy_member
member_of(const struct inv_vm *vm, const struct inv_vnic *v,
          char **labels, size_t max_labels, char **buf)
{
    size_t n = 0;
    *buf = v->groups ? xstrdup(v->groups) : NULL;
    char *save = NULL;
    for (char *s = *buf ? strtok_r(*buf, ",", &save) : NULL;
         s && n < max_labels; s = strtok_r(NULL, ",", &save)) {
        labels[n++] = s;
    }
    return (struct policy_member) {
        .segment = v->segment,
        .tap = v->tap,
        .mac = v->mac,
        .vm = vm->name,
        .labels = (const char *const *) labels,
        .n_labels = n,
    };
}

/* Counts the vNICs of the inventory that 'ref' designates.  With 'm',
 * also sets '*loop_source' to a group or segment source of 'm' that
 * includes one of them. */
static size_t
find_vnics(const struct inventory *inv, const char *ref,
           const struct policy *p, const struct policy_mirror *m,
           const char **loop_source)
{
    size_t n = 0;
    for (size_t h = 0; h < inv->n_hosts; h++) {
        const struct inv_host *host = &inv->hosts[h];
        for (size_t i = 0; i < host->n_vms; i++) {
            const struct inv_vm *vm = &host->vms[i];
            for (size_t j = 0; j < vm->n_vnics; j++) {
                char *labels[64], *buf;
                struct policy_member member = member_of(vm, &vm->vnics[j],
                                                        labels, 64, &buf);
                if (policy_vnic_ref_matches(ref, &member)) {
                    n++;
                    for (size_t k = 0; m && k < m->n_sources; k++) {
                        const struct policy_target *s = &m->sources[k];
                        if (s->type != POLICY_REF_VNIC
                            && policy_name_includes(p, s->name, &member)) {
                            *loop_source = s->name;
                        }
                    }
                }
                free(buf);
            }
        }
    }
    return n;
}

static int
fail(struct policy_error *error, const struct policy_mirror *m,
     const char *field, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(struct policy_error *error, const struct policy_mirror *m,
     const char *field, const char *format, ...)
{
    char msg[200];
    va_list args;
    va_start(args, format);
    vsnprintf(msg, sizeof msg, format, args);
    va_end(args);
    error->line = m->line;
    snprintf(error->field, sizeof error->field, "%s", field);
    snprintf(error->msg, sizeof error->msg, "mirror %s: %s", m->name, msg);
    return EINVAL;
}

int
mirror_check_policy(const struct inventory *inv,
                    const char *const *hosts, size_t n_hosts,
                    const struct policy *old, const struct policy *new,
                    struct policy_error *error)
{
    for (size_t i = 0; i < new->n_mirrors; i++) {
        const struct policy_mirror *m = &new->mirrors[i];
        const struct policy_mirror *was = (old ? policy_find_mirror(
                                               old, m->name) : NULL);
        if (was && same_mirror(was, m)) {
            continue;
        }
        for (size_t j = 0; j < m->n_sources; j++) {
            const struct policy_target *s = &m->sources[j];
            if (s->type == POLICY_REF_VNIC
                && !find_vnics(inv, s->name, new, NULL, NULL)) {
                return fail(error, m, "sources", "unknown vNIC \"%s\": no "
                            "running domain has a vNIC with this tap, MAC "
                            "or domain name", s->name);
            }
        }
        if (m->to_type == POLICY_REF_VNIC) {
            const char *loop = NULL;
            size_t n = find_vnics(inv, m->to_name, new, m, &loop);
            if (!n) {
                return fail(error, m, "to", "unknown vNIC \"%s\": no "
                            "running domain has a vNIC with this tap, MAC "
                            "or domain name", m->to_name);
            }
            if (n > 1) {
                return fail(error, m, "to", "\"%s\" designates %zu vNICs; "
                            "name one by tap or MAC", m->to_name, n);
            }
            if (loop) {
                return fail(error, m, "to", "destination %s is in source "
                            "%s: the mirror would copy into itself (a loop)",
                            m->to_name, loop);
            }
        } else {
            bool known = false;
            for (size_t j = 0; j < n_hosts; j++) {
                known = known || !strcmp(hosts[j], m->to_name);
            }
            if (!known) {
                return fail(error, m, "to", "unknown host \"%s\" (not in "
                            "weftd's configuration)", m->to_name);
            }
        }
    }
    return 0;
}
