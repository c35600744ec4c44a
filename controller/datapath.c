/* From placed ports and policy to tunnels and flows (see datapath.h). */
#include "datapath.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apps.h"
#include "flow-export.h"
#include "flow.h"
#include "host.h"
#include "log.h"
#include "mirror-plan.h"
#include "pipeline.h"
#include "policy.h"
#include "weft-config.h"
#include "weftd.h"
#include "xalloc.h"

WEFT_LOG_MODULE(datapath);

void
datapath_init(struct datapath *dp, long long int now_ms)
{
    memset(dp, 0, sizeof *dp);
    dp->started_ms = now_ms;

    const char *check = getenv("WEFT_CHECK_INCREMENTAL");
    dp->check_incremental = check && !strcmp(check, "1");
}

static uint64_t
mix(uint64_t hash, uint64_t value)
{
    return (hash ^ value) * 0x100000001b3ULL;
}

/* Everything the compute depends on, cheaply: when this is unchanged, so
 * are all hosts' tunnels and flows. */
static uint64_t
input_signature(const struct weftd *d)
{
    uint64_t sig = mix(0xcbf29ce484222325ULL, d->policy.generation);
    sig = mix(sig, (uintptr_t) d->policy.current);
    sig = mix(sig, d->apps ? apps_get_claims_version(d->apps) : 0);
    for (size_t i = 0; i < d->n_hosts; i++) {
        sig = mix(sig, (uintptr_t) d->hosts[i]);
        sig = mix(sig, host_get_ports_version(d->hosts[i]));
        sig = mix(sig, host_ports_known(d->hosts[i]));
    }
    return sig;
}

static bool
settled(struct datapath *dp, const struct weftd *d, long long int now)
{
    if (d->inventory.hold) {
        return false;           /* Policy not read yet. */
    }
    if (now - dp->started_ms >= DATAPATH_SETTLE_MS) {
        return true;
    }
    for (size_t i = 0; i < d->n_hosts; i++) {
        if (!host_ports_known(d->hosts[i])) {
            return false;
        }
    }
    return true;
}

static bool
host_port_present(void *d, const char *host, const char *port)
{
    const struct host *h = weftd_find_host(d, host);
    return h && host_get_port_ofport(h, port) > 0;
}

static struct mirror_plan *
plan_mirrors(const struct weftd *d, const struct policy *policy,
             const struct pipeline_vnic *vnics, size_t n_vnics)
{
    struct mirror_plan_host *hosts = xcalloc(d->n_hosts + 1, sizeof *hosts);
    for (size_t i = 0; i < d->n_hosts; i++) {
        hosts[i] = (struct mirror_plan_host) {
            .name = host_get_name(d->hosts[i]),
            .tunnel_ip = host_get_config(d->hosts[i])->tunnel_ip,
        };
    }
    struct mirror_plan_input in = {
        .policy = policy,
        .vnics = vnics,
        .n_vnics = n_vnics,
        .hosts = hosts,
        .n_hosts = d->n_hosts,
        .host_port_present = host_port_present,
        .aux = (void *) d,
    };
    struct mirror_plan *plan = mirror_plan_create(&in);
    free(hosts);
    return plan;
}

/* The segments that per-segment IPFIX exports sample (pipeline.h). */
static struct pipeline_sample *
plan_samples(const struct policy *policy, size_t *np)
{
    size_t n = 0;
    for (size_t i = 0; i < policy->n_exports; i++) {
        n += policy->exports[i].n_segments;
    }
    struct pipeline_sample *samples = xcalloc(n + 1, sizeof *samples);
    n = 0;
    for (size_t i = 0; i < policy->n_exports; i++) {
        const struct policy_export *e = &policy->exports[i];
        int sampling = e->sampling ? e->sampling
                                   : POLICY_EXPORT_SEGMENT_SAMPLING;
        int probability = 65535 / sampling;
        for (size_t j = 0; j < e->n_segments; j++) {
            samples[n++] = (struct pipeline_sample) {
                .segment = e->segments[j],
                .collector_set_id = policy_export_collector_set_id(e->name),
                .probability = probability ? probability : 1,
            };
        }
    }
    *np = n;
    return samples;
}

