/* What weftd offers a controller app: the weft_app_*() functions of
 * <weft/app.h>, which the apps' shared objects call (weftd exports them,
 * and only them: apps/weft-app.dynlist). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app-internal.h"
#include "log.h"
#include "xalloc.h"

WEFT_LOG_MODULE(app);

/* Everything an app calls is exported from weftd; declared in app.h. */
#define WEFT_APP_EXPORT __attribute__((visibility("default")))

WEFT_APP_EXPORT const char *
weft_app_name(const struct weft_app_handle *app)
{
    return app->name;
}

WEFT_APP_EXPORT const char *
weft_app_config_get(const struct weft_app_handle *app, const char *key)
{
    for (size_t i = 0; i < app->n_config; i++) {
        if (!strcmp(app->config[i].key, key)) {
            return app->config[i].value;
        }
    }
    return NULL;
}

WEFT_APP_EXPORT unsigned int
weft_app_table(const struct weft_app_handle *app, uint8_t table)
{
    return table < WEFT_APP_MAX_TABLES ? app->first_table + table : 0;
}

WEFT_APP_EXPORT int
weft_app_flow_add(struct weft_app_handle *app, const struct weft_app_flow *f)
{
    if (f->table >= WEFT_APP_MAX_TABLES) {
        app_error(app, "flow refused: table %u is outside the app's tables "
                  "(0-%d, which are OpenFlow tables %d-%d)", f->table,
                  WEFT_APP_MAX_TABLES - 1, app->first_table,
                  app->first_table + WEFT_APP_MAX_TABLES - 1);
        return EINVAL;
    }
    if (!f->actions || !f->actions[0]) {
        app_error(app, "flow refused: table %u priority %u \"%s\" has no "
                  "actions (say \"drop\" to drop)", f->table, f->priority,
                  f->match ? f->match : "");
        return EINVAL;
    }
    if (app_flows_add(&app->flows, f)) {
        apps_host_flows_changed(app->apps, f->host);
    }
    return 0;
}

WEFT_APP_EXPORT int
weft_app_flow_remove(struct weft_app_handle *app, const char *host,
                     uint8_t table, uint16_t priority, const char *match)
{
    if (!app_flows_remove(&app->flows, host, table, priority, match)) {
        return ENOENT;
    }
    apps_host_flows_changed(app->apps, host);
    return 0;
}

WEFT_APP_EXPORT size_t
weft_app_flow_count(const struct weft_app_handle *app)
{
    return app->flows.n;
}

WEFT_APP_EXPORT int
weft_app_packet_out(struct weft_app_handle *app, const char *host,
                    uint32_t in_port, const char *actions,
                    const void *packet, size_t len)
{
    const struct apps_env *env = &app->apps->env;
    char *error_msg = NULL;
    int error = env->packet_out(env->aux, host, in_port, actions, packet,
                                len, &error_msg);
    if (error == EINVAL) {
        app_error(app, "packet-out refused: %s", error_msg);
    } else if (error) {
        WEFT_DBG("app %s: packet-out to %s: %s", app->name, host,
                 error_msg ? error_msg : strerror(error));
    }
    free(error_msg);
    return error;
}

WEFT_APP_EXPORT int
weft_app_claim_segment(struct weft_app_handle *app, const char *segment)
{
    for (size_t j = 0; j < app->n_claims; j++) {
        if (!strcmp(app->claims[j], segment)) {
            return 0;
        }
    }
    for (int i = 0; i < WEFT_APP_MAX_APPS; i++) {
        const struct weft_app_handle *other = app->apps->slots[i];
        /* During a reload, 'app' is not in a slot yet, and takes over the
         * claims of the version it replaces. */
        if (other == app || other == app->replaces) {
            continue;
        }
        for (size_t j = 0; other && j < other->n_claims; j++) {
            if (!strcmp(other->claims[j], segment)) {
                app_error(app, "segment %s is already claimed by app %s",
                          segment, other->name);
                return EBUSY;
            }
        }
    }
    app->claims = xrealloc(app->claims,
                           (app->n_claims + 1) * sizeof *app->claims);
    app->claims[app->n_claims++] = xstrdup(segment);
    WEFT_INFO("app %s claims segment %s: its traffic goes to table %d",
              app->name, segment, app->first_table);
    apps_changed(app->apps, true);
    return 0;
}

/* Timers. */

