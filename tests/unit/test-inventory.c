/* Unit tests for the inventory: syncs, events, segment resolution, MAC and
 * tap clashes, and the per-host generation that drives port placement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain-xml.h"
#include "inventory.h"

/* Builds a one-interface domain. */
static void
make_domain(struct domain_info *d, const char *name, const char *uuid,
            const char *tap, const char *mac, const char *segment)
{
    char xml[1024];
    char meta[256] = "";
    char *error;

    if (segment) {
        snprintf(meta, sizeof meta, "<metadata><w:interfaces xmlns:w="
                 "'https://weft.dev/xmlns/libvirt/1'><w:interface mac='%s' "
                 "segment='%s'/></w:interfaces></metadata>", mac, segment);
    }
    snprintf(xml, sizeof xml, "<domain><name>%s</name><uuid>%s</uuid>%s"
             "<devices><interface type='ethernet'><mac address='%s'/>"
             "<target dev='%s'/></interface></devices></domain>",
             name, uuid, meta, mac, tap);
    assert_int_equal(domain_xml_parse(xml, d, &error), 0);
}

#define UUID(N) "00000000-0000-0000-0000-00000000000" #N

static void
test_sync_up_down(void **state)
{
    struct inventory inv;
    struct domain_info d[2];

    (void) state;
    inventory_init(&inv);
    struct inv_host *h = inventory_add_host(&inv, "h1");
    assert_false(h->synced);
    unsigned int gen = h->generation;

    make_domain(&d[0], "vm1", UUID(1), "t-vm1", "52:54:00:00:00:01", "web");
    make_domain(&d[1], "vm2", UUID(2), "t-vm2", "52:54:00:00:00:02", "db");
    inventory_sync_host(&inv, "h1", d, 2);
    h = inventory_find_host(&inv, "h1");
    assert_true(h->synced);
    assert_int_equal(h->n_vms, 2);
    assert_int_not_equal(h->generation, gen);
    gen = h->generation;

    const struct inv_vm *vm;
    struct inv_vnic *v = inventory_find_vnic(&inv, "h1", "t-vm1", &vm);
    assert_non_null(v);
    assert_string_equal(vm->name, "vm1");
    assert_string_equal(v->segment, "web");
    assert_int_equal(v->placement, INV_PENDING);
    /* A generated interface ID is stable. */
    char *iface_id = strdup(v->iface_id);
    assert_int_equal(strlen(iface_id), 36);

    inventory_set_placement(&inv, "h1", "t-vm1", INV_PLACED, NULL, 5);
    assert_int_equal(v->placement, INV_PLACED);
    assert_int_equal(v->ofport, 5);

    /* The same sync again changes nothing, keeps placement and IDs. */
    inventory_sync_host(&inv, "h1", d, 2);
    h = inventory_find_host(&inv, "h1");
    assert_int_equal(h->generation, gen);
    v = inventory_find_vnic(&inv, "h1", "t-vm1", NULL);
    assert_int_equal(v->placement, INV_PLACED);
    assert_string_equal(v->iface_id, iface_id);
    free(iface_id);

    inventory_domain_down(&inv, "h1", UUID(2));
    h = inventory_find_host(&inv, "h1");
    assert_int_equal(h->n_vms, 1);
    assert_int_not_equal(h->generation, gen);
    assert_null(inventory_find_vnic(&inv, "h1", "t-vm2", NULL));

    size_t n_vms, n_vnics, n_placed, n_unplaced;
    inventory_count(&inv, &n_vms, &n_vnics, &n_placed, &n_unplaced);
    assert_int_equal(n_vms, 1);
    assert_int_equal(n_vnics, 1);
    assert_int_equal(n_placed, 1);
    assert_int_equal(n_unplaced, 0);

    domain_info_destroy(&d[0]);
    domain_info_destroy(&d[1]);
    inventory_destroy(&inv);
}

static void
test_mac_clash_first_keeps(void **state)
{
    struct inventory inv;
    struct domain_info a, b;

    (void) state;
    inventory_init(&inv);
    make_domain(&a, "vm1", UUID(1), "t-vm1", "52:54:00:00:00:01", "web");
    make_domain(&b, "vm2", UUID(2), "t-vm2", "52:54:00:00:00:01", "web");
    inventory_domain_up(&inv, "h1", &a);
    unsigned int gen2 = inventory_add_host(&inv, "h2")->generation;
    inventory_domain_up(&inv, "h2", &b);

    const struct inv_host *h2 = inventory_find_host(&inv, "h2");
    const struct inv_vnic *v2 = &h2->vms[0].vnics[0];
    assert_int_equal(v2->placement, INV_UNPLACED);
    assert_string_equal(v2->reason, "MAC 52:54:00:00:00:01 is already used "
                        "by vm1/t-vm1 on host h1");
    assert_false(v2->reason_reported);
    assert_int_equal(h2->generation, gen2);     /* Nothing placeable. */

    /* The first one goes: the second becomes placeable. */
    inventory_domain_down(&inv, "h1", UUID(1));
    h2 = inventory_find_host(&inv, "h2");
    v2 = &h2->vms[0].vnics[0];
    assert_int_equal(v2->placement, INV_PENDING);
    assert_null(v2->reason);
    assert_int_not_equal(h2->generation, gen2);

    domain_info_destroy(&a);
    domain_info_destroy(&b);
    inventory_destroy(&inv);
}

