/* weftd's top-level state, shared by its main loop (weftd.c) and its RPC
 * methods (rpc-methods.c).  Only ever touched on the loop thread. */
#ifndef WEFT_WEFTD_H
#define WEFT_WEFTD_H 1

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "datapath.h"
#include "inventory.h"
#include "policy-store.h"
#include "weft-config.h"

#define WEFT_VERSION "0.1.0"

struct apps;
struct metrics_server;
struct net_sync;
struct ctl_server;
struct host;
struct of_listener;
struct rpc_server;
struct weftd_apps;

struct weftd {
    struct ev_loop *loop;
    const char *config_path;
    struct weft_config cfg;
    struct host **hosts;
    size_t n_hosts;
    struct of_listener *listener;
    struct ctl_server *ctl;
    struct rpc_server *rpc;
    struct inventory inventory;
    struct policy_store policy;
    struct datapath datapath;
    struct apps *apps;              /* Controller apps (apps.h). */
    struct metrics_server *metrics; /* NULL without metrics-listen. */
    struct weftd_apps *apps_glue;   /* weftd-apps.c's state. */
    struct net_sync *net_sync;      /* Weft's libvirt network (net-sync.h). */
    ev_signal sigterm, sigint, sighup;
    bool exiting;

    /* Active/standby (standby-lock): while 'standby', the configuration
     * waits in 'standby_cfg' and no host, switch or listener is touched;
     * it is applied once this weftd holds the lock. */
    bool standby;
    struct weft_config standby_cfg;
};

/* The managed host called 'name', or NULL. */
struct host *weftd_find_host(const struct weftd *, const char *name);

/* Registers weftctl's methods (rpc-methods.c). */
void rpc_methods_register(struct weftd *, struct rpc_server *);

/* Registers the app-* methods (app-rpc.c). */
void app_rpc_register(struct weftd *, struct rpc_server *);

#endif /* weftd.h */
