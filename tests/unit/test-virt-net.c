/* Unit tests for libvirt network XML (virt-net.h): the network Weft
 * builds, reading networks back as libvirt formats them, what differs and
 * the portgroup updates that fix it, and how unmanaged networks and their
 * vNICs are described. */
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
#include "virt-net.h"

/* As libvirt's test driver returns Weft's network (uuid added, indented). */
static const char libvirt_weft[] =
    "<network>\n"
    "  <name>weft</name>\n"
    "  <uuid>f2b9a45c-11ef-4435-a446-c8f4a1d1298c</uuid>\n"
    "  <metadata>\n"
    "    <weft:network xmlns:weft=\"https://weft.dev/xmlns/libvirt/1\" "
    "managed-by=\"weftd\"/>\n"
    "  </metadata>\n"
    "  <forward mode='bridge'/>\n"
    "  <bridge name='br-int'/>\n"
    "  <virtualport type='openvswitch'/>\n"
    "  <portgroup name='db'>\n"
    "    <vlan>\n"
    "      <tag id='200'/>\n"
    "    </vlan>\n"
    "  </portgroup>\n"
    "  <portgroup name='web' default='yes'>\n"
    "    <vlan>\n"
    "      <tag id='100'/>\n"
    "    </vlan>\n"
    "  </portgroup>\n"
    "</network>\n";

static const char libvirt_nat[] =
    "<network>\n"
    "  <name>default</name>\n"
    "  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>\n"
    "  <forward mode='nat'/>\n"
    "  <bridge name='virbr0' stp='on' delay='0'/>\n"
    "  <mtu size='9000'/>\n"
    "  <ip address='192.168.122.1' netmask='255.255.255.0'/>\n"
    "</network>\n";

static void
make_spec(struct virt_net_spec *spec)
{
    virt_net_spec_init(spec, "weft", "br-int");
    virt_net_spec_add_portgroup(spec, "web", 100, true);
    virt_net_spec_add_portgroup(spec, "db", 200, false);
}

static void
parse_ok(const char *xml, struct virt_net_info *net)
{
    char *error;
    assert_int_equal(virt_net_parse(xml, net, &error), 0);
    assert_null(error);
}

static void
test_xml_round_trip(void **state)
{
    (void) state;
    struct virt_net_spec spec;
    struct virt_net_info net;
    make_spec(&spec);

    char *xml = virt_net_spec_to_xml(&spec, NULL);
    assert_non_null(strstr(xml, "<forward mode=\"bridge\"/>"));
    assert_non_null(strstr(xml, "<virtualport type=\"openvswitch\"/>"));
    assert_null(strstr(xml, "<uuid>"));
    parse_ok(xml, &net);
    assert_string_equal(net.name, "weft");
    assert_string_equal(net.forward, "bridge");
    assert_string_equal(net.bridge, "br-int");
    assert_true(net.ovs);
    assert_true(net.weft);
    assert_int_equal(net.n_portgroups, 2);
    assert_string_equal(net.portgroups[0].name, "web");
    assert_int_equal(net.portgroups[0].vlan, 100);
    assert_true(net.portgroups[0].is_default);
    assert_false(net.portgroups[1].is_default);
    assert_int_equal(virt_net_compare(&spec, &net), VIRT_NET_SAME);
    virt_net_info_destroy(&net);
    free(xml);

    /* A redefinition keeps libvirt's UUID. */
    xml = virt_net_spec_to_xml(&spec, "f2b9a45c-11ef-4435-a446-c8f4a1d1298c");
    parse_ok(xml, &net);
    assert_string_equal(net.uuid, "f2b9a45c-11ef-4435-a446-c8f4a1d1298c");
    virt_net_info_destroy(&net);
    free(xml);
    virt_net_spec_destroy(&spec);
}

static void
test_names_escaped(void **state)
{
    (void) state;
    struct virt_net_spec spec;
    struct virt_net_info net;
    virt_net_spec_init(&spec, "a<b&c", "br'\"x");
    char *xml = virt_net_spec_to_xml(&spec, NULL);
    parse_ok(xml, &net);
    assert_string_equal(net.name, "a<b&c");
    assert_string_equal(net.bridge, "br'\"x");
    virt_net_info_destroy(&net);
    free(xml);
    virt_net_spec_destroy(&spec);
}

