/* What Weft reads from a libvirt domain's XML: its identity and, for each
 * <interface>, what is needed to place the vNIC on the integration bridge.
 * Pure (libxml2 only), unit-tested in tests/unit/test-domain-xml.c.
 *
 * A vNIC's segment comes from, in this order:
 *
 *   1. Weft's metadata in the domain, matched by MAC address (or by target
 *      device name):
 *
 *        <metadata>
 *          <weft:interfaces xmlns:weft="https://weft.dev/xmlns/libvirt/1">
 *            <weft:interface mac="52:54:00:00:00:01" segment="web"
 *                            groups="frontend,pci"
 *                            ips="10.0.0.11,2001:db8::11"/>
 *          </weft:interfaces>
 *        </metadata>
 *
 *   2. the interface's VLAN tag, <vlan><tag id="100"/></vlan> (the segment
 *      with that VLAN);
 *   3. the libvirt network's portgroup,
 *      <source network="weft" portgroup="web"/> (the segment of that name).
 *
 * The addresses a vNIC may use come from the metadata's "ips" (addresses,
 * no prefix length) or else from the interface's own <ip address="..."/>
 * elements; an address that does not parse makes the vNIC unplaceable,
 * with the reason.
 *
 * Interfaces that bypass Open vSwitch (type "direct", i.e. macvtap) or that
 * have no target device are reported with a reason and never placed. */
#ifndef WEFT_DOMAIN_XML_H
#define WEFT_DOMAIN_XML_H 1

#include <stdbool.h>
#include <stddef.h>

#define WEFT_XMLNS "https://weft.dev/xmlns/libvirt/1"

struct domain_nic {
    char *type;             /* <interface type>: ethernet, bridge, ... */
    char *tap;              /* <target dev>, or NULL. */
    char mac[18];           /* Lowercase "xx:xx:xx:xx:xx:xx", or "". */
    char *interfaceid;      /* <virtualport><parameters interfaceid>. */
    bool ovs_virtualport;   /* <virtualport type="openvswitch"/>. */
    char *bridge;           /* <source bridge>, or NULL. */
    char *network;          /* <source network>, or NULL. */
    char *portgroup;        /* <source portgroup>, or NULL. */
    int vlan;               /* <vlan><tag id>, 0 if none. */
    char *segment;          /* From Weft metadata, or NULL. */
    char *groups;           /* Comma-separated labels from metadata. */
    char *ips;              /* Comma-separated IPv4/IPv6 addresses the vNIC
                             * may send from (metadata "ips", or libvirt's
                             * <ip address> elements), or NULL: unknown. */
    char *problem;          /* Why it cannot be placed, or NULL. */
};

struct domain_info {
    char *name;
    char uuid[37];
    struct domain_nic *nics;
    size_t n_nics;
};

/* Parses 'xml'.  Returns 0 on success (problems with single interfaces are
 * reported in their 'problem' and do not fail the parse), or EINVAL with a
 * malloc'd message in '*errorp' when the document is not a domain. */
int domain_xml_parse(const char *xml, struct domain_info *,
                     char **errorp);
void domain_info_destroy(struct domain_info *);

/* Deep copy. */
void domain_info_clone(struct domain_info *dst,
                       const struct domain_info *src);

#endif /* domain-xml.h */
