/* Unit tests for the libvirt domain XML reader: good documents, every way
 * an interface can be unplaceable, and documents that are not domains. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain-xml.h"

static const char full[] =
    "<domain type='kvm'>\n"
    "  <name>web1</name>\n"
    "  <uuid>11111111-2222-3333-4444-555555555555</uuid>\n"
    "  <metadata>\n"
    "    <other:thing xmlns:other='http://example.com/x'/>\n"
    "    <weft:interfaces xmlns:weft='https://weft.dev/xmlns/libvirt/1'>\n"
    "      <weft:interface mac='52:54:00:AA:BB:01' segment='web'\n"
    "                      groups='frontend,pci'\n"
    "                      ips='10.0.0.11,2001:DB8:0::11'/>\n"
    "      <weft:interface dev='vnet7' segment='db'/>\n"
    "    </weft:interfaces>\n"
    "  </metadata>\n"
    "  <devices>\n"
    "    <disk type='file'/>\n"
    "    <interface type='ethernet'>\n"
    "      <mac address='52:54:00:aa:bb:01'/>\n"
    "      <target dev='tap-web1'/>\n"
    "    </interface>\n"
    "    <interface type='bridge'>\n"
    "      <mac address='52:54:00:aa:bb:02'/>\n"
    "      <source bridge='br-int'/>\n"
    "      <virtualport type='openvswitch'>\n"
    "        <parameters interfaceid='0b4a1c6e-1111-2222-3333-444455556666'/>\n"
    "      </virtualport>\n"
    "      <vlan><tag id='200'/></vlan>\n"
    "      <target dev='vnet7'/>\n"
    "    </interface>\n"
    "    <interface type='network'>\n"
    "      <mac address='52:54:00:aa:bb:03'/>\n"
    "      <source network='weft' portgroup='lab'/>\n"
    "      <target dev='vnet8'/>\n"
    "      <ip address='192.0.2.8' prefix='24'/>\n"
    "    </interface>\n"
    "  </devices>\n"
    "</domain>\n";

static void
test_full(void **state)
{
    struct domain_info d;
    char *error;

    (void) state;
    assert_int_equal(domain_xml_parse(full, &d, &error), 0);
    assert_null(error);
    assert_string_equal(d.name, "web1");
    assert_string_equal(d.uuid, "11111111-2222-3333-4444-555555555555");
    assert_int_equal(d.n_nics, 3);

    const struct domain_nic *a = &d.nics[0];
    assert_string_equal(a->type, "ethernet");
    assert_string_equal(a->tap, "tap-web1");
    assert_string_equal(a->mac, "52:54:00:aa:bb:01");
    assert_string_equal(a->segment, "web");     /* Metadata, by MAC. */
    assert_string_equal(a->groups, "frontend,pci");
    assert_false(a->ovs_virtualport);
    assert_null(a->interfaceid);
    assert_null(a->problem);

    const struct domain_nic *b = &d.nics[1];
    assert_true(b->ovs_virtualport);
    assert_string_equal(b->interfaceid,
                        "0b4a1c6e-1111-2222-3333-444455556666");
    assert_string_equal(b->bridge, "br-int");
    assert_int_equal(b->vlan, 200);
    assert_string_equal(b->segment, "db");      /* Metadata, by dev. */
    assert_null(b->groups);
    assert_null(b->problem);

    const struct domain_nic *c = &d.nics[2];
    assert_string_equal(c->network, "weft");
    assert_string_equal(c->portgroup, "lab");
    assert_null(c->segment);
    assert_int_equal(c->vlan, 0);
    assert_null(c->problem);

    struct domain_info copy;
    domain_info_clone(&copy, &d);
    domain_info_destroy(&d);
    assert_string_equal(copy.nics[1].interfaceid,
                        "0b4a1c6e-1111-2222-3333-444455556666");
    assert_string_equal(copy.nics[0].groups, "frontend,pci");
    domain_info_destroy(&copy);
}

/* One interface per case; 'problem' must contain 'expect'. */
struct nic_case {
    const char *interface;
    const char *expect;
};

static const struct nic_case nic_cases[] = {
    { "<interface type='ethernet'><mac address='52:54:00:00:00:01'/>"
      "</interface>", "has no <target dev>" },
    { "<interface type='ethernet'><target dev='t1'/></interface>",
      "has no <mac address>" },
    { "<interface type='ethernet'><mac address='52:54:00:00:01'/>"
      "<target dev='t1'/></interface>",
      "MAC \"52:54:00:00:01\" is not a MAC address" },
    { "<interface type='direct'><mac address='52:54:00:00:00:01'/>"
      "<source dev='eth0' mode='bridge'/><target dev='macvtap0'/>"
      "</interface>", "macvtap (type='direct') interface bypasses Open "
      "vSwitch" },
    { "<interface type='user'><mac address='52:54:00:00:00:01'/>"
      "<target dev='t1'/></interface>",
      "interface type 'user' cannot be placed" },
    { "<interface type='bridge'><mac address='52:54:00:00:00:01'/>"
      "<vlan><tag id='5000'/></vlan><target dev='t1'/></interface>",
      "VLAN tag \"5000\" is not 1..4094" },
    { "<interface type='bridge'><mac address='52:54:00:00:00:01'/>"
      "<vlan trunk='yes'><tag id='5'/><tag id='6'/></vlan>"
      "<target dev='t1'/></interface>", "VLAN trunks to VMs are not "
      "supported" },
};

