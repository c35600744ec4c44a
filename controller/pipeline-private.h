/* The pipeline compiler's internals, shared by its files (pipeline.c
 * compiles, pipeline-digest.c digests what a compile reads).  Not for
 * other modules: they use pipeline.h. */
#ifndef WEFT_PIPELINE_PRIVATE_H
#define WEFT_PIPELINE_PRIVATE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pipeline.h"

struct policy_cidr;
struct policy_limit;
struct policy_rule;

/* The rate limit of one direction of a vNIC: the lowest rate of the
 * limits that cover it, 'by' NULL if none. */
struct vnic_limit {
    const struct policy_limit *by;
    uint32_t kbps;
    uint32_t burst_kbit;
};

struct vnic {
    const struct pipeline_vnic *v;
    size_t seg;                 /* Index in policy->segments. */
    size_t host;                /* Index in plan->hosts. */
    struct vnic_limit sends;    /* What it sends (limit ingress). */
    struct vnic_limit receives; /* What it receives (limit egress). */
};

/* What a rule's from= or to= stands for. */
struct endpoints {
    bool any;
    bool *vnics;                /* Indexed like plan->vnics. */
    size_t n_members;           /* Of 'vnics' that are true. */
    const struct policy_cidr **cidrs;
    size_t n_cidrs;
    bool *segs;                 /* Segments of the members (all if 'any'). */
    bool *whole_segs;           /* Segments named as a whole (a segment's
                                 * name, or a group's segments=): every
                                 * vNIC of theirs is a member, now and
                                 * later, so a flow can match them by
                                 * register instead of by MAC. */
    bool *vni_hosts;            /* Hosts with members in segments with a
                                 * VNI, indexed like plan->hosts. */
};

struct rule {
    const struct policy_rule *r;
    uint32_t conj_id;
    uint64_t cookie;
    struct endpoints from, to;
};

struct pipeline_plan {
    const struct pipeline_input *in;
    const struct policy *policy;
    size_t n_segs;

    struct vnic *vnics;         /* Sorted by host, tap. */
    size_t n_vnics;

    const char **hosts;         /* Hosts of 'vnics', sorted, unique. */
    size_t n_hosts;

    struct rule *rules;         /* Every rule of the policy, by name. */
    size_t n_rules;

    /* reach[s * n_segs + t]: segment s reaches segment t, i.e. broadcasts
     * and non-IP unicast may pass between them (symmetric).  reach_rule[]
     * is the first rule (in 'rules') that makes them reach, SIZE_MAX if
     * none does (the default within a non-isolated segment). */
    bool *reach;
    size_t *reach_rule;

    /* Per host (n_hosts * n_segs): host has vNICs of segment. */
    bool *host_segs;

    void *aux;                  /* The owner's. */
};

/* What depends on the host whose flows are computed. */
struct host_ctx {
    const struct pipeline_plan *plan;
    const char *name;
    bool *local;                /* Per vNIC. */
    int *vnic_tunnel;           /* Per vNIC: tunnel ofport to its host. */
    const struct pipeline_tunnel **tunnels; /* On this host, by peer. */
    size_t n_tunnels;
    bool *src_segs;             /* Segments that can be in reg6. */
    bool *local_segs;           /* Segments of the local vNICs. */
    int uplink;                 /* Uplink's OpenFlow port, 0 if none. */
    struct weft_flow_set *out;
};

/* Sets up 'h' for computing the flows of 'host' from 'plan' into 'out'
 * (which may be NULL if nothing is emitted); host_ctx_destroy() frees it. */
void pipeline_host_ctx_init(struct host_ctx *, const struct pipeline_plan *,
                            const char *host, struct weft_flow_set *out);
void pipeline_host_ctx_destroy(struct host_ctx *);

/* True if a local vNIC of 'h' may be one of 'e'. */
bool pipeline_may_be_local(const struct host_ctx *h,
                           const struct endpoints *e);

/* True if the flows of 'h' match the members of 'e' in segment 'seg' by
 * register (reg6 for sources, reg8 for destinations if 'dst') rather than
 * one flow per MAC. */
bool pipeline_segment_by_register(const struct host_ctx *h,
                                  const struct endpoints *e, size_t seg,
                                  bool dst);

/* True if 'e' stands for nothing (yet). */
bool pipeline_endpoints_is_empty(const struct endpoints *e);

/* The index of host 'name' in plan->hosts, -1 if it has no vNICs. */
ssize_t pipeline_find_host(const struct pipeline_plan *, const char *name);

#endif /* pipeline-private.h */
