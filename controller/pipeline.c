/* The pipeline compiler (see pipeline.h; the tables are described in
 * docs/pipeline.md).
 *
 * A plan holds what does not depend on the host: the valid vNICs in a
 * canonical order (so that nothing depends on the order of the input),
 * each rule's endpoints resolved to vNICs and CIDRs, conjunction IDs, and
 * which segments reach which.  Computing a host's flows then adds what
 * depends on the host (its vNICs and tunnels), emits each table, merges
 * the flows that OVS would take for one (conjunction dimensions that
 * several rules share) and sorts. */
#include "pipeline.h"
#include "pipeline-private.h"
#include "policy.h"
#include "policy-match.h"
#include "sbuf.h"
#include "xalloc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

/* reg9's value for a destination reached through the uplink (an OpenFlow
 * port number OVS never assigns to a port). */
#define UPLINK_MARK 65534

static int
uplink_of(const struct pipeline_plan *plan, const char *host)
{
    for (size_t i = 0; i < plan->in->n_uplinks; i++) {
        const struct pipeline_uplink *u = &plan->in->uplinks[i];
        if (!strcmp(u->host, host) && u->ofport > 0) {
            return u->ofport;
        }
    }
    return 0;
}

static uint64_t hash_name(const char *, const char *);
static uint64_t cookie_id(uint64_t hash);
static void compute_host(const struct pipeline_plan *, const char *host,
                         struct weft_flow_set *out);

void
pipeline_compute_host(const struct pipeline_input *in, const char *host,
                      struct weft_flow_set *out)
{
    struct pipeline_plan *plan = pipeline_plan_create(in);
    pipeline_plan_compute_host(plan, host, out);
    pipeline_plan_destroy(plan);
}

bool
pipeline_hosts_need_tunnel(const struct pipeline_input *in,
                           const char *a, const char *b)
{
    struct pipeline_plan *plan = pipeline_plan_create(in);
    bool need = pipeline_plan_hosts_need_tunnel(plan, a, b);
    pipeline_plan_destroy(plan);
    return need;
}

/* Plans. */

static void plan_vnics(struct pipeline_plan *);
static void plan_rules(struct pipeline_plan *);
static void plan_reach(struct pipeline_plan *);
static void plan_limits(struct pipeline_plan *);
static void endpoints_destroy(struct endpoints *);
static const struct policy_rule **sorted_rules(const struct policy *);
static void assign_conj_ids(const struct policy_rule *const *rules,
                            size_t n, uint32_t *ids);

struct pipeline_plan *
pipeline_plan_create(const struct pipeline_input *in)
{
    static const struct policy empty_policy;
    struct pipeline_plan *plan = xzalloc(sizeof *plan);

    plan->in = in;
    plan->policy = in->policy ? in->policy : &empty_policy;
    plan->n_segs = plan->policy->n_segments;
    plan_vnics(plan);
    plan_rules(plan);
    plan_reach(plan);
    plan_limits(plan);
    return plan;
}

void
pipeline_plan_destroy(struct pipeline_plan *plan)
{
    if (!plan) {
        return;
    }
    for (size_t i = 0; i < plan->n_rules; i++) {
        endpoints_destroy(&plan->rules[i].from);
        endpoints_destroy(&plan->rules[i].to);
    }
    free(plan->rules);
    free(plan->vnics);
    free(plan->hosts);
    free(plan->reach);
    free(plan->reach_rule);
    free(plan->host_segs);
    free(plan);
}

void
pipeline_plan_compute_host(const struct pipeline_plan *plan,
                           const char *host, struct weft_flow_set *out)
{
    weft_flow_set_clear(out);
    compute_host(plan, host, out);
}

bool
pipeline_plan_hosts_need_tunnel(const struct pipeline_plan *plan,
                                const char *a_name, const char *b_name)
{
    ssize_t a = pipeline_find_host(plan, a_name);
    ssize_t b = pipeline_find_host(plan, b_name);

    if (a < 0 || b < 0 || a == b) {
        return false;
    }
    for (size_t s = 0; s < plan->n_segs; s++) {
        if (plan->policy->segments[s].vni
            && plan->host_segs[a * plan->n_segs + s]
            && plan->host_segs[b * plan->n_segs + s]) {
            return true;
        }
    }
    for (size_t i = 0; i < plan->n_rules; i++) {
        const struct rule *r = &plan->rules[i];
        if (r->r->action != POLICY_ALLOW) {
            continue;
        }
        if ((r->from.vni_hosts[a] && r->to.vni_hosts[b])
            || (r->from.vni_hosts[b] && r->to.vni_hosts[a])) {
            return true;
        }
    }
    return false;
}

uint64_t
pipeline_vnic_cookie(const char *host, const char *tap)
{
    return weft_cookie(WEFT_COOKIE_VNIC, cookie_id(hash_name(host, tap)));
}

uint64_t
pipeline_segment_cookie(const char *segment)
{
    return weft_cookie(WEFT_COOKIE_SEGMENT,
                       cookie_id(hash_name(segment, NULL)));
}

uint64_t
pipeline_rule_cookie(const char *rule)
{
    return weft_cookie(WEFT_COOKIE_RULE, cookie_id(hash_name(rule, NULL)));
}

uint64_t
pipeline_tunnel_cookie(const char *peer)
{
    return weft_cookie(WEFT_COOKIE_TUNNEL, cookie_id(hash_name(peer, NULL)));
}

uint32_t
pipeline_conj_id(const struct policy *policy, const char *name)
{
    const struct policy_rule **rules = sorted_rules(policy);
    uint32_t *ids = xcalloc(policy->n_rules, sizeof *ids);
    uint32_t id = 0;

    assign_conj_ids(rules, policy->n_rules, ids);
    for (size_t i = 0; i < policy->n_rules; i++) {
        if (!strcmp(rules[i]->name, name)) {
            id = ids[i];
        }
    }
    free(ids);
    free(rules);
    return id;
}

int
pipeline_rule_priority(int priority, bool deny, bool stateful)
{
    if (priority < POLICY_PRIORITY_MIN) {
        priority = POLICY_PRIORITY_MIN;
    } else if (priority > POLICY_PRIORITY_MAX) {
        priority = POLICY_PRIORITY_MAX;
    }
    return 1000 + 3 * priority + (deny ? 2 : stateful ? 1 : 0);
}

/* Hashes. */

#define FNV_BASIS 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t
fnv(uint64_t hash, const char *s)
{
    for (; s && *s; s++) {
        hash = (hash ^ (unsigned char) *s) * FNV_PRIME;
    }
    return hash;
}

/* FNV-1a of 'a', or of "A/B" if 'b' is nonnull. */
static uint64_t
hash_name(const char *a, const char *b)
{
    uint64_t hash = fnv(FNV_BASIS, a);
    if (b) {
        hash = fnv(fnv(hash, "/"), b);
    }
    return hash;
}

static uint64_t
cookie_id(uint64_t hash)
{
    return (hash ^ (hash >> 48)) & 0xffffffffffffULL;
}

/* Strings. */

static int
strcmp_null(const char *a, const char *b)
{
    return !a || !b ? (a != NULL) - (b != NULL) : strcmp(a, b);
}

/* The vNICs of a plan. */

static int
compare_vnic_ptrs(const void *a_, const void *b_)
{
    const struct pipeline_vnic *a = *(const struct pipeline_vnic **) a_;
    const struct pipeline_vnic *b = *(const struct pipeline_vnic **) b_;
    int cmp;

    /* A total order on everything that ends up in flows, so that the
     * plan does not depend on the input's order even when the input has
     * duplicates. */
    if ((cmp = strcmp(a->host, b->host))
        || (cmp = strcmp(a->tap, b->tap))
        || (cmp = strcasecmp(a->mac, b->mac))
        || (cmp = strcmp(a->segment, b->segment))
        || (cmp = strcmp_null(a->vm, b->vm))) {
        return cmp;
    }
    return a->ofport < b->ofport ? -1 : a->ofport > b->ofport;
}

static int
compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* A vNIC and its place in the canonical order. */
struct vnic_ref {
    const struct pipeline_vnic *v;
    size_t idx;
};

