/* The state machine of one managed hypervisor, with its reconnection
 * backoff.  Pure: it is fed observations and the time, and decides; the
 * caller (host.c) does the I/O.  Unit-tested in tests/unit/test-host-fsm.c.
 *
 *   CONNECTING --db connected--> SYNCING --bridge configured and switch
 *       ^                           |      connected--> READY
 *       |                           | <--switch connection lost--'
 *       |                       db lost/refused
 *       +--backoff elapsed-- LOST <-'
 *
 * ERROR is LOST for a reason that retrying soon will not fix (the server is
 * not an Open_vSwitch database): retried at the longest backoff. */
#ifndef WEFT_HOST_FSM_H
#define WEFT_HOST_FSM_H 1

#include <stdbool.h>

#define HOST_STATES                 \
    HOST_STATE(CONNECTING, "connecting") \
    HOST_STATE(SYNCING, "syncing")       \
    HOST_STATE(READY, "ready")           \
    HOST_STATE(LOST, "lost")             \
    HOST_STATE(ERROR, "error")

enum host_state {
#define HOST_STATE(ENUM, NAME) HOST_##ENUM,
    HOST_STATES
#undef HOST_STATE
};

const char *host_state_to_string(enum host_state);

/* What the host's OVSDB session reports. */
enum host_db_obs {
    HOST_DB_CONNECTING,     /* Attempt in progress. */
    HOST_DB_CONFIGURING,    /* Connected, bridge not yet as wanted. */
    HOST_DB_CONFIGURED,     /* Connected, bridge as wanted. */
    HOST_DB_DEAD,           /* Attempt failed or connection lost. */
    HOST_DB_BAD_SCHEMA,     /* Connected to something else than OVS. */
};

struct host_fsm {
    enum host_state state;
    long long int since;        /* When 'state' was entered (ms). */
    long long int retry_at;     /* LOST/ERROR: when to try again (ms). */
    int backoff;                /* Delay before the next retry (ms). */
    int min_backoff, max_backoff;
    unsigned int n_failures;    /* Consecutive failed attempts. */
};

void host_fsm_init(struct host_fsm *, int min_backoff_ms,
                   int max_backoff_ms, long long int now);

/* Feeds the current observations.  Returns true if the state changed. */
bool host_fsm_update(struct host_fsm *, enum host_db_obs,
                     bool switch_connected, long long int now);

/* True if the host is LOST or in ERROR and its retry time has come. */
bool host_fsm_should_retry(const struct host_fsm *, long long int now);

/* The caller started a new attempt: back to CONNECTING. */
void host_fsm_retry(struct host_fsm *, long long int now);

#endif /* host-fsm.h */
