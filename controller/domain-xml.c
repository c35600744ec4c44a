/* libvirt domain XML -> struct domain_info (see domain-xml.h). */
#include "domain-xml.h"
#include "xalloc.h"
#include "xml-util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <libxml/parser.h>
#include <libxml/tree.h>



static bool
is_weft_element(const xmlNode *node, const char *name)
{
    return (xml_is_element(node, name) && node->ns && node->ns->href
            && !strcmp((const char *) node->ns->href, WEFT_XMLNS));
}

/* Normalizes a MAC to lowercase "xx:xx:xx:xx:xx:xx" into 'out'; false if
 * 's' is not a MAC address. */
static bool
normalize_mac(const char *s, char out[18])
{
    unsigned int b[6];
    char extra;
    if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2],
                     &b[3], &b[4], &b[5], &extra) != 6 || strlen(s) != 17) {
        return false;
    }
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
             b[0], b[1], b[2], b[3], b[4], b[5]);
    return true;
}

static void
set_problem(struct domain_nic *nic, const char *format, ...)
{
    if (nic->problem) {
        return;                 /* Keep the first one. */
    }
    va_list args;
    va_start(args, format);
    if (vasprintf(&nic->problem, format, args) < 0) {
        abort();
    }
    va_end(args);
}

static void
parse_interface(const xmlNode *node, struct domain_nic *nic)
{
    memset(nic, 0, sizeof *nic);
    nic->type = xml_attr(node, "type");
    nic->tap = xml_attr(xml_child(node, "target"), "dev");

    char *mac = xml_attr(xml_child(node, "mac"), "address");
    if (!mac) {
        set_problem(nic, "interface has no <mac address>");
    } else if (!normalize_mac(mac, nic->mac)) {
        set_problem(nic, "interface MAC \"%s\" is not a MAC address", mac);
    }
    free(mac);

    const xmlNode *source = xml_child(node, "source");
    nic->bridge = xml_attr(source, "bridge");
    nic->network = xml_attr(source, "network");
    nic->portgroup = xml_attr(source, "portgroup");

    const xmlNode *vport = xml_child(node, "virtualport");
    char *vport_type = xml_attr(vport, "type");
    nic->ovs_virtualport = vport_type && !strcmp(vport_type, "openvswitch");
    free(vport_type);
    nic->interfaceid = xml_attr(vport ? xml_child(vport, "parameters") : NULL,
                            "interfaceid");

    const xmlNode *vlan = xml_child(node, "vlan");
    if (vlan) {
        char *id = xml_attr(xml_child(vlan, "tag"), "id");
        char *end;
        long tag = id ? strtol(id, &end, 10) : 0;
        if (!id || *end || tag < 1 || tag > 4094) {
            set_problem(nic, "VLAN tag \"%s\" is not 1..4094",
                        id ? id : "(missing)");
        } else {
            nic->vlan = tag;
        }
        char *trunk = xml_attr(vlan, "trunk");
        if (trunk && !strcmp(trunk, "yes")) {
            set_problem(nic, "VLAN trunks to VMs are not supported; give "
                        "the interface one segment");
        }
        free(trunk);
        free(id);
    }

    /* libvirt's own record of the guest's addresses, where it has one. */
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (xml_is_element(c, "ip")) {
            char *address = xml_attr(c, "address");
            if (address) {
                char *ips = xasprintf("%s%s%s", nic->ips ? nic->ips : "",
                                      nic->ips ? "," : "", address);
                free(nic->ips);
                nic->ips = ips;
            }
            free(address);
        }
    }

    if (nic->type && !strcmp(nic->type, "direct")) {
        set_problem(nic, "macvtap (type='direct') interface bypasses Open "
                    "vSwitch; use type='bridge' or 'ethernet'");
    } else if (nic->type && strcmp(nic->type, "ethernet")
               && strcmp(nic->type, "bridge")
               && strcmp(nic->type, "network")) {
        set_problem(nic, "interface type '%s' cannot be placed on Open "
                    "vSwitch", nic->type);
    }
    if (!nic->tap) {
        set_problem(nic, "interface %s has no <target dev>: no tap name to "
                    "place", nic->mac[0] ? nic->mac : "(no MAC)");
    }
}

/* Rewrites 'nic->ips' in canonical form (inet_ntop's), or makes the vNIC
 * unplaceable if an address does not parse. */
static void
check_ips(struct domain_nic *nic)
{
    if (!nic->ips) {
        return;
    }
    char *copy = xstrdup(nic->ips), *save = NULL;
    char *out = xstrdup("");
    for (char *s = strtok_r(copy, ",", &save); s;
         s = strtok_r(NULL, ",", &save)) {
        unsigned char addr[16];
        char text[INET6_ADDRSTRLEN];
        int af = strchr(s, ':') ? AF_INET6 : AF_INET;
        if (inet_pton(af, s, addr) != 1) {
            set_problem(nic, "address \"%s\" (in ips) is not an IPv4 or "
                        "IPv6 address", s);
            continue;
        }
        inet_ntop(af, addr, text, sizeof text);
        char *joined = xasprintf("%s%s%s", out, *out ? "," : "", text);
        free(out);
        out = joined;
    }
    free(copy);
    free(nic->ips);
    nic->ips = *out ? out : NULL;
    if (!nic->ips) {
        free(out);
    }
}

