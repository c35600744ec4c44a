/* A host's libvirt connection on a worker thread (see virt-host.h). */
#include "virt-host.h"
#include "xalloc.h"

#include <errno.h>
#include <ev.h>
#include <pthread.h>
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

    /* Loop side; read-only for the worker, except ev_async_send(). */
    struct ev_loop *loop;
    ev_async async;
    virt_event_func *cb;
    void *aux;

    char *host_name;
    char *uri;
    int max_backoff_ms;
};

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
        struct virt_event *e = &vh->out[i];
        free(e->message);
        free(e->name);
        for (size_t j = 0; j < e->n_domains; j++) {
            domain_info_destroy(&e->domains[j]);
        }
        free(e->domains);
    }
    free(vh->out);
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
        e->type = VIRT_DOMAIN_UP;
        e->domains = malloc(sizeof *e->domains);
        if (!e->domains) {
            abort();
        }
        e->domains[0] = info;
        e->n_domains = 1;
    }
    free(xml);
    (void) vh;
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
        if (vh->sync_requested) {
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
free_event(struct virt_event *e)
{
    free(e->message);
    free(e->name);
    for (size_t i = 0; i < e->n_domains; i++) {
        domain_info_destroy(&e->domains[i]);
    }
    free(e->domains);
}

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
                 const char *uri, int max_backoff_ms, virt_event_func *cb,
                 void *aux)
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
