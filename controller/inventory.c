/* The inventory of hosts, VMs and vNICs (see inventory.h). */
#include "inventory.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain-xml.h"





/* Signature of a host without placeable vNICs. */
#define EMPTY_SIGNATURE 0xcbf29ce484222325ULL

const char *
inv_placement_to_string(enum inv_placement p)
{
    switch (p) {
    case INV_UNPLACED: return "unplaced";
    case INV_PENDING: return "pending";
    case INV_PLACED: return "placed";
    }
    return "?";
}

static uint64_t
fnv(uint64_t hash, const char *s)
{
    for (; s && *s; s++) {
        hash = (hash ^ (unsigned char) *s) * 0x100000001b3ULL;
    }
    return (hash ^ 0xff) * 0x100000001b3ULL;   /* Separates fields. */
}

/* A stable interface ID for a vNIC that libvirt gave none: UUID-shaped,
 * derived from the domain's UUID and the MAC. */
static char *
make_iface_id(const char *vm_uuid, const char *mac)
{
    uint64_t a = fnv(fnv(0xcbf29ce484222325ULL, vm_uuid), mac);
    uint64_t b = fnv(fnv(a, "weft"), mac);
    return xasprintf("%08x-%04x-%04x-%04x-%012llx",
                     (unsigned int) (a >> 32), (unsigned int) (a >> 16) & 0xffff,
                     (unsigned int) (a & 0x0fff) | 0x5000,
                     ((unsigned int) (b >> 48) & 0x3fff) | 0x8000,
                     (unsigned long long) (b & 0xffffffffffffULL));
}

void
inventory_init(struct inventory *inv)
{
    memset(inv, 0, sizeof *inv);
    inv->next_seqno = 1;
}

static void
vnic_destroy(struct inv_vnic *v)
{
    free(v->tap);
    free(v->iface_id);
    free(v->segment);
    free(v->groups);
    free(v->ips);
    free(v->reason);
    free(v->want_segment);
    free(v->portgroup);
    free(v->xml_problem);
}

static void
vm_destroy(struct inv_vm *vm)
{
    for (size_t i = 0; i < vm->n_vnics; i++) {
        vnic_destroy(&vm->vnics[i]);
    }
    free(vm->vnics);
    free(vm->name);
}

static void
host_destroy(struct inv_host *h)
{
    for (size_t i = 0; i < h->n_vms; i++) {
        vm_destroy(&h->vms[i]);
    }
    free(h->vms);
    free(h->name);
}

void
inventory_destroy(struct inventory *inv)
{
    for (size_t i = 0; i < inv->n_hosts; i++) {
        host_destroy(&inv->hosts[i]);
    }
    free(inv->hosts);
    memset(inv, 0, sizeof *inv);
}

struct inv_host *
inventory_find_host(const struct inventory *inv, const char *name)
{
    for (size_t i = 0; i < inv->n_hosts; i++) {
        if (!strcmp(inv->hosts[i].name, name)) {
            return &inv->hosts[i];
        }
    }
    return NULL;
}

struct inv_host *
inventory_add_host(struct inventory *inv, const char *name)
{
    struct inv_host *h = inventory_find_host(inv, name);
    if (h) {
        return h;
    }
    inv->hosts = realloc(inv->hosts, (inv->n_hosts + 1) * sizeof *inv->hosts);
    if (!inv->hosts) {
        abort();
    }
    h = &inv->hosts[inv->n_hosts++];
    memset(h, 0, sizeof *h);
    h->name = xstrdup(name);
    h->signature = EMPTY_SIGNATURE;
    return h;
}

/* Resolution. */

static char *
default_resolve(const char *name, int vlan, const char *portgroup,
                char **reason)
{
    if (name) {
        return xstrdup(name);
    } else if (vlan) {
        return xasprintf("vlan-%d", vlan);
    } else if (portgroup) {
        return xstrdup(portgroup);
    }
    *reason = xstrdup("no segment: give the interface Weft metadata, a "
                      "<vlan><tag>, or a network portgroup");
    return NULL;
}

