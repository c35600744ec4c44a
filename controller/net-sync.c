/* Weft's libvirt network on every host (see net-sync.h). */
#include "net-sync.h"

#include <ev.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "log.h"
#include "ovs-loop.h"
#include "policy.h"
#include "rpc.h"
#include "virt-host.h"
#include "virt-net.h"
#include "weftd.h"
#include "xalloc.h"

WEFT_LOG_MODULE(net_sync);

/* One host of a network-sync request. */
struct waiter {
    char *host;
    unsigned int seqno;     /* Report that answers it; 0: 'result' is. */
    const char *result;     /* When not waited for. */
    char *message;
};

struct pending {
    struct net_sync *ns;
    struct rpc_request *req;
    struct waiter *waiters;
    size_t n_waiters;
    ev_timer timer;
    struct pending *next;
};

struct net_sync {
    struct weftd *d;
    struct pending *pending;

    /* What the hosts were last given, to give again only on change. */
    bool pushed;
    int64_t generation;
    const void *cfg_hosts;      /* The configuration's host array. */
    size_t n_hosts;
    char *network;
    char *default_pg;
};

static void net_sync_run(void *ns_);
static void net_sync_wait(void *ns_);
static void answer(struct pending *, bool timed_out);

struct net_sync *
net_sync_create(struct weftd *d)
{
    struct net_sync *ns = xzalloc(sizeof *ns);
    ns->d = d;
    ovs_loop_register(net_sync_run, net_sync_wait, ns);
    return ns;
}

void
net_sync_destroy(struct net_sync *ns)
{
    if (!ns) {
        return;
    }
    ovs_loop_unregister(net_sync_run, net_sync_wait, ns);
    while (ns->pending) {
        answer(ns->pending, true);
    }
    free(ns->network);
    free(ns->default_pg);
    free(ns);
}

bool
net_sync_get_spec(const struct weftd *d, const struct host *h,
                  struct virt_net_spec *spec)
{
    const struct policy *p = d->policy.current;
    const char *dflt = d->cfg.libvirt_default_portgroup;

    if (!d->cfg.libvirt_network || !d->policy.loaded) {
        return false;
    }
    virt_net_spec_init(spec, d->cfg.libvirt_network,
                       host_get_config(h)->bridge);
    for (size_t i = 0; i < p->n_segments; i++) {
        const struct policy_segment *s = &p->segments[i];
        virt_net_spec_add_portgroup(spec, s->name, s->vlan,
                                    dflt && !strcmp(dflt, s->name));
    }
    return true;
}

/* Keeping the hosts' networks in step. */

