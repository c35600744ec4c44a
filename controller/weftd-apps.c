/* weftd's side of the controller apps (see weftd-apps.h). */
#include "weftd-apps.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "flow.h"
#include "host.h"
#include "log.h"
#include "openflow.h"
#include "ovs-loop.h"
#include "weftd.h"
#include "xalloc.h"

WEFT_LOG_MODULE(apps);

/* What the apps were last told about one host. */
struct app_host_state {
    const struct host *host;        /* Identity (a restarted host is new). */
    char *name;
    bool up;
    bool vnics_known;
    unsigned int ports_version;
    unsigned int flows_version;     /* apps_get_flows_version() pushed. */
    bool flows_pushed;
};

struct weftd_apps {
    struct app_host_state *hosts;
    size_t n_hosts;
};

static int
env_packet_out(void *d_, const char *host, uint32_t in_port,
               const char *actions, const void *packet, size_t len,
               char **errorp)
{
    struct host *h = weftd_find_host(d_, host);
    if (!h) {
        *errorp = xasprintf("no host named \"%s\"", host);
        return ENOENT;
    }
    return host_packet_out(h, in_port, actions, packet, len, errorp);
}

/* A switch answered (or not) a port stats request of an app: 'aux' is
 * the request's ID in the registry. */
static void
port_stats_cb(struct of_switch *sw, void *aux, int error,
              const struct of_port_stats *ps, size_t n)
{
    struct weftd *d = of_switch_get_listener_aux(sw);
    if (!d->apps) {
        return;                 /* weftd is exiting. */
    }
    struct weft_app_port_stats *stats = xcalloc(n + 1, sizeof *stats);
    for (size_t i = 0; i < n; i++) {
        stats[i] = (struct weft_app_port_stats) {
            .port = ps[i].port,
            .rx_packets = ps[i].rx_packets,
            .tx_packets = ps[i].tx_packets,
            .rx_bytes = ps[i].rx_bytes,
            .tx_bytes = ps[i].tx_bytes,
            .rx_dropped = ps[i].rx_dropped,
            .tx_dropped = ps[i].tx_dropped,
        };
    }
    apps_port_stats_reply(d->apps, (uintptr_t) aux, error, stats, n);
    free(stats);
}

static int
env_port_stats(void *d_, const char *host, uint64_t id)
{
    struct host *h = weftd_find_host(d_, host);
    if (!h) {
        return ENOENT;
    }
    return host_request_port_stats(h, port_stats_cb, (void *) (uintptr_t) id);
}

static const char *
env_policy(void *d_, long long int *generation)
{
    struct weftd *d = d_;
    *generation = d->policy.generation;
    return d->policy.document;
}

static void
env_changed(void *d_)
{
    (void) d_;
    ovs_loop_request_run();
}

void
weftd_apps_init(struct weftd *d)
{
    struct apps_env env = {
        .loop = d->loop,
        .packet_out = env_packet_out,
        .port_stats = env_port_stats,
        .policy = env_policy,
        .changed = env_changed,
        .aux = d,
    };
    d->apps = apps_create(&env);
    d->apps_glue = xzalloc(sizeof *d->apps_glue);
    weftd_apps_load_configured(d);
}

void
weftd_apps_load_configured(struct weftd *d)
{
    for (size_t i = 0; i < d->cfg.n_apps; i++) {
        const struct weft_app_config *ac = &d->cfg.apps[i];
        struct weft_app_kv *kv = xcalloc(ac->n_keys + 1, sizeof *kv);
        for (size_t j = 0; j < ac->n_keys; j++) {
            kv[j] = (struct weft_app_kv) { ac->keys[j], ac->values[j] };
        }
        char *error;
        if (apps_load(d->apps, ac->path, ac->name, kv, ac->n_keys,
                      &error)) {
            WEFT_ERR("%s:%d: app %s not loaded: %s; weftd runs without it",
                     d->config_path, ac->line, ac->name, error);
            free(error);
        }
        free(kv);
    }
}

void
weftd_apps_destroy(struct weftd *d)
{
    apps_destroy(d->apps);
    d->apps = NULL;
    if (d->apps_glue) {
        for (size_t i = 0; i < d->apps_glue->n_hosts; i++) {
            free(d->apps_glue->hosts[i].name);
        }
        free(d->apps_glue->hosts);
        free(d->apps_glue);
        d->apps_glue = NULL;
    }
}

