/* Unit tests for the policy model: parsing the example, the canonical
 * format and its round trip, every error class with its line and field,
 * validation of policies built in memory, diff, and editing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy.h"

/* The example from the design, with a mirror. */
static const char example[] =
    "# Weft policy: comments start with '#', blank lines ignored.\n"
    "segment web vlan=100 vni=5001\n"
    "segment db vlan=200 vni=5002\n"
    "segment lab vlan=300 isolated\n"
    "\n"
    "group web-servers segments=web\n"
    "group admins labels=admin,ops vnics=web1,52:54:00:00:00:11\n"
    "group mgmt cidrs=10.0.99.0/24,192.0.2.7/32\n"
    "group backend groups=web-servers,db\n"
    "rule web-to-db allow from=web to=db proto=tcp ports=5432 "
    "priority=100\n"
    "rule lab-ping allow from=lab to=lab proto=icmp\n"
    "rule no-ssh deny from=any to=db proto=tcp ports=22,2222-2230 "
    "priority=200\n"
    "\t rule udp-any   allow from=admins to=web proto=udp ports=53 "
    "stateless   # trailing comment\n"
    "mirror tap sources=vnic:52:54:00:00:00:AA,group:admins "
    "to=host:h1/mon0 direction=ingress";

static const char example_canonical[] =
    "segment db vlan=200 vni=5002\n"
    "segment lab vlan=300 isolated\n"
    "segment web vlan=100 vni=5001\n"
    "group admins labels=admin,ops vnics=web1,52:54:00:00:00:11\n"
    "group backend groups=web-servers,db\n"
    "group mgmt cidrs=10.0.99.0/24,192.0.2.7/32\n"
    "group web-servers segments=web\n"
    "rule lab-ping allow from=lab to=lab proto=icmp\n"
    "rule no-ssh deny from=any to=db proto=tcp ports=22,2222-2230 "
    "priority=200\n"
    "rule udp-any allow from=admins to=web proto=udp ports=53 stateless\n"
    "rule web-to-db allow from=web to=db proto=tcp ports=5432\n"
    "mirror tap sources=vnic:52:54:00:00:00:aa,group:admins "
    "to=host:h1/mon0 direction=ingress\n";

static struct policy *
parse_ok(const char *text)
{
    struct policy_error error;
    struct policy *p = (struct policy *) 1;
    int retval = policy_parse(text, &p, &error);

    if (retval) {
        char *s = policy_error_format(&error, "t");
        print_error("unexpected error: %s\n", s);
        free(s);
    }
    assert_int_equal(retval, 0);
    assert_non_null(p);
    return p;
}

static void
test_example(void **state)
{
    (void) state;
    struct policy *p = parse_ok(example);

    assert_int_equal(p->n_segments, 3);
    assert_int_equal(p->n_groups, 4);
    assert_int_equal(p->n_rules, 4);
    assert_int_equal(p->n_mirrors, 1);

    const struct policy_segment *web = policy_find_segment(p, "web");
    assert_non_null(web);
    assert_int_equal(web->vlan, 100);
    assert_int_equal(web->vni, 5001);
    assert_false(web->isolated);
    assert_int_equal(web->line, 2);
    const struct policy_segment *lab = policy_find_segment(p, "lab");
    assert_int_equal(lab->vni, 0);
    assert_true(lab->isolated);
    assert_null(policy_find_segment(p, "web-servers"));

    const struct policy_group *admins = policy_find_group(p, "admins");
    assert_non_null(admins);
    assert_int_equal(admins->line, 7);
    assert_int_equal(admins->n_labels, 2);
    assert_string_equal(admins->labels[1], "ops");
    assert_int_equal(admins->n_vnics, 2);
    assert_string_equal(admins->vnics[0], "web1");
    assert_string_equal(admins->vnics[1], "52:54:00:00:00:11");
    const struct policy_group *mgmt = policy_find_group(p, "mgmt");
    assert_int_equal(mgmt->n_cidrs, 2);
    assert_false(mgmt->cidrs[0].ipv6);
    assert_int_equal(mgmt->cidrs[0].plen, 24);
    assert_memory_equal(mgmt->cidrs[0].addr, "\x0a\x00\x63\x00", 4);
    assert_int_equal(mgmt->cidrs[1].plen, 32);
    const struct policy_group *backend = policy_find_group(p, "backend");
    assert_int_equal(backend->n_groups, 2);
    assert_string_equal(backend->groups[1], "db");

    const struct policy_rule *no_ssh = policy_find_rule(p, "no-ssh");
    assert_non_null(no_ssh);
    assert_int_equal(no_ssh->action, POLICY_DENY);
    assert_string_equal(no_ssh->from, "any");
    assert_string_equal(no_ssh->to, "db");
    assert_int_equal(no_ssh->proto, POLICY_PROTO_TCP);
    assert_int_equal(no_ssh->n_ports, 2);
    assert_int_equal(no_ssh->ports[0].min, 22);
    assert_int_equal(no_ssh->ports[0].max, 22);
    assert_int_equal(no_ssh->ports[1].min, 2222);
    assert_int_equal(no_ssh->ports[1].max, 2230);
    assert_int_equal(no_ssh->priority, 200);
    assert_true(no_ssh->stateful);
    const struct policy_rule *ping = policy_find_rule(p, "lab-ping");
    assert_int_equal(ping->proto, POLICY_PROTO_ICMP);
    assert_int_equal(ping->n_ports, 0);
    assert_int_equal(ping->priority, POLICY_PRIORITY_DEFAULT);
    const struct policy_rule *udp = policy_find_rule(p, "udp-any");
    assert_false(udp->stateful);
    assert_int_equal(udp->line, 13);

    const struct policy_mirror *tap = policy_find_mirror(p, "tap");
    assert_non_null(tap);
    assert_int_equal(tap->n_sources, 2);
    assert_int_equal(tap->sources[0].type, POLICY_REF_VNIC);
    assert_string_equal(tap->sources[0].name, "52:54:00:00:00:aa");
    assert_int_equal(tap->sources[1].type, POLICY_REF_GROUP);
    assert_int_equal(tap->to_type, POLICY_REF_HOST);
    assert_string_equal(tap->to_name, "h1");
    assert_string_equal(tap->to_port, "mon0");
    assert_int_equal(tap->direction, POLICY_DIRECTION_INGRESS);

    assert_null(policy_find_rule(p, "web"));
    assert_null(policy_find_mirror(p, "nope"));
    policy_destroy(p);
}

/* config/policy.example, found from this file's path.  Meson compiles
 * from the build root, so a relative __FILE__ is relative to it, and this
 * program is BUILD/tests/unit/test-policy. */
