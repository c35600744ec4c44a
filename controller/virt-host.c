/* A host's libvirt connection on a worker thread (see virt-host.h). */
#include "virt-host.h"
#include "xalloc.h"

#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "log.h"

WEFT_LOG_MODULE(libvirt);

#define MIN_BACKOFF_MS 500
#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT 3

/* State shared by the loop thread and the worker, under 'mutex'. */
struct virt_host {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int refcount;               /* Loop side + worker. */
    bool orphaned;              /* virt_host_destroy() was called. */
    bool sync_requested;
    bool conn_dead;             /* The close callback fired. */
    int close_reason;

    /* Domains with news, from the event thread to the worker. */
    struct pending {
        char uuid[VIR_UUID_STRING_BUFLEN];
        char *name;
    } *pending;
    size_t n_pending, allocated_pending;

    /* Results, from the worker to the loop thread. */
    struct virt_event *out;
    size_t n_out, allocated_out;

    /* Weft's network, set by the loop thread. */
    struct virt_net_spec *net_want;     /* NULL: none. */
    bool net_requested;
    unsigned int net_seqno;             /* Of the newest request. */

    /* Worker only: the host's networks as last listed, and the network
     * and bridge they were judged against. */
    struct virt_net_info *nets;
    size_t n_nets;
    bool nets_known;
    char *checked_network;
    char *checked_bridge;

    /* Loop side; read-only for the worker, except ev_async_send(). */
    struct ev_loop *loop;
    ev_async async;
    virt_event_func *cb;
    void *aux;

    char *host_name;
    char *uri;
    int max_backoff_ms;
};

const char *
virt_net_outcome_to_string(enum virt_net_outcome outcome)
{
    switch (outcome) {
#define VIRT_NET_OUTCOME(ENUM, NAME) case VIRT_NET_##ENUM: return NAME;
        VIRT_NET_OUTCOMES
#undef VIRT_NET_OUTCOME
    }
    return "?";
}

void
virt_net_report_clone(struct virt_net_report *dst,
                      const struct virt_net_report *src)
{
    *dst = *src;
    dst->network = xstrdup(src->network);
    dst->message = xstrdup(src->message);
    dst->nets = xcalloc(src->n_nets, sizeof *dst->nets);
    for (size_t i = 0; i < src->n_nets; i++) {
        virt_net_info_clone(&dst->nets[i], &src->nets[i]);
    }
}

void
virt_net_report_destroy(struct virt_net_report *r)
{
    if (!r) {
        return;
    }
    free(r->network);
    free(r->message);
    for (size_t i = 0; i < r->n_nets; i++) {
        virt_net_info_destroy(&r->nets[i]);
    }
    free(r->nets);
    memset(r, 0, sizeof *r);
}

static void *
xrealloc_array(void *p, size_t *allocated, size_t needed, size_t size)
{
    if (needed > *allocated) {
        *allocated = needed * 2;
        p = realloc(p, *allocated * size);
        if (!p) {
            abort();
        }
    }
    return p;
}


static void
silent_error(void *aux, virErrorPtr error)
{
    /* Errors are read where they happen (virGetLastErrorMessage()); this
     * stops libvirt from printing each one on stderr. */
    (void) aux;
    (void) error;
}

static void *
event_thread_main(void *aux)
{
    (void) aux;
    for (;;) {
        if (virEventRunDefaultImpl() < 0) {
            WEFT_ERR("libvirt event loop failed: %s; domain events are no "
                     "longer received", virGetLastErrorMessage());
            return NULL;
        }
    }
}

void
virt_host_global_init(void)
{
    virSetErrorFunc(NULL, silent_error);
    if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
        WEFT_ERR("cannot initialize libvirt: %s", virGetLastErrorMessage());
        return;
    }
    pthread_t thread;
    if (pthread_create(&thread, NULL, event_thread_main, NULL)) {
        WEFT_ERR("cannot start libvirt's event thread; no domain events");
        return;
    }
    pthread_detach(thread);
}

