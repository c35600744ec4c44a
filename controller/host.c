/* A managed hypervisor (see host.h). */
#include "host.h"

#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "inventory.h"
#include "log.h"
#include "strv.h"
#include "mirror-plan.h"
#include "openflow.h"
#include "ovs-loop.h"
#include "virt-host.h"
#include "vswitch-db.h"
#include "vswitch-export.h"
#include "weft-config.h"
#include "xalloc.h"

WEFT_LOG_MODULE(host);

struct host {
    struct ev_loop *loop;
    struct weft_host_config cfg;    /* Strings owned. */
    char *controller_target;
    uint64_t dpid;

    struct vswitch_db *db;
    struct of_switch *sw;           /* NULL while not connected. */
    struct host_fsm fsm;
    ev_timer retry_timer;
    char last_detail[256];

    /* VM ports. */
    struct inventory *inv;
    struct virt_host *virt;         /* NULL without a libvirt URI. */
    bool libvirt_up;
    char *libvirt_error;            /* Last connection problem. */
    struct virt_net_report *net_report; /* Last VIRT_NETWORKS, or NULL. */
    unsigned int pushed_generation; /* Inventory generation in 'db'. */
    bool ports_pushed;              /* 'db' has been given the ports. */
    unsigned int placement_seqno;   /* vswitch_db seqno last looked at. */
    int max_backoff_ms;

    /* Tunnels wanted (from datapath.c). */
    struct host_tunnel_spec {
        char *peer;
        char *remote_ip;
        char *port;                 /* "vx-PEER" or a hashed name. */
    } *tunnels;
    size_t n_tunnels;
    bool tunnels_known;
    unsigned int tunnels_version;   /* Bumped by host_set_tunnels(). */
    unsigned int pushed_tunnels_version;

    /* Mirrors wanted (from datapath.c): Mirror rows (named "weft-NAME")
     * and the tunnel ports they output to. */
    struct vswitch_mirror_spec *mirrors;
    size_t n_mirrors;
    struct vswitch_port_spec *mirror_ports;
    size_t n_mirror_ports;
    char *mirrors_signature;
    bool mirrors_known;
    unsigned int mirrors_version;
    unsigned int pushed_mirrors_version;
    struct host_watched_port {
        char *name;
        int ofport;
    } *watched;
    size_t n_watched;
    uint64_t mirror_epoch;          /* As OVSDB last said. */

    /* Flow exports wanted (from flow-export.c), given to every new OVSDB
     * session; none given before the first host_set_exports(). */
    struct vswitch_export_spec *exports;
    size_t n_exports;
    bool exports_known;

    /* Reconciliation rounds seen on the current connection, and their
     * durations since the start. */
    unsigned long long seen_rounds;
    struct host_reconcile_histogram reconcile;

    /* Flows wanted on the switch: the core's (from datapath.c) and the
     * apps' (weftd-apps.c), and both together, as given to the switch. */
    struct weft_flow_set core_flows;
    struct weft_flow_set app_flows;
    struct weft_flow_set flows;     /* Core + apps, when apps have flows. */
    const struct weft_flow_set *wanted; /* &flows, or &core_flows. */
    bool flows_known;               /* The core's flows were set. */
    uint64_t core_digest;           /* Of what they were computed from. */

    /* Tunnel ports as OVSDB last said, wanted or not (so that a restarted
     * weftd computes with the tunnels that exist). */
    struct host_tunnel_port {
        char *peer;
        int ofport;
    } *tunnel_ports;
    size_t n_tunnel_ports;
    int uplink_ofport;              /* Of cfg.uplink, as OVSDB last said. */

    /* Placed VM ports as OVSDB last said. */
    struct host_vm_port *vm_ports;
    size_t n_vm_ports;
    bool ports_known;
    unsigned int ports_seqno;       /* vswitch_db seqno they come from. */
    unsigned int ports_version;
};

static void host_run(void *host_);
static void host_wait(void *host_);
static void free_tunnels(struct host *);
static void free_vm_ports(struct host *);
static void free_tunnel_ports(struct host *);
static void free_mirrors(struct host *);
static void record_reconcile_rounds(struct host *);
static void virt_event_cb(void *host_, const struct virt_event *);

static char *
strdup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static long long int
now_ms(const struct host *h)
{
    return (long long int) (ev_now(h->loop) * 1000.0);
}

uint64_t
host_dpid_from_name(const char *name)
{
    /* FNV-1a over a fixed prefix and the name.  The top 16 bits are set to
     * 0x7765 ("we") so a Weft-made datapath ID is recognizable in
     * "ovs-ofctl show" output. */
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (const char *s = "weft:"; *s; s++) {
        hash = (hash ^ (unsigned char) *s) * 0x100000001b3ULL;
    }
    for (const char *s = name; *s; s++) {
        hash = (hash ^ (unsigned char) *s) * 0x100000001b3ULL;
    }
    return (hash & 0x0000ffffffffffffULL) | 0x7765000000000000ULL;
}

static void
start_session(struct host *h)
{
    struct vswitch_bridge_spec spec = {
        .host_name = h->cfg.name,
        .bridge = h->cfg.bridge,
        .datapath_type = h->cfg.datapath_type,
        .controller_target = h->controller_target,
        .datapath_id = h->dpid,
    };
    h->db = vswitch_db_create(h->cfg.ovsdb_remote, &spec);
    if (h->exports_known) {
        vswitch_db_set_exports(h->db, h->exports, h->n_exports);
    }
    h->ports_pushed = false;
    /* The new session's IDL counts its seqnos from the start again: a
     * seqno kept from the old one could equal the one of the update that
     * brings a new port, which would then go unread. */
    h->placement_seqno = 0;
    h->ports_seqno = 0;
}

