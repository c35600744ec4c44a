/* The registry of controller apps: loading, unloading, reloading,
 * disabling, and handing them events (see apps.h).  The calls apps make
 * are in app-services.c. */
#include "apps.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "app-internal.h"
#include "flow.h"
#include "log.h"
#include "pipeline.h"
#include "xalloc.h"

WEFT_LOG_MODULE(apps);

const char *
app_state_to_string(enum app_state state)
{
    switch (state) {
#define APP_STATE(ENUM, NAME) case APP_##ENUM: return NAME;
        APP_STATES
#undef APP_STATE
    }
    return "unknown";
}

struct apps *
apps_create(const struct apps_env *env)
{
    struct apps *apps = xzalloc(sizeof *apps);
    apps->env = *env;
    return apps;
}

static void drop_app(struct apps *, struct weft_app_handle *);

static void
app_callback_end_all(struct apps *apps)
{
    for (size_t i = 0; i < apps->n_scratch; i++) {
        free(apps->scratch[i]);
    }
    apps->n_scratch = 0;
}

void
app_callback_begin(struct apps *apps)
{
    apps->callback_depth++;
}

void
app_callback_end(struct apps *apps)
{
    /* A lookup outside any callback (a mistake, but possible from a
     * thread-less app's own code) is freed by the next callback's end. */
    if (apps->callback_depth) {
        apps->callback_depth--;
    }
    if (!apps->callback_depth) {
        app_callback_end_all(apps);
    }
}

void *
app_scratch_alloc(struct apps *apps, size_t size)
{
    if (apps->n_scratch >= apps->allocated_scratch) {
        apps->allocated_scratch = 2 * apps->allocated_scratch + 8;
        apps->scratch = xrealloc(apps->scratch, apps->allocated_scratch
                                 * sizeof *apps->scratch);
    }
    void *p = xzalloc(size ? size : 1);
    apps->scratch[apps->n_scratch++] = p;
    return p;
}

static void
free_vnics(struct weft_app_vnic *vnics, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *) vnics[i].host);
        free((char *) vnics[i].vm);
        free((char *) vnics[i].tap);
        free((char *) vnics[i].mac);
        free((char *) vnics[i].segment);
    }
    free(vnics);
}

void
apps_destroy(struct apps *apps)
{
    if (!apps) {
        return;
    }
    for (int i = 0; i < WEFT_APP_MAX_APPS; i++) {
        if (apps->slots[i]) {
            drop_app(apps, apps->slots[i]);
        }
    }
    for (size_t i = 0; i < apps->n_hosts; i++) {
        free(apps->hosts[i].name);
        free_vnics(apps->hosts[i].vnics, apps->hosts[i].n_vnics);
    }
    free(apps->hosts);
    free(apps->claims);
    apps->callback_depth = 0;
    app_callback_end_all(apps);
    free(apps->scratch);
    free(apps);
}

void
apps_changed(struct apps *apps, bool claims)
{
    apps->version++;
    if (claims) {
        apps->claims_version++;
        size_t n = 0;
        for (int i = 0; i < WEFT_APP_MAX_APPS; i++) {
            if (apps->slots[i]) {
                n += apps->slots[i]->n_claims;
            }
        }
        free(apps->claims);
        apps->claims = xcalloc(n + 1, sizeof *apps->claims);
        apps->n_claims = 0;
        for (int i = 0; i < WEFT_APP_MAX_APPS; i++) {
            struct weft_app_handle *app = apps->slots[i];
            for (size_t j = 0; app && j < app->n_claims; j++) {
                apps->claims[apps->n_claims++] = (struct apps_claim) {
                    .segment = app->claims[j],
                    .table = app->first_table,
                };
            }
        }
    }
    if (apps->env.changed) {
        apps->env.changed(apps->env.aux);
    }
}

void
apps_host_flows_changed(struct apps *apps, const char *host)
{
    /* Only this host's flows need computing again: with an app adding a
     * flow per packet-in on one host, recomputing every host's flows each
     * time would cost O(all flows) per packet-in.  A host the registry
     * does not know yet (not up, no vNICs) counts as a change for all:
     * adding it here could move the host array under a caller. */
    for (size_t i = 0; host && i < apps->n_hosts; i++) {
        if (!strcmp(apps->hosts[i].name, host)) {
            apps->hosts[i].flows_version++;
            if (apps->env.changed) {
                apps->env.changed(apps->env.aux);
            }
            return;
        }
    }
    apps_changed(apps, false);
}

