/* The Weft app ABI: what a controller app, a shared object loaded into
 * weftd, exports and what weftd offers it.  This is the only header an app
 * needs; it uses no Open vSwitch or libev type, so an app builds out of
 * tree with
 *
 *     cc -shared -fPIC $(pkg-config --cflags weft-app) -o my.so my.c
 *
 * An app exports one symbol, 'weft_app', a const struct
 * weft_app_descriptor (use WEFT_APP_DEFINE below).  weftd dlopen()s the
 * file (RTLD_NOW | RTLD_LOCAL), reads that symbol and refuses the app if
 * the symbol is missing, if its ABI major version differs from weftd's, or
 * if its minor version is newer than weftd's (it may call services weftd
 * does not have); the message names both versions.
 *
 * Threads and blocking: every callback runs on weftd's single event loop
 * thread, and so must every call of the services below.  A callback must
 * return quickly: no blocking I/O, no sleep, no waiting for the network.
 * While it runs, no switch, host or RPC client is served.  Use timers
 * (weft_app_timer_add()) for periodic work.
 *
 * Errors: callbacks return 0 on success or a positive errno value.  A
 * callback that returns an error disables its app: weftd logs the error,
 * calls destroy(), removes the app's flows and segment claims (its
 * segments go back to the core's forwarding) and cancels its timers; weftd
 * itself carries on.  "weftctl app-reload NAME" starts it again.
 *
 * Flows: each loaded app gets a slot and WEFT_APP_MAX_TABLES tables of its
 * own in OpenFlow tables 100-199 (slot S has tables 100 + 10 S to
 * 109 + 10 S).  Flows name them by number relative to the app, 0 to
 * WEFT_APP_MAX_TABLES - 1; weft_app_table() gives the absolute number for
 * actions such as goto_table or resubmit.  weftd gives every app flow a
 * cookie with Weft's mark, the app kind and the app's slot, keeps it in
 * the host's desired flows and reconciles it with the switch like its own
 * flows: after a switch reconnects or weftd restarts, only differences are
 * sent, and an app never sees reconnects.  A flow with an idle or hard
 * timeout that expires on the switch is dropped from the desired flows.
 *
 * Traffic reaches an app's tables when the app claims a segment
 * (weft_app_claim_segment()): on every host with members of that segment,
 * the core's L2 lookup (table 30) sends all of the segment's traffic,
 * after port security, to the app's table 0 instead of forwarding it.  The
 * app then forwards it itself (e.g. with "output:PORT") or sends it to
 * weftd ("controller"), which hands it to the app's packet_in callback.
 * The core's ACLs do not apply to a claimed segment's traffic: the app is
 * responsible for it.  Segments nobody claims are forwarded by the core as
 * before. */
#ifndef WEFT_APP_H
#define WEFT_APP_H 1

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes.  The major version changes when
 * an existing struct or function changes incompatibly; the minor version
 * when something is added.  An app built for 1.0 runs on a 1.1 weftd.
 *
 *   1.0  the first version.
 *   1.1  port counters: weft_app_port_stats_request().
 *   1.2  the policy in force: weft_app_get_policy(). */
#define WEFT_APP_ABI_MAJOR 1
#define WEFT_APP_ABI_MINOR 2

/* Tables per app (relative numbers 0 to WEFT_APP_MAX_TABLES - 1), and how
 * many apps can be loaded at once. */
#define WEFT_APP_MAX_TABLES 10
#define WEFT_APP_MAX_APPS 10

/* An app's name: 1 to WEFT_APP_NAME_MAX characters of [A-Za-z0-9_-]. */
#define WEFT_APP_NAME_MAX 31

/* The loaded app, as weftd sees it.  Opaque; valid from init() until
 * destroy() returns. */
struct weft_app_handle;

/* One "key=value" of the app's configuration: from its [app NAME] section
 * in weftd's configuration file, or from "weftctl app-load PATH
 * key=value...".  "path" is not passed. */
struct weft_app_kv {
    const char *key;
    const char *value;
};

/* A vNIC placed on a host's integration bridge. */
struct weft_app_vnic {
    const char *host;
    const char *vm;
    const char *tap;
    const char *mac;            /* Lowercase "xx:xx:xx:xx:xx:xx". */
    const char *segment;
    int ofport;                 /* OpenFlow port on the host's bridge. */
};

/* A packet that one of the app's flows sent to the controller. */
struct weft_app_packet_in {
    const char *host;
    uint32_t in_port;           /* OpenFlow port it came in on. */
    uint8_t table;              /* Relative to the app (0 = its first). */
    uint64_t cookie;            /* Cookie of the flow that sent it. */
    const uint8_t *packet;      /* Ethernet frame, 'len' bytes. */
    size_t len;
};

