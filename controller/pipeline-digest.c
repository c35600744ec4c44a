/* Digests of what computing one host's flows reads (see
 * pipeline_plan_host_digest() in pipeline.h).
 *
 * This file mirrors the emit_*() functions of pipeline.c: whatever one of
 * them reads for a host must be fed to the digest here, or a change to it
 * would leave that host's flows stale.  tests/unit/test-pipeline-digest.c
 * checks the pair on random changes, and weftd with
 * WEFT_CHECK_INCREMENTAL=1 (set by the integration tests) recomputes the
 * hosts it skipped and reports any difference. */
#include "pipeline.h"
#include "pipeline-private.h"

#include <string.h>

#include "policy.h"

struct digest {
    uint64_t hash;
};

static void
put_u64(struct digest *d, uint64_t value)
{
    /* Multiply, then fold the high bits down, so that every input bit
     * reaches every output bit within a few steps. */
    uint64_t h = (d->hash ^ value) * 0x9e3779b97f4a7c15ULL;
    d->hash = h ^ (h >> 31);
}

static void
put_str(struct digest *d, const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; s && *s; s++) {
        h = (h ^ (unsigned char) *s) * 0x100000001b3ULL;
    }
    put_u64(d, s ? h : 0);
}

/* The segments, and the app claims and IPFIX samples that name them:
 * every host reads all of them (changes are rare, so no host is spared). */
static void
put_segments(struct digest *d, const struct pipeline_plan *plan)
{
    const struct pipeline_input *in = plan->in;

    put_u64(d, plan->n_segs);
    for (size_t s = 0; s < plan->n_segs; s++) {
        const struct policy_segment *seg = &plan->policy->segments[s];
        put_str(d, seg->name);
        put_u64(d, seg->vlan);
        put_u64(d, seg->vni);
        put_u64(d, seg->isolated);
    }
    put_u64(d, in->n_claims);
    for (size_t i = 0; i < in->n_claims; i++) {
        put_str(d, in->claims[i].segment);
        put_u64(d, in->claims[i].table);
    }
    put_u64(d, in->n_samples);
    for (size_t i = 0; i < in->n_samples; i++) {
        put_str(d, in->samples[i].segment);
        put_u64(d, in->samples[i].collector_set_id);
        put_u64(d, in->samples[i].probability);
    }
    /* Which hosts have an uplink decides where flooding goes on a trunk. */
    put_u64(d, in->n_uplinks);
    for (size_t i = 0; i < in->n_uplinks; i++) {
        put_str(d, in->uplinks[i].host);
        put_u64(d, in->uplinks[i].ofport);
    }
}

static void
put_limit(struct digest *d, const struct vnic_limit *vl)
{
    put_u64(d, vl->by != NULL);
    put_u64(d, vl->by ? vl->kbps : 0);
    put_u64(d, vl->by ? vl->burst_kbit : 0);
}

/* The host's tunnels and uplink, its vNICs in full, and the remote vNICs
 * it has a path to (table 30 names their MACs, table 60 floods to their
 * hosts by their segments). */
static void
put_host(struct digest *d, const struct host_ctx *h)
{
    const struct pipeline_plan *plan = h->plan;

    put_str(d, h->name);
    put_u64(d, h->uplink);
    put_u64(d, h->n_tunnels);
    for (size_t i = 0; i < h->n_tunnels; i++) {
        put_str(d, h->tunnels[i]->peer);
        put_u64(d, h->tunnels[i]->ofport);
    }
    for (size_t s = 0; s < plan->n_segs; s++) {
        put_u64(d, h->src_segs[s]);
    }
    for (size_t i = 0; i < plan->n_vnics; i++) {
        const struct vnic *vn = &plan->vnics[i];
        const struct pipeline_vnic *v = vn->v;

        if (!h->local[i] && !h->vnic_tunnel[i]) {
            continue;
        }
        put_u64(d, h->local[i] ? 'L' : 'R');
        put_str(d, v->host);
        put_str(d, v->tap);
        put_str(d, v->mac);
        put_u64(d, vn->seg);
        if (!h->local[i]) {
            put_u64(d, h->vnic_tunnel[i]);
            continue;
        }
        put_u64(d, v->ofport);
        put_u64(d, v->n_ips);
        for (size_t j = 0; j < v->n_ips; j++) {
            put_str(d, v->ips[j]);
        }
        put_limit(d, &vn->sends);
        put_limit(d, &vn->receives);
    }
}