static void
free_event(struct virt_event *e)
{
    free(e->message);
    free(e->name);
    for (size_t i = 0; i < e->n_domains; i++) {
        domain_info_destroy(&e->domains[i]);
    }
    free(e->domains);
    virt_net_report_destroy(e->networks);
    free(e->networks);
}

static void
free_nets(struct virt_net_info *nets, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        virt_net_info_destroy(&nets[i]);
    }
    free(nets);
}

/* Worker side. */

static void
unref(struct virt_host *vh)
{
    pthread_mutex_lock(&vh->mutex);
    bool last = !--vh->refcount;
    pthread_mutex_unlock(&vh->mutex);
    if (!last) {
        return;
    }
    for (size_t i = 0; i < vh->n_pending; i++) {
        free(vh->pending[i].name);
    }
    free(vh->pending);
    for (size_t i = 0; i < vh->n_out; i++) {
        free_event(&vh->out[i]);
    }
    free(vh->out);
    virt_net_spec_destroy(vh->net_want);
    free(vh->net_want);
    free_nets(vh->nets, vh->n_nets);
    free(vh->checked_network);
    free(vh->checked_bridge);
    free(vh->host_name);
    free(vh->uri);
    pthread_mutex_destroy(&vh->mutex);
    pthread_cond_destroy(&vh->cond);
    free(vh);
}

/* Queues 'e' for the loop thread (takes ownership).  Called locked. */
static void
post(struct virt_host *vh, struct virt_event *e)
{
    vh->out = xrealloc_array(vh->out, &vh->allocated_out, vh->n_out + 1,
                             sizeof *vh->out);
    vh->out[vh->n_out++] = *e;
    if (!vh->orphaned) {
        ev_async_send(vh->loop, &vh->async);
    }
}

static void
post_simple(struct virt_host *vh, enum virt_event_type type,
            const char *message)
{
    struct virt_event e = { .type = type, .message = xstrdup(message) };
    post(vh, &e);
}

static int
lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail,
             void *vh_)
{
    struct virt_host *vh = vh_;
    char uuid[VIR_UUID_STRING_BUFLEN];
    (void) conn;
    (void) event;
    (void) detail;

    if (virDomainGetUUIDString(dom, uuid) < 0) {
        return 0;
    }
    pthread_mutex_lock(&vh->mutex);
    for (size_t i = 0; i < vh->n_pending; i++) {
        if (!strcmp(vh->pending[i].uuid, uuid)) {
            pthread_mutex_unlock(&vh->mutex);
            return 0;           /* Already queued: looked at once. */
        }
    }
    vh->pending = xrealloc_array(vh->pending, &vh->allocated_pending,
                                 vh->n_pending + 1, sizeof *vh->pending);
    struct pending *p = &vh->pending[vh->n_pending++];
    memcpy(p->uuid, uuid, sizeof p->uuid);
    p->name = xstrdup(virDomainGetName(dom));
    pthread_cond_signal(&vh->cond);
    pthread_mutex_unlock(&vh->mutex);
    return 0;
}

static void
device_cb(virConnectPtr conn, virDomainPtr dom, const char *alias, void *vh)
{
    (void) alias;
    lifecycle_cb(conn, dom, 0, 0, vh);
}

static void
network_cb(virConnectPtr conn, virNetworkPtr net, int event, int detail,
           void *vh_)
{
    struct virt_host *vh = vh_;
    (void) conn;
    (void) net;
    (void) event;
    (void) detail;

    /* Someone (maybe Weft) changed a network: look at them all again, so
     * that Weft's is put back and "show" stays true. */
    pthread_mutex_lock(&vh->mutex);
    vh->net_requested = true;
    pthread_cond_signal(&vh->cond);
    pthread_mutex_unlock(&vh->mutex);
}

static void
close_cb(virConnectPtr conn, int reason, void *vh_)
{
    struct virt_host *vh = vh_;
    (void) conn;

    /* Runs on libvirt's event thread, inside libvirt: only flag it. */
    pthread_mutex_lock(&vh->mutex);
    vh->conn_dead = true;
    vh->close_reason = reason;
    pthread_cond_signal(&vh->cond);
    pthread_mutex_unlock(&vh->mutex);
}