static int
compare_idx(const struct vnic_ref *a, const struct vnic_ref *b)
{
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static bool
same_mac(const struct vnic_ref *a, const struct vnic_ref *b)
{
    return !strcasecmp(a->v->mac, b->v->mac);
}

static int
compare_macs(const void *a, const void *b)
{
    int cmp = strcasecmp(((const struct vnic_ref *) a)->v->mac,
                         ((const struct vnic_ref *) b)->v->mac);
    return cmp ? cmp : compare_idx(a, b);
}

static bool
same_port(const struct vnic_ref *a, const struct vnic_ref *b)
{
    return a->v->ofport == b->v->ofport && !strcmp(a->v->host, b->v->host);
}

static int
compare_ports(const void *a_, const void *b_)
{
    const struct vnic_ref *a = a_;
    const struct vnic_ref *b = b_;
    int cmp = strcmp(a->v->host, b->v->host);

    if (cmp) {
        return cmp;
    }
    if (a->v->ofport != b->v->ofport) {
        return a->v->ofport < b->v->ofport ? -1 : 1;
    }
    return compare_idx(a, b);
}

/* Sorts 'refs' with 'compare' (a key, then 'idx') and marks in 'dead' each
 * one with the same key as the one before. */
static void
mark_clashes(struct vnic_ref *refs, size_t n,
             int (*compare)(const void *, const void *),
             bool (*same)(const struct vnic_ref *, const struct vnic_ref *),
             bool *dead)
{
    qsort(refs, n, sizeof *refs, compare);
    for (size_t i = 1; i < n; i++) {
        if (same(&refs[i - 1], &refs[i])) {
            dead[refs[i].idx] = true;
        }
    }
}

/* Keeps the input's vNICs that can get flows, sorted by host and tap, and
 * drops each one that clashes with one before it in that order: the same
 * host and tap, the same MAC (anywhere), or the same OpenFlow port on one
 * host.  The inventory refuses such clashes, so this only keeps the
 * compiler from producing conflicting flows when handed them anyway. */
static void
plan_vnics(struct pipeline_plan *plan)
{
    const struct pipeline_input *in = plan->in;
    const struct pipeline_vnic **valid = xcalloc(in->n_vnics,
                                                 sizeof *valid);
    size_t n = 0;

    for (size_t i = 0; i < in->n_vnics; i++) {
        const struct pipeline_vnic *v = &in->vnics[i];
        if (v->host && v->tap && v->mac && v->segment && v->ofport > 0
            && policy_find_segment(plan->policy, v->segment)) {
            valid[n++] = v;
        }
    }
    qsort(valid, n, sizeof *valid, compare_vnic_ptrs);

    struct vnic_ref *refs = xcalloc(n, sizeof *refs);
    bool *dead = xcalloc(n, sizeof *dead);
    for (size_t i = 0; i < n; i++) {
        refs[i] = (struct vnic_ref) { valid[i], i };
        dead[i] = i && !strcmp(valid[i]->host, valid[i - 1]->host)
                  && !strcmp(valid[i]->tap, valid[i - 1]->tap);
    }
    mark_clashes(refs, n, compare_macs, same_mac, dead);
    mark_clashes(refs, n, compare_ports, same_port, dead);
    free(refs);

    plan->vnics = xcalloc(n, sizeof *plan->vnics);
    for (size_t i = 0; i < n; i++) {
        if (!dead[i]) {
            const struct policy_segment *s
                = policy_find_segment(plan->policy, valid[i]->segment);
            plan->vnics[plan->n_vnics++] = (struct vnic) {
                .v = valid[i],
                .seg = s - plan->policy->segments,
            };
        }
    }
    free(dead);
    free(valid);

    plan->hosts = xcalloc(plan->n_vnics, sizeof *plan->hosts);
    for (size_t i = 0; i < plan->n_vnics; i++) {
        const char *host = plan->vnics[i].v->host;
        if (!plan->n_hosts || strcmp(plan->hosts[plan->n_hosts - 1], host)) {
            plan->hosts[plan->n_hosts++] = host;
        }
        plan->vnics[i].host = plan->n_hosts - 1;
    }

    plan->host_segs = xcalloc(plan->n_hosts * plan->n_segs + 1,
                              sizeof *plan->host_segs);
    for (size_t i = 0; i < plan->n_vnics; i++) {
        const struct vnic *v = &plan->vnics[i];
        plan->host_segs[v->host * plan->n_segs + v->seg] = true;
    }
}

ssize_t
pipeline_find_host(const struct pipeline_plan *plan, const char *name)
{
    const char **p = (plan->n_hosts && name
                      ? bsearch(&name, plan->hosts, plan->n_hosts,
                                sizeof *plan->hosts, compare_strings)
                      : NULL);
    return p ? p - plan->hosts : -1;
}

/* Rules and groups. */

static int
compare_rule_ptrs(const void *a_, const void *b_)
{
    const struct policy_rule *const *a = a_;
    const struct policy_rule *const *b = b_;
    return strcmp((*a)->name, (*b)->name);
}

/* Stores in 'ids[i]' the conjunction ID of 'rules[i]', which must be
 * sorted by name. */
static void
assign_conj_ids(const struct policy_rule *const *rules, size_t n,
                uint32_t *ids)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t h = hash_name(rules[i]->name, NULL);
        uint32_t id = (uint32_t) (h ^ (h >> 32));
        for (;;) {
            bool taken = !id;
            for (size_t j = 0; j < i && !taken; j++) {
                taken = ids[j] == id;
            }
            if (!taken) {
                break;
            }
            id++;
        }
        ids[i] = id;
    }
}

static const struct policy_rule **
sorted_rules(const struct policy *policy)
{
    const struct policy_rule **rules = xcalloc(policy->n_rules,
                                               sizeof *rules);
    for (size_t i = 0; i < policy->n_rules; i++) {
        rules[i] = &policy->rules[i];
    }
    qsort(rules, policy->n_rules, sizeof *rules, compare_rule_ptrs);
    return rules;
}

static bool
cidr_equal(const struct policy_cidr *a, const struct policy_cidr *b)
{
    return (a->ipv6 == b->ipv6 && a->plen == b->plen
            && !memcmp(a->addr, b->addr, a->ipv6 ? 16 : 4));
}

static void
endpoints_add_cidr(struct endpoints *e, const struct policy_cidr *cidr)
{
    for (size_t i = 0; i < e->n_cidrs; i++) {
        if (cidr_equal(e->cidrs[i], cidr)) {
            return;
        }
    }
    e->cidrs = xrealloc(e->cidrs, (e->n_cidrs + 1) * sizeof *e->cidrs);
    e->cidrs[e->n_cidrs++] = cidr;
}

static bool
group_has_vnic(const struct policy_group *g, const struct vnic *vnic,
               const struct policy *policy)
{
    const struct pipeline_vnic *v = vnic->v;
    const struct policy_member m = {
        .segment = policy->segments[vnic->seg].name,
        .tap = v->tap,
        .mac = v->mac,
        .labels = v->labels,
        .n_labels = v->n_labels,
    };
    return policy_group_lists(g, &m);
}

/* Adds to 'e' what 'name' (a group, a segment or "any") stands for.  The
 * policy has no group loops; 'depth' guards against them anyway. */
static void
endpoints_add_name(const struct pipeline_plan *plan, const char *name,
                   struct endpoints *e, int depth)
{
    const struct policy *policy = plan->policy;

    if (depth > 64) {
        return;
    }
    if (!strcmp(name, "any")) {
        e->any = true;
        return;
    }

    const struct policy_group *g = policy_find_group(policy, name);
    if (g) {
        for (size_t i = 0; i < g->n_segments; i++) {
            const struct policy_segment *s
                = policy_find_segment(policy, g->segments[i]);
            if (s) {
                e->whole_segs[s - policy->segments] = true;
            }
        }
        for (size_t i = 0; i < plan->n_vnics; i++) {
            if (!e->vnics[i] && group_has_vnic(g, &plan->vnics[i], policy)) {
                e->vnics[i] = true;
            }
        }
        for (size_t i = 0; i < g->n_cidrs; i++) {
            endpoints_add_cidr(e, &g->cidrs[i]);
        }
        for (size_t i = 0; i < g->n_groups; i++) {
            endpoints_add_name(plan, g->groups[i], e, depth + 1);
        }
        return;
    }

    const struct policy_segment *s = policy_find_segment(policy, name);
    if (s) {
        e->whole_segs[s - policy->segments] = true;
        for (size_t i = 0; i < plan->n_vnics; i++) {
            if (plan->vnics[i].seg == (size_t) (s - policy->segments)) {
                e->vnics[i] = true;
            }
        }
    }
}

static void
endpoints_resolve(const struct pipeline_plan *plan, const char *name,
                  struct endpoints *e)
{
    memset(e, 0, sizeof *e);
    e->vnics = xcalloc(plan->n_vnics, sizeof *e->vnics);
    e->segs = xcalloc(plan->n_segs, sizeof *e->segs);
    e->whole_segs = xcalloc(plan->n_segs, sizeof *e->whole_segs);
    e->vni_hosts = xcalloc(plan->n_hosts, sizeof *e->vni_hosts);
    endpoints_add_name(plan, name, e, 0);
    for (size_t i = 0; i < plan->n_vnics; i++) {
        const struct vnic *v = &plan->vnics[i];
        if (e->any || e->vnics[i]) {
            e->segs[v->seg] = true;
            if (plan->policy->segments[v->seg].vni) {
                e->vni_hosts[v->host] = true;
            }
        }
        e->n_members += e->vnics[i];
    }
}

