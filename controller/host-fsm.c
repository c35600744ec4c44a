/* Host state machine and backoff (see host-fsm.h). */
#include "host-fsm.h"

const char *
host_state_to_string(enum host_state state)
{
    switch (state) {
#define HOST_STATE(ENUM, NAME) case HOST_##ENUM: return NAME;
    HOST_STATES
#undef HOST_STATE
    }
    return "unknown";
}

void
host_fsm_init(struct host_fsm *fsm, int min_backoff, int max_backoff,
              long long int now)
{
    fsm->state = HOST_CONNECTING;
    fsm->since = now;
    fsm->retry_at = 0;
    fsm->min_backoff = min_backoff;
    fsm->max_backoff = max_backoff < min_backoff ? min_backoff : max_backoff;
    fsm->backoff = fsm->min_backoff;
    fsm->n_failures = 0;
}

static bool
transition(struct host_fsm *fsm, enum host_state state, long long int now)
{
    if (fsm->state == state) {
        return false;
    }
    fsm->state = state;
    fsm->since = now;
    return true;
}

/* An attempt failed: wait 'backoff', then double it for next time. */
static void
schedule_retry(struct host_fsm *fsm, int delay, long long int now)
{
    fsm->retry_at = now + delay;
    fsm->n_failures++;
    fsm->backoff = (fsm->backoff > fsm->max_backoff / 2
                    ? fsm->max_backoff : fsm->backoff * 2);
}

bool
host_fsm_update(struct host_fsm *fsm, enum host_db_obs db,
                bool switch_connected, long long int now)
{
    if (fsm->state == HOST_LOST || fsm->state == HOST_ERROR) {
        /* Waiting for host_fsm_retry(); the old session's reports do not
         * matter any more. */
        return false;
    }

    switch (db) {
    case HOST_DB_CONNECTING:
        return transition(fsm, HOST_CONNECTING, now);

    case HOST_DB_CONFIGURING:
        return transition(fsm, HOST_SYNCING, now);

    case HOST_DB_CONFIGURED:
        if (!switch_connected) {
            return transition(fsm, HOST_SYNCING, now);
        }
        fsm->backoff = fsm->min_backoff;
        fsm->n_failures = 0;
        return transition(fsm, HOST_READY, now);

    case HOST_DB_DEAD:
        schedule_retry(fsm, fsm->backoff, now);
        return transition(fsm, HOST_LOST, now);

    case HOST_DB_BAD_SCHEMA:
        schedule_retry(fsm, fsm->max_backoff, now);
        return transition(fsm, HOST_ERROR, now);
    }
    return false;
}

bool
host_fsm_should_retry(const struct host_fsm *fsm, long long int now)
{
    return ((fsm->state == HOST_LOST || fsm->state == HOST_ERROR)
            && now >= fsm->retry_at);
}

void
host_fsm_retry(struct host_fsm *fsm, long long int now)
{
    transition(fsm, HOST_CONNECTING, now);
}
