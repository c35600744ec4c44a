/* The policy database through ovsdb-idl (see policy-db.h). */
#include <config.h>

#include "policy-db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ovsdb-idl.h"
#include "timeval.h"
#include "util.h"
#include "weft-idl.h"

#include "log.h"
#include "policy.h"

WEFT_LOG_MODULE(policy_db);

struct policy_db {
    struct ovsdb_idl *idl;
    char *remote;

    struct ovsdb_idl_txn *txn;          /* Commit in flight, or NULL. */
    int64_t txn_generation;
    policy_db_commit_func *cb;
    void *cb_aux;
};

struct policy_db *
policy_db_create(const char *remote)
{
    struct policy_db *db = xzalloc(sizeof *db);
    db->remote = xstrdup(remote);
    db->idl = ovsdb_idl_create(remote, &weftrec_idl_class, true, true);
    /* Unchanged columns are not sent: rewriting a whole policy only
     * touches what differs. */
    ovsdb_idl_set_write_changed_only_all(db->idl, true);
    return db;
}

void
policy_db_destroy(struct policy_db *db)
{
    if (!db) {
        return;
    }
    if (db->txn) {
        ovsdb_idl_txn_destroy(db->txn);
    }
    ovsdb_idl_destroy(db->idl);
    free(db->remote);
    free(db);
}

void
policy_db_run(struct policy_db *db)
{
    ovsdb_idl_run(db->idl);
    if (!db->txn) {
        return;
    }

    enum ovsdb_idl_txn_status status = ovsdb_idl_txn_commit(db->txn);
    if (status == TXN_INCOMPLETE) {
        return;
    }
    int error = 0;
    const char *message = NULL;
    char *buf = NULL;
    switch (status) {
    case TXN_SUCCESS:
    case TXN_UNCHANGED:
        WEFT_DBG("%s: policy generation %"PRId64" committed", db->remote,
                 db->txn_generation);
        break;
    case TXN_TRY_AGAIN:
        error = EAGAIN;
        message = "the policy changed meanwhile (another writer, or the "
                  "database reconnected); nothing was changed, try again";
        break;
    default:
        error = EIO;
        buf = xasprintf("policy database %s refused the transaction: %s "
                        "(%s); nothing was changed", db->remote,
                        ovsdb_idl_txn_status_to_string(status),
                        ovsdb_idl_txn_get_error(db->txn));
        message = buf;
        break;
    }
    ovsdb_idl_txn_destroy(db->txn);
    db->txn = NULL;
    db->cb(db->cb_aux, error, message, error ? 0 : db->txn_generation);
    free(buf);
}

void
policy_db_wait(struct policy_db *db)
{
    ovsdb_idl_wait(db->idl);
    if (db->txn) {
        ovsdb_idl_txn_wait(db->txn);
    }
}

void
policy_db_set_lock(struct policy_db *db, const char *name)
{
    ovsdb_idl_set_lock(db->idl, name);
}

bool
policy_db_has_lock(const struct policy_db *db)
{
    return ovsdb_idl_has_lock(db->idl);
}

bool
policy_db_is_lock_contended(const struct policy_db *db)
{
    return ovsdb_idl_is_lock_contended(db->idl);
}

bool
policy_db_is_connected(const struct policy_db *db)
{
    return ovsdb_idl_is_connected(db->idl);
}

bool
policy_db_has_data(const struct policy_db *db)
{
    return ovsdb_idl_has_ever_connected(db->idl);
}

unsigned int
policy_db_get_seqno(const struct policy_db *db)
{
    return ovsdb_idl_get_seqno(db->idl);
}

const char *
policy_db_get_document(const struct policy_db *db, int64_t *generation)
{
    const struct weftrec_policy *row = weftrec_policy_first(db->idl);
    *generation = row ? row->generation : 0;
    return row ? row->document : NULL;
}

/* Per-object tables: each row is updated in place when its name stays,
 * deleted when its object goes, inserted when new. */

static void
write_segments(struct ovsdb_idl_txn *txn, struct ovsdb_idl *idl,
               const struct policy *p)
{
    const struct weftrec_segment *row;
    WEFTREC_SEGMENT_FOR_EACH_SAFE (row, idl) {
        if (!policy_find_segment(p, row->name)) {
            weftrec_segment_delete(row);
        }
    }
    for (size_t i = 0; i < p->n_segments; i++) {
        const struct policy_segment *s = &p->segments[i];
        const struct weftrec_segment *r = NULL;
        WEFTREC_SEGMENT_FOR_EACH (row, idl) {
            if (!strcmp(row->name, s->name)) {
                r = row;
                break;
            }
        }
        if (!r) {
            r = weftrec_segment_insert(txn);
            weftrec_segment_set_name(r, s->name);
        }
        int64_t vni = s->vni;
        weftrec_segment_set_vlan(r, s->vlan);
        weftrec_segment_set_vni(r, s->vni ? &vni : NULL, s->vni ? 1 : 0);
        weftrec_segment_set_isolated(r, s->isolated);
    }
}