/* The compiler's view of every host's placed vNICs and tunnels, less the
 * mirror destinations; the mirror plan goes to '*mirrorsp' if nonnull
 * (its strings belong to the hosts and the policy: use it before the
 * hosts change). */
static void
build_input(const struct weftd *d, const struct policy *policy,
            struct pipeline_input *in, struct mirror_plan **mirrorsp)
{
    size_t n_vnics = 0, n_tunnels = 0;
    for (size_t i = 0; i < d->n_hosts; i++) {
        const struct host_vm_port *ports;
        n_vnics += host_get_vm_ports(d->hosts[i], &ports);
        n_tunnels += d->n_hosts;
    }

    struct pipeline_vnic *vnics = xcalloc(n_vnics, sizeof *vnics);
    struct pipeline_tunnel *tunnels = xcalloc(n_tunnels, sizeof *tunnels);
    struct pipeline_uplink *uplinks = xcalloc(d->n_hosts, sizeof *uplinks);
    size_t n_uplinks = 0;
    n_vnics = n_tunnels = 0;
    for (size_t i = 0; i < d->n_hosts; i++) {
        const struct host *h = d->hosts[i];
        const struct host_vm_port *ports;
        size_t n = host_get_vm_ports(h, &ports);
        for (size_t j = 0; j < n; j++) {
            if (!policy_find_segment(policy, ports[j].segment)) {
                continue;   /* Placed under an older policy: no flows. */
            }
            vnics[n_vnics++] = (struct pipeline_vnic) {
                .host = host_get_name(h),
                .vm = ports[j].vm,
                .tap = ports[j].tap,
                .mac = ports[j].mac,
                .segment = ports[j].segment,
                .labels = (const char *const *) ports[j].labels,
                .n_labels = ports[j].n_labels,
                .ofport = ports[j].ofport,
                .ips = (const char *const *) ports[j].ips,
                .n_ips = ports[j].n_ips,
            };
        }
        if (host_get_uplink_ofport(h)) {
            uplinks[n_uplinks++] = (struct pipeline_uplink) {
                .host = host_get_name(h),
                .ofport = host_get_uplink_ofport(h),
            };
        }
        for (size_t j = 0; j < d->n_hosts; j++) {
            const struct host *peer = d->hosts[j];
            int ofport = host_get_tunnel_ofport(h, host_get_name(peer));
            if (peer != h && ofport > 0) {
                tunnels[n_tunnels++] = (struct pipeline_tunnel) {
                    .host = host_get_name(h),
                    .peer = host_get_name(peer),
                    .ofport = ofport,
                };
            }
        }
    }
    /* Mirror destinations get no forwarding flows (see mirror-plan.h). */
    struct mirror_plan *mirrors = plan_mirrors(d, policy, vnics, n_vnics);
    size_t n_kept = 0;
    for (size_t i = 0; i < n_vnics; i++) {
        if (!mirrors->dedicated[i]) {
            vnics[n_kept++] = vnics[i];
        }
    }
    n_vnics = n_kept;
    if (mirrorsp) {
        *mirrorsp = mirrors;
    } else {
        mirror_plan_destroy(mirrors);
    }

    /* Segments the controller apps claimed. */
    const struct apps_claim *app_claims = NULL;
    size_t n_claims = d->apps ? apps_get_claims(d->apps, &app_claims) : 0;
    struct pipeline_claim *claims = xcalloc(n_claims + 1, sizeof *claims);
    for (size_t i = 0; i < n_claims; i++) {
        claims[i] = (struct pipeline_claim) {
            .segment = app_claims[i].segment,
            .table = app_claims[i].table,
        };
    }
    size_t n_samples;
    struct pipeline_sample *samples = plan_samples(policy, &n_samples);
    *in = (struct pipeline_input) {
        .policy = policy,
        .claims = claims,
        .n_claims = n_claims,
        .samples = samples,
        .n_samples = n_samples,
        .vnics = vnics,
        .n_vnics = n_vnics,
        .tunnels = tunnels,
        .n_tunnels = n_tunnels,
        .uplinks = uplinks,
        .n_uplinks = n_uplinks,
    };
}