void
app_error(struct weft_app_handle *app, const char *format, ...)
{
    va_list args;
    char *msg;
    va_start(args, format);
    if (vasprintf(&msg, format, args) < 0) {
        abort();
    }
    va_end(args);

    WEFT_WARN("app %s: %s", app->name, msg);
    app->n_errors++;
    free(app->last_error);
    app->last_error = msg;
}

/* Forgets the app's flows, claims and timers (not its code). */
static void
clear_app(struct weft_app_handle *app)
{
    bool had_claims = app->n_claims > 0;
    bool had_flows = app->flows.n > 0;
    app_cancel_timers(app);
    app_cancel_stats_reqs(app);
    app_flows_clear(&app->flows);
    for (size_t i = 0; i < app->n_claims; i++) {
        free(app->claims[i]);
    }
    free(app->claims);
    app->claims = NULL;
    app->n_claims = 0;
    if (had_flows || had_claims) {
        apps_changed(app->apps, had_claims);
    }
}

static void
call_destroy(struct weft_app_handle *app)
{
    if (app->state == APP_RUNNING && app->so.desc->destroy) {
        app_callback_begin(app->apps);
        app->so.desc->destroy(app);
        app_callback_end(app->apps);
    }
}

/* Frees 'app', whose flows, claims and timers are gone, and closes its
 * code. */
static void
free_handle(struct weft_app_handle *app)
{
    app_flows_destroy(&app->flows);
    app_so_close(&app->so);
    for (size_t i = 0; i < app->n_config; i++) {
        free((char *) app->config[i].key);
        free((char *) app->config[i].value);
    }
    free(app->config);
    free(app->name);
    free(app->path);
    free(app->last_error);
    free(app);
}

/* Unloads 'app' and frees it. */
static void
drop_app(struct apps *apps, struct weft_app_handle *app)
{
    call_destroy(app);
    apps->slots[app->slot] = NULL;
    clear_app(app);
    free_handle(app);
}

/* A handle for the code in 'so' (taken over), in 'slot', with a copy of
 * 'config'.  Not in the registry's slots yet. */
static struct weft_app_handle *
new_handle(struct apps *apps, const char *path, const struct app_so *so,
           int slot, const struct weft_app_kv *config, size_t n_config)
{
    struct weft_app_handle *app = xzalloc(sizeof *app);
    app->apps = apps;
    app->name = xstrdup(so->desc->name);
    app->path = xstrdup(path);
    app->so = *so;
    app->slot = slot;
    app->first_table = PIPELINE_T_APPS_FIRST + slot * WEFT_APP_MAX_TABLES;
    app_flows_init(&app->flows);
    app->config = xcalloc(n_config + 1, sizeof *app->config);
    for (size_t i = 0; i < n_config; i++) {
        app->config[i].key = xstrdup(config[i].key);
        app->config[i].value = xstrdup(config[i].value);
    }
    app->n_config = n_config;
    return app;
}

/* A callback of 'app' returned 'error': the app stops. */
static void
disable(struct weft_app_handle *app, const char *callback, int error)
{
    app_error(app, "%s() failed (%s); app disabled: its flows and claims "
              "are removed (weftctl app-reload %s to start it again)",
              callback, strerror(error), app->name);
    call_destroy(app);
    app->state = APP_DISABLED;
    clear_app(app);
}

/* Calls 'app''s callback 'CB' with the arguments that follow, if the app
 * runs and has one; a failure disables it. */
