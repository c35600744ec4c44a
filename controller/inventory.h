/* What exists: for each host, its running VMs and their vNICs, with each
 * vNIC's segment and placement state (and the reason when it is not
 * placed).  Fed by libvirt (virt-host.h) on the loop thread; read by host
 * placement, the status commands and, later, the flow compiler.
 *
 * Pure data and rules, no I/O: unit-tested in tests/unit/test-inventory.c.
 *
 * A vNIC is placeable when its domain XML gave a tap name and a valid MAC,
 * its segment resolves (see inventory_set_resolver()), and neither its MAC
 * (across all hosts) nor its tap name (on its host) is used by another vNIC;
 * of two clashing vNICs, the one that was there first keeps its place. */
#ifndef WEFT_INVENTORY_H
#define WEFT_INVENTORY_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct domain_info;

enum inv_placement {
    INV_UNPLACED,       /* Not placeable: see 'reason'. */
    INV_PENDING,        /* Placeable, not (yet) on the bridge. */
    INV_PLACED,         /* On the bridge, as wanted. */
};

const char *inv_placement_to_string(enum inv_placement);

struct inv_vnic {
    char *tap;
    char mac[18];
    char *iface_id;         /* libvirt's interfaceid, else generated. */
    char *segment;          /* Resolved segment, NULL if none. */
    char *groups;           /* Labels from Weft metadata, or NULL. */
    char *ips;              /* Addresses it may use ("a,b"), or NULL. */
    bool adopt;             /* libvirt plugs it itself (virtualport). */
    enum inv_placement placement;
    char *reason;           /* Why not placed / placement error. */
    bool reason_reported;   /* 'reason' was logged (reset on change). */
    int ofport;             /* OpenFlow port once placed, else 0. */

    /* From the XML, kept to re-resolve when policy changes. */
    char *want_segment;
    int vlan;
    char *portgroup;
    char *xml_problem;
    uint64_t seqno;         /* Arrival order: who keeps a clashing MAC. */
};

struct inv_vm {
    char uuid[37];
    char *name;
    struct inv_vnic *vnics;
    size_t n_vnics;
};

struct inv_host {
    char *name;
    struct inv_vm *vms;
    size_t n_vms;
    bool synced;            /* Has had a full libvirt sync. */
    unsigned int generation;    /* Bumped when its placeable set changes. */
    uint64_t signature;         /* Of the placeable set, to notice that. */
};

/* Returns the canonical segment for a vNIC that asked for 'name' (may be
 * NULL), or, failing that, its 'vlan' (0 = none) or its 'portgroup' (may be
 * NULL).  On failure returns NULL and stores a malloc'd reason. */
typedef char *inventory_resolve_func(void *aux, const char *name, int vlan,
                                     const char *portgroup, char **reason);

struct inventory {
    struct inv_host *hosts;
    size_t n_hosts;
    inventory_resolve_func *resolve;
    void *resolve_aux;
    uint64_t next_seqno;

    /* While true, hosts place and remove nothing: weftd sets it until the
     * policy has been read, so that a restart never removes ports whose
     * segment it cannot resolve yet. */
    bool hold;
};

void inventory_init(struct inventory *);
void inventory_destroy(struct inventory *);

/* Sets how segments are resolved, and re-resolves every vNIC.  The default
 * (NULL) accepts a named segment or portgroup as is and a bare VLAN as
 * "vlan-N". */
void inventory_set_resolver(struct inventory *, inventory_resolve_func *,
                            void *aux);

struct inv_host *inventory_find_host(const struct inventory *,
                                     const char *name);
struct inv_host *inventory_add_host(struct inventory *, const char *name);
void inventory_remove_host(struct inventory *, const char *name);

/* The running domains of 'host' are exactly 'domains' (a full sync). */
void inventory_sync_host(struct inventory *, const char *host,
                         const struct domain_info *domains, size_t n);
/* One domain is running (new or changed). */
void inventory_domain_up(struct inventory *, const char *host,
                         const struct domain_info *);
/* One domain is not running any more. */
void inventory_domain_down(struct inventory *, const char *host,
                           const char *uuid);

/* Records what the bridge says about a placeable vNIC. */
void inventory_set_placement(struct inventory *, const char *host,
                             const char *tap, enum inv_placement,
                             const char *reason, int ofport);

struct inv_vnic *inventory_find_vnic(const struct inventory *,
                                     const char *host, const char *tap,
                                     const struct inv_vm **vmp);

/* Counts for status output. */
void inventory_count(const struct inventory *, size_t *n_vms,
                     size_t *n_vnics, size_t *n_placed,
                     size_t *n_unplaced);

#endif /* inventory.h */