static void
free_input(struct pipeline_input *in)
{
    free((void *) in->vnics);
    free((void *) in->tunnels);
    free((void *) in->uplinks);
    free((void *) in->claims);
    free((void *) in->samples);
}

static double
cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* 'host''s flows: the pipeline's, and the delivery of remote mirrors
 * whose destination is on it. */
static void
compute_host_flows(const struct pipeline_plan *plan,
                   const struct mirror_plan *mirrors, const struct host *h,
                   struct weft_flow_set *flows)
{
    const char *name = host_get_name(h);
    pipeline_plan_compute_host(plan, name, flows);
    for (size_t i = 0; i < mirrors->n_deliveries; i++) {
        const struct mirror_delivery *m = &mirrors->deliveries[i];
        int ofport = (m->ofport ? m->ofport
                      : host_get_port_ofport(h, m->port));
        if (strcmp(m->host, name) || !ofport) {
            continue;
        }
        char match[32], actions[32];
        snprintf(match, sizeof match, "tun_id=%#"PRIx32, m->key);
        snprintf(actions, sizeof actions, "output:%d", ofport);
        weft_flow_set_add(flows, PIPELINE_T_CLASSIFY, 200,
                          weft_cookie(WEFT_COOKIE_MIRROR, m->key), match,
                          actions);
    }
    /* A flow no packet reaches, that changes with the host's Mirror rows:
     * changing it makes ovs-vswitchd revalidate its cached datapath flows,
     * which a mirror change alone does not (see vswitch-db.h). */
    uint64_t epoch = host_get_mirror_epoch(h);
    if (epoch) {
        char match[48];
        snprintf(match, sizeof match, "metadata=%#"PRIx64, epoch);
        weft_flow_set_add(flows, PIPELINE_T_MIRROR_EPOCH, 0,
                          weft_cookie(WEFT_COOKIE_MIRROR, 0), match, "drop");
    }
    weft_flow_set_sort(flows);
}

/* The digest of what compute_host_flows() reads for 'h'. */
static uint64_t
host_flows_digest(const struct pipeline_plan *plan,
                  const struct mirror_plan *mirrors, const struct host *h)
{
    const char *name = host_get_name(h);
    uint64_t digest = pipeline_plan_host_digest(plan, name);

    for (size_t i = 0; i < mirrors->n_deliveries; i++) {
        const struct mirror_delivery *m = &mirrors->deliveries[i];
        if (!strcmp(m->host, name)) {
            int ofport = (m->ofport ? m->ofport
                          : host_get_port_ofport(h, m->port));
            digest = mix(mix(digest, m->key), ofport);
        }
    }
    digest = mix(digest, host_get_mirror_epoch(h));
    return digest ? digest : 1;
}

/* Computes the flows of 'h' unless what they are computed from has not
 * changed since its last compute. */
static void
update_host_flows(struct datapath *dp, const struct pipeline_plan *plan,
                  const struct mirror_plan *mirrors, struct host *h,
                  struct weft_flow_set *flows)
{
    uint64_t digest = host_flows_digest(plan, mirrors, h);

    if (digest == host_get_core_digest(h)) {
        dp->stats.n_hosts_skipped++;
        if (!dp->check_incremental && !dp->force) {
            return;
        }
        compute_host_flows(plan, mirrors, h, flows);
        if (host_set_flows(h, flows)) {
            dp->stats.n_check_errors++;
            dp->stats.n_hosts_changed++;
            WEFT_ERR("%s: incremental compute would have kept stale flows "
                     "(its input digest did not change: a bug in "
                     "controller/pipeline-digest.c); installed the "
                     "recomputed ones", host_get_name(h));
        }
        return;
    }
    compute_host_flows(plan, mirrors, h, flows);
    dp->stats.n_host_computes++;
    if (host_set_flows(h, flows)) {
        dp->stats.n_hosts_changed++;
    }
    host_set_core_digest(h, digest);
}

/* Gives 'h' its Mirror rows, mirror tunnel ports and the ports it must
 * watch: every host:HOST/PORT destination on it, present or not yet. */
