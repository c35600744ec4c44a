/* OVSDB session to a hypervisor's Open_vSwitch database (see vswitch-db.h).
 * The only place where Weft writes the integration bridge's settings. */
#include <config.h>

#include "vswitch-db.h"
#include "vswitch-export.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "ovsdb-idl.h"
#include "smap.h"
#include "util.h"
#include "vswitch-idl.h"

#include "log.h"
#include "strv.h"

WEFT_LOG_MODULE(vswitch_db);

/* OpenFlow versions Weft speaks to the bridge: 1.3 for everything, 1.4/1.5
 * for bundles. */
static const char *const of_protocols[] = {
    "OpenFlow13", "OpenFlow14", "OpenFlow15",
};
#define N_OF_PROTOCOLS (sizeof of_protocols / sizeof of_protocols[0])

/* How long the bridge waits at most between attempts to reach weftd: short,
 * so that a restarted weftd gets its switches back quickly. */
static const int64_t controller_max_backoff_ms = 1000;

struct vswitch_db {
    struct ovsdb_idl *idl;
    struct vswitch_bridge_spec spec;    /* Strings owned. */
    char *remote;
    char dpid_str[17];

    enum vswitch_db_state state;
    struct ovsdb_idl_txn *txn;          /* In flight, or NULL. */
    unsigned int n_txns;
    char detail[256];
    struct vswitch_port_spec *ports;    /* Wanted VM ports, strings owned. */
    size_t n_ports;
    bool ports_known;                   /* vswitch_db_set_ports() called. */
    struct vswitch_mirror_spec *mirrors;    /* Wanted mirrors, owned. */
    size_t n_mirrors;
    bool mirrors_known;                 /* vswitch_db_set_mirrors() called. */
    struct vswitch_exports *exports;    /* NULL until set_exports(). */

    bool transport_connected;   /* The stream connected at least once. */
    bool was_connected;         /* Data was received at least once. */

    /* The bridge is compared with what is wanted only when one of them
     * changed: a setter was called, or the IDL's seqno moved (an update
     * from the server, a reconnection).  Comparing on every run cost a
     * third of weftd's CPU with 20 hosts busy with OpenFlow. */
    bool config_dirty;
    unsigned int config_seqno;
};

static void
free_ports(struct vswitch_db *db)
{
    for (size_t i = 0; i < db->n_ports; i++) {
        struct vswitch_port_spec *p = &db->ports[i];
        free(CONST_CAST(char *, p->name));
        free(CONST_CAST(char *, p->iface_id));
        free(CONST_CAST(char *, p->mac));
        free(CONST_CAST(char *, p->vm_uuid));
        free(CONST_CAST(char *, p->vm_name));
        free(CONST_CAST(char *, p->segment));
        free(CONST_CAST(char *, p->groups));
        free(CONST_CAST(char *, p->ips));
        free(CONST_CAST(char *, p->tunnel_peer));
        free(CONST_CAST(char *, p->remote_ip));
        free(CONST_CAST(char *, p->tunnel_key));
    }
    free(db->ports);
    db->ports = NULL;
    db->n_ports = 0;
}

static void
free_mirrors(struct vswitch_db *db)
{
    for (size_t i = 0; i < db->n_mirrors; i++) {
        struct vswitch_mirror_spec *m = &db->mirrors[i];
        free(CONST_CAST(char *, m->name));
        strv_free_n(m->select_src, m->n_select_src);
        strv_free_n(m->select_dst, m->n_select_dst);
        free(CONST_CAST(char *, m->output_port));
    }
    free(db->mirrors);
    db->mirrors = NULL;
    db->n_mirrors = 0;
}

