/* Weft's meters on one switch, desired or as read back, and the meter mods
 * that turn one set into another.  Used by the flow reconciler
 * (flow-table.c), which orders them around its flow rounds: a flow can only
 * use a meter that exists, and deleting a meter deletes the flows that use
 * it, so adds and modifies go before the flows, deletes after.
 *
 * Only meters with Weft's mark in their ID are read back or deleted (see
 * WEFT_METER_MARK in controller/flow.h). */
#ifndef WEFT_METER_SET_H
#define WEFT_METER_SET_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/types.h"

struct ofpbuf;
struct ofp_header;
struct weft_meter;

/* Meters sorted by ID, each ID once. */
struct meter_set {
    struct weft_meter *meters;
    size_t n, allocated;
};

void meter_set_init(struct meter_set *);
void meter_set_destroy(struct meter_set *);
void meter_set_clear(struct meter_set *);

/* Replaces the content of 'set' by the 'n' meters of 'meters', sorted; of
 * two meters with one ID the first is kept.  Returns the number of meters
 * left out: those without Weft's mark, with a rate or burst of 0, or with
 * the ID of an earlier one. */
size_t meter_set_assign(struct meter_set *, const struct weft_meter *,
                        size_t n);

bool meter_set_equal(const struct meter_set *, const struct meter_set *);

/* Adds to 'set' the Weft meters of 'reply', one message of a meter
 * config reply.  A meter that is not in the form Weft installs (one drop
 * band, rate in kbit/s, burst, statistics) is added with rate 0, so that
 * it never equals a desired meter and gets rewritten.  Returns 0, or an
 * OFPERR_* code if the message does not decode. */
int meter_set_add_reply(struct meter_set *, const struct ofp_header *reply);

enum meter_op_type {
    METER_OP_ADD,
    METER_OP_MODIFY,
    METER_OP_DELETE,
};

struct meter_op {
    enum meter_op_type type;
    uint32_t id;
    uint32_t kbps;              /* Add and modify only. */
    uint32_t burst_kbit;
    ovs_be32 xid;               /* Once sent. */
};

/* The meter mods that turn 'installed' into 'desired': adds and modifies
 * first, then deletes.  Returns the number of ops, stored in '*opsp'
 * (caller frees), and in '*n_deletes' how many of them, at the end, are
 * deletes. */
size_t meter_set_diff(const struct meter_set *desired,
                      const struct meter_set *installed,
                      struct meter_op **opsp, size_t *n_deletes);

/* Applies the 'n' acknowledged 'ops' to 'installed'. */
void meter_set_apply(struct meter_set *installed, const struct meter_op *ops,
                     size_t n);

/* The meter mod for 'op' in OpenFlow 'version' (1.3 or later). */
struct ofpbuf *meter_op_encode(const struct meter_op *, int version);

/* "add of meter 0x57000003 (20000 kbit/s, burst 2000 kbit)", for
 * messages.  Caller frees. */
char *meter_op_to_string(const struct meter_op *);

/* A meter config request for every meter, in OpenFlow 'version'. */
struct ofpbuf *meter_set_encode_request(int version);

#endif /* meter-set.h */