static void
write_groups(struct ovsdb_idl_txn *txn, struct ovsdb_idl *idl,
             const struct policy *p)
{
    const struct weftrec_group *row;
    WEFTREC_GROUP_FOR_EACH_SAFE (row, idl) {
        if (!policy_find_group(p, row->name)) {
            weftrec_group_delete(row);
        }
    }
    for (size_t i = 0; i < p->n_groups; i++) {
        const struct policy_group *g = &p->groups[i];
        const struct weftrec_group *r = NULL;
        WEFTREC_GROUP_FOR_EACH (row, idl) {
            if (!strcmp(row->name, g->name)) {
                r = row;
                break;
            }
        }
        if (!r) {
            r = weftrec_group_insert(txn);
            weftrec_group_set_name(r, g->name);
        }
        char **cidrs = xcalloc(g->n_cidrs + 1, sizeof *cidrs);
        for (size_t j = 0; j < g->n_cidrs; j++) {
            cidrs[j] = xmalloc(POLICY_CIDR_BUFSIZE);
            policy_cidr_format(&g->cidrs[j], cidrs[j], POLICY_CIDR_BUFSIZE);
        }
        weftrec_group_set_segments(r, (const char **) g->segments,
                                   g->n_segments);
        weftrec_group_set_labels(r, (const char **) g->labels, g->n_labels);
        weftrec_group_set_vnics(r, (const char **) g->vnics, g->n_vnics);
        weftrec_group_set_cidrs(r, (const char **) cidrs, g->n_cidrs);
        weftrec_group_set_groups(r, (const char **) g->groups, g->n_groups);
        for (size_t j = 0; j < g->n_cidrs; j++) {
            free(cidrs[j]);
        }
        free(cidrs);
    }
}

static void
write_rules(struct ovsdb_idl_txn *txn, struct ovsdb_idl *idl,
            const struct policy *p)
{
    const struct weftrec_rule *row;
    WEFTREC_RULE_FOR_EACH_SAFE (row, idl) {
        if (!policy_find_rule(p, row->name)) {
            weftrec_rule_delete(row);
        }
    }
    for (size_t i = 0; i < p->n_rules; i++) {
        const struct policy_rule *rule = &p->rules[i];
        const struct weftrec_rule *r = NULL;
        WEFTREC_RULE_FOR_EACH (row, idl) {
            if (!strcmp(row->name, rule->name)) {
                r = row;
                break;
            }
        }
        if (!r) {
            r = weftrec_rule_insert(txn);
            weftrec_rule_set_name(r, rule->name);
        }
        char **ports = xcalloc(rule->n_ports + 1, sizeof *ports);
        for (size_t j = 0; j < rule->n_ports; j++) {
            const struct policy_port_range *pr = &rule->ports[j];
            ports[j] = (pr->min == pr->max ? xasprintf("%u", pr->min)
                        : xasprintf("%u-%u", pr->min, pr->max));
        }
        weftrec_rule_set_action(r, policy_action_to_string(rule->action));
        weftrec_rule_set_from(r, rule->from);
        weftrec_rule_set_to(r, rule->to);
        weftrec_rule_set_proto(r, policy_proto_to_string(rule->proto));
        weftrec_rule_set_ports(r, (const char **) ports, rule->n_ports);
        weftrec_rule_set_priority(r, rule->priority);
        weftrec_rule_set_stateful(r, rule->stateful);
        for (size_t j = 0; j < rule->n_ports; j++) {
            free(ports[j]);
        }
        free(ports);
    }
}

