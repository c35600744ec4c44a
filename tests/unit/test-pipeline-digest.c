/* Unit test of the pipeline's host digests (pipeline_plan_host_digest()):
 * weftd skips a host whose digest did not change, so a change that alters
 * a host's flows must alter its digest.
 *
 * A random walk over small clusters (4 hosts, up to 16 vNICs, segments with
 * and without VNIs, uplinks, groups by label, segment and CIDR, rules,
 * rate limits, app claims, IPFIX samples): each step makes one random
 * change and, for every host, compares the flows and the digests before
 * and after.  Same digest with different flows is a failure.  The test also
 * counts how often a host is spared, so that it cannot pass by giving every
 * host a new digest on every change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow.h"
#include "pipeline.h"
#include "policy.h"

#define N_HOSTS 4
#define N_SEGS 4
#define MAX_VNICS 16
#define MAX_RULES 6
#define MAX_LIMITS 2

/* Endpoint names a rule or limit may use. */
static const char *const endpoint_names[] = {
    "s0", "s1", "s2", "s3", "g-front", "g-net", "g-mix", "g-s2", "any",
};
#define N_ENDPOINTS (sizeof endpoint_names / sizeof *endpoint_names)

static const char *const directions[] = { "both", "ingress", "egress" };

static const char *const protos[] = { "icmp", "tcp", "udp", "ip", "icmp6" };
#define N_PROTOS (sizeof protos / sizeof *protos)

struct world_vnic {
    bool present;
    int host;
    int seg;
    int mac;                    /* Last byte of the MAC. */
    int ofport;
    int ip;                     /* 10.0.0.IP, 0 for none. */
    bool front;                 /* Label "front". */
};

struct world_rule {
    bool present;
    bool deny;
    bool stateless;
    int from, to;               /* In endpoint_names. */
    int proto;                  /* In protos. */
    int port;                   /* 0 for none. */
    int priority;
};

struct world_limit {
    bool present;
    int target;                 /* A segment, or a vNIC if >= N_SEGS. */
    int mbit;
    int direction;              /* In directions. */
};

struct world {
    int vni[N_SEGS];            /* 0 for none. */
    bool isolated[N_SEGS];
    struct world_vnic vnics[MAX_VNICS];
    struct world_rule rules[MAX_RULES];
    struct world_limit limits[MAX_LIMITS];
    int tunnel[N_HOSTS][N_HOSTS];   /* Ofport, 0 for none. */
    int uplink[N_HOSTS];
    int claim;                  /* Segment claimed by an app, -1 none. */
    int claim_table;
    int sample;                 /* Segment sampled, -1 none. */
    int probability;            /* Of the sample. */
    int group_net_plen;         /* g-net's prefix length. */
    bool s2_by_taps;            /* g-s2 lists s2's vNICs rather than s2. */
};

static const char *const host_names[N_HOSTS] = { "h0", "h1", "h2", "h3" };
static const char *const seg_names[N_SEGS] = { "s0", "s1", "s2", "s3" };

/* The strings a world's pipeline input points to. */
struct input_text {
    char vm[MAX_VNICS][16];
    char tap[MAX_VNICS][16];
    char mac[MAX_VNICS][24];
    char ip[MAX_VNICS][24];
    const char *ips[MAX_VNICS][1];
    struct pipeline_vnic vnics[MAX_VNICS];
    struct pipeline_tunnel tunnels[N_HOSTS * N_HOSTS];
    struct pipeline_uplink uplinks[N_HOSTS];
    struct pipeline_claim claim;
    struct pipeline_sample sample;
    struct policy *policy;
    struct pipeline_input in;
};

static const char *const front_label[] = { "front" };

static int
rnd(unsigned int *seed, int n)
{
    return rand_r(seed) % n;
}