bool
pipeline_endpoints_is_empty(const struct endpoints *e)
{
    return !e->any && !e->n_members && !e->n_cidrs;
}

static void
endpoints_destroy(struct endpoints *e)
{
    free(e->vnics);
    free(e->cidrs);
    free(e->segs);
    free(e->whole_segs);
    free(e->vni_hosts);
}

static void
plan_rules(struct pipeline_plan *plan)
{
    const struct policy *policy = plan->policy;
    const struct policy_rule **rules = sorted_rules(policy);
    uint32_t *ids = xcalloc(policy->n_rules, sizeof *ids);

    assign_conj_ids(rules, policy->n_rules, ids);
    plan->rules = xcalloc(policy->n_rules, sizeof *plan->rules);
    plan->n_rules = policy->n_rules;
    for (size_t i = 0; i < policy->n_rules; i++) {
        struct rule *r = &plan->rules[i];

        r->r = rules[i];
        r->conj_id = ids[i];
        r->cookie = pipeline_rule_cookie(rules[i]->name);
        endpoints_resolve(plan, rules[i]->from, &r->from);
        endpoints_resolve(plan, rules[i]->to, &r->to);
    }
    free(ids);
    free(rules);
}

/* Segments reach each other when an allow rule covers vNICs of one as
 * sources and of the other as destinations, in either direction: the
 * destination must answer the source's ARP requests and, to send its
 * replies, resolve the source's address itself. */
static void
plan_reach(struct pipeline_plan *plan)
{
    size_t n = plan->n_segs;

    plan->reach = xcalloc(n * n + 1, sizeof *plan->reach);
    plan->reach_rule = xcalloc(n * n + 1, sizeof *plan->reach_rule);
    for (size_t s = 0; s < n; s++) {
        for (size_t t = 0; t < n; t++) {
            plan->reach[s * n + t] = (s == t
                                      && !plan->policy->segments[s].isolated);
            plan->reach_rule[s * n + t] = SIZE_MAX;
        }
    }
    for (size_t i = 0; i < plan->n_rules; i++) {
        const struct rule *r = &plan->rules[i];
        if (r->r->action != POLICY_ALLOW) {
            continue;
        }
        for (size_t s = 0; s < n; s++) {
            for (size_t t = 0; t < n && r->from.segs[s]; t++) {
                if (!r->to.segs[t] || plan->reach[s * n + t]) {
                    continue;
                }
                plan->reach[s * n + t] = plan->reach[t * n + s] = true;
                plan->reach_rule[s * n + t] = i;
                plan->reach_rule[t * n + s] = i;
            }
        }
    }
}

/* Rate limits. */

static void
tighten(struct vnic_limit *vl, const struct policy_limit *l)
{
    if (!vl->by || l->rate_kbps < vl->kbps) {
        vl->by = l;
        vl->kbps = l->rate_kbps;
        vl->burst_kbit = policy_limit_burst(l);
    }
}

/* Each vNIC gets, in each direction, the lowest rate of the limits that
 * cover it: the strictest wins, whatever the order of the policy. */
static void
plan_limits(struct pipeline_plan *plan)
{
    const struct policy *p = plan->policy;

    for (size_t i = 0; i < plan->n_vnics && p->n_limits; i++) {
        struct vnic *vn = &plan->vnics[i];
        const struct policy_member m = {
            .segment = p->segments[vn->seg].name,
            .tap = vn->v->tap,
            .mac = vn->v->mac,
            .vm = vn->v->vm,
            .labels = vn->v->labels,
            .n_labels = vn->v->n_labels,
        };
        for (size_t j = 0; j < p->n_limits; j++) {
            const struct policy_limit *l = &p->limits[j];
            if (!policy_targets_include(p, l->targets, l->n_targets, &m)) {
                continue;
            }
            if (l->direction != POLICY_DIRECTION_EGRESS) {
                tighten(&vn->sends, l);
            }
            if (l->direction != POLICY_DIRECTION_INGRESS) {
                tighten(&vn->receives, l);
            }
        }
    }
}

uint32_t
pipeline_meter_id(int ofport, bool receives)
{
    return (WEFT_METER_MARK_VALUE | (receives ? 0x10000 : 0)
            | (ofport & 0xffff));
}

/* Adds the meter of 'vl' for 'ofport' to the host's set and returns the
 * action that applies it ("meter:ID,"), or "" without a limit. */
static const char *
meter_action(struct weft_flow_set *out, const struct vnic_limit *vl,
             int ofport, bool receives, char buf[32])
{
    if (!vl->by) {
        return "";
    }
    struct weft_meter m = {
        .id = pipeline_meter_id(ofport, receives),
        .kbps = vl->kbps,
        .burst_kbit = vl->burst_kbit,
    };
    weft_flow_set_add_meter(out, &m);
    snprintf(buf, 32, "meter:%"PRIu32",", m.id);
    return buf;
}

/* The sample() action for what a vNIC of segment 'seg' sends on 'ofport'
 * ("sample(...)," or ""), into 'buf'. */
static const char *
sample_action(const struct host_ctx *h, const struct policy_segment *seg,
              int ofport, char *buf, size_t size)
{
    for (size_t i = 0; i < h->plan->in->n_samples; i++) {
        const struct pipeline_sample *s = &h->plan->in->samples[i];
        if (!strcmp(s->segment, seg->name) && s->probability) {
            snprintf(buf, size, "sample(probability=%"PRIu16","
                     "collector_set_id=%"PRIu32",obs_domain_id=%d,"
                     "obs_point_id=%d),", s->probability,
                     s->collector_set_id, seg->vlan, ofport);
            return buf;
        }
    }
    return "";
}

/* Emitting flows. */

static void
add_flow(struct host_ctx *h, enum pipeline_table table, int priority,
         uint64_t cookie, const char *match, const char *actions)
{
    weft_flow_set_add(h->out, table, priority, cookie, match, actions);
}

static void add_flowf(struct host_ctx *, enum pipeline_table, int priority,
                      uint64_t cookie, const char *actions,
                      const char *match_format, ...)
    __attribute__((format(printf, 6, 7)));

/* Like add_flow(), with the match formatted. */
static void
add_flowf(struct host_ctx *h, enum pipeline_table table, int priority,
          uint64_t cookie, const char *actions, const char *match_format,
          ...)
{
    char match[256];
    va_list args;

    va_start(args, match_format);
    vsnprintf(match, sizeof match, match_format, args);
    va_end(args);
    add_flow(h, table, priority, cookie, match, actions);
}

static uint64_t
default_cookie(void)
{
    return weft_cookie(WEFT_COOKIE_PIPELINE, 0);
}

static const struct policy_segment *
segment(const struct host_ctx *h, size_t seg)
{
    return &h->plan->policy->segments[seg];
}

static const struct pipeline_vnic *
vnic(const struct host_ctx *h, size_t i)
{
    return h->plan->vnics[i].v;
}

static uint64_t
vnic_cookie(const struct host_ctx *h, size_t i)
{
    return pipeline_vnic_cookie(vnic(h, i)->host, vnic(h, i)->tap);
}

/* Table 0: where a packet comes from. */
static void
emit_classify(struct host_ctx *h)
{
    const struct pipeline_plan *plan = h->plan;
    char actions[256];
    char meter[32];
    char sample[128];

    for (size_t i = 0; i < plan->n_vnics; i++) {
        if (h->local[i]) {
            int port = vnic(h, i)->ofport;
            const struct policy_segment *seg = segment(h, plan->vnics[i].seg);
            snprintf(actions, sizeof actions,
                     "%s%sset_field:%d->reg5,set_field:%d->reg6,"
                     "goto_table:%d",
                     meter_action(h->out, &plan->vnics[i].sends, port, false,
                                  meter),
                     sample_action(h, seg, port, sample, sizeof sample),
                     port, seg->vlan, PIPELINE_T_PORT_SECURITY);
            add_flowf(h, PIPELINE_T_CLASSIFY, 100, vnic_cookie(h, i),
                      actions, "in_port=%d", vnic(h, i)->ofport);
        }
    }
    for (size_t i = 0; i < h->n_tunnels; i++) {
        const struct pipeline_tunnel *t = h->tunnels[i];
        for (size_t s = 0; s < plan->n_segs; s++) {
            if (segment(h, s)->vni) {
                snprintf(actions, sizeof actions,
                         "set_field:%d->reg6,goto_table:%d",
                         segment(h, s)->vlan, PIPELINE_T_L2_LOOKUP);
                add_flowf(h, PIPELINE_T_CLASSIFY, 100,
                          pipeline_tunnel_cookie(t->peer), actions,
                          "in_port=%d,tun_id=%"PRIu32, t->ofport,
                          segment(h, s)->vni);
            }
        }
    }
    /* Tagged frames from the trunk: segments without a VNI, by VLAN. */
    for (size_t s = 0; s < plan->n_segs && h->uplink; s++) {
        if (!segment(h, s)->vni) {
            snprintf(actions, sizeof actions,
                     "strip_vlan,set_field:%d->reg6,goto_table:%d",
                     segment(h, s)->vlan, PIPELINE_T_L2_LOOKUP);
            add_flowf(h, PIPELINE_T_CLASSIFY, 100,
                      pipeline_segment_cookie(segment(h, s)->name), actions,
                      "in_port=%d,dl_vlan=%d", h->uplink,
                      segment(h, s)->vlan);
        }
    }
    add_flow(h, PIPELINE_T_CLASSIFY, 0, default_cookie(), "", "drop");
}

