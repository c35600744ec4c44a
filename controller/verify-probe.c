/* Real probe packets (see verify-probe.h). */
#include "verify-probe.h"

#include <errno.h>
#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "datapath.h"
#include "flow-eval.h"
#include "host.h"
#include "log.h"
#include "net-trace.h"
#include "openflow.h"
#include "pipeline.h"
#include "policy.h"
#include "sbuf.h"
#include "verify.h"
#include "weftd.h"
#include "xalloc.h"

WEFT_LOG_MODULE(verify_probe);

enum outcome {
    NOT_SENT,
    DROPPED,
    DELIVERED,
    INCONCLUSIVE,
};

struct probe_item {
    char *src_host, *dst_host;
    uint32_t dst_port;
    struct flow_eval_packet packet;
    bool want;                  /* The policy delivers it. */
    char *label;                /* "web1/t-web1 (h1) -> db1/t-db1 (h2)
                                 * tcp/5432". */
};

struct probe_run {
    struct weftd *d;
    struct probe_item *items;
    size_t n_items, next;
    uint64_t before;            /* Current probe's destination counter. */
    ev_timer timer;
    struct sbuf details;
    struct verify_probe_report report;
    verify_probe_done_cb *cb;
    void *aux;
};

static void probe_next(struct probe_run *);

static char *
make_label(const struct pipeline_vnic *s, const struct pipeline_vnic *t,
           const struct verify_probe_class *c)
{
    char port[16] = "";
    if (c->port) {
        snprintf(port, sizeof port, "/%d", c->port);
    }
    return xasprintf("%s/%s (%s) -> %s/%s (%s) %s%s", s->vm, s->tap, s->host,
                     t->vm, t->tap, t->host, policy_proto_to_string(c->proto),
                     port);
}

/* Every probe, with what the policy wants, decided now. */
static void
make_items(struct probe_run *run, const char *host)
{
    struct weftd *d = run->d;
    struct pipeline_plan *plan = datapath_plan_create(d, d->policy.current);
    struct verify_probe_class *classes;
    size_t n_classes = verify_make_probes(d->policy.current, &classes);
    size_t n_vnics = pipeline_plan_n_vnics(plan);
    FILE *null = fopen("/dev/null", "w");

    run->items = xcalloc(n_vnics * n_vnics * n_classes + 1,
                         sizeof *run->items);
    for (size_t i = 0; i < n_vnics; i++) {
        const struct pipeline_vnic *s = pipeline_plan_vnic(plan, i);
        for (size_t j = 0; j < n_vnics && (!host || !strcmp(s->host, host));
             j++) {
            const struct pipeline_vnic *t = pipeline_plan_vnic(plan, j);
            for (size_t k = 0; k < n_classes && i != j; k++) {
                struct pipeline_trace q = {
                    .src_host = s->host, .src_tap = s->tap,
                    .dst_host = t->host, .dst_tap = t->tap,
                    .proto = classes[k].proto, .port = classes[k].port,
                };
                struct probe_item *it = &run->items[run->n_items++];
                it->src_host = xstrdup(s->host);
                it->dst_host = xstrdup(t->host);
                it->dst_port = t->ofport;
                net_trace_packet(s, t, q.proto, q.port, &it->packet);
                it->want = pipeline_plan_trace(plan, &q, null);
                it->label = make_label(s, t, &classes[k]);
            }
        }
    }
    fclose(null);
    free(classes);
    datapath_plan_destroy(plan);
}

static void
finish(struct probe_run *run)
{
    for (size_t i = 0; i < run->n_items; i++) {
        free(run->items[i].src_host);
        free(run->items[i].dst_host);
        free(run->items[i].label);
    }
    free(run->items);
    run->cb(run->aux, sbuf_str(&run->details), &run->report);
    sbuf_destroy(&run->details);
    free(run);
}

static void
record(struct probe_run *run, enum outcome outcome, const char *why)
{
    const struct probe_item *it = &run->items[run->next];

    switch (outcome) {
    case NOT_SENT:
        run->report.n_not_sent++;
        sbuf_printf(&run->details, "not probed %s: %s\n", it->label, why);
        break;
    case INCONCLUSIVE:
        run->report.n_probes++;
        run->report.n_inconclusive++;
        sbuf_printf(&run->details, "inconclusive %s: %s\n", it->label, why);
        break;
    case DROPPED:
    case DELIVERED:
        run->report.n_probes++;
        if ((outcome == DELIVERED) != it->want) {
            run->report.n_mismatches++;
            sbuf_printf(&run->details, "MISMATCH %s: the policy %s it; the "
                        "real packets were %s (%s)\n", it->label,
                        it->want ? "allows" : "refuses",
                        outcome == DELIVERED ? "delivered" : "dropped", why);
        }
        break;
    }
    run->next++;
    probe_next(run);
}