static char *
policy_text(const struct world *w)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    for (int s = 0; s < N_SEGS; s++) {
        fprintf(f, "segment %s vlan=%d", seg_names[s], 100 + s);
        if (w->vni[s]) {
            fprintf(f, " vni=%d", w->vni[s]);
        }
        fprintf(f, "%s\n", w->isolated[s] ? " isolated" : "");
    }
    fprintf(f, "group g-front labels=front\n");
    fprintf(f, "group g-net cidrs=10.0.0.0/%d\n", w->group_net_plen);
    fprintf(f, "group g-mix groups=g-front,s1\n");
    /* The same members either way, matched by segment or by MACs. */
    if (w->s2_by_taps) {
        fprintf(f, "group g-s2 vnics=none");
        for (int i = 0; i < MAX_VNICS; i++) {
            if (w->vnics[i].present && w->vnics[i].seg == 2) {
                fprintf(f, ",tap%d", i);
            }
        }
        fprintf(f, "\n");
    } else {
        fprintf(f, "group g-s2 segments=s2\n");
    }
    for (int i = 0; i < MAX_RULES; i++) {
        const struct world_rule *r = &w->rules[i];
        if (!r->present) {
            continue;
        }
        fprintf(f, "rule r%d %s from=%s to=%s proto=%s", i,
                r->deny ? "deny" : "allow", endpoint_names[r->from],
                endpoint_names[r->to], protos[r->proto]);
        if (r->port && (r->proto == 1 || r->proto == 2)) {
            fprintf(f, " ports=%d-%d", r->port, r->port + 3);
        }
        fprintf(f, " priority=%d%s\n", r->priority,
                r->stateless ? " stateless" : "");
    }
    for (int i = 0; i < MAX_LIMITS; i++) {
        const struct world_limit *l = &w->limits[i];
        if (!l->present) {
            continue;
        }
        if (l->target < N_SEGS) {
            fprintf(f, "limit l%d targets=segment:%s", i,
                    seg_names[l->target]);
        } else {
            fprintf(f, "limit l%d targets=vnic:vm%d", i, l->target - N_SEGS);
        }
        fprintf(f, " rate=%dmbit direction=%s\n", l->mbit,
                directions[l->direction]);
    }
    fclose(f);
    return text;
}

static void
input_build(const struct world *w, struct input_text *t)
{
    memset(t, 0, sizeof *t);

    char *text = policy_text(w);
    struct policy_error error;
    if (policy_parse(text, &t->policy, &error)) {
        fail_msg("policy: line %d: %s: %s\n%s", error.line, error.field,
                 error.msg, text);
    }
    free(text);

    size_t n = 0;
    for (int i = 0; i < MAX_VNICS; i++) {
        const struct world_vnic *v = &w->vnics[i];
        if (!v->present) {
            continue;
        }
        snprintf(t->vm[i], sizeof t->vm[i], "vm%d", i);
        snprintf(t->tap[i], sizeof t->tap[i], "tap%d", i);
        snprintf(t->mac[i], sizeof t->mac[i], "52:54:00:00:00:%02x", v->mac);
        snprintf(t->ip[i], sizeof t->ip[i], "10.0.0.%d", v->ip);
        t->ips[i][0] = t->ip[i];
        t->vnics[n++] = (struct pipeline_vnic) {
            .host = host_names[v->host],
            .vm = t->vm[i],
            .tap = t->tap[i],
            .mac = t->mac[i],
            .segment = seg_names[v->seg],
            .labels = v->front ? front_label : NULL,
            .n_labels = v->front,
            .ofport = v->ofport,
            .ips = t->ips[i],
            .n_ips = v->ip != 0,
        };
    }

    size_t n_tunnels = 0, n_uplinks = 0;
    for (int a = 0; a < N_HOSTS; a++) {
        for (int b = 0; b < N_HOSTS; b++) {
            if (w->tunnel[a][b]) {
                t->tunnels[n_tunnels++] = (struct pipeline_tunnel) {
                    host_names[a], host_names[b], w->tunnel[a][b],
                };
            }
        }
        if (w->uplink[a]) {
            t->uplinks[n_uplinks++] = (struct pipeline_uplink) {
                host_names[a], w->uplink[a],
            };
        }
    }
    t->claim = (struct pipeline_claim) {
        w->claim >= 0 ? seg_names[w->claim] : NULL, w->claim_table,
    };
    t->sample = (struct pipeline_sample) {
        w->sample >= 0 ? seg_names[w->sample] : NULL, 77, w->probability,
    };
    t->in = (struct pipeline_input) {
        .policy = t->policy,
        .vnics = t->vnics,
        .n_vnics = n,
        .tunnels = t->tunnels,
        .n_tunnels = n_tunnels,
        .uplinks = t->uplinks,
        .n_uplinks = n_uplinks,
        .claims = &t->claim,
        .n_claims = w->claim >= 0,
        .samples = &t->sample,
        .n_samples = w->sample >= 0,
    };
}

static void
input_destroy(struct input_text *t)
{
    policy_destroy(t->policy);
}

static void
random_rule(struct world_rule *r, unsigned int *seed)
{
    *r = (struct world_rule) {
        .present = true,
        .deny = !rnd(seed, 4),
        .stateless = !rnd(seed, 3),
        .from = rnd(seed, N_ENDPOINTS),
        .to = rnd(seed, N_ENDPOINTS),
        .proto = rnd(seed, N_PROTOS),
        .port = rnd(seed, 2) ? 20 + 4 * rnd(seed, 5) : 0,
        .priority = 100 + 10 * rnd(seed, 3),
    };
}