static void
retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct host *h = w->data;
    (void) loop;
    (void) revents;

    WEFT_DBG("%s: reconnecting to %s (attempt %u)", h->cfg.name,
              h->cfg.ovsdb_remote, h->fsm.n_failures + 1);
    vswitch_db_destroy(h->db);
    start_session(h);
    host_fsm_retry(&h->fsm, now_ms(h));
    /* A reconnect of either side resyncs both. */
    if (h->virt) {
        virt_host_request_sync(h->virt);
    }
}

struct host *
host_create(struct ev_loop *loop, const struct weft_host_config *cfg,
            const struct host_options *opts)
{
    struct host *h = calloc(1, sizeof *h);
    if (!h) {
        abort();
    }
    h->loop = loop;
    h->cfg.name = strdup(cfg->name);
    h->cfg.ovsdb_remote = strdup(cfg->ovsdb_remote);
    h->cfg.libvirt_uri = strdup_or_null(cfg->libvirt_uri);
    h->cfg.tunnel_ip = strdup(cfg->tunnel_ip);
    h->cfg.bridge = strdup(cfg->bridge);
    h->cfg.datapath_type = strdup(cfg->datapath_type);
    h->cfg.uplink = strdup_or_null(cfg->uplink);
    h->cfg.line = cfg->line;
    h->controller_target = strdup(opts->controller_target);
    h->dpid = host_dpid_from_name(cfg->name);

    host_fsm_init(&h->fsm, opts->min_backoff_ms, opts->max_backoff_ms,
                  now_ms(h));
    ev_init(&h->retry_timer, retry_cb);
    h->retry_timer.data = h;

    h->inv = opts->inventory;
    weft_flow_set_init(&h->core_flows);
    weft_flow_set_init(&h->app_flows);
    weft_flow_set_init(&h->flows);
    h->wanted = &h->flows;
    h->max_backoff_ms = opts->max_backoff_ms;
    inventory_add_host(h->inv, h->cfg.name);
    start_session(h);
    ovs_loop_register(host_run, host_wait, h);
    if (h->cfg.libvirt_uri) {
        h->virt = virt_host_create(loop, h->cfg.name, h->cfg.libvirt_uri,
                                   opts->max_backoff_ms,
                                   opts->libvirt_network, h->cfg.bridge,
                                   virt_event_cb, h);
    }
    WEFT_INFO("%s: managing bridge %s through %s (datapath ID %016"PRIx64")",
              h->cfg.name, h->cfg.bridge, h->cfg.ovsdb_remote, h->dpid);
    return h;
}

void
host_destroy(struct host *h)
{
    if (!h) {
        return;
    }
    ovs_loop_unregister(host_run, host_wait, h);
    ev_timer_stop(h->loop, &h->retry_timer);
    virt_host_destroy(h->virt);
    inventory_remove_host(h->inv, h->cfg.name);
    free_tunnels(h);
    free_tunnel_ports(h);
    free_mirrors(h);
    vswitch_export_specs_free(h->exports, h->n_exports);
    free_vm_ports(h);
    weft_flow_set_destroy(&h->core_flows);
    weft_flow_set_destroy(&h->app_flows);
    weft_flow_set_destroy(&h->flows);
    free(h->libvirt_error);
    virt_net_report_destroy(h->net_report);
    free(h->net_report);
    if (h->sw) {
        of_switch_close(h->sw);
    }
    vswitch_db_destroy(h->db);
    free(h->cfg.name);
    free(h->cfg.ovsdb_remote);
    free(h->cfg.libvirt_uri);
    free(h->cfg.tunnel_ip);
    free(h->cfg.bridge);
    free(h->cfg.datapath_type);
    free(h->cfg.uplink);
    free(h->controller_target);
    free(h);
}

static enum host_db_obs
observe_db(const struct vswitch_db *db, const char **detail)
{
    switch (vswitch_db_get_state(db, detail)) {
    case VSWITCH_DB_CONNECTING: return HOST_DB_CONNECTING;
    case VSWITCH_DB_SYNCING: return HOST_DB_CONFIGURING;
    case VSWITCH_DB_SYNCED: return HOST_DB_CONFIGURED;
    case VSWITCH_DB_DEAD: return HOST_DB_DEAD;
    case VSWITCH_DB_BAD_SCHEMA: return HOST_DB_BAD_SCHEMA;
    }
    return HOST_DB_DEAD;
}

/* Gives the OVSDB session this host's placeable vNICs and its tunnels,
 * once libvirt has told us what runs here and the tunnels are decided, and
 * again whenever either changes. */
static void
push_ports(struct host *h)
{
    const struct inv_host *ih = inventory_find_host(h->inv, h->cfg.name);
    if (!ih || !ih->synced || h->inv->hold || !h->tunnels_known
        || (h->ports_pushed && h->pushed_generation == ih->generation
            && h->pushed_tunnels_version == h->tunnels_version
            && h->pushed_mirrors_version == h->mirrors_version)) {
        return;
    }

    size_t n = 0, allocated = 0;
    struct vswitch_port_spec *specs = NULL;
    for (size_t i = 0; i < ih->n_vms; i++) {
        const struct inv_vm *vm = &ih->vms[i];
        for (size_t j = 0; j < vm->n_vnics; j++) {
            const struct inv_vnic *v = &vm->vnics[j];
            if (v->placement == INV_UNPLACED) {
                continue;
            }
            if (n >= allocated) {
                allocated = allocated ? allocated * 2 : 16;
                specs = xrealloc(specs, allocated * sizeof *specs);
            }
            specs[n++] = (struct vswitch_port_spec) {
                .name = v->tap,
                .iface_id = v->iface_id,
                .mac = v->mac,
                .vm_uuid = vm->uuid,
                .vm_name = vm->name,
                .segment = v->segment,
                .groups = v->groups,
                .ips = v->ips,
            };
        }
    }
    for (size_t i = 0; i < h->n_tunnels; i++) {
        if (n >= allocated) {
            allocated = allocated ? allocated * 2 : 16;
            specs = xrealloc(specs, allocated * sizeof *specs);
        }
        specs[n++] = (struct vswitch_port_spec) {
            .name = h->tunnels[i].port,
            .tunnel_peer = h->tunnels[i].peer,
            .remote_ip = h->tunnels[i].remote_ip,
        };
    }
    specs = xrealloc(specs, (n + h->n_mirror_ports + 1) * sizeof *specs);
    for (size_t i = 0; i < h->n_mirror_ports; i++) {
        specs[n++] = h->mirror_ports[i];
    }
    vswitch_db_set_ports(h->db, specs, n);
    free(specs);
    if (h->mirrors_known) {
        vswitch_db_set_mirrors(h->db, h->mirrors, h->n_mirrors);
    }
    h->pushed_mirrors_version = h->mirrors_version;
    h->ports_pushed = true;
    h->pushed_generation = ih->generation;
    h->pushed_tunnels_version = h->tunnels_version;
    h->placement_seqno = 0;         /* Look at every port again. */
}

