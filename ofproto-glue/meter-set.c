/* Weft's meters on one switch (see meter-set.h). */
#include <config.h>

#include "meter-set.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "openvswitch/ofp-meter.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofpbuf.h"
#include "util.h"

#include "flow.h"

/* How Weft installs every meter. */
#define METER_FLAGS (OFPMF13_KBPS | OFPMF13_BURST | OFPMF13_STATS)

void
meter_set_init(struct meter_set *set)
{
    memset(set, 0, sizeof *set);
}

void
meter_set_destroy(struct meter_set *set)
{
    free(set->meters);
    meter_set_init(set);
}

void
meter_set_clear(struct meter_set *set)
{
    set->n = 0;
}

static void
append(struct meter_set *set, const struct weft_meter *m)
{
    if (set->n >= set->allocated) {
        set->meters = x2nrealloc(set->meters, &set->allocated,
                                 sizeof *set->meters);
    }
    set->meters[set->n++] = *m;
}

/* A meter and its position in its set, to keep the first of equal IDs. */
struct meter_pos {
    struct weft_meter m;
    size_t pos;
};

static int
compare_meter_pos(const void *a_, const void *b_)
{
    const struct meter_pos *a = a_;
    const struct meter_pos *b = b_;

    return (a->m.id != b->m.id ? (a->m.id < b->m.id ? -1 : 1)
            : a->pos < b->pos ? -1 : a->pos > b->pos);
}

/* Sorts 'set' by ID, keeping the first of equal IDs; returns how many
 * went. */
static size_t
sort_unique(struct meter_set *set)
{
    struct meter_pos *tmp = xmalloc((set->n ? set->n : 1) * sizeof *tmp);
    for (size_t i = 0; i < set->n; i++) {
        tmp[i] = (struct meter_pos) { set->meters[i], i };
    }
    qsort(tmp, set->n, sizeof *tmp, compare_meter_pos);

    size_t n = 0;
    for (size_t i = 0; i < set->n; i++) {
        if (!n || set->meters[n - 1].id != tmp[i].m.id) {
            set->meters[n++] = tmp[i].m;
        }
    }
    size_t dropped = set->n - n;
    set->n = n;
    free(tmp);
    return dropped;
}

size_t
meter_set_assign(struct meter_set *set, const struct weft_meter *meters,
                 size_t n)
{
    size_t dropped = 0;

    meter_set_clear(set);
    for (size_t i = 0; i < n; i++) {
        const struct weft_meter *m = &meters[i];
        if (weft_meter_id_is_weft(m->id) && m->kbps && m->burst_kbit) {
            append(set, m);
        } else {
            dropped++;
        }
    }
    return dropped + sort_unique(set);
}

static bool
same_meter(const struct weft_meter *a, const struct weft_meter *b)
{
    return (a->id == b->id && a->kbps == b->kbps
            && a->burst_kbit == b->burst_kbit);
}

bool
meter_set_equal(const struct meter_set *a, const struct meter_set *b)
{
    if (a->n != b->n) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (!same_meter(&a->meters[i], &b->meters[i])) {
            return false;
        }
    }
    return true;
}

int
meter_set_add_reply(struct meter_set *set, const struct ofp_header *reply)
{
    struct ofpbuf msg = ofpbuf_const_initializer(reply, ntohs(reply->length));
    struct ofpbuf bands;
    int retval;

    ofpbuf_init(&bands, 64);
    for (;;) {
        struct ofputil_meter_config mc;
        retval = ofputil_decode_meter_config(&msg, &mc, &bands);
        if (retval) {
            break;
        }
        if (!weft_meter_id_is_weft(mc.meter_id)) {
            continue;
        }
        bool ours = (mc.flags == METER_FLAGS && mc.n_bands == 1
                     && mc.bands[0].type == OFPMBT13_DROP);
        struct weft_meter m = {
            .id = mc.meter_id,
            .kbps = ours ? mc.bands[0].rate : 0,
            .burst_kbit = ours ? mc.bands[0].burst_size : 0,
        };
        append(set, &m);
    }
    ofpbuf_uninit(&bands);
    sort_unique(set);
    return retval == EOF ? 0 : retval;
}