static void
test_example_file(void **state)
{
    (void) state;
    char exe[512] = "";
    char path[1024];

    if (__FILE__[0] != '/') {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = '\0';
        for (int i = 0; i < 3; i++) {
            char *slash = strrchr(exe, '/');
            if (slash) {
                *slash = '\0';
            }
        }
        strcat(exe, "/");
    }
    snprintf(path, sizeof path, "%s%s", exe, __FILE__);
    *strrchr(path, '/') = '\0';
    strcat(path, "/../../config/policy.example");

    FILE *f = fopen(path, "r");
    if (!f) {
        fail_msg("%s: cannot open", path);
    }
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';

    struct policy *p = parse_ok(text);
    const struct policy_segment *web = policy_find_segment(p, "web");
    const struct policy_segment *db = policy_find_segment(p, "db");
    const struct policy_segment *lab = policy_find_segment(p, "lab");
    assert_true(web && web->vni && db && db->vni && lab && lab->isolated);

    const struct policy_rule *r = policy_find_rule(p, "web-to-db");
    assert_non_null(r);
    assert_int_equal(r->action, POLICY_ALLOW);
    assert_string_equal(r->from, "web");
    assert_string_equal(r->to, "db");
    assert_int_equal(r->proto, POLICY_PROTO_TCP);
    assert_int_equal(r->n_ports, 1);
    assert_int_equal(r->ports[0].min, 5432);
    r = policy_find_rule(p, "lab-ping");
    assert_non_null(r);
    assert_string_equal(r->from, "lab");
    assert_string_equal(r->to, "lab");
    assert_int_equal(r->proto, POLICY_PROTO_ICMP);
    const struct policy_export *e = policy_find_export(p, "visibility");
    assert_non_null(e);
    assert_int_equal(e->type, POLICY_EXPORT_SFLOW);
    policy_destroy(p);
}

static void
test_round_trip(void **state)
{
    (void) state;
    struct policy *p = parse_ok(example);
    char *text = policy_format(p);
    assert_string_equal(text, example_canonical);

    struct policy *q = parse_ok(text);
    assert_true(policy_equal(p, q));
    char *again = policy_format(q);
    assert_string_equal(again, text);

    /* Canonical forms: IPv6 and MACs in lowercase, bare addresses as
     * host prefixes, leading zeros dropped, defaults omitted. */
    struct policy *r = parse_ok(
        "segment s vlan=007\n"
        "group g cidrs=2001:DB8:0:0::/64,10.1.2.3,::1 "
        "vnics=52:54:00:AB:CD:EF labels=env=prod,a:b\n"
        "rule r allow from=g to=any proto=ip priority=100\n"
        "mirror m sources=segment:s to=vnic:52:54:00:00:00:0A "
        "direction=both\n");
    char *s = policy_format(r);
    assert_string_equal(s,
        "segment s vlan=7\n"
        "group g labels=env=prod,a:b vnics=52:54:00:ab:cd:ef "
        "cidrs=2001:db8::/64,10.1.2.3/32,::1/128\n"
        "rule r allow from=g to=any\n"
        "mirror m sources=segment:s to=vnic:52:54:00:00:00:0a\n");
    struct policy *t = parse_ok(s);
    char *s2 = policy_format(t);
    assert_string_equal(s, s2);
    assert_true(policy_equal(r, t));

    /* An empty policy formats to nothing. */
    struct policy *empty = parse_ok("# nothing\n\n   \n");
    char *e = policy_format(empty);
    assert_string_equal(e, "");

    free(e);
    free(s);
    free(s2);
    free(text);
    free(again);
    policy_destroy(empty);
    policy_destroy(p);
    policy_destroy(q);
    policy_destroy(r);
    policy_destroy(t);
}

static void
test_equal_and_clone(void **state)
{
    (void) state;
    struct policy *p = parse_ok(example);
    struct policy *c = policy_clone(p);
    assert_true(policy_equal(p, c));
    assert_int_equal(c->rules[0].line, p->rules[0].line);
    assert_ptr_not_equal(c->groups[1].vnics, p->groups[1].vnics);

    /* Order of lines does not matter; content does. */
    struct policy *a = parse_ok("segment b vlan=2\nsegment a vlan=1\n");
    struct policy *b = parse_ok("segment a vlan=1\n\nsegment b vlan=2\n");
    struct policy *d = parse_ok("segment a vlan=1\nsegment b vlan=3\n");
    assert_true(policy_equal(a, b));
    assert_false(policy_equal(a, d));
    assert_false(policy_equal(a, p));

    /* Clones are independent. */
    c->segments[0].vlan = 999;
    assert_false(policy_equal(p, c));
    policy_destroy(c);
    policy_destroy(p);
    policy_destroy(a);
    policy_destroy(b);
    policy_destroy(d);
    policy_destroy(NULL);
}

/* Each bad document and the error it must produce. */
struct bad_case {
    const char *text;
    int line;
    const char *field;
    const char *msg;
};