#define CALL(APP, CB, ...)                                              \
    do {                                                                \
        struct weft_app_handle *app_ = (APP);                           \
        if (app_->state == APP_RUNNING && app_->so.desc->CB) {          \
            app_callback_begin(app_->apps);                             \
            int error_ = app_->so.desc->CB(app_, __VA_ARGS__);          \
            app_callback_end(app_->apps);                               \
            if (error_) {                                               \
                disable(app_, #CB, error_ > 0 ? error_ : EINVAL);       \
            }                                                           \
        }                                                               \
    } while (0)

static struct weft_app_handle *
find_app(const struct apps *apps, const char *name)
{
    for (int i = 0; i < WEFT_APP_MAX_APPS; i++) {
        if (apps->slots[i] && !strcmp(apps->slots[i]->name, name)) {
            return apps->slots[i];
        }
    }
    return NULL;
}

/* Tells a freshly started app what exists: hosts up, vNICs placed. */
static void
replay(struct apps *apps, struct weft_app_handle *app)
{
    for (size_t i = 0; i < apps->n_hosts; i++) {
        if (apps->hosts[i].up) {
            CALL(app, host_up, apps->hosts[i].name);
        }
    }
    for (size_t i = 0; i < apps->n_hosts; i++) {
        for (size_t j = 0; j < apps->hosts[i].n_vnics; j++) {
            CALL(app, vnic_added, &apps->hosts[i].vnics[j]);
        }
    }
}

/* Runs the init() of 'app', whose code is open.  On failure returns a
 * positive errno value and a message. */
static int
start_app(struct weft_app_handle *app, char **errorp)
{
    app->state = APP_RUNNING;
    if (app->so.desc->init) {
        app->in_init = true;
        app_callback_begin(app->apps);
        int error = app->so.desc->init(app, app->config, app->n_config);
        app_callback_end(app->apps);
        app->in_init = false;
        if (error) {
            clear_app(app);
            error = error > 0 ? error : EINVAL;
            *errorp = xasprintf("%s: app %s: init() failed: %s%s%s",
                                app->path, app->name, strerror(error),
                                app->last_error ? "; last error: " : "",
                                app->last_error ? app->last_error : "");
            return error;
        }
    }
    return 0;
}

int
apps_load(struct apps *apps, const char *path, const char *expected_name,
          const struct weft_app_kv *config, size_t n_config, char **errorp)
{
    struct app_so so;
    int error = app_so_open(path, &so, errorp);
    if (error) {
        return error;
    }
    const char *name = so.desc->name;
    if (expected_name && strcmp(name, expected_name)) {
        *errorp = xasprintf("%s: the app calls itself \"%s\", not \"%s\"",
                            path, name, expected_name);
        app_so_close(&so);
        return EINVAL;
    }
    const struct weft_app_handle *dup = find_app(apps, name);
    if (dup) {
        *errorp = xasprintf("%s: an app named \"%s\" is already loaded "
                            "(from %s)", path, name, dup->path);
        app_so_close(&so);
        return EEXIST;
    }
    int slot = 0;
    while (slot < WEFT_APP_MAX_APPS && apps->slots[slot]) {
        slot++;
    }
    if (slot >= WEFT_APP_MAX_APPS) {
        *errorp = xasprintf("%s: %d apps are loaded already, the most "
                            "there are tables for", path, WEFT_APP_MAX_APPS);
        app_so_close(&so);
        return ENOSPC;
    }

    struct weft_app_handle *app = new_handle(apps, path, &so, slot, config,
                                             n_config);
    apps->slots[slot] = app;

    error = start_app(app, errorp);
    if (error) {
        app->state = APP_FAILED;    /* destroy() is not called. */
        drop_app(apps, app);
        return error;
    }
    WEFT_INFO("app %s loaded from %s (ABI %u.%u): tables %d-%d",
              app->name, path, so.desc->abi_major, so.desc->abi_minor,
              app->first_table, app->first_table + WEFT_APP_MAX_TABLES - 1);
    replay(apps, app);
    return 0;
}

int
apps_unload(struct apps *apps, const char *name, char **errorp)
{
    struct weft_app_handle *app = find_app(apps, name);
    if (!app) {
        *errorp = xasprintf("no app named \"%s\" is loaded", name);
        return ENOENT;
    }
    WEFT_INFO("app %s unloaded: its flows and claims are removed", name);
    drop_app(apps, app);
    return 0;
}

int
apps_reload(struct apps *apps, const char *name, char **errorp)
{
    struct weft_app_handle *old = find_app(apps, name);
    if (!old) {
        *errorp = xasprintf("no app named \"%s\" is loaded", name);
        return ENOENT;
    }

    /* The new version starts beside the old one, which keeps running (and
     * keeps its flows on the switches) until the new init() succeeded:
     * a reload that fails changes nothing.  It is read from a private
     * copy, since dlopen() of the path would return the old code. */
    struct app_so so;
    int error = app_so_open_copy(old->path, &so, errorp);
    if (!error && strcmp(so.desc->name, old->name)) {
        *errorp = xasprintf("%s: the new version calls itself \"%s\", not "
                            "\"%s\"", old->path, so.desc->name, old->name);
        app_so_close(&so);
        error = EINVAL;
    }
    struct weft_app_handle *app = NULL;
    if (!error) {
        app = new_handle(apps, old->path, &so, old->slot, old->config,
                         old->n_config);
        app->replaces = old;
        error = start_app(app, errorp);
        app->replaces = NULL;
    }
    if (error) {
        if (app) {
            app->state = APP_FAILED;
            free_handle(app);
        }
        app_error(old, "reload failed, the version %s stays: %s",
                  app_state_to_string(old->state), *errorp);
        return error;
    }

    /* Swap.  The old flows are forgotten and the new ones, declared by the
     * new init(), take their place in the same slot before weftd's loop
     * runs again, so the switches only see what differs. */
    app->n_packet_ins = old->n_packet_ins;
    app->n_errors = old->n_errors;
    call_destroy(old);
    apps->slots[old->slot] = app;
    clear_app(old);
    free_handle(old);
    WEFT_INFO("app %s reloaded from %s", app->name, app->path);
    apps_changed(apps, true);
    replay(apps, app);
    return 0;
}

/* Events. */

static struct apps_host *
get_host(struct apps *apps, const char *name)
{
    for (size_t i = 0; i < apps->n_hosts; i++) {
        if (!strcmp(apps->hosts[i].name, name)) {
            return &apps->hosts[i];
        }
    }
    apps->hosts = xrealloc(apps->hosts,
                           (apps->n_hosts + 1) * sizeof *apps->hosts);
    struct apps_host *h = &apps->hosts[apps->n_hosts++];
    *h = (struct apps_host) { .name = xstrdup(name) };
    return h;
}

void
apps_host_up(struct apps *apps, const char *host)
{
    get_host(apps, host)->up = true;
    for (int i = 0; i < WEFT_APP_MAX_APPS; i++) {
        if (apps->slots[i]) {
            CALL(apps->slots[i], host_up, host);
        }
    }
}

void
apps_host_down(struct apps *apps, const char *host)
{
    get_host(apps, host)->up = false;
    for (int i = 0; i < WEFT_APP_MAX_APPS; i++) {
        if (apps->slots[i]) {
            CALL(apps->slots[i], host_down, host);
        }
    }
}

static bool
same_vnic(const struct weft_app_vnic *a, const struct weft_app_vnic *b)
{
    return (!strcmp(a->tap, b->tap) && !strcmp(a->mac, b->mac)
            && !strcmp(a->vm, b->vm) && !strcmp(a->segment, b->segment)
            && a->ofport == b->ofport);
}

static bool
has_vnic(const struct weft_app_vnic *list, size_t n,
         const struct weft_app_vnic *v)
{
    for (size_t i = 0; i < n; i++) {
        if (same_vnic(&list[i], v)) {
            return true;
        }
    }
    return false;
}

void
apps_set_vnics(struct apps *apps, const char *host,
               const struct weft_app_vnic *vnics, size_t n)
{
    struct apps_host *h = get_host(apps, host);
    struct weft_app_vnic *old = h->vnics;
    size_t n_old = h->n_vnics;

    h->vnics = xcalloc(n + 1, sizeof *h->vnics);
    for (size_t i = 0; i < n; i++) {
        h->vnics[i] = (struct weft_app_vnic) {
            .host = xstrdup(host),
            .vm = xstrdup(vnics[i].vm ? vnics[i].vm : ""),
            .tap = xstrdup(vnics[i].tap ? vnics[i].tap : ""),
            .mac = xstrdup(vnics[i].mac ? vnics[i].mac : ""),
            .segment = xstrdup(vnics[i].segment ? vnics[i].segment : ""),
            .ofport = vnics[i].ofport,
        };
    }
    h->n_vnics = n;

    /* Removals first, so that a vNIC that changed is removed, then
     * added.  'h' may move meanwhile (a callback's lookups do not add
     * hosts, but stay safe): use the arrays, not 'h'. */
    struct weft_app_vnic *now = h->vnics;
    for (size_t i = 0; i < n_old; i++) {
        if (!has_vnic(now, n, &old[i])) {
            for (int s = 0; s < WEFT_APP_MAX_APPS; s++) {
                if (apps->slots[s]) {
                    CALL(apps->slots[s], vnic_removed, &old[i]);
                }
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!has_vnic(old, n_old, &now[i])) {
            for (int s = 0; s < WEFT_APP_MAX_APPS; s++) {
                if (apps->slots[s]) {
                    CALL(apps->slots[s], vnic_added, &now[i]);
                }
            }
        }
    }
    free_vnics(old, n_old);
}

void
apps_policy_changed(struct apps *apps)
{
    for (int i = 0; i < WEFT_APP_MAX_APPS; i++) {
        if (apps->slots[i] && apps->slots[i]->state == APP_RUNNING
            && apps->slots[i]->so.desc->policy_changed) {
            struct weft_app_handle *app = apps->slots[i];
            app_callback_begin(apps);
            int error = app->so.desc->policy_changed(app);
            app_callback_end(apps);
            if (error) {
                disable(app, "policy_changed", error > 0 ? error : EINVAL);
            }
        }
    }
}

static struct weft_app_handle *
app_of_table(const struct apps *apps, int table)
{
    if (table < PIPELINE_T_APPS_FIRST || table > PIPELINE_T_APPS_LAST) {
        return NULL;
    }
    int slot = (table - PIPELINE_T_APPS_FIRST) / WEFT_APP_MAX_TABLES;
    return slot < WEFT_APP_MAX_APPS ? apps->slots[slot] : NULL;
}

bool
apps_packet_in(struct apps *apps, const struct weft_app_packet_in *pi)
{
    struct weft_app_handle *app = app_of_table(apps, pi->table);
    if (!app || app->state != APP_RUNNING) {
        return false;
    }
    app->n_packet_ins++;
    struct weft_app_packet_in rel = *pi;
    rel.table = pi->table - app->first_table;
    CALL(app, packet_in, &rel);
    return true;
}

void
apps_flow_removed(struct apps *apps, const char *host, uint8_t table,
                  uint16_t priority, uint64_t cookie)
{
    int slot = app_flows_cookie_slot(cookie);
    struct weft_app_handle *app = (slot >= 0 && slot < WEFT_APP_MAX_APPS
                                   ? apps->slots[slot] : NULL);
    if (app && table >= app->first_table
        && table < app->first_table + WEFT_APP_MAX_TABLES
        && app_flows_expired(&app->flows, slot, host,
                             table - app->first_table, priority, cookie)) {
        apps_host_flows_changed(apps, host);
    }
}

/* What weftd takes. */

unsigned int
apps_get_version(const struct apps *apps)
{
    return apps->version;
}

unsigned int
apps_get_flows_version(const struct apps *apps, const char *host)
{
    for (size_t i = 0; i < apps->n_hosts; i++) {
        if (!strcmp(apps->hosts[i].name, host)) {
            /* Both only grow: any change changes the sum. */
            return apps->version + apps->hosts[i].flows_version;
        }
    }
    return apps->version;
}

unsigned int
apps_get_claims_version(const struct apps *apps)
{
    return apps->claims_version;
}

void
apps_get_flows(const struct apps *apps, const char *host,
               struct weft_flow_set *out)
{
    for (int i = 0; i < WEFT_APP_MAX_APPS; i++) {
        const struct weft_app_handle *app = apps->slots[i];
        if (app && app->state == APP_RUNNING) {
            app_flows_emit(&app->flows, app->slot, app->first_table, host,
                           out);
        }
    }
}

size_t
apps_get_claims(const struct apps *apps, const struct apps_claim **claims)
{
    *claims = apps->claims;
    return apps->n_claims;
}

const char *
apps_cookie_owner(const struct apps *apps, uint64_t cookie)
{
    int slot = app_flows_cookie_slot(cookie);
    return (slot >= 0 && slot < WEFT_APP_MAX_APPS && apps->slots[slot]
            ? apps->slots[slot]->name : NULL);
}

size_t
apps_count(const struct apps *apps)
{
    size_t n = 0;
    for (int i = 0; i < WEFT_APP_MAX_APPS; i++) {
        n += apps->slots[i] != NULL;
    }
    return n;
}

void
apps_get_info(const struct apps *apps, size_t idx, struct apps_info *info)
{
    const struct weft_app_handle *app = NULL;
    for (int i = 0; i < WEFT_APP_MAX_APPS && !app; i++) {
        if (apps->slots[i] && !idx--) {
            app = apps->slots[i];
        }
    }
    const struct weft_app_descriptor *d = app->so.desc;
    *info = (struct apps_info) {
        .name = app->name,
        .path = app->path,
        .description = d && d->description ? d->description : "",
        .state = app_state_to_string(app->state),
        .slot = app->slot,
        .first_table = app->first_table,
        .last_table = app->first_table + WEFT_APP_MAX_TABLES - 1,
        .abi_major = d ? d->abi_major : 0,
        .abi_minor = d ? d->abi_minor : 0,
        .n_packet_ins = app->n_packet_ins,
        .n_flows = app->state == APP_RUNNING ? app->flows.n : 0,
        .n_errors = app->n_errors,
        .last_error = app->last_error,
    };
}