static void
test_tap_clash_on_one_host(void **state)
{
    struct inventory inv;
    struct domain_info a, b, c;

    (void) state;
    inventory_init(&inv);
    make_domain(&a, "vm1", UUID(1), "vnet0", "52:54:00:00:00:01", "web");
    make_domain(&b, "vm2", UUID(2), "vnet0", "52:54:00:00:00:02", "web");
    make_domain(&c, "vm3", UUID(3), "vnet0", "52:54:00:00:00:03", "web");
    inventory_domain_up(&inv, "h1", &a);
    inventory_domain_up(&inv, "h1", &b);
    inventory_domain_up(&inv, "h2", &c);    /* Other host: fine. */

    const struct inv_host *h1 = inventory_find_host(&inv, "h1");
    assert_int_equal(h1->vms[0].vnics[0].placement, INV_PENDING);
    assert_int_equal(h1->vms[1].vnics[0].placement, INV_UNPLACED);
    assert_string_equal(h1->vms[1].vnics[0].reason, "tap vnet0 is already "
                        "used by vm1/vnet0 on host h1");
    const struct inv_host *h2 = inventory_find_host(&inv, "h2");
    assert_int_equal(h2->vms[0].vnics[0].placement, INV_PENDING);

    domain_info_destroy(&a);
    domain_info_destroy(&b);
    domain_info_destroy(&c);
    inventory_destroy(&inv);
}

static char *
known_segments_only(void *aux, const char *name, int vlan,
                    const char *portgroup, char **reason)
{
    (void) aux;
    (void) portgroup;
    if (name && !strcmp(name, "web")) {
        return strdup("web");
    }
    if (!name && vlan == 200) {
        return strdup("db");
    }
    *reason = strdup(name ? "unknown segment" : "no segment");
    return NULL;
}

static void
test_resolver(void **state)
{
    struct inventory inv;
    struct domain_info a, b;

    (void) state;
    inventory_init(&inv);
    make_domain(&a, "vm1", UUID(1), "t1", "52:54:00:00:00:01", "web");
    make_domain(&b, "vm2", UUID(2), "t2", "52:54:00:00:00:02", "nope");
    inventory_domain_up(&inv, "h1", &a);
    inventory_domain_up(&inv, "h1", &b);

    /* Default resolver: names are taken as they are. */
    const struct inv_host *h = inventory_find_host(&inv, "h1");
    assert_string_equal(h->vms[1].vnics[0].segment, "nope");

    inventory_set_resolver(&inv, known_segments_only, NULL);
    h = inventory_find_host(&inv, "h1");
    assert_string_equal(h->vms[0].vnics[0].segment, "web");
    assert_int_equal(h->vms[1].vnics[0].placement, INV_UNPLACED);
    assert_string_equal(h->vms[1].vnics[0].reason, "unknown segment");
    assert_null(h->vms[1].vnics[0].segment);

    domain_info_destroy(&a);
    domain_info_destroy(&b);
    inventory_destroy(&inv);
}

static void
test_xml_problem_is_the_reason(void **state)
{
    struct inventory inv;
    struct domain_info d;
    char *error;

    (void) state;
    inventory_init(&inv);
    assert_int_equal(domain_xml_parse(
        "<domain><name>vm</name><uuid>" UUID(9) "</uuid><devices>"
        "<interface type='ethernet'><mac address='52:54:00:00:00:09'/>"
        "</interface></devices></domain>", &d, &error), 0);
    inventory_domain_up(&inv, "h1", &d);
    const struct inv_host *h = inventory_find_host(&inv, "h1");
    assert_int_equal(h->vms[0].vnics[0].placement, INV_UNPLACED);
    assert_non_null(strstr(h->vms[0].vnics[0].reason, "no <target dev>"));
    domain_info_destroy(&d);
    inventory_remove_host(&inv, "h1");
    assert_null(inventory_find_host(&inv, "h1"));
    inventory_destroy(&inv);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_up_down),
        cmocka_unit_test(test_mac_clash_first_keeps),
        cmocka_unit_test(test_tap_clash_on_one_host),
        cmocka_unit_test(test_resolver),
        cmocka_unit_test(test_xml_problem_is_the_reason),
    };
    return cmocka_run_group_tests_name("inventory", tests, NULL, NULL);
}