static void
free_vm_ports(struct host *h)
{
    for (size_t i = 0; i < h->n_vm_ports; i++) {
        struct host_vm_port *p = &h->vm_ports[i];
        free(p->tap);
        free(p->mac);
        free(p->segment);
        free(p->vm);
        for (size_t j = 0; j < p->n_labels; j++) {
            free(p->labels[j]);
        }
        free(p->labels);
        for (size_t j = 0; j < p->n_ips; j++) {
            free(p->ips[j]);
        }
        free(p->ips);
        free(p->groups_text);
        free(p->ips_text);
    }
    free(h->vm_ports);
    h->vm_ports = NULL;
    h->n_vm_ports = 0;
}

static bool
same_text(const char *a, const char *b)
{
    return a && b ? !strcmp(a, b) : a == b;
}

static bool
same_vm_port(const struct host_vm_port *a, const struct vswitch_vm_port *b)
{
    return (!strcmp(a->tap, b->name) && !strcmp(a->mac, b->mac)
            && !strcmp(a->segment, b->segment) && a->ofport == b->ofport
            && same_text(a->groups_text, b->groups)
            && same_text(a->ips_text, b->ips));
}

/* Splits comma-separated 'list' (may be NULL) into '*itemsp'. */
static size_t
split_list(const char *list, char ***itemsp)
{
    char **items = NULL;
    size_t n = 0;
    for (const char *s = list; s && *s; ) {
        size_t len = strcspn(s, ",");
        if (len) {
            items = xrealloc(items, (n + 1) * sizeof *items);
            items[n] = xmemdup(s, len + 1);
            items[n++][len] = '\0';
        }
        s += len + (s[len] == ',');
    }
    *itemsp = items;
    return n;
}

/* Copies what OVSDB says about placed VM ports and tunnel ports, when it
 * changed.  While the database is unreachable the last copy stays. */
static void
read_ports(struct host *h)
{
    unsigned int seqno = vswitch_db_get_seqno(h->db);
    if (vswitch_db_get_state(h->db, NULL) != VSWITCH_DB_SYNCED
        || seqno == h->ports_seqno) {
        return;
    }
    h->ports_seqno = seqno;
    h->ports_known = true;

    bool changed = false;
    struct vswitch_tunnel_port *tunnels;
    size_t n_tunnels = vswitch_db_get_tunnels(h->db, &tunnels);
    bool same_tunnels = n_tunnels == h->n_tunnel_ports;
    for (size_t i = 0; same_tunnels && i < n_tunnels; i++) {
        same_tunnels = (!strcmp(tunnels[i].peer, h->tunnel_ports[i].peer)
                        && tunnels[i].ofport == h->tunnel_ports[i].ofport);
    }
    if (!same_tunnels) {
        free_tunnel_ports(h);
        h->tunnel_ports = xcalloc(n_tunnels, sizeof *h->tunnel_ports);
        h->n_tunnel_ports = n_tunnels;
        for (size_t i = 0; i < n_tunnels; i++) {
            h->tunnel_ports[i].peer = xstrdup(tunnels[i].peer);
            h->tunnel_ports[i].ofport = tunnels[i].ofport;
        }
        changed = true;
    }
    free(tunnels);

    int uplink = 0;
    const char *error;
    if (h->cfg.uplink
        && vswitch_db_port_state(h->db, h->cfg.uplink, &uplink, &error)
           != VSWITCH_PORT_PRESENT) {
        uplink = 0;
    }
    if (uplink != h->uplink_ofport) {
        h->uplink_ofport = uplink;
        changed = true;
    }
    uint64_t epoch = vswitch_db_get_mirror_epoch(h->db);
    if (epoch != h->mirror_epoch) {
        h->mirror_epoch = epoch;
        changed = true;
    }
    for (size_t i = 0; i < h->n_watched; i++) {
        int ofport;
        if (vswitch_db_port_state(h->db, h->watched[i].name, &ofport, &error)
            != VSWITCH_PORT_PRESENT) {
            ofport = 0;
        }
        if (ofport != h->watched[i].ofport) {
            h->watched[i].ofport = ofport;
            changed = true;
        }
    }

    struct vswitch_vm_port *ports;
    size_t n = vswitch_db_get_vm_ports(h->db, &ports);
    bool same = n == h->n_vm_ports;
    for (size_t i = 0; same && i < n; i++) {
        same = same_vm_port(&h->vm_ports[i], &ports[i]);
    }
    if (!same) {
        free_vm_ports(h);
        h->vm_ports = xcalloc(n, sizeof *h->vm_ports);
        h->n_vm_ports = n;
        for (size_t i = 0; i < n; i++) {
            struct host_vm_port *p = &h->vm_ports[i];
            p->tap = xstrdup(ports[i].name);
            p->mac = xstrdup(ports[i].mac);
            p->segment = xstrdup(ports[i].segment);
            p->vm = xstrdup(ports[i].vm_name);
            p->ofport = ports[i].ofport;
            p->groups_text = strdup_or_null(ports[i].groups);
            p->ips_text = strdup_or_null(ports[i].ips);
            p->n_labels = split_list(ports[i].groups, &p->labels);
            p->n_ips = split_list(ports[i].ips, &p->ips);
        }
        changed = true;
    }
    free(ports);
    if (changed) {
        h->ports_version++;
        ovs_loop_request_run();
    }
}

