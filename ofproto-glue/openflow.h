/* OpenFlow connections from the managed switches.
 *
 * weftd is a passive controller: every integration bridge is told (through
 * OVSDB) to connect to weftd's listener, and each connection is matched to
 * its host by the datapath ID that weftd itself set on the bridge.  This
 * keeps one listening socket for any number of hosts, works through NAT
 * towards the controller, and lets a restarted weftd get all its switches
 * back without knowing their addresses.
 *
 * The listener negotiates OpenFlow 1.3 to 1.5, asks each new switch for its
 * features, answers echo requests, and hands the switch to its owner once
 * the datapath ID is known.  The owner then says which flows it wants on the
 * switch (of_switch_set_flows()); the flow reconciler (flow-table.c) makes
 * the switch's flow table match, sending only the difference. */
#ifndef WEFT_OPENFLOW_H
#define WEFT_OPENFLOW_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct of_listener;
struct of_packet_in;
struct of_switch;
struct weft_flow;

struct of_listener_callbacks {
    /* A switch identified itself as 'dpid'.  Returns the owner to attach it
     * to, or NULL to refuse it (the connection is then closed). */
    void *(*switch_up)(void *aux, struct of_switch *, uint64_t dpid);

    /* The connection of a switch that had been attached to 'owner' is gone.
     * The switch object is freed right after this returns. */
    void (*switch_down)(void *owner, struct of_switch *);

    /* Optional.  A reconciliation of the flows given to of_switch_set_flows()
     * ended, in success or failure: of_switch_get_flow_stats() says which.
     * Called from of_listener_run(); the owner may call
     * of_switch_set_flows() from here. */
    void (*flows_reconciled)(void *owner, struct of_switch *);

    /* Optional.  A flow sent the switch's packet to the controller. */
    void (*packet_in)(void *owner, struct of_switch *,
                      const struct of_packet_in *);

    /* Optional.  A Weft flow with a timeout expired on the switch (it is
     * already gone from the reconciler's view of the switch). */
    void (*flow_removed)(void *owner, struct of_switch *, uint8_t table,
                         uint16_t priority, uint64_t cookie);
};

/* A packet-in, decoded. */
struct of_packet_in {
    uint32_t in_port;
    uint8_t table;
    uint64_t cookie;
    const void *packet;
    size_t len;
};

/* Listens on 'target' ("ptcp:PORT[:IP]" or "pssl:PORT[:IP]").  Returns 0
 * and stores the listener in '*listenerp', or a positive errno value. */
int of_listener_create(const char *target,
                       const struct of_listener_callbacks *, void *aux,
                       struct of_listener **listenerp);

/* Closes the listener and every connection (without calling switch_down:
 * the caller is going away). */
void of_listener_destroy(struct of_listener *);

void of_listener_run(struct of_listener *);
void of_listener_wait(struct of_listener *);

/* Number of open connections, identified or not. */
unsigned int of_listener_count(const struct of_listener *);

/* Closes 'sw' (e.g. replaced by a newer connection from the same switch).
 * switch_down is not called. */
void of_switch_close(struct of_switch *);

uint64_t of_switch_get_dpid(const struct of_switch *);
/* The 'aux' given to of_listener_create(). */
void *of_switch_get_listener_aux(const struct of_switch *);
const char *of_switch_get_peer(const struct of_switch *);
/* Negotiated version as a name, e.g. "OpenFlow15". */
const char *of_switch_get_version(const struct of_switch *);
/* Number of tables the switch reported. */
unsigned int of_switch_get_n_tables(const struct of_switch *);


/* Flows.
 *
 * Sets the flows Weft wants on 'sw' to the 'n' flows in 'flows' (copied;
 * see controller/flow.h).  Every cookie must carry WEFT_COOKIE_MARK: the
 * reconciler owns exactly the flows with that mark and never touches the
 * others.  Each distinct flow is parsed once per connection; one that does
 * not parse, lacks the mark, or clashes with an earlier flow of the set
 * (same table, priority and match, other actions) is logged with its text,
 * skipped and counted in the stats; the others go ahead.
 *
 * Reconciliation is asynchronous.  The first call on a connection reads
 * back the Weft-marked flows the switch already has, so that a reconnect
 * (of weftd or of the switch's connection) sends only what differs:
 * nothing, if the flows did not change.  Each round then sends deletes,
 * modifies and adds as one atomic bundle (OpenFlow 1.4 and later), or as
 * plain flow mods followed by a barrier (OpenFlow 1.3).  A call while a
 * round is in flight is reconciled when that round ends.  If the switch
 * refuses a round, the error is logged with the guilty flow's text and
 * nothing is retried until the next call or reconnect.  With a bundle the
 * switch keeps its previous flows; in OpenFlow 1.3 part of the round may
 * have gone in, so the next round reads the flows back first.
 *
 * A flow with an idle or hard timeout is added with the flag that makes
 * the switch report its expiry; then it leaves the reconciler's view of
 * the switch and flow_removed is called.  The owner should drop it from
 * the flows it wants: the next round would add it again.  Timeouts are
 * not compared: a flow read back with other timeouts is left alone.
 *
 * of_switch objects die with their connection, and the desired flows with
 * them: the owner gives them again to the next connection. */