static void
test_compare_libvirt_output(void **state)
{
    (void) state;
    struct virt_net_spec spec;
    struct virt_net_info net;
    make_spec(&spec);
    parse_ok(libvirt_weft, &net);
    /* Other order, libvirt's formatting and UUID: the same. */
    assert_int_equal(virt_net_compare(&spec, &net), VIRT_NET_SAME);

    net.portgroups[0].vlan = 201;
    assert_int_equal(virt_net_compare(&spec, &net), VIRT_NET_PORTGROUPS);
    net.portgroups[0].vlan = 200;
    net.portgroups[1].is_default = false;
    assert_int_equal(virt_net_compare(&spec, &net), VIRT_NET_PORTGROUPS);
    net.portgroups[1].is_default = true;

    free(net.bridge);
    net.bridge = strdup("br-other");
    assert_int_equal(virt_net_compare(&spec, &net), VIRT_NET_REDEFINE);
    net.weft = false;
    assert_int_equal(virt_net_compare(&spec, &net), VIRT_NET_FOREIGN);
    virt_net_info_destroy(&net);
    virt_net_spec_destroy(&spec);
}

static void
test_foreign_same_name(void **state)
{
    (void) state;
    static const char hand_made[] =
        "<network><name>weft</name><forward mode='bridge'/>"
        "<bridge name='br-int'/><virtualport type='openvswitch'/>"
        "<metadata><x:network xmlns:x='http://example.com/'/></metadata>"
        "</network>";
    struct virt_net_spec spec;
    struct virt_net_info net;
    make_spec(&spec);
    parse_ok(hand_made, &net);
    assert_false(net.weft);
    assert_int_equal(virt_net_compare(&spec, &net), VIRT_NET_FOREIGN);
    virt_net_info_destroy(&net);
    virt_net_spec_destroy(&spec);
}

static void
test_portgroup_updates(void **state)
{
    (void) state;
    struct virt_net_spec spec;
    struct virt_net_info net;
    struct virt_net_update *u;

    /* Have: db=200, web=100 (default).  Want: web=100, app=300 (default):
     * db goes, web stops being default before app becomes it. */
    virt_net_spec_init(&spec, "weft", "br-int");
    virt_net_spec_add_portgroup(&spec, "app", 300, true);
    virt_net_spec_add_portgroup(&spec, "web", 100, false);
    parse_ok(libvirt_weft, &net);
    size_t n = virt_net_portgroup_updates(&spec, &net, &u);
    assert_int_equal(n, 3);
    assert_int_equal(u[0].cmd, VIRT_NET_UPDATE_DELETE);
    assert_string_equal(u[0].xml, "<portgroup name=\"db\"/>");
    assert_int_equal(u[1].cmd, VIRT_NET_UPDATE_MODIFY);
    assert_string_equal(u[1].xml, "<portgroup name=\"web\">\n"
                        "  <vlan>\n    <tag id=\"100\"/>\n  </vlan>\n"
                        "</portgroup>");
    assert_int_equal(u[2].cmd, VIRT_NET_UPDATE_ADD);
    assert_non_null(strstr(u[2].xml, "default=\"yes\""));
    assert_non_null(strstr(u[2].xml, "<tag id=\"300\"/>"));
    virt_net_updates_free(u, n);

    /* Nothing to do when equal. */
    virt_net_spec_destroy(&spec);
    make_spec(&spec);
    assert_int_equal(virt_net_portgroup_updates(&spec, &net, &u), 0);
    virt_net_updates_free(u, 0);
    virt_net_info_destroy(&net);
    virt_net_spec_destroy(&spec);
}

static void
test_spec_equal_clone(void **state)
{
    (void) state;
    struct virt_net_spec a, b;
    make_spec(&a);
    virt_net_spec_clone(&b, &a);
    assert_true(virt_net_spec_equal(&a, &b));
    b.portgroups[1].vlan = 201;
    assert_false(virt_net_spec_equal(&a, &b));
    virt_net_spec_destroy(&b);
    virt_net_spec_init(&b, "weft", "br-int");
    assert_false(virt_net_spec_equal(&a, &b));
    virt_net_spec_destroy(&a);
    virt_net_spec_destroy(&b);
}