/* Applies Weft metadata to the vNIC it names (by MAC, or by dev). */
static void
apply_metadata(const xmlNode *metadata, struct domain_info *d)
{
    for (const xmlNode *ifs = metadata ? metadata->children : NULL; ifs;
         ifs = ifs->next) {
        if (!is_weft_element(ifs, "interfaces")) {
            continue;
        }
        for (const xmlNode *i = ifs->children; i; i = i->next) {
            if (!is_weft_element(i, "interface")) {
                continue;
            }
            char *mac_attr = xml_attr(i, "mac");
            char *dev = xml_attr(i, "dev");
            char mac[18] = "";
            if (mac_attr) {
                normalize_mac(mac_attr, mac);
            }
            for (size_t n = 0; n < d->n_nics; n++) {
                struct domain_nic *nic = &d->nics[n];
                if ((mac[0] && !strcmp(mac, nic->mac))
                    || (dev && nic->tap && !strcmp(dev, nic->tap))) {
                    free(nic->segment);
                    free(nic->groups);
                    nic->segment = xml_attr(i, "segment");
                    nic->groups = xml_attr(i, "groups");
                    char *ips = xml_attr(i, "ips");
                    if (ips) {
                        free(nic->ips);
                        nic->ips = ips;
                    }
                }
            }
            free(mac_attr);
            free(dev);
        }
    }
}

int
domain_xml_parse(const char *xml, struct domain_info *d, char **errorp)
{
    memset(d, 0, sizeof *d);
    *errorp = NULL;

    xmlDoc *doc = xml_read(xml, "domain.xml");
    if (!doc) {
        const xmlError *e = xmlGetLastError();
        *errorp = xasprintf("domain XML is not well-formed: %s",
                            e && e->message ? e->message : "parse error");
        if (*errorp && (*errorp)[strlen(*errorp) - 1] == '\n') {
            (*errorp)[strlen(*errorp) - 1] = '\0';
        }
        return EINVAL;
    }

    const xmlNode *root = xmlDocGetRootElement(doc);
    if (!root || !xml_is_element(root, "domain")) {
        *errorp = xasprintf("XML root element is <%s>, not <domain>",
                            root ? (const char *) root->name : "");
        xmlFreeDoc(doc);
        return EINVAL;
    }

    d->name = xml_text(xml_child(root, "name"));
    char *uuid = xml_text(xml_child(root, "uuid"));
    if (uuid) {
        snprintf(d->uuid, sizeof d->uuid, "%s", uuid);
        free(uuid);
    }
    if (!d->name || !d->name[0]) {
        *errorp = xasprintf("domain has no <name>");
        domain_info_destroy(d);
        xmlFreeDoc(doc);
        return EINVAL;
    }

    const xmlNode *devices = xml_child(root, "devices");
    for (const xmlNode *c = devices ? devices->children : NULL; c;
         c = c->next) {
        if (xml_is_element(c, "interface")) {
            d->nics = realloc(d->nics, (d->n_nics + 1) * sizeof *d->nics);
            if (!d->nics) {
                abort();
            }
            parse_interface(c, &d->nics[d->n_nics++]);
        }
    }
    apply_metadata(xml_child(root, "metadata"), d);
    for (size_t i = 0; i < d->n_nics; i++) {
        check_ips(&d->nics[i]);
    }

    xmlFreeDoc(doc);
    return 0;
}

static void
nic_destroy(struct domain_nic *nic)
{
    free(nic->type);
    free(nic->tap);
    free(nic->interfaceid);
    free(nic->bridge);
    free(nic->network);
    free(nic->portgroup);
    free(nic->segment);
    free(nic->groups);
    free(nic->ips);
    free(nic->problem);
}

void
domain_info_destroy(struct domain_info *d)
{
    if (!d) {
        return;
    }
    for (size_t i = 0; i < d->n_nics; i++) {
        nic_destroy(&d->nics[i]);
    }
    free(d->nics);
    free(d->name);
    memset(d, 0, sizeof *d);
}

void
domain_info_clone(struct domain_info *dst, const struct domain_info *src)
{
    memset(dst, 0, sizeof *dst);
    dst->name = xstrdup(src->name);
    memcpy(dst->uuid, src->uuid, sizeof dst->uuid);
    dst->n_nics = src->n_nics;
    dst->nics = calloc(src->n_nics ? src->n_nics : 1, sizeof *dst->nics);
    if (!dst->nics) {
        abort();
    }
    for (size_t i = 0; i < src->n_nics; i++) {
        const struct domain_nic *s = &src->nics[i];
        struct domain_nic *n = &dst->nics[i];
        *n = *s;
        n->type = xstrdup(s->type);
        n->tap = xstrdup(s->tap);
        n->interfaceid = xstrdup(s->interfaceid);
        n->bridge = xstrdup(s->bridge);
        n->network = xstrdup(s->network);
        n->portgroup = xstrdup(s->portgroup);
        n->segment = xstrdup(s->segment);
        n->groups = xstrdup(s->groups);
        n->ips = xstrdup(s->ips);
        n->problem = xstrdup(s->problem);
    }
}