size_t
host_get_vm_ports(const struct host *h, const struct host_vm_port **ports)
{
    *ports = h->vm_ports;
    return h->n_vm_ports;
}

size_t
host_get_wanted_tunnels(const struct host *h, const char ***peersp)
{
    const char **peers = xcalloc(h->n_tunnels + 1, sizeof *peers);
    for (size_t i = 0; i < h->n_tunnels; i++) {
        peers[i] = h->tunnels[i].peer;
    }
    *peersp = peers;
    return h->n_tunnels;
}

int
host_get_tunnel_ofport(const struct host *h, const char *peer)
{
    for (size_t i = 0; i < h->n_tunnel_ports; i++) {
        if (!strcmp(h->tunnel_ports[i].peer, peer)) {
            return h->tunnel_ports[i].ofport;
        }
    }
    return 0;
}

static void
free_tunnel_ports(struct host *h)
{
    for (size_t i = 0; i < h->n_tunnel_ports; i++) {
        free(h->tunnel_ports[i].peer);
    }
    free(h->tunnel_ports);
    h->tunnel_ports = NULL;
    h->n_tunnel_ports = 0;
}

int
host_get_uplink_ofport(const struct host *h)
{
    return h->uplink_ofport;
}

bool
host_ports_known(const struct host *h)
{
    return h->ports_known;
}

unsigned int
host_get_ports_version(const struct host *h)
{
    return h->ports_version;
}

/* "vx-PEER" when it fits in an interface name, else "vx-" and a hash. */
static char *
tunnel_port_name(const char *peer)
{
    if (strlen(peer) <= 12) {
        return xasprintf("vx-%s", peer);
    }
    uint32_t hash = 2166136261u;
    for (const char *s = peer; *s; s++) {
        hash = (hash ^ (unsigned char) *s) * 16777619u;
    }
    return xasprintf("vx-%08x", hash);
}

static void
free_tunnels(struct host *h)
{
    for (size_t i = 0; i < h->n_tunnels; i++) {
        free(h->tunnels[i].peer);
        free(h->tunnels[i].remote_ip);
        free(h->tunnels[i].port);
    }
    free(h->tunnels);
    h->tunnels = NULL;
    h->n_tunnels = 0;
}

void
host_set_tunnels(struct host *h, const struct host_tunnel *tunnels, size_t n)
{
    bool same = h->tunnels_known && n == h->n_tunnels;
    for (size_t i = 0; same && i < n; i++) {
        same = (!strcmp(h->tunnels[i].peer, tunnels[i].peer)
                && !strcmp(h->tunnels[i].remote_ip, tunnels[i].remote_ip));
    }
    if (same) {
        return;
    }
    free_tunnels(h);
    h->tunnels = xcalloc(n, sizeof *h->tunnels);
    h->n_tunnels = n;
    for (size_t i = 0; i < n; i++) {
        h->tunnels[i].peer = xstrdup(tunnels[i].peer);
        h->tunnels[i].remote_ip = xstrdup(tunnels[i].remote_ip);
        h->tunnels[i].port = tunnel_port_name(tunnels[i].peer);
    }
    h->tunnels_known = true;
    h->tunnels_version++;
    ovs_loop_request_run();
}

static void
free_mirrors(struct host *h)
{
    for (size_t i = 0; i < h->n_mirrors; i++) {
        struct vswitch_mirror_spec *m = &h->mirrors[i];
        free((char *) m->name);
        strv_free_n(m->select_src, m->n_select_src);
        strv_free_n(m->select_dst, m->n_select_dst);
        free((char *) m->output_port);
    }
    free(h->mirrors);
    h->mirrors = NULL;
    h->n_mirrors = 0;
    for (size_t i = 0; i < h->n_mirror_ports; i++) {
        struct vswitch_port_spec *p = &h->mirror_ports[i];
        free((char *) p->name);
        free((char *) p->remote_ip);
        free((char *) p->tunnel_key);
    }
    free(h->mirror_ports);
    h->mirror_ports = NULL;
    h->n_mirror_ports = 0;
    for (size_t i = 0; i < h->n_watched; i++) {
        free(h->watched[i].name);
    }
    free(h->watched);
    h->watched = NULL;
    h->n_watched = 0;
    free(h->mirrors_signature);
    h->mirrors_signature = NULL;
}

/* Everything host_set_mirrors() was given, as text, to notice changes. */
static char *
mirrors_signature(const struct host_mirror *mirrors, size_t n,
                  bool receives, const char *const *watch, size_t n_watch)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    for (size_t i = 0; i < n; i++) {
        const struct host_mirror *m = &mirrors[i];
        fprintf(f, "%s>%s@%s#%"PRIu32":", m->name, m->output_port,
                m->tunnel_remote_ip ? m->tunnel_remote_ip : "",
                m->tunnel_key);
        for (size_t j = 0; j < m->n_select_src; j++) {
            fprintf(f, "%s,", m->select_src[j]);
        }
        fputc('/', f);
        for (size_t j = 0; j < m->n_select_dst; j++) {
            fprintf(f, "%s,", m->select_dst[j]);
        }
        fputc(';', f);
    }
    fprintf(f, "rx=%d;", receives);
    for (size_t i = 0; i < n_watch; i++) {
        fprintf(f, "%s,", watch[i]);
    }
    fclose(f);
    return text;
}

