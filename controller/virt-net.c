/* libvirt network XML: Weft's network and the others (see virt-net.h). */
#include "virt-net.h"
#include "domain-xml.h"
#include "xalloc.h"
#include "xml-util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

/* Spec. */

void
virt_net_spec_init(struct virt_net_spec *spec, const char *name,
                   const char *bridge)
{
    memset(spec, 0, sizeof *spec);
    spec->name = xstrdup(name);
    spec->bridge = xstrdup(bridge);
}

static void
portgroups_add(struct virt_net_portgroup **pgs, size_t *n, const char *name,
               int vlan, bool is_default)
{
    *pgs = xrealloc(*pgs, (*n + 1) * sizeof **pgs);
    (*pgs)[(*n)++] = (struct virt_net_portgroup) {
        .name = xstrdup(name),
        .vlan = vlan,
        .is_default = is_default,
    };
}

static void
portgroups_free(struct virt_net_portgroup *pgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(pgs[i].name);
    }
    free(pgs);
}

static struct virt_net_portgroup *
portgroups_clone(const struct virt_net_portgroup *pgs, size_t n)
{
    struct virt_net_portgroup *copy = xcalloc(n, sizeof *copy);
    for (size_t i = 0; i < n; i++) {
        copy[i] = pgs[i];
        copy[i].name = xstrdup(pgs[i].name);
    }
    return copy;
}

static const struct virt_net_portgroup *
portgroups_find(const struct virt_net_portgroup *pgs, size_t n,
                const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(pgs[i].name, name)) {
            return &pgs[i];
        }
    }
    return NULL;
}

static bool
portgroup_equal(const struct virt_net_portgroup *a,
                const struct virt_net_portgroup *b)
{
    return (!strcmp(a->name, b->name) && a->vlan == b->vlan
            && a->is_default == b->is_default);
}

/* Same portgroups, in any order (names are unique in both). */
static bool
portgroups_equal(const struct virt_net_portgroup *a, size_t n_a,
                 const struct virt_net_portgroup *b, size_t n_b)
{
    if (n_a != n_b) {
        return false;
    }
    for (size_t i = 0; i < n_a; i++) {
        const struct virt_net_portgroup *o = portgroups_find(b, n_b,
                                                             a[i].name);
        if (!o || !portgroup_equal(&a[i], o)) {
            return false;
        }
    }
    return true;
}

void
virt_net_spec_add_portgroup(struct virt_net_spec *spec, const char *name,
                            int vlan, bool is_default)
{
    portgroups_add(&spec->portgroups, &spec->n_portgroups, name, vlan,
                   is_default);
}

void
virt_net_spec_destroy(struct virt_net_spec *spec)
{
    if (!spec) {
        return;
    }
    free(spec->name);
    free(spec->bridge);
    portgroups_free(spec->portgroups, spec->n_portgroups);
    memset(spec, 0, sizeof *spec);
}

void
virt_net_spec_clone(struct virt_net_spec *dst,
                    const struct virt_net_spec *src)
{
    virt_net_spec_init(dst, src->name, src->bridge);
    dst->portgroups = portgroups_clone(src->portgroups, src->n_portgroups);
    dst->n_portgroups = src->n_portgroups;
}

