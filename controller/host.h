/* One managed hypervisor: its OVSDB session (which keeps the integration
 * bridge configured), its switch's OpenFlow connection, and its state
 * machine (host-fsm.h).  A host that cannot be reached is retried with
 * backoff on its own timer; hosts never wait for each other. */
#ifndef WEFT_HOST_H
#define WEFT_HOST_H 1

#include <stdint.h>
#include <stdio.h>

#include "host-fsm.h"

struct ev_loop;
struct inventory;
struct of_switch;
struct weft_host_config;

struct host_options {
    const char *controller_target;  /* What the bridge connects to. */
    int min_backoff_ms;
    int max_backoff_ms;
    struct inventory *inventory;    /* Shared by all hosts; not owned. */
};

struct host *host_create(struct ev_loop *, const struct weft_host_config *,
                         const struct host_options *);
void host_destroy(struct host *);

const char *host_get_name(const struct host *);
const struct weft_host_config *host_get_config(const struct host *);
enum host_state host_get_state(const struct host *);

/* The datapath ID weftd gives the bridge of host 'name': stable across
 * restarts, so a switch's connection can be matched to its host. */
uint64_t host_dpid_from_name(const char *name);
uint64_t host_get_dpid(const struct host *);

/* The switch of this host connected (replacing any older connection), or
 * its connection went away. */
void host_attach_switch(struct host *, struct of_switch *);
void host_detach_switch(struct host *, struct of_switch *);

/* A snapshot of a host for status output; strings valid until the next
 * loop iteration. */
struct host_status {
    const char *name;
    enum host_state state;
    double state_secs;          /* Time in 'state'. */
    const char *ovsdb_remote;
    const char *ovsdb_detail;
    const char *bridge;
    const char *datapath_type;
    uint64_t dpid;
    unsigned int n_ports;
    const char *openflow_peer;      /* NULL: not connected. */
    const char *openflow_version;
    double retry_secs;              /* LOST/ERROR: time to next try. */
    unsigned int n_failures;
    const char *tunnel_ip;
    const char *libvirt_uri;        /* NULL: not configured. */
    const char *libvirt_state;      /* "connected", "connecting" or why. */
};

void host_get_status(const struct host *, long long int now_ms,
                     struct host_status *);

/* Writes one status block, as shown by "host/list". */
void host_format_status(const struct host *, long long int now_ms, FILE *);

#endif /* host.h */
