/* The policy in force, kept in step with the policy database.
 *
 * weftd reads the stored document when the database changes (at start, on
 * reconnect, or when another writer commits), validates it with the same
 * parser weftctl's documents go through, and puts it in force only if it is
 * valid: a broken stored document is logged and the previous policy stays.
 * Changes made through weftctl are validated whole first, then committed as
 * one transaction; the new policy is in force once the database accepted
 * it. */
#ifndef WEFT_POLICY_STORE_H
#define WEFT_POLICY_STORE_H 1

#include <stdbool.h>
#include <stdint.h>

struct policy;
struct policy_db;

typedef void policy_store_changed_func(void *aux);
typedef void policy_store_done_func(void *aux, int error,
                                    const char *message,
                                    int64_t generation);

struct policy_store {
    struct policy_db *db;           /* NULL: no policy database. */
    struct policy *current;         /* Never NULL (empty at first). */
    int64_t generation;             /* 0 before any policy. */
    char *document;                 /* Canonical text of 'current'. */
    unsigned int db_seqno;
    bool loaded;                    /* Read from the database once. */
    bool was_connected;

    /* Called when the policy in force changed, and once when the database
     * was first read even if it held no policy. */
    policy_store_changed_func *changed;
    void *changed_aux;

    /* The change in flight. */
    struct policy *pending;
    char *pending_document;
    policy_store_done_func *done;
    void *done_aux;
};

/* 'remote' may be NULL: then there is no persistence and changes are
 * refused. */
void policy_store_init(struct policy_store *, const char *remote,
                       policy_store_changed_func *, void *aux);
void policy_store_destroy(struct policy_store *);

/* Registered with the loop by the caller. */
void policy_store_run(struct policy_store *);
void policy_store_wait(struct policy_store *);

/* Puts 'p' (validated) in force through the database.  Takes ownership of
 * 'p'.  'done' is called once, later, unless this returns an errno value
 * (EBUSY: another change is in flight; ENOTCONN: the database is not
 * reachable; ENOTSUP: no database configured). */
int policy_store_commit(struct policy_store *, struct policy *p,
                        const char *comment, policy_store_done_func *done,
                        void *aux);

bool policy_store_is_connected(const struct policy_store *);

/* The database lock that makes one weftd of several the active one (see
 * policy-db.h).  Without a policy database, has_lock is always true. */
void policy_store_set_lock(struct policy_store *, const char *name);
bool policy_store_has_lock(const struct policy_store *);
bool policy_store_is_lock_contended(const struct policy_store *);

#endif /* policy-store.h */