static const char *
close_reason_to_string(int reason)
{
    switch (reason) {
    case VIR_CONNECT_CLOSE_REASON_ERROR: return "I/O error";
    case VIR_CONNECT_CLOSE_REASON_EOF: return "libvirtd closed the connection";
    case VIR_CONNECT_CLOSE_REASON_KEEPALIVE: return "keepalive timeout";
    case VIR_CONNECT_CLOSE_REASON_CLIENT: return "closed by client";
    default: return "unknown reason";
    }
}

struct connection {
    virConnectPtr conn;
    int callback_ids[3];
    int network_callback_id;
};

static bool
connection_open(struct virt_host *vh, struct connection *c, char **errorp)
{
    memset(c, 0, sizeof *c);
    c->conn = virConnectOpen(vh->uri);
    if (!c->conn) {
        *errorp = xstrdup(virGetLastErrorMessage());
        return false;
    }
    /* Events first, then the caller lists domains: nothing can fall in
     * between. */
    c->callback_ids[0] = virConnectDomainEventRegisterAny(
        c->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb), vh, NULL);
    c->callback_ids[1] = virConnectDomainEventRegisterAny(
        c->conn, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
        VIR_DOMAIN_EVENT_CALLBACK(device_cb), vh, NULL);
    c->callback_ids[2] = virConnectDomainEventRegisterAny(
        c->conn, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
        VIR_DOMAIN_EVENT_CALLBACK(device_cb), vh, NULL);
    c->network_callback_id = virConnectNetworkEventRegisterAny(
        c->conn, NULL, VIR_NETWORK_EVENT_ID_LIFECYCLE,
        VIR_NETWORK_EVENT_CALLBACK(network_cb), vh, NULL);
    if (c->callback_ids[0] < 0
        || virConnectRegisterCloseCallback(c->conn, close_cb, vh,
                                           NULL) < 0) {
        *errorp = xstrdup(virGetLastErrorMessage());
        virConnectClose(c->conn);
        c->conn = NULL;
        return false;
    }
    if (virConnectSetKeepAlive(c->conn, KEEPALIVE_INTERVAL_S,
                               KEEPALIVE_COUNT) < 0) {
        WEFT_DBG("%s: no keepalive on %s: %s", vh->host_name, vh->uri,
                 virGetLastErrorMessage());
    }
    return true;
}

static void
connection_close(struct connection *c)
{
    if (!c->conn) {
        return;
    }
    for (int i = 0; i < 3; i++) {
        if (c->callback_ids[i] >= 0) {
            virConnectDomainEventDeregisterAny(c->conn, c->callback_ids[i]);
        }
    }
    if (c->network_callback_id >= 0) {
        virConnectNetworkEventDeregisterAny(c->conn, c->network_callback_id);
    }
    virConnectUnregisterCloseCallback(c->conn, close_cb);
    virConnectClose(c->conn);
    c->conn = NULL;
}

/* Fetches and parses 'dom''s live XML into an UP or ERROR event. */
static void
describe_domain(struct virt_host *vh, virDomainPtr dom, struct virt_event *e)
{
    memset(e, 0, sizeof *e);
    virDomainGetUUIDString(dom, e->uuid);
    e->name = xstrdup(virDomainGetName(dom));

    char *xml = virDomainGetXMLDesc(dom, 0);
    if (!xml) {
        e->type = VIRT_DOMAIN_ERROR;
        e->message = xstrdup(virGetLastErrorMessage());
        return;
    }
    struct domain_info info;
    char *error;
    if (domain_xml_parse(xml, &info, &error)) {
        e->type = VIRT_DOMAIN_ERROR;
        e->message = error;
    } else {
        if (vh->nets_known) {
            virt_net_check_domain(&info, vh->nets, vh->n_nets,
                                  vh->checked_network, vh->checked_bridge);
        }
        e->type = VIRT_DOMAIN_UP;
        e->domains = malloc(sizeof *e->domains);
        if (!e->domains) {
            abort();
        }
        e->domains[0] = info;
        e->n_domains = 1;
    }
    free(xml);
}