void
host_set_mirrors(struct host *h, const struct host_mirror *mirrors, size_t n,
                 bool receives, const char *const *watch, size_t n_watch)
{
    char *sig = mirrors_signature(mirrors, n, receives, watch, n_watch);
    if (h->mirrors_known && !strcmp(sig, h->mirrors_signature)) {
        free(sig);
        return;
    }
    free_mirrors(h);
    h->mirrors_signature = sig;

    h->mirrors = xcalloc(n + 1, sizeof *h->mirrors);
    h->mirror_ports = xcalloc(n + 2, sizeof *h->mirror_ports);
    for (size_t i = 0; i < n; i++) {
        const struct host_mirror *m = &mirrors[i];
        h->mirrors[h->n_mirrors++] = (struct vswitch_mirror_spec) {
            .name = xasprintf("weft-%s", m->name),
            .select_src = strv_copy(m->select_src, m->n_select_src),
            .n_select_src = m->n_select_src,
            .select_dst = strv_copy(m->select_dst, m->n_select_dst),
            .n_select_dst = m->n_select_dst,
            .output_port = xstrdup(m->output_port),
        };
        if (m->tunnel_remote_ip) {
            h->mirror_ports[h->n_mirror_ports++] = (struct vswitch_port_spec) {
                .name = xstrdup(m->output_port),
                .remote_ip = xstrdup(m->tunnel_remote_ip),
                .tunnel_key = xasprintf("%"PRIu32, m->tunnel_key),
            };
        }
    }
    if (receives) {
        h->mirror_ports[h->n_mirror_ports++] = (struct vswitch_port_spec) {
            .name = xstrdup(MIRROR_RX_PORT),
            .remote_ip = xstrdup("flow"),
            .tunnel_key = xstrdup("flow"),
        };
    }
    h->watched = xcalloc(n_watch + 1, sizeof *h->watched);
    for (size_t i = 0; i < n_watch; i++) {
        h->watched[h->n_watched++].name = xstrdup(watch[i]);
    }
    h->ports_seqno = 0;             /* Look the watched ports up. */
    h->mirrors_known = true;
    h->mirrors_version++;
    ovs_loop_request_run();
}

void
host_set_exports(struct host *h, const struct vswitch_export_spec *specs,
                 size_t n)
{
    vswitch_export_specs_free(h->exports, h->n_exports);
    h->exports = vswitch_export_specs_clone(specs, n);
    h->n_exports = n;
    h->exports_known = true;
    vswitch_db_set_exports(h->db, h->exports, h->n_exports);
    ovs_loop_request_run();     /* Reconcile now, wherever we are called. */
}

enum vswitch_export_state
host_get_export_state(const struct host *h, enum vswitch_export_type type)
{
    return vswitch_db_get_export(h->db, type);
}

enum vswitch_export_state
host_get_export_set_state(const struct host *h, const char *name)
{
    return vswitch_db_get_export_set(h->db, name);
}

uint64_t
host_get_mirror_epoch(const struct host *h)
{
    return h->mirror_epoch;
}

int
host_get_port_ofport(const struct host *h, const char *name)
{
    for (size_t i = 0; i < h->n_watched; i++) {
        if (!strcmp(h->watched[i].name, name)) {
            return h->watched[i].ofport;
        }
    }
    return 0;
}

bool
host_get_mirror_stats(const struct host *h, const char *name,
                      uint64_t *tx_packets, uint64_t *tx_bytes,
                      const char **problem)
{
    char *row = xasprintf("weft-%s", name);
    bool found = false;
    *tx_packets = *tx_bytes = 0;
    *problem = "host not connected";
    if (h->db && vswitch_db_get_state(h->db, NULL) == VSWITCH_DB_SYNCED) {
        found = vswitch_db_get_mirror(h->db, row, tx_packets, tx_bytes,
                                      problem);
    }
    free(row);
    return found;
}

/* Logs, once per reason, each vNIC of this host that cannot be placed. */
static void
report_unplaced(struct host *h)
{
    struct inv_host *ih = inventory_find_host(h->inv, h->cfg.name);
    for (size_t i = 0; ih && i < ih->n_vms; i++) {
        struct inv_vm *vm = &ih->vms[i];
        for (size_t j = 0; j < vm->n_vnics; j++) {
            struct inv_vnic *v = &vm->vnics[j];
            if (v->placement == INV_UNPLACED && !v->reason_reported) {
                WEFT_WARN("%s: %s/%s (%s) not placed: %s", h->cfg.name,
                          vm->name, v->tap ? v->tap : "no tap",
                          v->mac[0] ? v->mac : "no MAC", v->reason);
                v->reason_reported = true;
            }
        }
    }
}

/* Reads back from OVSDB which wanted ports are on the bridge. */
static void
update_placement(struct host *h)
{
    unsigned int seqno = vswitch_db_get_seqno(h->db);
    const struct inv_host *ih = inventory_find_host(h->inv, h->cfg.name);
    if (!h->ports_pushed || !ih || seqno == h->placement_seqno) {
        return;
    }
    h->placement_seqno = seqno;

    for (size_t i = 0; i < ih->n_vms; i++) {
        const struct inv_vm *vm = &ih->vms[i];
        for (size_t j = 0; j < vm->n_vnics; j++) {
            const struct inv_vnic *v = &vm->vnics[j];
            if (v->placement == INV_UNPLACED) {
                continue;
            }
            int ofport;
            const char *error;
            enum vswitch_port_state state
                = vswitch_db_port_state(h->db, v->tap, &ofport, &error);
            enum inv_placement p = (state == VSWITCH_PORT_PRESENT
                                    ? INV_PLACED : INV_PENDING);
            if (p != v->placement || ofport != v->ofport) {
                if (p == INV_PLACED) {
                    WEFT_INFO("%s: %s/%s placed on %s (ofport %d, segment "
                              "%s)", h->cfg.name, vm->name, v->tap,
                              h->cfg.bridge, ofport, v->segment);
                } else if (error) {
                    WEFT_WARN("%s: %s/%s not placed: %s", h->cfg.name,
                              vm->name, v->tap, error);
                }
            }
            inventory_set_placement(h->inv, h->cfg.name, v->tap, p, error,
                                    ofport);
        }
    }
}