static const struct bad_case bad_cases[] = {
    /* Syntax. */
    { "segment a vlan=1\nsegmnt b vlan=2\n", 2, "kind",
      "unknown kind \"segmnt\" (expected segment, group, rule, mirror, "
      "limit or export)" },
    { "segment\n", 1, "name", "segment: missing name" },
    { "\n\nsegment 9web vlan=1\n", 3, "name",
      "segment 9web: invalid name (1-63 characters: a letter, then letters, "
      "digits, '_', '.' or '-')" },
    { "group a/b segments=x\n", 1, "name",
      "group a/b: invalid name (1-63 characters: a letter, then letters, "
      "digits, '_', '.' or '-')" },
    { "segment a123456789012345678901234567890123456789012345678901234567890"
      "1234 vlan=1\n", 1, "name",
      "segment a12345678901234567890123456789012345678901234567890123456789"
      "012: invalid name (1-63 characters: a letter, then letters, "
      "digits, '_', '.' or '-')" },
    { "segment any vlan=1\n", 1, "name",
      "segment any: \"any\" is a reserved word" },
    { "segment web vlan=100 colour=red\n", 1, "colour",
      "segment web: unknown key \"colour\" (expected vlan, vni, isolated)" },
    { "segment web vlan=100 isolatd\n", 1, "isolatd",
      "segment web: unknown flag \"isolatd\" (expected vlan, vni, "
      "isolated)" },
    { "rule r allow from=any to=any stateful\n", 1, "stateful",
      "rule r: unknown flag \"stateful\" (expected from, to, proto, ports, "
      "priority, stateless)" },
    { "segment web vlan=100 vni=1 vlan=100\n", 1, "vlan",
      "segment web: vlan given twice" },
    { "segment web vlan=100 isolated isolated\n", 1, "isolated",
      "segment web: isolated given twice" },
    { "segment web vlan=100 isolated=yes\n", 1, "isolated",
      "segment web: isolated is a flag and takes no value" },
    { "segment web vlan\n", 1, "vlan",
      "segment web: vlan needs a value (vlan=...)" },
    { "segment web vlan=\n", 1, "vlan",
      "segment web: vlan needs a value (vlan=...)" },
    { "segment web vni=5001\n", 1, "vlan", "segment web: missing vlan=" },
    { "segment web vlan=1o0\n", 1, "vlan",
      "segment web: \"1o0\" is not a number" },
    { "segment web vlan=-1\n", 1, "vlan",
      "segment web: \"-1\" is not a number" },
    { "segment web vlan=0\n", 1, "vlan",
      "segment web: 0 is out of range 1..4094" },
    { "segment web vlan=4095\n", 1, "vlan",
      "segment web: 4095 is out of range 1..4094" },
    { "segment web vlan=100000000000000000000000\n", 1, "vlan",
      "segment web: 100000000000000000000000 is out of range 1..4094" },
    { "segment web vlan=1 vni=16777216\n", 1, "vni",
      "segment web: 16777216 is out of range 1..16777215" },

    /* Names. */
    { "segment web vlan=100\ngroup web segments=web\n", 2, "name",
      "group web: name already used by segment web (line 1)" },
    { "group web labels=x\nsegment web vlan=100\n", 2, "name",
      "segment web: name already used by group web (line 1)" },
    { "segment a vlan=1\nsegment a vlan=2\n", 2, "name",
      "segment a: name already used by segment a (line 1)" },
    { "rule r allow from=any to=any\nrule r deny from=any to=any "
      "priority=5\n", 2, "name",
      "rule r: name already used by rule r (line 1)" },

    /* Segments. */
    { "segment web vlan=100\n# x\nsegment db vlan=100\n", 3, "vlan",
      "segment db: VLAN 100 is already used by segment web (line 1)" },
    { "segment web vlan=100 vni=7\nsegment db vlan=200 vni=7\n", 2, "vni",
      "segment db: VNI 7 is already used by segment web (line 1)" },

    /* Groups. */
    { "group g\n", 1, "", "group g: no members (give segments=, labels=, "
      "vnics=, cidrs= or groups=)" },
    { "group g cidrs=10.0.0.0/33\n", 1, "cidrs",
      "group g: \"10.0.0.0/33\" is not an IPv4 or IPv6 prefix "
      "(ADDRESS/LENGTH)" },
    { "group g cidrs=10.0.0/24\n", 1, "cidrs",
      "group g: \"10.0.0/24\" is not an IPv4 or IPv6 prefix "
      "(ADDRESS/LENGTH)" },
    { "group g cidrs=fe80::/x\n", 1, "cidrs",
      "group g: \"fe80::/x\" is not an IPv4 or IPv6 prefix "
      "(ADDRESS/LENGTH)" },
    { "group g cidrs=10.0.0.0/8,\n", 1, "cidrs",
      "group g: empty item in \"10.0.0.0/8,\"" },
    { "segment s vlan=1\n"
      "group g cidrs=192.0.2.0/24,10.0.0.1/24\n", 2, "cidrs",
      "group g: 10.0.0.1/24 has host bits set (did you mean "
      "10.0.0.0/24?)" },
    { "group g cidrs=2001:db8::1/64\n", 1, "cidrs",
      "group g: 2001:db8::1/64 has host bits set (did you mean "
      "2001:db8::/64?)" },
    { "group g cidrs=10.0.0.0/8,10.0.0.0/8\n", 1, "cidrs",
      "group g: \"10.0.0.0/8\" is listed twice" },
    { "group g labels=a,b,a\n", 1, "labels",
      "group g: \"a\" is listed twice" },
    { "group g labels=a+b\n", 1, "labels",
      "group g: \"a+b\" is not a valid label (1-63 characters: letters, "
      "digits, '_', '.', ':', '=' or '-')" },
    { "group g vnics=52:54:00:00:00:1g\n", 1, "vnics",
      "group g: \"52:54:00:00:00:1g\" is not a valid vNIC name or MAC "
      "address" },
    { "group g vnics=52:54:00:00:00:AA,52:54:00:00:00:aa\n", 1, "vnics",
      "group g: \"52:54:00:00:00:aa\" is listed twice" },
    { "group g segments=nope\n", 1, "segments",
      "group g: unknown segment \"nope\"" },
    { "group g segments=h\ngroup h labels=x\n", 1, "segments",
      "group g: h is a group, not a segment (use groups=)" },
    { "group g groups=nope\n", 1, "groups",
      "group g: unknown group or segment \"nope\"" },
    { "group a groups=b\ngroup b groups=a\n", 1, "groups",
      "group loop a -> b -> a" },
    { "group x labels=l\n"
      "group a groups=x,b\n"
      "group b labels=m groups=c\n"
      "group c groups=b\n", 3, "groups", "group loop b -> c -> b" },
    { "group a groups=a\n", 1, "groups", "group loop a -> a" },

    /* Rules. */
    { "rule r from=any to=any\n", 1, "action",
      "rule r: expected allow or deny after the name, not \"from=any\"" },
    { "rule r\n", 1, "action", "rule r: expected allow or deny after the "
      "name" },
    { "rule r allow to=any\n", 1, "from", "rule r: missing from=" },
    { "rule r allow from=any\n", 1, "to", "rule r: missing to=" },
    { "segment web vlan=1\nrule r allow from=web to=dbb\n", 2, "to",
      "rule r: unknown group or segment \"dbb\"" },
    { "rule r allow from=nope to=any\n", 1, "from",
      "rule r: unknown group or segment \"nope\"" },
    { "rule r allow from=a/b to=any\n", 1, "from",
      "rule r: \"a/b\" is not a group or segment name or \"any\"" },
    { "rule r allow from=any to=any proto=sctp\n", 1, "proto",
      "rule r: unknown protocol \"sctp\" (expected tcp, udp, icmp, icmp6 "
      "or ip)" },
    { "rule r allow from=any to=any ports=22\n", 1, "ports",
      "rule r: ports need proto=tcp or proto=udp" },
    { "rule r allow from=any to=any proto=icmp ports=22\n", 1, "ports",
      "rule r: ports need proto=tcp or proto=udp" },
    { "rule r allow from=any to=any proto=tcp ports=30-20\n", 1, "ports",
      "rule r: bad port range 30-20 (expected N or N-M with 1 <= N <= M <= "
      "65535)" },
    { "rule r allow from=any to=any proto=tcp ports=0\n", 1, "ports",
      "rule r: 0 is out of range 1..65535" },
    { "rule r allow from=any to=any proto=udp ports=1-65536\n", 1, "ports",
      "rule r: 65536 is out of range 1..65535" },
    { "rule r allow from=any to=any proto=udp ports=22,,23\n", 1, "ports",
      "rule r: empty item in \"22,,23\"" },
    { "rule r allow from=any to=any proto=udp ports=a-b\n", 1, "ports",
      "rule r: \"a\" is not a number" },
    { "rule r allow from=any to=any priority=1001\n", 1, "priority",
      "rule r: 1001 is out of range 1..1000" },
    { "segment db vlan=2\n"
      "rule a allow from=any to=db proto=tcp ports=20-30,80\n"
      "rule ok1 deny from=any to=db proto=tcp ports=31-79\n"
      "rule ok2 deny from=any to=db proto=udp ports=25\n"
      "rule ok3 deny from=any to=db proto=tcp ports=25 priority=99\n"
      "rule ok4 allow from=any to=db proto=tcp ports=25\n"
      "rule b deny from=any to=db proto=tcp ports=25\n", 7, "",
      "rule b: conflicts with rule a (line 2): same priority 100, from, to "
      "and proto, overlapping ports, but deny vs allow" },
    { "rule a deny from=any to=any proto=tcp priority=7\n"
      "rule b allow from=any to=any proto=tcp ports=443 priority=7\n", 2, "",
      "rule b: conflicts with rule a (line 1): same priority 7, from, to "
      "and proto, overlapping ports, but allow vs deny" },

    /* Mirrors. */
    { "mirror m to=vnic:x\n", 1, "sources", "mirror m: missing sources=" },
    { "mirror m sources=vnic:x\n", 1, "to", "mirror m: missing to=" },
    { "mirror m sources=x to=vnic:y\n", 1, "sources",
      "mirror m: \"x\" is not vnic:NAME, group:NAME or segment:NAME" },
    { "mirror m sources=host:x to=vnic:y\n", 1, "sources",
      "mirror m: \"host:x\" is not vnic:NAME, group:NAME or segment:NAME" },
    { "mirror m sources=vnic:x to=host:h\n", 1, "to",
      "mirror m: \"host:h\" is not vnic:NAME or host:HOST/PORT" },
    { "mirror m sources=vnic:x to=vnic:y direction=up\n", 1, "direction",
      "mirror m: unknown direction \"up\" (expected ingress, egress or "
      "both)" },
    { "mirror m sources=vnic:x,vnic:x to=vnic:y\n", 1, "sources",
      "mirror m: \"vnic:x\" is listed twice" },
    { "mirror m sources=vnic:x,vnic:52:54:00:00:00:0A "
      "to=vnic:52:54:00:00:00:0a\n", 1, "sources",
      "mirror m: vnic:52:54:00:00:00:0a is also the destination: a mirror "
      "cannot copy a port into itself" },
    { "mirror m sources=group:g to=vnic:y\n", 1, "sources",
      "mirror m: unknown group \"g\"" },
    { "segment g vlan=5\nmirror m sources=group:g to=vnic:y\n", 2,
      "sources", "mirror m: unknown group \"g\"" },
    { "mirror m sources=segment:s to=vnic:y\n", 1, "sources",
      "mirror m: unknown segment \"s\"" },
    { "mirror m sources=vnic:x to=host:h1/a/b\n", 1, "to",
      "mirror m: destination is not a valid vnic:NAME or host:HOST/PORT" },
    { "mirror m sources=vnic:x to=vnic:y\nmirror m sources=vnic:z "
      "to=vnic:y\n", 2, "name",
      "mirror m: name already used by mirror m (line 1)" },

    /* Limits. */
    { "limit l rate=1mbit\n", 1, "targets", "limit l: missing targets=" },
    { "limit l targets=vnic:x\n", 1, "rate", "limit l: missing rate=" },
    { "limit l targets=host:h rate=1mbit\n", 1, "targets",
      "limit l: \"host:h\" is not vnic:NAME, group:NAME or segment:NAME" },
    { "limit l targets=vnic:x rate=20\n", 1, "rate",
      "limit l: \"20\": missing unit \"\" (expected kbit, mbit or gbit, "
      "bits per second for a rate)" },
    { "limit l targets=vnic:x rate=20mbps\n", 1, "rate",
      "limit l: \"20mbps\": unknown unit \"mbps\" (expected kbit, mbit or "
      "gbit, bits per second for a rate)" },
    { "limit l targets=vnic:x rate=-5mbit\n", 1, "rate",
      "limit l: \"-5mbit\" is not a number with a unit (e.g. 20mbit)" },
    { "limit l targets=vnic:x rate=0kbit\n", 1, "rate",
      "limit l: 0kbit is out of range 10kbit..100gbit" },
    { "limit l targets=vnic:x rate=101gbit\n", 1, "rate",
      "limit l: 101gbit is out of range 10kbit..100gbit" },
    { "limit l targets=vnic:x rate=99999999999999999999gbit\n", 1, "rate",
      "limit l: 99999999999999999999gbit is out of range 10kbit..100gbit" },
    { "limit l targets=vnic:x rate=1mbit burst=8kbit\n", 1, "burst",
      "limit l: 8kbit is out of range 16kbit..10gbit" },
    { "limit l targets=vnic:x rate=1mbit direction=in\n", 1, "direction",
      "limit l: unknown direction \"in\" (expected ingress, egress or "
      "both)" },
    { "limit l targets=vnic:x,vnic:x rate=1mbit\n", 1, "targets",
      "limit l: \"vnic:x\" is listed twice" },
    { "limit l targets=group:g rate=1mbit\n", 1, "targets",
      "limit l: unknown group \"g\"" },
    { "limit l targets=vnic:x rate=1mbit\nlimit l targets=vnic:y "
      "rate=1mbit\n", 2, "name",
      "limit l: name already used by limit l (line 1)" },

    /* Local errors come in line order before references. */
    { "rule r allow from=nope to=any\nsegment s vlan=0\n", 2, "vlan",
      "segment s: 0 is out of range 1..4094" },
    /* References in line order, whatever the kind. */
    { "rule r allow from=nope to=any\ngroup g segments=nope\n", 1, "from",
      "rule r: unknown group or segment \"nope\"" },
};