/* An ofport of host 'h' that no vNIC or tunnel there uses, in 1..40 (so
 * that clashes only come from the changes that make them on purpose). */
static int
free_ofport(const struct world *w, int h, unsigned int *seed)
{
    for (;;) {
        int port = 1 + rnd(seed, 40);
        bool used = w->uplink[h] == port;
        for (int i = 0; i < MAX_VNICS; i++) {
            used |= (w->vnics[i].present && w->vnics[i].host == h
                     && w->vnics[i].ofport == port);
        }
        for (int p = 0; p < N_HOSTS; p++) {
            used |= w->tunnel[h][p] == port;
        }
        if (!used) {
            return port;
        }
    }
}

static void
random_vnic(struct world *w, int i, unsigned int *seed)
{
    struct world_vnic *v = &w->vnics[i];
    v->present = false;
    v->host = rnd(seed, N_HOSTS);
    v->seg = rnd(seed, N_SEGS);
    v->mac = i + 1;
    v->ofport = free_ofport(w, v->host, seed);
    v->ip = rnd(seed, 2) ? 10 + i : 0;
    v->front = !rnd(seed, 3);
    v->present = true;
}

static void
world_init(struct world *w, unsigned int *seed)
{
    memset(w, 0, sizeof *w);
    for (int s = 0; s < N_SEGS; s++) {
        w->vni[s] = s < 3 ? 5000 + s : 0;
        w->isolated[s] = s == 2;
    }
    for (int a = 0; a < N_HOSTS; a++) {
        w->uplink[a] = a < 2 ? 50 : 0;
        for (int b = 0; b < N_HOSTS; b++) {
            w->tunnel[a][b] = a != b ? 60 + b : 0;
        }
    }
    for (int i = 0; i < MAX_VNICS / 2; i++) {
        random_vnic(w, i, seed);
    }
    for (int i = 0; i < MAX_RULES / 2; i++) {
        random_rule(&w->rules[i], seed);
    }
    w->claim = -1;
    w->claim_table = 120;
    w->sample = -1;
    w->probability = 655;
    w->group_net_plen = 28;
}

/* One random change; returns what it was, for failure messages. */
static const char *
world_change(struct world *w, unsigned int *seed)
{
    int i = rnd(seed, MAX_VNICS);
    struct world_vnic *v = &w->vnics[i];
    int r = rnd(seed, MAX_RULES);
    int a = rnd(seed, N_HOSTS), b = rnd(seed, N_HOSTS);

    switch (rnd(seed, 20)) {
    case 0: case 1: case 2:
        if (v->present) {
            v->present = false;
            return "vNIC removed";
        }
        random_vnic(w, i, seed);
        return "vNIC added";
    case 3:
        v->ofport = free_ofport(w, v->host, seed);
        return "vNIC ofport changed";
    case 4:
        v->seg = rnd(seed, N_SEGS);
        return "vNIC segment changed";
    case 5:
        v->ip = rnd(seed, 4) ? 10 + rnd(seed, 200) : 0;
        return "vNIC address changed";
    case 6:
        v->front = !v->front;
        return "vNIC label changed";
    case 7:
        v->host = rnd(seed, N_HOSTS);
        v->ofport = free_ofport(w, v->host, seed);
        return "vNIC moved";
    case 8:
        v->mac = rnd(seed, 4) ? v->mac : 1 + rnd(seed, MAX_VNICS);
        return "vNIC MAC changed (maybe a clash)";
    case 9: case 10:
        if (w->rules[r].present) {
            w->rules[r].present = false;
            return "rule removed";
        }
        random_rule(&w->rules[r], seed);
        return "rule added";
    case 11:
        w->rules[r].port = w->rules[r].port ? 0 : 40;
        w->rules[r].priority += 10;
        return "rule ports and priority changed";
    case 12:
        if (a != b) {
            w->tunnel[a][b] = w->tunnel[a][b] ? 0 : 60 + b;
        }
        return "tunnel added or removed";
    case 13:
        w->uplink[a] = w->uplink[a] ? 0 : 50 + rnd(seed, 3);
        return "uplink added or removed";
    case 14:
        w->isolated[a] = !w->isolated[a];
        w->vni[b] = w->vni[b] ? 0 : 5000 + b;
        return "segment changed";
    case 15: {
        struct world_limit *l = &w->limits[rnd(seed, MAX_LIMITS)];
        l->present = !l->present;
        l->target = rnd(seed, N_SEGS + MAX_VNICS);
        l->mbit = 1 + rnd(seed, 50);
        l->direction = rnd(seed, 3);
        return "limit changed";
    }
    case 16:
        w->claim = w->claim >= 0 && rnd(seed, 2) ? -1 : a;
        w->claim_table = 120 + rnd(seed, 3);
        return "claim changed";
    case 17:
        w->sample = w->sample >= 0 && rnd(seed, 2) ? -1 : b;
        w->probability = 1 + rnd(seed, 1000);
        return "sample changed";
    case 18:
        w->s2_by_taps = !w->s2_by_taps;
        return "group of s2 by taps or by segment";
    default:
        w->group_net_plen = w->group_net_plen == 28 ? 29 : 28;
        return "CIDR group changed";
    }
}