/* Which segments reach which, and the cookie of what makes them reach
 * (tables 40 and 60), for the pairs with a local end. */
static void
put_reach(struct digest *d, const struct host_ctx *h)
{
    const struct pipeline_plan *plan = h->plan;
    size_t n = plan->n_segs;

    for (size_t s = 0; s < n; s++) {
        for (size_t t = 0; t < n && h->src_segs[s]; t++) {
            size_t rule = plan->reach_rule[s * n + t];
            if (!h->local_segs[s] && !h->local_segs[t]) {
                continue;       /* No flow for it (emit_acl, emit_flood). */
            }
            put_u64(d, plan->reach[s * n + t]);
            put_u64(d, rule == SIZE_MAX ? 0 : plan->rules[rule].cookie);
        }
    }
}

/* One side of a rule as emit_rule() writes it on this host: the segments
 * it matches by register, and the MACs of the other members (all, or only
 * the local ones if 'local_only'). */
static void
put_endpoints(struct digest *d, const struct host_ctx *h,
              const struct endpoints *e, bool dst, bool local_only)
{
    const struct pipeline_plan *plan = h->plan;

    put_u64(d, e->any);
    put_u64(d, e->n_cidrs);
    for (size_t i = 0; i < e->n_cidrs; i++) {
        const struct policy_cidr *c = e->cidrs[i];
        put_u64(d, c->ipv6);
        put_u64(d, c->plen);
        for (size_t j = 0; j < sizeof c->addr; j++) {
            put_u64(d, c->addr[j]);
        }
    }
    if (e->any) {
        return;
    }
    for (size_t s = 0; s < plan->n_segs; s++) {
        put_u64(d, 2 * pipeline_segment_by_register(h, e, s, dst)
                   + (dst || h->src_segs[s]));
    }
    for (size_t i = 0; i < plan->n_vnics; i++) {
        if (e->vnics[i] && (h->local[i] || !local_only)
            && !pipeline_segment_by_register(h, e, plan->vnics[i].seg,
                                             dst)) {
            put_str(d, plan->vnics[i].v->mac);
        }
    }
    put_u64(d, '.');
}

/* The rules that have flows on this host (table 41), in order: the order
 * in which shared dimension flows merge their conjunction actions. */
static void
put_rules(struct digest *d, const struct host_ctx *h)
{
    const struct pipeline_plan *plan = h->plan;

    for (size_t i = 0; i < plan->n_rules; i++) {
        const struct rule *r = &plan->rules[i];
        const struct policy_rule *pr = r->r;

        if (pipeline_endpoints_is_empty(&r->from)
            || pipeline_endpoints_is_empty(&r->to)) {
            continue;
        }
        bool from_local = pipeline_may_be_local(h, &r->from);
        bool to_local = pipeline_may_be_local(h, &r->to);
        if (!from_local && !to_local) {
            continue;
        }
        put_u64(d, r->cookie);
        put_u64(d, r->conj_id);
        put_u64(d, pr->action);
        put_u64(d, pr->proto);
        put_u64(d, pr->priority);
        put_u64(d, pr->stateful);
        put_u64(d, pr->n_ports);
        for (size_t j = 0; j < pr->n_ports; j++) {
            put_u64(d, pr->ports[j].min);
            put_u64(d, pr->ports[j].max);
        }
        put_endpoints(d, h, &r->from, false, !to_local);
        put_endpoints(d, h, &r->to, true, !from_local);
    }
}

uint64_t
pipeline_plan_host_digest(const struct pipeline_plan *plan, const char *host)
{
    struct digest d = { 0x57656674ULL };     /* "Weft" */
    struct host_ctx h;

    if (!host) {
        return 0;
    }
    pipeline_host_ctx_init(&h, plan, host, NULL);
    put_segments(&d, plan);
    put_host(&d, &h);
    put_reach(&d, &h);
    put_rules(&d, &h);
    pipeline_host_ctx_destroy(&h);
    return d.hash;
}
