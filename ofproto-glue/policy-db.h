/* The policy database: an OVSDB database with Weft's own schema
 * (config/weft.ovsschema), read and written through ovsdb-idl on weftd's
 * loop.
 *
 * The Policy table's single row holds the policy in force as its canonical
 * document and a generation number; History keeps the last accepted
 * documents for rollback; Segment, Group, Rule and Mirror hold the same
 * policy as rows for other readers.  A change is one transaction that
 * verifies the generation it started from, so two writers cannot
 * interleave. */
#ifndef WEFT_POLICY_DB_H
#define WEFT_POLICY_DB_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct policy;
struct policy_db;

/* How many accepted documents History keeps. */
#define POLICY_DB_HISTORY_MAX 50

/* Connects to 'remote' ("unix:PATH", "tcp:IP:PORT", "ssl:IP:PORT"),
 * reconnecting by itself when the connection drops. */
struct policy_db *policy_db_create(const char *remote);
void policy_db_destroy(struct policy_db *);
void policy_db_run(struct policy_db *);
void policy_db_wait(struct policy_db *);

bool policy_db_is_connected(const struct policy_db *);

/* An OVSDB lock (RFC 7047 "lock") named 'name' on this session: requested
 * now and again after every reconnection, granted by the server to one
 * client at a time and released when that client's connection closes.
 * has_lock: this session holds it; contended: another client holds it and
 * this one waits. */
void policy_db_set_lock(struct policy_db *, const char *name);
bool policy_db_has_lock(const struct policy_db *);
bool policy_db_is_lock_contended(const struct policy_db *);
/* True once the database contents have been received at least once. */
bool policy_db_has_data(const struct policy_db *);

/* Changes whenever what the database holds changes. */
unsigned int policy_db_get_seqno(const struct policy_db *);

/* The stored policy document and its generation; NULL and 0 if none. */
const char *policy_db_get_document(const struct policy_db *,
                                   int64_t *generation);

typedef void policy_db_commit_func(void *aux, int error,
                                   const char *message, int64_t generation);

/* Starts replacing the stored policy by 'p' (whose canonical text is
 * 'document'), provided the stored generation is still 'base_generation'.
 * Returns 0 and later calls 'cb' once from policy_db_run() with 0 and the
 * new generation, or with an errno value and a message (EAGAIN: someone
 * else changed the policy meanwhile).  Returns EBUSY if a commit is already
 * in flight, ENOTCONN if not connected; 'cb' is then not called. */
int policy_db_commit(struct policy_db *, const struct policy *p,
                     const char *document, int64_t base_generation,
                     const char *comment, policy_db_commit_func *cb,
                     void *aux);

struct policy_db_entry {
    int64_t generation;
    long long int created_at;   /* Milliseconds since the epoch. */
    const char *comment;
    const char *document;
};

/* Fills '*entries' (malloc'd array, strings owned by the database and valid
 * until the next run) with the stored history, oldest first. */
size_t policy_db_get_history(const struct policy_db *,
                             struct policy_db_entry **entries);

#endif /* policy-db.h */