/* Parses each of 'cases' and checks that it fails as expected. */
static void
check_bad_cases(const struct bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct bad_case *c = &cases[i];
        struct policy_error error;
        struct policy *p = (struct policy *) 1;
        int retval = policy_parse(c->text, &p, &error);

        if (retval != EINVAL || error.line != c->line
            || strcmp(error.field, c->field) || strcmp(error.msg, c->msg)) {
            fail_msg("case %zu: %s\n  got %d line %d field \"%s\": %s\n"
                     "  expected line %d field \"%s\": %s", i, c->text,
                     retval, error.line, error.field, error.msg, c->line,
                     c->field, c->msg);
        }
        assert_null(p);
    }
}

static void
test_errors(void **state)
{
    (void) state;
    check_bad_cases(bad_cases, sizeof bad_cases / sizeof bad_cases[0]);
}

static void
test_error_format(void **state)
{
    (void) state;
    struct policy_error e = { 3, "vlan", "segment x: bad" };
    char *s;

    s = policy_error_format(&e, "p.conf");
    assert_string_equal(s, "p.conf:3: vlan: segment x: bad");
    free(s);
    s = policy_error_format(&e, NULL);
    assert_string_equal(s, "line 3: vlan: segment x: bad");
    free(s);

    e.line = 0;
    e.field[0] = '\0';
    s = policy_error_format(&e, "p.conf");
    assert_string_equal(s, "p.conf: segment x: bad");
    free(s);
    s = policy_error_format(&e, NULL);
    assert_string_equal(s, "segment x: bad");
    free(s);
}