/* A vNIC with known IPv4 addresses sends IPv4 and ARP only from them
 * (and DHCP discovery and ARP probes from 0.0.0.0, which come before an
 * address is configured). */
static void
emit_ipv4_security(struct host_ctx *h, const struct pipeline_vnic *v,
                   uint64_t cookie, const char *next)
{
    for (size_t j = 0; j < v->n_ips; j++) {
        if (!strchr(v->ips[j], ':')) {
            add_flowf(h, PIPELINE_T_PORT_SECURITY, 100, cookie, next,
                      "reg5=%d,dl_src=%s,arp,arp_sha=%s,arp_spa=%s",
                      v->ofport, v->mac, v->mac, v->ips[j]);
            add_flowf(h, PIPELINE_T_PORT_SECURITY, 86, cookie, next,
                      "reg5=%d,dl_src=%s,ip,nw_src=%s",
                      v->ofport, v->mac, v->ips[j]);
        }
    }
    add_flowf(h, PIPELINE_T_PORT_SECURITY, 100, cookie, next,
              "reg5=%d,dl_src=%s,arp,arp_sha=%s,arp_spa=0.0.0.0",
              v->ofport, v->mac, v->mac);
    add_flowf(h, PIPELINE_T_PORT_SECURITY, 86, cookie, next,
              "reg5=%d,dl_src=%s,udp,nw_src=0.0.0.0,tp_src=68,tp_dst=67",
              v->ofport, v->mac);
    add_flowf(h, PIPELINE_T_PORT_SECURITY, 85, cookie, "drop",
              "reg5=%d,ip", v->ofport);
}

/* The same for IPv6: its addresses, plus link-local ones (neighbor
 * discovery needs them) and the unspecified one (duplicate address
 * detection). */
static void
emit_ipv6_security(struct host_ctx *h, const struct pipeline_vnic *v,
                   uint64_t cookie, const char *next)
{
    for (size_t j = 0; j < v->n_ips; j++) {
        if (strchr(v->ips[j], ':')) {
            add_flowf(h, PIPELINE_T_PORT_SECURITY, 86, cookie, next,
                      "reg5=%d,dl_src=%s,ipv6,ipv6_src=%s",
                      v->ofport, v->mac, v->ips[j]);
        }
    }
    add_flowf(h, PIPELINE_T_PORT_SECURITY, 86, cookie, next,
              "reg5=%d,dl_src=%s,ipv6,ipv6_src=fe80::/10", v->ofport, v->mac);
    add_flowf(h, PIPELINE_T_PORT_SECURITY, 86, cookie, next,
              "reg5=%d,dl_src=%s,ipv6,ipv6_src=::", v->ofport, v->mac);
    add_flowf(h, PIPELINE_T_PORT_SECURITY, 85, cookie, "drop",
              "reg5=%d,ipv6", v->ofport);
}

/* Table 10: a vNIC sends only from its own MAC, and ARP only with it. */
static void
emit_port_security(struct host_ctx *h)
{
    char next[32];

    snprintf(next, sizeof next, "goto_table:%d", PIPELINE_T_L2_LOOKUP);
    for (size_t i = 0; i < h->plan->n_vnics; i++) {
        if (h->local[i]) {
            const struct pipeline_vnic *v = vnic(h, i);
            uint64_t cookie = vnic_cookie(h, i);

            bool v4 = false, v6 = false;
            for (size_t j = 0; j < v->n_ips; j++) {
                bool is_v6 = strchr(v->ips[j], ':') != NULL;
                v4 |= !is_v6;
                v6 |= is_v6;
            }
            if (v4) {
                emit_ipv4_security(h, v, cookie, next);
            } else {
                add_flowf(h, PIPELINE_T_PORT_SECURITY, 100, cookie, next,
                          "reg5=%d,dl_src=%s,arp,arp_sha=%s",
                          v->ofport, v->mac, v->mac);
            }
            if (v6) {
                emit_ipv6_security(h, v, cookie, next);
            }
            add_flowf(h, PIPELINE_T_PORT_SECURITY, 90, cookie, "drop",
                      "reg5=%d,arp", v->ofport);
            add_flowf(h, PIPELINE_T_PORT_SECURITY, 80, cookie, next,
                      "reg5=%d,dl_src=%s", v->ofport, v->mac);
        }
    }
    add_flow(h, PIPELINE_T_PORT_SECURITY, 0, default_cookie(), "", "drop");
}

/* Table 30, above the MACs: the traffic of a segment that an app claimed
 * goes to the app, on hosts with members of the segment. */
static void
emit_claims(struct host_ctx *h)
{
    const struct pipeline_plan *plan = h->plan;
    for (size_t c = 0; c < plan->in->n_claims; c++) {
        const struct pipeline_claim *claim = &plan->in->claims[c];
        for (size_t i = 0; i < plan->n_vnics; i++) {
            const struct policy_segment *seg
                = segment(h, plan->vnics[i].seg);
            if (h->local[i] && !strcmp(seg->name, claim->segment)) {
                char actions[32];
                snprintf(actions, sizeof actions, "goto_table:%d",
                         claim->table);
                add_flowf(h, PIPELINE_T_L2_LOOKUP, 200,
                          pipeline_segment_cookie(seg->name), actions,
                          "reg6=%d", seg->vlan);
                break;
            }
        }
    }
}

/* Table 30: every reachable vNIC's MAC, proactively. */
static void
emit_l2_lookup(struct host_ctx *h)
{
    const struct pipeline_plan *plan = h->plan;
    char actions[160];
    char next[32];

    for (size_t i = 0; i < plan->n_vnics; i++) {
        const struct pipeline_vnic *v = vnic(h, i);
        int port = h->local[i] ? v->ofport : 0;
        int tunnel = h->local[i] ? 0 : h->vnic_tunnel[i];

        if (!port && !tunnel) {
            continue;           /* On a host we have no tunnel to. */
        }
        snprintf(actions, sizeof actions,
                 "set_field:%d->reg7,set_field:%d->reg8,set_field:%d->reg9,"
                 "goto_table:%d", port, segment(h, plan->vnics[i].seg)->vlan,
                 tunnel, PIPELINE_T_ACL);
        add_flowf(h, PIPELINE_T_L2_LOOKUP, 100, vnic_cookie(h, i), actions,
                  "dl_dst=%s", v->mac);
    }
    emit_claims(h);
    snprintf(next, sizeof next, "goto_table:%d", PIPELINE_T_FLOOD);
    add_flow(h, PIPELINE_T_L2_LOOKUP, 90, default_cookie(),
             "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00", next);
    add_flow(h, PIPELINE_T_L2_LOOKUP, 0, default_cookie(), "", "drop");
}

/* The cookie of the flows that let segments 's' and 't' reach each
 * other. */
static uint64_t
reach_cookie(const struct host_ctx *h, size_t s, size_t t)
{
    const struct pipeline_plan *plan = h->plan;
    size_t rule = plan->reach_rule[s * plan->n_segs + t];

    return (rule == SIZE_MAX
            ? pipeline_segment_cookie(segment(h, s)->name)
            : plan->rules[rule].cookie);
}

/* Table 40: IP goes through conntrack, non-IP passes between segments
 * that reach each other.  What came from a tunnel for another host is
 * dropped first, before it can make conntrack entries here. */
static void
emit_acl(struct host_ctx *h)
{
    const struct pipeline_plan *plan = h->plan;
    size_t n = plan->n_segs;
    char ct[64];
    char next[32];

    add_flow(h, PIPELINE_T_ACL, 110, default_cookie(), "reg5=0,reg7=0",
             "drop");
    snprintf(ct, sizeof ct, "ct(zone=%d,table=%d)", PIPELINE_CT_ZONE,
             PIPELINE_T_ACL_TRACKED);
    add_flow(h, PIPELINE_T_ACL, 100, default_cookie(), "ip", ct);
    add_flow(h, PIPELINE_T_ACL, 100, default_cookie(), "ipv6", ct);

    snprintf(next, sizeof next, "goto_table:%d", PIPELINE_T_OUTPUT);
    /* Only pairs with a local end: the flow above has dropped what neither
     * comes from nor goes to a local vNIC.  (So a rule that makes two
     * segments reach each other changes only the hosts with members.) */
    for (size_t s = 0; s < n; s++) {
        for (size_t t = 0; t < n && h->src_segs[s]; t++) {
            if (plan->reach[s * n + t]
                && (h->local_segs[s] || h->local_segs[t])) {
                add_flowf(h, PIPELINE_T_ACL, 50, reach_cookie(h, s, t), next,
                          "reg6=%d,reg8=%d", segment(h, s)->vlan,
                          segment(h, t)->vlan);
            }
        }
    }
    add_flow(h, PIPELINE_T_ACL, 0, default_cookie(), "", "drop");
}