static char *
flows_text(const struct pipeline_plan *plan, const char *host)
{
    struct weft_flow_set flows;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    weft_flow_set_init(&flows);
    pipeline_plan_compute_host(plan, host, &flows);
    weft_flow_set_format(&flows, f);
    fclose(f);
    weft_flow_set_destroy(&flows);
    return text;
}

static void
test_digest_follows_flows(void **state)
{
    (void) state;
    unsigned int seed = 20261123;
    struct world w;
    size_t n_spared = 0, n_changed = 0, n_needless = 0;
    const size_t steps = 1500;

    world_init(&w, &seed);
    for (size_t step = 0; step < steps; step++) {
        struct world old = w;
        const char *change = world_change(&w, &seed);

        struct input_text *a = malloc(sizeof *a);
        struct input_text *b = malloc(sizeof *b);
        input_build(&old, a);
        input_build(&w, b);
        struct pipeline_plan *pa = pipeline_plan_create(&a->in);
        struct pipeline_plan *pb = pipeline_plan_create(&b->in);
        for (int h = 0; h < N_HOSTS; h++) {
            const char *host = host_names[h];
            char *fa = flows_text(pa, host);
            char *fb = flows_text(pb, host);
            bool same_digest = (pipeline_plan_host_digest(pa, host)
                                == pipeline_plan_host_digest(pb, host));
            bool same_flows = !strcmp(fa, fb);

            if (same_digest && !same_flows) {
                fail_msg("step %zu (%s): host %s has the same digest but "
                         "other flows\nbefore:\n%s\nafter:\n%s", step,
                         change, host, fa, fb);
            }
            n_spared += same_digest;
            n_changed += !same_flows;
            n_needless += !same_digest && same_flows;
            free(fa);
            free(fb);
        }
        pipeline_plan_destroy(pa);
        pipeline_plan_destroy(pb);
        input_destroy(a);
        input_destroy(b);
        free(a);
        free(b);
    }
    print_message("%zu host computes over %zu changes: %zu spared, "
                  "%zu flow tables changed, %zu computed needlessly\n",
                  steps * N_HOSTS, steps, n_spared, n_changed, n_needless);
    /* Not vacuous: changes both spare hosts and change flows. */
    assert_true(n_spared > steps / 2);
    assert_true(n_changed > steps / 2);
}

/* The same input in another order gives the same digests (the compiler
 * sorts its input; so must the digest). */
static void
test_digest_ignores_input_order(void **state)
{
    (void) state;
    unsigned int seed = 7;
    struct world w;

    world_init(&w, &seed);
    struct input_text *t = malloc(sizeof *t);
    input_build(&w, t);
    struct pipeline_plan *plan = pipeline_plan_create(&t->in);
    uint64_t before[N_HOSTS];
    for (int h = 0; h < N_HOSTS; h++) {
        before[h] = pipeline_plan_host_digest(plan, host_names[h]);
    }
    pipeline_plan_destroy(plan);

    /* Reverse the vNICs and tunnels. */
    struct pipeline_vnic *v = (struct pipeline_vnic *) t->in.vnics;
    for (size_t i = 0, j = t->in.n_vnics - 1; i < j; i++, j--) {
        struct pipeline_vnic tmp = v[i];
        v[i] = v[j];
        v[j] = tmp;
    }
    struct pipeline_tunnel *tu = (struct pipeline_tunnel *) t->in.tunnels;
    for (size_t i = 0, j = t->in.n_tunnels - 1; i < j; i++, j--) {
        struct pipeline_tunnel tmp = tu[i];
        tu[i] = tu[j];
        tu[j] = tmp;
    }
    plan = pipeline_plan_create(&t->in);
    for (int h = 0; h < N_HOSTS; h++) {
        assert_true(before[h]
                    == pipeline_plan_host_digest(plan, host_names[h]));
    }
    pipeline_plan_destroy(plan);
    input_destroy(t);
    free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_follows_flows),
        cmocka_unit_test(test_digest_ignores_input_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