static void
test_unmanaged_reasons(void **state)
{
    (void) state;
    struct virt_net_info net;
    parse_ok(libvirt_nat, &net);
    assert_string_equal(net.forward, "nat");
    assert_int_equal(net.mtu, 9000);
    char *why = virt_net_unmanaged_reason(&net, "weft", "br-int");
    assert_non_null(strstr(why, "nat mode on libvirt's bridge virbr0"));
    free(why);
    virt_net_info_destroy(&net);

    static const struct {
        const char *xml, *forward, *reason;
    } cases[] = {
        { "<network><name>i</name><bridge name='virbr9'/></network>",
          "isolated", "isolated on libvirt's bridge virbr9" },
        { "<network><name>n</name><forward/></network>", "nat",
          "nat mode" },
        { "<network><name>r</name><forward mode='route'/></network>",
          "route", "route mode" },
        { "<network><name>o</name><forward mode='open'/></network>",
          "open", "open mode" },
        { "<network><name>b</name><forward mode='bridge'/>"
          "<bridge name='br0'/></network>", "bridge",
          "bridged to br0, not to the integration bridge br-int" },
        { "<network><name>m</name><forward mode='private'>"
          "<interface dev='eth0'/></forward></network>", "private",
          "bypass Open vSwitch" },
        /* Someone else's OVS network on br-int: its vNICs do land on the
         * bridge. */
        { "<network><name>ovs</name><forward mode='bridge'/>"
          "<bridge name='br-int'/><virtualport type='openvswitch'/>"
          "</network>", "bridge", NULL },
        /* Weft's own. */
        { libvirt_weft, "bridge", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        parse_ok(cases[i].xml, &net);
        assert_string_equal(net.forward, cases[i].forward);
        why = virt_net_unmanaged_reason(&net, "weft", "br-int");
        if (cases[i].reason) {
            assert_non_null(why);
            assert_non_null(strstr(why, cases[i].reason));
        } else {
            assert_null(why);
        }
        free(why);
        virt_net_info_destroy(&net);
    }
}

static void
test_not_a_network(void **state)
{
    (void) state;
    struct virt_net_info net;
    char *error;
    assert_int_equal(virt_net_parse("<domain/>", &net, &error), EINVAL);
    assert_non_null(error);
    free(error);
    assert_int_equal(virt_net_parse("<network", &net, &error), EINVAL);
    free(error);
    assert_int_equal(virt_net_parse("<network/>", &net, &error), EINVAL);
    assert_string_equal(error, "libvirt network has no <name>");
    free(error);
}

static void
test_check_domain(void **state)
{
    (void) state;
    static const char domain[] =
        "<domain><name>vm</name><devices>"
        "<interface type='network'><mac address='52:54:00:00:00:01'/>"
        "<source network='weft' portgroup='web'/><target dev='t1'/>"
        "</interface>"
        "<interface type='network'><mac address='52:54:00:00:00:02'/>"
        "<source network='default'/><target dev='t2'/></interface>"
        "<interface type='network'><mac address='52:54:00:00:00:03'/>"
        "<source network='gone'/><target dev='t3'/></interface>"
        "<interface type='ethernet'><mac address='52:54:00:00:00:04'/>"
        "<target dev='t4'/></interface>"
        "</devices></domain>";
    struct domain_info d;
    struct virt_net_info nets[2];
    char *error;

    assert_int_equal(domain_xml_parse(domain, &d, &error), 0);
    parse_ok(libvirt_weft, &nets[0]);
    parse_ok(libvirt_nat, &nets[1]);
    virt_net_check_domain(&d, nets, 2, "weft", "br-int");
    assert_null(d.nics[0].problem);
    assert_non_null(d.nics[1].problem);
    assert_non_null(strstr(d.nics[1].problem, "libvirt network \"default\" "
                           "is not Weft's network \"weft\": nat mode"));
    assert_non_null(strstr(d.nics[2].problem, "does not exist"));
    assert_true(virt_net_problem_is_about(d.nics[1].problem, "default"));
    assert_false(virt_net_problem_is_about(d.nics[1].problem, "gone"));
    assert_false(virt_net_problem_is_about(NULL, "default"));
    assert_null(d.nics[3].problem);
    domain_info_destroy(&d);
    virt_net_info_destroy(&nets[0]);
    virt_net_info_destroy(&nets[1]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_round_trip),
        cmocka_unit_test(test_names_escaped),
        cmocka_unit_test(test_compare_libvirt_output),
        cmocka_unit_test(test_foreign_same_name),
        cmocka_unit_test(test_portgroup_updates),
        cmocka_unit_test(test_spec_equal_clone),
        cmocka_unit_test(test_unmanaged_reasons),
        cmocka_unit_test(test_not_a_network),
        cmocka_unit_test(test_check_domain),
    };
    return cmocka_run_group_tests_name("virt-net", tests, NULL, NULL);
}
