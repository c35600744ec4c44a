/* The policy in force (see policy-store.h). */
#include "policy-store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ovs-loop.h"
#include "policy-db.h"
#include "policy.h"

WEFT_LOG_MODULE(policy);

void
policy_store_init(struct policy_store *ps, const char *remote,
                  policy_store_changed_func *changed, void *aux)
{
    memset(ps, 0, sizeof *ps);
    ps->current = policy_create();
    ps->document = policy_format(ps->current);
    ps->changed = changed;
    ps->changed_aux = aux;
    if (remote) {
        ps->db = policy_db_create(remote);
    }
}

void
policy_store_destroy(struct policy_store *ps)
{
    policy_db_destroy(ps->db);
    policy_destroy(ps->current);
    policy_destroy(ps->pending);
    free(ps->document);
    free(ps->pending_document);
    memset(ps, 0, sizeof *ps);
}

static void
put_in_force(struct policy_store *ps, struct policy *p, char *document,
             int64_t generation)
{
    policy_destroy(ps->current);
    free(ps->document);
    ps->current = p;
    ps->document = document;
    ps->generation = generation;
    if (ps->changed) {
        ps->changed(ps->changed_aux);
    }
}

/* The database changed: take its document if it is new and valid. */
static void
load(struct policy_store *ps)
{
    int64_t generation;
    const char *text = policy_db_get_document(ps->db, &generation);

    if (!ps->loaded) {
        ps->loaded = true;
        if (!text) {
            WEFT_INFO("policy database is empty: no policy in force yet");
        }
        if (!text && ps->changed) {
            ps->changed(ps->changed_aux);   /* Loaded, even if empty. */
        }
    }
    if (!text || (generation == ps->generation
                  && !strcmp(text, ps->document))) {
        return;
    }

    struct policy *p;
    struct policy_error error;
    if (policy_parse(text, &p, &error)) {
        char *msg = policy_error_format(&error, "stored policy");
        WEFT_ERR("policy generation %"PRId64" in the database is invalid "
                 "(%s); keeping generation %"PRId64" in force; fix it with "
                 "weftctl set-policy or policy-rollback", generation, msg,
                 ps->generation);
        free(msg);
        /* Do not complain again for the same generation. */
        ps->generation = generation;
        return;
    }
    WEFT_INFO("policy generation %"PRId64" in force (%zu segments, %zu "
              "groups, %zu rules, %zu mirrors)", generation, p->n_segments,
              p->n_groups, p->n_rules, p->n_mirrors);
    put_in_force(ps, p, policy_format(p), generation);
}

void
policy_store_run(struct policy_store *ps)
{
    if (!ps->db) {
        return;
    }
    policy_db_run(ps->db);

    bool connected = policy_db_is_connected(ps->db);
    if (connected != ps->was_connected) {
        if (connected) {
            WEFT_INFO("policy database connected");
        } else {
            WEFT_WARN("policy database connection lost; the policy in force "
                      "stays, changes are refused until it is back");
        }
        ps->was_connected = connected;
    }

    unsigned int seqno = policy_db_get_seqno(ps->db);
    if (seqno != ps->db_seqno && policy_db_has_data(ps->db) && !ps->pending) {
        ps->db_seqno = seqno;
        load(ps);
    }
}

void
policy_store_wait(struct policy_store *ps)
{
    if (ps->db) {
        policy_db_wait(ps->db);
    }
}

static void
commit_done(void *ps_, int error, const char *message, int64_t generation)
{
    struct policy_store *ps = ps_;
    struct policy *p = ps->pending;
    char *document = ps->pending_document;
    policy_store_done_func *done = ps->done;
    void *aux = ps->done_aux;

    ps->pending = NULL;
    ps->pending_document = NULL;
    if (!error) {
        WEFT_INFO("policy generation %"PRId64" committed and in force",
                  generation);
        put_in_force(ps, p, document, generation);
        ps->db_seqno = policy_db_get_seqno(ps->db);
    } else {
        WEFT_WARN("policy change refused by the database: %s", message);
        policy_destroy(p);
        free(document);
    }
    done(aux, error, message, generation);
}

int
policy_store_commit(struct policy_store *ps, struct policy *p,
                    const char *comment, policy_store_done_func *done,
                    void *aux)
{
    if (!ps->db) {
        policy_destroy(p);
        return ENOTSUP;
    }
    if (ps->pending) {
        policy_destroy(p);
        return EBUSY;
    }
    char *document = policy_format(p);
    int error = policy_db_commit(ps->db, p, document, ps->generation,
                                 comment, commit_done, ps);
    if (error) {
        policy_destroy(p);
        free(document);
        return error;
    }
    ps->pending = p;
    ps->pending_document = document;
    ps->done = done;
    ps->done_aux = aux;
    /* Called from outside the loop's hooks (an RPC request): make sure the
     * database session runs to carry the transaction out. */
    ovs_loop_request_run();
    return 0;
}

bool
policy_store_is_connected(const struct policy_store *ps)
{
    return ps->db && policy_db_is_connected(ps->db);
}

void
policy_store_set_lock(struct policy_store *ps, const char *name)
{
    if (ps->db) {
        policy_db_set_lock(ps->db, name);
    }
}

bool
policy_store_has_lock(const struct policy_store *ps)
{
    return !ps->db || policy_db_has_lock(ps->db);
}

bool
policy_store_is_lock_contended(const struct policy_store *ps)
{
    return ps->db && policy_db_is_lock_contended(ps->db);
}
