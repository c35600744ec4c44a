/* Trace and verify by the installed flows (see verify.h). */
#include "verify.h"

#include <arpa/inet.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "cookie-owner.h"
#include "flow-eval.h"
#include "flow-table.h"
#include "flow.h"
#include "host.h"
#include "net-trace.h"
#include "pipeline.h"
#include "policy.h"
#include "weftd.h"
#include "xalloc.h"

struct verify_net {
    struct net_trace_host *hosts;
    size_t n_hosts;
    char **names;               /* Copies: hosts may go meanwhile. */
    char **whys;
    struct flow_table_drift *drift;

    size_t n_pending;           /* Read-backs still to come. */
    bool started;               /* Every read-back has been asked for. */
    verify_net_ready_cb *cb;
    void *aux;

    /* The last read-back may come while weftd is changing its hosts
     * (one removed by a reload closes its switch): 'cb' runs from the loop
     * instead, once that is over. */
    struct ev_loop *loop;
    ev_timer ready;
};

static void
ready_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct verify_net *net = w->data;
    (void) revents;
    ev_timer_stop(loop, w);
    net->cb(net, net->aux);
}

struct refresh_ctx {
    struct verify_net *net;
    size_t idx;
};

static void
maybe_ready(struct verify_net *net)
{
    if (net->started && !net->n_pending) {
        ev_timer_start(net->loop, &net->ready);
    }
}

static void
refreshed(void *ctx_, struct flow_eval *fe,
          const struct flow_table_drift *drift, const char *error)
{
    struct refresh_ctx *ctx = ctx_;
    struct verify_net *net = ctx->net;
    size_t i = ctx->idx;

    free(ctx);
    net->hosts[i].fe = fe;
    if (fe) {
        net->drift[i] = *drift;
    } else {
        net->whys[i] = xstrdup(error ? error : "read-back failed");
        net->hosts[i].why_unknown = net->whys[i];
    }
    net->n_pending--;
    maybe_ready(net);
}

void
verify_net_refresh(struct weftd *d, verify_net_ready_cb *cb, void *aux)
{
    struct verify_net *net = xzalloc(sizeof *net);
    size_t n = d->n_hosts;

    net->cb = cb;
    net->aux = aux;
    net->loop = d->loop;
    ev_timer_init(&net->ready, ready_cb, 0., 0.);
    net->ready.data = net;
    net->hosts = xcalloc(n + 1, sizeof *net->hosts);
    net->names = xcalloc(n + 1, sizeof *net->names);
    net->whys = xcalloc(n + 1, sizeof *net->whys);
    net->drift = xcalloc(n + 1, sizeof *net->drift);
    for (size_t i = 0; i < n; i++) {
        struct host *h = d->hosts[i];
        struct net_trace_host *nh = &net->hosts[net->n_hosts++];
        const char **peers;
        size_t n_peers = host_get_wanted_tunnels(h, &peers);
        struct net_trace_tunnel *tunnels = xcalloc(n_peers + 1,
                                                   sizeof *tunnels);
        size_t n_tunnels = 0;

        for (size_t j = 0; j < n_peers; j++) {
            int port = host_get_tunnel_ofport(h, peers[j]);
            if (port > 0) {
                tunnels[n_tunnels++] = (struct net_trace_tunnel) {
                    port, xstrdup(peers[j]),
                };
            }
        }
        free(peers);
        net->names[i] = xstrdup(host_get_name(h));
        nh->name = net->names[i];
        nh->tunnels = tunnels;
        nh->n_tunnels = n_tunnels;

        struct refresh_ctx *ctx = xmalloc(sizeof *ctx);
        const char *why;
        *ctx = (struct refresh_ctx) { net, i };
        net->n_pending++;
        if (!host_refresh_flows(h, refreshed, ctx, &why)) {
            net->n_pending--;
            free(ctx);
            net->whys[i] = xstrdup(why);
            nh->why_unknown = net->whys[i];
        }
    }
    net->started = true;
    maybe_ready(net);
}

