/* Flow export (sFlow, IPFIX, NetFlow): from the policy's export objects to
 * the rows every managed host's bridge should have, and their state for
 * weftctl's export-list.  The rows themselves are reconciled by each
 * host's OVSDB session (ofproto-glue/vswitch-export.h); see
 * docs/flow-export.md. */
#ifndef WEFT_FLOW_EXPORT_H
#define WEFT_FLOW_EXPORT_H 1

struct host;
struct policy;
struct rpc_server;
struct weftd;

/* Gives host 'h' the exports of 'policy': every export on its bridge, with
 * the host's tunnel IP as the sFlow agent address (so that collectors tell
 * hosts apart by it). */
void flow_export_set_host(struct host *h, const struct policy *policy);

/* Registers "export-list": each export of the policy in force, with its
 * state on every host. */
void flow_export_rpc_register(struct weftd *, struct rpc_server *);

#endif /* flow-export.h */
