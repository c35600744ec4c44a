/* Which object made a flow (see cookie-owner.h). */
#include "cookie-owner.h"

#include "apps.h"
#include "flow.h"
#include "host.h"
#include "mirror-plan.h"
#include "pipeline.h"
#include "policy.h"
#include "weftd.h"
#include "xalloc.h"

char *
cookie_owner(const struct weftd *d, uint64_t cookie)
{
    const struct policy *p = d->policy.current;
    switch ((cookie >> 48) & 0xff) {
    case WEFT_COOKIE_RULE:
        for (size_t i = 0; i < p->n_rules; i++) {
            if (pipeline_rule_cookie(p->rules[i].name) == cookie) {
                return xasprintf("rule %s", p->rules[i].name);
            }
        }
        break;
    case WEFT_COOKIE_SEGMENT:
        for (size_t i = 0; i < p->n_segments; i++) {
            if (pipeline_segment_cookie(p->segments[i].name) == cookie) {
                return xasprintf("segment %s", p->segments[i].name);
            }
        }
        break;
    case WEFT_COOKIE_TUNNEL:
        for (size_t i = 0; i < d->n_hosts; i++) {
            const char *peer = host_get_name(d->hosts[i]);
            if (pipeline_tunnel_cookie(peer) == cookie) {
                return xasprintf("tunnel to %s", peer);
            }
        }
        break;
    case WEFT_COOKIE_MIRROR:
        if (cookie == weft_cookie(WEFT_COOKIE_MIRROR, 0)) {
            return xstrdup("mirror epoch (makes OVS revalidate)");
        }
        for (size_t i = 0; i < p->n_mirrors; i++) {
            uint32_t key = mirror_plan_key(p, p->mirrors[i].name);
            if (weft_cookie(WEFT_COOKIE_MIRROR, key) == cookie) {
                return xasprintf("mirror %s", p->mirrors[i].name);
            }
        }
        break;
    case WEFT_COOKIE_APP: {
        const char *app = apps_cookie_owner(d->apps, cookie);
        return app ? xasprintf("app %s", app) : NULL;
    }
    case WEFT_COOKIE_VNIC:
        for (size_t i = 0; i < d->n_hosts; i++) {
            const struct host_vm_port *ports;
            size_t n = host_get_vm_ports(d->hosts[i], &ports);
            for (size_t j = 0; j < n; j++) {
                const char *h = host_get_name(d->hosts[i]);
                if (pipeline_vnic_cookie(h, ports[j].tap) == cookie) {
                    return xasprintf("vnic %s/%s", ports[j].vm,
                                     ports[j].tap);
                }
            }
        }
        break;
    }
    return NULL;
}