static void
unlink_timer(struct weft_app_timer *t)
{
    struct weft_app_handle *app = t->app;
    if (t->prev) {
        t->prev->next = t->next;
    } else {
        app->timers = t->next;
    }
    if (t->next) {
        t->next->prev = t->prev;
    }
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct weft_app_timer *t = w->data;
    struct weft_app_handle *app = t->app;
    bool repeat = w->repeat > 0;
    (void) loop;
    (void) revents;

    if (!repeat) {
        /* Gone before the callback, which may add timers. */
        unlink_timer(t);
    }
    weft_app_timer_func *cb = t->cb;
    void *aux = t->aux;
    if (!repeat) {
        free(t);
    }
    app_callback_begin(app->apps);
    cb(app, aux);
    app_callback_end(app->apps);
}

WEFT_APP_EXPORT struct weft_app_timer *
weft_app_timer_add(struct weft_app_handle *app, unsigned int ms,
                   unsigned int repeat_ms, weft_app_timer_func *cb, void *aux)
{
    if (!cb) {
        return NULL;
    }
    struct weft_app_timer *t = xzalloc(sizeof *t);
    t->app = app;
    t->cb = cb;
    t->aux = aux;
    ev_timer_init(&t->w, timer_cb, ms / 1000.0, repeat_ms / 1000.0);
    t->w.data = t;
    ev_timer_start(app->apps->env.loop, &t->w);
    t->next = app->timers;
    if (t->next) {
        t->next->prev = t;
    }
    app->timers = t;
    return t;
}

WEFT_APP_EXPORT void
weft_app_timer_cancel(struct weft_app_handle *app, struct weft_app_timer *t)
{
    if (t) {
        ev_timer_stop(app->apps->env.loop, &t->w);
        unlink_timer(t);
        free(t);
    }
}

void
app_cancel_timers(struct weft_app_handle *app)
{
    while (app->timers) {
        weft_app_timer_cancel(app, app->timers);
    }
}

/* Logging. */

WEFT_APP_EXPORT void
weft_app_log(const struct weft_app_handle *app,
             enum weft_app_log_level level, const char *format, ...)
{
    static const enum weft_log_level levels[] = {
        [WEFT_APP_LOG_ERR] = WEFT_LOG_ERR,
        [WEFT_APP_LOG_WARN] = WEFT_LOG_WARN,
        [WEFT_APP_LOG_INFO] = WEFT_LOG_INFO,
        [WEFT_APP_LOG_DBG] = WEFT_LOG_DBG,
    };
    enum weft_log_level l = (unsigned) level <= WEFT_APP_LOG_DBG
                            ? levels[level] : WEFT_LOG_INFO;
    if (l > weft_log_threshold) {
        return;
    }
    char msg[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(msg, sizeof msg, format, args);
    va_end(args);
    weft_log_write("app", l, "%s: %s", app->name, msg);
}

/* Lookups. */

WEFT_APP_EXPORT size_t
weft_app_get_vnics(const struct weft_app_handle *app, const char *host,
                   const struct weft_app_vnic **vnics)
{
    struct apps *apps = app->apps;
    size_t n = 0;
    for (size_t i = 0; i < apps->n_hosts; i++) {
        if (!host || !strcmp(host, apps->hosts[i].name)) {
            n += apps->hosts[i].n_vnics;
        }
    }
    /* A copy of the array (its strings are the registry's, which change
     * only between callbacks): a later call does not disturb it. */
    struct weft_app_vnic *all = app_scratch_alloc(apps, n * sizeof *all);
    n = 0;
    for (size_t i = 0; i < apps->n_hosts; i++) {
        const struct apps_host *h = &apps->hosts[i];
        if ((!host || !strcmp(host, h->name)) && h->n_vnics) {
            memcpy(&all[n], h->vnics, h->n_vnics * sizeof *h->vnics);
            n += h->n_vnics;
        }
    }
    *vnics = all;
    return n;
}

WEFT_APP_EXPORT const char *
weft_app_get_policy(const struct weft_app_handle *app,
                    long long int *generation)
{
    struct apps *apps = app->apps;
    long long int gen = 0;
    const char *doc = (apps->env.policy
                       ? apps->env.policy(apps->env.aux, &gen) : NULL);
    size_t len = doc ? strlen(doc) : 0;
    char *copy = app_scratch_alloc(apps, len + 1);
    memcpy(copy, doc ? doc : "", len + 1);
    if (generation) {
        *generation = doc ? gen : 0;
    }
    return copy;
}

WEFT_APP_EXPORT size_t
weft_app_get_hosts(const struct weft_app_handle *app,
                   const char *const **hosts)
{
    struct apps *apps = app->apps;
    const char **up = app_scratch_alloc(apps, apps->n_hosts * sizeof *up);
    size_t n = 0;
    for (size_t i = 0; i < apps->n_hosts; i++) {
        if (apps->hosts[i].up) {
            up[n++] = apps->hosts[i].name;
        }
    }
    *hosts = up;
    return n;
}