static void
set_reason(struct inv_vnic *v, char *reason)
{
    if (!v->reason || strcmp(v->reason, reason)) {
        v->reason_reported = false;
    }
    free(v->reason);
    v->reason = reason;
    v->placement = INV_UNPLACED;
    v->ofport = 0;
}

static void
resolve_one(struct inventory *inv, struct inv_vnic *v)
{
    char *reason = NULL;
    char *segment = NULL;

    free(v->segment);
    v->segment = NULL;
    if (v->xml_problem) {
        set_reason(v, xstrdup(v->xml_problem));
        return;
    }
    segment = (inv->resolve
               ? inv->resolve(inv->resolve_aux, v->want_segment, v->vlan,
                              v->portgroup, &reason)
               : default_resolve(v->want_segment, v->vlan, v->portgroup,
                                 &reason));
    if (!segment) {
        set_reason(v, reason ? reason : xstrdup("segment does not resolve"));
        return;
    }
    v->segment = segment;
    if (v->placement == INV_UNPLACED) {
        v->placement = INV_PENDING;
        free(v->reason);
        v->reason = NULL;
    }
}

struct vnic_ref {
    struct inv_vnic *vnic;
    const struct inv_host *host;
    const struct inv_vm *vm;
};

static int
compare_by_mac(const void *a_, const void *b_)
{
    const struct vnic_ref *a = a_, *b = b_;
    int cmp = strcmp(a->vnic->mac, b->vnic->mac);
    return (cmp ? cmp
            : a->vnic->seqno < b->vnic->seqno ? -1
            : a->vnic->seqno > b->vnic->seqno);
}

static int
compare_by_host_tap(const void *a_, const void *b_)
{
    const struct vnic_ref *a = a_, *b = b_;
    int cmp = strcmp(a->host->name, b->host->name);
    if (!cmp) {
        cmp = strcmp(a->vnic->tap, b->vnic->tap);
    }
    return (cmp ? cmp
            : a->vnic->seqno < b->vnic->seqno ? -1
            : a->vnic->seqno > b->vnic->seqno);
}

static bool
same_key(const struct vnic_ref *a, const struct vnic_ref *b, bool by_mac)
{
    return (by_mac
            ? !strcmp(a->vnic->mac, b->vnic->mac)
            : a->host == b->host && !strcmp(a->vnic->tap, b->vnic->tap));
}

/* Of vNICs sharing a MAC (anywhere) or a tap (on a host), the first to
 * arrive stays placeable. */
static void
mark_clashes(struct vnic_ref *refs, size_t n, bool by_mac)
{
    qsort(refs, n, sizeof *refs, by_mac ? compare_by_mac
                                        : compare_by_host_tap);
    size_t first = 0;
    for (size_t i = 1; i < n; i++) {
        if (!same_key(&refs[first], &refs[i], by_mac)) {
            first = i;
            continue;
        }
        const struct vnic_ref *f = &refs[first];
        struct inv_vnic *v = refs[i].vnic;
        set_reason(v, xasprintf("%s %s is already used by %s/%s on host %s",
                                by_mac ? "MAC" : "tap",
                                by_mac ? v->mac : v->tap, f->vm->name,
                                f->vnic->tap, f->host->name));
        free(v->segment);
        v->segment = NULL;
    }
}

static uint64_t
placeable_signature(const struct inv_host *h)
{
    uint64_t sig = EMPTY_SIGNATURE;
    for (size_t i = 0; i < h->n_vms; i++) {
        const struct inv_vm *vm = &h->vms[i];
        for (size_t j = 0; j < vm->n_vnics; j++) {
            const struct inv_vnic *v = &vm->vnics[j];
            if (v->placement == INV_UNPLACED) {
                continue;
            }
            /* Order-independent: a sum of per-vNIC hashes. */
            uint64_t x = 0xcbf29ce484222325ULL;
            x = fnv(x, vm->uuid);
            x = fnv(x, vm->name);
            x = fnv(x, v->tap);
            x = fnv(x, v->mac);
            x = fnv(x, v->iface_id);
            x = fnv(x, v->segment);
            x = fnv(x, v->groups);
            x = fnv(x, v->ips);
            x = fnv(x, v->adopt ? "adopt" : "own");
            sig += x;
        }
    }
    return sig;
}

