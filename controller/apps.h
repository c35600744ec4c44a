/* weftd's controller apps: the registry of loaded apps (shared objects
 * speaking the ABI of apps/include/weft/app.h), their lifecycle and the
 * events weftd feeds them.
 *
 * The registry knows nothing of hosts or switches: weftd-apps.c feeds it
 * (hosts up and down, each host's placed vNICs, packet-ins, expired flows)
 * and takes from it the flows and segment claims to merge into each host's
 * pipeline, so that it runs in unit tests with real .so files and no
 * switch.  Only ever used on the loop thread. */
#ifndef WEFT_APPS_H
#define WEFT_APPS_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/app.h"

struct apps;
struct ev_loop;
struct weft_flow_set;

/* What the registry needs from weftd. */
struct apps_env {
    struct ev_loop *loop;           /* For the apps' timers. */

    /* Sends a packet out of 'host''s switch: 0, or a positive errno value
     * with a malloc'd message in '*errorp'. */
    int (*packet_out)(void *aux, const char *host, uint32_t in_port,
                      const char *actions, const void *packet, size_t len,
                      char **errorp);

    /* Asks 'host''s switch for its port counters; the answer goes to
     * apps_port_stats_reply() with 'id', later.  0, or ENOTCONN (or
     * ENOENT: no such host) if it cannot be asked; then no answer
     * comes. */
    int (*port_stats)(void *aux, const char *host, uint64_t id);

    /* The canonical document of the policy in force and its generation
     * (valid until the loop runs again).  Optional: NULL means none. */
    const char *(*policy)(void *aux, long long int *generation);

    /* The apps' flows or claims changed (apps_get_version()): called from
     * timers too, so weftd should wake up its main loop. */
    void (*changed)(void *aux);

    void *aux;
};

struct apps *apps_create(const struct apps_env *);
/* Destroys every app (destroy() is called) and the registry.  Accepts
 * NULL. */
void apps_destroy(struct apps *);

/* Loads the app at 'path' (absolute) with 'config'.  If 'expected_name'
 * is nonnull, the app must call itself that.  Returns 0, or a positive
 * errno value with a malloc'd message in '*errorp' that says what is
 * wrong (ABI versions, missing symbol, duplicate name, init failure...);
 * then nothing of the app stays loaded. */
int apps_load(struct apps *, const char *path, const char *expected_name,
              const struct weft_app_kv *config, size_t n_config,
              char **errorp);

/* Unloads app 'name': destroy(), then its flows, claims and timers go.
 * ENOENT with a message if there is no such app. */
int apps_unload(struct apps *, const char *name, char **errorp);

/* Loads the app's file again (a new version, or a disabled app): the new
 * version's init() runs first, beside the old one; if it succeeds, the
 * old one's destroy() is called and the new one's flows replace the old
 * ones (only the differences reach the switches).  The app keeps its
 * slot, tables, configuration and counters.  On failure nothing changes:
 * the old version keeps running (or stays disabled) with its flows, the
 * error is recorded as its last error, and '*errorp' says why. */
int apps_reload(struct apps *, const char *name, char **errorp);

/* Events.  A callback that returns an error disables its app. */
void apps_host_up(struct apps *, const char *host);
void apps_host_down(struct apps *, const char *host);
/* The vNICs placed on 'host' now (all of them): the apps get the
 * differences with the previous call as vnic_added/vnic_removed. */
void apps_set_vnics(struct apps *, const char *host,
                    const struct weft_app_vnic *, size_t n);
void apps_policy_changed(struct apps *);
/* 'pi->table' is the absolute table.  Returns false if no app owns it. */
bool apps_packet_in(struct apps *, const struct weft_app_packet_in *pi);
/* A flow with a timeout expired on 'host''s switch. */
void apps_flow_removed(struct apps *, const char *host, uint8_t table,
                       uint16_t priority, uint64_t cookie);

/* The answer to the port stats request 'id' (env's port_stats): the
 * counters, or an error with none.  Ignored if the request is gone (its
 * app unloaded, or timed out). */
void apps_port_stats_reply(struct apps *, uint64_t id, int error,
                           const struct weft_app_port_stats *, size_t n);

/* Bumped whenever any app's flows or claims change, except flows of one
 * host only (apps_get_flows_version()); the claims have their own
 * counter, since they change the core's pipeline. */
unsigned int apps_get_version(const struct apps *);
/* Changes whenever the flows apps want on 'host' may have changed (a
 * change for every host, or for this one). */
unsigned int apps_get_flows_version(const struct apps *, const char *host);
unsigned int apps_get_claims_version(const struct apps *);

/* Appends the flows every running app wants on 'host' (absolute tables,
 * app cookies). */
void apps_get_flows(const struct apps *, const char *host,
                    struct weft_flow_set *out);

/* The segments running apps claimed, with the first table of each app.
 * Valid until the next change to the registry. */
struct apps_claim {
    const char *segment;
    int table;
};
size_t apps_get_claims(const struct apps *, const struct apps_claim **);

/* The name of the app whose cookie this is, or NULL. */
const char *apps_cookie_owner(const struct apps *, uint64_t cookie);

/* For "weftctl app-list". */
struct apps_info {
    const char *name;
    const char *path;
    const char *description;
    const char *state;          /* "running", "disabled" or "failed". */
    int slot;
    int first_table, last_table;
    unsigned int abi_major, abi_minor;
    unsigned long long n_packet_ins;
    size_t n_flows;
    unsigned long long n_errors;
    const char *last_error;     /* NULL if none. */
};
size_t apps_count(const struct apps *);
void apps_get_info(const struct apps *, size_t i, struct apps_info *);

#endif /* apps.h */
