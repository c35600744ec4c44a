/* A packet's way through the cluster (see net-trace.h). */
#include "net-trace.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "policy.h"
#include "xalloc.h"

static const struct net_trace_host *
find_host(const struct net_trace_host *hosts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(hosts[i].name, name)) {
            return &hosts[i];
        }
    }
    return NULL;
}

static const struct net_trace_tunnel *
tunnel_at(const struct net_trace_host *h, uint32_t port)
{
    for (size_t i = 0; i < h->n_tunnels; i++) {
        if (h->tunnels[i].port == port) {
            return &h->tunnels[i];
        }
    }
    return NULL;
}

static const struct net_trace_tunnel *
tunnel_to(const struct net_trace_host *h, const char *peer)
{
    for (size_t i = 0; i < h->n_tunnels; i++) {
        if (!strcmp(h->tunnels[i].peer, peer)) {
            return &h->tunnels[i];
        }
    }
    return NULL;
}

struct step_ctx {
    const char *host;
    net_trace_step_cb *cb;
    void *aux;
};

static void
step(void *ctx_, uint64_t cookie, const char *text)
{
    struct step_ctx *ctx = ctx_;
    if (ctx->cb) {
        ctx->cb(ctx->aux, ctx->host, cookie, text);
    }
}

static void
note(net_trace_step_cb *cb, void *aux, const char *host, const char *text)
{
    if (cb) {
        cb(aux, host, 0, text);
    }
}

static void
add_delivery(struct net_trace_result *r, const char *host, uint32_t port)
{
    r->deliveries = xrealloc(r->deliveries,
                             (r->n_deliveries + 1) * sizeof *r->deliveries);
    r->deliveries[r->n_deliveries++] = (struct net_trace_delivery) {
        .host = host,
        .port = port,
    };
}

static void
set_problem(struct net_trace_result *r, char *problem)
{
    if (!r->problem) {
        r->problem = problem;
    } else {
        free(problem);
    }
}

/* Evaluates 'p' on 'h'; follows tunnels if 'hops' allows. */
static void
trace_host(const struct net_trace_host *hosts, size_t n,
           const struct net_trace_host *h, const struct flow_eval_packet *p,
           int hops, net_trace_step_cb *cb, void *aux,
           struct net_trace_result *r)
{
    char text[256];

    if (!h->fe) {
        snprintf(text, sizeof text, "flows unknown: %s",
                 h->why_unknown ? h->why_unknown : "not read back");
        note(cb, aux, h->name, text);
        set_problem(r, xasprintf("%s: %s", h->name, text));
        return;
    }

    struct step_ctx ctx = { .host = h->name, .cb = cb, .aux = aux };
    struct flow_eval_result er;
    flow_eval_run(h->fe, p, step, &ctx, &er);
    if (er.problem) {
        set_problem(r, xasprintf("%s: %s", h->name, er.problem));
    }
    r->to_controller |= er.to_controller;

    for (size_t i = 0; i < er.n_outputs; i++) {
        const struct flow_eval_output *o = &er.outputs[i];
        const struct net_trace_tunnel *t = tunnel_at(h, o->port);
        if (!t) {
            add_delivery(r, h->name, o->port);
            continue;
        }

        const struct net_trace_host *peer = find_host(hosts, n, t->peer);
        const struct net_trace_tunnel *back = (peer ? tunnel_to(peer, h->name)
                                               : NULL);
        if (!hops) {
            note(cb, aux, h->name, "out of a tunnel again: not followed");
            continue;
        }
        if (!back) {
            snprintf(text, sizeof text, "into the tunnel to %s, which has "
                     "no tunnel port back", t->peer);
            note(cb, aux, h->name, text);
            continue;
        }
        snprintf(text, sizeof text, "out of port %u into the tunnel to %s "
                 "with tun_id %llu: on %s, in by port %u", o->port, t->peer,
                 (unsigned long long) o->tun_id, t->peer, back->port);
        note(cb, aux, h->name, text);

        struct flow_eval_packet q = *p;
        q.in_port = back->port;
        q.tun_id = o->tun_id;
        trace_host(hosts, n, peer, &q, hops - 1, cb, aux, r);
    }
    flow_eval_result_destroy(&er);
}

void
net_trace_run(const struct net_trace_host *hosts, size_t n, const char *host,
              const struct flow_eval_packet *p, net_trace_step_cb *cb,
              void *aux, struct net_trace_result *r)
{
    memset(r, 0, sizeof *r);
    const struct net_trace_host *h = find_host(hosts, n, host);
    if (!h) {
        r->problem = xasprintf("no host %s", host);
        return;
    }
    trace_host(hosts, n, h, p, 1, cb, aux, r);
}

void
net_trace_result_destroy(struct net_trace_result *r)
{
    if (r) {
        free(r->deliveries);
        free(r->problem);
        memset(r, 0, sizeof *r);
    }
}

static void
parse_mac(const char *s, uint8_t mac[6])
{
    unsigned int b[6] = { 0 };
    sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]);
    for (int i = 0; i < 6; i++) {
        mac[i] = b[i];
    }
}

/* The vNIC's first address of the family, or one made from its MAC. */
static void
vnic_address(const struct pipeline_vnic *v, bool ipv6, uint8_t addr[16])
{
    memset(addr, 0, 16);
    for (size_t i = 0; i < v->n_ips; i++) {
        if (inet_pton(ipv6 ? AF_INET6 : AF_INET, v->ips[i], addr) == 1) {
            return;
        }
    }
    uint8_t mac[6];
    parse_mac(v->mac, mac);
    if (ipv6) {
        static const uint8_t prefix[8] = { 0xfd, 0x57, 0x57, 0x46 };
        memcpy(addr, prefix, 8);
        memcpy(addr + 10, mac, 6);
    } else {
        addr[0] = 198;
        addr[1] = 18 + (mac[3] & 1);
        addr[2] = mac[4];
        addr[3] = mac[5];
    }
}

void
net_trace_packet(const struct pipeline_vnic *src,
                 const struct pipeline_vnic *dst, int proto, int port,
                 struct flow_eval_packet *p)
{
    memset(p, 0, sizeof *p);
    p->in_port = src->ofport;
    parse_mac(src->mac, p->dl_src);
    parse_mac(dst->mac, p->dl_dst);
    p->ipv6 = proto == POLICY_PROTO_ICMP6;
    vnic_address(src, p->ipv6, p->nw_src);
    vnic_address(dst, p->ipv6, p->nw_dst);
    p->proto = (proto == POLICY_PROTO_TCP ? FLOW_EVAL_TCP
                : proto == POLICY_PROTO_UDP ? FLOW_EVAL_UDP
                : FLOW_EVAL_ICMP);
    p->tp_src = 40000;
    p->tp_dst = port;
}

bool
net_trace_delivered_to(const struct net_trace_result *r, const char *host,
                       uint32_t port)
{
    for (size_t i = 0; i < r->n_deliveries; i++) {
        if (r->deliveries[i].port == port
            && !strcmp(r->deliveries[i].host, host)) {
            return true;
        }
    }
    return false;
}