static bool
streq_null(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static bool
inputs_changed(const struct net_sync *ns)
{
    const struct weftd *d = ns->d;
    return (!ns->pushed || ns->generation != d->policy.generation
            || ns->cfg_hosts != (const void *) d->cfg.hosts
            || ns->n_hosts != d->n_hosts
            || !streq_null(ns->network, d->cfg.libvirt_network)
            || !streq_null(ns->default_pg,
                           d->cfg.libvirt_default_portgroup));
}

/* Gives every host its network if anything it depends on changed. */
static void
push_specs(struct net_sync *ns, bool force)
{
    struct weftd *d = ns->d;
    if (!force && !inputs_changed(ns)) {
        return;
    }
    if (d->cfg.libvirt_network && !d->policy.loaded) {
        return;                 /* Not before the segments are known. */
    }
    const char *dflt = d->cfg.libvirt_default_portgroup;
    if (dflt && !policy_find_segment(d->policy.current, dflt)) {
        WEFT_WARN("libvirt-network-default-portgroup: no segment \"%s\" in "
                  "policy generation %"PRId64"; the network has no default "
                  "portgroup", dflt, d->policy.generation);
    }
    for (size_t i = 0; i < d->n_hosts; i++) {
        struct virt_net_spec spec;
        bool want = net_sync_get_spec(d, d->hosts[i], &spec);
        host_set_libvirt_network(d->hosts[i], want ? &spec : NULL, force);
        if (want) {
            virt_net_spec_destroy(&spec);
        }
    }
    ns->pushed = true;
    ns->generation = d->policy.generation;
    ns->cfg_hosts = d->cfg.hosts;
    ns->n_hosts = d->n_hosts;
    free(ns->network);
    free(ns->default_pg);
    ns->network = xstrdup(d->cfg.libvirt_network);
    ns->default_pg = xstrdup(dflt);
}

/* network-sync. */

static bool
waiter_done(const struct weftd *d, const struct waiter *w)
{
    const struct host *h = weftd_find_host(d, w->host);
    if (!w->seqno || !h || !host_libvirt_is_connected(h)) {
        return true;
    }
    const struct virt_net_report *r = host_get_libvirt_networks(h);
    return r && r->seqno >= w->seqno;
}

static void
pack_waiter(msgpack_packer *pk, const struct weftd *d,
            const struct waiter *w, bool timed_out)
{
    const struct host *h = weftd_find_host(d, w->host);
    const struct virt_net_report *r = h ? host_get_libvirt_networks(h)
                                        : NULL;
    const char *result = w->result;
    const char *message = w->message;
    char *status = NULL;

    if (w->seqno && r && r->seqno >= w->seqno) {
        result = virt_net_outcome_to_string(r->outcome);
        message = r->message;
    } else if (w->seqno && !h) {
        result = "gone";
        message = "removed from the configuration meanwhile";
    } else if (w->seqno && !host_libvirt_is_connected(h)) {
        struct host_status st;
        host_get_status(h, 0, &st);
        result = "down";
        status = xasprintf("libvirt not connected (%s); the network is "
                           "synced when it reconnects", st.libvirt_state);
        message = status;
    } else if (w->seqno) {
        result = timed_out ? "timeout" : "pending";
        message = "no answer from the host's libvirt worker yet";
    }
    msgpack_pack_map(pk, 4);
    rpc_pack_kv_string(pk, "host", w->host);
    rpc_pack_kv_string(pk, "network", d->cfg.libvirt_network);
    rpc_pack_kv_string(pk, "result", result);
    rpc_pack_kv_string(pk, "message", message);
    free(status);
}

/* Answers 'p' and frees it. */
static void
answer(struct pending *p, bool timed_out)
{
    struct net_sync *ns = p->ns;
    for (struct pending **pp = &ns->pending; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    ev_timer_stop(ns->d->loop, &p->timer);

    msgpack_packer *pk = rpc_reply_begin(p->req);
    msgpack_pack_array(pk, p->n_waiters);
    for (size_t i = 0; i < p->n_waiters; i++) {
        pack_waiter(pk, ns->d, &p->waiters[i], timed_out);
        free(p->waiters[i].host);
        free(p->waiters[i].message);
    }
    rpc_reply_end(p->req);
    free(p->waiters);
    free(p);
}

static void
timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void) loop;
    (void) revents;
    answer(w->data, true);
}

/* Asks 'h' to look at its networks now; fills in 'w'. */
static void
start_waiter(struct host *h, const struct virt_net_spec *spec,
             struct waiter *w)
{
    struct host_status st;
    host_get_status(h, 0, &st);
    w->host = xstrdup(host_get_name(h));
    if (!st.libvirt_uri) {
        w->result = "skipped";
        w->message = xstrdup("no libvirt URI configured for this host");
    } else if (!host_libvirt_is_connected(h)) {
        w->result = "down";
        w->message = xasprintf("libvirt not connected (%s); the network is "
                               "synced when it reconnects",
                               st.libvirt_state);
    } else {
        w->seqno = host_set_libvirt_network(h, spec, true);
    }
}