/* Matches all unicast MACs. */
#define UNICAST "00:00:00:00:00:00/01:00:00:00:00:00"

/* Adds a conjunction dimension flow with 'match_tail' after the ct_state
 * match. */
static void
add_dimension(struct host_ctx *h, const struct rule *r, int priority,
              int dim, const char *match_tail)
{
    const char *ct_state = r->r->stateful ? "+new+trk" : "+trk";
    char actions[64];

    snprintf(actions, sizeof actions, "conjunction(%"PRIu32",%d/3)",
             r->conj_id, dim);
    add_flowf(h, PIPELINE_T_ACL_TRACKED, priority, r->cookie, actions,
              "ct_state=%s%s%s", ct_state, *match_tail ? "," : "",
              match_tail);
}

/* reg8 (the destination's segment) comes from table 30's lookup of a
 * known vNIC's MAC, so it always stands for exactly that segment's vNICs.
 * reg6 (the source's segment) does too, except on a host with an uplink
 * for a segment without a VNI: a tagged frame from the trunk may come
 * from any device of that VLAN, and only the members' MACs are trusted
 * there.  (A tunnel carries only what a vNIC of the VNI's segment sent,
 * through port security on its own host.) */
bool
pipeline_segment_by_register(const struct host_ctx *h,
                             const struct endpoints *e, size_t seg, bool dst)
{
    return (e->whole_segs[seg]
            && (dst || !h->uplink || segment(h, seg)->vni));
}

/* Dimension 1 (sources, 'dst' false) or 2 (destinations) of 'r', with
 * only the local vNICs if 'local_only'.
 *
 * Segments named whole are matched by register: one flow per segment,
 * whatever its size, and one that vNICs coming and going do not change.
 * (With 'local_only', such a flow also matches the segment's remote
 * vNICs; that is harmless, because every packet in table 41 comes from
 * a local vNIC or goes to one.) */
static void
add_endpoints(struct host_ctx *h, const struct rule *r, int priority,
              bool dst, bool local_only)
{
    const struct endpoints *e = dst ? &r->to : &r->from;
    const char *dir = dst ? "dst" : "src";
    int dim = dst ? 2 : 1;
    char match[128];

    if (e->any) {
        /* Every packet here is unicast, from a unicast source, so this
         * matches all.  Matching nothing instead would make the flow the
         * same as the other dimension's when it is "any" too, and OVS
         * counts the clauses of a conjunction by distinct flows: one flow
         * that is two dimensions never completes it. */
        snprintf(match, sizeof match, "dl_%s=" UNICAST, dir);
        add_dimension(h, r, priority, dim, match);
        return;
    }
    for (size_t s = 0; s < h->plan->n_segs; s++) {
        /* A source segment that cannot be in reg6 here needs no flow. */
        if (pipeline_segment_by_register(h, e, s, dst)
            && (dst || h->src_segs[s])) {
            snprintf(match, sizeof match, "reg%d=%d", dst ? 8 : 6,
                     segment(h, s)->vlan);
            add_dimension(h, r, priority, dim, match);
        }
    }
    for (size_t i = 0; i < h->plan->n_vnics; i++) {
        if (e->vnics[i] && (h->local[i] || !local_only)
            && !pipeline_segment_by_register(h, e, h->plan->vnics[i].seg,
                                             dst)) {
            snprintf(match, sizeof match, "dl_%s=%s", dir, vnic(h, i)->mac);
            add_dimension(h, r, priority, dim, match);
        }
    }
    for (size_t i = 0; i < e->n_cidrs; i++) {
        const struct policy_cidr *cidr = e->cidrs[i];
        char s[POLICY_CIDR_BUFSIZE];

        policy_cidr_format(cidr, s, sizeof s);
        if (!cidr->plen) {
            /* OVS takes "nw_src=0.0.0.0/0" for no match at all, the same
             * flow as dimension 3's "ip": see above. */
            snprintf(match, sizeof match, "%s,dl_%s=" UNICAST,
                     cidr->ipv6 ? "ipv6" : "ip", dir);
        } else if (cidr->ipv6) {
            snprintf(match, sizeof match, "ipv6,ipv6_%s=%s", dir, s);
        } else {
            snprintf(match, sizeof match, "ip,nw_%s=%s", dir, s);
        }
        add_dimension(h, r, priority, dim, match);
    }
}

/* Dimension 3 of 'r' for one of "tcp", "tcp6", "udp", "udp6". */
static void
add_ports(struct host_ctx *h, const struct rule *r, int priority,
          const char *proto)
{
    char match[64];

    if (!r->r->n_ports) {
        add_dimension(h, r, priority, 3, proto);
        return;
    }
    for (size_t i = 0; i < r->r->n_ports; i++) {
        /* The range as aligned power-of-two blocks, each one value/mask
         * match. */
        uint32_t lo = r->r->ports[i].min;
        uint32_t hi = r->r->ports[i].max;

        while (lo <= hi) {
            uint32_t size = lo ? lo & -lo : 0x10000;
            while (lo + size - 1 > hi) {
                size >>= 1;
            }
            if (size == 1) {
                snprintf(match, sizeof match, "%s,tp_dst=%"PRIu32,
                         proto, lo);
            } else {
                snprintf(match, sizeof match, "%s,tp_dst=%"PRIu32"/0x%"PRIx32,
                         proto, lo, 0xffff & ~(size - 1));
            }
            add_dimension(h, r, priority, 3, match);
            lo += size;
        }
    }
}

/* Dimension 3: protocol and ports, for IPv4 and IPv6 alike. */
static void
add_protocol(struct host_ctx *h, const struct rule *r, int priority)
{
    switch (r->r->proto) {
    case POLICY_PROTO_IP:
        add_dimension(h, r, priority, 3, "ip");
        add_dimension(h, r, priority, 3, "ipv6");
        break;
    case POLICY_PROTO_TCP:
        add_ports(h, r, priority, "tcp");
        add_ports(h, r, priority, "tcp6");
        break;
    case POLICY_PROTO_UDP:
        add_ports(h, r, priority, "udp");
        add_ports(h, r, priority, "udp6");
        break;
    case POLICY_PROTO_ICMP:
        add_dimension(h, r, priority, 3, "icmp");
        break;
    case POLICY_PROTO_ICMP6:
        add_dimension(h, r, priority, 3, "icmp6");
        break;
    }
}

bool
pipeline_may_be_local(const struct host_ctx *h, const struct endpoints *e)
{
    if (e->any || e->n_cidrs) {
        return true;            /* A CIDR may hold a local vNIC's address. */
    }
    for (size_t i = 0; i < h->plan->n_vnics; i++) {
        if (e->vnics[i] && h->local[i]) {
            return true;
        }
    }
    return false;
}

/* One rule: three dimensions and the flow that acts on their
 * conjunction. */
static void
emit_rule(struct host_ctx *h, const struct rule *r)
{
    const struct policy_rule *pr = r->r;
    bool deny = pr->action == POLICY_DENY;
    int priority = pipeline_rule_priority(pr->priority, deny, pr->stateful);
    char actions[64];

    if (pipeline_endpoints_is_empty(&r->from)
        || pipeline_endpoints_is_empty(&r->to)) {
        return;                 /* Matches nothing (yet). */
    }

    /* Every packet that gets here comes from a local vNIC or goes to one
     * (table 40 drops the rest).  So a rule whose sources cannot be local
     * needs only its local destinations, and the other way round; and a
     * rule with neither is not needed here at all.  This keeps a host's
     * table 41 from growing with rules between other hosts' vNICs. */
    bool from_local = pipeline_may_be_local(h, &r->from);
    bool to_local = pipeline_may_be_local(h, &r->to);
    if (!from_local && !to_local) {
        return;
    }
    add_endpoints(h, r, priority, false, !to_local);
    add_endpoints(h, r, priority, true, !from_local);
    add_protocol(h, r, priority);

    if (deny || !pr->stateful) {
        snprintf(actions, sizeof actions, deny ? "drop" : "goto_table:%d",
                 PIPELINE_T_OUTPUT);
        add_flowf(h, PIPELINE_T_ACL_TRACKED, priority, r->cookie, actions,
                  "conj_id=%"PRIu32",ct_state=%s", r->conj_id,
                  pr->stateful ? "+new+trk" : "+trk");
        return;
    }

    /* ct() needs an IPv4 or IPv6 match: one flow for each that the rule's
     * protocol allows. */
    snprintf(actions, sizeof actions, "ct(commit,zone=%d),goto_table:%d",
             PIPELINE_CT_ZONE, PIPELINE_T_OUTPUT);
    if (pr->proto != POLICY_PROTO_ICMP6) {
        add_flowf(h, PIPELINE_T_ACL_TRACKED, priority, r->cookie, actions,
                  "conj_id=%"PRIu32",ct_state=+new+trk,ip", r->conj_id);
    }
    if (pr->proto != POLICY_PROTO_ICMP) {
        add_flowf(h, PIPELINE_T_ACL_TRACKED, priority, r->cookie, actions,
                  "conj_id=%"PRIu32",ct_state=+new+trk,ipv6", r->conj_id);
    }
}