static void
resolve_all(struct inventory *inv)
{
    size_t n = 0;
    for (size_t h = 0; h < inv->n_hosts; h++) {
        for (size_t i = 0; i < inv->hosts[h].n_vms; i++) {
            n += inv->hosts[h].vms[i].n_vnics;
        }
    }
    struct vnic_ref *refs = xcalloc(n, sizeof *refs);
    size_t n_ok = 0;
    for (size_t h = 0; h < inv->n_hosts; h++) {
        struct inv_host *host = &inv->hosts[h];
        for (size_t i = 0; i < host->n_vms; i++) {
            struct inv_vm *vm = &host->vms[i];
            for (size_t j = 0; j < vm->n_vnics; j++) {
                struct inv_vnic *v = &vm->vnics[j];
                resolve_one(inv, v);
                if (v->placement != INV_UNPLACED) {
                    refs[n_ok++] = (struct vnic_ref) { v, host, vm };
                }
            }
        }
    }
    mark_clashes(refs, n_ok, true);

    size_t n_taps = 0;
    for (size_t h = 0; h < inv->n_hosts; h++) {
        struct inv_host *host = &inv->hosts[h];
        for (size_t i = 0; i < host->n_vms; i++) {
            struct inv_vm *vm = &host->vms[i];
            for (size_t j = 0; j < vm->n_vnics; j++) {
                if (vm->vnics[j].placement != INV_UNPLACED) {
                    refs[n_taps++] = (struct vnic_ref) { &vm->vnics[j], host,
                                                         vm };
                }
            }
        }
    }
    mark_clashes(refs, n_taps, false);
    free(refs);

    for (size_t h = 0; h < inv->n_hosts; h++) {
        struct inv_host *host = &inv->hosts[h];
        uint64_t sig = placeable_signature(host);
        if (sig != host->signature) {
            host->signature = sig;
            host->generation++;
        }
    }
}

void
inventory_set_resolver(struct inventory *inv, inventory_resolve_func *f,
                       void *aux)
{
    inv->resolve = f;
    inv->resolve_aux = aux;
    resolve_all(inv);
}

/* Domains. */

static void
vm_from_domain(struct inventory *inv, struct inv_vm *vm,
               const struct domain_info *d, const struct inv_vm *old)
{
    memset(vm, 0, sizeof *vm);
    memcpy(vm->uuid, d->uuid, sizeof vm->uuid);
    vm->name = xstrdup(d->name);
    vm->n_vnics = d->n_nics;
    vm->vnics = xcalloc(d->n_nics, sizeof *vm->vnics);
    for (size_t i = 0; i < d->n_nics; i++) {
        const struct domain_nic *nic = &d->nics[i];
        struct inv_vnic *v = &vm->vnics[i];
        v->tap = xstrdup(nic->tap);
        memcpy(v->mac, nic->mac, sizeof v->mac);
        v->iface_id = (nic->interfaceid ? xstrdup(nic->interfaceid)
                       : make_iface_id(d->uuid, nic->mac));
        v->groups = xstrdup(nic->groups);
        v->ips = xstrdup(nic->ips);
        v->adopt = nic->ovs_virtualport;
        v->want_segment = xstrdup(nic->segment);
        v->vlan = nic->vlan;
        v->portgroup = xstrdup(nic->portgroup);
        v->xml_problem = xstrdup(nic->problem);
        v->placement = INV_UNPLACED;
        v->seqno = inv->next_seqno++;

        /* An unchanged vNIC keeps its arrival order and placement. */
        for (size_t j = 0; old && j < old->n_vnics; j++) {
            const struct inv_vnic *o = &old->vnics[j];
            if (!strcmp(o->mac, v->mac) && o->tap && v->tap
                && !strcmp(o->tap, v->tap)) {
                v->seqno = o->seqno;
                v->placement = o->placement;
                v->ofport = o->ofport;
                v->reason = xstrdup(o->reason);
                v->reason_reported = o->reason_reported;
            }
        }
    }
}