static bool
streq_null(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

bool
virt_net_spec_equal(const struct virt_net_spec *a,
                    const struct virt_net_spec *b)
{
    return (streq_null(a->name, b->name) && streq_null(a->bridge, b->bridge)
            && portgroups_equal(a->portgroups, a->n_portgroups,
                                b->portgroups, b->n_portgroups));
}

/* XML output, through libxml2 so that every attribute is escaped. */

static xmlNode *
portgroup_node(const struct virt_net_portgroup *pg)
{
    xmlNode *node = xmlNewNode(NULL, BAD_CAST "portgroup");
    xmlNewProp(node, BAD_CAST "name", BAD_CAST pg->name);
    if (pg->is_default) {
        xmlNewProp(node, BAD_CAST "default", BAD_CAST "yes");
    }
    if (pg->vlan) {
        char id[16];
        snprintf(id, sizeof id, "%d", pg->vlan);
        xmlNode *tag = xmlNewChild(xmlNewChild(node, NULL, BAD_CAST "vlan",
                                               NULL),
                                   NULL, BAD_CAST "tag", NULL);
        xmlNewProp(tag, BAD_CAST "id", BAD_CAST id);
    }
    return node;
}

/* 'node' as text (malloc'd), then frees it. */
static char *
node_to_string(xmlNode *node)
{
    xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
    xmlDocSetRootElement(doc, node);
    xmlBuffer *buf = xmlBufferCreate();
    xmlNodeDump(buf, doc, node, 0, 1);
    char *s = xstrdup((const char *) xmlBufferContent(buf));
    xmlBufferFree(buf);
    xmlFreeDoc(doc);
    return s;
}

char *
virt_net_spec_to_xml(const struct virt_net_spec *spec, const char *uuid)
{
    xmlNode *root = xmlNewNode(NULL, BAD_CAST "network");
    xmlNewTextChild(root, NULL, BAD_CAST "name", BAD_CAST spec->name);
    if (uuid && uuid[0]) {
        xmlNewTextChild(root, NULL, BAD_CAST "uuid", BAD_CAST uuid);
    }
    xmlNode *meta = xmlNewChild(root, NULL, BAD_CAST "metadata", NULL);
    xmlNode *mark = xmlNewChild(meta, NULL, BAD_CAST "network", NULL);
    xmlSetNs(mark, xmlNewNs(mark, BAD_CAST WEFT_XMLNS, BAD_CAST "weft"));
    xmlNewProp(mark, BAD_CAST "managed-by", BAD_CAST "weftd");
    xmlNewProp(xmlNewChild(root, NULL, BAD_CAST "forward", NULL),
               BAD_CAST "mode", BAD_CAST "bridge");
    xmlNewProp(xmlNewChild(root, NULL, BAD_CAST "bridge", NULL),
               BAD_CAST "name", BAD_CAST spec->bridge);
    xmlNewProp(xmlNewChild(root, NULL, BAD_CAST "virtualport", NULL),
               BAD_CAST "type", BAD_CAST "openvswitch");
    for (size_t i = 0; i < spec->n_portgroups; i++) {
        xmlAddChild(root, portgroup_node(&spec->portgroups[i]));
    }
    return node_to_string(root);
}

/* Parsing. */

static int
int_attr(const xmlNode *node, const char *name)
{
    char *s = xml_attr(node, name);
    int value = s ? atoi(s) : 0;
    free(s);
    return value;
}

static bool
has_weft_mark(const xmlNode *metadata)
{
    for (const xmlNode *c = metadata ? metadata->children : NULL; c;
         c = c->next) {
        if (xml_is_element(c, "network") && c->ns && c->ns->href
            && !strcmp((const char *) c->ns->href, WEFT_XMLNS)) {
            return true;
        }
    }
    return false;
}

static void
parse_portgroups(const xmlNode *root, struct virt_net_info *net)
{
    for (const xmlNode *c = root->children; c; c = c->next) {
        if (!xml_is_element(c, "portgroup")) {
            continue;
        }
        char *name = xml_attr(c, "name");
        char *dflt = xml_attr(c, "default");
        const xmlNode *tag = xml_child(xml_child(c, "vlan"), "tag");
        if (name) {
            portgroups_add(&net->portgroups, &net->n_portgroups, name,
                           int_attr(tag, "id"), dflt && !strcmp(dflt, "yes"));
        }
        free(name);
        free(dflt);
    }
}

int
virt_net_parse(const char *xml, struct virt_net_info *net, char **errorp)
{
    memset(net, 0, sizeof *net);
    *errorp = NULL;
    xmlDoc *doc = xml_read(xml, "network.xml");
    const xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || !xml_is_element(root, "network")) {
        *errorp = xasprintf("not a libvirt network's XML");
        xmlFreeDoc(doc);
        return EINVAL;
    }
    net->name = xml_text(xml_child(root, "name"));
    char *uuid = xml_text(xml_child(root, "uuid"));
    snprintf(net->uuid, sizeof net->uuid, "%s", uuid ? uuid : "");
    free(uuid);

    const xmlNode *forward = xml_child(root, "forward");
    net->forward = xml_attr(forward, "mode");
    if (!net->forward) {
        /* libvirt's defaults: <forward/> is NAT, no <forward> isolated. */
        net->forward = xstrdup(forward ? "nat" : "isolated");
    }
    net->bridge = xml_attr(xml_child(root, "bridge"), "name");
    char *vport = xml_attr(xml_child(root, "virtualport"), "type");
    net->ovs = vport && !strcmp(vport, "openvswitch");
    free(vport);
    net->weft = has_weft_mark(xml_child(root, "metadata"));
    net->mtu = int_attr(xml_child(root, "mtu"), "size");
    parse_portgroups(root, net);
    xmlFreeDoc(doc);
    if (!net->name) {
        *errorp = xasprintf("libvirt network has no <name>");
        virt_net_info_destroy(net);
        return EINVAL;
    }
    return 0;
}

void
virt_net_info_destroy(struct virt_net_info *net)
{
    if (!net) {
        return;
    }
    free(net->name);
    free(net->forward);
    free(net->bridge);
    portgroups_free(net->portgroups, net->n_portgroups);
    memset(net, 0, sizeof *net);
}

void
virt_net_info_clone(struct virt_net_info *dst,
                    const struct virt_net_info *src)
{
    *dst = *src;
    dst->name = xstrdup(src->name);
    dst->forward = xstrdup(src->forward);
    dst->bridge = xstrdup(src->bridge);
    dst->portgroups = portgroups_clone(src->portgroups, src->n_portgroups);
}

/* Comparison. */

enum virt_net_diff
virt_net_compare(const struct virt_net_spec *want,
                 const struct virt_net_info *have)
{
    if (!have->weft) {
        return VIRT_NET_FOREIGN;
    }
    if (strcmp(have->forward, "bridge") || !have->ovs
        || !streq_null(have->bridge, want->bridge)) {
        return VIRT_NET_REDEFINE;
    }
    return (portgroups_equal(want->portgroups, want->n_portgroups,
                             have->portgroups, have->n_portgroups)
            ? VIRT_NET_SAME : VIRT_NET_PORTGROUPS);
}

