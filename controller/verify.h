/* "weftctl trace" and "weftctl verify" by the flows the switches really
 * have: Weft's flows as read back from each switch (the reconciler's
 * mirror), evaluated with OVS's classifier (ofproto-glue/flow-eval.h)
 * across the VXLAN hop (net-trace.h), and compared with what the policy
 * wants (pipeline_plan_trace(), which reasons on the rules, not on the
 * flows).
 *
 * The flows are read back from the switches for each request, so that a
 * flow deleted or changed by someone else is seen.  Conntrack is not
 * simulated: a probe is the first packet of a new
 * connection.  Flows that are not Weft's (an operator's, on the same
 * bridge) are not read back, so not seen. */
#ifndef WEFT_VERIFY_H
#define WEFT_VERIFY_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct pipeline_plan;
struct pipeline_trace;
struct weftd;

/* Every host's evaluator and tunnel ports, for many traces. */
struct verify_net;
typedef void verify_net_ready_cb(struct verify_net *, void *aux);

/* Reads Weft's flows back anew from every host's switch, then calls 'cb'
 * with the result (which 'cb' frees with verify_net_destroy()).  A host
 * whose switch is not connected, or goes meanwhile, is in it with its
 * flows unknown.  A switch whose flows differ from what weftd wants (a
 * flow deleted or changed behind its back) is traced as found, then
 * repaired by its reconciler.  'cb' is called from the loop, never from
 * within this call. */
void verify_net_refresh(struct weftd *, verify_net_ready_cb *, void *aux);
void verify_net_destroy(struct verify_net *);

/* One line per host whose flows differed from weftd's when read back. */
void verify_net_format_drift(const struct verify_net *, FILE *out);

/* Traces 'q''s packet by the installed flows, one step per line to 'out',
 * each flow with the object that made it.  Returns true if it reached the
 * destination vNIC; '*complete' is false if a host's flows were unknown
 * or an action could not be evaluated (said in 'out'). */
bool verify_trace(const struct weftd *, const struct verify_net *,
                  const struct pipeline_plan *, const struct pipeline_trace *,
                  FILE *out, bool *complete);

struct verify_report {
    size_t n_checks;            /* Probes whose outcome both sides know. */
    size_t n_mismatches;
    size_t n_incomplete;        /* Probes through a host whose flows are
                                 * unknown (down), or not evaluated. */
    size_t n_vnics;
    size_t n_probes;            /* Protocol/port classes per pair. */
    bool truncated;             /* More than VERIFY_MAX_CHECKS. */
};

#define VERIFY_MAX_CHECKS 200000

/* A probe class: a protocol (POLICY_PROTO_*) and, for tcp and udp, a
 * destination port. */
struct verify_probe_class {
    int proto, port;
};

/* The probe classes of 'policy' (see verify_run()); caller frees. */
struct policy;
size_t verify_make_probes(const struct policy *,
                          struct verify_probe_class **);

/* For every ordered pair of placed vNICs (with 'host' nonnull: whose source
 * is on 'host') and each probe class (icmp, icmp6, and for tcp and udp the
 * first port of each port range the rules name plus one port no rule
 * names), checks that the installed flows deliver the probe exactly when
 * the policy allows it.  Writes one line per mismatch and per host whose
 * flows are unknown to 'out'. */
void verify_run(const struct weftd *, const struct verify_net *,
                const struct pipeline_plan *, const char *host, FILE *out,
                struct verify_report *);

#endif /* verify.h */