struct vswitch_db *
vswitch_db_create(const char *remote, const struct vswitch_bridge_spec *spec)
{
    struct vswitch_db *db = xzalloc(sizeof *db);

    db->remote = xstrdup(remote);
    db->config_dirty = true;
    db->spec.host_name = xstrdup(spec->host_name);
    db->spec.bridge = xstrdup(spec->bridge);
    db->spec.datapath_type = xstrdup(spec->datapath_type);
    db->spec.controller_target = xstrdup(spec->controller_target);
    db->spec.datapath_id = spec->datapath_id;
    snprintf(db->dpid_str, sizeof db->dpid_str, "%016"PRIx64,
             spec->datapath_id);

    /* One attempt (retry=false): the caller owns the backoff policy. */
    db->idl = ovsdb_idl_create(remote, &ovsrec_idl_class, false, false);
    ovsdb_idl_add_table(db->idl, &ovsrec_table_open_vswitch);
    ovsdb_idl_add_column(db->idl, &ovsrec_open_vswitch_col_bridges);
    ovsdb_idl_add_column(db->idl, &ovsrec_open_vswitch_col_ovs_version);

    ovsdb_idl_add_table(db->idl, &ovsrec_table_bridge);
    ovsdb_idl_add_column(db->idl, &ovsrec_bridge_col_name);
    ovsdb_idl_add_column(db->idl, &ovsrec_bridge_col_ports);
    ovsdb_idl_add_column(db->idl, &ovsrec_bridge_col_controller);
    ovsdb_idl_add_column(db->idl, &ovsrec_bridge_col_fail_mode);
    ovsdb_idl_add_column(db->idl, &ovsrec_bridge_col_protocols);
    ovsdb_idl_add_column(db->idl, &ovsrec_bridge_col_datapath_type);
    ovsdb_idl_add_column(db->idl, &ovsrec_bridge_col_other_config);
    ovsdb_idl_add_column(db->idl, &ovsrec_bridge_col_external_ids);
    ovsdb_idl_add_column(db->idl, &ovsrec_bridge_col_mirrors);

    ovsdb_idl_add_table(db->idl, &ovsrec_table_mirror);
    ovsdb_idl_add_column(db->idl, &ovsrec_mirror_col_name);
    ovsdb_idl_add_column(db->idl, &ovsrec_mirror_col_select_src_port);
    ovsdb_idl_add_column(db->idl, &ovsrec_mirror_col_select_dst_port);
    ovsdb_idl_add_column(db->idl, &ovsrec_mirror_col_output_port);
    ovsdb_idl_add_column(db->idl, &ovsrec_mirror_col_external_ids);
    ovsdb_idl_add_column(db->idl, &ovsrec_mirror_col_statistics);
    vswitch_exports_register(db->idl);

    ovsdb_idl_add_table(db->idl, &ovsrec_table_controller);
    ovsdb_idl_add_column(db->idl, &ovsrec_controller_col_target);
    ovsdb_idl_add_column(db->idl, &ovsrec_controller_col_max_backoff);
    ovsdb_idl_add_column(db->idl, &ovsrec_controller_col_external_ids);
    ovsdb_idl_add_column(db->idl, &ovsrec_controller_col_is_connected);

    ovsdb_idl_add_table(db->idl, &ovsrec_table_port);
    ovsdb_idl_add_column(db->idl, &ovsrec_port_col_name);
    ovsdb_idl_add_column(db->idl, &ovsrec_port_col_interfaces);
    ovsdb_idl_add_column(db->idl, &ovsrec_port_col_external_ids);

    ovsdb_idl_add_table(db->idl, &ovsrec_table_interface);
    ovsdb_idl_add_column(db->idl, &ovsrec_interface_col_name);
    ovsdb_idl_add_column(db->idl, &ovsrec_interface_col_mtu);
    ovsdb_idl_add_column(db->idl, &ovsrec_interface_col_type);
    ovsdb_idl_add_column(db->idl, &ovsrec_interface_col_external_ids);
    ovsdb_idl_add_column(db->idl, &ovsrec_interface_col_ofport);
    ovsdb_idl_add_column(db->idl, &ovsrec_interface_col_error);
    ovsdb_idl_add_column(db->idl, &ovsrec_interface_col_options);

    db->state = VSWITCH_DB_CONNECTING;
    snprintf(db->detail, sizeof db->detail, "connecting to %s", remote);
    return db;
}

void
vswitch_db_destroy(struct vswitch_db *db)
{
    if (!db) {
        return;
    }
    if (db->txn) {
        ovsdb_idl_txn_destroy(db->txn);
    }
    ovsdb_idl_destroy(db->idl);
    free_ports(db);
    free_mirrors(db);
    vswitch_exports_destroy(db->exports);
    free(db->remote);
    free(CONST_CAST(char *, db->spec.host_name));
    free(CONST_CAST(char *, db->spec.bridge));
    free(CONST_CAST(char *, db->spec.datapath_type));
    free(CONST_CAST(char *, db->spec.controller_target));
    free(db);
}

static void
set_state(struct vswitch_db *db, enum vswitch_db_state state,
          const char *format, ...) OVS_PRINTF_FORMAT(3, 4);

static void
set_state(struct vswitch_db *db, enum vswitch_db_state state,
          const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(db->detail, sizeof db->detail, format, args);
    va_end(args);
    db->state = state;
}

static bool
schema_is_usable(struct vswitch_db *db)
{
    static const struct ovsdb_idl_table_class *const tables[] = {
        &ovsrec_table_open_vswitch, &ovsrec_table_bridge,
        &ovsrec_table_controller, &ovsrec_table_port,
        &ovsrec_table_interface,
    };
    for (size_t i = 0; i < ARRAY_SIZE(tables); i++) {
        if (!ovsdb_idl_server_has_table(db->idl, tables[i])) {
            set_state(db, VSWITCH_DB_BAD_SCHEMA, "database at %s has no "
                      "\"%s\" table: not an Open_vSwitch database",
                      db->remote, tables[i]->name);
            return false;
        }
    }
    if (!ovsdb_idl_server_has_column(db->idl,
                                     &ovsrec_bridge_col_protocols)) {
        set_state(db, VSWITCH_DB_BAD_SCHEMA, "Open_vSwitch database at %s "
                  "is too old (Bridge has no \"protocols\" column)",
                  db->remote);
        return false;
    }
    return true;
}

static const struct ovsrec_bridge *
find_bridge(const struct vswitch_db *db)
{
    const struct ovsrec_bridge *br;
    OVSREC_BRIDGE_FOR_EACH (br, db->idl) {
        if (!strcmp(br->name, db->spec.bridge)) {
            return br;
        }
    }
    return NULL;
}

static bool
controller_is_ours(const struct vswitch_db *db,
                   const struct ovsrec_bridge *br)
{
    if (br->n_controller != 1) {
        return false;
    }
    const struct ovsrec_controller *c = br->controller[0];
    return (!strcmp(c->target, db->spec.controller_target)
            && c->n_max_backoff == 1
            && c->max_backoff[0] == controller_max_backoff_ms);
}