/* Lists every running domain.  Returns false if the connection failed. */
static bool
sync_domains(struct virt_host *vh, virConnectPtr conn, struct virt_event *e)
{
    virDomainPtr *doms;
    int n = virConnectListAllDomains(conn, &doms,
                                     VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    memset(e, 0, sizeof *e);
    if (n < 0) {
        return false;
    }
    e->type = VIRT_SYNC;
    e->domains = calloc(n ? n : 1, sizeof *e->domains);
    if (!e->domains) {
        abort();
    }
    for (int i = 0; i < n; i++) {
        struct virt_event d;
        describe_domain(vh, doms[i], &d);
        if (d.type == VIRT_DOMAIN_UP) {
            e->domains[e->n_domains++] = d.domains[0];
            free(d.domains);
        } else {
            WEFT_WARN("%s: domain %s: cannot read its XML (%s); its ports "
                      "are not placed until it changes or libvirt "
                      "reconnects", vh->host_name, d.name, d.message);
            free(d.message);
        }
        free(d.name);
        virDomainFree(doms[i]);
    }
    free(doms);
    return true;
}

/* Looks at one domain again after an event. */
static bool
check_domain(struct virt_host *vh, virConnectPtr conn, struct pending *p,
             struct virt_event *e)
{
    virDomainPtr dom = virDomainLookupByUUIDString(conn, p->uuid);
    if (!dom) {
        virErrorPtr err = virGetLastError();
        if (err && err->code != VIR_ERR_NO_DOMAIN) {
            return false;
        }
    }
    if (!dom || virDomainIsActive(dom) != 1) {
        memset(e, 0, sizeof *e);
        e->type = VIRT_DOMAIN_DOWN;
        memcpy(e->uuid, p->uuid, sizeof e->uuid);
        e->name = xstrdup(p->name);
    } else {
        describe_domain(vh, dom, e);
    }
    if (dom) {
        virDomainFree(dom);
    }
    return true;
}

/* Networks (worker side). */

static void report_set(struct virt_net_report *, enum virt_net_outcome,
                       const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void
report_set(struct virt_net_report *r, enum virt_net_outcome outcome,
           const char *format, ...)
{
    va_list args;
    va_start(args, format);
    free(r->message);
    if (vasprintf(&r->message, format, args) < 0) {
        abort();
    }
    va_end(args);
    r->outcome = outcome;
}

static int
update_command(enum virt_net_update_cmd cmd)
{
    return (cmd == VIRT_NET_UPDATE_DELETE ? VIR_NETWORK_UPDATE_COMMAND_DELETE
            : cmd == VIRT_NET_UPDATE_MODIFY ? VIR_NETWORK_UPDATE_COMMAND_MODIFY
            : VIR_NETWORK_UPDATE_COMMAND_ADD_LAST);
}

/* Changes only the portgroups, in place: virNetworkUpdate() changes a
 * running network without restarting it, so VMs on it are not
 * disturbed. */
static void
update_portgroups(virNetworkPtr net, const struct virt_net_spec *want,
                  const struct virt_net_info *have,
                  struct virt_net_report *r)
{
    unsigned int flags = (virNetworkIsActive(net) != 1
                          ? VIR_NETWORK_UPDATE_AFFECT_CONFIG
                          : virNetworkIsPersistent(net) == 1
                          ? (VIR_NETWORK_UPDATE_AFFECT_LIVE
                             | VIR_NETWORK_UPDATE_AFFECT_CONFIG)
                          : VIR_NETWORK_UPDATE_AFFECT_LIVE);
    struct virt_net_update *u;
    size_t n = virt_net_portgroup_updates(want, have, &u);
    for (size_t i = 0; i < n; i++) {
        if (virNetworkUpdate(net, update_command(u[i].cmd),
                             VIR_NETWORK_SECTION_PORTGROUP, -1, u[i].xml,
                             flags) < 0) {
            report_set(r, VIRT_NET_FAILED, "cannot update portgroup %s: %s",
                       u[i].xml, virGetLastErrorMessage());
            virt_net_updates_free(u, n);
            return;
        }
    }
    report_set(r, VIRT_NET_UPDATED, "%zu portgroup changes applied", n);
    virt_net_updates_free(u, n);
}

/* Defines 'want' over Weft's existing network (its forward mode or bridge
 * differ), restarting it if it runs: only a restart applies those. */
static virNetworkPtr
redefine(virConnectPtr conn, virNetworkPtr net,
         const struct virt_net_spec *want, const struct virt_net_info *have,
         struct virt_net_report *r)
{
    bool active = virNetworkIsActive(net) == 1;
    char *xml = virt_net_spec_to_xml(want, have->uuid);
    virNetworkPtr new = virNetworkDefineXML(conn, xml);
    free(xml);
    if (!new) {
        report_set(r, VIRT_NET_FAILED, "cannot redefine it: %s",
                   virGetLastErrorMessage());
        return net;
    }
    virNetworkFree(net);
    if (active && (virNetworkDestroy(new) < 0 || virNetworkCreate(new) < 0)) {
        report_set(r, VIRT_NET_FAILED, "redefined, but cannot restart it: "
                   "%s", virGetLastErrorMessage());
    } else {
        report_set(r, VIRT_NET_UPDATED, "redefined (forward mode, bridge or "
                   "virtualport differed)%s", active ? " and restarted" : "");
    }
    return new;
}

/* Brings the existing network 'net' in line with 'want', unless it is not
 * Weft's.  Returns the (maybe new) handle. */
static virNetworkPtr
update_network(virConnectPtr conn, virNetworkPtr net,
               const struct virt_net_spec *want, struct virt_net_report *r)
{
    char *xml = virNetworkGetXMLDesc(net, 0);
    struct virt_net_info have;
    char *error = NULL;
    if (!xml || virt_net_parse(xml, &have, &error)) {
        report_set(r, VIRT_NET_FAILED, "cannot read its XML: %s",
                   error ? error : virGetLastErrorMessage());
        free(error);
        free(xml);
        return net;
    }
    free(xml);
    switch (virt_net_compare(want, &have)) {
    case VIRT_NET_SAME:
        report_set(r, VIRT_NET_IN_SYNC, "%zu portgroups", want->n_portgroups);
        break;
    case VIRT_NET_PORTGROUPS:
        update_portgroups(net, want, &have, r);
        break;
    case VIRT_NET_REDEFINE:
        net = redefine(conn, net, want, &have, r);
        break;
    case VIRT_NET_FOREIGN:
        report_set(r, VIRT_NET_REFUSED, "a libvirt network \"%s\" exists and "
                   "was not made by Weft (no Weft metadata): left as it is; "
                   "remove it (virsh net-destroy %s; virsh net-undefine %s) "
                   "or set libvirt-network to another name in weftd's "
                   "configuration", want->name, want->name, want->name);
        break;
    }
    virt_net_info_destroy(&have);
    return net;
}

/* Weft's network must run and start with libvirtd, as libvirt users
 * expect of a network VMs depend on. */
static void
keep_running(virNetworkPtr net, struct virt_net_report *r)
{
    int autostart = 0;
    if (virNetworkIsActive(net) != 1 && virNetworkCreate(net) < 0) {
        report_set(r, VIRT_NET_FAILED, "cannot start it: %s",
                   virGetLastErrorMessage());
    } else if ((virNetworkGetAutostart(net, &autostart) < 0 || !autostart)
               && virNetworkSetAutostart(net, 1) < 0) {
        report_set(r, VIRT_NET_FAILED, "cannot mark it autostart: %s",
                   virGetLastErrorMessage());
    }
}

static void
ensure_network(virConnectPtr conn, const struct virt_net_spec *want,
               struct virt_net_report *r)
{
    virNetworkPtr net = virNetworkLookupByName(conn, want->name);
    if (net) {
        net = update_network(conn, net, want, r);
    } else {
        virErrorPtr err = virGetLastError();
        if (err && err->code != VIR_ERR_NO_NETWORK) {
            report_set(r, VIRT_NET_FAILED, "cannot look it up: %s",
                       err->message);
            return;
        }
        char *xml = virt_net_spec_to_xml(want, NULL);
        net = virNetworkDefineXML(conn, xml);
        free(xml);
        if (!net) {
            report_set(r, VIRT_NET_FAILED, "cannot define it: %s",
                       virGetLastErrorMessage());
            return;
        }
        report_set(r, VIRT_NET_DEFINED, "defined with %zu portgroups",
                   want->n_portgroups);
    }
    if (r->outcome != VIRT_NET_REFUSED && r->outcome != VIRT_NET_FAILED) {
        keep_running(net, r);
    }
    virNetworkFree(net);
}

/* Every network of the host, into 'r'.  False if they cannot be listed. */
static bool
list_networks(virConnectPtr conn, struct virt_net_report *r)
{
    virNetworkPtr *nets;
    int n = virConnectListAllNetworks(conn, &nets, 0);
    if (n < 0) {
        return false;
    }
    r->nets = xcalloc(n, sizeof *r->nets);
    for (int i = 0; i < n; i++) {
        char *xml = virNetworkGetXMLDesc(nets[i], 0);
        char *error = NULL;
        if (xml && !virt_net_parse(xml, &r->nets[r->n_nets], &error)) {
            r->nets[r->n_nets++].active = virNetworkIsActive(nets[i]) == 1;
        }
        free(error);
        free(xml);
        virNetworkFree(nets[i]);
    }
    free(nets);
    return true;
}

/* What decides whether a vNIC bypasses Weft, as text, to notice a change
 * that calls for another look at the domains. */
static char *
nets_signature(const struct virt_net_info *nets, size_t n,
               const char *network, const char *bridge)
{
    char *sig = xasprintf("%s %s", network ? network : "-",
                          bridge ? bridge : "-");
    for (size_t i = 0; i < n; i++) {
        char *next = xasprintf("%s|%s %s %s %d %d", sig, nets[i].name,
                               nets[i].forward,
                               nets[i].bridge ? nets[i].bridge : "-",
                               nets[i].ovs, nets[i].weft);
        free(sig);
        sig = next;
    }
    return sig;
}

/* Remembers the networks just listed for virt_net_check_domain(), and
 * asks for a domain sync if that changes what bypasses Weft.  Called
 * locked. */
static void
remember_networks(struct virt_host *vh, const struct virt_net_report *r,
                  const struct virt_net_spec *want)
{
    char *old = nets_signature(vh->nets, vh->n_nets, vh->checked_network,
                               vh->checked_bridge);
    if (want) {
        free(vh->checked_network);
        free(vh->checked_bridge);
        vh->checked_network = xstrdup(want->name);
        vh->checked_bridge = xstrdup(want->bridge);
    }
    free_nets(vh->nets, vh->n_nets);
    vh->nets = xcalloc(r->n_nets, sizeof *vh->nets);
    vh->n_nets = r->n_nets;
    for (size_t i = 0; i < r->n_nets; i++) {
        virt_net_info_clone(&vh->nets[i], &r->nets[i]);
    }
    char *new = nets_signature(vh->nets, vh->n_nets, vh->checked_network,
                               vh->checked_bridge);
    if (!vh->nets_known || strcmp(old, new)) {
        vh->sync_requested = true;
    }
    vh->nets_known = true;
    free(old);
    free(new);
}

/* Takes the pending network request and carries it out.  Returns false if
 * the connection failed.  Called locked; unlocks meanwhile. */
static bool
sync_networks(struct virt_host *vh, virConnectPtr conn, struct virt_event *e)
{
    struct virt_net_spec *want = NULL;
    struct virt_net_report *r = xzalloc(sizeof *r);

    vh->net_requested = false;
    r->seqno = vh->net_seqno;
    if (vh->net_want) {
        want = xmalloc(sizeof *want);
        virt_net_spec_clone(want, vh->net_want);
        r->network = xstrdup(want->name);
    }
    pthread_mutex_unlock(&vh->mutex);
    if (want) {
        ensure_network(conn, want, r);
    } else {
        report_set(r, VIRT_NET_NONE, "Weft keeps no libvirt network");
    }
    /* A driver without networks must not cost the domains their
     * connection: only a dead connection fails the call. */
    bool listed = list_networks(conn, r);
    if (!listed && r->outcome != VIRT_NET_FAILED) {
        report_set(r, want ? VIRT_NET_FAILED : VIRT_NET_NONE, "cannot list "
                   "the host's networks: %s", virGetLastErrorMessage());
    }
    bool ok = virConnectIsAlive(conn) == 1;
    pthread_mutex_lock(&vh->mutex);

    memset(e, 0, sizeof *e);
    e->type = VIRT_NETWORKS;
    e->networks = r;
    if (ok && listed) {
        remember_networks(vh, r, want);
    }
    virt_net_spec_destroy(want);
    free(want);
    return ok;
}

static void
timed_wait(struct virt_host *vh, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&vh->cond, &vh->mutex, &ts);
}

static void *
worker_main(void *vh_)
{
    struct virt_host *vh = vh_;
    struct connection c = { .conn = NULL };
    int backoff = MIN_BACKOFF_MS;

    pthread_mutex_lock(&vh->mutex);
    while (!vh->orphaned) {
        if (!c.conn) {
            char *error = NULL;
            pthread_mutex_unlock(&vh->mutex);
            bool ok = connection_open(vh, &c, &error);
            pthread_mutex_lock(&vh->mutex);
            if (!ok) {
                char msg[512];
                snprintf(msg, sizeof msg, "cannot connect to %s: %s; "
                         "retrying in %.1f s", vh->uri, error,
                         backoff / 1000.0);
                free(error);
                post_simple(vh, VIRT_DISCONNECTED, msg);
                timed_wait(vh, backoff);
                backoff = (backoff > vh->max_backoff_ms / 2
                           ? vh->max_backoff_ms : backoff * 2);
                continue;
            }
            backoff = MIN_BACKOFF_MS;
            vh->conn_dead = false;
            vh->sync_requested = true;
            vh->net_requested = true;
            post_simple(vh, VIRT_CONNECTED, NULL);
        }
        if (vh->conn_dead) {
            char msg[256];
            snprintf(msg, sizeof msg, "connection to %s lost: %s", vh->uri,
                     close_reason_to_string(vh->close_reason));
            post_simple(vh, VIRT_DISCONNECTED, msg);
            pthread_mutex_unlock(&vh->mutex);
            connection_close(&c);
            pthread_mutex_lock(&vh->mutex);
            timed_wait(vh, backoff);
            continue;
        }

        struct virt_event e;
        bool ok;
        if (vh->net_requested) {
            /* Networks first: the domains' check depends on them. */
            ok = sync_networks(vh, c.conn, &e);
            if (!ok) {
                free_event(&e);
            }
        } else if (vh->sync_requested) {
            vh->sync_requested = false;
            /* The sync covers every event queued so far. */
            for (size_t i = 0; i < vh->n_pending; i++) {
                free(vh->pending[i].name);
            }
            vh->n_pending = 0;
            pthread_mutex_unlock(&vh->mutex);
            ok = sync_domains(vh, c.conn, &e);
            pthread_mutex_lock(&vh->mutex);
        } else if (vh->n_pending) {
            struct pending p = vh->pending[0];
            memmove(vh->pending, vh->pending + 1,
                    --vh->n_pending * sizeof *vh->pending);
            pthread_mutex_unlock(&vh->mutex);
            ok = check_domain(vh, c.conn, &p, &e);
            free(p.name);
            pthread_mutex_lock(&vh->mutex);
        } else {
            pthread_cond_wait(&vh->cond, &vh->mutex);
            continue;
        }
        if (ok) {
            post(vh, &e);
        } else if (!vh->conn_dead) {
            /* A failed call on a live connection: start over, so that the
             * next sync repairs whatever this missed. */
            WEFT_WARN("%s: libvirt call failed: %s; reconnecting",
                      vh->host_name, virGetLastErrorMessage());
            vh->conn_dead = true;
            vh->close_reason = VIR_CONNECT_CLOSE_REASON_ERROR;
        }
    }
    pthread_mutex_unlock(&vh->mutex);
    connection_close(&c);
    unref(vh);
    return NULL;
}

/* Loop side. */

static void
async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    struct virt_host *vh = w->data;
    (void) loop;
    (void) revents;

    pthread_mutex_lock(&vh->mutex);
    struct virt_event *events = vh->out;
    size_t n = vh->n_out;
    vh->out = NULL;
    vh->n_out = vh->allocated_out = 0;
    pthread_mutex_unlock(&vh->mutex);

    for (size_t i = 0; i < n; i++) {
        vh->cb(vh->aux, &events[i]);
        free_event(&events[i]);
    }
    free(events);
}