static bool
host_exists(const struct weftd *d, const struct host *h)
{
    for (size_t i = 0; i < d->n_hosts; i++) {
        if (d->hosts[i] == h) {
            return true;
        }
    }
    return false;
}

static struct app_host_state *
get_state(struct weftd_apps *g, const struct host *h)
{
    for (size_t i = 0; i < g->n_hosts; i++) {
        if (g->hosts[i].host == h) {
            return &g->hosts[i];
        }
    }
    g->hosts = xrealloc(g->hosts, (g->n_hosts + 1) * sizeof *g->hosts);
    struct app_host_state *s = &g->hosts[g->n_hosts++];
    *s = (struct app_host_state) {
        .host = h,
        .name = xstrdup(host_get_name(h)),
    };
    return s;
}

/* Hosts gone from the configuration (or restarted: a new object). */
static void
forget_hosts(struct weftd *d)
{
    struct weftd_apps *g = d->apps_glue;
    for (size_t i = 0; i < g->n_hosts; ) {
        struct app_host_state *s = &g->hosts[i];
        if (host_exists(d, s->host)) {
            i++;
            continue;
        }
        if (s->up) {
            apps_host_down(d->apps, s->name);
        }
        apps_set_vnics(d->apps, s->name, NULL, 0);
        free(s->name);
        *s = g->hosts[--g->n_hosts];
    }
}

static void
sync_vnics(struct weftd *d, struct host *h, struct app_host_state *s)
{
    unsigned int version = host_get_ports_version(h);
    if (s->vnics_known && version == s->ports_version) {
        return;
    }
    s->vnics_known = true;
    s->ports_version = version;

    const struct host_vm_port *ports;
    size_t n = host_get_vm_ports(h, &ports);
    struct weft_app_vnic *vnics = xcalloc(n + 1, sizeof *vnics);
    size_t n_vnics = 0;
    for (size_t i = 0; i < n; i++) {
        if (ports[i].ofport > 0 && ports[i].segment) {
            vnics[n_vnics++] = (struct weft_app_vnic) {
                .host = host_get_name(h),
                .vm = ports[i].vm,
                .tap = ports[i].tap,
                .mac = ports[i].mac,
                .segment = ports[i].segment,
                .ofport = ports[i].ofport,
            };
        }
    }
    apps_set_vnics(d->apps, host_get_name(h), vnics, n_vnics);
    free(vnics);
}

void
weftd_apps_run(struct weftd *d)
{
    struct weftd_apps *g = d->apps_glue;
    forget_hosts(d);
    for (size_t i = 0; i < d->n_hosts; i++) {
        struct host *h = d->hosts[i];
        struct app_host_state *s = get_state(g, h);
        bool up = host_is_connected(h);
        if (up != s->up) {
            s->up = up;
            if (up) {
                apps_host_up(d->apps, s->name);
            } else {
                apps_host_down(d->apps, s->name);
            }
        }
        if (host_ports_known(h)) {
            sync_vnics(d, h, s);
        }
    }

    /* Flows last: the events above may have changed them. */
    for (size_t i = 0; i < d->n_hosts; i++) {
        struct host *h = d->hosts[i];
        struct app_host_state *s = get_state(g, h);
        unsigned int version = apps_get_flows_version(d->apps, s->name);
        if (s->flows_pushed && s->flows_version == version) {
            continue;
        }
        struct weft_flow_set flows;
        weft_flow_set_init(&flows);
        apps_get_flows(d->apps, s->name, &flows);
        weft_flow_set_sort(&flows);
        host_set_app_flows(h, &flows);
        weft_flow_set_destroy(&flows);
        s->flows_pushed = true;
        s->flows_version = version;
    }
}

void
weftd_apps_packet_in(struct weftd *d, struct host *h,
                     const struct of_packet_in *pi)
{
    struct weft_app_packet_in api = {
        .host = host_get_name(h),
        .in_port = pi->in_port,
        .table = pi->table,
        .cookie = pi->cookie,
        .packet = pi->packet,
        .len = pi->len,
    };
    if (!apps_packet_in(d->apps, &api)) {
        WEFT_DBG("%s: packet-in from table %u (cookie %#llx), which no "
                 "running app owns; dropped", host_get_name(h), pi->table,
                 (unsigned long long) pi->cookie);
    }
}

void
weftd_apps_flow_removed(struct weftd *d, struct host *h, uint8_t table,
                        uint16_t priority, uint64_t cookie)
{
    apps_flow_removed(d->apps, host_get_name(h), table, priority, cookie);
}