void
net_sync_request(struct net_sync *ns, struct rpc_request *req,
                 const char *host)
{
    struct weftd *d = ns->d;
    if (!d->cfg.libvirt_network) {
        rpc_reply_error(req, "not-supported", "weftd keeps no libvirt "
                        "network (libvirt-network = none in its "
                        "configuration)", NULL, 0);
        return;
    } else if (!d->policy.loaded) {
        rpc_reply_error(req, "unavailable", d->policy.db
                        ? "the policy has not been read yet: no segments to "
                          "make portgroups of; try again"
                        : "weftd has no policy database (policy-db): no "
                          "segments to make portgroups of", NULL, 0);
        return;
    } else if (host && !weftd_find_host(d, host)) {
        rpc_reply_errorf(req, "not-found", "host", 0, "no host named "
                         "\"%s\"", host);
        return;
    }
    push_specs(ns, false);

    struct pending *p = xzalloc(sizeof *p);
    p->ns = ns;
    p->req = req;
    p->waiters = xcalloc(d->n_hosts, sizeof *p->waiters);
    for (size_t i = 0; i < d->n_hosts; i++) {
        struct host *h = d->hosts[i];
        struct virt_net_spec spec;
        if ((!host || !strcmp(host, host_get_name(h)))
            && net_sync_get_spec(d, h, &spec)) {
            start_waiter(h, &spec, &p->waiters[p->n_waiters++]);
            virt_net_spec_destroy(&spec);
        }
    }
    p->next = ns->pending;
    ns->pending = p;
    ev_timer_init(&p->timer, timeout_cb, NET_SYNC_TIMEOUT_S, 0.0);
    p->timer.data = p;
    ev_timer_start(d->loop, &p->timer);
    ovs_loop_request_run();
}

static void
net_sync_run(void *ns_)
{
    struct net_sync *ns = ns_;
    push_specs(ns, false);

    struct pending *next;
    for (struct pending *p = ns->pending; p; p = next) {
        next = p->next;
        bool done = true;
        for (size_t i = 0; done && i < p->n_waiters; i++) {
            done = waiter_done(ns->d, &p->waiters[i]);
        }
        if (done) {
            answer(p, false);
        }
    }
}

static void
net_sync_wait(void *ns_)
{
    /* Hosts request a run when a report arrives; the timers need no
     * poll. */
    (void) ns_;
}

/* "show". */

static void
pack_network(msgpack_packer *pk, const struct virt_net_info *net,
             const char *managed_name, const char *bridge)
{
    bool managed = (net->weft && managed_name
                    && !strcmp(net->name, managed_name));
    char *reason = (managed ? NULL
                    : virt_net_unmanaged_reason(net, managed_name, bridge));
    if (!managed && !reason) {
        reason = xasprintf("on the integration bridge but not Weft's: its "
                           "portgroups do not follow the segments; its vNICs "
                           "are placed by their VLAN tag or portgroup name");
    }
    msgpack_pack_map(pk, 7);
    rpc_pack_kv_string(pk, "name", net->name);
    rpc_pack_kv_string(pk, "forward", net->forward);
    rpc_pack_kv_string(pk, "bridge", net->bridge);
    rpc_pack_kv_bool(pk, "active", net->active);
    rpc_pack_kv_bool(pk, "managed", managed);
    rpc_pack_kv_uint(pk, "portgroups", net->n_portgroups);
    rpc_pack_kv_string(pk, "reason", reason);
    free(reason);
}

void
net_sync_pack_host(msgpack_packer *pk, const struct weftd *d,
                   const struct host *h)
{
    const struct virt_net_report *r = host_get_libvirt_networks(h);

    rpc_pack_key(pk, "libvirt_network");
    if (r && r->network) {
        msgpack_pack_map(pk, 3);
        rpc_pack_kv_string(pk, "name", r->network);
        rpc_pack_kv_string(pk, "result",
                           virt_net_outcome_to_string(r->outcome));
        rpc_pack_kv_string(pk, "message", r->message);
    } else {
        msgpack_pack_nil(pk);
    }
    rpc_pack_key(pk, "libvirt_networks");
    msgpack_pack_array(pk, r ? r->n_nets : 0);
    for (size_t i = 0; r && i < r->n_nets; i++) {
        pack_network(pk, &r->nets[i], d->cfg.libvirt_network,
                     host_get_config(h)->bridge);
    }
}