/* Logs what became of Weft's libvirt network when that changes, and
 * keeps the report for "show" and "doctor". */
static void
record_networks(struct host *h, const struct virt_net_report *r)
{
    const struct virt_net_report *old = h->net_report;
    bool news = (!old || old->outcome != r->outcome
                 || strcmp(old->message, r->message));
    if (news && (r->outcome == VIRT_NET_REFUSED
                 || r->outcome == VIRT_NET_FAILED)) {
        WEFT_WARN("%s: libvirt network %s: %s: %s", h->cfg.name, r->network,
                  virt_net_outcome_to_string(r->outcome), r->message);
    } else if (news && r->network) {
        WEFT_INFO("%s: libvirt network %s: %s: %s", h->cfg.name, r->network,
                  virt_net_outcome_to_string(r->outcome), r->message);
    }
    virt_net_report_destroy(h->net_report);
    free(h->net_report);
    h->net_report = xmalloc(sizeof *h->net_report);
    virt_net_report_clone(h->net_report, r);
}

static void
virt_event_cb(void *h_, const struct virt_event *e)
{
    struct host *h = h_;

    switch (e->type) {
    case VIRT_CONNECTED:
        WEFT_INFO("%s: libvirt connected (%s)", h->cfg.name,
                  h->cfg.libvirt_uri);
        h->libvirt_up = true;
        free(h->libvirt_error);
        h->libvirt_error = NULL;
        break;
    case VIRT_DISCONNECTED:
        /* Placed ports stay: nothing is removed while libvirt cannot tell
         * what runs. */
        if (h->libvirt_up || !h->libvirt_error
            || strcmp(h->libvirt_error, e->message)) {
            WEFT_WARN("%s: libvirt: %s; placed ports are kept", h->cfg.name,
                      e->message);
        }
        h->libvirt_up = false;
        free(h->libvirt_error);
        h->libvirt_error = strdup(e->message);
        break;
    case VIRT_SYNC:
        WEFT_INFO("%s: libvirt sync: %zu running domains", h->cfg.name,
                  e->n_domains);
        inventory_sync_host(h->inv, h->cfg.name, e->domains, e->n_domains);
        break;
    case VIRT_DOMAIN_UP:
        WEFT_INFO("%s: domain %s is running (%zu interfaces)", h->cfg.name,
                  e->name, e->domains[0].n_nics);
        inventory_domain_up(h->inv, h->cfg.name, &e->domains[0]);
        break;
    case VIRT_DOMAIN_DOWN:
        WEFT_INFO("%s: domain %s is not running", h->cfg.name, e->name);
        inventory_domain_down(h->inv, h->cfg.name, e->uuid);
        break;
    case VIRT_DOMAIN_ERROR:
        WEFT_WARN("%s: domain %s: %s; its ports are left as they are",
                  h->cfg.name, e->name, e->message);
        break;    case VIRT_NETWORKS:
        record_networks(h, e->networks);
        break;
    }
    /* Every host's run hook pushes its ports if its share of the
     * inventory changed (a MAC clash can move between hosts). */
    ovs_loop_request_run();
}

static void
host_run(void *h_)
{
    struct host *h = h_;
    const char *detail;

    vswitch_db_run(h->db);
    enum host_state old = h->fsm.state;
    enum host_db_obs obs = observe_db(h->db, &detail);
    long long int now = now_ms(h);

    if (host_fsm_update(&h->fsm, obs, h->sw != NULL, now)) {
        enum host_state new = h->fsm.state;
        const char *why = (new == HOST_SYNCING && obs == HOST_DB_CONFIGURED
                           ? "waiting for the switch's OpenFlow connection"
                           : new == HOST_READY ? "bridge configured, switch "
                                                 "connected"
                           : detail);
        if (new == HOST_LOST || new == HOST_ERROR) {
            double delay = (h->fsm.retry_at - now) / 1000.0;
            /* Loud on the first failure and now and then after, so a host
             * that stays down does not flood the log. */
            bool loud = h->fsm.n_failures == 1 || !(h->fsm.n_failures % 20);
            WEFT_LOG(new == HOST_ERROR ? WEFT_LOG_ERR
                     : loud ? WEFT_LOG_WARN : WEFT_LOG_DBG,
                     "%s: %s -> %s: %s; retrying in %.1f s", h->cfg.name,
                     host_state_to_string(old), host_state_to_string(new),
                     why, delay);
            ev_timer_set(&h->retry_timer, delay > 0 ? delay : 0, 0);
            ev_timer_start(h->loop, &h->retry_timer);
        } else {
            WEFT_INFO("%s: %s -> %s: %s", h->cfg.name,
                      host_state_to_string(old), host_state_to_string(new),
                      why);
        }
    }
    if (strcmp(detail, h->last_detail)) {
        WEFT_DBG("%s: %s", h->cfg.name, detail);
        snprintf(h->last_detail, sizeof h->last_detail, "%s", detail);
    }
    push_ports(h);
    update_placement(h);
    report_unplaced(h);
    read_ports(h);
    record_reconcile_rounds(h);
}

const double HOST_RECONCILE_BUCKETS_MS[HOST_N_RECONCILE_BUCKETS] = {
    1, 5, 10, 25, 50, 100, 500, 1000,
};

/* Counts the rounds the switch's reconciler ended since the last look.
 * Only the last one's duration is known; rounds end at most once a loop
 * iteration, and this runs every iteration. */
