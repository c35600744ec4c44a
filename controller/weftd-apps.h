/* Between weftd and its controller apps (apps.h): feeds the registry what
 * happens to hosts, vNICs, the policy and the switches, and merges the
 * apps' flows into each host's.  Used by weftd.c only. */
#ifndef WEFT_WEFTD_APPS_H
#define WEFT_WEFTD_APPS_H 1

#include <stdint.h>

struct host;
struct of_packet_in;
struct weftd;

/* Creates d->apps and loads the apps of d->cfg.  An app that fails to
 * load is logged; weftd runs without it. */
void weftd_apps_init(struct weftd *);
/* Loads the apps of weftd's configuration (done by weftd_apps_init(); a
 * standby calls it again when it takes over, its configuration applied). */
void weftd_apps_load_configured(struct weftd *);
void weftd_apps_destroy(struct weftd *);

/* Hosts up and down, vNIC changes, the apps' flows to the hosts. */
void weftd_apps_run(struct weftd *);

void weftd_apps_packet_in(struct weftd *, struct host *,
                          const struct of_packet_in *);
void weftd_apps_flow_removed(struct weftd *, struct host *, uint8_t table,
                             uint16_t priority, uint64_t cookie);

#endif /* weftd-apps.h */
