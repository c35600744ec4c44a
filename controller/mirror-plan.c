/* The mirror planner (see mirror-plan.h). */
#include "mirror-plan.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "pipeline.h"
#include "policy-match.h"
#include "policy.h"
#include "xalloc.h"

const char *
mirror_state_to_string(enum mirror_state state)
{
    switch (state) {
#define MIRROR_STATE(ENUM, NAME) case MIRROR_##ENUM: return NAME;
        MIRROR_STATES
#undef MIRROR_STATE
    }
    return "unknown";
}

void
mirror_port_name(uint32_t key, char name[MIRROR_PORT_NAME_SIZE])
{
    snprintf(name, MIRROR_PORT_NAME_SIZE, "wm-%06"PRIx32, key);
}

static int
compare_mirror_ptrs(const void *a_, const void *b_)
{
    const struct policy_mirror *const *a = a_, *const *b = b_;
    return strcmp((*a)->name, (*b)->name);
}

/* The policy's mirrors sorted by name; caller frees. */
static const struct policy_mirror **
sorted_mirrors(const struct policy *p)
{
    const struct policy_mirror **m = xcalloc(p->n_mirrors + 1, sizeof *m);
    for (size_t i = 0; i < p->n_mirrors; i++) {
        m[i] = &p->mirrors[i];
    }
    qsort(m, p->n_mirrors, sizeof *m, compare_mirror_ptrs);
    return m;
}