/* Table 41: connection state, the rules, the default. */
static void
emit_acl_tracked(struct host_ctx *h)
{
    const struct pipeline_plan *plan = h->plan;
    char next[32];
    char commit[64];

    snprintf(next, sizeof next, "goto_table:%d", PIPELINE_T_OUTPUT);
    add_flow(h, PIPELINE_T_ACL_TRACKED, 65000, default_cookie(),
             "ct_state=+est+trk", next);
    add_flow(h, PIPELINE_T_ACL_TRACKED, 65000, default_cookie(),
             "ct_state=+rel+trk", next);
    add_flow(h, PIPELINE_T_ACL_TRACKED, 65000, default_cookie(),
             "ct_state=+inv+trk", "drop");

    for (size_t i = 0; i < plan->n_rules; i++) {
        emit_rule(h, &plan->rules[i]);
    }

    snprintf(commit, sizeof commit, "ct(commit,zone=%d),goto_table:%d",
             PIPELINE_CT_ZONE, PIPELINE_T_OUTPUT);
    for (size_t s = 0; s < plan->n_segs; s++) {
        if (h->src_segs[s] && !segment(h, s)->isolated) {
            /* ct() needs an IPv4 or IPv6 match. */
            static const char *const ips[] = { "ip", "ipv6" };
            for (size_t i = 0; i < 2; i++) {
                add_flowf(h, PIPELINE_T_ACL_TRACKED, 10,
                          pipeline_segment_cookie(segment(h, s)->name),
                          commit, "ct_state=+new+trk,%s,reg6=%d,reg8=%d",
                          ips[i], segment(h, s)->vlan, segment(h, s)->vlan);
            }
        }
    }
    add_flow(h, PIPELINE_T_ACL_TRACKED, 0, default_cookie(), "", "drop");
}

/* Table 50: to the local vNIC, or into the tunnel to its host. */
static void
emit_output(struct host_ctx *h)
{
    const struct pipeline_plan *plan = h->plan;
    char actions[96];
    char meter[32];

    for (size_t i = 0; i < plan->n_vnics; i++) {
        if (h->local[i]) {
            int port = vnic(h, i)->ofport;
            snprintf(actions, sizeof actions, "%soutput:%d",
                     meter_action(h->out, &plan->vnics[i].receives, port,
                                  true, meter),
                     port);
            add_flowf(h, PIPELINE_T_OUTPUT, 100, vnic_cookie(h, i), actions,
                      "reg7=%d", vnic(h, i)->ofport);
        }
    }
    add_flow(h, PIPELINE_T_OUTPUT, 90, default_cookie(), "reg5=0", "drop");
    for (size_t i = 0; i < h->n_tunnels; i++) {
        const struct pipeline_tunnel *t = h->tunnels[i];
        for (size_t s = 0; s < plan->n_segs; s++) {
            if (segment(h, s)->vni) {
                snprintf(actions, sizeof actions,
                         "set_field:%"PRIu32"->tun_id,output:%d",
                         segment(h, s)->vni, t->ofport);
                add_flowf(h, PIPELINE_T_OUTPUT, 80,
                          pipeline_tunnel_cookie(t->peer), actions,
                          "reg9=%d,reg6=%d", t->ofport, segment(h, s)->vlan);
            }
        }
    }
    /* Remote destinations of segments without a VNI: onto the trunk,
     * tagged with the source segment's VLAN. */
    for (size_t s = 0; s < plan->n_segs && h->uplink; s++) {
        if (!segment(h, s)->vni) {
            snprintf(actions, sizeof actions,
                     "push_vlan:0x8100,set_field:%d->vlan_vid,output:%d",
                     0x1000 | segment(h, s)->vlan, h->uplink);
            add_flowf(h, PIPELINE_T_OUTPUT, 85,
                      pipeline_segment_cookie(segment(h, s)->name), actions,
                      "reg6=%d", segment(h, s)->vlan);
        }
    }
    add_flow(h, PIPELINE_T_OUTPUT, 0, default_cookie(), "", "drop");
}

static int
compare_ints(const void *a_, const void *b_)
{
    int a = *(const int *) a_;
    int b = *(const int *) b_;
    return a < b ? -1 : a > b;
}

/* Appends "output:P" for each of the 'n' ports, in order. */
static void
put_outputs(struct sbuf *b, int *ports, size_t n)
{
    qsort(ports, n, sizeof *ports, compare_ints);
    for (size_t i = 0; i < n; i++) {
        sbuf_comma(b);
        sbuf_printf(b, "output:%d", ports[i]);
    }
}

/* Table 60: broadcast and multicast from segment 's'. */
static void
emit_flood_segment(struct host_ctx *h, size_t s)
{
    const struct pipeline_plan *plan = h->plan;
    const bool *reach = &plan->reach[s * plan->n_segs];
    const struct policy_segment *seg = segment(h, s);
    uint64_t cookie = pipeline_segment_cookie(seg->name);
    int *ports = xcalloc(plan->n_vnics + h->n_tunnels, sizeof *ports);
    struct sbuf b = SBUF_INITIALIZER;
    size_t n = 0;

    /* Local members of the segments 's' reaches. */
    for (size_t i = 0; i < plan->n_vnics; i++) {
        if (h->local[i] && reach[plan->vnics[i].seg]) {
            ports[n++] = vnic(h, i)->ofport;
        }
    }
    put_outputs(&b, ports, n);
    /* What came from a tunnel or the trunk goes to them only (its drop
     * keeps it from the flow below, which would send it back out); with
     * neither local members nor local sources, the table's default drop
     * does it, and the host's flows do not change with segments it has
     * no part in. */
    if (n || h->local_segs[s]) {
        add_flowf(h, PIPELINE_T_FLOOD, 100, cookie, n ? b.s : "drop",
                  "reg6=%d,reg5=0", seg->vlan);
    }
    if (!h->local_segs[s]) {
        sbuf_destroy(&b);
        free(ports);
        return;
    }

    /* From a local vNIC: also one copy to each host with members, through
     * the tunnel, with the source segment's VNI. */
    n = 0;
    for (size_t i = 0; i < h->n_tunnels && seg->vni; i++) {
        ssize_t peer = pipeline_find_host(plan, h->tunnels[i]->peer);
        for (size_t t = 0; peer >= 0 && t < plan->n_segs; t++) {
            if (reach[t] && plan->host_segs[peer * plan->n_segs + t]) {
                ports[n++] = h->tunnels[i]->ofport;
                break;
            }
        }
    }
    if (n) {
        sbuf_comma(&b);
        sbuf_printf(&b, "set_field:%"PRIu32"->tun_id", seg->vni);
        put_outputs(&b, ports, n);
    }
    /* ... or, without a VNI, one tagged copy onto the trunk if a host
     * behind it has members (last: the tag stays on the packet). */
    if (!seg->vni && h->uplink) {
        bool members = false;
        for (size_t i = 0; i < plan->n_vnics && !members; i++) {
            members = (!h->local[i] && reach[plan->vnics[i].seg]
                       && uplink_of(plan, vnic(h, i)->host));
        }
        if (members) {
            sbuf_comma(&b);
            sbuf_printf(&b, "push_vlan:0x8100,set_field:%d->vlan_vid,"
                        "output:%d", 0x1000 | seg->vlan, h->uplink);
        }
    }
    add_flowf(h, PIPELINE_T_FLOOD, 90, cookie, b.len ? b.s : "drop",
              "reg6=%d",
              seg->vlan);
    sbuf_destroy(&b);
    free(ports);
}

static void
emit_flood(struct host_ctx *h)
{
    for (size_t s = 0; s < h->plan->n_segs; s++) {
        if (h->src_segs[s]) {
            emit_flood_segment(h, s);
        }
    }
    add_flow(h, PIPELINE_T_FLOOD, 0, default_cookie(), "", "drop");
}

/* Merging. */

static bool
same_flow_key(const struct weft_flow *a, const struct weft_flow *b)
{
    return (a->table == b->table && a->priority == b->priority
            && !strcmp(a->match, b->match));
}

/* Calls 'cb' for each action of 'actions' (split at the commas that are
 * outside parentheses).  Stops and returns false if 'cb' does. */
