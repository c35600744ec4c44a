/* The troubleshooting checklist (see doctor.h). */
#include "doctor.h"

#include <ev.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "inventory.h"
#include "weft-config.h"
#include "weftd.h"
#include "xalloc.h"

const char *
doctor_severity_to_string(enum doctor_severity s)
{
    return s == DOCTOR_OK ? "ok" : s == DOCTOR_WARN ? "warn" : "error";
}

struct findings {
    struct doctor_finding *v;
    size_t n, allocated;
};

static void add(struct findings *, const char *host, const char *check,
                enum doctor_severity, const char *fix,
                const char *format, ...)
    __attribute__((format(printf, 6, 7)));

static void
add(struct findings *f, const char *host, const char *check,
    enum doctor_severity severity, const char *fix, const char *format, ...)
{
    if (f->n >= f->allocated) {
        f->allocated = f->allocated ? 2 * f->allocated : 16;
        f->v = xrealloc(f->v, f->allocated * sizeof *f->v);
    }
    char msg[512];
    va_list args;
    va_start(args, format);
    vsnprintf(msg, sizeof msg, format, args);
    va_end(args);
    f->v[f->n++] = (struct doctor_finding) {
        .host = xstrdup(host),
        .check = xstrdup(check),
        .severity = severity,
        .message = xstrdup(msg),
        .fix = fix ? xstrdup(fix) : NULL,
    };
}

/* What to do about a vNIC that is not placed, from the reason weftd
 * gave. */
static const char *
unplaced_fix(const char *reason)
{
    static const struct {
        const char *needle, *fix;
    } fixes[] = {
        { "macvtap", "macvtap (type='direct') bypasses Open vSwitch: use "
          "<interface type='bridge'> with <source bridge='br-int'/> and "
          "<virtualport type='openvswitch'/>" },
        { "no segment", "give the vNIC a segment: Weft metadata "
          "(<weft:interface mac=... segment=.../>), a <vlan><tag/> of a "
          "segment's VLAN, or a portgroup named after a segment" },
        { "unknown segment", "add the segment to the policy (weftctl "
          "segment-add NAME vlan=N) or fix the domain's metadata" },
        { "already used", "two vNICs share a MAC address: give one of "
          "them another <mac address>" },
        { "target dev", "the interface has no <target dev>: the domain "
          "must run (libvirt names the tap) or name it" },
        { "trunk", "VLAN trunks to VMs are not supported: give the vNIC one "
          "segment" },
        { "VLAN tag", "the <vlan><tag id> must be 1..4094 and belong to a "
          "segment" },
        { "type", "use an interface of type 'bridge', 'ethernet' or "
          "'network' on the integration bridge" },
    };
    for (size_t i = 0; reason && i < sizeof fixes / sizeof *fixes; i++) {
        if (strstr(reason, fixes[i].needle)) {
            return fixes[i].fix;
        }
    }
    return "see weftd's log for this vNIC";
}

static void
check_host(const struct weftd *d, const struct host *h,
           struct findings *f)
{
    long long int now = (long long int) (ev_now(d->loop) * 1000.0);
    struct host_status st;
    host_get_status(h, now, &st);
    const char *name = st.name;
    char fix[512];

    if (st.state == HOST_READY) {
        add(f, name, "ovsdb", DOCTOR_OK, NULL, "%s: %s configured, fail_mode "
            "secure, datapath %s", st.ovsdb_remote, st.bridge,
            st.datapath_type);
    } else {
        snprintf(fix, sizeof fix, "check that the host's ovsdb-server "
                 "listens on %s (e.g. --remote=ptcp:6640) and that weftd "
                 "can reach it; weftd retries with backoff", st.ovsdb_remote);
        add(f, name, "ovsdb", st.state == HOST_SYNCING ? DOCTOR_WARN
                                                        : DOCTOR_ERROR,
            fix, "host is %s: %s%s", host_state_to_string(st.state),
            st.ovsdb_detail ? st.ovsdb_detail : "",
            st.retry_secs > 0 ? " (retrying)" : "");
    }

    if (st.openflow_peer) {
        add(f, name, "openflow", DOCTOR_OK, NULL, "switch connected from %s "
            "(%s)", st.openflow_peer, st.openflow_version);
    } else {
        snprintf(fix, sizeof fix, "the bridge connects to %s: check that "
                 "this address is reachable from the host and that weftd "
                 "listens there (openflow-listen); with ssl:, check both "
                 "sides' certificates", d->cfg.controller_target);
        add(f, name, "openflow", DOCTOR_ERROR, fix, "the switch is not "
            "connected to weftd");
    }

