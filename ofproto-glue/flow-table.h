/* The flow reconciler of one switch connection: the flows Weft wants on the
 * switch (desired), a mirror of the Weft-marked flows the switch has
 * (installed), and the rounds that turn the one into the other.
 *
 * Used by openflow.c only, which owns one flow_table per identified switch,
 * feeds it the switch's messages and offers it the host-facing calls
 * (of_switch_set_flows() and of_switch_get_flow_stats() in openflow.h,
 * where the behaviour is described).  The OVS types below are only named,
 * never defined: the rest of weftd includes openflow.h, not this file.
 *
 * A round:
 *
 *   - the first time, a flow stats request for the flows whose cookie
 *     carries WEFT_COOKIE_MARK and a meter config request fill the mirror
 *     (of meters, only those with WEFT_METER_MARK in their ID);
 *   - meter adds and modifies go first, outside any bundle (OVS bundles
 *     take no meter mods), so that the flows can use them; meter deletes
 *     wait for a round without flow mods, because deleting a meter deletes
 *     the flows that use it (see meter-set.h);
 *   - the difference, keyed by (table, priority, match): delete_strict for
 *     mirrored flows no longer wanted, modify_strict for changed actions,
 *     add for new flows and changed cookies (an add replaces);
 *   - OpenFlow 1.4+: bundle open, one bundle add per flow mod, barrier.  A
 *     refused add leaves the rest of the bundle open on the switch (OVS
 *     would commit it), so the commit goes out only once the barrier showed
 *     that every add was accepted; otherwise the bundle is discarded.  The
 *     commit is atomic and ordered;
 *   - OpenFlow 1.3: the flow mods and a barrier.  After a refusal the
 *     switch's state is partial, so the mirror is read back again before
 *     the next round;
 *   - on success the mirror takes the round's changes. */
#ifndef WEFT_FLOW_TABLE_H
#define WEFT_FLOW_TABLE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct flow_table;
struct of_switch_flow_stats;
struct ofp_header;
struct rconn;
struct weft_flow;

typedef void flow_table_cb(void *aux);

/* Creates the reconciler for the switch on 'rconn', which must have
 * negotiated its OpenFlow version.  'name' (kept, not copied) names the
 * switch in log messages.  'reconciled' is called with 'aux' each time a
 * round ends. */
struct flow_table *flow_table_create(struct rconn *rconn, const char *name,
                                     flow_table_cb *reconciled, void *aux);
void flow_table_destroy(struct flow_table *);

void flow_table_set_flows(struct flow_table *, const struct weft_flow *,
                          size_t n);
struct weft_meter;
void flow_table_set_meters(struct flow_table *, const struct weft_meter *,
                           size_t n);
void flow_table_get_stats(const struct flow_table *,
                          struct of_switch_flow_stats *);

/* An evaluator (flow-eval.h) over the flows the switch has, as last read
 * back or acknowledged, or NULL with the reason in '*why'. */
struct flow_eval;
struct flow_eval *flow_table_eval_create(const struct flow_table *,
                                         const char **why);

/* How the flows read back from a switch differ from the desired ones. */
struct flow_table_drift {
    size_t n_missing;           /* Desired, not on the switch. */
    size_t n_unexpected;        /* Weft-marked on the switch, not desired. */
    size_t n_changed;           /* On the switch with other actions or
                                 * cookie. */
};

/* Called once per flow_table_refresh(): with an evaluator of the flows
 * just read back (the caller frees it) and how they differ from the
 * desired flows, or with NULL and 'error' if the read-back could not be
 * done. */
typedef void flow_table_refresh_cb(void *aux, struct flow_eval *,
                                   const struct flow_table_drift *,
                                   const char *error);

/* Reads the switch's Weft flows back anew, in a round of its own (after
 * the round in flight, if any), and calls 'cb' with what it found before
 * reconciling: any difference (a flow deleted or changed behind Weft's
 * back) is then repaired like after a reconnect, and logged.  Requests
 * that arrive before the read-back starts share it. */
void flow_table_refresh(struct flow_table *, flow_table_refresh_cb *,
                        void *aux);

/* Offers 'oh', received from the switch, to the reconciler.  Returns true
 * if it was a reply to (or an error about) one of its requests: the caller
 * then does nothing more with it. */
bool flow_table_recv(struct flow_table *, const struct ofp_header *oh);

/* The switch removed a flow (it expired): if it carries Weft's mark, it
 * leaves the mirror and true is returned.  'match' is a struct match. */
struct match;
bool flow_table_flow_removed(struct flow_table *, uint8_t table,
                             uint16_t priority, const struct match *,
                             uint64_t cookie);

/* Starts the work that set_flows() or a finished round left to do, and
 * gives up on a switch that stopped answering (its connection is then
 * dropped).  Call after receiving. */
void flow_table_run(struct flow_table *);
void flow_table_wait(struct flow_table *);

#endif /* flow-table.h */