void
verify_net_destroy(struct verify_net *net)
{
    if (!net) {
        return;
    }
    for (size_t i = 0; i < net->n_hosts; i++) {
        struct net_trace_host *nh = &net->hosts[i];
        /* All made by verify_net_refresh(). */
        flow_eval_destroy((struct flow_eval *) nh->fe);
        for (size_t j = 0; j < nh->n_tunnels; j++) {
            free((char *) nh->tunnels[j].peer);
        }
        free((struct net_trace_tunnel *) nh->tunnels);
        free(net->names[i]);
        free(net->whys[i]);
    }
    free(net->hosts);
    free(net->names);
    free(net->whys);
    free(net->drift);
    free(net);
}

void
verify_net_format_drift(const struct verify_net *net, FILE *out)
{
    for (size_t i = 0; i < net->n_hosts; i++) {
        const struct flow_table_drift *dr = &net->drift[i];
        if (net->hosts[i].fe
            && (dr->n_missing || dr->n_unexpected || dr->n_changed)) {
            fprintf(out, "%s: the switch's flows differ from weftd's: %zu "
                    "missing, %zu unexpected, %zu changed (traced as found; "
                    "weftd is putting them right)\n", net->names[i],
                    dr->n_missing, dr->n_unexpected, dr->n_changed);
        }
    }
}

static const struct pipeline_vnic *
find_vnic(const struct pipeline_plan *plan, const char *host, const char *tap)
{
    for (size_t i = 0; i < pipeline_plan_n_vnics(plan); i++) {
        const struct pipeline_vnic *v = pipeline_plan_vnic(plan, i);
        if (!strcmp(v->host, host) && !strcmp(v->tap, tap)) {
            return v;
        }
    }
    return NULL;
}

/* Trace steps, written with the owner of each flow. */
struct step_out {
    const struct weftd *d;
    FILE *out;
    char *last;                 /* Last step, "HOST: TEXT". */
};

static void
write_step(void *aux, const char *host, uint64_t cookie, const char *text)
{
    struct step_out *s = aux;
    char *owner = cookie ? cookie_owner(s->d, cookie) : NULL;
    if (!owner && cookie == weft_cookie(WEFT_COOKIE_PIPELINE, 0)) {
        owner = xstrdup("table default");
    }
    free(s->last);
    s->last = xasprintf("%s: %s%s%s%s", host, text, owner ? " [" : "",
                        owner ? owner : "", owner ? "]" : "");
    free(owner);
    if (s->out) {
        fprintf(s->out, "%s\n", s->last);
    }
}

static void
put_address(FILE *out, const struct flow_eval_packet *p, const uint8_t *a)
{
    char buf[INET6_ADDRSTRLEN];
    fputs(inet_ntop(p->ipv6 ? AF_INET6 : AF_INET, a, buf, sizeof buf), out);
}

/* Runs 'q''s probe through the flows; '*delivered' and the trace result. */
static void
run_probe(const struct verify_net *net, const struct pipeline_vnic *src,
          const struct pipeline_vnic *dst, const struct pipeline_trace *q,
          struct step_out *steps, struct net_trace_result *r,
          bool *delivered)
{
    struct flow_eval_packet p;
    net_trace_packet(src, dst, q->proto, q->port, &p);
    if (steps && steps->out) {
        fprintf(steps->out, "packet: %s from %s/%s (%s, ",
                policy_proto_to_string(q->proto), src->vm, src->tap,
                src->mac);
        put_address(steps->out, &p, p.nw_src);
        fprintf(steps->out, ") to %s/%s (%s, ", dst->vm, dst->tap, dst->mac);
        put_address(steps->out, &p, p.nw_dst);
        fprintf(steps->out, ")");
        if (q->port) {
            fprintf(steps->out, " port %d", q->port);
        }
        fprintf(steps->out, ", first packet of a new connection\n");
    }
    net_trace_run(net->hosts, net->n_hosts, src->host, &p,
                  steps ? write_step : NULL, steps, r);
    *delivered = net_trace_delivered_to(r, dst->host, dst->ofport);
}

