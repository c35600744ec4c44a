/* Flow export: policy to hosts, and its state (see flow-export.h). */
#include "flow-export.h"

#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "policy.h"
#include "rpc.h"
#include "weft-config.h"
#include "weftd.h"
#include "xalloc.h"

/* The glue's types follow policy.h's order: a policy type is a vswitch
 * type. */
_Static_assert((int) POLICY_EXPORT_SFLOW == (int) VSWITCH_EXPORT_SFLOW
               && (int) POLICY_EXPORT_IPFIX == (int) VSWITCH_EXPORT_IPFIX
               && (int) POLICY_EXPORT_NETFLOW
                  == (int) VSWITCH_EXPORT_NETFLOW,
               "export types in the same order");

void
flow_export_set_host(struct host *h, const struct policy *policy)
{
    size_t n = policy->n_exports;
    struct vswitch_export_spec *specs = xcalloc(n + 1, sizeof *specs);
    const char *agent = host_get_config(h)->tunnel_ip;

    for (size_t i = 0; i < n; i++) {
        const struct policy_export *e = &policy->exports[i];
        specs[i] = (struct vswitch_export_spec) {
            .type = (enum vswitch_export_type) e->type,
            .name = e->name,
            .targets = (const char **) e->collectors,
            .n_targets = e->n_collectors,
            .sampling = e->sampling,
            .polling = e->polling,
            .header = e->header,
            .agent = e->type == POLICY_EXPORT_SFLOW ? agent : NULL,
            .active_timeout = e->active_timeout,
            .cache_max_flows = e->cache_max_flows,
        };
        if (e->n_segments) {
            /* Sampled by the flows' sample() actions, not by the IPFIX
             * row (pipeline.h). */
            specs[i].collector_set_id = policy_export_collector_set_id(
                e->name);
            specs[i].sampling = 0;
        }
    }
    host_set_exports(h, specs, n);
    free(specs);
}

/* The state of export 'e' on host 'h', for people: a host that is not
 * connected says so rather than what its last OVSDB contents said. */
static const char *
host_export_state(const struct host *h, const struct policy_export *e)
{
    enum host_state hs = host_get_state(h);
    if (hs != HOST_READY && hs != HOST_SYNCING) {
        return "host-down";
    }
    return vswitch_export_state_to_string(
        e->n_segments ? host_get_export_set_state(h, e->name)
        : host_get_export_state(h, (enum vswitch_export_type) e->type));
}

static void
pack_export(msgpack_packer *pk, const struct weftd *d,
            const struct policy_export *e)
{
    size_t n_installed = 0;
    for (size_t i = 0; i < d->n_hosts; i++) {
        n_installed += !strcmp(host_export_state(d->hosts[i], e),
                               "installed");
    }

    msgpack_pack_map(pk, 7);
    rpc_pack_kv_string(pk, "name", e->name);
    rpc_pack_key(pk, "segments");
    msgpack_pack_array(pk, e->n_segments);
    for (size_t i = 0; i < e->n_segments; i++) {
        rpc_pack_string(pk, e->segments[i]);
    }
    rpc_pack_kv_string(pk, "type", policy_export_type_to_string(e->type));
    rpc_pack_key(pk, "collectors");
    msgpack_pack_array(pk, e->n_collectors);
    for (size_t i = 0; i < e->n_collectors; i++) {
        rpc_pack_string(pk, e->collectors[i]);
    }
    rpc_pack_kv_uint(pk, "installed", n_installed);
    rpc_pack_kv_uint(pk, "n_hosts", d->n_hosts);
    rpc_pack_key(pk, "hosts");
    msgpack_pack_array(pk, d->n_hosts);
    for (size_t i = 0; i < d->n_hosts; i++) {
        msgpack_pack_map(pk, 2);
        rpc_pack_kv_string(pk, "host", host_get_name(d->hosts[i]));
        rpc_pack_kv_string(pk, "state", host_export_state(d->hosts[i], e));
    }
}

static void
m_export_list(struct rpc_request *req, const msgpack_object *params,
              void *d_)
{
    const struct weftd *d = d_;
    const struct policy *p = d->policy.current;
    (void) params;

    msgpack_packer *pk = rpc_reply_begin(req);
    msgpack_pack_array(pk, p->n_exports);
    for (size_t i = 0; i < p->n_exports; i++) {
        pack_export(pk, d, &p->exports[i]);
    }
    rpc_reply_end(req);
}

void
flow_export_rpc_register(struct weftd *d, struct rpc_server *rpc)
{
    rpc_server_register(rpc, "export-list", m_export_list, d);
}
