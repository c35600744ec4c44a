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
 * reports it as up (with its XML parsed) or down.
 *
 * The worker also keeps Weft's libvirt network on the host (see
 * virt-net.h): after every (re)connect, when the loop thread sets a new
 * one, and when a network changes on the host, it defines or updates it if
 * it differs, then lists every network of the host, and reports all that
 * as a VIRT_NETWORKS event.  vNICs on networks that bypass the integration
 * bridge get a problem (virt_net_check_domain()). */
#ifndef WEFT_VIRT_HOST_H
#define WEFT_VIRT_HOST_H 1

#include <stdbool.h>
#include <stddef.h>

#include "domain-xml.h"
#include "virt-net.h"

struct ev_loop;

enum virt_event_type {
    VIRT_CONNECTED,         /* Connection (re)established. */
    VIRT_DISCONNECTED,      /* Lost or failed: 'message' says why. */
    VIRT_SYNC,              /* Every running domain: 'domains'. */
    VIRT_DOMAIN_UP,         /* A running domain (new or changed). */
    VIRT_DOMAIN_DOWN,       /* A domain that is not running any more. */
    VIRT_DOMAIN_ERROR,      /* A domain whose XML could not be used. */
    VIRT_NETWORKS,          /* The host's networks: 'networks'. */
};

/* What became of Weft's network on a host. */
#define VIRT_NET_OUTCOMES                                   \
    VIRT_NET_OUTCOME(NONE, "none wanted")                   \
    VIRT_NET_OUTCOME(IN_SYNC, "in sync")                    \
    VIRT_NET_OUTCOME(DEFINED, "defined")                    \
    VIRT_NET_OUTCOME(UPDATED, "updated")                    \
    VIRT_NET_OUTCOME(REFUSED, "refused")                    \
    VIRT_NET_OUTCOME(FAILED, "failed")

enum virt_net_outcome {
#define VIRT_NET_OUTCOME(ENUM, NAME) VIRT_NET_##ENUM,
    VIRT_NET_OUTCOMES
#undef VIRT_NET_OUTCOME
};
const char *virt_net_outcome_to_string(enum virt_net_outcome);

/* One look at a host's libvirt networks. */
struct virt_net_report {
    unsigned int seqno;         /* Newest virt_host_set_network() covered. */
    char *network;              /* Weft's network, NULL if none wanted. */
    enum virt_net_outcome outcome;
    char *message;              /* What was done, or what went wrong. */
    struct virt_net_info *nets; /* Every network of the host, Weft's too. */
    size_t n_nets;
};
void virt_net_report_clone(struct virt_net_report *dst,
                           const struct virt_net_report *src);
void virt_net_report_destroy(struct virt_net_report *);

struct virt_event {
    enum virt_event_type type;
    char *message;              /* DISCONNECTED, DOMAIN_ERROR. */
    char uuid[37];              /* DOMAIN_*. */
    char *name;                 /* DOMAIN_*. */
    struct domain_info *domains;    /* SYNC: n_domains; DOMAIN_UP: 1. */
    size_t n_domains;
    struct virt_net_report *networks;  /* NETWORKS. */
};

/* Called on the loop thread; 'event' is freed after it returns. */
typedef void virt_event_func(void *aux, const struct virt_event *event);

/* Starts libvirt's event thread.  Call once, before any virt_host. */
void virt_host_global_init(void);

/* 'network' and 'bridge' name Weft's network (NULL: none) and the
 * integration bridge until virt_host_set_network() says otherwise: which
 * vNICs bypass Weft depends on them. */
struct virt_host *virt_host_create(struct ev_loop *, const char *host_name,
                                   const char *uri, int max_backoff_ms,
                                   const char *network, const char *bridge,
                                   virt_event_func *, void *aux);

/* Detaches from the worker, which exits as soon as its current call
 * returns; no callback is made after this returns. */
void virt_host_destroy(struct virt_host *);

/* Asks for a full sync (e.g. after the host's OVSDB reconnected). */
void virt_host_request_sync(struct virt_host *);

/* Sets the network Weft keeps on this host ('spec' is copied; NULL: none,
 * other networks are still listed).  The worker looks at the host's
 * networks again if 'spec' differs from the previous one or 'force' is
 * true.  Returns the seqno of the VIRT_NETWORKS report that covers this
 * call. */
unsigned int virt_host_set_network(struct virt_host *,
                                   const struct virt_net_spec *spec,
                                   bool force);

#endif /* virt-host.h */
