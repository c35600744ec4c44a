/* One OVSDB session to a hypervisor's Open_vSwitch database.
 *
 * The session keeps the host's integration bridge configured as Weft wants
 * it and reports how far it got; the caller (controller/host.c) turns that
 * into the host's state machine.  Configuration is idempotent: on every
 * change seen in the database the bridge is compared with the spec and only
 * what differs is written, so a weftd restart writes nothing when nothing
 * changed.
 *
 * A session makes one connection attempt.  When it fails or the connection
 * drops, the state becomes VSWITCH_DB_DEAD and the caller decides when to
 * try again (with its own backoff) by destroying and re-creating the
 * session. */
#ifndef WEFT_VSWITCH_DB_H
#define WEFT_VSWITCH_DB_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How Weft wants the integration bridge. */
struct vswitch_bridge_spec {
    const char *host_name;          /* Stored in external_ids:weft-host. */
    const char *bridge;             /* e.g. "br-int". */
    const char *datapath_type;      /* e.g. "netdev" or "system". */
    const char *controller_target;  /* e.g. "tcp:192.168.77.254:6653". */
    uint64_t datapath_id;           /* Set in other_config:datapath-id. */
};

enum vswitch_db_state {
    VSWITCH_DB_CONNECTING,  /* Connection attempt in progress. */
    VSWITCH_DB_SYNCING,     /* Connected; bridge being configured. */
    VSWITCH_DB_SYNCED,      /* Bridge matches the spec. */
    VSWITCH_DB_DEAD,        /* Connection failed or was lost. */
    VSWITCH_DB_BAD_SCHEMA,  /* Server is not an Open_vSwitch database. */
};

struct vswitch_db;

/* Starts connecting to 'remote' ("tcp:IP:PORT", "ssl:IP:PORT",
 * "unix:PATH").  'spec' is copied. */
struct vswitch_db *vswitch_db_create(const char *remote,
                                     const struct vswitch_bridge_spec *spec);
void vswitch_db_destroy(struct vswitch_db *);

void vswitch_db_run(struct vswitch_db *);
void vswitch_db_wait(struct vswitch_db *);

/* Returns the current state.  If 'detail' is nonnull, stores a short
 * human-readable explanation (e.g. the connection error, or what is being
 * configured) valid until the next run. */
enum vswitch_db_state vswitch_db_get_state(const struct vswitch_db *,
                                           const char **detail);

/* A port Weft wants on the integration bridge: a VM's tap, or (with
 * 'tunnel_peer' set) a VXLAN tunnel towards another host. */
struct vswitch_port_spec {
    const char *name;           /* The tap, e.g. "vnet3", or "vx-h2". */

    /* VM ports. */
    const char *iface_id;       /* external_ids:iface-id. */
    const char *mac;            /* external_ids:attached-mac. */
    const char *vm_uuid;        /* external_ids:vm-uuid. */
    const char *vm_name;        /* external_ids:weft-vm. */
    const char *segment;        /* external_ids:weft-segment. */
    const char *groups;         /* external_ids:weft-groups, or NULL. */
    const char *ips;            /* external_ids:weft-ips, or NULL. */

    /* Tunnels (type vxlan): to a peer host when 'tunnel_peer' is set,
     * else a mirror tunnel (external_ids:weft-mirror-tunnel). */
    const char *tunnel_peer;    /* external_ids:weft-tunnel-peer. */
    const char *remote_ip;      /* options:remote_ip ("flow" allowed). */
    const char *tunnel_key;     /* options:key; NULL means "flow". */
};

/* Sets the complete list of Weft's ports on this host (copied).  Ports
 * are reconciled from then on: missing ones added (a port of that name
 * already on the bridge, e.g. plugged by libvirt, is adopted, not
 * duplicated), Weft-owned ports not in the list removed, everything else
 * on the bridge left alone.  Until the first call nothing is added or
 * removed: weftd removes nothing before it knows what should be there. */
void vswitch_db_set_ports(struct vswitch_db *,
                          const struct vswitch_port_spec *, size_t n);

enum vswitch_port_state {
    VSWITCH_PORT_ABSENT,        /* Not (yet) on the bridge. */
    VSWITCH_PORT_PRESENT,       /* On the bridge with an OpenFlow port. */
    VSWITCH_PORT_ERROR,         /* Refused; see 'error'. */
};