bool
verify_trace(const struct weftd *d, const struct verify_net *net,
             const struct pipeline_plan *plan,
             const struct pipeline_trace *q, FILE *out, bool *complete)
{
    const struct pipeline_vnic *src = find_vnic(plan, q->src_host,
                                                q->src_tap);
    const struct pipeline_vnic *dst = find_vnic(plan, q->dst_host,
                                                q->dst_tap);
    *complete = false;
    if (!src || !dst) {
        fprintf(out, "not traced: %s/%s is not a placed vNIC of a segment "
                "in the policy\n", src ? q->dst_host : q->src_host,
                src ? q->dst_tap : q->src_tap);
        return false;
    }

    struct step_out steps = { .d = d, .out = out };
    struct net_trace_result r;
    bool delivered;
    run_probe(net, src, dst, q, &steps, &r, &delivered);
    for (size_t i = 0; i < r.n_deliveries; i++) {
        const struct net_trace_delivery *o = &r.deliveries[i];
        if (strcmp(o->host, dst->host) || o->port != dst->ofport) {
            fprintf(out, "also out of port %u on %s\n", o->port, o->host);
        }
    }
    if (r.to_controller) {
        fprintf(out, "also to the controller\n");
    }
    if (r.problem) {
        fprintf(out, "incomplete: %s\n", r.problem);
    }
    fprintf(out, "result: %s by the flows on the switches\n",
            delivered ? "DELIVERED" : "DROPPED");
    *complete = !r.problem;
    free(steps.last);
    net_trace_result_destroy(&r);
    return delivered;
}

/* Probe classes. */

static bool
rules_cover_port(const struct policy *p, int proto, int port)
{
    for (size_t i = 0; i < p->n_rules; i++) {
        const struct policy_rule *r = &p->rules[i];
        for (size_t j = 0; (int) r->proto == proto && j < r->n_ports; j++) {
            if (port >= r->ports[j].min && port <= r->ports[j].max) {
                return true;
            }
        }
    }
    return false;
}

static void
add_probe(struct verify_probe_class **probes, size_t *n, int proto, int port)
{
    for (size_t i = 0; i < *n; i++) {
        if ((*probes)[i].proto == proto && (*probes)[i].port == port) {
            return;
        }
    }
    *probes = xrealloc(*probes, (*n + 1) * sizeof **probes);
    (*probes)[(*n)++] = (struct verify_probe_class) { proto, port };
}

/* icmp, icmp6; for tcp and udp, the first port of each range the rules
 * name, and one that no rule names. */
size_t
verify_make_probes(const struct policy *p, struct verify_probe_class **probesp)
{
    static const int protos[] = { POLICY_PROTO_TCP, POLICY_PROTO_UDP };
    struct verify_probe_class *probes = NULL;
    size_t n = 0;

    add_probe(&probes, &n, POLICY_PROTO_ICMP, 0);
    add_probe(&probes, &n, POLICY_PROTO_ICMP6, 0);
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < p->n_rules; i++) {
            const struct policy_rule *r = &p->rules[i];
            for (size_t j = 0; (int) r->proto == protos[k] && j < r->n_ports;
                 j++) {
                add_probe(&probes, &n, protos[k], r->ports[j].min);
            }
        }
        for (int port = 9; port < 65536; port += 1000) {
            if (!rules_cover_port(p, protos[k], port)) {
                add_probe(&probes, &n, protos[k], port);
                break;
            }
        }
    }
    *probesp = probes;
    return n;
}

/* The line of the policy's explanation that decides: the rule or the
 * default of table 41, or the first reason to drop. */