static void
test_validate(void **state)
{
    (void) state;
    struct policy *p = parse_ok(example);
    struct policy_error error;

    assert_int_equal(policy_validate(p, &error), 0);

    /* Edits in memory are checked like the text. */
    struct policy *c = policy_clone(p);
    c->segments[2].vlan = 5000;     /* lab, line 4 */
    assert_int_equal(policy_validate(c, &error), EINVAL);
    assert_int_equal(error.line, 4);
    assert_string_equal(error.field, "vlan");
    assert_string_equal(error.msg, "segment lab: 5000 is out of range "
                        "1..4094");
    policy_destroy(c);

    c = policy_clone(p);
    c->rules[1].ports = malloc(sizeof *c->rules[1].ports);
    c->rules[1].ports[0].min = 7;
    c->rules[1].ports[0].max = 7;
    c->rules[1].n_ports = 1;        /* lab-ping is icmp. */
    assert_int_equal(policy_validate(c, &error), EINVAL);
    assert_int_equal(error.line, 11);
    assert_string_equal(error.field, "ports");
    policy_destroy(c);

    c = policy_clone(p);
    c->groups[1].cidrs = malloc(sizeof *c->groups[1].cidrs);
    c->groups[1].cidrs[0] = p->groups[2].cidrs[0];
    c->groups[1].cidrs[0].plen = 8;
    c->groups[1].n_cidrs = 1;
    assert_int_equal(policy_validate(c, &error), EINVAL);
    assert_int_equal(error.line, 7);
    assert_string_equal(error.field, "cidrs");
    assert_string_equal(error.msg, "group admins: 10.0.99.0/8 has host bits "
                        "set (did you mean 10.0.0.0/8?)");
    policy_destroy(c);

    /* Without lines: an object with line 0 is checked after the others,
     * so the clash is reported on it. */
    c = policy_clone(p);
    c->segments[0].line = 0;        /* web */
    c->segments[1].vlan = 100;      /* db, line 3 */
    assert_int_equal(policy_validate(c, &error), EINVAL);
    assert_int_equal(error.line, 0);
    assert_string_equal(error.field, "vlan");
    assert_string_equal(error.msg, "segment web: VLAN 100 is already used "
                        "by segment db (line 3)");
    policy_destroy(c);

    /* A dangling reference. */
    c = policy_clone(p);
    free(c->rules[0].to);
    c->rules[0].to = strdup("nowhere");
    assert_int_equal(policy_validate(c, &error), EINVAL);
    assert_int_equal(error.line, 10);
    assert_string_equal(error.field, "to");
    policy_destroy(c);

    policy_destroy(p);
}

static void
test_diff(void **state)
{
    (void) state;
    struct policy *old = parse_ok(
        "segment web vlan=100\n"
        "segment db vlan=200\n"
        "group g segments=web\n"
        "rule x deny from=any to=db\n"
        "rule y allow from=g to=db proto=tcp ports=5432\n");
    struct policy *new = parse_ok(
        "segment web vlan=100 vni=5001\n"
        "segment db vlan=200\n"
        "segment lab vlan=300 isolated\n"
        "group g segments=web,lab\n"
        "rule y allow from=g to=db proto=tcp ports=5432\n"
        "mirror m sources=segment:lab to=vnic:probe\n");

    char *d = policy_diff(old, new);
    assert_string_equal(d,
        "+ segment lab vlan=300 isolated\n"
        "~ segment web: segment web vlan=100 -> segment web vlan=100 "
        "vni=5001\n"
        "~ group g: group g segments=web -> group g segments=web,lab\n"
        "- rule x deny from=any to=db\n"
        "+ mirror m sources=segment:lab to=vnic:probe\n");
    free(d);

    d = policy_diff(new, old);
    assert_string_equal(d,
        "- segment lab vlan=300 isolated\n"
        "~ segment web: segment web vlan=100 vni=5001 -> segment web "
        "vlan=100\n"
        "~ group g: group g segments=web,lab -> group g segments=web\n"
        "+ rule x deny from=any to=db\n"
        "- mirror m sources=segment:lab to=vnic:probe\n");
    free(d);

    /* Equal policies, whatever their order and lines: empty diff. */
    struct policy *same = parse_ok(
        "\nrule y allow from=g to=db proto=tcp ports=5432 priority=100\n"
        "rule x deny from=any to=db\n"
        "group g segments=web\n"
        "segment db vlan=200\n"
        "segment web vlan=100\n");
    d = policy_diff(old, same);
    assert_string_equal(d, "");
    free(d);

    struct policy *empty = policy_create();
    d = policy_diff(empty, empty);
    assert_string_equal(d, "");
    free(d);
    d = policy_diff(empty, old);
    assert_string_equal(d,
        "+ segment db vlan=200\n"
        "+ segment web vlan=100\n"
        "+ group g segments=web\n"
        "+ rule x deny from=any to=db\n"
        "+ rule y allow from=g to=db proto=tcp ports=5432\n");
    free(d);

    policy_destroy(empty);
    policy_destroy(same);
    policy_destroy(old);
    policy_destroy(new);
}

/* Expects 'retval' to be 'expected' with 'field' and 'msg', and 'p' to be
 * unchanged from 'before'. */
