/* One host's libvirt connection, watched for domain events.
 *
 * libvirt's synchronous calls (open, list, XML fetch) block for as long as
 * a hung libvirtd keeps them, so they never run on weftd's loop thread: each
 * host has a worker thread that owns its connection, and libvirt's own event
 * loop runs in one shared thread (see libvirt-glue.md in shared/ for the
 * measurements behind this choice).  Results reach the loop thread through
 * an ev_async, as virt_event callbacks; the controller's state is only ever
 * touched there.
 *
 * The worker reconnects with exponential backoff, re-registers for events,
 * and then lists every running domain (a "sync"), so that correctness never
 * depends on having seen every event.  Events are handled by state, not by
 * type: whatever happened to a domain, the worker looks at it again and
 * reports it as up (with its XML parsed) or down. */
#ifndef WEFT_VIRT_HOST_H
#define WEFT_VIRT_HOST_H 1

#include <stddef.h>

#include "domain-xml.h"

struct ev_loop;

enum virt_event_type {
    VIRT_CONNECTED,         /* Connection (re)established. */
    VIRT_DISCONNECTED,      /* Lost or failed: 'message' says why. */
    VIRT_SYNC,              /* Every running domain: 'domains'. */
    VIRT_DOMAIN_UP,         /* A running domain (new or changed). */
    VIRT_DOMAIN_DOWN,       /* A domain that is not running any more. */
    VIRT_DOMAIN_ERROR,      /* A domain whose XML could not be used. */
};

struct virt_event {
    enum virt_event_type type;
    char *message;              /* DISCONNECTED, DOMAIN_ERROR. */
    char uuid[37];              /* DOMAIN_*. */
    char *name;                 /* DOMAIN_*. */
    struct domain_info *domains;    /* SYNC: n_domains; DOMAIN_UP: 1. */
    size_t n_domains;
};

/* Called on the loop thread; 'event' is freed after it returns. */
typedef void virt_event_func(void *aux, const struct virt_event *event);

/* Starts libvirt's event thread.  Call once, before any virt_host. */
void virt_host_global_init(void);

struct virt_host *virt_host_create(struct ev_loop *, const char *host_name,
                                   const char *uri, int max_backoff_ms,
                                   virt_event_func *, void *aux);

/* Detaches from the worker, which exits as soon as its current call
 * returns; no callback is made after this returns. */
void virt_host_destroy(struct virt_host *);

/* Asks for a full sync (e.g. after the host's OVSDB reconnected). */
void virt_host_request_sync(struct virt_host *);

#endif /* virt-host.h */
