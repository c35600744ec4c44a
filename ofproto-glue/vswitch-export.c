/* Flow export rows (sFlow, IPFIX, NetFlow) on the integration bridge (see
 * vswitch-export.h).  Called by vswitch-db.c inside its reconcile pass, so
 * export rows go in the same transaction as the bridge's other settings. */
#include <config.h>

#include "vswitch-export.h"

#include <string.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "ovsdb-idl.h"
#include "smap.h"
#include "util.h"
#include "vswitch-idl.h"

#include "strv.h"

struct vswitch_exports {
    /* Wanted export per type; 'name' NULL if none.  Strings owned. */
    struct vswitch_export_spec specs[VSWITCH_N_EXPORT_TYPES];

    /* Wanted per-segment IPFIX exports (collector sets), owned. */
    struct vswitch_export_spec *sets;
    size_t n_sets;
};

/* What differs between the three tables, behind one interface.  Rows are
 * passed as 'const void *': each ovsrec struct starts with its
 * ovsdb_idl_row. */
struct export_class {
    const char *what;               /* For logs: "sflow". */
    const struct ovsdb_idl_table_class *table;
    const void *(*get)(const struct ovsrec_bridge *);
    void (*attach)(const struct ovsrec_bridge *, const void *row);
    void *(*insert)(struct ovsdb_idl_txn *);
    const struct smap *(*external_ids)(const void *row);
    void (*set_external_ids)(const void *row, const struct smap *);
    /* Does 'row' have every value of 'spec' (external_ids apart)? */
    bool (*matches)(const void *row, const struct vswitch_export_spec *);
    void (*write)(const void *row, const struct vswitch_export_spec *);
};

/* Helpers for the columns. */

/* An optional integer column equals 'want' (0: empty). */
static bool
opt_int_equal(const int64_t *col, size_t n, int want)
{
    return want ? n == 1 && col[0] == want : n == 0;
}

/* Sets optional integer column 'set' from 'want' (0: empty). */
#define SET_OPT_INT(SET, ROW, WANT)                         \
    do {                                                    \
        int64_t v_ = (WANT);                                \
        SET(ROW, v_ ? &v_ : NULL, v_ ? 1 : 0);              \
    } while (0)

