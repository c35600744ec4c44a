/* The troubleshooting checklist (see doctor.h). */
#include "doctor.h"

#include <ev.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "inventory.h"
#include "policy.h"
#include "virt-host.h"
#include "virt-net.h"
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
        { "is not Weft's network", "attach the interface to Weft's network "
          "(libvirt-network, default weft: <interface type='network'>"
          "<source network='weft' portgroup='SEGMENT'/>) to give the VM "
          "Weft's policy" },
        { "portgroup \"", "use a portgroup of Weft's network (one per "
          "segment: virsh net-dumpxml weft) or add the segment to the "
          "policy" },
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

/* VXLAN over IPv4 adds an outer Ethernet (14), IPv4 (20), UDP (8) and
 * VXLAN (8) header to each frame. */
#define VXLAN_OVERHEAD 50

/* How many vNICs of 'host' are not placed because they use libvirt
 * network 'network'. */
static size_t
count_bypassing(const struct weftd *d, const char *host, const char *network)
{
    const struct inv_host *ih = inventory_find_host(&d->inventory, host);
    size_t n = 0;
    for (size_t i = 0; ih && i < ih->n_vms; i++) {
        for (size_t j = 0; j < ih->vms[i].n_vnics; j++) {
            n += virt_net_problem_is_about(ih->vms[i].vnics[j].reason,
                                           network);
        }
    }
    return n;
}

/* Weft's libvirt network on the host. */
static void
check_weft_network(const struct weftd *d, const char *name,
                   const struct virt_net_report *r, struct findings *f)
{
    char fix[512];
    if (r && r->network && (r->outcome == VIRT_NET_REFUSED
                            || r->outcome == VIRT_NET_FAILED)) {
        snprintf(fix, sizeof fix, r->outcome == VIRT_NET_REFUSED
                 ? "rename or remove the other network (virsh net-destroy "
                   "%s; virsh net-undefine %s) or set libvirt-network to "
                   "another name in weftd's configuration; then weftctl "
                   "network-sync"
                 : "see weftd's log; weftctl network-sync tries again",
                 r->network, r->network);
        add(f, name, "network", DOCTOR_ERROR, fix, "libvirt network %s: "
            "%s: %s", r->network, virt_net_outcome_to_string(r->outcome),
            r->message);
    } else if (r && r->network) {
        add(f, name, "network", DOCTOR_OK, NULL, "libvirt network %s: %s: "
            "%s", r->network, virt_net_outcome_to_string(r->outcome),
            r->message);
    } else if (d->cfg.libvirt_network && !d->policy.loaded) {
        add(f, name, "network", DOCTOR_WARN, "check policy-db in weftd's "
            "configuration and that its ovsdb-server runs", "libvirt "
            "network %s not kept yet: the policy has not been read",
            d->cfg.libvirt_network);
    } else if (d->cfg.libvirt_network) {
        add(f, name, "network", DOCTOR_OK, NULL, "libvirt network %s: "
            "being synced", d->cfg.libvirt_network);
    }
}

/* Weft's libvirt network, and every other network of the host as "not
 * managed", with why its VMs get no Weft policy: a warning only when
 * running vNICs use it. */
static void
check_libvirt_networks(const struct weftd *d, const struct host *h,
                       struct findings *f)
{
    const char *name = host_get_name(h);
    const char *bridge = host_get_config(h)->bridge;
    const struct virt_net_report *r = host_get_libvirt_networks(h);