/* What the database says about port 'name'.  '*ofport' gets its OpenFlow
 * port number (0 if none), '*error' a reason for ERROR. */
enum vswitch_port_state vswitch_db_port_state(const struct vswitch_db *,
                                              const char *name, int *ofport,
                                              const char **error);

/* A VM port Weft placed, as the database records it (so it is known even
 * while libvirt is unreachable, and right after a weftd restart). */
struct vswitch_vm_port {
    const char *name;
    const char *mac;
    const char *segment;
    const char *vm_name;
    const char *groups;         /* Comma-separated labels, or NULL. */
    const char *ips;            /* Comma-separated addresses, or NULL. */
    int ofport;
};

/* Fills '*ports' (malloc'd; strings valid until the next run) with the
 * Weft-owned VM ports on the bridge that have an OpenFlow port. */
size_t vswitch_db_get_vm_ports(const struct vswitch_db *,
                               struct vswitch_vm_port **ports);

/* An interface of any bridge of the host and its MTU (Interface.mtu, as
 * ovs-vswitchd reports it), for doctor's check of VXLAN overhead. */
struct vswitch_iface_mtu {
    const char *name;
    const char *bridge;
    const char *type;           /* "" for a system interface. */
    int mtu;                    /* 0: unknown. */
};

/* Fills '*mtus' (malloc'd; strings valid until the next run) with every
 * interface of every bridge.  Returns how many. */
size_t vswitch_db_get_iface_mtus(const struct vswitch_db *,
                                 struct vswitch_iface_mtu **mtus);

/* A Weft tunnel on the bridge, as the database records it. */
struct vswitch_tunnel_port {
    const char *peer;
    int ofport;                 /* 0 until ovs-vswitchd added it. */
};

/* Fills '*tunnels' (malloc'd; strings valid until the next run) with every
 * Weft tunnel on the bridge, wanted or not. */
size_t vswitch_db_get_tunnels(const struct vswitch_db *,
                              struct vswitch_tunnel_port **tunnels);

/* A port mirror Weft wants on the integration bridge: an OVSDB Mirror
 * row (external_ids:weft-owned=true).  Ports are named; those not (yet)
 * on the bridge are left out, and the row only exists while its output
 * port and at least one selected port are on the bridge. */
struct vswitch_mirror_spec {
    const char *name;               /* Mirror.name, e.g. "weft-m1". */
    const char **select_src;        /* select_src_port. */
    size_t n_select_src;
    const char **select_dst;        /* select_dst_port. */
    size_t n_select_dst;
    const char *output_port;
};

/* Sets the complete list of Weft's mirrors on this host (copied).  Until
 * the first call, Mirror rows are left as they are. */
void vswitch_db_set_mirrors(struct vswitch_db *,
                            const struct vswitch_mirror_spec *, size_t n);

/* What the database says about Weft's mirror 'name': true if the row
 * exists, with its statistics (OVS refreshes them every few seconds).
 * Else '*problem' (if nonnull) says why it does not exist. */
bool vswitch_db_get_mirror(const struct vswitch_db *, const char *name,
                           uint64_t *tx_packets, uint64_t *tx_bytes,
                           const char **problem);

/* A hash of Weft's Mirror rows as the database has them (which ports each
 * selects and outputs to), 0 if there are none.  ovs-vswitchd (3.1) does
 * not revalidate its datapath flows when a mirror is added or changed, so
 * flows cached before keep their old actions; weftd turns a change of this
 * value into a flow table change, which makes it revalidate. */
uint64_t vswitch_db_get_mirror_epoch(const struct vswitch_db *);

/* Changes whenever the database contents seen by this session change. */
unsigned int vswitch_db_get_seqno(const struct vswitch_db *);

/* Counts for status output; 0 before the first sync. */
struct vswitch_db_stats {
    unsigned int n_ports;           /* Ports on the integration bridge. */
    bool controller_connected;      /* Controller.is_connected (lags). */
    unsigned int n_txns;            /* Transactions committed so far. */
};
void vswitch_db_get_stats(const struct vswitch_db *,
                          struct vswitch_db_stats *);

#endif /* vswitch-db.h */