static bool
for_each_action(const char *actions,
                bool (*cb)(const char *action, size_t len, void *aux),
                void *aux)
{
    const char *start = actions;
    int depth = 0;

    for (const char *p = actions; ; p++) {
        if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            depth--;
        } else if ((*p == ',' && !depth) || !*p) {
            if (p > start && !cb(start, p - start, aux)) {
                return false;
            }
            if (!*p) {
                return true;
            }
            start = p + 1;
        }
    }
}

static bool
is_conjunction(const char *action, size_t len, void *aux)
{
    static const char prefix[] = "conjunction(";
    return len > sizeof prefix - 1 && !strncmp(action, prefix,
                                               sizeof prefix - 1);
}

struct merge_aux {
    struct sbuf actions;
    bool clash;
};

/* Appends 'action', a conjunction, to the merged actions in 'aux_' unless
 * it is there already.  Two clauses of one conjunction in one flow are a
 * clash: OVS would never complete that conjunction. */
static bool
append_conjunction(const char *action, size_t len, void *aux_)
{
    struct merge_aux *aux = aux_;
    size_t id_len = strcspn(action, ",") + 1;     /* "conjunction(ID," */
    const char *s = sbuf_str(&aux->actions);

    for (const char *p = s; (p = strstr(p, "conjunction(")); p++) {
        if (!strncmp(p, action, id_len)) {
            if (strncmp(p, action, len) || (p[len] != ',' && p[len])) {
                aux->clash = true;
            }
            return true;
        }
    }
    sbuf_comma(&aux->actions);
    sbuf_printf(&aux->actions, "%.*s", (int) len, action);
    return true;
}

/* OVS takes flows with the same table, priority and match for one flow:
 * the last one added replaces the others.  Conjunction dimensions that
 * several rules share are such flows; merges each group of them into the
 * first one generated, with all their conjunction actions.  Anything else
 * identical, and two clauses of one conjunction in one flow, are bugs in
 * this file: aborts (keeps the first flow, or the merge, if built with
 * NDEBUG). */
static uint64_t
flow_key_hash(const struct weft_flow *f)
{
    uint64_t hash = fnv(FNV_BASIS, f->match);
    return (hash ^ ((uint64_t) f->table << 16) ^ f->priority) * FNV_PRIME;
}

/* Groups the flows of 'set' by key: next[i] is the next flow with the key
 * of flow i (in generation order), SIZE_MAX at the end of a group;
 * first[i] is true for the first flow of each group.  A hash table, not a
 * sort: a host has thousands of flows, few of them duplicates. */
static void
group_by_key(const struct weft_flow_set *set, size_t *next, bool *first)
{
    size_t n_slots = 16;
    while (n_slots < 2 * set->n) {
        n_slots *= 2;
    }
    size_t *slots = xmalloc(n_slots * sizeof *slots);  /* Last of a group. */
    for (size_t i = 0; i < n_slots; i++) {
        slots[i] = SIZE_MAX;
    }
    for (size_t i = 0; i < set->n; i++) {
        const struct weft_flow *f = &set->flows[i];
        size_t slot = flow_key_hash(f) & (n_slots - 1);

        next[i] = SIZE_MAX;
        first[i] = true;
        while (slots[slot] != SIZE_MAX
               && !same_flow_key(&set->flows[slots[slot]], f)) {
            slot = (slot + 1) & (n_slots - 1);
        }
        if (slots[slot] != SIZE_MAX) {
            next[slots[slot]] = i;
            first[i] = false;
        }
        slots[slot] = i;
    }
    free(slots);
}

static void
merge_duplicates(struct weft_flow_set *set)
{
    size_t *next = xcalloc(set->n + 1, sizeof *next);
    bool *first = xcalloc(set->n + 1, sizeof *first);
    bool *dead = xcalloc(set->n + 1, sizeof *dead);

    group_by_key(set, next, first);
    for (size_t i = 0; i < set->n; i++) {
        if (!first[i] || next[i] == SIZE_MAX) {
            continue;
        }
        struct merge_aux aux = { { NULL, 0, 0 }, false };
        bool conj = true;
        for (size_t k = i; k != SIZE_MAX && conj; k = next[k]) {
            conj = for_each_action(set->flows[k].actions, is_conjunction,
                                   NULL);
        }
        for (size_t k = i; k != SIZE_MAX && conj; k = next[k]) {
            for_each_action(set->flows[k].actions, append_conjunction, &aux);
        }
#ifndef NDEBUG
        if (!conj || aux.clash) {
            abort();
        }
#endif
        if (conj) {
            free(set->flows[i].actions);
            set->flows[i].actions = aux.actions.s;
        } else {
            free(aux.actions.s);
        }
        for (size_t k = next[i]; k != SIZE_MAX; k = next[k]) {
            dead[k] = true;
        }
    }

    size_t n = 0;
    for (size_t i = 0; i < set->n; i++) {
        if (dead[i]) {
            free(set->flows[i].match);
            free(set->flows[i].actions);
        } else {
            set->flows[n++] = set->flows[i];
        }
    }
    set->n = n;
    free(dead);
    free(first);
    free(next);
}

/* Computing a host's flows. */

static int
compare_tunnel_ptrs(const void *a_, const void *b_)
{
    const struct pipeline_tunnel *a = *(const struct pipeline_tunnel **) a_;
    const struct pipeline_tunnel *b = *(const struct pipeline_tunnel **) b_;
    int cmp = strcmp(a->peer, b->peer);

    return cmp ? cmp : a->ofport < b->ofport ? -1 : a->ofport > b->ofport;
}

/* The host's usable tunnels, by peer: one per peer, none to itself, none
 * sharing a port with another tunnel or a local vNIC. */
static void
host_tunnels(struct host_ctx *h)
{
    const struct pipeline_input *in = h->plan->in;
    size_t n = 0;

    h->tunnels = xcalloc(in->n_tunnels, sizeof *h->tunnels);
    for (size_t i = 0; i < in->n_tunnels; i++) {
        const struct pipeline_tunnel *t = &in->tunnels[i];
        if (t->host && t->peer && t->ofport > 0
            && !strcmp(t->host, h->name) && strcmp(t->peer, h->name)) {
            h->tunnels[n++] = t;
        }
    }
    qsort(h->tunnels, n, sizeof *h->tunnels, compare_tunnel_ptrs);

    for (size_t i = 0; i < n; i++) {
        const struct pipeline_tunnel *t = h->tunnels[i];
        bool clash = false;

        for (size_t j = 0; j < h->n_tunnels && !clash; j++) {
            clash = (!strcmp(h->tunnels[j]->peer, t->peer)
                     || h->tunnels[j]->ofport == t->ofport);
        }
        for (size_t j = 0; j < h->plan->n_vnics && !clash; j++) {
            clash = h->local[j] && vnic(h, j)->ofport == t->ofport;
        }
        if (!clash) {
            h->tunnels[h->n_tunnels++] = t;
        }
    }
}

static int
tunnel_to(const struct host_ctx *h, const char *peer)
{
    for (size_t i = 0; i < h->n_tunnels; i++) {
        if (!strcmp(h->tunnels[i]->peer, peer)) {
            return h->tunnels[i]->ofport;
        }
    }
    return 0;
}

void
pipeline_host_ctx_init(struct host_ctx *h, const struct pipeline_plan *plan,
                       const char *host, struct weft_flow_set *out)
{
    *h = (struct host_ctx) {
        .plan = plan,
        .name = host,
        .out = out,
    };
    h->local = xcalloc(plan->n_vnics + 1, sizeof *h->local);
    h->vnic_tunnel = xcalloc(plan->n_vnics + 1, sizeof *h->vnic_tunnel);
    h->src_segs = xcalloc(plan->n_segs + 1, sizeof *h->src_segs);
    h->local_segs = xcalloc(plan->n_segs + 1, sizeof *h->local_segs);
    for (size_t i = 0; i < plan->n_vnics; i++) {
        h->local[i] = !strcmp(plan->vnics[i].v->host, host);
    }
    host_tunnels(h);
    h->uplink = uplink_of(plan, host);
    for (size_t i = 0; i < plan->n_vnics; i++) {
        if (h->local[i]) {
            h->src_segs[plan->vnics[i].seg] = true;
            h->local_segs[plan->vnics[i].seg] = true;
        } else {
            h->vnic_tunnel[i] = tunnel_to(h, plan->vnics[i].v->host);
            if (!h->vnic_tunnel[i] && h->uplink
                && uplink_of(plan, plan->vnics[i].v->host)) {
                h->vnic_tunnel[i] = UPLINK_MARK;
            }
        }
    }
    for (size_t s = 0; s < plan->n_segs; s++) {
        if (plan->policy->segments[s].vni ? h->n_tunnels > 0 : h->uplink) {
            h->src_segs[s] = true;
        }
    }
}

