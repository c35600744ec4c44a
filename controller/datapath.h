/* The cluster-wide step from "what is placed where" to "what each switch
 * does": builds the pipeline compiler's input from every host's placed
 * ports (as their OVSDB records them) and the policy in force, decides
 * which hosts need tunnels to which, and hands each host its flows.
 *
 * It waits until the policy has been read and every host's ports are known
 * (or DATAPATH_SETTLE_MS has passed since start), so that a restarted weftd
 * computes exactly what it computed before and changes nothing in the
 * switches. */
#ifndef WEFT_DATAPATH_H
#define WEFT_DATAPATH_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct weftd;

#define DATAPATH_SETTLE_MS 10000

struct datapath_stats {
    unsigned long long n_computes;      /* Times anything was recomputed. */
    unsigned long long n_host_computes; /* Hosts whose flows were computed. */
    unsigned long long n_hosts_changed; /* ... and came out different. */
    unsigned long long n_hosts_skipped; /* Not computed: their input, as
                                         * digested, had not changed. */
    unsigned long long n_check_errors;  /* Skipped hosts whose flows would
                                         * have changed (check mode). */
    double last_compute_ms;             /* CPU time of the last compute. */
    bool settled;                       /* Computing at all. */
};

struct datapath {
    uint64_t input_signature;           /* Of what the last compute saw. */
    long long int started_ms;
    struct datapath_stats stats;

    /* Computes the hosts it would skip anyway and reports any difference
     * (WEFT_CHECK_INCREMENTAL=1 in the environment; the tests set it). */
    bool check_incremental;
    bool force;                         /* The next compute: every host. */
};

void datapath_init(struct datapath *, long long int now_ms);

/* What 'policy' would change in every host's flows, compared with the
 * flows wanted now, as "HOST: + FLOW" / "HOST: - FLOW" lines (malloc'd;
 * "" if nothing).  Tunnels that 'policy' would add or remove are not
 * counted: their flows appear once the tunnels exist. */
struct policy;
char *datapath_preview(const struct weftd *, const struct policy *);

/* The compiler's plan for the current state and 'policy', for questions
 * such as "weftctl trace".  Free with datapath_plan_destroy(). */
struct pipeline_plan *datapath_plan_create(const struct weftd *,
                                           const struct policy *);
void datapath_plan_destroy(struct pipeline_plan *);

/* What the mirror planner makes of the current state: each mirror's
 * status, rows and deliveries (mirror-plan.h).  Its strings belong to the
 * hosts and the policy: use it at once.  Free with mirror_plan_destroy(). */
struct mirror_plan;
struct mirror_plan *datapath_mirror_plan_create(const struct weftd *);

/* Packets and bytes mirror 'name' of 'plan' copied, summed over the rows
 * the hosts have (OVS Mirror statistics); returns how many rows the plan
 * has for it. */
size_t datapath_mirror_counters(const struct weftd *,
                                const struct mirror_plan *, const char *name,
                                uint64_t *packets, uint64_t *bytes);

/* Recomputes what changed since the last call. */
void datapath_run(struct datapath *, struct weftd *);

/* Computes every host's flows now, skipping none ("weftctl recompute"),
 * and reports a host whose flows change as an incremental compute that
 * missed a change (n_check_errors, and an error in the log).  Returns
 * false, computing nothing, before the datapath has settled.  '*computed'
 * and '*changed' count the hosts. */
bool datapath_recompute(struct datapath *, struct weftd *,
                        size_t *computed, size_t *changed);

#endif /* datapath.h */