struct updates {
    struct virt_net_update *v;
    size_t n;
};

static void
push_update(struct updates *u, enum virt_net_update_cmd cmd,
            const struct virt_net_portgroup *pg)
{
    struct virt_net_portgroup name_only = { .name = pg->name };
    u->v = xrealloc(u->v, (u->n + 1) * sizeof *u->v);
    u->v[u->n++] = (struct virt_net_update) {
        .cmd = cmd,
        .xml = node_to_string(portgroup_node(cmd == VIRT_NET_UPDATE_DELETE
                                             ? &name_only : pg)),
    };
}

/* Adds or modifies the wanted portgroups that are (or are not) default. */
static void
push_wanted(struct updates *u, const struct virt_net_spec *want,
            const struct virt_net_info *have, bool defaults)
{
    for (size_t i = 0; i < want->n_portgroups; i++) {
        const struct virt_net_portgroup *pg = &want->portgroups[i];
        if (pg->is_default != defaults) {
            continue;
        }
        const struct virt_net_portgroup *o = portgroups_find(
            have->portgroups, have->n_portgroups, pg->name);
        if (!o) {
            push_update(u, VIRT_NET_UPDATE_ADD, pg);
        } else if (!portgroup_equal(pg, o)) {
            push_update(u, VIRT_NET_UPDATE_MODIFY, pg);
        }
    }
}

size_t
virt_net_portgroup_updates(const struct virt_net_spec *want,
                           const struct virt_net_info *have,
                           struct virt_net_update **updatesp)
{
    struct updates u = { NULL, 0 };
    for (size_t i = 0; i < have->n_portgroups; i++) {
        if (!portgroups_find(want->portgroups, want->n_portgroups,
                             have->portgroups[i].name)) {
            push_update(&u, VIRT_NET_UPDATE_DELETE, &have->portgroups[i]);
        }
    }
    push_wanted(&u, want, have, false);
    push_wanted(&u, want, have, true);
    *updatesp = u.v;
    return u.n;
}

void
virt_net_updates_free(struct virt_net_update *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].xml);
    }
    free(v);
}

/* Networks Weft does not manage. */

char *
virt_net_unmanaged_reason(const struct virt_net_info *net,
                          const char *managed_name, const char *bridge)
{
    const char *br = net->bridge ? net->bridge : "(none)";

    if (managed_name && !strcmp(net->name, managed_name) && net->weft) {
        return NULL;
    }
    if (!strcmp(net->forward, "bridge") && net->ovs && bridge
        && net->bridge && !strcmp(net->bridge, bridge)) {
        return NULL;
    }
    if (!strcmp(net->forward, "bridge")) {
        return xasprintf("bridged to %s, not to the integration bridge %s: "
                         "its VMs bypass Weft", br, bridge ? bridge : "?");
    }
    if (!strcmp(net->forward, "isolated")) {
        return xasprintf("isolated on libvirt's bridge %s: its VMs only "
                         "reach each other, outside Weft", br);
    }
    if (!strcmp(net->forward, "nat") || !strcmp(net->forward, "route")
        || !strcmp(net->forward, "open")) {
        return xasprintf("%s mode on libvirt's bridge %s: its VMs bypass "
                         "the integration bridge, so no Weft policy applies",
                         net->forward, br);
    }
    return xasprintf("%s mode (direct to a host interface): its VMs "
                     "bypass Open vSwitch", net->forward);
}

/* The start of a vNIC's problem with a network that bypasses Weft. */
#define PROBLEM_FORMAT "libvirt network \"%s\" is not Weft's "

static const struct virt_net_info *
find_net(const struct virt_net_info *nets, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(nets[i].name, name)) {
            return &nets[i];
        }
    }
    return NULL;
}

void
virt_net_check_domain(struct domain_info *d,
                      const struct virt_net_info *nets, size_t n_nets,
                      const char *managed_name, const char *bridge)
{
    for (size_t i = 0; i < d->n_nics; i++) {
        struct domain_nic *nic = &d->nics[i];
        if (!nic->network || nic->problem
            || (managed_name && !strcmp(nic->network, managed_name))) {
            continue;
        }
        const struct virt_net_info *net = find_net(nets, n_nets,
                                                   nic->network);
        char *why = (net ? virt_net_unmanaged_reason(net, managed_name,
                                                     bridge)
                     : xasprintf("does not exist on this host"));
        if (why) {
            nic->problem = xasprintf(PROBLEM_FORMAT "network \"%s\": %s",
                                     nic->network,
                                     managed_name ? managed_name : "-",
                                     why);
            free(why);
        }
    }
}

bool
virt_net_problem_is_about(const char *problem, const char *network)
{
    char *prefix = xasprintf(PROBLEM_FORMAT, network);
    bool about = problem && !strncmp(problem, prefix, strlen(prefix));
    free(prefix);
    return about;
}