void
pipeline_host_ctx_destroy(struct host_ctx *h)
{
    free(h->local);
    free(h->vnic_tunnel);
    free(h->src_segs);
    free(h->local_segs);
    free(h->tunnels);
}

static void
compute_host(const struct pipeline_plan *plan, const char *host,
             struct weft_flow_set *out)
{
    struct host_ctx h;

    if (!host) {
        return;
    }
    pipeline_host_ctx_init(&h, plan, host, out);
    emit_classify(&h);
    emit_port_security(&h);
    emit_l2_lookup(&h);
    emit_acl(&h);
    emit_acl_tracked(&h);
    emit_output(&h);
    emit_flood(&h);
    merge_duplicates(out);
    weft_flow_set_sort(out);
    pipeline_host_ctx_destroy(&h);
}

/* Tracing. */

static ssize_t
find_vnic(const struct pipeline_plan *plan, const char *host, const char *tap)
{
    for (size_t i = 0; i < plan->n_vnics; i++) {
        const struct pipeline_vnic *v = plan->vnics[i].v;
        if (!strcmp(v->host, host) && !strcmp(v->tap, tap)) {
            return i;
        }
    }
    return -1;
}

static int
find_tunnel(const struct pipeline_plan *plan, const char *host,
            const char *peer)
{
    for (size_t i = 0; i < plan->in->n_tunnels; i++) {
        const struct pipeline_tunnel *t = &plan->in->tunnels[i];
        if (!strcmp(t->host, host) && !strcmp(t->peer, peer)) {
            return t->ofport;
        }
    }
    return 0;
}

/* Whether rule 'r' covers a packet of 'proto'/'port'. */
static bool
rule_covers_proto(const struct policy_rule *r, int proto, int port)
{
    if (r->proto == POLICY_PROTO_IP) {
        return true;
    }
    if ((int) r->proto != proto) {
        return false;
    }
    if (!r->n_ports) {
        return true;
    }
    for (size_t i = 0; i < r->n_ports; i++) {
        if (port >= r->ports[i].min && port <= r->ports[i].max) {
            return true;
        }
    }
    return false;
}

static void
describe_vnic(const struct pipeline_plan *plan, const char *role,
              const struct vnic *v, FILE *out)
{
    const struct policy_segment *seg = &plan->policy->segments[v->seg];
    fprintf(out, "%s: %s/%s on %s, MAC %s, port %d, segment %s (VLAN %d",
            role, v->v->vm, v->v->tap, v->v->host, v->v->mac, v->v->ofport,
            seg->name, seg->vlan);
    if (seg->vni) {
        fprintf(out, ", VNI %"PRIu32, seg->vni);
    }
    fprintf(out, "%s)\n", seg->isolated ? ", isolated" : "");
}

static void
trace_limit(const struct vnic_limit *vl, const char *verb,
            const struct vnic *v, FILE *out)
{
    if (vl->by) {
        char rate[POLICY_RATE_BUFSIZE];
        policy_rate_format(vl->kbps, rate, sizeof rate);
        fprintf(out, "meter %#"PRIx32": what %s %s is limited to %s/s "
                "(limit %s)\n",
                pipeline_meter_id(v->v->ofport, vl == &v->receives), v->v->tap,
                verb, rate, vl->by->name);
    }
}

bool
pipeline_plan_trace(const struct pipeline_plan *plan,
                    const struct pipeline_trace *q, FILE *out)
{
    ssize_t si = find_vnic(plan, q->src_host, q->src_tap);
    ssize_t di = find_vnic(plan, q->dst_host, q->dst_tap);
    if (si < 0 || di < 0) {
        fprintf(out, "result: DROPPED: %s/%s is not a placed vNIC of a "
                "segment in the policy\n", si < 0 ? q->src_host : q->dst_host,
                si < 0 ? q->src_tap : q->dst_tap);
        return false;
    }
    const struct vnic *src = &plan->vnics[si], *dst = &plan->vnics[di];
    const struct policy_segment *sseg = &plan->policy->segments[src->seg];
    const struct policy_segment *dseg = &plan->policy->segments[dst->seg];
    bool remote = strcmp(src->v->host, dst->v->host);

    describe_vnic(plan, "source", src, out);
    describe_vnic(plan, "destination", dst, out);
    fprintf(out, "packet: %s", q->proto == POLICY_PROTO_TCP ? "tcp"
            : q->proto == POLICY_PROTO_UDP ? "udp"
            : q->proto == POLICY_PROTO_ICMP6 ? "icmp6" : "icmp");
    if (q->port) {
        fprintf(out, " to port %d", q->port);
    }
    fprintf(out, "\n");
    fprintf(out, "table 0/10 on %s: from port %d with its own MAC: "
            "classified into segment %s (reg6=%d)\n", src->v->host,
            src->v->ofport, sseg->name, sseg->vlan);
    trace_limit(&src->sends, "sends", src, out);

    int tunnel = 0;
    if (remote) {
        tunnel = find_tunnel(plan, src->v->host, dst->v->host);
        if (!sseg->vni) {
            fprintf(out, "result: DROPPED: the destination is on %s and "
                    "segment %s has no VNI, so its traffic stays on %s\n",
                    dst->v->host, sseg->name, src->v->host);
            return false;
        }
        if (!tunnel) {
            fprintf(out, "result: DROPPED: no tunnel from %s to %s (yet)\n",
                    src->v->host, dst->v->host);
            return false;
        }
        fprintf(out, "table 30: %s is on %s: via the tunnel on port %d "
                "(reg9)\n", dst->v->mac, dst->v->host, tunnel);
    } else {
        fprintf(out, "table 30: %s is local, port %d (reg7)\n",
                dst->v->mac, dst->v->ofport);
    }

    /* The rule that decides: highest flow priority among matching rules
     * (deny above allow at equal rule priority, as compiled). */
    const struct rule *best = NULL;
    int best_prio = -1;
    for (size_t i = 0; i < plan->n_rules; i++) {
        const struct rule *r = &plan->rules[i];
        if ((r->from.any || r->from.vnics[si])
            && (r->to.any || r->to.vnics[di])
            && rule_covers_proto(r->r, q->proto, q->port)) {
            int prio = pipeline_rule_priority(r->r->priority,
                                              r->r->action == POLICY_DENY,
                                              r->r->stateful);
            if (prio > best_prio) {
                best = r;
                best_prio = prio;
            }
        }
    }

    bool allowed;
    if (best) {
        allowed = best->r->action == POLICY_ALLOW;
        fprintf(out, "table 41: rule %s (%s, priority %d, flow priority %d, "
                "cookie 0x%016"PRIx64") matches: %s\n", best->r->name,
                best->r->action == POLICY_ALLOW ? "allow" : "deny",
                best->r->priority, best_prio, best->cookie,
                !allowed ? "dropped"
                : best->r->stateful ? "connection committed, replies pass"
                : "passes (stateless: replies need their own rule)");
    } else if (src->seg == dst->seg && !sseg->isolated) {
        allowed = true;
        fprintf(out, "table 41: no rule matches; default: same segment %s "
                "is open: connection committed\n", sseg->name);
    } else {
        allowed = false;
        fprintf(out, "table 41: no rule matches; default: %s\n",
                src->seg == dst->seg
                ? "isolated segment: only rules let traffic through"
                : "deny between segments");
    }
    if (allowed && !plan->reach[src->seg * plan->n_segs + dst->seg]) {
        /* Cannot happen for IP allowed by a rule (reach follows allow
         * rules), but say it if the plans ever disagree. */
        fprintf(out, "note: segments %s and %s do not reach each other for "
                "ARP: the source cannot resolve the destination's MAC\n",
                sseg->name, dseg->name);
    }
    if (!allowed) {
        fprintf(out, "result: DROPPED on %s\n", src->v->host);
        return false;
    }
    if (remote) {
        fprintf(out, "table 50: into VXLAN to %s with VNI %"PRIu32"; on %s "
                "the same policy is evaluated again (its conntrack learns "
                "the connection) and the packet goes out of port %d\n",
                dst->v->host, sseg->vni, dst->v->host, dst->v->ofport);
    } else {
        fprintf(out, "table 50: out of port %d\n", dst->v->ofport);
    }
    trace_limit(&dst->receives, "receives", dst, out);
    fprintf(out, "result: DELIVERED to %s/%s\n", dst->v->vm, dst->v->tap);
    return true;
}

size_t
pipeline_plan_n_vnics(const struct pipeline_plan *plan)
{
    return plan->n_vnics;
}

const struct pipeline_vnic *
pipeline_plan_vnic(const struct pipeline_plan *plan, size_t i)
{
    return plan->vnics[i].v;
}

void
pipeline_plan_set_aux(struct pipeline_plan *plan, void *aux)
{
    plan->aux = aux;
}

void *
pipeline_plan_get_aux(const struct pipeline_plan *plan)
{
    return plan->aux;
}