    if (!host_get_config(h)->libvirt_uri) {
        return;
    }
    check_weft_network(d, name, r, f);
    for (size_t i = 0; r && i < r->n_nets; i++) {
        const struct virt_net_info *net = &r->nets[i];
        if (net->weft && r->network && !strcmp(net->name, r->network)) {
            continue;
        }
        char *why = virt_net_unmanaged_reason(net, d->cfg.libvirt_network,
                                              bridge);
        size_t n = count_bypassing(d, name, net->name);
        char fix[256];
        snprintf(fix, sizeof fix, "attach these VMs to Weft's network "
                 "(<source network='%s' portgroup='SEGMENT'/>) to give them "
                 "Weft's policy", d->cfg.libvirt_network
                                  ? d->cfg.libvirt_network : "weft");
        add(f, name, "network", n ? DOCTOR_WARN : DOCTOR_OK, n ? fix : NULL,
            "libvirt network %s (%s, %s) not managed: %s; %zu running "
            "vNICs use it", net->name, net->forward,
            net->active ? "active" : "inactive",
            why ? why : "on the integration bridge but not Weft's: its "
                        "portgroups do not follow the segments", n);
        free(why);
    }
}

/* vNICs whose frames, once VXLAN-encapsulated, exceed the underlay's MTU:
 * the largest packets of a TCP flow vanish between hosts while pings
 * pass. */
static void
check_mtu(const struct weftd *d, const struct host *h, size_t n_tunnels,
          struct findings *f)
{
    const char *name = host_get_name(h);
    const char *ul_iface;
    char fix[512];

    if (!n_tunnels) {
        add(f, name, "mtu", DOCTOR_OK, NULL, "no VXLAN tunnels: no "
            "encapsulation overhead");
        return;
    }
    int ul = host_get_underlay_mtu(h, &ul_iface);
    if (!ul) {
        snprintf(fix, sizeof fix, "make sure the underlay MTU is at least "
                 "the VMs' MTU + %d (e.g. 1550 for VM MTU 1500, or VM MTU "
                 "1450 on a 1500 underlay)", VXLAN_OVERHEAD);
        add(f, name, "mtu", DOCTOR_WARN, fix, "underlay MTU unknown: the "
            "tunnel IP is not on an OVS bridge weftd can see");
        return;
    }
    const struct host_vm_port *ports;
    size_t n = host_get_vm_ports(h, &ports);
    size_t n_checked = 0, n_bad = 0;
    int largest = 0;
    for (size_t i = 0; i < n; i++) {
        const struct policy_segment *s = policy_find_segment(
            d->policy.current, ports[i].segment);
        int mtu = host_get_port_mtu(h, ports[i].tap);
        if (!s || !s->vni || !mtu) {
            continue;           /* Stays on this host, or unknown. */
        }
        n_checked++;
        largest = mtu > largest ? mtu : largest;
        if (mtu + VXLAN_OVERHEAD > ul) {
            n_bad++;
            snprintf(fix, sizeof fix, "lower the VM's MTU to %d (libvirt "
                     "<mtu size='%d'/> on the interface, and in the guest) "
                     "or raise the underlay MTU to at least %d (mtu_request "
                     "on %s and the other ports of its bridge, and the "
                     "physical network)", ul - VXLAN_OVERHEAD,
                     ul - VXLAN_OVERHEAD, mtu + VXLAN_OVERHEAD, ul_iface);
            add(f, name, "mtu", DOCTOR_ERROR, fix, "%s (%s) MTU %d + %d bytes "
                "of VXLAN over IPv4 = %d > underlay MTU %d (%s): packets "
                "over %d bytes are dropped between hosts", ports[i].tap,
                ports[i].vm, mtu, VXLAN_OVERHEAD, mtu + VXLAN_OVERHEAD, ul,
                ul_iface, ul - VXLAN_OVERHEAD);
        }
    }
    if (!n_bad) {
        add(f, name, "mtu", DOCTOR_OK, NULL, "%zu vNICs in VXLAN segments, "
            "largest MTU %d + %d <= underlay MTU %d (%s)", n_checked,
            largest, VXLAN_OVERHEAD, ul, ul_iface);
    }
}