/* The destination port's transmit counter in a port stats reply. */
static bool
tx_of(const struct of_port_stats *stats, size_t n, uint32_t port,
      uint64_t *tx)
{
    for (size_t i = 0; i < n; i++) {
        if (stats[i].port == port) {
            *tx = stats[i].tx_packets;
            return true;
        }
    }
    return false;
}

static void
stats_after(struct of_switch *sw, void *run_, int error,
            const struct of_port_stats *stats, size_t n)
{
    struct probe_run *run = run_;
    const struct probe_item *it = &run->items[run->next];
    uint64_t after;
    char why[96];
    (void) sw;

    if (error || !tx_of(stats, n, it->dst_port, &after)) {
        record(run, NOT_SENT, "no counters from the destination's switch");
        return;
    }
    uint64_t delta = after - run->before;
    snprintf(why, sizeof why, "%llu of %d copies out of the destination "
             "port", (unsigned long long) delta, VERIFY_PROBE_COPIES);
    record(run, (delta >= VERIFY_PROBE_COPIES ? DELIVERED
                 : delta <= VERIFY_PROBE_COPIES / 3 ? DROPPED
                 : INCONCLUSIVE), why);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct probe_run *run = w->data;
    const struct probe_item *it = &run->items[run->next];
    struct host *dst = weftd_find_host(run->d, it->dst_host);
    (void) revents;

    ev_timer_stop(loop, w);
    if (!dst || host_request_port_stats(dst, stats_after, run)) {
        record(run, NOT_SENT, "destination host not connected");
    }
}

static void
stats_before(struct of_switch *sw, void *run_, int error,
             const struct of_port_stats *stats, size_t n)
{
    struct probe_run *run = run_;
    const struct probe_item *it = &run->items[run->next];
    struct host *src = weftd_find_host(run->d, it->src_host);
    (void) sw;

    if (error || !tx_of(stats, n, it->dst_port, &run->before)) {
        record(run, NOT_SENT, "no counters from the destination's switch");
        return;
    }
    size_t len;
    void *packet = flow_eval_packet_compose(&it->packet, &len);
    char *problem = NULL;
    for (int i = 0; i < VERIFY_PROBE_COPIES && src; i++) {
        /* Through table 0, as if the VM had sent it. */
        if (host_packet_out(src, it->packet.in_port, "resubmit(,0)", packet,
                            len, &problem)) {
            break;
        }
    }
    free(packet);
    if (!src || problem) {
        record(run, NOT_SENT, problem ? problem : "source host gone");
        free(problem);
        return;
    }
    ev_timer_set(&run->timer, VERIFY_PROBE_WAIT_MS / 1000.0, 0.);
    ev_timer_start(run->d->loop, &run->timer);
}

static void
probe_next(struct probe_run *run)
{
    while (run->next < run->n_items) {
        const struct probe_item *it = &run->items[run->next];
        struct host *dst = weftd_find_host(run->d, it->dst_host);
        struct host *src = weftd_find_host(run->d, it->src_host);
        if (dst && src && host_is_connected(src)
            && !host_request_port_stats(dst, stats_before, run)) {
            return;
        }
        /* Not through record(): no recursion over many unreachable
         * probes. */
        run->report.n_not_sent++;
        sbuf_printf(&run->details, "not probed %s: %s switch not "
                    "connected\n", it->label,
                    src && host_is_connected(src) ? "destination's"
                    : "source's");
        run->next++;
    }
    finish(run);
}

void
verify_probe_start(struct weftd *d, const char *host,
                   verify_probe_done_cb *cb, void *aux)
{
    struct probe_run *run = xzalloc(sizeof *run);
    run->d = d;
    run->cb = cb;
    run->aux = aux;
    ev_timer_init(&run->timer, timer_cb, 0., 0.);
    run->timer.data = run;
    make_items(run, host);
    WEFT_INFO("verify --probe: %zu probes of %d packets", run->n_items,
              VERIFY_PROBE_COPIES);
    probe_next(run);
}