static struct meter_op
make_op(enum meter_op_type type, const struct weft_meter *m)
{
    return (struct meter_op) {
        .type = type,
        .id = m->id,
        .kbps = type == METER_OP_DELETE ? 0 : m->kbps,
        .burst_kbit = type == METER_OP_DELETE ? 0 : m->burst_kbit,
    };
}

size_t
meter_set_diff(const struct meter_set *desired,
               const struct meter_set *installed, struct meter_op **opsp,
               size_t *n_deletes)
{
    struct meter_op *ops = xmalloc((desired->n + installed->n + 1)
                                   * sizeof *ops);
    size_t n = 0, i = 0, j = 0;

    /* Both are sorted by ID: a merge. */
    while (i < desired->n || j < installed->n) {
        const struct weft_meter *d = i < desired->n ? &desired->meters[i]
                                     : NULL;
        const struct weft_meter *m = j < installed->n
                                     ? &installed->meters[j] : NULL;
        if (d && (!m || d->id < m->id)) {
            ops[n++] = make_op(METER_OP_ADD, d);
            i++;
        } else if (!d || m->id < d->id) {
            j++;
        } else {
            if (!same_meter(d, m)) {
                ops[n++] = make_op(METER_OP_MODIFY, d);
            }
            i++;
            j++;
        }
    }
    *n_deletes = 0;
    for (i = j = 0; j < installed->n; j++) {
        const struct weft_meter *m = &installed->meters[j];
        while (i < desired->n && desired->meters[i].id < m->id) {
            i++;
        }
        if (i >= desired->n || desired->meters[i].id != m->id) {
            ops[n++] = make_op(METER_OP_DELETE, m);
            ++*n_deletes;
        }
    }
    *opsp = ops;
    return n;
}

static size_t
find(const struct meter_set *set, uint32_t id)
{
    for (size_t i = 0; i < set->n; i++) {
        if (set->meters[i].id == id) {
            return i;
        }
    }
    return SIZE_MAX;
}

void
meter_set_apply(struct meter_set *installed, const struct meter_op *ops,
                size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const struct meter_op *op = &ops[k];
        size_t i = find(installed, op->id);
        struct weft_meter m = {
            .id = op->id, .kbps = op->kbps, .burst_kbit = op->burst_kbit,
        };

        if (op->type == METER_OP_DELETE) {
            if (i != SIZE_MAX) {
                installed->meters[i] = installed->meters[--installed->n];
            }
        } else if (i != SIZE_MAX) {
            installed->meters[i] = m;
        } else {
            append(installed, &m);
        }
    }
    sort_unique(installed);
}

struct ofpbuf *
meter_op_encode(const struct meter_op *op, int version)
{
    struct ofputil_meter_band band = {
        .type = OFPMBT13_DROP,
        .rate = op->kbps,
        .burst_size = op->burst_kbit,
    };
    struct ofputil_meter_mod mm = {
        .command = (op->type == METER_OP_ADD ? OFPMC13_ADD
                    : op->type == METER_OP_MODIFY ? OFPMC13_MODIFY
                    : OFPMC13_DELETE),
        .meter = {
            .meter_id = op->id,
            .flags = op->type == METER_OP_DELETE ? 0 : METER_FLAGS,
            .n_bands = op->type == METER_OP_DELETE ? 0 : 1,
            .bands = op->type == METER_OP_DELETE ? NULL : &band,
        },
    };
    return ofputil_encode_meter_mod(version, &mm);
}

char *
meter_op_to_string(const struct meter_op *op)
{
    static const char *const names[] = { "add", "modify", "delete" };

    if (op->type == METER_OP_DELETE) {
        return xasprintf("delete of meter %#"PRIx32, op->id);
    }
    return xasprintf("%s of meter %#"PRIx32" (%"PRIu32" kbit/s, burst "
                     "%"PRIu32" kbit)", names[op->type], op->id, op->kbps,
                     op->burst_kbit);
}

struct ofpbuf *
meter_set_encode_request(int version)
{
    return ofputil_encode_meter_request(version, OFPUTIL_METER_CONFIG,
                                        OFPM13_ALL);
}
