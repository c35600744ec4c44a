/* Weft's libvirt network on every host, kept in step with the segments,
 * and "weftctl network-sync".
 *
 * virt-net.h has the network's shape; each host's libvirt worker
 * (virt-host.h) defines or updates it there, and does so again after every
 * reconnect.  This module, on the loop thread, gives every host the network
 * it should have whenever the policy in force, the configuration or the set
 * of hosts changes.  Nothing is given before the policy has been read from
 * the policy database: an empty policy must not strip a network of its
 * portgroups after a restart.
 *
 * network-sync makes the hosts look again now and answers, host by host,
 * once each has reported or after NET_SYNC_TIMEOUT_S: a host whose libvirt
 * is not connected is reported as down at once and does not hold up the
 * others. */
#ifndef WEFT_NET_SYNC_H
#define WEFT_NET_SYNC_H 1

#include <msgpack.h>
#include <stdbool.h>

struct host;
struct rpc_request;
struct virt_net_spec;
struct weftd;

#define NET_SYNC_TIMEOUT_S 8.0

struct net_sync *net_sync_create(struct weftd *);

/* Answers requests still waiting (with what is known).  Accepts NULL. */
void net_sync_destroy(struct net_sync *);

/* Handles "network-sync [HOST]" ('host' may be NULL: every host);
 * answers 'req' now or later. */
void net_sync_request(struct net_sync *, struct rpc_request *req,
                      const char *host);

/* Fills 'spec' with the network 'host' should have under the policy in
 * force.  False (and 'spec' untouched) if Weft keeps none: libvirt-network
 * is "none", or the policy has not been read yet. */
bool net_sync_get_spec(const struct weftd *, const struct host *,
                       struct virt_net_spec *spec);

/* Packs two map entries for "show": "libvirt_network" (Weft's network on
 * 'host': name, result, message) and "libvirt_networks" (every network of
 * the host, with "managed" and, for the others, "reason": why their VMs
 * get no Weft policy). */
void net_sync_pack_host(msgpack_packer *, const struct weftd *,
                        const struct host *);

#endif /* net-sync.h */
