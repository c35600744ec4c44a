/* The flows one controller app declared, by host, and how they become
 * flows of the core's kind: absolute tables in the app's slice of 100-199
 * and cookies with Weft's mark, kind WEFT_COOKIE_APP, the app's slot and a
 * hash of the flow's key (table, priority, match).  The cookie depends on
 * nothing else, so a reloaded app that declares the same flows gets the
 * same cookies and the switches see no change. */
#ifndef WEFT_APP_FLOWS_H
#define WEFT_APP_FLOWS_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct weft_app_flow;
struct weft_flow_set;

struct app_flow {
    char *host;                 /* NULL: every host. */
    uint8_t table;              /* Relative to the app. */
    uint16_t priority;
    char *match;
    char *actions;
    uint16_t idle_timeout;
    uint16_t hard_timeout;
};

struct app_flows {
    struct app_flow *flows;
    size_t n, allocated;
};

void app_flows_init(struct app_flows *);
void app_flows_destroy(struct app_flows *);
void app_flows_clear(struct app_flows *);

/* Adds 'f' (copied), replacing a flow with the same host, table, priority
 * and match.  Returns false if that flow was there already, the same in
 * every field (an app that declares a flow on every packet-in, such as
 * l2learn, then changes nothing).  The caller has checked the table. */
bool app_flows_add(struct app_flows *, const struct weft_app_flow *f);

/* Removes the flow with this key; false if there is none. */
bool app_flows_remove(struct app_flows *, const char *host, uint8_t table,
                      uint16_t priority, const char *match);

/* Removes the flow that expired on 'host': the one for 'host', else the
 * one for every host (which then stays for the other hosts, and comes
 * back on 'host' at its next declaration), with this relative table,
 * priority and cookie.  Returns false if there is none. */
bool app_flows_expired(struct app_flows *, int slot, const char *host,
                       uint8_t table, uint16_t priority, uint64_t cookie);

/* The cookie of a flow of the app in 'slot'. */
uint64_t app_flows_cookie(int slot, uint8_t table, uint16_t priority,
                          const char *match);

/* The slot of an app cookie, or -1 if it is not one. */
int app_flows_cookie_slot(uint64_t cookie);

/* Appends to 'out' the flows for 'host', in absolute tables starting at
 * 'first_table'. */
void app_flows_emit(const struct app_flows *, int slot, int first_table,
                    const char *host, struct weft_flow_set *out);

#endif /* app-flows.h */