struct virt_host *
virt_host_create(struct ev_loop *loop, const char *host_name,
                 const char *uri, int max_backoff_ms, const char *network,
                 const char *bridge, virt_event_func *cb, void *aux)
{
    struct virt_host *vh = calloc(1, sizeof *vh);
    if (!vh) {
        abort();
    }
    pthread_mutex_init(&vh->mutex, NULL);
    pthread_cond_init(&vh->cond, NULL);
    vh->refcount = 2;
    vh->loop = loop;
    vh->cb = cb;
    vh->aux = aux;
    vh->host_name = xstrdup(host_name);
    vh->uri = xstrdup(uri);
    vh->checked_network = xstrdup(network);
    vh->checked_bridge = xstrdup(bridge);
    vh->max_backoff_ms = (max_backoff_ms < MIN_BACKOFF_MS ? MIN_BACKOFF_MS
                          : max_backoff_ms);
    ev_async_init(&vh->async, async_cb);
    vh->async.data = vh;
    ev_async_start(loop, &vh->async);

    pthread_t thread;
    if (pthread_create(&thread, NULL, worker_main, vh)) {
        WEFT_ERR("%s: cannot start libvirt worker thread; VMs of this host "
                 "are not watched", host_name);
        vh->refcount = 1;
        return vh;
    }
    pthread_detach(thread);
    return vh;
}

