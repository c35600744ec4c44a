/* One managed hypervisor: its OVSDB session (which keeps the integration
 * bridge configured), its switch's OpenFlow connection, and its state
 * machine (host-fsm.h).  A host that cannot be reached is retried with
 * backoff on its own timer; hosts never wait for each other. */
#ifndef WEFT_HOST_H
#define WEFT_HOST_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "host-fsm.h"
#include "openflow.h"
#include "vswitch-export.h"

struct ev_loop;
struct inventory;
struct of_switch;
struct weft_host_config;

struct host_options {
    const char *controller_target;  /* What the bridge connects to. */
    int min_backoff_ms;
    int max_backoff_ms;
    struct inventory *inventory;    /* Shared by all hosts; not owned. */
    const char *libvirt_network;    /* Weft's libvirt network, or NULL. */
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

/* The VXLAN tunnels this host's bridge should have, one per peer host that
 * shares segments with it (computed by datapath.c).  Until the first call
 * the host places no ports at all, so that a restarted weftd never removes
 * a tunnel it has not yet decided about. */
struct host_tunnel {
    const char *peer;           /* Peer host's name. */
    const char *remote_ip;      /* Peer's tunnel endpoint. */
};
void host_set_tunnels(struct host *, const struct host_tunnel *, size_t n);

/* A port mirror this host's bridge should have (see mirror-plan.h): an
 * OVSDB Mirror row "weft-NAME", and for a remote destination a VXLAN port
 * 'output_port' with key 'tunnel_key' towards 'tunnel_remote_ip'. */
struct host_mirror {
    const char *name;               /* The policy mirror. */
    const char **select_src;
    size_t n_select_src;
    const char **select_dst;
    size_t n_select_dst;
    const char *output_port;
    const char *tunnel_remote_ip;   /* NULL: a local output port. */
    uint32_t tunnel_key;
};

/* Sets this host's mirrors (copied); 'receives': the host is the
 * destination of remote mirrors and needs the catch-all mirror tunnel
 * port.  'watch' names ports (not Weft's) whose OpenFlow port numbers
 * host_get_port_ofport() must know: mirror destinations given as
 * host:HOST/PORT.  A change of their numbers bumps the ports version. */
void host_set_mirrors(struct host *, const struct host_mirror *, size_t n,
                      bool receives, const char *const *watch,
                      size_t n_watch);

/* Sets the flow exports this host's bridge should have (copied; see
 * vswitch-export.h), kept across reconnects of its OVSDB session. */
void host_set_exports(struct host *, const struct vswitch_export_spec *,
                      size_t n);

/* What the host's OVSDB says about its export of 'type'. */
enum vswitch_export_state host_get_export_state(const struct host *,
                                                enum vswitch_export_type);

/* The state of per-segment export 'name' (its IPFIX collector set) on this
 * host's bridge. */
enum vswitch_export_state host_get_export_set_state(const struct host *,
                                                    const char *name);

/* The Mirror rows of this host as OVSDB last said, hashed (0: none); see
 * vswitch_db_get_mirror_epoch().  Its changes bump the ports version. */
uint64_t host_get_mirror_epoch(const struct host *);

/* OpenFlow port of watched port 'name', 0 if absent or not watched. */
int host_get_port_ofport(const struct host *, const char *name);

/* Statistics of this host's row for mirror 'name': false if it has none
 * (then '*problem' says why, if the host was meant to have one). */
bool host_get_mirror_stats(const struct host *, const char *name,
                           uint64_t *tx_packets, uint64_t *tx_bytes,
                           const char **problem);

/* The VM ports placed on this host's bridge, as its OVSDB last said (kept
 * while the database is unreachable).  '*ports' points into the host. */
struct host_vm_port {
    char *tap;
    char *mac;
    char *segment;
    char *vm;
    char **labels;
    size_t n_labels;
    char **ips;                 /* Addresses it may send from; none:
                                 * unknown, not checked. */
    size_t n_ips;
    char *groups_text;          /* 'labels' and 'ips' as OVSDB has them. */
    char *ips_text;
    int ofport;
};
size_t host_get_vm_ports(const struct host *, const struct host_vm_port **);

/* OpenFlow port of the host's configured uplink (trunk), 0 if none. */
int host_get_uplink_ofport(const struct host *);

/* The peers this host should have a tunnel to (from datapath.c), and how
 * many, in '*peers' (malloc'd; the strings stay the host's, valid until
 * the next host_set_tunnels()). */
size_t host_get_wanted_tunnels(const struct host *, const char ***peers);

/* An evaluator of what this host's switch does with a packet, by the flows
 * it has (of_switch_flow_eval_create()), or NULL with the reason in
 * '*why'.  Free with flow_eval_destroy(). */
struct flow_eval;
struct flow_eval *host_flow_eval_create(const struct host *,
                                        const char **why);

/* Reads the flows back from this host's switch anew, calls 'cb' with what
 * it found (of_switch_refresh_flows()), then repairs any difference.
 * Returns false with the reason in '*why', without calling 'cb', if the
 * switch is not connected. */
struct flow_table_drift;
bool host_refresh_flows(struct host *,
                        void (*cb)(void *aux, struct flow_eval *,
                                   const struct flow_table_drift *,
                                   const char *error),
                        void *aux, const char **why);

/* OpenFlow port of this host's tunnel to 'peer', 0 if none (yet). */
int host_get_tunnel_ofport(const struct host *, const char *peer);

/* True once the host's OVSDB has been read at least once since weftd
 * started: its placed ports are known. */
bool host_ports_known(const struct host *);

/* Bumped whenever host_get_vm_ports() or the tunnel ports change. */
unsigned int host_get_ports_version(const struct host *);

/* Sets the flows this host's switch should have, sorted
 * (weft_flow_set_sort()).  They are reconciled with what the switch has
 * now and after every reconnect.  Returns true if they differ from the
 * previous set; then the host takes the content of 'flows' and leaves it
 * with other flows, which the caller may clear or destroy (no copy: a host
 * has thousands of flows). */
struct weft_flow_set;
bool host_set_flows(struct host *, struct weft_flow_set *);

/* The digest of the input the core's flows were computed from
 * (pipeline_plan_host_digest(), datapath.c), so that an unchanged input is
 * not computed again; 0 before the core's first set or after
 * host_set_core_digest(h, 0). */
uint64_t host_get_core_digest(const struct host *);
void host_set_core_digest(struct host *, uint64_t digest);

/* Sets the flows of the controller apps for this switch (copied), merged
 * with the core's (host_set_flows()); they go to the switch once the
 * core's flows are known.  Returns true if they differ from the previous
 * set. */
bool host_set_app_flows(struct host *, const struct weft_flow_set *);

/* The flows given to the switch: the core's and the apps' (empty before
 * the core's first set), sorted. */
const struct weft_flow_set *host_get_flows(const struct host *);

/* The core's flows set last (empty before the first). */
const struct weft_flow_set *host_get_core_flows(const struct host *);

/* True while the host's switch is connected. */
bool host_is_connected(const struct host *);

/* Sends 'packet' out of the host's switch (see of_switch_packet_out()).
 * ENOTCONN if the switch is not connected.  On error '*errorp' gets a
 * malloc'd message. */
int host_packet_out(struct host *, uint32_t in_port, const char *actions,
                    const void *packet, size_t len, char **errorp);

/* Asks the host's switch for its ports' counters (see
 * of_switch_request_port_stats()).  ENOTCONN if the switch is not
 * connected: then 'cb' is not called. */
int host_request_port_stats(struct host *, of_port_stats_cb *, void *aux);

/* Sets the libvirt network Weft keeps on this host (see virt-host.h),
 * and looks at the host's networks again if it changed or 'force'.
 * Returns the seqno of the report that will cover it, 0 if the host has no
 * libvirt URI. */
struct virt_net_spec;
unsigned int host_set_libvirt_network(struct host *,
                                      const struct virt_net_spec *,
                                      bool force);

/* The last report on this host's libvirt networks, NULL before the
 * first. */
const struct virt_net_report *host_get_libvirt_networks(const struct host *);

/* The MTU that traffic between this host and the others can use: the
 * smallest MTU (Interface.mtu) of the interfaces on its bridges other than
 * the integration bridge (the underlay, e.g. br-phy and its NIC), 0 if
 * weftd cannot see one.  '*iface' gets that interface's name (valid until
 * the next loop iteration). */
int host_get_underlay_mtu(const struct host *, const char **iface);

/* The MTU of interface 'name' on the integration bridge, 0 if unknown. */
int host_get_port_mtu(const struct host *, const char *name);

/* True while the host's libvirt connection is up. */
bool host_libvirt_is_connected(const struct host *);

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
    size_t n_tunnels;
    size_t n_flows_desired;
    /* From the switch's flow reconciler (zero when not connected). */
    bool flows_synced;
    unsigned int n_flows_installed;
    unsigned long long n_flow_mods;     /* On this connection. */
    unsigned int n_meters_desired;      /* Rate limit meters wanted... */
    unsigned int n_meters_installed;    /* ...and on the switch. */
    unsigned long long n_meter_mods;    /* On this connection. */
    unsigned long long n_flow_errors;
    const char *flow_state;
    const char *flow_error;
};

void host_get_status(const struct host *, long long int now_ms,
                     struct host_status *);

/* How long this host's flow reconciliations took (each round: read-back
 * or diff, bundle, acknowledgment), for metrics: counts of rounds that
 * took at most HOST_RECONCILE_BUCKETS_MS[i] ms, cumulative. */
#define HOST_N_RECONCILE_BUCKETS 8
extern const double HOST_RECONCILE_BUCKETS_MS[HOST_N_RECONCILE_BUCKETS];
struct host_reconcile_histogram {
    unsigned long long buckets[HOST_N_RECONCILE_BUCKETS];
    unsigned long long count;       /* = +Inf bucket. */
    double sum_ms;
};
void host_get_reconcile_histogram(const struct host *,
                                  struct host_reconcile_histogram *);

/* Writes one status block, as shown by "host/list". */
void host_format_status(const struct host *, long long int now_ms, FILE *);

#endif /* host.h */
