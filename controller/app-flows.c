/* A controller app's flows (see app-flows.h).  A plain array: lab-sized
 * apps declare tens to thousands of flows, and each change is one scan. */
#include "app-flows.h"

#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "weft/app.h"
#include "xalloc.h"

static bool
nullable_streq(const char *a, const char *b)
{
    return a && b ? !strcmp(a, b) : a == b;
}

void
app_flows_init(struct app_flows *fs)
{
    memset(fs, 0, sizeof *fs);
}

static void
flow_free(struct app_flow *f)
{
    free(f->host);
    free(f->match);
    free(f->actions);
}

void
app_flows_clear(struct app_flows *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        flow_free(&fs->flows[i]);
    }
    fs->n = 0;
}

void
app_flows_destroy(struct app_flows *fs)
{
    if (fs) {
        app_flows_clear(fs);
        free(fs->flows);
        memset(fs, 0, sizeof *fs);
    }
}

static struct app_flow *
find(struct app_flows *fs, const char *host, uint8_t table,
     uint16_t priority, const char *match)
{
    for (size_t i = 0; i < fs->n; i++) {
        struct app_flow *f = &fs->flows[i];
        if (f->table == table && f->priority == priority
            && nullable_streq(f->host, host) && !strcmp(f->match, match)) {
            return f;
        }
    }
    return NULL;
}

bool
app_flows_add(struct app_flows *fs, const struct weft_app_flow *wf)
{
    const char *match = wf->match ? wf->match : "";
    struct app_flow *f = find(fs, wf->host, wf->table, wf->priority, match);
    if (f) {
        if (!strcmp(f->actions, wf->actions)
            && f->idle_timeout == wf->idle_timeout
            && f->hard_timeout == wf->hard_timeout) {
            return false;
        }
        flow_free(f);
    } else {
        if (fs->n >= fs->allocated) {
            fs->allocated = fs->allocated ? 2 * fs->allocated : 8;
            fs->flows = xrealloc(fs->flows,
                                 fs->allocated * sizeof *fs->flows);
        }
        f = &fs->flows[fs->n++];
    }
    *f = (struct app_flow) {
        .host = wf->host ? xstrdup(wf->host) : NULL,
        .table = wf->table,
        .priority = wf->priority,
        .match = xstrdup(match),
        .actions = xstrdup(wf->actions),
        .idle_timeout = wf->idle_timeout,
        .hard_timeout = wf->hard_timeout,
    };
    return true;
}

static void
remove_at(struct app_flows *fs, struct app_flow *f)
{
    flow_free(f);
    *f = fs->flows[--fs->n];
}

bool
app_flows_remove(struct app_flows *fs, const char *host, uint8_t table,
                 uint16_t priority, const char *match)
{
    struct app_flow *f = find(fs, host, table, priority, match ? match : "");
    if (f) {
        remove_at(fs, f);
    }
    return f != NULL;
}

bool
app_flows_expired(struct app_flows *fs, int slot, const char *host,
                  uint8_t table, uint16_t priority, uint64_t cookie)
{
    struct app_flow *global = NULL;
    for (size_t i = 0; i < fs->n; i++) {
        struct app_flow *f = &fs->flows[i];
        if (f->table == table && f->priority == priority
            && app_flows_cookie(slot, f->table, f->priority, f->match)
               == cookie) {
            if (f->host && !strcmp(f->host, host)) {
                remove_at(fs, f);
                return true;
            } else if (!f->host) {
                global = f;
            }
        }
    }
    /* A flow for every host that expired on one: keep it, the switch will
     * get it again with the next change.  Removing it would take it from
     * the other hosts too. */
    return global != NULL;
}

uint64_t
app_flows_cookie(int slot, uint8_t table, uint16_t priority,
                 const char *match)
{
    /* FNV-1a over the key. */
    uint64_t h = 0xcbf29ce484222325ULL;
    uint8_t key[3] = { table, priority >> 8, priority & 0xff };
    for (size_t i = 0; i < sizeof key; i++) {
        h = (h ^ key[i]) * 0x100000001b3ULL;
    }
    for (const char *p = match; *p; p++) {
        h = (h ^ (uint8_t) *p) * 0x100000001b3ULL;
    }
    h ^= h >> 40;
    return weft_cookie(WEFT_COOKIE_APP,
                       ((uint64_t) slot << 40) | (h & 0xffffffffffULL));
}

int
app_flows_cookie_slot(uint64_t cookie)
{
    if ((cookie & WEFT_COOKIE_MARK_MASK) != WEFT_COOKIE_MARK_VALUE
        || ((cookie >> 48) & 0xff) != WEFT_COOKIE_APP) {
        return -1;
    }
    return (cookie >> 40) & 0xff;
}

void
app_flows_emit(const struct app_flows *fs, int slot, int first_table,
               const char *host, struct weft_flow_set *out)
{
    for (size_t i = 0; i < fs->n; i++) {
        const struct app_flow *f = &fs->flows[i];
        if (f->host && strcmp(f->host, host)) {
            continue;
        }
        struct weft_flow wf = {
            .table = first_table + f->table,
            .priority = f->priority,
            .cookie = app_flows_cookie(slot, f->table, f->priority,
                                       f->match),
            .match = f->match,
            .actions = f->actions,
            .idle_timeout = f->idle_timeout,
            .hard_timeout = f->hard_timeout,
        };
        weft_flow_set_add_flow(out, &wf);
    }
}