static struct inv_vm *
find_vm(struct inv_host *h, const char *uuid)
{
    for (size_t i = 0; i < h->n_vms; i++) {
        if (!strcmp(h->vms[i].uuid, uuid)) {
            return &h->vms[i];
        }
    }
    return NULL;
}

void
inventory_sync_host(struct inventory *inv, const char *host_name,
                    const struct domain_info *domains, size_t n)
{
    struct inv_host *h = inventory_add_host(inv, host_name);
    struct inv_vm *vms = xcalloc(n, sizeof *vms);
    for (size_t i = 0; i < n; i++) {
        vm_from_domain(inv, &vms[i], &domains[i],
                       find_vm(h, domains[i].uuid));
    }
    for (size_t i = 0; i < h->n_vms; i++) {
        vm_destroy(&h->vms[i]);
    }
    free(h->vms);
    h->vms = vms;
    h->n_vms = n;
    h->synced = true;
    resolve_all(inv);
}

void
inventory_domain_up(struct inventory *inv, const char *host_name,
                    const struct domain_info *d)
{
    struct inv_host *h = inventory_add_host(inv, host_name);
    struct inv_vm *old = find_vm(h, d->uuid);
    struct inv_vm vm;

    vm_from_domain(inv, &vm, d, old);
    if (old) {
        vm_destroy(old);
        *old = vm;
    } else {
        h->vms = realloc(h->vms, (h->n_vms + 1) * sizeof *h->vms);
        if (!h->vms) {
            abort();
        }
        h->vms[h->n_vms++] = vm;
    }
    resolve_all(inv);
}

void
inventory_domain_down(struct inventory *inv, const char *host_name,
                      const char *uuid)
{
    struct inv_host *h = inventory_find_host(inv, host_name);
    struct inv_vm *vm = h ? find_vm(h, uuid) : NULL;
    if (!vm) {
        return;
    }
    vm_destroy(vm);
    *vm = h->vms[--h->n_vms];
    resolve_all(inv);
}

void
inventory_remove_host(struct inventory *inv, const char *name)
{
    struct inv_host *h = inventory_find_host(inv, name);
    if (!h) {
        return;
    }
    host_destroy(h);
    *h = inv->hosts[--inv->n_hosts];
    resolve_all(inv);
}

struct inv_vnic *
inventory_find_vnic(const struct inventory *inv, const char *host_name,
                    const char *tap, const struct inv_vm **vmp)
{
    struct inv_host *h = inventory_find_host(inv, host_name);
    for (size_t i = 0; h && i < h->n_vms; i++) {
        struct inv_vm *vm = &h->vms[i];
        for (size_t j = 0; j < vm->n_vnics; j++) {
            struct inv_vnic *v = &vm->vnics[j];
            if (v->tap && !strcmp(v->tap, tap)
                && v->placement != INV_UNPLACED) {
                if (vmp) {
                    *vmp = vm;
                }
                return v;
            }
        }
    }
    return NULL;
}

void
inventory_set_placement(struct inventory *inv, const char *host_name,
                        const char *tap, enum inv_placement placement,
                        const char *reason, int ofport)
{
    struct inv_vnic *v = inventory_find_vnic(inv, host_name, tap, NULL);
    if (!v || placement == INV_UNPLACED) {
        return;     /* Unplaced is decided by resolution only. */
    }
    v->placement = placement;
    v->ofport = ofport;
    free(v->reason);
    v->reason = xstrdup(reason);
}

void
inventory_count(const struct inventory *inv, size_t *n_vms, size_t *n_vnics,
                size_t *n_placed, size_t *n_unplaced)
{
    *n_vms = *n_vnics = *n_placed = *n_unplaced = 0;
    for (size_t h = 0; h < inv->n_hosts; h++) {
        const struct inv_host *host = &inv->hosts[h];
        *n_vms += host->n_vms;
        for (size_t i = 0; i < host->n_vms; i++) {
            for (size_t j = 0; j < host->vms[i].n_vnics; j++) {
                enum inv_placement p = host->vms[i].vnics[j].placement;
                ++*n_vnics;
                *n_placed += p == INV_PLACED;
                *n_unplaced += p == INV_UNPLACED;
            }
        }
    }
}