static void
expect_refused(int retval, int expected, const struct policy_error *error,
               int line, const char *field, const char *msg,
               const struct policy *p, const struct policy *before)
{
    assert_int_equal(retval, expected);
    assert_int_equal(error->line, line);
    assert_string_equal(error->field, field);
    assert_string_equal(error->msg, msg);
    assert_true(policy_equal(p, before));

    char *a = policy_format(p);
    char *b = policy_format(before);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void
test_add_line(void **state)
{
    (void) state;
    struct policy *p = parse_ok(example);
    struct policy *before = policy_clone(p);
    struct policy_error error;

    /* Refusals leave the policy as it was. */
    expect_refused(policy_add_line(p, "segment", "app vlan=100", &error),
                   EINVAL, &error, 0, "vlan",
                   "segment app: VLAN 100 is already used by segment web "
                   "(line 2)", p, before);
    expect_refused(policy_add_line(p, "segment", "admins vlan=400", &error),
                   EINVAL, &error, 0, "name",
                   "segment admins: name already used by group admins "
                   "(line 7)", p, before);
    expect_refused(policy_add_line(p, "segment", "app vlan=400 vni=5002",
                                   &error),
                   EINVAL, &error, 0, "vni",
                   "segment app: VNI 5002 is already used by segment db "
                   "(line 3)", p, before);
    expect_refused(policy_add_line(p, "segment", "app vlan=4095", &error),
                   EINVAL, &error, 0, "vlan",
                   "segment app: 4095 is out of range 1..4094", p, before);
    expect_refused(policy_add_line(p, "group", "g segments=nope", &error),
                   EINVAL, &error, 0, "segments",
                   "group g: unknown segment \"nope\"", p, before);
    expect_refused(policy_add_line(p, "group", "web-servers groups=backend",
                                   &error),
                   EINVAL, &error, 0, "name",
                   "group web-servers: name already used by group "
                   "web-servers (line 6)", p, before);
    expect_refused(policy_add_line(p, "rule", "r2 allow from=any to=db "
                                   "proto=tcp ports=22 priority=200",
                                   &error),
                   EINVAL, &error, 0, "",
                   "rule r2: conflicts with rule no-ssh (line 12): same "
                   "priority 200, from, to and proto, overlapping ports, "
                   "but allow vs deny", p, before);
    expect_refused(policy_add_line(p, "rule", "r2 allow from=any", &error),
                   EINVAL, &error, 0, "to", "rule r2: missing to=",
                   p, before);
    expect_refused(policy_add_line(p, "segmnt", "x vlan=5", &error),
                   EINVAL, &error, 0, "kind", "unknown kind \"segmnt\" "
                   "(expected segment, group, rule, mirror, limit or "
                   "export)", p, before);
    expect_refused(policy_add_line(p, "mirror", "  # nothing", &error),
                   EINVAL, &error, 0, "name", "mirror: missing name",
                   p, before);

    /* Successes, then the canonical text has them. */
    assert_int_equal(policy_add_line(p, "segment", "app vlan=400 vni=5004",
                                     &error), 0);
    assert_int_equal(policy_add_line(p, "group", "apps segments=app,lab",
                                     &error), 0);
    assert_int_equal(policy_add_line(p, "rule", "app-to-db allow from=apps "
                                     "to=db proto=tcp ports=5432", &error),
                     0);
    assert_int_equal(policy_add_line(p, "mirror", "m2 sources=group:apps "
                                     "to=vnic:probe", &error), 0);
    const struct policy_segment *app = policy_find_segment(p, "app");
    assert_non_null(app);
    assert_int_equal(app->line, 0);
    assert_int_equal(app->vni, 5004);
    assert_int_equal(policy_validate(p, &error), 0);

    char *d = policy_diff(before, p);
    assert_string_equal(d,
        "+ segment app vlan=400 vni=5004\n"
        "+ group apps segments=app,lab\n"
        "+ rule app-to-db allow from=apps to=db proto=tcp ports=5432\n"
        "+ mirror m2 sources=group:apps to=vnic:probe\n");
    free(d);

    /* The result round-trips. */
    char *text = policy_format(p);
    struct policy *q = parse_ok(text);
    assert_true(policy_equal(p, q));
    free(text);

    policy_destroy(q);
    policy_destroy(before);
    policy_destroy(p);
}

static void
test_del(void **state)
{
    (void) state;
    struct policy *p = parse_ok(example);
    struct policy *before = policy_clone(p);
    struct policy_error error;

    /* Still referenced: refused, naming the referrer. */
    expect_refused(policy_del(p, "segment", "web", &error), EINVAL, &error,
                   6, "segments", "segment web is still used by group "
                   "web-servers", p, before);
    expect_refused(policy_del(p, "segment", "db", &error), EINVAL, &error,
                   9, "groups", "segment db is still used by group backend",
                   p, before);
    expect_refused(policy_del(p, "segment", "lab", &error), EINVAL, &error,
                   11, "from", "segment lab is still used by rule lab-ping",
                   p, before);
    expect_refused(policy_del(p, "group", "admins", &error), EINVAL, &error,
                   13, "from", "group admins is still used by rule udp-any",
                   p, before);
    expect_refused(policy_del(p, "group", "web-servers", &error), EINVAL,
                   &error, 9, "groups", "group web-servers is still used "
                   "by group backend", p, before);
    expect_refused(policy_del(p, "segment", "nope", &error), ENOENT, &error,
                   0, "name", "no segment named \"nope\"", p, before);
    expect_refused(policy_del(p, "group", "web", &error), ENOENT, &error,
                   0, "name", "no group named \"web\"", p, before);
    expect_refused(policy_del(p, "vlan", "web", &error), EINVAL, &error,
                   0, "kind", "unknown kind \"vlan\" (expected segment, "
                   "group, rule, mirror, limit or export)", p, before);

    /* Deleting the referrers first works. */
    assert_int_equal(policy_del(p, "mirror", "tap", &error), 0);
    assert_int_equal(policy_del(p, "rule", "udp-any", &error), 0);
    assert_int_equal(policy_del(p, "group", "admins", &error), 0);
    assert_null(policy_find_group(p, "admins"));
    assert_null(policy_find_rule(p, "udp-any"));
    assert_int_equal(policy_del(p, "group", "backend", &error), 0);
    assert_int_equal(policy_del(p, "group", "web-servers", &error), 0);
    assert_int_equal(policy_del(p, "rule", "web-to-db", &error), 0);
    assert_int_equal(policy_del(p, "segment", "web", &error), 0);
    assert_int_equal(p->n_segments, 2);
    /* The others keep their order and lines. */
    assert_string_equal(p->segments[0].name, "db");
    assert_int_equal(p->segments[0].line, 3);
    assert_string_equal(p->segments[1].name, "lab");

    char *text = policy_format(p);
    assert_string_equal(text,
        "segment db vlan=200 vni=5002\n"
        "segment lab vlan=300 isolated\n"
        "group mgmt cidrs=10.0.99.0/24,192.0.2.7/32\n"
        "rule lab-ping allow from=lab to=lab proto=icmp\n"
        "rule no-ssh deny from=any to=db proto=tcp ports=22,2222-2230 "
        "priority=200\n");
    free(text);

    policy_destroy(before);
    policy_destroy(p);
}

static void
test_limits(void **state)
{
    (void) state;
    struct policy *p = parse_ok(
        "segment web vlan=100\n"
        "group g segments=web\n"
        "limit cap targets=group:g,vnic:52:54:00:00:00:AA rate=20000kbit "
        "burst=1000kbit direction=ingress\n"
        "limit slow targets=segment:web rate=1gbit\n"
        "limit odd targets=vnic:tap1 rate=1500kbit\n");
    const struct policy_limit *cap = policy_find_limit(p, "cap");
    assert_non_null(cap);
    assert_int_equal(cap->n_targets, 2);
    assert_int_equal(cap->targets[0].type, POLICY_REF_GROUP);
    assert_string_equal(cap->targets[1].name, "52:54:00:00:00:aa");
    assert_int_equal(cap->rate_kbps, 20000);
    assert_int_equal(cap->burst_kbit, 1000);
    assert_int_equal(policy_limit_burst(cap), 1000);
    assert_int_equal(cap->direction, POLICY_DIRECTION_INGRESS);

    /* Default burst: a quarter of a second, at least 64 kbit. */
    const struct policy_limit *slow = policy_find_limit(p, "slow");
    assert_int_equal(slow->rate_kbps, 1000000);
    assert_int_equal(policy_limit_burst(slow), 250000);
    assert_int_equal(slow->direction, POLICY_DIRECTION_BOTH);
    struct policy_limit tiny = { .rate_kbps = 100 };
    assert_int_equal(policy_limit_burst(&tiny), 64);

    /* Canonical rates use the largest unit that divides them. */
    char *text = policy_format(p);
    assert_string_equal(text,
        "segment web vlan=100\n"
        "group g segments=web\n"
        "limit cap targets=group:g,vnic:52:54:00:00:00:aa rate=20mbit "
        "burst=1mbit direction=ingress\n"
        "limit odd targets=vnic:tap1 rate=1500kbit\n"
        "limit slow targets=segment:web rate=1gbit\n");
    struct policy *q = parse_ok(text);
    assert_true(policy_equal(p, q));

    /* A segment or group a limit uses cannot go. */
    struct policy_error error;
    assert_int_equal(policy_del(p, "group", "g", &error), EINVAL);
    assert_string_equal(error.field, "targets");
    assert_string_equal(error.msg, "group g is still used by limit cap");

    /* Edits. */
    assert_int_equal(policy_add_line(p, "limit", "x targets=vnic:a "
                                     "rate=5gbit", &error), 0);
    assert_int_equal(policy_add_line(p, "limit", "y targets=segment:db "
                                     "rate=5gbit", &error), EINVAL);
    assert_string_equal(error.msg, "limit y: unknown segment \"db\"");
    assert_null(policy_find_limit(p, "y"));
    /* put replaces: here a limit, and a segment that a group uses. */
    assert_int_equal(policy_put_line(p, "limit", "x targets=vnic:a "
                                     "rate=7mbit", &error), 0);
    assert_int_equal(policy_find_limit(p, "x")->rate_kbps, 7000);
    assert_int_equal(policy_put_line(p, "segment", "web vlan=101", &error),
                     0);
    assert_int_equal(policy_find_segment(p, "web")->vlan, 101);
    assert_int_equal(policy_put_line(p, "segment", "web vlan=0", &error),
                     EINVAL);
    assert_int_equal(policy_find_segment(p, "web")->vlan, 101);
    assert_int_equal(policy_put_line(p, "segment", "web vlan=100", &error),
                     0);
    assert_int_equal(policy_put_line(p, "limit", "x targets=vnic:a "
                                     "rate=5gbit", &error), 0);
    assert_int_equal(policy_del(p, "limit", "cap", &error), 0);
    assert_int_equal(policy_del(p, "group", "g", &error), 0);

    char *diff = policy_diff(q, p);
    assert_string_equal(diff,
        "- group g segments=web\n"
        "- limit cap targets=group:g,vnic:52:54:00:00:00:aa rate=20mbit "
        "burst=1mbit direction=ingress\n"
        "+ limit x targets=vnic:a rate=5gbit\n");

    char rate[POLICY_RATE_BUFSIZE];
    policy_rate_format(100000000, rate, sizeof rate);
    assert_string_equal(rate, "100gbit");
    policy_rate_format(12345, rate, sizeof rate);
    assert_string_equal(rate, "12345kbit");

    free(diff);
    free(text);
    policy_destroy(p);
    policy_destroy(q);
}

static void
test_names(void **state)
{
    (void) state;
    assert_string_equal(policy_action_to_string(POLICY_DENY), "deny");
    assert_string_equal(policy_proto_to_string(POLICY_PROTO_ICMP6), "icmp6");
    assert_string_equal(policy_ref_to_string(POLICY_REF_HOST), "host");
    assert_string_equal(policy_direction_to_string(POLICY_DIRECTION_EGRESS),
                        "egress");

    char buf[POLICY_CIDR_BUFSIZE];
    struct policy_cidr cidr = { .ipv6 = true, .plen = 128 };
    memset(cidr.addr, 0xff, sizeof cidr.addr);
    policy_cidr_format(&cidr, buf, sizeof buf);
    assert_string_equal(buf,
                        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
}

/* Flow exports: parsing, canonical form, what each type takes. */
static void
test_exports(void **state)
{
    (void) state;
    struct policy *p = parse_ok(
        "export sf collectors=192.0.2.9:6343,[2001:DB8::0:1]:6343 sflow "
        "sampling=64 polling=10 header=128\n"
        "export nf netflow collectors=192.0.2.9:2055 active-timeout=30\n"
        "export fix ipfix collectors=192.0.2.9:4739 sampling=1 "
        "active-timeout=60 cache-max-flows=1024\n");
    const struct policy_export *sf = policy_find_export(p, "sf");
    const struct policy_export *fix = policy_find_export(p, "fix");

    assert_int_equal(p->n_exports, 3);
    assert_non_null(sf);
    assert_int_equal(sf->type, POLICY_EXPORT_SFLOW);
    assert_int_equal(sf->n_collectors, 2);
    assert_string_equal(sf->collectors[1], "[2001:db8::1]:6343");
    assert_int_equal(sf->sampling, 64);
    assert_int_equal(sf->polling, 10);
    assert_int_equal(sf->header, 128);
    assert_int_equal(fix->cache_max_flows, 1024);
    assert_null(policy_find_export(p, "tap"));
    assert_string_equal(policy_export_type_to_string(POLICY_EXPORT_IPFIX),
                        "ipfix");

    char *text = policy_format(p);
    assert_string_equal(text,
        "export fix ipfix collectors=192.0.2.9:4739 sampling=1 "
        "active-timeout=60 cache-max-flows=1024\n"
        "export nf netflow collectors=192.0.2.9:2055 active-timeout=30\n"
        "export sf sflow collectors=192.0.2.9:6343,[2001:db8::1]:6343 "
        "sampling=64 polling=10 header=128\n");
    struct policy *again = parse_ok(text);
    assert_true(policy_equal(p, again));
    struct policy *clone = policy_clone(p);
    assert_true(policy_equal(p, clone));
    clone->exports[0].sampling = 2;
    assert_false(policy_equal(p, clone));
    free(text);
    policy_destroy(again);
    policy_destroy(clone);

    /* Added and deleted like any object; a second sflow export is not. */
    struct policy_error error;
    assert_int_equal(policy_del(p, "export", "sf", &error), 0);
    assert_int_equal(policy_add_line(p, "export", "sf2 sflow "
                                     "collectors=10.0.0.1:6343", &error), 0);
    assert_int_equal(policy_add_line(p, "export", "sf3 sflow "
                                     "collectors=10.0.0.2:6343", &error),
                     EINVAL);
    assert_string_equal(error.msg, "export sf3: export sf2 is already "
                        "sflow: a bridge has one sflow export (list several "
                        "collectors= instead)");
    assert_int_equal(p->n_exports, 3);
    policy_destroy(p);
}

static const struct bad_case bad_export_cases[] = {
    { "export e collectors=10.0.0.1:6343\n", 1, "type",
      "export e: missing type (give sflow, ipfix or netflow after the "
      "name)" },
    { "export e sflow ipfix collectors=10.0.0.1:6343\n", 1, "ipfix",
      "export e: sflow and ipfix given: an export has one type" },
    { "export e sflow\n", 1, "collectors", "export e: missing collectors=" },
    { "export e sflow collectors=collector.example:6343\n", 1, "collectors",
      "export e: \"collector.example:6343\" is not IPv4:PORT or "
      "[IPv6]:PORT" },
    { "export e sflow collectors=10.0.0.1\n", 1, "collectors",
      "export e: \"10.0.0.1\" is not IPv4:PORT or [IPv6]:PORT" },
    { "export e sflow collectors=10.0.0.256:6343\n", 1, "collectors",
      "export e: \"10.0.0.256:6343\" is not IPv4:PORT or [IPv6]:PORT" },
    { "export e sflow collectors=2001:db8::1:6343\n", 1, "collectors",
      "export e: \"2001:db8::1:6343\" is not IPv4:PORT or [IPv6]:PORT" },
    { "export e sflow collectors=10.0.0.1:0\n", 1, "collectors",
      "export e: 0 is out of range 1..65535" },
    { "export e sflow collectors=10.0.0.1:65536\n", 1, "collectors",
      "export e: 65536 is out of range 1..65535" },
    { "export e sflow collectors=10.0.0.1:-1\n", 1, "collectors",
      "export e: \"10.0.0.1:-1\" is not IPv4:PORT or [IPv6]:PORT" },
    { "export e sflow collectors=10.0.0.1:1,10.0.0.1:1\n", 1, "collectors",
      "export e: \"10.0.0.1:1\" is listed twice" },
    { "export e sflow collectors=10.0.0.1:6343 sampling=0\n", 1,
      "sampling", "export e: 0 is out of range 1..1000000" },
    { "export e sflow collectors=10.0.0.1:6343 sampling=99999999999\n", 1,
      "sampling", "export e: 99999999999 is out of range 1..1000000" },
    { "export e sflow collectors=10.0.0.1:6343 sampling=-5\n", 1,
      "sampling", "export e: \"-5\" is not a number" },
    { "export e sflow collectors=10.0.0.1:6343 header=8\n", 1, "header",
      "export e: 8 is out of range 14..1500" },
    { "export e netflow collectors=10.0.0.1:2055 sampling=10\n", 1,
      "sampling", "export e: sampling does not apply to netflow (only to "
      "sflow and ipfix)" },
    { "export e ipfix collectors=10.0.0.1:4739 polling=10\n", 1, "polling",
      "export e: polling does not apply to ipfix (only to sflow)" },
    { "export e sflow collectors=10.0.0.1:6343 active-timeout=10\n", 1,
      "active-timeout", "export e: active-timeout does not apply to sflow "
      "(only to ipfix and netflow)" },
    { "export e netflow collectors=10.0.0.1:2055 cache-max-flows=10\n", 1,
      "cache-max-flows", "export e: cache-max-flows does not apply to "
      "netflow (only to ipfix)" },
    { "export e ipfix collectors=10.0.0.1:4739 active-timeout=5000\n", 1,
      "active-timeout", "export e: 5000 is out of range 1..4200" },
    { "segment web vlan=1\nexport e sflow collectors=10.0.0.1:6343 "
      "segments=web\n", 2, "segments", "export e: only an ipfix export can "
      "be per segment (OVS exports sflow from a whole bridge)" },
    { "export e ipfix collectors=10.0.0.1:4739 segments=web\n", 1,
      "segments", "export e: unknown segment \"web\"" },
    { "segment web vlan=1\nexport e ipfix collectors=10.0.0.1:4739 "
      "segments=web,web\n", 2, "segments",
      "export e: \"web\" is listed twice" },
    { "segment web vlan=1\nexport a ipfix collectors=10.0.0.1:4739 "
      "segments=web\nexport b ipfix collectors=10.0.0.2:4739 "
      "segments=web\n", 3, "segments", "export b: segment web is already "
      "exported by export a (line 2)" },
    { "export e sflow collectors=10.0.0.1:6343 rate=5\n", 1, "rate",
      "export e: unknown key \"rate\" (expected sflow, ipfix, netflow, "
      "collectors, sampling, polling, header, active-timeout, "
      "cache-max-flows, segments)" },
    { "export a netflow collectors=10.0.0.1:2055\n\n"
      "export b netflow collectors=10.0.0.2:2055\n", 3, "",
      "export b: export a (line 1) is already netflow: a bridge has one "
      "netflow export (list several collectors= instead)" },
    { "export a sflow collectors=10.0.0.1:1,10.0.0.1:2,10.0.0.1:3,"
      "10.0.0.1:4,10.0.0.1:5,10.0.0.1:6,10.0.0.1:7,10.0.0.1:8,10.0.0.1:9\n",
      1, "collectors", "export a: 9 collectors, at most 8" },
};

/* Per-segment IPFIX: several exports, beside a bridge-wide one. */
static void
test_segment_exports(void **state)
{
    (void) state;
    struct policy *p = parse_ok(
        "segment web vlan=100\nsegment db vlan=200\n"
        "export all ipfix collectors=192.0.2.9:4739\n"
        "export w ipfix collectors=192.0.2.9:4740 segments=web sampling=10\n"
        "export d ipfix collectors=192.0.2.9:4741 segments=db\n");
    const struct policy_export *w = policy_find_export(p, "w");
    assert_int_equal(w->n_segments, 1);
    assert_string_equal(w->segments[0], "web");
    assert_int_not_equal(policy_export_collector_set_id("w"),
                         policy_export_collector_set_id("d"));
    assert_int_not_equal(policy_export_collector_set_id(""), 0);

    char *text = policy_format(p);
    assert_non_null(strstr(text, "export w ipfix collectors=192.0.2.9:4740 "
                           "segments=web sampling=10\n"));
    struct policy *q = parse_ok(text);
    assert_true(policy_equal(p, q));

    struct policy_error error;
    assert_int_equal(policy_del(p, "segment", "db", &error), EINVAL);
    assert_string_equal(error.msg, "segment db is still used by export d");
    free(text);
    policy_destroy(p);
    policy_destroy(q);
}

static void
test_export_errors(void **state)
{
    (void) state;
    check_bad_cases(bad_export_cases,
                    sizeof bad_export_cases / sizeof bad_export_cases[0]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example),
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_equal_and_clone),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_error_format),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_add_line),
        cmocka_unit_test(test_del),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_exports),
        cmocka_unit_test(test_export_errors),
        cmocka_unit_test(test_segment_exports),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