void of_switch_set_flows(struct of_switch *sw, const struct weft_flow *flows,
                         size_t n);

/* Sets the meters Weft wants on 'sw' to the 'n' of 'meters' (copied; see
 * struct weft_meter in controller/flow.h), reconciled together with the
 * flows: read back on the first round of a connection (meters whose ID
 * carries WEFT_METER_MARK only), added or modified before the flows that
 * use them, deleted only once no flow mod is pending.  A meter without the
 * mark, with a rate or burst of 0, or with the ID of an earlier one is
 * skipped and counted as an error.  Call before of_switch_set_flows() with
 * the flows that use the meters. */
struct weft_meter;
void of_switch_set_meters(struct of_switch *sw,
                          const struct weft_meter *meters, size_t n);

/* Sends 'packet' ('len' bytes) with 'actions' (ovs-ofctl syntax) as if it
 * came in on 'in_port' (0: from the controller).  Returns 0, or EINVAL
 * with a malloc'd message in '*errorp' if the actions do not parse. */
int of_switch_packet_out(struct of_switch *, uint32_t in_port,
                         const char *actions, const void *packet, size_t len,
                         char **errorp);

/* Port counters.
 *
 * One OpenFlow port's counters, from a port stats reply ("rx" is what the
 * switch received on the port: for a VM's port, what the VM sent). */
struct of_port_stats {
    uint32_t port;
    uint64_t rx_packets, tx_packets;
    uint64_t rx_bytes, tx_bytes;
    uint64_t rx_dropped, tx_dropped;
};

/* Called once per request: with every port's counters ('error' 0), or
 * with 'error' ENOTCONN and no counters if the connection closed first
 * (then 'sw' is about to be freed), or EPROTO if the switch refused the
 * request.  Not called for requests pending when of_listener_destroy()
 * closes the connection. */
typedef void of_port_stats_cb(struct of_switch *sw, void *aux, int error,
                              const struct of_port_stats *, size_t n);

/* Asks 'sw' for the counters of all its ports; 'cb' gets them later (never
 * from within this call). */
void of_switch_request_port_stats(struct of_switch *, of_port_stats_cb *,
                                  void *aux);

struct of_switch_flow_stats {
    /* The set last given to of_switch_set_flows(). */
    unsigned int n_desired;         /* Flows to install. */
    unsigned int n_invalid;         /* Flows skipped: see above. */

    /* Weft's flows on the switch, as last read back or acknowledged.  Not
     * known before the first read-back. */
    unsigned int n_installed;

    /* Meters: the set last given to of_switch_set_meters(), and Weft's
     * meters on the switch (like 'n_installed'). */
    unsigned int n_meters_desired;
    unsigned int n_meters_installed;

    /* Since the connection was made. */
    unsigned long long n_rounds;    /* Reconciliations ended. */
    unsigned long long n_flow_mods; /* Flow mods sent. */
    unsigned long long n_meter_mods;    /* Meter mods sent. */
    unsigned long long n_bundles;   /* Bundles committed successfully. */
    unsigned long long n_errors;    /* Invalid flows, errors from the
                                     * switch, unanswered rounds. */
    unsigned int last_round_ms;     /* Duration of the last round. */

    /* The switch has exactly the desired flows (less the invalid ones),
     * acknowledged by the switch, and nothing is left to do. */
    bool synced;
    const char *state;              /* "idle", "reading", "sending"... */

    /* The last problem, or NULL.  Owned by 'sw'; valid until the next
     * of_listener_run(). */
    const char *last_error;
};

void of_switch_get_flow_stats(const struct of_switch *,
                              struct of_switch_flow_stats *);

/* An evaluator (flow-eval.h) of what 'sw' does with a packet, over Weft's
 * flows on it as last read back or acknowledged (flows that are not
 * Weft's are not seen), or NULL with the reason in '*why'.  Free with
 * flow_eval_destroy(). */
struct flow_eval;
struct flow_eval *of_switch_flow_eval_create(const struct of_switch *,
                                             const char **why);

/* Reads Weft's flows back from 'sw' anew and calls 'cb' with an evaluator
 * of them and how they differ from the desired flows, then repairs any
 * difference (see flow_table_refresh() in flow-table.h, whose callback
 * type this is).  Returns false, without calling 'cb', if 'sw' has not
 * identified itself yet. */
struct flow_table_drift;
typedef void of_switch_refresh_cb(void *aux, struct flow_eval *,
                                  const struct flow_table_drift *,
                                  const char *error);
bool of_switch_refresh_flows(struct of_switch *, of_switch_refresh_cb *,
                             void *aux);

#endif /* openflow.h */