static bool
key_taken(const struct policy *p, const uint32_t *keys, size_t n,
          uint32_t key)
{
    for (size_t i = 0; i < p->n_segments; i++) {
        if (p->segments[i].vni == key) {
            return true;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (keys[i] == key) {
            return true;
        }
    }
    return false;
}

/* Keys of 'mirrors' (sorted by name) into 'keys'. */
static void
assign_keys(const struct policy *p, const struct policy_mirror **mirrors,
            uint32_t *keys)
{
    const uint32_t range = MIRROR_KEY_MAX - MIRROR_KEY_MIN + 1;
    for (size_t i = 0; i < p->n_mirrors; i++) {
        uint32_t hash = 2166136261u;
        for (const char *s = mirrors[i]->name; *s; s++) {
            hash = (hash ^ (unsigned char) *s) * 16777619u;
        }
        uint32_t key = MIRROR_KEY_MIN + hash % range;
        while (key_taken(p, keys, i, key)) {
            key = key == MIRROR_KEY_MAX ? MIRROR_KEY_MIN : key + 1;
        }
        keys[i] = key;
    }
}

uint32_t
mirror_plan_key(const struct policy *p, const char *name)
{
    const struct policy_mirror **mirrors = sorted_mirrors(p);
    uint32_t *keys = xcalloc(p->n_mirrors + 1, sizeof *keys);
    uint32_t key = 0;
    assign_keys(p, mirrors, keys);
    for (size_t i = 0; i < p->n_mirrors; i++) {
        if (!strcmp(mirrors[i]->name, name)) {
            key = keys[i];
        }
    }
    free(keys);
    free(mirrors);
    return key;
}

static struct policy_member
member_of(const struct pipeline_vnic *v)
{
    return (struct policy_member) {
        .segment = v->segment,
        .tap = v->tap,
        .mac = v->mac,
        .vm = v->vm,
        .labels = v->labels,
        .n_labels = v->n_labels,
    };
}

static bool
is_source(const struct policy *p, const struct policy_mirror *m,
          const struct pipeline_vnic *v)
{
    struct policy_member member = member_of(v);
    return policy_targets_include(p, m->sources, m->n_sources, &member);
}

static int
compare_vnic_ptrs(const void *a_, const void *b_)
{
    const struct pipeline_vnic *const *a = a_, *const *b = b_;
    int cmp = strcmp((*a)->host, (*b)->host);
    return cmp ? cmp : strcmp((*a)->tap, (*b)->tap);
}

static const struct mirror_plan_host *
find_host(const struct mirror_plan_input *in, const char *name)
{
    for (size_t i = 0; i < in->n_hosts; i++) {
        if (!strcmp(in->hosts[i].name, name)) {
            return &in->hosts[i];
        }
    }
    return NULL;
}

static void
set_state(struct mirror_status *st, enum mirror_state state,
          const char *format, ...) __attribute__((format(printf, 3, 4)));

static void
set_state(struct mirror_status *st, enum mirror_state state,
          const char *format, ...)
{
    char buf[512];
    va_list args;
    va_start(args, format);
    vsnprintf(buf, sizeof buf, format, args);
    va_end(args);
    free(st->detail);
    st->detail = xstrdup(buf);
    st->state = state;
}

/* Finds the one placed vNIC that 'ref' designates.  Returns its index, or
 * -1 with 'st' saying why there is none. */
static ssize_t
find_destination(const struct mirror_plan_input *in,
                 const struct pipeline_vnic **sorted, const char *ref,
                 struct mirror_status *st)
{
    ssize_t found = -1;
    size_t n = 0;
    for (size_t i = 0; i < in->n_vnics; i++) {
        struct policy_member member = member_of(sorted[i]);
        if (policy_vnic_ref_matches(ref, &member)) {
            found = found < 0 ? (ssize_t) i : found;
            n++;
        }
    }
    if (!n) {
        set_state(st, MIRROR_DESTINATION_DOWN, "destination vNIC %s is not "
                  "placed on any host (VM stopped or not defined)", ref);
        return -1;
    }
    if (n > 1) {
        set_state(st, MIRROR_ERROR, "destination %s matches %zu vNICs; "
                  "name one by tap or MAC", ref, n);
        return -1;
    }
    return found;
}

static struct mirror_row *
add_row(struct mirror_plan *plan, size_t *allocated)
{
    if (plan->n_rows >= *allocated) {
        *allocated = *allocated ? *allocated * 2 : 8;
        plan->rows = xrealloc(plan->rows, *allocated * sizeof *plan->rows);
    }
    struct mirror_row *row = &plan->rows[plan->n_rows++];
    memset(row, 0, sizeof *row);
    return row;
}

static void
plan_mirror(const struct mirror_plan_input *in,
            const struct pipeline_vnic **sorted, const size_t *index,
            const struct policy_mirror *m, uint32_t key,
            struct mirror_plan *plan, struct mirror_status *st,
            size_t *rows_allocated)
{
    *st = (struct mirror_status) { .name = m->name, .key = key,
                                   .detail = xstrdup("") };
    int dest_ofport = 0;
    ssize_t dest = -1;
    if (m->to_type == POLICY_REF_VNIC) {
        dest = find_destination(in, sorted, m->to_name, st);
        if (dest < 0) {
            return;
        }
        plan->dedicated[index[dest]] = true;
        st->dest_host = sorted[dest]->host;
        st->dest_port = sorted[dest]->tap;
        dest_ofport = sorted[dest]->ofport;
    } else if (!find_host(in, m->to_name)) {
        set_state(st, MIRROR_ERROR, "destination host %s is not managed "
                  "by weftd", m->to_name);
        return;
    } else if (in->host_port_present
               && !in->host_port_present(in->aux, m->to_name, m->to_port)) {
        set_state(st, MIRROR_DESTINATION_DOWN, "destination port %s is not "
                  "on %s's bridge", m->to_port, m->to_name);
        return;
    } else {
        st->dest_host = m->to_name;
        st->dest_port = m->to_port;
    }
    const char *dest_ip = find_host(in, st->dest_host)->tunnel_ip;

    bool excluded = false, remote = false;
    for (size_t i = 0; i < in->n_vnics; ) {
        const char *host = sorted[i]->host;
        struct mirror_row row = { .mirror = m->name, .host = host };
        row.select_src = xcalloc(in->n_vnics, sizeof *row.select_src);
        row.select_dst = xcalloc(in->n_vnics, sizeof *row.select_dst);
        size_t n_sources = 0;
        for (; i < in->n_vnics && !strcmp(sorted[i]->host, host); i++) {
            if (!is_source(in->policy, m, sorted[i])) {
                continue;
            }
            if ((ssize_t) i == dest
                || (!strcmp(host, st->dest_host)
                    && !strcmp(sorted[i]->tap, st->dest_port))) {
                excluded = true;
                continue;
            }
            if (m->direction != POLICY_DIRECTION_EGRESS) {
                row.select_src[row.n_select_src++] = sorted[i]->tap;
            }
            if (m->direction != POLICY_DIRECTION_INGRESS) {
                row.select_dst[row.n_select_dst++] = sorted[i]->tap;
            }
            n_sources++;
        }
        if (!n_sources) {
            free(row.select_src);
            free(row.select_dst);
            continue;
        }
        st->n_sources += n_sources;
        if (strcmp(host, st->dest_host)) {
            char port[MIRROR_PORT_NAME_SIZE];
            mirror_port_name(key, port);
            row.remote = true;
            row.key = key;
            row.remote_ip = dest_ip;
            row.output_port = xstrdup(port);
            remote = true;
        } else {
            row.output_port = xstrdup(st->dest_port);
        }
        *add_row(plan, rows_allocated) = row;
    }
    if (excluded) {
        free(st->detail);
        st->detail = xasprintf("destination %s/%s is also selected by the "
                               "sources: it is left out of them",
                               st->dest_host, st->dest_port);
    }
    if (!st->n_sources) {
        set_state(st, MIRROR_NO_SOURCES, "no source vNIC is placed%s",
                  excluded ? " (other than the destination)" : "");
        return;
    }
    if (remote && !dest_ip) {
        /* Rows were added: drop them, nothing can reach the host. */
        while (plan->n_rows
               && plan->rows[plan->n_rows - 1].mirror == m->name) {
            struct mirror_row *row = &plan->rows[--plan->n_rows];
            free(row->select_src);
            free(row->select_dst);
            free((char *) row->output_port);
        }
        set_state(st, MIRROR_ERROR, "destination host %s has no tunnel-ip "
                  "for sources on other hosts", st->dest_host);
        return;
    }
    if (remote) {
        plan->deliveries = xrealloc(plan->deliveries,
                                    (plan->n_deliveries + 1)
                                    * sizeof *plan->deliveries);
        plan->deliveries[plan->n_deliveries++] = (struct mirror_delivery) {
            .mirror = m->name,
            .host = st->dest_host,
            .key = key,
            .port = st->dest_port,
            .ofport = dest_ofport,
        };
    }
    st->state = MIRROR_ACTIVE;
}

struct mirror_plan *
mirror_plan_create(const struct mirror_plan_input *in)
{
    const struct policy *p = in->policy;
    struct mirror_plan *plan = xzalloc(sizeof *plan);
    plan->dedicated = xcalloc(in->n_vnics + 1, sizeof *plan->dedicated);
    plan->mirrors = xcalloc(p->n_mirrors + 1, sizeof *plan->mirrors);
    plan->n_mirrors = p->n_mirrors;

    const struct pipeline_vnic **sorted = xcalloc(in->n_vnics + 1,
                                                  sizeof *sorted);
    for (size_t i = 0; i < in->n_vnics; i++) {
        sorted[i] = &in->vnics[i];
    }
    qsort(sorted, in->n_vnics, sizeof *sorted, compare_vnic_ptrs);
    size_t *index = xcalloc(in->n_vnics + 1, sizeof *index);
    for (size_t i = 0; i < in->n_vnics; i++) {
        index[i] = sorted[i] - in->vnics;
    }

    const struct policy_mirror **mirrors = sorted_mirrors(p);
    uint32_t *keys = xcalloc(p->n_mirrors + 1, sizeof *keys);
    assign_keys(p, mirrors, keys);
    size_t rows_allocated = 0;
    for (size_t i = 0; i < p->n_mirrors; i++) {
        plan_mirror(in, sorted, index, mirrors[i], keys[i], plan,
                    &plan->mirrors[i], &rows_allocated);
    }
    free(keys);
    free(mirrors);
    free(index);
    free(sorted);
    return plan;
}

void
mirror_plan_destroy(struct mirror_plan *plan)
{
    if (!plan) {
        return;
    }
    for (size_t i = 0; i < plan->n_mirrors; i++) {
        free(plan->mirrors[i].detail);
    }
    for (size_t i = 0; i < plan->n_rows; i++) {
        free(plan->rows[i].select_src);
        free(plan->rows[i].select_dst);
        free((char *) plan->rows[i].output_port);
    }
    free(plan->mirrors);
    free(plan->rows);
    free(plan->deliveries);
    free(plan->dedicated);
    free(plan);
}

bool
mirror_plan_host_receives(const struct mirror_plan *plan, const char *host)
{
    for (size_t i = 0; i < plan->n_deliveries; i++) {
        if (!strcmp(plan->deliveries[i].host, host)) {
            return true;
        }
    }
    return false;
}
