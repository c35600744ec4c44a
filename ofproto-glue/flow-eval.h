/* An offline evaluator of OpenFlow tables: what a switch does with a
 * packet, given the switch's flows.  Weft uses it on the flows it read back
 * from each switch (the flow reconciler's mirror, see flow-table.h), so that
 * "weftctl trace" and "weftctl verify" check what is really installed,
 * without access to the hosts' ovs-vswitchd (ovs-appctl ofproto/trace needs
 * the switch's unixctl socket, which a remote controller does not have).
 *
 * The lookups are OVS's own classifier (lib/classifier.c), conjunctive
 * matches included, so matching is exactly the switch's.  The actions are
 * interpreted as far as Weft's pipeline and its apps need: set_field and
 * load, goto_table, resubmit, ct (with the connection state given by the
 * caller: conntrack is not simulated), output, controller, meter, push_vlan
 * and strip_vlan.  Any other action ends the evaluation with a note.
 *
 * The evaluator keeps copies of the rules, so it stays valid whatever
 * happens to the flows it was made from. */
#ifndef WEFT_FLOW_EVAL_H
#define WEFT_FLOW_EVAL_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct minimatch;
struct ofpact;

/* One flow of the switch. */
struct flow_eval_rule {
    uint8_t table;
    uint16_t priority;
    uint64_t cookie;
    const struct minimatch *match;
    const struct ofpact *ofpacts;
    size_t ofpacts_len;
};

struct flow_eval *flow_eval_create(const struct flow_eval_rule *, size_t n);
void flow_eval_destroy(struct flow_eval *);     /* Accepts NULL. */

/* An evaluator over flows in Weft's text form (controller/flow.h), parsed
 * by OVS's ovs-ofctl parser, e.g. the flows the pipeline compiler made.
 * Returns NULL with a malloc'd message in '*errorp' if one does not
 * parse. */
struct weft_flow;
struct flow_eval *flow_eval_create_from_flows(const struct weft_flow *,
                                              size_t n, char **errorp);

enum flow_eval_proto {
    FLOW_EVAL_ICMP,             /* ICMP echo request, or ICMPv6 with 'ipv6'. */
    FLOW_EVAL_TCP,              /* A SYN. */
    FLOW_EVAL_UDP,
};

/* A packet as it enters the switch. */
struct flow_eval_packet {
    uint32_t in_port;
    uint64_t tun_id;            /* Nonzero: it came out of a tunnel. */
    uint8_t dl_src[6], dl_dst[6];
    bool ipv6;
    uint8_t nw_src[16], nw_dst[16];     /* IPv4 in the first 4 bytes. */
    enum flow_eval_proto proto;
    uint16_t tp_src, tp_dst;            /* TCP and UDP. */
    bool ct_established;        /* What conntrack says once the packet is
                                 * tracked: +est (a reply, or a connection
                                 * already committed), else +new. */
};

/* Where the packet went out. */
struct flow_eval_output {
    uint32_t port;
    uint64_t tun_id;            /* Its tun_id when it went out. */
};

struct flow_eval_result {
    struct flow_eval_output *outputs;
    size_t n_outputs;
    bool to_controller;
    bool committed;             /* Went through ct(commit). */
    uint64_t *cookies;          /* Of each flow it matched, in order. */
    size_t n_cookies;
    char *problem;              /* Why the evaluation stopped early (an
                                 * action it does not interpret, a loop),
                                 * or NULL. */
};

/* Evaluates 'packet' from table 0.  Each step is reported to 'step' (if
 * nonnull) as text, with the cookie of the flow it concerns (0 for a table
 * miss): "table 0: priority 100, in_port=3 -> meter:...,goto_table:10".
 * Fills 'result' (free with flow_eval_result_destroy()). */
typedef void flow_eval_step_cb(void *aux, uint64_t cookie, const char *text);
void flow_eval_run(const struct flow_eval *, const struct flow_eval_packet *,
                   flow_eval_step_cb *step, void *aux,
                   struct flow_eval_result *result);
void flow_eval_result_destroy(struct flow_eval_result *);

/* The bytes of 'packet' as a VM would send it (Ethernet, IPv4 or IPv6,
 * ICMP echo request, TCP SYN or UDP with a few bytes of payload, checksums
 * set), for a real probe.  Returns malloc'd memory, its size in '*len'. */
void *flow_eval_packet_compose(const struct flow_eval_packet *, size_t *len);

#endif /* flow-eval.h */