static bool
targets_equal(char **have, size_t n, const struct vswitch_export_spec *s)
{
    if (n != s->n_targets) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = 0; !found && j < n; j++) {
            found = !strcmp(have[i], s->targets[j]);
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

/* The accessors that only differ by table, for table NAME (ovsrec_NAME,
 * Bridge column NAME). */
#define EXPORT_ACCESSORS(NAME)                                          \
    static const void *                                                 \
    NAME##_get(const struct ovsrec_bridge *br)                          \
    {                                                                   \
        return br->NAME;                                                \
    }                                                                   \
    static void                                                         \
    NAME##_attach(const struct ovsrec_bridge *br, const void *row)      \
    {                                                                   \
        ovsrec_bridge_set_##NAME(br, row);                              \
    }                                                                   \
    static void *                                                       \
    NAME##_insert(struct ovsdb_idl_txn *txn)                            \
    {                                                                   \
        return ovsrec_##NAME##_insert(txn);                             \
    }                                                                   \
    static const struct smap *                                          \
    NAME##_external_ids(const void *row)                                \
    {                                                                   \
        return &((const struct ovsrec_##NAME *) row)->external_ids;     \
    }                                                                   \
    static void                                                         \
    NAME##_set_external_ids(const void *row, const struct smap *ids)    \
    {                                                                   \
        ovsrec_##NAME##_set_external_ids(row, ids);                     \
    }
EXPORT_ACCESSORS(sflow)
EXPORT_ACCESSORS(ipfix)
EXPORT_ACCESSORS(netflow)

/* sFlow. */

static bool
sflow_matches(const void *row_, const struct vswitch_export_spec *s)
{
    const struct ovsrec_sflow *row = row_;
    return (targets_equal(row->targets, row->n_targets, s)
            && opt_int_equal(row->sampling, row->n_sampling, s->sampling)
            && opt_int_equal(row->polling, row->n_polling, s->polling)
            && opt_int_equal(row->header, row->n_header, s->header)
            && nullable_string_is_equal(row->agent, s->agent));
}

static void
sflow_write(const void *row, const struct vswitch_export_spec *s)
{
    ovsrec_sflow_set_targets(row, s->targets, s->n_targets);
    SET_OPT_INT(ovsrec_sflow_set_sampling, row, s->sampling);
    SET_OPT_INT(ovsrec_sflow_set_polling, row, s->polling);
    SET_OPT_INT(ovsrec_sflow_set_header, row, s->header);
    ovsrec_sflow_set_agent(row, s->agent);
}

/* IPFIX. */

static bool
ipfix_matches(const void *row_, const struct vswitch_export_spec *s)
{
    const struct ovsrec_ipfix *row = row_;
    return (targets_equal(row->targets, row->n_targets, s)
            && opt_int_equal(row->sampling, row->n_sampling, s->sampling)
            && opt_int_equal(row->cache_active_timeout,
                             row->n_cache_active_timeout, s->active_timeout)
            && opt_int_equal(row->cache_max_flows, row->n_cache_max_flows,
                             s->cache_max_flows));
}

static void
ipfix_write(const void *row, const struct vswitch_export_spec *s)
{
    ovsrec_ipfix_set_targets(row, s->targets, s->n_targets);
    SET_OPT_INT(ovsrec_ipfix_set_sampling, row, s->sampling);
    SET_OPT_INT(ovsrec_ipfix_set_cache_active_timeout, row,
                s->active_timeout);
    SET_OPT_INT(ovsrec_ipfix_set_cache_max_flows, row, s->cache_max_flows);
}

/* NetFlow. */

static bool
netflow_matches(const void *row_, const struct vswitch_export_spec *s)
{
    const struct ovsrec_netflow *row = row_;
    /* active_timeout is not optional: 0 is OVS's "default (600 s)". */
    return (targets_equal(row->targets, row->n_targets, s)
            && row->active_timeout == s->active_timeout);
}

static void
netflow_write(const void *row, const struct vswitch_export_spec *s)
{
    ovsrec_netflow_set_targets(row, s->targets, s->n_targets);
    ovsrec_netflow_set_active_timeout(row, s->active_timeout);
}

#define EXPORT_CLASS(NAME, TABLE)                       \
    {                                                   \
        .what = #NAME,                                  \
        .table = &TABLE,                                \
        .get = NAME##_get,                              \
        .attach = NAME##_attach,                        \
        .insert = NAME##_insert,                        \
        .external_ids = NAME##_external_ids,            \
        .set_external_ids = NAME##_set_external_ids,    \
        .matches = NAME##_matches,                      \
        .write = NAME##_write,                          \
    }

/* Indexed by enum vswitch_export_type. */
static const struct export_class classes[VSWITCH_N_EXPORT_TYPES] = {
    [VSWITCH_EXPORT_SFLOW] = EXPORT_CLASS(sflow, ovsrec_table_sflow),
    [VSWITCH_EXPORT_IPFIX] = EXPORT_CLASS(ipfix, ovsrec_table_ipfix),
    [VSWITCH_EXPORT_NETFLOW] = EXPORT_CLASS(netflow, ovsrec_table_netflow),
};

/* Ownership. */

static bool
row_is_weft(const struct export_class *c, const void *row)
{
    const char *owned = smap_get(c->external_ids(row), "weft-owned");
    return owned && !strcmp(owned, "true");
}

/* The external_ids a Weft row of 'spec' has: whatever else is there
 * ('old', NULL for a new row), plus Weft's two keys. */
static void
wanted_ids(const struct smap *old, const struct vswitch_export_spec *spec,
           struct smap *ids)
{
    smap_init(ids);
    if (old) {
        smap_clone(ids, old);
    }
    smap_replace(ids, "weft-owned", "true");
    smap_replace(ids, "weft-export", spec->name);
}

static bool
row_is_wanted(const struct export_class *c, const void *row,
              const struct vswitch_export_spec *spec)
{
    const char *name = smap_get(c->external_ids(row), "weft-export");
    return (row_is_weft(c, row) && name && !strcmp(name, spec->name)
            && c->matches(row, spec));
}

/* Public functions. */

const char *
vswitch_export_state_to_string(enum vswitch_export_state state)
{
    switch (state) {
    case VSWITCH_EXPORT_NONE: return "none";
    case VSWITCH_EXPORT_PENDING: return "pending";
    case VSWITCH_EXPORT_INSTALLED: return "installed";
    case VSWITCH_EXPORT_FOREIGN: return "foreign";
    case VSWITCH_EXPORT_UNSUPPORTED: return "unsupported";
    }
    return "<invalid>";
}

struct vswitch_exports *
vswitch_exports_create(void)
{
    return xzalloc(sizeof(struct vswitch_exports));
}

static void
spec_clone(struct vswitch_export_spec *dst,
           const struct vswitch_export_spec *src)
{
    *dst = *src;
    dst->name = xstrdup(src->name);
    dst->targets = strv_copy(src->targets, src->n_targets);
    dst->agent = nullable_xstrdup(src->agent);
}

static void
spec_destroy(struct vswitch_export_spec *s)
{
    free(CONST_CAST(char *, s->name));
    strv_free_n(s->targets, s->n_targets);
    free(CONST_CAST(char *, s->agent));
    memset(s, 0, sizeof *s);
}

struct vswitch_export_spec *
vswitch_export_specs_clone(const struct vswitch_export_spec *specs, size_t n)
{
    struct vswitch_export_spec *copy = xcalloc(n + 1, sizeof *copy);
    for (size_t i = 0; i < n; i++) {
        spec_clone(&copy[i], &specs[i]);
    }
    return copy;
}

void
vswitch_export_specs_free(struct vswitch_export_spec *specs, size_t n)
{
    for (size_t i = 0; specs && i < n; i++) {
        spec_destroy(&specs[i]);
    }
    free(specs);
}

static void
clear_specs(struct vswitch_exports *e)
{
    for (size_t t = 0; t < VSWITCH_N_EXPORT_TYPES; t++) {
        spec_destroy(&e->specs[t]);
    }
    vswitch_export_specs_free(e->sets, e->n_sets);
    e->sets = NULL;
    e->n_sets = 0;
}

void
vswitch_exports_destroy(struct vswitch_exports *e)
{
    if (e) {
        clear_specs(e);
        free(e);
    }
}

void
vswitch_exports_set(struct vswitch_exports *e,
                    const struct vswitch_export_spec *specs, size_t n)
{
    clear_specs(e);
    e->sets = xcalloc(n + 1, sizeof *e->sets);
    for (size_t i = 0; i < n; i++) {
        const struct vswitch_export_spec *src = &specs[i];
        if (src->collector_set_id && src->type == VSWITCH_EXPORT_IPFIX) {
            spec_clone(&e->sets[e->n_sets++], src);
        } else if ((unsigned int) src->type < VSWITCH_N_EXPORT_TYPES
                   && !src->collector_set_id && !e->specs[src->type].name) {
            spec_clone(&e->specs[src->type], src);
        }
    }
}

void
vswitch_exports_register(struct ovsdb_idl *idl)
{
    ovsdb_idl_add_column(idl, &ovsrec_bridge_col_sflow);
    ovsdb_idl_add_column(idl, &ovsrec_bridge_col_ipfix);
    ovsdb_idl_add_column(idl, &ovsrec_bridge_col_netflow);
    /* Every column of the three tables: a row is compared whole. */
    ovsdb_idl_add_table(idl, &ovsrec_table_sflow);
    for (size_t i = 0; i < OVSREC_SFLOW_N_COLUMNS; i++) {
        ovsdb_idl_add_column(idl, &ovsrec_sflow_columns[i]);
    }
    ovsdb_idl_add_table(idl, &ovsrec_table_ipfix);
    for (size_t i = 0; i < OVSREC_IPFIX_N_COLUMNS; i++) {
        ovsdb_idl_add_column(idl, &ovsrec_ipfix_columns[i]);
    }
    ovsdb_idl_add_table(idl, &ovsrec_table_netflow);
    for (size_t i = 0; i < OVSREC_NETFLOW_N_COLUMNS; i++) {
        ovsdb_idl_add_column(idl, &ovsrec_netflow_columns[i]);
    }
    ovsdb_idl_add_table(idl, &ovsrec_table_flow_sample_collector_set);
    for (size_t i = 0; i < OVSREC_FLOW_SAMPLE_COLLECTOR_SET_N_COLUMNS; i++) {
        ovsdb_idl_add_column(idl,
                             &ovsrec_flow_sample_collector_set_columns[i]);
    }
}

enum vswitch_export_state
vswitch_exports_state(const struct vswitch_exports *e,
                      struct ovsdb_idl *idl, const struct ovsrec_bridge *br,
                      enum vswitch_export_type type)
{
    const struct export_class *c = &classes[type];
    if (!ovsdb_idl_server_has_table(idl, c->table)) {
        return VSWITCH_EXPORT_UNSUPPORTED;
    }

    const struct vswitch_export_spec *want = e ? &e->specs[type] : NULL;
    const void *row = br ? c->get(br) : NULL;
    if (row && !row_is_weft(c, row)) {
        return VSWITCH_EXPORT_FOREIGN;
    } else if (!want || !want->name) {
        return row ? VSWITCH_EXPORT_PENDING : VSWITCH_EXPORT_NONE;
    }
    return (row && row_is_wanted(c, row, want) ? VSWITCH_EXPORT_INSTALLED
            : VSWITCH_EXPORT_PENDING);
}

/* Reconciles the bridge's export of one type; returns what it did ("+",
 * "~", "-") or NULL. */
static const char *
configure_one(const struct export_class *c,
              const struct vswitch_export_spec *want,
              struct ovsdb_idl *idl, const struct ovsrec_bridge *br,
              struct ovsdb_idl_txn **txnp)
{
    const void *row = c->get(br);
    if (row && !row_is_weft(c, row)) {
        return NULL;            /* Someone else's: reported, not touched. */
    } else if (want->name ? row && row_is_wanted(c, row, want) : !row) {
        return NULL;            /* As wanted. */
    }

    if (!*txnp) {
        *txnp = ovsdb_idl_txn_create(idl);
    }
    if (!want->name) {
        c->attach(br, NULL);    /* Not a root table: the row goes too. */
        return "-";
    }
    /* A row changed by hand is updated in place: its UUID stays. */
    const struct smap *old_ids = row ? c->external_ids(row) : NULL;
    const char *did = row ? "~" : "+";
    if (!row) {
        row = c->insert(*txnp);
        c->attach(br, row);
    }
    struct smap ids;
    wanted_ids(old_ids, want, &ids);
    c->set_external_ids(row, &ids);
    smap_destroy(&ids);
    c->write(row, want);
    return did;
}

/* Per-segment exports: Flow_Sample_Collector_Set rows. */

static const char *
set_name(const struct ovsrec_flow_sample_collector_set *row)
{
    const char *owned = smap_get(&row->external_ids, "weft-owned");
    return (owned && !strcmp(owned, "true")
            ? smap_get(&row->external_ids, "weft-export") : NULL);
}

/* Weft's collector set row for 'spec' on 'br', or NULL. */
static const struct ovsrec_flow_sample_collector_set *
find_set_row(struct ovsdb_idl *idl, const struct ovsrec_bridge *br,
             const char *name)
{
    const struct ovsrec_flow_sample_collector_set *row;
    OVSREC_FLOW_SAMPLE_COLLECTOR_SET_FOR_EACH (row, idl) {
        const char *n = set_name(row);
        if (row->bridge == br && n && !strcmp(n, name)) {
            return row;
        }
    }
    return NULL;
}

static const struct vswitch_export_spec *
find_set_spec(const struct vswitch_exports *e, const char *name)
{
    for (size_t i = 0; e && i < e->n_sets; i++) {
        if (!strcmp(e->sets[i].name, name)) {
            return &e->sets[i];
        }
    }
    return NULL;
}

static bool
set_row_is_wanted(const struct ovsrec_flow_sample_collector_set *row,
                  const struct vswitch_export_spec *spec)
{
    return (row->id == spec->collector_set_id && row->ipfix
            && ipfix_matches(row->ipfix, spec));
}

/* Writes 'spec' into collector set 'row' (new if NULL) and a new IPFIX row
 * for it: the old one, no longer referenced, goes. */
static void
write_set_row(struct ovsdb_idl_txn *txn, const struct ovsrec_bridge *br,
              const struct ovsrec_flow_sample_collector_set *row,
              const struct vswitch_export_spec *spec)
{
    if (!row) {
        row = ovsrec_flow_sample_collector_set_insert(txn);
        ovsrec_flow_sample_collector_set_set_bridge(row, br);
        struct smap ids;
        wanted_ids(NULL, spec, &ids);
        ovsrec_flow_sample_collector_set_set_external_ids(row, &ids);
        smap_destroy(&ids);
    }
    ovsrec_flow_sample_collector_set_set_id(row, spec->collector_set_id);
    struct ovsrec_ipfix *ipfix = ovsrec_ipfix_insert(txn);
    struct smap ids;
    wanted_ids(NULL, spec, &ids);
    ovsrec_ipfix_set_external_ids(ipfix, &ids);
    smap_destroy(&ids);
    ipfix_write(ipfix, spec);
    ovsrec_flow_sample_collector_set_set_ipfix(row, ipfix);
}

static void
configure_sets(const struct vswitch_exports *e, struct ovsdb_idl *idl,
               const struct ovsrec_bridge *br, struct ovsdb_idl_txn **txnp,
               struct ds *what)
{
    if (!ovsdb_idl_server_has_table(idl,
                                    &ovsrec_table_flow_sample_collector_set)) {
        return;
    }
    size_t n_add = 0, n_update = 0, n_remove = 0;
    const struct ovsrec_flow_sample_collector_set *row;
    OVSREC_FLOW_SAMPLE_COLLECTOR_SET_FOR_EACH_SAFE (row, idl) {
        const char *name = set_name(row);
        if (row->bridge != br || !name || find_set_spec(e, name)) {
            continue;
        }
        if (!*txnp) {
            *txnp = ovsdb_idl_txn_create(idl);
        }
        ovsrec_flow_sample_collector_set_delete(row);
        n_remove++;
    }
    for (size_t i = 0; i < e->n_sets; i++) {
        const struct vswitch_export_spec *spec = &e->sets[i];
        row = find_set_row(idl, br, spec->name);
        if (row && set_row_is_wanted(row, spec)) {
            continue;
        }
        if (!*txnp) {
            *txnp = ovsdb_idl_txn_create(idl);
        }
        write_set_row(*txnp, br, row, spec);
        if (row) {
            n_update++;
        } else {
            n_add++;
        }
    }
    if (n_add || n_update || n_remove) {
        ds_put_format(what, "%scollector sets (+%zu ~%zu -%zu)",
                      what->length ? ", " : "", n_add, n_update, n_remove);
    }
}

enum vswitch_export_state
vswitch_exports_set_state(const struct vswitch_exports *e,
                          struct ovsdb_idl *idl,
                          const struct ovsrec_bridge *br, const char *name)
{
    if (!ovsdb_idl_server_has_table(idl,
                                    &ovsrec_table_flow_sample_collector_set)) {
        return VSWITCH_EXPORT_UNSUPPORTED;
    }
    const struct vswitch_export_spec *spec = find_set_spec(e, name);
    const struct ovsrec_flow_sample_collector_set *row
        = br ? find_set_row(idl, br, name) : NULL;
    if (!spec) {
        return row ? VSWITCH_EXPORT_PENDING : VSWITCH_EXPORT_NONE;
    }
    return (row && set_row_is_wanted(row, spec) ? VSWITCH_EXPORT_INSTALLED
            : VSWITCH_EXPORT_PENDING);
}

void
vswitch_exports_configure(const struct vswitch_exports *e,
                          struct ovsdb_idl *idl,
                          const struct ovsrec_bridge *br,
                          struct ovsdb_idl_txn **txnp, struct ds *what)
{
    if (!e) {
        return;
    }
    configure_sets(e, idl, br, txnp, what);
    for (size_t t = 0; t < VSWITCH_N_EXPORT_TYPES; t++) {
        const struct export_class *c = &classes[t];
        if (!ovsdb_idl_server_has_table(idl, c->table)) {
            continue;
        }
        const char *did = configure_one(c, &e->specs[t], idl, br, txnp);
        if (did) {
            ds_put_format(what, "%s%s %s", what->length ? ", " : "",
                          c->what, did);
        }
    }
}