static char *
policy_reason(const struct pipeline_plan *plan, const struct pipeline_trace *q)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    pipeline_plan_trace(plan, q, f);
    fclose(f);

    char *reason = NULL;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "table 41:", 9) || !strncmp(line, "result:", 7)) {
            free(reason);
            reason = xstrdup(line);
            if (!strncmp(line, "table 41:", 9)) {
                break;
            }
        }
    }
    free(text);
    return reason ? reason : xstrdup("?");
}

static void
report_mismatch(const struct weftd *d, const struct verify_net *net,
                const struct pipeline_plan *plan,
                const struct pipeline_vnic *src,
                const struct pipeline_vnic *dst,
                const struct pipeline_trace *q, bool want, FILE *out)
{
    struct step_out steps = { .d = d };
    struct net_trace_result r;
    bool got;
    run_probe(net, src, dst, q, &steps, &r, &got);
    char *reason = policy_reason(plan, q);

    fprintf(out, "MISMATCH %s/%s (%s) -> %s/%s (%s) %s", src->vm, src->tap,
            src->host, dst->vm, dst->tap, dst->host,
            policy_proto_to_string(q->proto));
    if (q->port) {
        fprintf(out, "/%d", q->port);
    }
    fprintf(out, ": the policy %s it (%s); the flows %s it (last step: "
            "%s)\n", want ? "allows" : "refuses", reason,
            got ? "deliver" : "drop", steps.last ? steps.last : "none");
    free(reason);
    free(steps.last);
    net_trace_result_destroy(&r);
}

void
verify_run(const struct weftd *d, const struct verify_net *net,
           const struct pipeline_plan *plan, const char *host, FILE *out,
           struct verify_report *rep)
{
    struct verify_probe_class *probes;
    size_t n_probes = verify_make_probes(d->policy.current, &probes);
    size_t n_vnics = pipeline_plan_n_vnics(plan);
    FILE *null = fopen("/dev/null", "w");
    bool *reported = xcalloc(net->n_hosts + 1, sizeof *reported);

    memset(rep, 0, sizeof *rep);
    rep->n_vnics = n_vnics;
    rep->n_probes = n_probes;
    for (size_t i = 0; i < n_vnics && !rep->truncated; i++) {
        const struct pipeline_vnic *src = pipeline_plan_vnic(plan, i);
        if (host && strcmp(src->host, host)) {
            continue;
        }
        for (size_t j = 0; j < n_vnics && !rep->truncated; j++) {
            const struct pipeline_vnic *dst = pipeline_plan_vnic(plan, j);
            for (size_t k = 0; k < n_probes && i != j; k++) {
                struct pipeline_trace q = {
                    .src_host = src->host, .src_tap = src->tap,
                    .dst_host = dst->host, .dst_tap = dst->tap,
                    .proto = probes[k].proto, .port = probes[k].port,
                };
                if (rep->n_checks + rep->n_incomplete >= VERIFY_MAX_CHECKS) {
                    rep->truncated = true;
                    break;
                }

                bool want = pipeline_plan_trace(plan, &q, null);
                struct net_trace_result r;
                bool got;
                run_probe(net, src, dst, &q, NULL, &r, &got);
                if (r.problem) {
                    rep->n_incomplete++;
                    for (size_t h = 0; h < net->n_hosts; h++) {
                        size_t len = strlen(net->hosts[h].name);
                        if (!reported[h]
                            && !strncmp(r.problem, net->hosts[h].name, len)
                            && r.problem[len] == ':') {
                            reported[h] = true;
                            fprintf(out, "not checked through %s\n",
                                    r.problem);
                        }
                    }
                } else {
                    rep->n_checks++;
                    if (got != want) {
                        rep->n_mismatches++;
                        report_mismatch(d, net, plan, src, dst, &q, want,
                                        out);
                    }
                }
                net_trace_result_destroy(&r);
            }
        }
    }
    fclose(null);
    free(reported);
    free(probes);
}
