/* A flow as Weft wants it in a switch: the unit the pipeline compiler
 * produces and the flow reconciler (ofproto-glue/flow-table.h) installs.
 *
 * Match and actions are in ovs-ofctl syntax (see ovs-fields(7) and
 * ovs-actions(7)), without table, priority or cookie, e.g.
 *
 *     table=0 priority=100 cookie=0x5701000000000003
 *     match   "in_port=3"
 *     actions "load:0x64->NXM_NX_REG6[],load:0x3->NXM_NX_REG5[],
 *              resubmit(,10)"
 *
 * Text keeps the compiler pure and its tests readable; the reconciler
 * parses each distinct flow once.
 *
 * Cookies say who made a flow: the top byte is WEFT_COOKIE_MARK on every
 * flow of Weft's core, the next byte the kind of object, the low 48 bits
 * that object's ID.  Flows without the mark are not Weft's and are never
 * touched. */
#ifndef WEFT_FLOW_H
#define WEFT_FLOW_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define WEFT_COOKIE_MARK 0x57ULL                /* 'W' */
#define WEFT_COOKIE_MARK_MASK 0xff00000000000000ULL
#define WEFT_COOKIE_MARK_VALUE (WEFT_COOKIE_MARK << 56)

enum weft_cookie_kind {
    WEFT_COOKIE_PIPELINE = 0,   /* Table defaults, not tied to an object. */
    WEFT_COOKIE_VNIC = 1,       /* Classification / security of a vNIC. */
    WEFT_COOKIE_SEGMENT = 2,    /* L2 and flooding of a segment. */
    WEFT_COOKIE_RULE = 3,       /* A policy rule. */
    WEFT_COOKIE_TUNNEL = 4,     /* Traffic from a tunnel. */
    WEFT_COOKIE_APP = 5,        /* A controller app's flow: the app's slot
                                 * in bits 40-47, a hash of the flow's key
                                 * below (controller/app-flows.c). */
    WEFT_COOKIE_MIRROR = 6,     /* Delivery of a remote mirror's copies. */
};

/* Makes a cookie for object 'id' (48 bits kept) of 'kind'. */
static inline uint64_t
weft_cookie(enum weft_cookie_kind kind, uint64_t id)
{
    return (WEFT_COOKIE_MARK_VALUE | ((uint64_t) kind << 48)
            | (id & 0xffffffffffffULL));
}

struct weft_flow {
    uint8_t table;
    uint16_t priority;
    uint64_t cookie;
    char *match;                /* "" matches everything. */
    char *actions;              /* "drop" drops. */
    /* Seconds, 0 for none (only apps' flows expire).  The switch tells
     * when such a flow expired (the reconciler asks it to). */
    uint16_t idle_timeout;
    uint16_t hard_timeout;
};

/* Meters.  Weft owns the meters whose ID carries WEFT_METER_MARK in its
 * top byte, as it owns the flows whose cookie carries WEFT_COOKIE_MARK;
 * the reconciler never touches other meters.  (OpenFlow meter IDs go up
 * to 0xffff0000; OVS maps them onto its datapath's meters, so a sparse
 * range costs nothing.) */
#define WEFT_METER_MARK 0x57U
#define WEFT_METER_MARK_MASK 0xff000000U
#define WEFT_METER_MARK_VALUE (WEFT_METER_MARK << 24)

static inline bool
weft_meter_id_is_weft(uint32_t id)
{
    return (id & WEFT_METER_MARK_MASK) == WEFT_METER_MARK_VALUE;
}

/* A meter with one band that drops what exceeds 'kbps' kbit/s, allowing
 * bursts of 'burst_kbit' kbit; a flow uses it with the action "meter:ID"
 * (first among its actions).  The switch counts its packets and bytes. */
struct weft_meter {
    uint32_t id;                /* weft_meter_id_is_weft(). */
    uint32_t kbps;              /* > 0. */
    uint32_t burst_kbit;        /* > 0. */
};

/* A set of flows, e.g. everything one host should have, and the meters
 * they use. */
struct weft_flow_set {
    struct weft_flow *flows;
    size_t n, allocated;
    struct weft_meter *meters;
    size_t n_meters, allocated_meters;
};

void weft_flow_set_init(struct weft_flow_set *);
void weft_flow_set_destroy(struct weft_flow_set *);
void weft_flow_set_clear(struct weft_flow_set *);

/* Adds a flow ('match' and 'actions' are copied). */
void weft_flow_set_add(struct weft_flow_set *, uint8_t table,
                       uint16_t priority, uint64_t cookie,
                       const char *match, const char *actions);

/* Adds a copy of 'flow', timeouts included. */
void weft_flow_set_add_flow(struct weft_flow_set *, const struct weft_flow *);

/* Adds a meter. */
void weft_flow_set_add_meter(struct weft_flow_set *,
                             const struct weft_meter *);

/* Sorts flows by table, then descending priority, then match, and meters
 * by ID, so that output and comparisons are deterministic. */
void weft_flow_set_sort(struct weft_flow_set *);

/* True if 'a' and 'b' hold the same flows and meters in the same order. */
bool weft_flow_set_equal(const struct weft_flow_set *,
                         const struct weft_flow_set *);

/* Appends the flows and meters of 'src' to 'dst'. */
void weft_flow_set_append(struct weft_flow_set *dst,
                          const struct weft_flow_set *src);

/* Writes one line per flow, like "ovs-ofctl dump-flows" without stats:
 *   "table=0, priority=100, cookie=0x5701000000000003, in_port=3
 *    actions=..."; "idle_timeout=N, " and "hard_timeout=N, " follow the
 * cookie when nonzero.  Then one line per meter, like "ovs-ofctl
 * dump-meters" on one line:
 *   "meter=0x57000003 kbps burst stats bands=type=drop rate=20000
 *    burst_size=2000". */
void weft_flow_set_format(const struct weft_flow_set *, FILE *);

#endif /* flow.h */