static void
record_reconcile_rounds(struct host *h)
{
    if (!h->sw) {
        h->seen_rounds = 0;
        return;
    }
    struct of_switch_flow_stats fs;
    of_switch_get_flow_stats(h->sw, &fs);
    if (fs.n_rounds == h->seen_rounds) {
        return;
    }
    h->seen_rounds = fs.n_rounds;
    struct host_reconcile_histogram *r = &h->reconcile;
    for (size_t i = 0; i < HOST_N_RECONCILE_BUCKETS; i++) {
        r->buckets[i] += fs.last_round_ms <= HOST_RECONCILE_BUCKETS_MS[i];
    }
    r->count++;
    r->sum_ms += fs.last_round_ms;
}

void
host_get_reconcile_histogram(const struct host *h,
                             struct host_reconcile_histogram *r)
{
    *r = h->reconcile;
}

static void
host_wait(void *h_)
{
    struct host *h = h_;
    vswitch_db_wait(h->db);
}

const char *
host_get_name(const struct host *h)
{
    return h->cfg.name;
}

const struct weft_host_config *
host_get_config(const struct host *h)
{
    return &h->cfg;
}

enum host_state
host_get_state(const struct host *h)
{
    return h->fsm.state;
}

uint64_t
host_get_dpid(const struct host *h)
{
    return h->dpid;
}

/* Hands the wanted flows to the switch's reconciler. */
static void
push_flows(struct host *h)
{
    if (h->sw && h->flows_known) {
        /* Meters first: the flows that use them can only go in after. */
        of_switch_set_meters(h->sw, h->wanted->meters, h->wanted->n_meters);
        of_switch_set_flows(h->sw, h->wanted->flows, h->wanted->n);
    }
}

void
host_attach_switch(struct host *h, struct of_switch *sw)
{
    if (h->sw) {
        WEFT_INFO("%s: new OpenFlow connection from %s replaces the one from "
                  "%s", h->cfg.name, of_switch_get_peer(sw),
                  of_switch_get_peer(h->sw));
        of_switch_close(h->sw);
    } else {
        WEFT_INFO("%s: switch connected from %s (%s, %u tables)",
                  h->cfg.name, of_switch_get_peer(sw),
                  of_switch_get_version(sw), of_switch_get_n_tables(sw));
    }
    h->sw = sw;
    h->seen_rounds = 0;         /* The new connection counts from 0. */
    push_flows(h);
    ovs_loop_request_run();     /* Let the state machine see it now. */
}

struct flow_eval *
host_flow_eval_create(const struct host *h, const char **why)
{
    if (!h->sw) {
        *why = "no OpenFlow connection from its switch";
        return NULL;
    }
    return of_switch_flow_eval_create(h->sw, why);
}

bool
host_refresh_flows(struct host *h,
                   void (*cb)(void *aux, struct flow_eval *,
                              const struct flow_table_drift *,
                              const char *error),
                   void *aux, const char **why)
{
    if (!h->sw || !of_switch_refresh_flows(h->sw, cb, aux)) {
        *why = "no OpenFlow connection from its switch";
        return false;
    }
    return true;
}

const struct weft_flow_set *
host_get_flows(const struct host *h)
{
    return h->wanted;
}

const struct weft_flow_set *
host_get_core_flows(const struct host *h)
{
    return &h->core_flows;
}

/* Merges the core's and the apps' flows and gives them to the switch.
 * Nothing goes before the core's flows are known: the reconciler would
 * delete every core flow the switch has. */
static void
merge_flows(struct host *h)
{
    weft_flow_set_clear(&h->flows);
    if (h->app_flows.n || h->app_flows.n_meters) {
        weft_flow_set_append(&h->flows, &h->core_flows);
        weft_flow_set_append(&h->flows, &h->app_flows);
        weft_flow_set_sort(&h->flows);
        h->wanted = &h->flows;
    } else {
        /* The usual case, without a copy: the core's set is sorted. */
        h->wanted = &h->core_flows;
    }
    push_flows(h);
}

bool
host_set_flows(struct host *h, struct weft_flow_set *flows)
{
    if (h->flows_known && weft_flow_set_equal(&h->core_flows, flows)) {
        return false;
    }
    struct weft_flow_set old = h->core_flows;
    h->core_flows = *flows;
    *flows = old;
    h->flows_known = true;
    merge_flows(h);
    return true;
}

uint64_t
host_get_core_digest(const struct host *h)
{
    return h->flows_known ? h->core_digest : 0;
}

void
host_set_core_digest(struct host *h, uint64_t digest)
{
    h->core_digest = digest;
}

bool
host_set_app_flows(struct host *h, const struct weft_flow_set *flows)
{
    if (weft_flow_set_equal(&h->app_flows, flows)) {
        return false;
    }
    weft_flow_set_clear(&h->app_flows);
    weft_flow_set_append(&h->app_flows, flows);
    if (h->flows_known) {
        merge_flows(h);
    }
    return true;
}

bool
host_is_connected(const struct host *h)
{
    return h->sw != NULL;
}

int
host_packet_out(struct host *h, uint32_t in_port, const char *actions,
                const void *packet, size_t len, char **errorp)
{
    if (!h->sw) {
        *errorp = xasprintf("%s: switch not connected", h->cfg.name);
        return ENOTCONN;
    }
    return of_switch_packet_out(h->sw, in_port, actions, packet, len,
                                errorp);
}

int
host_request_port_stats(struct host *h, of_port_stats_cb *cb, void *aux)
{
    if (!h->sw) {
        return ENOTCONN;
    }
    of_switch_request_port_stats(h->sw, cb, aux);
    return 0;
}

void
host_detach_switch(struct host *h, struct of_switch *sw)
{
    if (h->sw == sw) {
        WEFT_INFO("%s: switch's OpenFlow connection from %s closed",
                  h->cfg.name, of_switch_get_peer(sw));
        h->sw = NULL;
        ovs_loop_request_run();
    }
}

void
host_get_status(const struct host *h, long long int now,
                struct host_status *st)
{
    struct vswitch_db_stats stats;