/* True if a vNIC of 'h' is in 'segment'. */
static bool
host_has_segment(const struct host *h, const char *segment)
{
    const struct host_vm_port *ports;
    size_t n = host_get_vm_ports(h, &ports);

    for (size_t i = 0; i < n; i++) {
        if (ports[i].segment && !strcmp(ports[i].segment, segment)) {
            return true;
        }
    }
    return false;
}

/* Segments without a VNI cross hosts only as 802.1Q VLANs on the hosts'
 * uplinks (trunks): an access/trunk mismatch in Weft's terms is a host
 * that has vNICs of such a segment, shared with other hosts, but no
 * uplink, or an uplink that is not on the bridge. */
static void
check_uplink(const struct weftd *d, const struct host *h,
             struct findings *f)
{
    const char *name = host_get_name(h);
    const struct weft_host_config *cfg = host_get_config(h);
    const struct policy *policy = d->policy.current;
    int ofport = host_get_uplink_ofport(h);
    char trunked[256] = "";
    size_t n_trunked = 0, n_cut = 0;
    char fix[512];

    for (size_t s = 0; policy && s < policy->n_segments; s++) {
        const struct policy_segment *seg = &policy->segments[s];
        if (seg->vni || !host_has_segment(h, seg->name)) {
            continue;
        }
        char peers[256] = "";
        size_t n_peers = 0;
        for (size_t i = 0; i < d->n_hosts; i++) {
            const struct host *o = d->hosts[i];
            if (o != h && host_has_segment(o, seg->name)) {
                size_t len = strlen(peers);
                snprintf(peers + len, sizeof peers - len, "%s%s",
                         n_peers++ ? ", " : "", host_get_name(o));
            }
        }
        if (!n_peers) {
            continue;           /* Local to this host: no trunk needed. */
        }
        if (cfg->uplink && ofport > 0) {
            size_t len = strlen(trunked);
            snprintf(trunked + len, sizeof trunked - len, "%s%d (%s)",
                     n_trunked++ ? ", " : "", seg->vlan, seg->name);
            continue;
        }
        n_cut++;
        if (!cfg->uplink) {
            snprintf(fix, sizeof fix, "give the segment a VNI to carry it "
                     "over VXLAN (weftctl segment-add %s vlan=%d vni=N), or "
                     "set uplink = PORT in %s's section of weftd's "
                     "configuration: a port of %s trunking VLAN %d between "
                     "the hosts", seg->name, seg->vlan, name, cfg->bridge,
                     seg->vlan);
            add(f, name, "uplink", DOCTOR_WARN, fix, "segment %s (VLAN %d, "
                "no VNI) has vNICs here and on %s, but this host has no "
                "uplink: they do not reach each other", seg->name,
                seg->vlan, peers);
        }
    }
    if (cfg->uplink && ofport <= 0) {
        snprintf(fix, sizeof fix, "add the port (ovs-vsctl add-port %s %s) "
                 "or fix uplink = in %s's section of weftd's configuration",
                 cfg->bridge, cfg->uplink, name);
        add(f, name, "uplink", n_cut ? DOCTOR_ERROR : DOCTOR_WARN, fix,
            "uplink %s is not on %s: %zu segments without a VNI shared with "
            "other hosts are cut off from them", cfg->uplink, cfg->bridge,
            n_cut);
    } else if (cfg->uplink) {
        add(f, name, "uplink", DOCTOR_OK, NULL, "uplink %s (OpenFlow port "
            "%d) trunks %s%s", cfg->uplink, ofport,
            n_trunked ? "VLAN " : "no VLAN: no segment without a VNI is "
                                  "shared with another host",
            trunked);
    } else if (!n_cut) {
        add(f, name, "uplink", DOCTOR_OK, NULL, "no uplink, and no segment "
            "without a VNI shared with another host needs one");
    }
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
    if (st.state == HOST_READY) {
        check_mtu(d, h, n_peers, f);
        check_uplink(d, h, f);
    }
    check_libvirt_networks(d, h, f);

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