/* A flow in one of the app's tables. */
struct weft_app_flow {
    const char *host;           /* Host name; NULL: every host, present and
                                 * future. */
    uint8_t table;              /* Relative: 0 to WEFT_APP_MAX_TABLES - 1. */
    uint16_t priority;
    const char *match;          /* ovs-ofctl syntax, e.g. "dl_dst=..."; ""
                                 * or NULL matches everything. */
    const char *actions;        /* ovs-ofctl syntax, e.g. "output:3". */
    uint16_t idle_timeout;      /* Seconds; 0: none. */
    uint16_t hard_timeout;      /* Seconds; 0: none. */
};

/* Callbacks.  Every one is optional (NULL: not interested).  'config'
 * stays valid until destroy(); strings given to the other callbacks only
 * during the call. */
struct weft_app_descriptor {
    uint32_t abi_major;         /* WEFT_APP_ABI_MAJOR. */
    uint32_t abi_minor;         /* WEFT_APP_ABI_MINOR. */
    uint32_t struct_size;       /* sizeof(struct weft_app_descriptor). */
    const char *name;           /* Unique among loaded apps. */
    const char *description;    /* One line, for "weftctl app-list". */

    /* Called once after loading.  An error refuses the load (nothing of
     * the app stays loaded); use weft_app_log() to say why. */
    int (*init)(struct weft_app_handle *, const struct weft_app_kv *config,
                size_t n_config);

    /* Called before unloading (unload, reload, disable, weftd exit).  The
     * app's flows, claims and timers are removed by weftd afterwards,
     * unless it is a reload: then the new version's init() has already
     * declared its flows (see below) and only differences reach the
     * switches.
     *
     * On "weftctl app-reload", the new version is loaded from a private
     * copy of the file and its init() runs while the old version is still
     * loaded (with its own static data: the two do not share variables);
     * only if init() succeeds is the old version's destroy() called and
     * the old version unloaded.  If it fails, the old version keeps
     * running, with its flows, claims and timers.  So an app must not
     * assume that destroy() of its previous version ran before its init()
     * (e.g. for a file or socket it holds). */
    void (*destroy)(struct weft_app_handle *);

    /* A host's switch connected to weftd (packet-out possible) or its
     * connection went away.  Called for connected hosts after init(). */
    int (*host_up)(struct weft_app_handle *, const char *host);
    int (*host_down)(struct weft_app_handle *, const char *host);

    /* A vNIC was placed, or is gone (or its port or segment changed:
     * removed, then added).  Called for every placed vNIC after init(). */
    int (*vnic_added)(struct weft_app_handle *,
                      const struct weft_app_vnic *);
    int (*vnic_removed)(struct weft_app_handle *,
                        const struct weft_app_vnic *);

    /* One of the app's flows sent a packet to the controller. */
    int (*packet_in)(struct weft_app_handle *,
                     const struct weft_app_packet_in *);

    /* The policy in force changed. */
    int (*policy_changed)(struct weft_app_handle *);

    /* Room for callbacks of later minor versions: leave NULL. */
    void (*reserved[8])(void);
};

/* Defines the exported descriptor, filling in the versions and size:
 *
 *     WEFT_APP_DEFINE(.name = "hello", .init = hello_init);
 */
#define WEFT_APP_DEFINE(...)                                               \
    __attribute__((visibility("default")))                                 \
    const struct weft_app_descriptor weft_app = {                          \
        .abi_major = WEFT_APP_ABI_MAJOR,                                   \
        .abi_minor = WEFT_APP_ABI_MINOR,                                   \
        .struct_size = sizeof(struct weft_app_descriptor),                 \
        __VA_ARGS__                                                        \
    }

/* Services.  Each returns 0 or a positive errno value; EINVAL comes with a
 * log line saying what was wrong.  Hosts are named as in weftd's
 * configuration. */

/* The app's name, and its value for configuration key 'key' (NULL if not
 * given). */
const char *weft_app_name(const struct weft_app_handle *);
const char *weft_app_config_get(const struct weft_app_handle *,
                                const char *key);

/* The absolute OpenFlow table number of the app's relative table 'table',
 * for actions ("goto_table:%u"); 0 if 'table' is out of range. */
unsigned int weft_app_table(const struct weft_app_handle *, uint8_t table);

/* Adds 'flow', or replaces the app's flow with the same host, table,
 * priority and match.  EINVAL: table out of range, or no actions.  The
 * switch may still refuse a flow whose text does not parse: that is logged
 * and shown in "host/list", as for the core's flows. */
int weft_app_flow_add(struct weft_app_handle *, const struct weft_app_flow *);