static void
set_host_mirrors(struct host *h, const struct mirror_plan *mirrors,
                 const struct policy *policy)
{
    const char *name = host_get_name(h);
    struct host_mirror *rows = xcalloc(mirrors->n_rows + 1, sizeof *rows);
    const char **watch = xcalloc(policy->n_mirrors + 1, sizeof *watch);
    size_t n_rows = 0, n_watch = 0;

    for (size_t i = 0; i < mirrors->n_rows; i++) {
        const struct mirror_row *r = &mirrors->rows[i];
        if (!strcmp(r->host, name)) {
            rows[n_rows++] = (struct host_mirror) {
                .name = r->mirror,
                .select_src = r->select_src,
                .n_select_src = r->n_select_src,
                .select_dst = r->select_dst,
                .n_select_dst = r->n_select_dst,
                .output_port = r->output_port,
                .tunnel_remote_ip = r->remote ? r->remote_ip : NULL,
                .tunnel_key = r->key,
            };
        }
    }
    for (size_t i = 0; i < policy->n_mirrors; i++) {
        const struct policy_mirror *m = &policy->mirrors[i];
        if (m->to_type == POLICY_REF_HOST && !strcmp(m->to_name, name)) {
            watch[n_watch++] = m->to_port;
        }
    }
    host_set_mirrors(h, rows, n_rows,
                     mirror_plan_host_receives(mirrors, name),
                     watch, n_watch);
    free(rows);
    free(watch);
}

void
datapath_run(struct datapath *dp, struct weftd *d)
{
    long long int now = (long long int) (ev_now(d->loop) * 1000.0);
    if (!settled(dp, d, now)) {
        return;
    }
    dp->stats.settled = true;
    uint64_t sig = input_signature(d);
    if (sig == dp->input_signature && !dp->force) {
        return;
    }
    dp->input_signature = sig;

    double start = cpu_ms();
    unsigned long long computed_before = dp->stats.n_host_computes;
    struct pipeline_input in;
    struct mirror_plan *mirrors;
    build_input(d, d->policy.current, &in, &mirrors);

    struct pipeline_plan *plan = pipeline_plan_create(&in);
    struct weft_flow_set flows;
    weft_flow_set_init(&flows);
    for (size_t i = 0; i < d->n_hosts; i++) {
        struct host *h = d->hosts[i];
        const char *name = host_get_name(h);

        set_host_mirrors(h, mirrors, d->policy.current);
        flow_export_set_host(h, d->policy.current);

        struct host_tunnel *tunnels = xcalloc(d->n_hosts,
                                              sizeof *tunnels);
        size_t n = 0;
        for (size_t j = 0; j < d->n_hosts; j++) {
            const struct host *peer = d->hosts[j];
            if (peer != h && pipeline_plan_hosts_need_tunnel(
                    plan, name, host_get_name(peer))) {
                tunnels[n++] = (struct host_tunnel) {
                    .peer = host_get_name(peer),
                    .remote_ip = host_get_config(peer)->tunnel_ip,
                };
            }
        }
        host_set_tunnels(h, tunnels, n);
        free(tunnels);

        update_host_flows(dp, plan, mirrors, h, &flows);
    }
    weft_flow_set_destroy(&flows);
    pipeline_plan_destroy(plan);
    mirror_plan_destroy(mirrors);
    free_input(&in);

    dp->stats.n_computes++;
    dp->stats.last_compute_ms = cpu_ms() - start;
    dp->force = false;
    WEFT_DBG("computed %llu of %zu hosts in %.2f ms (%zu vNICs)",
             dp->stats.n_host_computes - computed_before, d->n_hosts,
             dp->stats.last_compute_ms, in.n_vnics);
}

bool
datapath_recompute(struct datapath *dp, struct weftd *d, size_t *computed,
                   size_t *changed)
{
    long long int now = (long long int) (ev_now(d->loop) * 1000.0);
    unsigned long long skipped = dp->stats.n_hosts_skipped;
    unsigned long long errors = dp->stats.n_check_errors;
    unsigned long long computes = dp->stats.n_host_computes;

    *computed = *changed = 0;
    if (!settled(dp, d, now)) {
        return false;
    }
    dp->force = true;
    datapath_run(dp, d);
    *computed = (dp->stats.n_host_computes - computes
                 + dp->stats.n_hosts_skipped - skipped);
    *changed = dp->stats.n_check_errors - errors;
    return true;
}