static bool
protocols_are_ours(const struct ovsrec_bridge *br)
{
    if (br->n_protocols != N_OF_PROTOCOLS) {
        return false;
    }
    for (size_t i = 0; i < N_OF_PROTOCOLS; i++) {
        bool found = false;
        for (size_t j = 0; j < br->n_protocols; j++) {
            found = found || !strcmp(br->protocols[j], of_protocols[i]);
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

static const struct ovsrec_bridge *
create_bridge(struct vswitch_db *db, struct ovsdb_idl_txn *txn)
{
    const struct ovsrec_open_vswitch *ovs
        = ovsrec_open_vswitch_first(db->idl);
    if (!ovs) {
        /* A freshly created database, as after "ovsdb-tool create" without
         * "ovs-vsctl init". */
        ovs = ovsrec_open_vswitch_insert(txn);
    }

    /* Like "ovs-vsctl add-br": the bridge's local port comes with it. */
    struct ovsrec_interface *iface = ovsrec_interface_insert(txn);
    ovsrec_interface_set_name(iface, db->spec.bridge);
    ovsrec_interface_set_type(iface, "internal");

    struct ovsrec_port *port = ovsrec_port_insert(txn);
    ovsrec_port_set_name(port, db->spec.bridge);
    ovsrec_port_set_interfaces(port, &iface, 1);

    struct ovsrec_bridge *br = ovsrec_bridge_insert(txn);
    ovsrec_bridge_set_name(br, db->spec.bridge);
    ovsrec_bridge_set_ports(br, &port, 1);
    ovsrec_open_vswitch_update_bridges_addvalue(ovs, br);
    return br;
}

static const struct vswitch_port_spec *
find_wanted_port(const struct vswitch_db *db, const char *name)
{
    for (size_t i = 0; i < db->n_ports; i++) {
        if (!strcmp(db->ports[i].name, name)) {
            return &db->ports[i];
        }
    }
    return NULL;
}

/* The external_ids Weft keeps on a port's Interface. */
static void
wanted_iface_ids(const struct vswitch_port_spec *p, const struct smap *old,
                 struct smap *ids)
{
    smap_clone(ids, old);
    smap_replace(ids, "weft-owned", "true");
    if (p->tunnel_peer) {
        smap_replace(ids, "weft-tunnel-peer", p->tunnel_peer);
        return;
    }
    if (p->remote_ip) {
        smap_replace(ids, "weft-mirror-tunnel", "true");
        return;
    }
    smap_replace(ids, "iface-id", p->iface_id);
    smap_replace(ids, "attached-mac", p->mac);
    smap_replace(ids, "vm-uuid", p->vm_uuid);
    smap_replace(ids, "iface-status", "active");
    smap_replace(ids, "weft-vm", p->vm_name);
    smap_replace(ids, "weft-segment", p->segment);
    if (p->groups) {
        smap_replace(ids, "weft-groups", p->groups);
    } else {
        smap_remove(ids, "weft-groups");
    }
    if (p->ips) {
        smap_replace(ids, "weft-ips", p->ips);
    } else {
        smap_remove(ids, "weft-ips");
    }
}

/* The type and options a wanted port's Interface must have; false if they
 * are not what the Interface has. */
static bool
iface_type_ok(const struct vswitch_port_spec *p,
              const struct ovsrec_interface *iface)
{
    if (!p->remote_ip) {
        return true;        /* A tap: whatever type libvirt or we gave. */
    }
    const char *ip = smap_get(&iface->options, "remote_ip");
    const char *key = smap_get(&iface->options, "key");
    return (!strcmp(iface->type, "vxlan") && ip && !strcmp(ip, p->remote_ip)
            && key && !strcmp(key, p->tunnel_key ? p->tunnel_key : "flow")
            && smap_count(&iface->options) == 2);
}

static void
set_iface_type(const struct vswitch_port_spec *p,
               const struct ovsrec_interface *iface)
{
    struct smap options = SMAP_INITIALIZER(&options);
    smap_add(&options, "remote_ip", p->remote_ip);
    smap_add(&options, "key", p->tunnel_key ? p->tunnel_key : "flow");
    ovsrec_interface_set_type(iface, "vxlan");
    ovsrec_interface_set_options(iface, &options);
    smap_destroy(&options);
}

static bool
is_weft_owned(const struct smap *ids)
{
    const char *owned = smap_get(ids, "weft-owned");
    return owned && !strcmp(owned, "true");
}

/* Finds the bridge other than 'ours' that has a port named 'name'. */
static const struct ovsrec_bridge *
bridge_with_port(const struct vswitch_db *db, const struct ovsrec_bridge *ours,
                 const char *name)
{
    const struct ovsrec_bridge *br;
    OVSREC_BRIDGE_FOR_EACH (br, db->idl) {
        for (size_t i = 0; br != ours && i < br->n_ports; i++) {
            if (!strcmp(br->ports[i]->name, name)) {
                return br;
            }
        }
    }
    return NULL;
}

/* Adds, updates and removes VM ports so the bridge has exactly the wanted
 * ones among those Weft owns.  Ports Weft does not own are never touched,
 * except to adopt one that has the name of a wanted port. */
static void
configure_ports(struct vswitch_db *db, const struct ovsrec_bridge *br,
                bool created, struct ovsdb_idl_txn **txnp, struct ds *what)
{
    size_t n_add = 0, n_update = 0, n_remove = 0;

#define NEED_TXN()                                          do {                                                        if (!*txnp) {                                               *txnp = ovsdb_idl_txn_create(db->idl);              }                                                   } while (0)

    /* Present ports: update or remove. */
    for (size_t i = 0; !created && i < br->n_ports; i++) {
        const struct ovsrec_port *port = br->ports[i];
        const struct vswitch_port_spec *want = find_wanted_port(db,
                                                                port->name);
        if (!want) {
            if (is_weft_owned(&port->external_ids)) {
                NEED_TXN();
                ovsrec_bridge_update_ports_delvalue(br, port);
                n_remove++;
            }
            continue;
        }
        if (port->n_interfaces != 1) {
            continue;       /* A bond of that name: not a VM port. */
        }
        const struct ovsrec_interface *iface = port->interfaces[0];
        struct smap ids;
        wanted_iface_ids(want, &iface->external_ids, &ids);
        if (!smap_equal(&ids, &iface->external_ids)) {
            NEED_TXN();
            ovsrec_interface_set_external_ids(iface, &ids);
            n_update++;
        }
        smap_destroy(&ids);
        if (!iface_type_ok(want, iface)) {
            NEED_TXN();
            set_iface_type(want, iface);
            n_update++;
        }
        if (!is_weft_owned(&port->external_ids)) {
            /* Adopt: e.g. libvirt plugged it with <virtualport>. */
            NEED_TXN();
            ovsrec_port_update_external_ids_setkey(port, "weft-owned",
                                                   "true");
        }
    }

    /* Missing ports: add. */
    for (size_t i = 0; i < db->n_ports; i++) {
        const struct vswitch_port_spec *want = &db->ports[i];
        bool present = false;
        for (size_t j = 0; !created && j < br->n_ports; j++) {
            present = present || !strcmp(br->ports[j]->name, want->name);
        }
        if (present || bridge_with_port(db, br, want->name)) {
            continue;
        }
        NEED_TXN();
        struct ovsrec_interface *iface = ovsrec_interface_insert(*txnp);
        ovsrec_interface_set_name(iface, want->name);
        struct smap ids = SMAP_INITIALIZER(&ids);
        struct smap empty = SMAP_INITIALIZER(&empty);
        wanted_iface_ids(want, &empty, &ids);
        ovsrec_interface_set_external_ids(iface, &ids);
        smap_destroy(&ids);
        if (want->remote_ip) {
            set_iface_type(want, iface);
        }

        struct ovsrec_port *port = ovsrec_port_insert(*txnp);
        ovsrec_port_set_name(port, want->name);
        ovsrec_port_set_interfaces(port, &iface, 1);
        ovsrec_port_update_external_ids_setkey(port, "weft-owned", "true");
        ovsrec_bridge_update_ports_addvalue(br, port);
        n_add++;
    }
#undef NEED_TXN

    if (n_add || n_update || n_remove) {
        ds_put_format(what, "%sports (+%zu ~%zu -%zu)",
                      what->length ? ", " : "", n_add, n_update, n_remove);
    }
}

static const struct ovsrec_port *
port_by_name(const struct ovsrec_bridge *br, const char *name)
{
    for (size_t i = 0; i < br->n_ports; i++) {
        if (!strcmp(br->ports[i]->name, name)) {
            return br->ports[i];
        }
    }
    return NULL;
}

/* The Port rows of 'names' that are on 'br', into 'rows' (room for 'n'). */
static size_t
ports_by_name(const struct ovsrec_bridge *br, const char **names, size_t n,
              struct ovsrec_port **rows)
{
    size_t n_rows = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ovsrec_port *port = port_by_name(br, names[i]);
        if (port) {
            rows[n_rows++] = CONST_CAST(struct ovsrec_port *, port);
        }
    }
    return n_rows;
}

static bool
same_port_set(struct ovsrec_port **a, size_t n_a,
              struct ovsrec_port **b, size_t n_b)
{
    if (n_a != n_b) {
        return false;
    }
    for (size_t i = 0; i < n_a; i++) {
        bool found = false;
        for (size_t j = 0; !found && j < n_b; j++) {
            found = a[i] == b[j];
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

static const struct vswitch_mirror_spec *
find_wanted_mirror(const struct vswitch_db *db, const char *name)
{
    for (size_t i = 0; i < db->n_mirrors; i++) {
        if (!strcmp(db->mirrors[i].name, name)) {
            return &db->mirrors[i];
        }
    }
    return NULL;
}

/* The Port rows a wanted mirror selects and outputs to, among those on the
 * bridge.  False if the row cannot exist (no output or nothing selected):
 * 'problem' then says why. */
struct mirror_rows {
    struct ovsrec_port **src, **dst, *output;
    size_t n_src, n_dst;
};

static bool
resolve_mirror(const struct ovsrec_bridge *br,
               const struct vswitch_mirror_spec *m, struct mirror_rows *r,
               const char **problem)
{
    r->src = xcalloc(m->n_select_src + 1, sizeof *r->src);
    r->dst = xcalloc(m->n_select_dst + 1, sizeof *r->dst);
    r->n_src = ports_by_name(br, m->select_src, m->n_select_src, r->src);
    r->n_dst = ports_by_name(br, m->select_dst, m->n_select_dst, r->dst);
    r->output = CONST_CAST(struct ovsrec_port *,
                           port_by_name(br, m->output_port));
    *problem = (!r->output ? "output port not on the bridge (yet)"
                : !r->n_src && !r->n_dst ? "no source port on the bridge "
                                           "(yet)"
                : NULL);
    return !*problem;
}

static void
mirror_rows_destroy(struct mirror_rows *r)
{
    free(r->src);
    free(r->dst);
}

/* Adds, updates and removes Weft's Mirror rows so the bridge has exactly
 * the wanted ones that can exist.  Mirrors Weft does not own are never
 * touched. */
static void
configure_mirrors(struct vswitch_db *db, const struct ovsrec_bridge *br,
                  bool created, struct ovsdb_idl_txn **txnp, struct ds *what)
{
    size_t n_add = 0, n_update = 0, n_remove = 0;
    bool *seen = xcalloc(db->n_mirrors + 1, sizeof *seen);

    for (size_t i = 0; !created && i < br->n_mirrors; i++) {
        const struct ovsrec_mirror *row = br->mirrors[i];
        if (!is_weft_owned(&row->external_ids)) {
            continue;
        }
        const struct vswitch_mirror_spec *want = find_wanted_mirror(
            db, row->name);
        struct mirror_rows r = { 0 };
        const char *problem;
        if (!want || seen[want - db->mirrors]
            || !resolve_mirror(br, want, &r, &problem)) {
            /* Unwanted, a duplicate, or cannot exist now. */
            if (!*txnp) {
                *txnp = ovsdb_idl_txn_create(db->idl);
            }
            ovsrec_bridge_update_mirrors_delvalue(br, row);
            n_remove++;
            mirror_rows_destroy(&r);
            continue;
        }
        seen[want - db->mirrors] = true;
        bool same = (same_port_set(r.src, r.n_src, row->select_src_port,
                                   row->n_select_src_port)
                     && same_port_set(r.dst, r.n_dst, row->select_dst_port,
                                      row->n_select_dst_port)
                     && row->output_port == r.output);
        if (!same) {
            if (!*txnp) {
                *txnp = ovsdb_idl_txn_create(db->idl);
            }
            ovsrec_mirror_set_select_src_port(row, r.src, r.n_src);
            ovsrec_mirror_set_select_dst_port(row, r.dst, r.n_dst);
            ovsrec_mirror_set_output_port(row, r.output);
            n_update++;
        }
        mirror_rows_destroy(&r);
    }

    for (size_t i = 0; i < db->n_mirrors; i++) {
        struct mirror_rows r;
        const char *problem;
        if (!seen[i] && resolve_mirror(br, &db->mirrors[i], &r, &problem)) {
            if (!*txnp) {
                *txnp = ovsdb_idl_txn_create(db->idl);
            }
            struct ovsrec_mirror *row = ovsrec_mirror_insert(*txnp);
            ovsrec_mirror_set_name(row, db->mirrors[i].name);
            ovsrec_mirror_set_select_src_port(row, r.src, r.n_src);
            ovsrec_mirror_set_select_dst_port(row, r.dst, r.n_dst);
            ovsrec_mirror_set_output_port(row, r.output);
            ovsrec_mirror_update_external_ids_setkey(row, "weft-owned",
                                                     "true");
            ovsrec_bridge_update_mirrors_addvalue(br, row);
            n_add++;
        }
        if (!seen[i]) {
            mirror_rows_destroy(&r);
        }
    }
    free(seen);

    if (n_add || n_update || n_remove) {
        ds_put_format(what, "%smirrors (+%zu ~%zu -%zu)",
                      what->length ? ", " : "", n_add, n_update, n_remove);
    }
}

/* Compares the bridge with the spec and writes what differs into a new
 * transaction.  Returns the transaction, or NULL if nothing differs. */
static struct ovsdb_idl_txn *
configure_bridge(struct vswitch_db *db)
{
    const struct ovsrec_bridge *br = find_bridge(db);
    struct ovsdb_idl_txn *txn = NULL;
    struct ds what = DS_EMPTY_INITIALIZER;

#define NEED(WHAT)                                      \
    do {                                                \
        if (!txn) {                                     \
            txn = ovsdb_idl_txn_create(db->idl);        \
        }                                               \
        ds_put_format(&what, "%s%s", what.length ? ", " : "", WHAT); \
    } while (0)

    bool created = !br;
    if (created) {
        NEED("bridge");
        br = create_bridge(db, txn);
    }
    if (created || strcmp(br->datapath_type, db->spec.datapath_type)) {
        NEED("datapath_type");
        ovsrec_bridge_set_datapath_type(br, db->spec.datapath_type);
    }
    if (created || !br->fail_mode || strcmp(br->fail_mode, "secure")) {
        NEED("fail_mode");
        ovsrec_bridge_set_fail_mode(br, "secure");
    }
    if (created || !protocols_are_ours(br)) {
        NEED("protocols");
        ovsrec_bridge_set_protocols(br, (const char **) of_protocols,
                                    N_OF_PROTOCOLS);
    }
    if (created || !controller_is_ours(db, br)) {
        NEED("controller");
        struct ovsrec_controller *c = ovsrec_controller_insert(txn);
        ovsrec_controller_set_target(c, db->spec.controller_target);
        ovsrec_controller_set_max_backoff(c, &controller_max_backoff_ms, 1);
        ovsrec_controller_update_external_ids_setkey(c, "weft-owned",
                                                     "true");
        /* Replacing the set drops the old rows (they are not roots). */
        ovsrec_bridge_set_controller(br, &c, 1);
    }
    const char *dpid = created ? NULL
                       : smap_get(&br->other_config, "datapath-id");
    if (!dpid || strcmp(dpid, db->dpid_str)) {
        NEED("datapath-id");
        ovsrec_bridge_update_other_config_setkey(br, "datapath-id",
                                                 db->dpid_str);
    }
    const char *owner = created ? NULL
                        : smap_get(&br->external_ids, "weft-host");
    if (!owner || strcmp(owner, db->spec.host_name)) {
        NEED("external_ids");
        ovsrec_bridge_update_external_ids_setkey(br, "weft-host",
                                                 db->spec.host_name);
    }
    bool bridge_ok = !txn;
    if (db->ports_known) {
        configure_ports(db, br, created, &txn, &what);
    }
    if (db->mirrors_known) {
        /* Ports added above are referenced at the next run, once the
         * server has them. */
        configure_mirrors(db, br, created, &txn, &what);
    }
    if (!created) {
        /* A new bridge gets its exports at the next run. */
        vswitch_exports_configure(db->exports, db->idl, br, &txn, &what);
    }
#undef NEED

    if (txn) {
        ovsdb_idl_txn_add_comment(txn, "weftd: configure %s on %s (%s)",
                                  db->spec.bridge, db->spec.host_name,
                                  ds_cstr(&what));
        /* Placing VM ports on a configured bridge is normal operation, not
         * a return to syncing. */
        set_state(db, (bridge_ok && db->state == VSWITCH_DB_SYNCED
                       ? VSWITCH_DB_SYNCED : VSWITCH_DB_SYNCING),
                  "configuring %s: %s", db->spec.bridge, ds_cstr(&what));
        WEFT_INFO("%s: writing %s settings: %s", db->spec.host_name,
                  db->spec.bridge, ds_cstr(&what));
    }
    ds_destroy(&what);
    return txn;
}

void
vswitch_db_run(struct vswitch_db *db)
{
    ovsdb_idl_run(db->idl);

    if (db->state == VSWITCH_DB_DEAD || db->state == VSWITCH_DB_BAD_SCHEMA) {
        return;
    }
    if (ovsdb_idl_is_connected(db->idl)) {
        db->transport_connected = true;
    }
    if (!ovsdb_idl_is_alive(db->idl)) {
        int error = ovsdb_idl_get_last_error(db->idl);
        if (db->transport_connected && !db->was_connected && !error) {
            /* The server accepted the connection, then the IDL gave up
             * without an error: it does not serve Open_vSwitch. */
            set_state(db, VSWITCH_DB_BAD_SCHEMA, "%s answered but serves "
                      "no Open_vSwitch database (is it the hypervisor's "
                      "ovsdb-server?)", db->remote);
            return;
        }
        set_state(db, VSWITCH_DB_DEAD, "%s %s: %s",
                  db->was_connected ? "lost connection to"
                                    : "cannot connect to",
                  db->remote, error ? ovs_retval_to_string(error)
                                    : "connection closed");
        return;
    }
    if (!ovsdb_idl_has_ever_connected(db->idl)) {
        return;
    }
    if (!ovsdb_idl_is_connected(db->idl)) {
        /* Between losing the connection and the session declaring itself
         * dead: nothing to do until the next run says which. */
        return;
    }
    db->was_connected = true;
    if (!schema_is_usable(db)) {
        return;
    }

    if (db->txn) {
        enum ovsdb_idl_txn_status status = ovsdb_idl_txn_commit(db->txn);
        if (status == TXN_INCOMPLETE) {
            return;
        }
        /* Whatever the outcome, compare again (the server's update, if
         * any, moves the seqno too). */
        db->config_dirty = true;
        if (status == TXN_SUCCESS || status == TXN_UNCHANGED) {
            db->n_txns++;
        } else if (status != TXN_TRY_AGAIN) {
            /* Not fatal: the next run compares again and retries, but say
             * what the server refused. */
            set_state(db, VSWITCH_DB_SYNCING, "transaction on %s failed: "
                      "%s (%s); retrying", db->remote,
                      ovsdb_idl_txn_status_to_string(status),
                      ovsdb_idl_txn_get_error(db->txn));
        }
        ovsdb_idl_txn_destroy(db->txn);
        db->txn = NULL;
        /* Compare again once the server's update arrives. */
        return;
    }

    unsigned int seqno = ovsdb_idl_get_seqno(db->idl);
    if (!db->config_dirty && seqno == db->config_seqno) {
        return;
    }
    db->config_dirty = false;
    db->config_seqno = seqno;
    db->txn = configure_bridge(db);
    if (db->txn) {
        ovsdb_idl_txn_commit(db->txn);
    } else {
        set_state(db, VSWITCH_DB_SYNCED, "%s configured", db->spec.bridge);
    }
}

void
vswitch_db_set_ports(struct vswitch_db *db,
                     const struct vswitch_port_spec *ports, size_t n)
{
    free_ports(db);
    db->ports = xcalloc(n ? n : 1, sizeof *db->ports);
    db->n_ports = n;
    for (size_t i = 0; i < n; i++) {
        const struct vswitch_port_spec *src = &ports[i];
        struct vswitch_port_spec *dst = &db->ports[i];
        dst->name = xstrdup(src->name);
        dst->iface_id = nullable_xstrdup(src->iface_id);
        dst->mac = nullable_xstrdup(src->mac);
        dst->vm_uuid = nullable_xstrdup(src->vm_uuid);
        dst->vm_name = nullable_xstrdup(src->vm_name);
        dst->segment = nullable_xstrdup(src->segment);
        dst->groups = nullable_xstrdup(src->groups);
        dst->ips = nullable_xstrdup(src->ips);
        dst->tunnel_peer = nullable_xstrdup(src->tunnel_peer);
        dst->remote_ip = nullable_xstrdup(src->remote_ip);
        dst->tunnel_key = nullable_xstrdup(src->tunnel_key);
    }
    db->ports_known = true;
    /* Reconciled at the next run, or right after the transaction in
     * flight. */
    db->config_dirty = true;
    poll_immediate_wake();
}

void
vswitch_db_set_mirrors(struct vswitch_db *db,
                       const struct vswitch_mirror_spec *mirrors, size_t n)
{
    free_mirrors(db);
    db->mirrors = xcalloc(n + 1, sizeof *db->mirrors);
    db->n_mirrors = n;
    for (size_t i = 0; i < n; i++) {
        const struct vswitch_mirror_spec *src = &mirrors[i];
        db->mirrors[i] = (struct vswitch_mirror_spec) {
            .name = xstrdup(src->name),
            .select_src = strv_copy(src->select_src, src->n_select_src),
            .n_select_src = src->n_select_src,
            .select_dst = strv_copy(src->select_dst, src->n_select_dst),
            .n_select_dst = src->n_select_dst,
            .output_port = xstrdup(src->output_port),
        };
    }
    db->mirrors_known = true;
    db->config_dirty = true;
    poll_immediate_wake();
}

void
vswitch_db_set_exports(struct vswitch_db *db,
                       const struct vswitch_export_spec *specs, size_t n)
{
    if (!db->exports) {
        db->exports = vswitch_exports_create();
    }
    vswitch_exports_set(db->exports, specs, n);
    db->config_dirty = true;
    poll_immediate_wake();
}

enum vswitch_export_state
vswitch_db_get_export(const struct vswitch_db *db,
                      enum vswitch_export_type type)
{
    return vswitch_exports_state(db->exports, db->idl, find_bridge(db),
                                 type);
}

enum vswitch_export_state
vswitch_db_get_export_set(const struct vswitch_db *db, const char *name)
{
    return vswitch_exports_set_state(db->exports, db->idl, find_bridge(db),
                                     name);
}

bool
vswitch_db_get_mirror(const struct vswitch_db *db, const char *name,
                      uint64_t *tx_packets, uint64_t *tx_bytes,
                      const char **problem)
{
    *tx_packets = *tx_bytes = 0;
    const char *why = "not written yet";
    const struct ovsrec_bridge *br = find_bridge(db);
    for (size_t i = 0; br && i < br->n_mirrors; i++) {
        const struct ovsrec_mirror *row = br->mirrors[i];
        if (!strcmp(row->name, name) && is_weft_owned(&row->external_ids)) {
            for (size_t j = 0; j < row->n_statistics; j++) {
                if (!strcmp(row->key_statistics[j], "tx_packets")) {
                    *tx_packets = row->value_statistics[j];
                } else if (!strcmp(row->key_statistics[j], "tx_bytes")) {
                    *tx_bytes = row->value_statistics[j];
                }
            }
            return true;
        }
    }
    const struct vswitch_mirror_spec *want = find_wanted_mirror(db, name);
    if (br && want) {
        struct mirror_rows r;
        resolve_mirror(br, want, &r, &why);
        mirror_rows_destroy(&r);
        why = why ? why : "being written";
    }
    if (problem) {
        *problem = why;
    }
    return false;
}

static uint64_t
hash_text(uint64_t hash, const char *s)
{
    for (; *s; s++) {
        hash = (hash ^ (unsigned char) *s) * 0x100000001b3ULL;
    }
    return (hash ^ 0xff) * 0x100000001b3ULL;
}

uint64_t
vswitch_db_get_mirror_epoch(const struct vswitch_db *db)
{
    const struct ovsrec_bridge *br = find_bridge(db);
    uint64_t epoch = 0;
    for (size_t i = 0; br && i < br->n_mirrors; i++) {
        const struct ovsrec_mirror *m = br->mirrors[i];
        if (!is_weft_owned(&m->external_ids)) {
            continue;
        }
        /* Order-independent: a sum of per-row hashes. */
        uint64_t h = hash_text(0xcbf29ce484222325ULL, m->name);
        for (size_t j = 0; j < m->n_select_src_port; j++) {
            h = hash_text(h, m->select_src_port[j]->name);
        }
        h = hash_text(h, "/");
        for (size_t j = 0; j < m->n_select_dst_port; j++) {
            h = hash_text(h, m->select_dst_port[j]->name);
        }
        h = hash_text(h, m->output_port ? m->output_port->name : "");
        epoch += h;
    }
    return epoch;
}

enum vswitch_port_state
vswitch_db_port_state(const struct vswitch_db *db, const char *name,
                      int *ofport, const char **error)
{
    *ofport = 0;
    *error = NULL;

    const struct ovsrec_bridge *br = find_bridge(db);
    for (size_t i = 0; br && i < br->n_ports; i++) {
        const struct ovsrec_port *port = br->ports[i];
        if (strcmp(port->name, name) || port->n_interfaces != 1) {
            continue;
        }
        const struct ovsrec_interface *iface = port->interfaces[0];
        if (iface->error) {
            *error = iface->error;
            return VSWITCH_PORT_ERROR;
        }
        if (iface->n_ofport && iface->ofport[0] > 0) {
            *ofport = iface->ofport[0];
            return VSWITCH_PORT_PRESENT;
        }
        if (iface->n_ofport && iface->ofport[0] < 0) {
            *error = "ovs-vswitchd could not add the port";
            return VSWITCH_PORT_ERROR;
        }
        return VSWITCH_PORT_ABSENT;     /* Not yet seen by ovs-vswitchd. */
    }
    const struct ovsrec_bridge *other = bridge_with_port(db, br, name);
    if (other) {
        *error = "the tap is on another bridge";
        return VSWITCH_PORT_ERROR;
    }
    return VSWITCH_PORT_ABSENT;
}

/* The Interface of 'port' if it is a Weft-owned port with one interface
 * (a VM tap or a tunnel), else NULL. */
static const struct ovsrec_interface *
weft_iface(const struct ovsrec_port *port)
{
    return (is_weft_owned(&port->external_ids) && port->n_interfaces == 1
            ? port->interfaces[0] : NULL);
}

size_t
vswitch_db_get_vm_ports(const struct vswitch_db *db,
                        struct vswitch_vm_port **portsp)
{
    const struct ovsrec_bridge *br = find_bridge(db);
    struct vswitch_vm_port *ports = xcalloc(br ? br->n_ports + 1 : 1,
                                            sizeof *ports);
    size_t n = 0;

    for (size_t i = 0; br && i < br->n_ports; i++) {
        const struct ovsrec_interface *iface = weft_iface(br->ports[i]);
        if (!iface) {
            continue;
        }
        const struct smap *ids = &iface->external_ids;
        const char *mac = smap_get(ids, "attached-mac");
        const char *segment = smap_get(ids, "weft-segment");
        if (smap_get(ids, "weft-tunnel-peer") || !mac || !segment
            || !iface->n_ofport || iface->ofport[0] <= 0) {
            continue;
        }
        ports[n++] = (struct vswitch_vm_port) {
            .name = iface->name,
            .mac = mac,
            .segment = segment,
            .vm_name = smap_get_def(ids, "weft-vm", ""),
            .groups = smap_get(ids, "weft-groups"),
            .ips = smap_get(ids, "weft-ips"),
            .ofport = iface->ofport[0],
        };
    }
    *portsp = ports;
    return n;
}

size_t
vswitch_db_get_iface_mtus(const struct vswitch_db *db,
                          struct vswitch_iface_mtu **mtusp)
{
    struct vswitch_iface_mtu *v = NULL;
    size_t n = 0, allocated = 0;
    const struct ovsrec_bridge *br;

    OVSREC_BRIDGE_FOR_EACH (br, db->idl) {
        for (size_t i = 0; i < br->n_ports; i++) {
            const struct ovsrec_port *port = br->ports[i];
            for (size_t j = 0; j < port->n_interfaces; j++) {
                const struct ovsrec_interface *iface = port->interfaces[j];
                if (n >= allocated) {
                    allocated = allocated ? 2 * allocated : 16;
                    v = xrealloc(v, allocated * sizeof *v);
                }
                v[n++] = (struct vswitch_iface_mtu) {
                    .name = iface->name,
                    .bridge = br->name,
                    .type = iface->type,
                    .mtu = iface->n_mtu ? (int) iface->mtu[0] : 0,
                };
            }
        }
    }
    *mtusp = v;
    return n;
}

size_t
vswitch_db_get_tunnels(const struct vswitch_db *db,
                       struct vswitch_tunnel_port **tunnelsp)
{
    const struct ovsrec_bridge *br = find_bridge(db);
    struct vswitch_tunnel_port *tunnels = xcalloc(br ? br->n_ports + 1 : 1,
                                                  sizeof *tunnels);
    size_t n = 0;

    for (size_t i = 0; br && i < br->n_ports; i++) {
        const struct ovsrec_interface *iface = weft_iface(br->ports[i]);
        const char *peer = (iface ? smap_get(&iface->external_ids,
                                             "weft-tunnel-peer") : NULL);
        if (peer) {
            tunnels[n++] = (struct vswitch_tunnel_port) {
                .peer = peer,
                .ofport = (iface->n_ofport && iface->ofport[0] > 0
                           ? iface->ofport[0] : 0),
            };
        }
    }
    *tunnelsp = tunnels;
    return n;
}

unsigned int
vswitch_db_get_seqno(const struct vswitch_db *db)
{
    return ovsdb_idl_get_seqno(db->idl);
}

void
vswitch_db_wait(struct vswitch_db *db)
{
    ovsdb_idl_wait(db->idl);
    if (db->txn) {
        ovsdb_idl_txn_wait(db->txn);
    }
}

enum vswitch_db_state
vswitch_db_get_state(const struct vswitch_db *db, const char **detail)
{
    if (detail) {
        *detail = db->detail;
    }
    return db->state;
}

void
vswitch_db_get_stats(const struct vswitch_db *db,
                     struct vswitch_db_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    stats->n_txns = db->n_txns;
    if (db->state != VSWITCH_DB_SYNCED && db->state != VSWITCH_DB_SYNCING) {
        return;
    }
    const struct ovsrec_bridge *br = find_bridge(db);
    if (br) {
        stats->n_ports = br->n_ports;
        stats->controller_connected = (br->n_controller == 1
                                       && br->controller[0]->is_connected);
    }
}
