/* A packet's way through the cluster, by the flows the switches have: the
 * flow evaluator (ofproto-glue/flow-eval.h) on the host where the packet
 * enters, then, if it leaves through a VXLAN tunnel port, on the host at
 * the other end, entering by that host's tunnel port towards the first with
 * the tun_id it was sent with.  Weft's pipeline never sends a packet from
 * one tunnel into another, so one hop is followed.
 *
 * Used by "weftctl trace" and "weftctl verify" over the flows read back
 * from the switches, and by the unit tests over compiled flows. */
#ifndef WEFT_NET_TRACE_H
#define WEFT_NET_TRACE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow-eval.h"

struct net_trace_tunnel {
    uint32_t port;              /* On the host that has it. */
    const char *peer;           /* The host at the other end. */
};

struct net_trace_host {
    const char *name;
    const struct flow_eval *fe; /* NULL: its flows are not known. */
    const char *why_unknown;    /* If 'fe' is NULL: why (for the trace). */
    const struct net_trace_tunnel *tunnels;
    size_t n_tunnels;
};

/* A port the packet went out of. */
struct net_trace_delivery {
    const char *host;
    uint32_t port;
};

struct net_trace_result {
    struct net_trace_delivery *deliveries;  /* Ports other than tunnels. */
    size_t n_deliveries;
    bool to_controller;
    char *problem;              /* Evaluation incomplete: why, or NULL. */
};

/* Called for each step: 'host' is where it happens, 'cookie' the cookie of
 * the flow it concerns (0 for none). */
typedef void net_trace_step_cb(void *aux, const char *host, uint64_t cookie,
                               const char *text);

/* Traces 'packet' entering host 'host' of the 'n' 'hosts'. */
void net_trace_run(const struct net_trace_host *hosts, size_t n,
                   const char *host, const struct flow_eval_packet *packet,
                   net_trace_step_cb *, void *aux, struct net_trace_result *);
void net_trace_result_destroy(struct net_trace_result *);

/* Fills 'p' with the first packet of a connection of 'proto' (a
 * POLICY_PROTO_*: icmp, icmp6, tcp or udp; ip counts as icmp) to 'port'
 * from vNIC 'src' to vNIC 'dst', entering by 'src''s port.  Addresses are
 * the vNICs' own (their first of the family); a vNIC without one gets one
 * made from its MAC, in 198.18.0.0/15 or fd57:5746::/64, which no check of
 * port security concerns (a family without known addresses is not
 * checked). */
struct pipeline_vnic;
void net_trace_packet(const struct pipeline_vnic *src,
                      const struct pipeline_vnic *dst, int proto, int port,
                      struct flow_eval_packet *p);

/* True if 'r' delivered the packet to 'port' of 'host'. */
bool net_trace_delivered_to(const struct net_trace_result *r,
                            const char *host, uint32_t port);

#endif /* net-trace.h */