static int
compare_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The flows of 'set', one formatted line each, sorted as strings (the
 * order of a merge; a flow set's own order is not the same); '*textp'
 * holds the lines and must be freed with the array. */
static char **
flow_lines(const struct weft_flow_set *set, char **textp, size_t *np)
{
    size_t len = 0;
    FILE *f = open_memstream(textp, &len);
    weft_flow_set_format(set, f);
    fclose(f);

    char **lines = xcalloc(set->n + 1, sizeof *lines);
    size_t n = 0;
    for (char *s = *textp, *nl; *s && n < set->n + 1; s = nl + 1) {
        nl = strchr(s, '\n');
        lines[n++] = s;
        if (!nl) {
            break;
        }
        *nl = '\0';
    }
    qsort(lines, n, sizeof *lines, compare_lines);
    *np = n;
    return lines;
}

/* Appends to 'out' one "host: +|- flow" line per flow that differs between
 * 'old' and 'new'. */
static void
diff_flows(const char *host, const struct weft_flow_set *old,
           const struct weft_flow_set *new, FILE *out)
{
    char *a_text, *b_text;
    size_t na, nb;
    char **a = flow_lines(old, &a_text, &na);
    char **b = flow_lines(new, &b_text, &nb);
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        int cmp = i >= na ? 1 : j >= nb ? -1 : strcmp(a[i], b[j]);
        if (!cmp) {
            i++, j++;
        } else if (cmp < 0) {
            fprintf(out, "%s: - %s\n", host, a[i++]);
        } else {
            fprintf(out, "%s: + %s\n", host, b[j++]);
        }
    }
    free(a);
    free(b);
    free(a_text);
    free(b_text);
}

char *
datapath_preview(const struct weftd *d, const struct policy *policy)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    struct pipeline_input in;
    struct mirror_plan *mirrors;
    build_input(d, policy, &in, &mirrors);
    struct pipeline_plan *plan = pipeline_plan_create(&in);
    struct weft_flow_set flows;
    weft_flow_set_init(&flows);
    for (size_t i = 0; i < d->n_hosts; i++) {
        const struct host *h = d->hosts[i];
        compute_host_flows(plan, mirrors, h, &flows);
        diff_flows(host_get_name(h), host_get_core_flows(h), &flows, out);
    }
    weft_flow_set_destroy(&flows);
    pipeline_plan_destroy(plan);
    mirror_plan_destroy(mirrors);
    free_input(&in);
    fclose(out);
    return text;
}

/* The plan keeps pointers into its input: allocate them together. */
struct plan_holder {
    struct pipeline_input in;
};

struct pipeline_plan *
datapath_plan_create(const struct weftd *d, const struct policy *policy)
{
    struct plan_holder *holder = xzalloc(sizeof *holder);
    build_input(d, policy, &holder->in, NULL);
    struct pipeline_plan *plan = pipeline_plan_create(&holder->in);
    pipeline_plan_set_aux(plan, holder);
    return plan;
}

void
datapath_plan_destroy(struct pipeline_plan *plan)
{
    if (plan) {
        struct plan_holder *holder = pipeline_plan_get_aux(plan);
        pipeline_plan_destroy(plan);
        free_input(&holder->in);
        free(holder);
    }
}

struct mirror_plan *
datapath_mirror_plan_create(const struct weftd *d)
{
    struct pipeline_input in;
    struct mirror_plan *mirrors;
    build_input(d, d->policy.current, &in, &mirrors);
    free_input(&in);
    return mirrors;
}

size_t
datapath_mirror_counters(const struct weftd *d,
                         const struct mirror_plan *plan, const char *name,
                         uint64_t *packets, uint64_t *bytes)
{
    size_t n_rows = 0;
    *packets = *bytes = 0;
    for (size_t i = 0; i < plan->n_rows; i++) {
        const struct mirror_row *r = &plan->rows[i];
        const struct host *h = weftd_find_host(d, r->host);
        uint64_t p, b;
        const char *problem;
        if (strcmp(r->mirror, name)) {
            continue;
        }
        n_rows++;
        if (h && host_get_mirror_stats(h, name, &p, &b, &problem)) {
            *packets += p;
            *bytes += b;
        }
    }
    return n_rows;
}
