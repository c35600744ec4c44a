/* What apps.c (the registry) and app-services.c (the calls apps make)
 * share: a loaded app and the registry itself.  Not for the rest of
 * weftd, which uses apps.h. */
#ifndef WEFT_APP_INTERNAL_H
#define WEFT_APP_INTERNAL_H 1

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "app-flows.h"
#include "app-so.h"
#include "apps.h"

#define APP_STATES                                                        \
    APP_STATE(RUNNING, "running")   /* Loaded, gets events. */           \
    APP_STATE(DISABLED, "disabled") /* A callback failed; code loaded. */ \
    APP_STATE(FAILED, "failed")     /* init() failed: being freed. */

enum app_state {
#define APP_STATE(ENUM, NAME) APP_##ENUM,
    APP_STATES
#undef APP_STATE
};

const char *app_state_to_string(enum app_state);

struct weft_app_timer {
    ev_timer w;
    struct weft_app_handle *app;
    weft_app_timer_func *cb;
    void *aux;
    struct weft_app_timer *prev, *next;
};

/* A port stats request of an app, waiting for its answer (app-stats.c). */
struct app_stats_req {
    ev_timer timeout;
    struct apps *apps;
    struct weft_app_handle *app;
    uint64_t id;
    char *host;
    weft_app_port_stats_func *cb;
    void *aux;
    struct app_stats_req *prev, *next;
};

/* One loaded app: the handle apps get. */
struct weft_app_handle {
    struct apps *apps;
    char *name;
    char *path;
    struct weft_app_kv *config;     /* Strings owned. */
    size_t n_config;
    struct app_so so;
    enum app_state state;
    int slot;
    int first_table;

    struct app_flows flows;
    char **claims;                  /* Segments claimed. */
    size_t n_claims;
    struct weft_app_timer *timers;  /* Doubly linked. */
    bool in_init;                   /* Still in init(): no events yet. */
    struct weft_app_handle *replaces; /* During a reload's init(): the
                                       * version still running. */

    unsigned long long n_packet_ins;
    unsigned long long n_errors;
    char *last_error;
};

/* A host as the apps know it. */
struct apps_host {
    char *name;
    bool up;
    unsigned int flows_version;     /* Bumped by changes to its own flows
                                     * (apps_host_flows_changed()). */
    struct weft_app_vnic *vnics;    /* Strings owned. */
    size_t n_vnics;
};

struct apps {
    struct apps_env env;
    struct weft_app_handle *slots[WEFT_APP_MAX_APPS];

    unsigned int version;
    unsigned int claims_version;
    struct apps_claim *claims;      /* Rebuilt by apps_changed(). */
    size_t n_claims;

    struct apps_host *hosts;
    size_t n_hosts;

    /* Arrays handed out by the lookups apps make (weft_app_get_vnics(),
     * weft_app_get_hosts()): each call gets its own, so that two results
     * can be used together, and all are freed when the outermost callback
     * or timer returns (app_callback_end()). */
    void **scratch;
    size_t n_scratch, allocated_scratch;
    unsigned int callback_depth;

    struct app_stats_req *stats_reqs;   /* Doubly linked. */
    uint64_t next_stats_id;
};

/* The flows or claims of 'app' changed: bump the versions, tell weftd. */
void apps_changed(struct apps *, bool claims);

/* Only the flows of 'host' changed (NULL: of every host). */
void apps_host_flows_changed(struct apps *, const char *host);

/* Records an error of 'app' (counted, kept as its last error, logged). */
void app_error(struct weft_app_handle *, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Brackets every call into an app's code (callbacks, timers, init(),
 * destroy()): when the outermost one ends, the lookups' arrays are freed. */
void app_callback_begin(struct apps *);
void app_callback_end(struct apps *);

/* Allocates 'size' bytes (zeroed) that stay valid until the outermost
 * callback running now returns. */
void *app_scratch_alloc(struct apps *, size_t size);

/* Cancels every timer of 'app'. */
void app_cancel_timers(struct weft_app_handle *);

/* Drops the pending port stats requests of 'app' (app-stats.c). */
void app_cancel_stats_reqs(struct weft_app_handle *);

#endif /* app-internal.h */