static void
write_mirrors(struct ovsdb_idl_txn *txn, struct ovsdb_idl *idl,
              const struct policy *p)
{
    const struct weftrec_mirror *row;
    WEFTREC_MIRROR_FOR_EACH_SAFE (row, idl) {
        if (!policy_find_mirror(p, row->name)) {
            weftrec_mirror_delete(row);
        }
    }
    for (size_t i = 0; i < p->n_mirrors; i++) {
        const struct policy_mirror *m = &p->mirrors[i];
        const struct weftrec_mirror *r = NULL;
        WEFTREC_MIRROR_FOR_EACH (row, idl) {
            if (!strcmp(row->name, m->name)) {
                r = row;
                break;
            }
        }
        if (!r) {
            r = weftrec_mirror_insert(txn);
            weftrec_mirror_set_name(r, m->name);
        }
        char **sources = xcalloc(m->n_sources + 1, sizeof *sources);
        for (size_t j = 0; j < m->n_sources; j++) {
            sources[j] = xasprintf("%s:%s",
                                   policy_ref_to_string(m->sources[j].type),
                                   m->sources[j].name);
        }
        char *dest = (m->to_port
                      ? xasprintf("%s:%s/%s", policy_ref_to_string(m->to_type),
                                  m->to_name, m->to_port)
                      : xasprintf("%s:%s", policy_ref_to_string(m->to_type),
                                  m->to_name));
        weftrec_mirror_set_sources(r, (const char **) sources, m->n_sources);
        weftrec_mirror_set_destination(r, dest);
        weftrec_mirror_set_direction(r,
                                     policy_direction_to_string(m->direction));
        for (size_t j = 0; j < m->n_sources; j++) {
            free(sources[j]);
        }
        free(sources);
        free(dest);
    }
}

/* Keeps the newest POLICY_DB_HISTORY_MAX entries, the new one included. */
static void
trim_history(struct ovsdb_idl *idl)
{
    size_t n = 0;
    const struct weftrec_history *row;
    WEFTREC_HISTORY_FOR_EACH (row, idl) {
        n++;
    }
    while (n >= POLICY_DB_HISTORY_MAX) {
        const struct weftrec_history *oldest = NULL;
        WEFTREC_HISTORY_FOR_EACH (row, idl) {
            if (!ovsdb_idl_row_is_synthetic(&row->header_)
                && (!oldest || row->generation < oldest->generation)) {
                oldest = row;
            }
        }
        if (!oldest) {
            break;
        }
        weftrec_history_delete(oldest);
        n--;
    }
}

int
policy_db_commit(struct policy_db *db, const struct policy *p,
                 const char *document, int64_t base_generation,
                 const char *comment, policy_db_commit_func *cb, void *aux)
{
    if (db->txn) {
        return EBUSY;
    }
    if (!ovsdb_idl_is_connected(db->idl)
        || !ovsdb_idl_has_ever_connected(db->idl)) {
        return ENOTCONN;
    }

    struct ovsdb_idl_txn *txn = ovsdb_idl_txn_create(db->idl);
    const struct weftrec_policy *row = weftrec_policy_first(db->idl);
    if (!row) {
        row = weftrec_policy_insert(txn);
    } else {
        /* Fails the transaction if another writer got there first. */
        weftrec_policy_verify_generation(row);
    }
    if ((row ? row->generation : 0) != base_generation
        && weftrec_policy_first(db->idl)) {
        ovsdb_idl_txn_abort(txn);
        ovsdb_idl_txn_destroy(txn);
        return EAGAIN;
    }

    int64_t generation = base_generation + 1;
    long long int now = time_wall_msec();
    weftrec_policy_set_generation(row, generation);
    weftrec_policy_set_document(row, document);
    weftrec_policy_set_updated_at(row, now);
    weftrec_policy_set_comment(row, comment ? comment : "");

    trim_history(db->idl);
    const struct weftrec_history *h = weftrec_history_insert(txn);
    weftrec_history_set_generation(h, generation);
    weftrec_history_set_document(h, document);
    weftrec_history_set_created_at(h, now);
    weftrec_history_set_comment(h, comment ? comment : "");

    write_segments(txn, db->idl, p);
    write_groups(txn, db->idl, p);
    write_rules(txn, db->idl, p);
    write_mirrors(txn, db->idl, p);

    ovsdb_idl_txn_add_comment(txn, "weftd: policy generation %"PRId64": %s",
                              generation, comment ? comment : "");
    db->txn = txn;
    db->txn_generation = generation;
    db->cb = cb;
    db->cb_aux = aux;
    ovsdb_idl_txn_commit(txn);
    return 0;
}

static int
compare_entries(const void *a_, const void *b_)
{
    const struct policy_db_entry *a = a_, *b = b_;
    return a->generation < b->generation ? -1 : a->generation > b->generation;
}

size_t
policy_db_get_history(const struct policy_db *db,
                      struct policy_db_entry **entriesp)
{
    size_t n = 0, allocated = 0;
    struct policy_db_entry *entries = NULL;
    const struct weftrec_history *row;

    WEFTREC_HISTORY_FOR_EACH (row, db->idl) {
        if (n >= allocated) {
            entries = x2nrealloc(entries, &allocated, sizeof *entries);
        }
        entries[n++] = (struct policy_db_entry) {
            .generation = row->generation,
            .created_at = row->created_at,
            .comment = row->comment,
            .document = row->document,
        };
    }
    if (n) {
        qsort(entries, n, sizeof *entries, compare_entries);
    }
    *entriesp = entries;
    return n;
}