    if (st.openflow_peer && st.flows_synced) {
        add(f, name, "flows", DOCTOR_OK, NULL, "%u flows installed, as "
            "wanted", st.n_flows_installed);
    } else if (st.openflow_peer) {
        snprintf(fix, sizeof fix, "compare weftctl dump-flows %s with the "
                 "switch; errors are in weftd's log", name);
        add(f, name, "flows", st.n_flow_errors ? DOCTOR_ERROR : DOCTOR_WARN,
            fix, "%zu flows wanted, %u installed (%s)%s%s",
            st.n_flows_desired, st.n_flows_installed,
            st.flow_state ? st.flow_state : "?",
            st.flow_error ? ": " : "", st.flow_error ? st.flow_error : "");
    }

    if (!st.libvirt_uri) {
        add(f, name, "libvirt", DOCTOR_WARN, "add libvirt = URI to the "
            "host's section so that weftd places its VMs' ports", "no "
            "libvirt URI configured: VM ports are not placed on this host");
    } else if (!strcmp(st.libvirt_state, "connected")) {
        add(f, name, "libvirt", DOCTOR_OK, NULL, "%s connected",
            st.libvirt_uri);
    } else {
        snprintf(fix, sizeof fix, "check libvirtd on the host and the URI "
                 "%s; placed ports are kept meanwhile", st.libvirt_uri);
        add(f, name, "libvirt", DOCTOR_ERROR, fix, "%s", st.libvirt_state);
    }

    const char **peers;
    size_t n_peers = host_get_wanted_tunnels(h, &peers);
    size_t n_missing = 0;
    for (size_t i = 0; i < n_peers; i++) {
        if (host_get_tunnel_ofport(h, peers[i]) <= 0) {
            n_missing++;
            add(f, name, "tunnels", DOCTOR_ERROR, "check ovs-vswitchd's log "
                "on the host; the userspace datapath needs the tunnel IP on "
                "an OVS bridge (br-phy) and a route to the peer",
                "VXLAN tunnel to %s is not on the bridge", peers[i]);
        }
    }
    if (!n_missing) {
        add(f, name, "tunnels", DOCTOR_OK, NULL, "%zu VXLAN tunnels, as "
            "the segments need (tunnel-ip %s)", n_peers, st.tunnel_ip);
    }
    free(peers);

    const struct inv_host *ih = inventory_find_host(&d->inventory, name);
    size_t n_placed = 0, n_pending = 0;
    for (size_t i = 0; ih && i < ih->n_vms; i++) {
        const struct inv_vm *vm = &ih->vms[i];
        for (size_t j = 0; j < vm->n_vnics; j++) {
            const struct inv_vnic *v = &vm->vnics[j];
            if (v->placement == INV_PLACED) {
                n_placed++;
            } else if (v->placement == INV_PENDING) {
                n_pending++;
            } else {
                add(f, name, "vnic", DOCTOR_WARN, unplaced_fix(v->reason),
                    "%s/%s (%s) not placed: %s", vm->name,
                    v->tap ? v->tap : "no tap", v->mac[0] ? v->mac : "no MAC",
                    v->reason ? v->reason : "unknown reason");
            }
        }
    }
    add(f, name, "vnics", n_pending ? DOCTOR_WARN : DOCTOR_OK,
        n_pending ? "wait a moment; if it stays, see the host's OVSDB "
                    "(ovs-vsctl show) and weftd's log" : NULL,
        "%zu vNICs placed, %zu being placed", n_placed, n_pending);
}

size_t
doctor_run(const struct weftd *d, const char *host,
           struct doctor_finding **findingsp)
{
    struct findings f = { 0 };
    for (size_t i = 0; i < d->n_hosts; i++) {
        if (!host || !strcmp(host, host_get_name(d->hosts[i]))) {
            check_host(d, d->hosts[i], &f);
        }
    }
    *findingsp = f.v;
    return f.n;
}

void
doctor_findings_free(struct doctor_finding *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].host);
        free(v[i].check);
        free(v[i].message);
        free(v[i].fix);
    }
    free(v);
}
