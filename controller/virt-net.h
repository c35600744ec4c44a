/* libvirt networks, as Weft keeps and reads them.  Pure (libxml2 only),
 * unit-tested in tests/unit/test-virt-net.c.
 *
 * On every host Weft keeps one libvirt network (default name "weft") that
 * points VMs at the integration bridge, one portgroup per segment:
 *
 *     <network>
 *       <name>weft</name>
 *       <metadata><weft:network xmlns:weft="https://weft.dev/xmlns/libvirt/1"
 *                               managed-by="weftd"/></metadata>
 *       <forward mode="bridge"/>
 *       <bridge name="br-int"/>
 *       <virtualport type="openvswitch"/>
 *       <portgroup name="web" default="yes">
 *         <vlan><tag id="100"/></vlan>
 *       </portgroup>
 *     </network>
 *
 * so that a VM only says <source network="weft" portgroup="web"/>.  The
 * metadata marks the network as Weft's: a network of that name without it
 * is someone else's and is never overwritten.
 *
 * Every other network of a host is "not managed": its VMs reach the world
 * through libvirt's own bridge (NAT, routed, isolated...) or another bridge,
 * never through the integration bridge, so no Weft policy applies to them.
 * virt_net_unmanaged_reason() says so in words, and
 * virt_net_check_domain() marks the vNICs that use such a network. */
#ifndef WEFT_VIRT_NET_H
#define WEFT_VIRT_NET_H 1

#include <stdbool.h>
#include <stddef.h>

struct domain_info;

struct virt_net_portgroup {
    char *name;
    int vlan;                   /* <vlan><tag id>, 0 if none. */
    bool is_default;            /* default="yes". */
};

/* The network Weft wants on one host. */
struct virt_net_spec {
    char *name;                 /* e.g. "weft". */
    char *bridge;               /* The host's integration bridge. */
    struct virt_net_portgroup *portgroups;
    size_t n_portgroups;
};

void virt_net_spec_init(struct virt_net_spec *, const char *name,
                        const char *bridge);
void virt_net_spec_add_portgroup(struct virt_net_spec *, const char *name,
                                 int vlan, bool is_default);
void virt_net_spec_destroy(struct virt_net_spec *);
void virt_net_spec_clone(struct virt_net_spec *dst,
                         const struct virt_net_spec *src);
bool virt_net_spec_equal(const struct virt_net_spec *,
                         const struct virt_net_spec *);

/* The network's XML (malloc'd).  'uuid' (may be NULL) is kept when an
 * existing network is redefined: libvirt refuses a new UUID for a name it
 * knows. */
char *virt_net_spec_to_xml(const struct virt_net_spec *, const char *uuid);

/* A network as its XML describes it. */
struct virt_net_info {
    char *name;
    char uuid[37];
    char *forward;              /* <forward mode>: "nat" for a bare
                                 * <forward/>, "isolated" without one. */
    char *bridge;               /* <bridge name>, or NULL. */
    bool ovs;                   /* <virtualport type="openvswitch"/>. */
    bool weft;                  /* Carries Weft's metadata. */
    int mtu;                    /* <mtu size>, 0 if none. */
    bool active;                /* Not from the XML: set by the caller. */
    struct virt_net_portgroup *portgroups;
    size_t n_portgroups;
};

/* Parses 'xml'.  Returns 0, or EINVAL with a malloc'd message in
 * '*errorp' when it is not a network. */
int virt_net_parse(const char *xml, struct virt_net_info *, char **errorp);
void virt_net_info_destroy(struct virt_net_info *);
void virt_net_info_clone(struct virt_net_info *dst,
                         const struct virt_net_info *src);

enum virt_net_diff {
    VIRT_NET_SAME,              /* Nothing to do. */
    VIRT_NET_PORTGROUPS,        /* Only portgroups differ: update them. */
    VIRT_NET_REDEFINE,          /* Weft's, but forward/bridge differ. */
    VIRT_NET_FOREIGN,           /* Not Weft's: leave it alone. */
};

/* How the existing network 'have' compares with 'want'. */
enum virt_net_diff virt_net_compare(const struct virt_net_spec *want,
                                    const struct virt_net_info *have);

/* One virNetworkUpdate() call on the portgroup section. */
enum virt_net_update_cmd {
    VIRT_NET_UPDATE_DELETE,
    VIRT_NET_UPDATE_MODIFY,
    VIRT_NET_UPDATE_ADD,
};
struct virt_net_update {
    enum virt_net_update_cmd cmd;
    char *xml;                  /* The <portgroup> element. */
};

/* The portgroup updates that turn 'have' into 'want', in an order libvirt
 * accepts (deletions first; the default portgroup last, so that two are
 * never default at once).  Returns how many; free with
 * virt_net_updates_free(). */
size_t virt_net_portgroup_updates(const struct virt_net_spec *want,
                                  const struct virt_net_info *have,
                                  struct virt_net_update **);
void virt_net_updates_free(struct virt_net_update *, size_t n);

/* Why VMs on network 'net' get no Weft policy (malloc'd), for "show" and
 * "doctor"; NULL if the network is Weft's ('managed_name') or bridges to
 * the integration bridge 'bridge' through Open vSwitch (its vNICs land on
 * the bridge and are placed like any other). */
char *virt_net_unmanaged_reason(const struct virt_net_info *net,
                                const char *managed_name,
                                const char *bridge);

/* Gives every vNIC of 'd' that uses a network listed in 'nets' with an
 * unmanaged reason, or one that does not exist on the host, a 'problem'
 * (so it is not placed, with that reason).  vNICs on 'managed_name' are
 * left alone. */
void virt_net_check_domain(struct domain_info *d,
                           const struct virt_net_info *nets, size_t n_nets,
                           const char *managed_name, const char *bridge);

/* True if 'problem' (a vNIC's reason for not being placed) is the one
 * virt_net_check_domain() gives for using network 'network'. */
bool virt_net_problem_is_about(const char *problem, const char *network);

#endif /* virt-net.h */
