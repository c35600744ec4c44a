/* Port counters for controller apps (ABI 1.1): the app's asynchronous
 * request, weftd's answer routed back to it by request ID, a timeout for
 * answers that never come (a switch that is slow or a listener that was
 * replaced), and the requests dropped when their app goes.  weftd asks the
 * switch through apps_env's port_stats (weftd-apps.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app-internal.h"
#include "log.h"
#include "xalloc.h"

WEFT_LOG_MODULE(app);

/* An answer later than this is dropped and the app told ETIMEDOUT. */
#define STATS_TIMEOUT_S 5.0

static void
unlink_req(struct app_stats_req *r)
{
    struct apps *apps = r->apps;
    ev_timer_stop(apps->env.loop, &r->timeout);
    if (r->prev) {
        r->prev->next = r->next;
    } else {
        apps->stats_reqs = r->next;
    }
    if (r->next) {
        r->next->prev = r->prev;
    }
}

static void
free_req(struct app_stats_req *r)
{
    free(r->host);
    free(r);
}

/* Hands the answer to the app, if it still runs, and forgets 'r'. */
static void
complete(struct app_stats_req *r, int error,
         const struct weft_app_port_stats *stats, size_t n)
{
    struct weft_app_handle *app = r->app;
    unlink_req(r);
    if (app->state == APP_RUNNING) {
        app_callback_begin(r->apps);
        r->cb(app, r->host, error, stats, n, r->aux);
        app_callback_end(r->apps);
    }
    free_req(r);
}

static void
timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct app_stats_req *r = w->data;
    (void) loop;
    (void) revents;
    WEFT_DBG("app %s: port stats of %s: no answer in %.0f s", r->app->name,
             r->host, STATS_TIMEOUT_S);
    complete(r, ETIMEDOUT, NULL, 0);
}

__attribute__((visibility("default"))) int
weft_app_port_stats_request(struct weft_app_handle *app, const char *host,
                            weft_app_port_stats_func *cb, void *aux)
{
    struct apps *apps = app->apps;
    if (!cb || !host) {
        app_error(app, "port stats request without %s",
                  cb ? "a host" : "a callback");
        return EINVAL;
    }
    if (!apps->env.port_stats) {
        return ENOTCONN;
    }
    struct app_stats_req *r = xzalloc(sizeof *r);
    r->apps = apps;
    r->app = app;
    r->id = ++apps->next_stats_id;
    r->host = xstrdup(host);
    r->cb = cb;
    r->aux = aux;
    int error = apps->env.port_stats(apps->env.aux, host, r->id);
    if (error) {
        free_req(r);
        return error;
    }
    ev_timer_init(&r->timeout, timeout_cb, STATS_TIMEOUT_S, 0);
    r->timeout.data = r;
    ev_timer_start(apps->env.loop, &r->timeout);
    r->next = apps->stats_reqs;
    if (r->next) {
        r->next->prev = r;
    }
    apps->stats_reqs = r;
    return 0;
}

void
apps_port_stats_reply(struct apps *apps, uint64_t id, int error,
                      const struct weft_app_port_stats *stats, size_t n)
{
    for (struct app_stats_req *r = apps->stats_reqs; r; r = r->next) {
        if (r->id == id) {
            complete(r, error, stats, n);
            return;
        }
    }
}

void
app_cancel_stats_reqs(struct weft_app_handle *app)
{
    struct apps *apps = app->apps;
    struct app_stats_req *r = apps->stats_reqs;
    while (r) {
        struct app_stats_req *next = r->next;
        if (r->app == app) {
            unlink_req(r);
            free_req(r);
        }
        r = next;
    }
}
