/* Flow export rows on a host's integration bridge: the sFlow, IPFIX and
 * NetFlow tables of the Open_vSwitch database, each referenced by the
 * Bridge column of the same name (so a bridge has at most one of each).
 *
 * weftd gives the OVSDB session (vswitch-db.h) the exports it wants; the
 * session reconciles them like its other rows: a missing row is inserted, a
 * Weft row that differs (changed by hand, or a changed policy) is updated
 * in place, so its UUID stays, and a Weft row no longer wanted is dropped
 * from the bridge (the tables are not roots: OVSDB then deletes the row).
 * Weft's rows carry external_ids:weft-owned=true and weft-export=NAME.  A
 * row that is not Weft's is never touched: it is reported as "foreign".
 *
 * The first half of this header is for weftd (no OVS types); the second is
 * the glue between vswitch-db.c and vswitch-export.c. */
#ifndef WEFT_VSWITCH_EXPORT_H
#define WEFT_VSWITCH_EXPORT_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vswitch_db;

/* In the order of policy.h's POLICY_EXPORT_TYPES. */
enum vswitch_export_type {
    VSWITCH_EXPORT_SFLOW,
    VSWITCH_EXPORT_IPFIX,
    VSWITCH_EXPORT_NETFLOW,
    VSWITCH_N_EXPORT_TYPES
};

/* One export Weft wants on the bridge.  Integers are 0 to leave the column
 * unset (OVS's default); they are only used by the types that have the
 * column. */
struct vswitch_export_spec {
    enum vswitch_export_type type;
    const char *name;               /* external_ids:weft-export. */
    const char **targets;           /* "IP:PORT" or "[IPv6]:PORT". */
    size_t n_targets;
    int sampling;                   /* sFlow, IPFIX. */
    int polling;                    /* sFlow. */
    int header;                     /* sFlow. */
    const char *agent;              /* sFlow agent address, or NULL. */
    int active_timeout;             /* NetFlow; IPFIX cache_active_timeout. */
    int cache_max_flows;            /* IPFIX. */

    /* IPFIX only: nonzero for a per-segment export, a
     * Flow_Sample_Collector_Set row of this ID (with its own IPFIX row)
     * that sample() actions in the flows feed, instead of the bridge's
     * IPFIX column. */
    uint32_t collector_set_id;
};

/* Sets the complete list of Weft's exports on this host (copied), at most
 * one bridge-wide export per type (later ones of a type are ignored), and
 * any number of per-segment IPFIX exports.  Until the first call
 * the export columns are left as they are: a restarted weftd touches
 * nothing before it knows the policy. */
void vswitch_db_set_exports(struct vswitch_db *,
                            const struct vswitch_export_spec *, size_t n);

/* Deep copies of 'n' specs, and their release (accepts NULL). */
struct vswitch_export_spec *vswitch_export_specs_clone(
    const struct vswitch_export_spec *, size_t n);
void vswitch_export_specs_free(struct vswitch_export_spec *, size_t n);

enum vswitch_export_state {
    VSWITCH_EXPORT_NONE,        /* Not wanted, no Weft row. */
    VSWITCH_EXPORT_PENDING,     /* Wanted; row missing or different. */
    VSWITCH_EXPORT_INSTALLED,   /* The bridge has the wanted row. */
    VSWITCH_EXPORT_FOREIGN,     /* A row not Weft's holds the column. */
    VSWITCH_EXPORT_UNSUPPORTED, /* The server's schema has no such table. */
};

const char *vswitch_export_state_to_string(enum vswitch_export_state);

/* What the database says about the bridge's export of 'type'. */
enum vswitch_export_state vswitch_db_get_export(const struct vswitch_db *,
                                                enum vswitch_export_type);

/* What the database says about per-segment export 'name' (its collector
 * set). */
enum vswitch_export_state vswitch_db_get_export_set(const struct vswitch_db *,
                                                    const char *name);

/* For vswitch-db.c. */

struct ds;
struct ovsdb_idl;
struct ovsdb_idl_txn;
struct ovsrec_bridge;

/* The wanted exports, owned by a vswitch_db. */
struct vswitch_exports;

struct vswitch_exports *vswitch_exports_create(void);
void vswitch_exports_destroy(struct vswitch_exports *);
void vswitch_exports_set(struct vswitch_exports *,
                         const struct vswitch_export_spec *, size_t n);

/* Registers the tables and columns this module reads with 'idl'. */
void vswitch_exports_register(struct ovsdb_idl *);

/* Writes what differs between 'exports' and bridge 'br' (NULL 'exports':
 * not known yet, nothing is done) into '*txnp', created if needed, and
 * notes it in 'what'. */
void vswitch_exports_configure(const struct vswitch_exports *,
                               struct ovsdb_idl *,
                               const struct ovsrec_bridge *,
                               struct ovsdb_idl_txn **txnp, struct ds *what);

/* The state of 'br's per-segment export 'name' against 'exports'. */
enum vswitch_export_state vswitch_exports_set_state(
    const struct vswitch_exports *, struct ovsdb_idl *,
    const struct ovsrec_bridge *, const char *name);

/* The state of 'br's export of 'type' against 'exports'. */
enum vswitch_export_state vswitch_exports_state(
    const struct vswitch_exports *, struct ovsdb_idl *,
    const struct ovsrec_bridge *, enum vswitch_export_type);

#endif /* vswitch-export.h */