void
virt_host_destroy(struct virt_host *vh)
{
    if (!vh) {
        return;
    }
    pthread_mutex_lock(&vh->mutex);
    vh->orphaned = true;
    pthread_cond_signal(&vh->cond);
    pthread_mutex_unlock(&vh->mutex);
    ev_async_stop(vh->loop, &vh->async);
    unref(vh);
}

void
virt_host_request_sync(struct virt_host *vh)
{
    pthread_mutex_lock(&vh->mutex);
    vh->sync_requested = true;
    pthread_cond_signal(&vh->cond);
    pthread_mutex_unlock(&vh->mutex);
}

unsigned int
virt_host_set_network(struct virt_host *vh, const struct virt_net_spec *spec,
                      bool force)
{
    pthread_mutex_lock(&vh->mutex);
    bool same = (spec && vh->net_want
                 ? virt_net_spec_equal(spec, vh->net_want)
                 : !spec && !vh->net_want);
    if (!same) {
        virt_net_spec_destroy(vh->net_want);
        free(vh->net_want);
        vh->net_want = NULL;
        if (spec) {
            vh->net_want = xmalloc(sizeof *vh->net_want);
            virt_net_spec_clone(vh->net_want, spec);
        }
    }
    if (!same || force) {
        vh->net_seqno++;
        vh->net_requested = true;
        pthread_cond_signal(&vh->cond);
    }
    unsigned int seqno = vh->net_seqno;
    pthread_mutex_unlock(&vh->mutex);
    return seqno;
}
