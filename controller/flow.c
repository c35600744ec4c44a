/* Sets of flows in ovs-ofctl text (see flow.h). */
#include "flow.h"
#include "xalloc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void
weft_flow_set_init(struct weft_flow_set *set)
{
    memset(set, 0, sizeof *set);
}

void
weft_flow_set_destroy(struct weft_flow_set *set)
{
    if (set) {
        weft_flow_set_clear(set);
        free(set->flows);
        free(set->meters);
        memset(set, 0, sizeof *set);
    }
}

void
weft_flow_set_clear(struct weft_flow_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->flows[i].match);
        free(set->flows[i].actions);
    }
    set->n = 0;
    set->n_meters = 0;
}

void
weft_flow_set_add(struct weft_flow_set *set, uint8_t table,
                  uint16_t priority, uint64_t cookie,
                  const char *match, const char *actions)
{
    if (set->n >= set->allocated) {
        set->allocated = set->allocated ? 2 * set->allocated : 16;
        set->flows = xrealloc(set->flows,
                              set->allocated * sizeof *set->flows);
    }

    struct weft_flow *f = &set->flows[set->n++];
    f->table = table;
    f->priority = priority;
    f->cookie = cookie;
    f->match = xstrdup(match ? match : "");
    f->actions = xstrdup(actions ? actions : "");
    f->idle_timeout = f->hard_timeout = 0;
}

void
weft_flow_set_add_flow(struct weft_flow_set *set, const struct weft_flow *f)
{
    weft_flow_set_add(set, f->table, f->priority, f->cookie, f->match,
                      f->actions);
    set->flows[set->n - 1].idle_timeout = f->idle_timeout;
    set->flows[set->n - 1].hard_timeout = f->hard_timeout;
}

static int
compare_flows(const void *a_, const void *b_)
{
    const struct weft_flow *a = a_;
    const struct weft_flow *b = b_;
    int cmp;

    if (a->table != b->table) {
        return a->table < b->table ? -1 : 1;
    }
    if (a->priority != b->priority) {
        return a->priority > b->priority ? -1 : 1;
    }
    cmp = strcmp(a->match, b->match);
    if (cmp) {
        return cmp;
    }
    /* Only duplicates get this far: order them too, so that even a set
     * with duplicates sorts the same whatever order it was built in. */
    cmp = strcmp(a->actions, b->actions);
    if (cmp) {
        return cmp;
    }
    return a->cookie < b->cookie ? -1 : a->cookie > b->cookie;
}

void
weft_flow_set_add_meter(struct weft_flow_set *set, const struct weft_meter *m)
{
    if (set->n_meters >= set->allocated_meters) {
        set->allocated_meters = (set->allocated_meters
                                 ? 2 * set->allocated_meters : 8);
        set->meters = xrealloc(set->meters,
                               set->allocated_meters * sizeof *set->meters);
    }
    set->meters[set->n_meters++] = *m;
}

static int
compare_meters(const void *a_, const void *b_)
{
    const struct weft_meter *a = a_;
    const struct weft_meter *b = b_;

    return (a->id != b->id ? (a->id < b->id ? -1 : 1)
            : a->kbps != b->kbps ? (a->kbps < b->kbps ? -1 : 1)
            : a->burst_kbit < b->burst_kbit ? -1
            : a->burst_kbit > b->burst_kbit);
}

void
weft_flow_set_sort(struct weft_flow_set *set)
{
    if (set->n > 1) {
        qsort(set->flows, set->n, sizeof *set->flows, compare_flows);
    }
    if (set->n_meters > 1) {
        qsort(set->meters, set->n_meters, sizeof *set->meters,
              compare_meters);
    }
}

bool
weft_flow_set_equal(const struct weft_flow_set *a,
                    const struct weft_flow_set *b)
{
    if (a->n != b->n || a->n_meters != b->n_meters) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        const struct weft_flow *x = &a->flows[i], *y = &b->flows[i];
        if (x->table != y->table || x->priority != y->priority
            || x->cookie != y->cookie || strcmp(x->match, y->match)
            || strcmp(x->actions, y->actions)
            || x->idle_timeout != y->idle_timeout
            || x->hard_timeout != y->hard_timeout) {
            return false;
        }
    }
    for (size_t i = 0; i < a->n_meters; i++) {
        if (compare_meters(&a->meters[i], &b->meters[i])) {
            return false;
        }
    }
    return true;
}

void
weft_flow_set_append(struct weft_flow_set *dst,
                     const struct weft_flow_set *src)
{
    for (size_t i = 0; i < src->n; i++) {
        weft_flow_set_add_flow(dst, &src->flows[i]);
    }
    for (size_t i = 0; i < src->n_meters; i++) {
        weft_flow_set_add_meter(dst, &src->meters[i]);
    }
}

void
weft_flow_set_format(const struct weft_flow_set *set, FILE *stream)
{
    for (size_t i = 0; i < set->n; i++) {
        const struct weft_flow *f = &set->flows[i];

        fprintf(stream, "table=%u, priority=%u, cookie=0x%llx, ", f->table,
                f->priority, (unsigned long long) f->cookie);
        if (f->idle_timeout) {
            fprintf(stream, "idle_timeout=%u, ", f->idle_timeout);
        }
        if (f->hard_timeout) {
            fprintf(stream, "hard_timeout=%u, ", f->hard_timeout);
        }
        fprintf(stream, "%s%sactions=%s\n", f->match, *f->match ? " " : "",
                f->actions);
    }
    for (size_t i = 0; i < set->n_meters; i++) {
        const struct weft_meter *m = &set->meters[i];

        fprintf(stream, "meter=0x%"PRIx32" kbps burst stats bands=type=drop "
                "rate=%"PRIu32" burst_size=%"PRIu32"\n", m->id, m->kbps,
                m->burst_kbit);
    }
}