    vswitch_db_get_stats(h->db, &stats);
    *st = (struct host_status) {
        .name = h->cfg.name,
        .state = h->fsm.state,
        .state_secs = (now - h->fsm.since) / 1000.0,
        .ovsdb_remote = h->cfg.ovsdb_remote,
        .bridge = h->cfg.bridge,
        .datapath_type = h->cfg.datapath_type,
        .dpid = h->dpid,
        .n_ports = stats.n_ports,
        .openflow_peer = h->sw ? of_switch_get_peer(h->sw) : NULL,
        .openflow_version = h->sw ? of_switch_get_version(h->sw) : NULL,
        .retry_secs = (h->fsm.retry_at - now) / 1000.0,
        .n_failures = h->fsm.n_failures,
        .tunnel_ip = h->cfg.tunnel_ip,
        .libvirt_uri = h->cfg.libvirt_uri,
        .libvirt_state = (h->libvirt_up ? "connected"
                          : h->libvirt_error ? h->libvirt_error
                          : "connecting"),
        .n_flows_desired = h->flows_known ? h->wanted->n : 0,
        .n_meters_desired = h->flows_known ? h->wanted->n_meters : 0,
        .n_tunnels = h->n_tunnels,
    };
    if (h->sw) {
        struct of_switch_flow_stats fs;
        of_switch_get_flow_stats(h->sw, &fs);
        st->flows_synced = fs.synced;
        st->n_flows_installed = fs.n_installed;
        st->n_flow_mods = fs.n_flow_mods;
        st->n_meters_installed = fs.n_meters_installed;
        st->n_meter_mods = fs.n_meter_mods;
        st->n_flow_errors = fs.n_errors;
        st->flow_state = fs.state;
        st->flow_error = fs.last_error;
    }
    vswitch_db_get_state(h->db, &st->ovsdb_detail);
}

void
host_format_status(const struct host *h, long long int now, FILE *out)
{
    struct host_status st;
    host_get_status(h, now, &st);

    fprintf(out, "host %s: %s for %.1f s\n", st.name,
            host_state_to_string(st.state), st.state_secs);
    fprintf(out, "  ovsdb: %s (%s)\n", st.ovsdb_remote, st.ovsdb_detail);
    fprintf(out, "  bridge: %s, datapath %s, datapath ID %016"PRIx64
            ", %u ports\n", st.bridge, st.datapath_type, st.dpid,
            st.n_ports);
    if (st.openflow_peer) {
        fprintf(out, "  openflow: connected from %s, %s\n",
                st.openflow_peer, st.openflow_version);
    } else {
        fprintf(out, "  openflow: not connected\n");
    }
    if (st.state == HOST_LOST || st.state == HOST_ERROR) {
        fprintf(out, "  retry: in %.1f s (%u failed attempts)\n",
                st.retry_secs, st.n_failures);
    }
    fprintf(out, "  tunnel-ip: %s, %zu tunnels\n", st.tunnel_ip,
            st.n_tunnels);
    fprintf(out, "  flows: %zu wanted", st.n_flows_desired);
    if (st.openflow_peer) {
        fprintf(out, ", %u installed, %s, %llu flow_mods this connection",
                st.n_flows_installed, st.flows_synced ? "in sync"
                : st.flow_state ? st.flow_state : "?", st.n_flow_mods);
        if (st.flow_error) {
            fprintf(out, ", last error: %s", st.flow_error);
        }
    }
    fputc('\n', out);
    if (st.n_meters_desired || st.n_meters_installed || st.n_meter_mods) {
        fprintf(out, "  meters: %u wanted, %u installed, %llu meter_mods "
                "this connection\n", st.n_meters_desired,
                st.n_meters_installed, st.n_meter_mods);
    }
    if (st.libvirt_uri) {
        fprintf(out, "  libvirt: %s (%s)\n", st.libvirt_uri,
                st.libvirt_state);
    }
}

unsigned int
host_set_libvirt_network(struct host *h, const struct virt_net_spec *spec,
                         bool force)
{
    return h->virt ? virt_host_set_network(h->virt, spec, force) : 0;
}

const struct virt_net_report *
host_get_libvirt_networks(const struct host *h)
{
    return h->net_report;
}

bool
host_libvirt_is_connected(const struct host *h)
{
    return h->virt && h->libvirt_up;
}

/* Interfaces that carry the tunnels' packets: devices (not tunnels or
 * patch ports) on the host's other bridges, where the userspace datapath
 * needs the tunnel IP (br-phy and its NIC). */
static bool
is_underlay_iface(const struct host *h, const struct vswitch_iface_mtu *m)
{
    return (strcmp(m->bridge, h->cfg.bridge) && m->mtu > 0
            && (!m->type[0] || !strcmp(m->type, "system")
                || !strcmp(m->type, "internal") || !strcmp(m->type, "afxdp")
                || !strncmp(m->type, "dpdk", 4)));
}

int
host_get_underlay_mtu(const struct host *h, const char **iface)
{
    struct vswitch_iface_mtu *v;
    size_t n = vswitch_db_get_iface_mtus(h->db, &v);
    int mtu = 0;
    *iface = NULL;
    for (size_t i = 0; i < n; i++) {
        if (is_underlay_iface(h, &v[i]) && (!mtu || v[i].mtu < mtu)) {
            mtu = v[i].mtu;
            *iface = v[i].name;
        }
    }
    free(v);
    return mtu;
}

int
host_get_port_mtu(const struct host *h, const char *name)
{
    struct vswitch_iface_mtu *v;
    size_t n = vswitch_db_get_iface_mtus(h->db, &v);
    int mtu = 0;
    for (size_t i = 0; i < n && !mtu; i++) {
        if (!strcmp(v[i].bridge, h->cfg.bridge) && !strcmp(v[i].name, name)) {
            mtu = v[i].mtu;
        }
    }
    free(v);
    return mtu;
}