/* Addresses: canonical form, from metadata or libvirt's <ip>; a bad one
 * makes the vNIC unplaceable. */
static void
test_ips(void **state)
{
    struct domain_info d;
    char *error;

    (void) state;
    assert_int_equal(domain_xml_parse(full, &d, &error), 0);
    assert_int_equal(d.n_nics, 3);
    assert_string_equal(d.nics[0].ips, "10.0.0.11,2001:db8::11");
    assert_null(d.nics[1].ips);
    assert_string_equal(d.nics[2].ips, "192.0.2.8");
    assert_null(d.nics[2].problem);
    domain_info_destroy(&d);

    static const char good[] =
        "<domain><name>a</name><uuid>11111111-2222-3333-4444-555555555555"
        "</uuid><metadata><weft:interfaces "
        "xmlns:weft='https://weft.dev/xmlns/libvirt/1'><weft:interface "
        "mac='52:54:00:00:00:01' ips='10.0.0.1,2001:DB8:0::11'/>"
        "</weft:interfaces></metadata><devices><interface type='ethernet'>"
        "<mac address='52:54:00:00:00:01'/><target dev='t1'/>"
        "<ip address='192.0.2.1'/></interface></devices></domain>";
    assert_int_equal(domain_xml_parse(good, &d, &error), 0);
    /* The metadata wins over libvirt's <ip>. */
    assert_string_equal(d.nics[0].ips, "10.0.0.1,2001:db8::11");
    assert_null(d.nics[0].problem);
    domain_info_destroy(&d);

    /* inet_pton() refuses "011": the vNIC is not placeable, and says why. */
    char *bad = strdup(good);
    memcpy(strstr(bad, "10.0.0.1,"), "10.0.01,", 8);
    assert_int_equal(domain_xml_parse(bad, &d, &error), 0);
    assert_non_null(d.nics[0].problem);
    assert_non_null(strstr(d.nics[0].problem, "\"10.0.01\" (in ips)"));
    domain_info_destroy(&d);
    free(bad);
}

static void
test_unplaceable_interfaces(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof nic_cases / sizeof nic_cases[0]; i++) {
        char xml[1024];
        snprintf(xml, sizeof xml, "<domain><name>vm</name><devices>%s"
                 "<interface type='ethernet'><mac address="
                 "'52:54:00:00:00:99'/><target dev='ok'/></interface>"
                 "</devices></domain>", nic_cases[i].interface);
        struct domain_info d;
        char *error;
        assert_int_equal(domain_xml_parse(xml, &d, &error), 0);
        assert_int_equal(d.n_nics, 2);
        assert_non_null(d.nics[0].problem);
        if (!strstr(d.nics[0].problem, nic_cases[i].expect)) {
            fail_msg("case %zu: problem \"%s\" lacks \"%s\"", i,
                     d.nics[0].problem, nic_cases[i].expect);
        }
        /* The other interface is unaffected. */
        assert_null(d.nics[1].problem);
        domain_info_destroy(&d);
    }
}

static void
test_not_a_domain(void **state)
{
    struct domain_info d;
    char *error;

    (void) state;
    assert_int_equal(domain_xml_parse("<domain><name>x", &d, &error),
                     EINVAL);
    assert_non_null(strstr(error, "not well-formed"));
    free(error);

    assert_int_equal(domain_xml_parse("<network><name>x</name></network>",
                                      &d, &error), EINVAL);
    assert_string_equal(error, "XML root element is <network>, not "
                        "<domain>");
    free(error);

    assert_int_equal(domain_xml_parse("<domain><devices/></domain>", &d,
                                      &error), EINVAL);
    assert_string_equal(error, "domain has no <name>");
    free(error);

    assert_int_equal(domain_xml_parse("", &d, &error), EINVAL);
    free(error);
}

static void
test_metadata_in_other_namespace_is_ignored(void **state)
{
    struct domain_info d;
    char *error;

    (void) state;
    assert_int_equal(domain_xml_parse(
        "<domain><name>vm</name><metadata>"
        "<x:interfaces xmlns:x='http://example.com/not-weft'>"
        "<x:interface mac='52:54:00:00:00:01' segment='evil'/>"
        "</x:interfaces></metadata><devices>"
        "<interface type='ethernet'><mac address='52:54:00:00:00:01'/>"
        "<target dev='t1'/></interface></devices></domain>", &d, &error), 0);
    assert_null(d.nics[0].segment);
    domain_info_destroy(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_ips),
        cmocka_unit_test(test_unplaceable_interfaces),
        cmocka_unit_test(test_not_a_domain),
        cmocka_unit_test(test_metadata_in_other_namespace_is_ignored),
    };
    return cmocka_run_group_tests_name("domain-xml", tests, NULL, NULL);
}