/* Removes the app's flow with these host, table, priority and match (the
 * match compared as text).  ENOENT if there is none. */
int weft_app_flow_remove(struct weft_app_handle *, const char *host,
                         uint8_t table, uint16_t priority, const char *match);

/* Number of flows the app has declared (on every host). */
size_t weft_app_flow_count(const struct weft_app_handle *);

/* Sends 'packet' ('len' bytes) out of 'host''s switch with 'actions'
 * (ovs-ofctl syntax, e.g. "output:2" or "output:2,output:5"), as if it
 * came in on 'in_port' (0: from the controller).  ENOTCONN if the host's
 * switch is not connected; EINVAL if the actions do not parse. */
int weft_app_packet_out(struct weft_app_handle *, const char *host,
                        uint32_t in_port, const char *actions,
                        const void *packet, size_t len);

/* Sends the traffic of 'segment' to the app's table 0 (see the top of this
 * file).  EBUSY if another app claimed it. */
int weft_app_claim_segment(struct weft_app_handle *, const char *segment);

/* Timers on weftd's loop.  'cb' runs once after 'ms' milliseconds, then
 * every 'repeat_ms' if that is nonzero.  A timer that fired without
 * repeating is gone; cancelling it afterwards is a mistake.  Returns NULL
 * only if 'cb' is NULL. */
struct weft_app_timer;
typedef void weft_app_timer_func(struct weft_app_handle *, void *aux);
struct weft_app_timer *weft_app_timer_add(struct weft_app_handle *,
                                          unsigned int ms,
                                          unsigned int repeat_ms,
                                          weft_app_timer_func *cb, void *aux);
void weft_app_timer_cancel(struct weft_app_handle *, struct weft_app_timer *);

/* Logs a line prefixed with the app's name through weftd's log. */
enum weft_app_log_level {
    WEFT_APP_LOG_ERR,
    WEFT_APP_LOG_WARN,
    WEFT_APP_LOG_INFO,
    WEFT_APP_LOG_DBG,
};
void weft_app_log(const struct weft_app_handle *, enum weft_app_log_level,
                  const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Read-only lookups.  Each call returns an array of its own, owned by
 * weftd: it and the strings it points to stay valid until the callback or
 * timer that asked returns, however many lookups the app makes meanwhile
 * (two results can be used side by side).  Copy what must outlive it.
 *
 * The vNICs placed on 'host' (every host if NULL). */
size_t weft_app_get_vnics(const struct weft_app_handle *, const char *host,
                          const struct weft_app_vnic **vnics);

/* The hosts whose switches are connected. */
size_t weft_app_get_hosts(const struct weft_app_handle *,
                          const char *const **hosts);

/* The policy in force (ABI 1.2): its canonical document (one object per
 * line, "segment web vlan=100 vni=5001", "rule r allow from=a to=b ...",
 * sorted; the format of config/policy.example) and its generation in
 * '*generation' if nonnull (0 and "" before weftd has read a policy).
 * Valid like the lookups above.  policy_changed() says when it changes. */
const char *weft_app_get_policy(const struct weft_app_handle *,
                                long long int *generation);

/* Port counters (ABI 1.1).
 *
 * One OpenFlow port's counters as its switch reports them.  "rx" is what
 * the switch received on the port: on a vNIC's port, what the VM sent;
 * "tx" what the switch sent out of it, to the VM. */
struct weft_app_port_stats {
    uint32_t port;              /* OpenFlow port (struct weft_app_vnic's
                                 * 'ofport'). */
    uint64_t rx_packets, tx_packets;
    uint64_t rx_bytes, tx_bytes;
    uint64_t rx_dropped, tx_dropped;
};

/* Receives the counters of every port of 'host''s switch ('n' of them,
 * valid during the call), or an error and no counters: ENOTCONN (the
 * switch's connection closed before it answered), ETIMEDOUT (no answer
 * within 5 seconds), EPROTO (the switch refused the request). */
typedef void weft_app_port_stats_func(struct weft_app_handle *,
                                      const char *host, int error,
                                      const struct weft_app_port_stats *,
                                      size_t n, void *aux);

/* Asks 'host''s switch for its ports' counters, without waiting: 'cb' is
 * called once, later, from weftd's loop (never from within this call).
 * Returns 0, or ENOTCONN if the host's switch is not connected (then 'cb'
 * is not called).  Requests still pending when the app is unloaded,
 * reloaded or disabled are dropped without calling 'cb'.  Each request
 * costs one OpenFlow round trip: poll every second or so, not faster. */
int weft_app_port_stats_request(struct weft_app_handle *, const char *host,
                                weft_app_port_stats_func *cb, void *aux);

#ifdef __cplusplus
}
#endif

#endif /* weft/app.h */
