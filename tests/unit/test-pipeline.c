/* Unit tests for the pipeline compiler (and the flow sets it fills).
 *
 * The expected flows of the small fixtures are written out in full: they
 * are the worked examples of docs/pipeline.md.  Set
 * WEFT_TEST_PIPELINE_DUMP=DIR to also write every computed flow table to
 * DIR/NN-HOST.flows in "ovs-ofctl add-flows" syntax, to check that a real
 * switch accepts them all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow.h"
#include "pipeline.h"
#include "policy.h"

static struct policy *
parse_policy(const char *text)
{
    struct policy_error error;
    struct policy *policy;

    if (policy_parse(text, &policy, &error)) {
        fail_msg("policy: line %d: %s: %s", error.line, error.field,
                 error.msg);
    }
    return policy;
}

static void
dump_ofctl(const struct weft_flow_set *flows, const char *host)
{
    static int n_dumps;
    const char *dir = getenv("WEFT_TEST_PIPELINE_DUMP");
    char name[4096];

    if (!dir) {
        return;
    }
    snprintf(name, sizeof name, "%s/%02d-%s.flows", dir, n_dumps++, host);
    FILE *f = fopen(name, "w");
    assert_non_null(f);
    for (size_t i = 0; i < flows->n; i++) {
        const struct weft_flow *flow = &flows->flows[i];
        fprintf(f, "table=%u,priority=%u,cookie=%#llx,%s%sactions=%s\n",
                flow->table, flow->priority,
                (unsigned long long) flow->cookie, flow->match,
                *flow->match ? "," : "", flow->actions);
    }
    fclose(f);
}

static char *
format_flows(const struct weft_flow_set *flows)
{
    char *text;
    size_t size;
    FILE *f = open_memstream(&text, &size);

    assert_non_null(f);
    weft_flow_set_format(flows, f);
    fclose(f);
    return text;
}

/* Checks what OVS needs of a flow table: no two flows with one table,
 * priority and match; conjunction actions alone in their flows; never two
 * clauses of one conjunction in one flow (OVS counts clauses by flows). */
static void
check_flows(const struct weft_flow_set *flows)
{
    for (size_t i = 0; i < flows->n; i++) {
        const struct weft_flow *f = &flows->flows[i];

        for (size_t j = i + 1; j < flows->n; j++) {
            const struct weft_flow *g = &flows->flows[j];
            assert_false(f->table == g->table && f->priority == g->priority
                         && !strcmp(f->match, g->match));
        }
        if (!strstr(f->actions, "conjunction(")) {
            continue;
        }
        for (const char *p = f->actions; *p; ) {
            unsigned int id, clause, n;
            int len;

            assert_int_equal(sscanf(p, "conjunction(%u,%u/%u)%n",
                                    &id, &clause, &n, &len), 3);
            p += len;
            for (const char *q = p; (q = strstr(q, "conjunction(")); q++) {
                unsigned int id2;
                assert_int_equal(sscanf(q, "conjunction(%u,", &id2), 1);
                assert_int_not_equal(id, id2);
            }
            if (*p == ',') {
                p++;
            }
        }
    }
}

/* The flows of 'host', as text.  Caller frees. */
static char *
compute(const struct pipeline_input *in, const char *host)
{
    struct weft_flow_set flows;

    weft_flow_set_init(&flows);
    pipeline_compute_host(in, host, &flows);
    check_flows(&flows);
    dump_ofctl(&flows, host);

    char *text = format_flows(&flows);
    weft_flow_set_destroy(&flows);
    return text;
}

/* Like assert_string_equal(), with the whole text on failure: the
 * expected text of a fixture is easier to fix from it. */
static void
check_text(const char *actual, const char *expected)
{
    if (strcmp(actual, expected)) {
        fprintf(stderr, "--- actual:\n%s--- expected:\n%s---\n",
                actual, expected);
        fail();
    }
}

/* Checks that 'line' (a whole line, without the newline) is in 'text'. */
static void
check_has_line(const char *text, const char *line)
{
    size_t len = strlen(line);

    for (const char *p = text; (p = strstr(p, line)); p++) {
        if ((p == text || p[-1] == '\n') && p[len] == '\n') {
            return;
        }
    }
    fprintf(stderr, "--- no line:\n%s\n--- in:\n%s---\n", line, text);
    fail();
}

static void
check_no(const char *text, const char *s)
{
    if (strstr(text, s)) {
        fprintf(stderr, "--- unexpected \"%s\" in:\n%s---\n", s, text);
        fail();
    }
}

static size_t
count(const char *text, const char *s)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, s)); p++) {
        n++;
    }
    return n;
}

/* The lines of 'text' that begin with 'prefix', in a new string. */
static char *
grep_lines(const char *text, const char *prefix)
{
    char *out = calloc(1, 1);

    assert_non_null(out);
    size_t len = 0;

    for (const char *p = text; *p; ) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t) (end - p + 1) : strlen(p);
        if (!strncmp(p, prefix, strlen(prefix))) {
            out = realloc(out, len + n + 1);
            assert_non_null(out);
            memcpy(out + len, p, n);
            len += n;
            out[len] = '\0';
        }
        p += n;
    }
    return out;
}

#define ARRAY_SIZE(A) (sizeof (A) / sizeof (A)[0])

#define VNIC(HOST, VM, TAP, MAC, SEGMENT, OFPORT)                     \
    { .host = HOST, .vm = VM, .tap = TAP, .mac = MAC,                 \
      .segment = SEGMENT, .ofport = OFPORT }

/* Flow sets. */

static void
test_flow_set(void **state)
{
    struct weft_flow_set set;

    (void) state;
    weft_flow_set_init(&set);
    for (int i = 0; i < 40; i++) {
        weft_flow_set_add(&set, i % 3 * 10, i % 4, i, "", "drop");
    }
    weft_flow_set_clear(&set);
    assert_int_equal(set.n, 0);

    weft_flow_set_add(&set, 10, 5, 0x57, "b=1", "drop");
    weft_flow_set_add(&set, 0, 0, weft_cookie(WEFT_COOKIE_PIPELINE, 0),
                      "", "drop");
    weft_flow_set_add(&set, 10, 5, 0x57, "a=1", "output:1");
    weft_flow_set_add(&set, 10, 7, weft_cookie(WEFT_COOKIE_RULE, 0x1234),
                      "in_port=3", "conjunction(1,1/3),conjunction(7,1/3)");
    weft_flow_set_sort(&set);

    char *text = format_flows(&set);
    check_text(text,
        "table=0, priority=0, cookie=0x5700000000000000, actions=drop\n"
        "table=10, priority=7, cookie=0x5703000000001234, in_port=3 "
        "actions=conjunction(1,1/3),conjunction(7,1/3)\n"
        "table=10, priority=5, cookie=0x57, a=1 actions=output:1\n"
        "table=10, priority=5, cookie=0x57, b=1 actions=drop\n");
    free(text);
    weft_flow_set_destroy(&set);
    weft_flow_set_destroy(NULL);
}

/* (1) One host, two vNICs of one segment: the whole pipeline. */

static void
test_one_host(void **state)
{
    struct pipeline_vnic vnics[] = {
        VNIC("h1", "vm1", "t1", "52:54:00:00:00:01", "web", 1),
        VNIC("h1", "vm2", "t2", "52:54:00:00:00:02", "web", 2),
    };
    struct policy *policy = parse_policy("segment web vlan=100\n");
    struct pipeline_input in = {
        .policy = policy,
        .vnics = vnics,
        .n_vnics = 2,
    };

    (void) state;
    char *text = compute(&in, "h1");
    check_text(text,
        /* Classify: which vNIC, which segment. */
        "table=0, priority=100, cookie=0x570142fa98c09172, in_port=1 "
        "actions=set_field:1->reg5,set_field:100->reg6,goto_table:10\n"
        "table=0, priority=100, cookie=0x570145fa98c0949b, in_port=2 "
        "actions=set_field:2->reg5,set_field:100->reg6,goto_table:10\n"
        "table=0, priority=0, cookie=0x5700000000000000, actions=drop\n"
        /* Port security: own MAC only, no ARP spoofing. */
        "table=10, priority=100, cookie=0x570142fa98c09172, "
        "reg5=1,dl_src=52:54:00:00:00:01,arp,arp_sha=52:54:00:00:00:01 "
        "actions=goto_table:30\n"
        "table=10, priority=100, cookie=0x570145fa98c0949b, "
        "reg5=2,dl_src=52:54:00:00:00:02,arp,arp_sha=52:54:00:00:00:02 "
        "actions=goto_table:30\n"
        "table=10, priority=90, cookie=0x570142fa98c09172, reg5=1,arp "
        "actions=drop\n"
        "table=10, priority=90, cookie=0x570145fa98c0949b, reg5=2,arp "
        "actions=drop\n"
        "table=10, priority=80, cookie=0x570142fa98c09172, "
        "reg5=1,dl_src=52:54:00:00:00:01 actions=goto_table:30\n"
        "table=10, priority=80, cookie=0x570145fa98c0949b, "
        "reg5=2,dl_src=52:54:00:00:00:02 actions=goto_table:30\n"
        "table=10, priority=0, cookie=0x5700000000000000, actions=drop\n"
        /* L2 lookup: destination port, segment, tunnel. */
        "table=30, priority=100, cookie=0x570142fa98c09172, "
        "dl_dst=52:54:00:00:00:01 actions=set_field:1->reg7,"
        "set_field:100->reg8,set_field:0->reg9,goto_table:40\n"
        "table=30, priority=100, cookie=0x570145fa98c0949b, "
        "dl_dst=52:54:00:00:00:02 actions=set_field:2->reg7,"
        "set_field:100->reg8,set_field:0->reg9,goto_table:40\n"
        "table=30, priority=90, cookie=0x5700000000000000, "
        "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=goto_table:60\n"
        "table=30, priority=0, cookie=0x5700000000000000, actions=drop\n"
        /* ACL: nothing from a tunnel for another host (no hairpin); IP
         * through conntrack, non-IP within the segment. */
        "table=40, priority=110, cookie=0x5700000000000000, reg5=0,reg7=0 "
        "actions=drop\n"
        "table=40, priority=100, cookie=0x5700000000000000, ip "
        "actions=ct(zone=1,table=41)\n"
        "table=40, priority=100, cookie=0x5700000000000000, ipv6 "
        "actions=ct(zone=1,table=41)\n"
        "table=40, priority=50, cookie=0x5702e11948724051, "
        "reg6=100,reg8=100 actions=goto_table:50\n"
        "table=40, priority=0, cookie=0x5700000000000000, actions=drop\n"
        /* Tracked: the default allows new connections in the segment. */
        "table=41, priority=65000, cookie=0x5700000000000000, "
        "ct_state=+est+trk actions=goto_table:50\n"
        "table=41, priority=65000, cookie=0x5700000000000000, "
        "ct_state=+inv+trk actions=drop\n"
        "table=41, priority=65000, cookie=0x5700000000000000, "
        "ct_state=+rel+trk actions=goto_table:50\n"
        "table=41, priority=10, cookie=0x5702e11948724051, "
        "ct_state=+new+trk,ip,reg6=100,reg8=100 "
        "actions=ct(commit,zone=1),goto_table:50\n"
        "table=41, priority=10, cookie=0x5702e11948724051, "
        "ct_state=+new+trk,ipv6,reg6=100,reg8=100 "
        "actions=ct(commit,zone=1),goto_table:50\n"
        "table=41, priority=0, cookie=0x5700000000000000, actions=drop\n"
        /* Output. */
        "table=50, priority=100, cookie=0x570142fa98c09172, reg7=1 "
        "actions=output:1\n"
        "table=50, priority=100, cookie=0x570145fa98c0949b, reg7=2 "
        "actions=output:2\n"
        "table=50, priority=90, cookie=0x5700000000000000, reg5=0 "
        "actions=drop\n"
        "table=50, priority=0, cookie=0x5700000000000000, actions=drop\n"
        /* Flood. */
        "table=60, priority=100, cookie=0x5702e11948724051, "
        "reg6=100,reg5=0 actions=output:1,output:2\n"
        "table=60, priority=90, cookie=0x5702e11948724051, reg6=100 "
        "actions=output:1,output:2\n"
        "table=60, priority=0, cookie=0x5700000000000000, actions=drop\n");
    free(text);

    /* Cookies name their objects. */
    assert_true(pipeline_vnic_cookie("h1", "t1") == 0x570142fa98c09172ULL);
    assert_true(pipeline_segment_cookie("web") == 0x5702e11948724051ULL);

    /* A host without vNICs or tunnels only drops. */
    text = compute(&in, "h2");
    assert_int_equal(count(text, "\n"), 15);
    assert_int_equal(count(text, "actions=drop\n"), 10);
    free(text);

    policy_destroy(policy);
}

/* A segment claimed by an app: on hosts with members, table 30 sends its
 * traffic to the app's first table, above the MACs; the rest is as
 * without the claim. */
static void
test_app_claim(void **state)
{
    struct pipeline_vnic vnics[] = {
        VNIC("h1", "vm1", "t1", "52:54:00:00:00:01", "web", 1),
        VNIC("h1", "vm2", "t2", "52:54:00:00:00:02", "lab", 2),
    };
    struct policy *policy = parse_policy("segment web vlan=100\n"
                                         "segment lab vlan=300\n");
    struct pipeline_claim claims[] = {
        { "lab", 110 },
        { "absent", 120 },      /* No members: no flow. */
    };
    struct pipeline_input in = {
        .policy = policy,
        .vnics = vnics,
        .n_vnics = 2,
    };

    (void) state;
    char *without = compute(&in, "h1");
    in.claims = claims;
    in.n_claims = 2;
    char *with = compute(&in, "h1");
    const char *line = "table=30, priority=200, cookie=0x570296191dc1f9d1, "
                       "reg6=300 actions=goto_table:110\n";
    char *at = strstr(with, line);
    if (!at) {
        fprintf(stderr, "--- no claim flow in:\n%s", with);
        fail();
    }
    assert_true(pipeline_segment_cookie("lab") == 0x570296191dc1f9d1ULL);
    memmove(at, at + strlen(line), strlen(at + strlen(line)) + 1);
    check_text(with, without);
    free(with);
    free(without);
    assert_null(strstr(without = compute(&in, "h2"), "goto_table:1"));
    free(without);
    policy_destroy(policy);
}

/* (2) Hosts joined by tunnels. */

static const char two_hosts_policy[] =
    "segment web vlan=100 vni=5001\n"
    "segment local vlan=400\n";

static const struct pipeline_vnic two_hosts_vnics[] = {
    VNIC("h1", "vm1", "t1", "52:54:00:00:00:01", "web", 1),
    VNIC("h2", "vm2", "t2", "52:54:00:00:00:02", "web", 1),
    VNIC("h3", "vm3", "t3", "52:54:00:00:00:03", "web", 1),
    VNIC("h4", "vm4", "t4", "52:54:00:00:00:04", "web", 1),
    VNIC("h5", "vm5", "t5", "52:54:00:00:00:05", "local", 1),
};

/* h1 has tunnels to h2 and h3; the one to h4 has no port yet. */
static const struct pipeline_tunnel two_hosts_tunnels[] = {
    { "h1", "h2", 10 },
    { "h1", "h3", 11 },
    { "h1", "h4", 0 },
    { "h2", "h1", 10 },
    { "h3", "h1", 10 },
};

/* With known addresses, a vNIC sends IPv4/ARP and IPv6 only from them. */
static void
test_ip_port_security(void **state)
{
    static const char *const ips[] = { "10.0.0.1", "2001:db8::1" };
    struct pipeline_vnic vnics[] = {
        VNIC("h1", "vm1", "t1", "52:54:00:00:00:01", "web", 1),
    };
    vnics[0].ips = ips;
    vnics[0].n_ips = 2;
    struct policy *policy = parse_policy("segment web vlan=100\n");
    struct pipeline_input in = {
        .policy = policy,
        .vnics = vnics,
        .n_vnics = 1,
    };

    (void) state;
    char *text = compute(&in, "h1");
    const char *c = "cookie=0x570142fa98c09172, reg5=1";
    char line[256];
#define HAS(PRIORITY, MATCH, ACTIONS)                                   \
    snprintf(line, sizeof line, "table=10, priority=%d, %s%s actions=%s", \
             PRIORITY, c, MATCH, ACTIONS);                              \
    check_has_line(text, line)
    HAS(100, ",dl_src=52:54:00:00:00:01,arp,arp_sha=52:54:00:00:00:01,"
        "arp_spa=10.0.0.1", "goto_table:30");
    HAS(100, ",dl_src=52:54:00:00:00:01,arp,arp_sha=52:54:00:00:00:01,"
        "arp_spa=0.0.0.0", "goto_table:30");
    HAS(90, ",arp", "drop");
    HAS(86, ",dl_src=52:54:00:00:00:01,ip,nw_src=10.0.0.1", "goto_table:30");
    HAS(86, ",dl_src=52:54:00:00:00:01,udp,nw_src=0.0.0.0,tp_src=68,"
        "tp_dst=67", "goto_table:30");
    HAS(85, ",ip", "drop");
    HAS(86, ",dl_src=52:54:00:00:00:01,ipv6,ipv6_src=2001:db8::1",
        "goto_table:30");
    HAS(86, ",dl_src=52:54:00:00:00:01,ipv6,ipv6_src=fe80::/10",
        "goto_table:30");
    HAS(85, ",ipv6", "drop");
    HAS(80, ",dl_src=52:54:00:00:00:01", "goto_table:30");
#undef HAS
    /* No ARP from the MAC alone: the address is checked too. */
    check_no(text, "arp_sha=52:54:00:00:00:01 actions");
    free(text);

    /* IPv4 only: IPv6 is not checked. */
    vnics[0].n_ips = 1;
    text = compute(&in, "h1");
    check_no(text, "ipv6_src");
    check_no(text, "reg5=1,ipv6 ");
    free(text);
    policy_destroy(policy);
}

static void
test_two_hosts(void **state)
{
    struct policy *policy = parse_policy(two_hosts_policy);
    struct pipeline_input in = {
        .policy = policy,
        .vnics = two_hosts_vnics,
        .n_vnics = ARRAY_SIZE(two_hosts_vnics),
        .tunnels = two_hosts_tunnels,
        .n_tunnels = ARRAY_SIZE(two_hosts_tunnels),
    };

    (void) state;
    char *text = compute(&in, "h1");
    check_text(text,
        "table=0, priority=100, cookie=0x570142fa98c09172, in_port=1 "
        "actions=set_field:1->reg5,set_field:100->reg6,goto_table:10\n"
        /* From a tunnel: the VNI gives the source segment. */
        "table=0, priority=100, cookie=0x57048607b55f0ea5, "
        "in_port=10,tun_id=5001 actions=set_field:100->reg6,goto_table:30\n"
        "table=0, priority=100, cookie=0x57048507b55f0cd6, "
        "in_port=11,tun_id=5001 actions=set_field:100->reg6,goto_table:30\n"
        "table=0, priority=0, cookie=0x5700000000000000, actions=drop\n"
        "table=10, priority=100, cookie=0x570142fa98c09172, "
        "reg5=1,dl_src=52:54:00:00:00:01,arp,arp_sha=52:54:00:00:00:01 "
        "actions=goto_table:30\n"
        "table=10, priority=90, cookie=0x570142fa98c09172, reg5=1,arp "
        "actions=drop\n"
        "table=10, priority=80, cookie=0x570142fa98c09172, "
        "reg5=1,dl_src=52:54:00:00:00:01 actions=goto_table:30\n"
        "table=10, priority=0, cookie=0x5700000000000000, actions=drop\n"
        /* Remote MACs: reg9 is the tunnel to their host; h4 has none. */
        "table=30, priority=100, cookie=0x570142fa98c09172, "
        "dl_dst=52:54:00:00:00:01 actions=set_field:1->reg7,"
        "set_field:100->reg8,set_field:0->reg9,goto_table:40\n"
        "table=30, priority=100, cookie=0x5701cbf1c4df0799, "
        "dl_dst=52:54:00:00:00:02 actions=set_field:0->reg7,"
        "set_field:100->reg8,set_field:10->reg9,goto_table:40\n"
        "table=30, priority=100, cookie=0x57011ce850a76d1c, "
        "dl_dst=52:54:00:00:00:03 actions=set_field:0->reg7,"
        "set_field:100->reg8,set_field:11->reg9,goto_table:40\n"
        "table=30, priority=90, cookie=0x5700000000000000, "
        "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=goto_table:60\n"
        "table=30, priority=0, cookie=0x5700000000000000, actions=drop\n"
        "table=40, priority=110, cookie=0x5700000000000000, reg5=0,reg7=0 "
        "actions=drop\n"
        "table=40, priority=100, cookie=0x5700000000000000, ip "
        "actions=ct(zone=1,table=41)\n"
        "table=40, priority=100, cookie=0x5700000000000000, ipv6 "
        "actions=ct(zone=1,table=41)\n"
        "table=40, priority=50, cookie=0x5702e11948724051, "
        "reg6=100,reg8=100 actions=goto_table:50\n"
        "table=40, priority=0, cookie=0x5700000000000000, actions=drop\n"
        "table=41, priority=65000, cookie=0x5700000000000000, "
        "ct_state=+est+trk actions=goto_table:50\n"
        "table=41, priority=65000, cookie=0x5700000000000000, "
        "ct_state=+inv+trk actions=drop\n"
        "table=41, priority=65000, cookie=0x5700000000000000, "
        "ct_state=+rel+trk actions=goto_table:50\n"
        "table=41, priority=10, cookie=0x5702e11948724051, "
        "ct_state=+new+trk,ip,reg6=100,reg8=100 "
        "actions=ct(commit,zone=1),goto_table:50\n"
        "table=41, priority=10, cookie=0x5702e11948724051, "
        "ct_state=+new+trk,ipv6,reg6=100,reg8=100 "
        "actions=ct(commit,zone=1),goto_table:50\n"
        "table=41, priority=0, cookie=0x5700000000000000, actions=drop\n"
        "table=50, priority=100, cookie=0x570142fa98c09172, reg7=1 "
        "actions=output:1\n"
        /* No hairpin from a tunnel into another. */
        "table=50, priority=90, cookie=0x5700000000000000, reg5=0 "
        "actions=drop\n"
        /* Into a tunnel with the source segment's VNI. */
        "table=50, priority=80, cookie=0x57048607b55f0ea5, "
        "reg9=10,reg6=100 actions=set_field:5001->tun_id,output:10\n"
        "table=50, priority=80, cookie=0x57048507b55f0cd6, "
        "reg9=11,reg6=100 actions=set_field:5001->tun_id,output:11\n"
        "table=50, priority=0, cookie=0x5700000000000000, actions=drop\n"
        /* Flood: from a tunnel, local members only (split horizon); from
         * a local vNIC, also one copy per host with members. */
        "table=60, priority=100, cookie=0x5702e11948724051, "
        "reg6=100,reg5=0 actions=output:1\n"
        "table=60, priority=90, cookie=0x5702e11948724051, reg6=100 "
        "actions=output:1,set_field:5001->tun_id,output:10,output:11\n"
        "table=60, priority=0, cookie=0x5700000000000000, actions=drop\n");
    free(text);

    /* h2 only has its tunnel to h1: h3's MAC is unreachable from it. */
    text = compute(&in, "h2");
    check_no(text, "52:54:00:00:00:03");
    check_has_line(text,
        "table=60, priority=90, cookie=0x5702e11948724051, reg6=100 "
        "actions=output:1,set_field:5001->tun_id,output:10");
    free(text);

    assert_true(pipeline_hosts_need_tunnel(&in, "h1", "h2"));
    assert_true(pipeline_hosts_need_tunnel(&in, "h2", "h3"));
    assert_true(pipeline_hosts_need_tunnel(&in, "h1", "h4"));
    assert_false(pipeline_hosts_need_tunnel(&in, "h1", "h1"));
    assert_false(pipeline_hosts_need_tunnel(&in, "h1", "h5"));
    assert_false(pipeline_hosts_need_tunnel(&in, "h1", "nowhere"));

    /* The plan answers the same. */
    struct pipeline_plan *plan = pipeline_plan_create(&in);
    assert_true(pipeline_plan_hosts_need_tunnel(plan, "h3", "h2"));
    assert_false(pipeline_plan_hosts_need_tunnel(plan, "h5", "h2"));
    struct weft_flow_set flows;
    weft_flow_set_init(&flows);
    pipeline_plan_compute_host(plan, "h1", &flows);
    char *a = format_flows(&flows);
    pipeline_plan_compute_host(plan, "h1", &flows);
    char *b = compute(&in, "h1");
    check_text(a, b);
    free(a);
    free(b);
    weft_flow_set_destroy(&flows);
    pipeline_plan_destroy(plan);
    pipeline_plan_destroy(NULL);

    policy_destroy(policy);
}

/* Rules connect hosts whose segments have VNIs, in either direction. */
static void
test_tunnel_by_rule(void **state)
{
    struct pipeline_vnic vnics[] = {
        VNIC("h1", "vm1", "t1", "52:54:00:00:00:01", "web", 1),
        VNIC("h2", "vm2", "t2", "52:54:00:00:00:02", "db", 1),
        VNIC("h3", "vm3", "t3", "52:54:00:00:00:03", "lab", 1),
        VNIC("h4", "vm4", "t4", "52:54:00:00:00:04", "web", 1),
    };
    struct policy *policy = parse_policy(
        "segment web vlan=100 vni=5001\n"
        "segment db vlan=200 vni=5002\n"
        "segment lab vlan=300\n"
        "rule web-to-db allow from=web to=db proto=tcp ports=5432\n"
        "rule lab-to-web allow from=lab to=web\n"
        "rule no-db deny from=db to=any\n");
    struct pipeline_input in = {
        .policy = policy,
        .vnics = vnics,
        .n_vnics = ARRAY_SIZE(vnics),
    };

    (void) state;
    assert_true(pipeline_hosts_need_tunnel(&in, "h1", "h2"));
    assert_true(pipeline_hosts_need_tunnel(&in, "h2", "h1"));
    assert_true(pipeline_hosts_need_tunnel(&in, "h1", "h4"));
    assert_true(pipeline_hosts_need_tunnel(&in, "h4", "h2"));
    /* lab has no VNI: its traffic never leaves its host. */
    assert_false(pipeline_hosts_need_tunnel(&in, "h3", "h1"));
    policy_destroy(policy);
}

/* (3) Rules. */

static const char rules_policy[] =
    "segment web vlan=100 vni=5001\n"
    "segment db vlan=200 vni=5002\n"
    "group web-servers labels=frontend\n"
    "group db-servers segments=db\n"
    "group mgmt cidrs=10.0.99.0/24,2001:db8::/64\n"
    "group everything groups=web-servers,db,mgmt\n"
    "rule web-to-db allow from=web-servers to=db-servers proto=tcp "
    "ports=5432\n"
    "rule web-to-db-alt allow from=web to=db proto=tcp ports=8000-8080\n"
    "rule no-db-ssh deny from=any to=db proto=tcp ports=22 priority=200\n"
    "rule mgmt-ssh allow from=mgmt to=everything proto=tcp ports=22 "
    "priority=300\n"
    "rule ping allow from=any to=any proto=icmp stateless priority=50\n"
    "rule dns allow from=db to=mgmt proto=udp ports=53 priority=100\n";

static const char *const frontend[] = { "frontend" };

static const struct pipeline_vnic rules_vnics[] = {
    { .host = "h1", .vm = "web1", .tap = "w1", .mac = "52:54:00:00:01:01",
      .segment = "web", .labels = frontend, .n_labels = 1, .ofport = 1 },
    { .host = "h1", .vm = "db1", .tap = "d1", .mac = "52:54:00:00:02:01",
      .segment = "db", .ofport = 2 },
    { .host = "h2", .vm = "web2", .tap = "w2", .mac = "52:54:00:00:01:02",
      .segment = "web", .ofport = 1 },
    { .host = "h2", .vm = "db2", .tap = "d2", .mac = "52:54:00:00:02:02",
      .segment = "db", .ofport = 2 },
};

static const struct pipeline_tunnel rules_tunnels[] = {
    { "h1", "h2", 10 },
    { "h2", "h1", 10 },
};

static void
test_rules(void **state)
{
    struct policy *policy = parse_policy(rules_policy);
    struct pipeline_input in = {
        .policy = policy,
        .vnics = rules_vnics,
        .n_vnics = ARRAY_SIZE(rules_vnics),
        .tunnels = rules_tunnels,
        .n_tunnels = ARRAY_SIZE(rules_tunnels),
    };
    uint32_t web_to_db = pipeline_conj_id(policy, "web-to-db");
    uint32_t alt = pipeline_conj_id(policy, "web-to-db-alt");
    uint32_t no_ssh = pipeline_conj_id(policy, "no-db-ssh");
    uint32_t ssh = pipeline_conj_id(policy, "mgmt-ssh");
    uint32_t ping = pipeline_conj_id(policy, "ping");
    uint32_t dns = pipeline_conj_id(policy, "dns");
    char line[512];

    (void) state;
    assert_int_equal(pipeline_conj_id(policy, "nope"), 0);
    assert_int_equal(pipeline_rule_priority(100, false, true), 1301);
    assert_int_equal(pipeline_rule_priority(100, true, true), 1302);
    assert_int_equal(pipeline_rule_priority(100, false, false), 1300);
    assert_int_equal(pipeline_rule_priority(1000, true, false), 4002);

    char *text = compute(&in, "h1");

    /* web-to-db's sources are a label's members (web1 only), matched by
     * MAC; web-to-db-alt's are the whole of web, matched by segment. */
    snprintf(line, sizeof line, "table=41, priority=1301, cookie=%#llx, "
             "ct_state=+new+trk,dl_src=52:54:00:00:01:01 "
             "actions=conjunction(%u,1/3)",
             (unsigned long long) pipeline_rule_cookie("web-to-db"),
             web_to_db);
    check_has_line(text, line);
    snprintf(line, sizeof line, "table=41, priority=1301, cookie=%#llx, "
             "ct_state=+new+trk,reg6=100 actions=conjunction(%u,1/3)",
             (unsigned long long) pipeline_rule_cookie("web-to-db-alt"),
             alt);
    check_has_line(text, line);
    check_no(text, "trk,dl_src=52:54:00:00:01:02");

    /* Both name db whole (db-servers is segments=db): one shared flow,
     * two conjunctions, and none of db's MACs. */
    snprintf(line, sizeof line, "table=41, priority=1301, cookie=%#llx, "
             "ct_state=+new+trk,reg8=200 "
             "actions=conjunction(%u,2/3),conjunction(%u,2/3)",
             (unsigned long long) pipeline_rule_cookie("web-to-db"),
             web_to_db, alt);
    check_has_line(text, line);
    check_no(text, "trk,dl_dst=52:54:00:00:02:0");

    /* The port, for IPv4 and IPv6; the range as three masked matches. */
    snprintf(line, sizeof line, "table=41, priority=1301, cookie=%#llx, "
             "ct_state=+new+trk,tcp,tp_dst=5432 actions=conjunction(%u,3/3)",
             (unsigned long long) pipeline_rule_cookie("web-to-db"),
             web_to_db);
    check_has_line(text, line);
    snprintf(line, sizeof line, "table=41, priority=1301, cookie=%#llx, "
             "ct_state=+new+trk,tcp6,tp_dst=5432 "
             "actions=conjunction(%u,3/3)",
             (unsigned long long) pipeline_rule_cookie("web-to-db"),
             web_to_db);
    check_has_line(text, line);
    snprintf(line, sizeof line, "ct_state=+new+trk,tcp,tp_dst=8000/0xffc0 "
             "actions=conjunction(%u,3/3)", alt);
    assert_int_equal(count(text, line), 1);
    snprintf(line, sizeof line, "ct_state=+new+trk,tcp,tp_dst=8064/0xfff0 "
             "actions=conjunction(%u,3/3)", alt);
    assert_int_equal(count(text, line), 1);
    snprintf(line, sizeof line, "ct_state=+new+trk,tcp6,tp_dst=8080 "
             "actions=conjunction(%u,3/3)", alt);
    assert_int_equal(count(text, line), 1);
    snprintf(line, sizeof line, "conjunction(%u,3/3)", alt);
    assert_int_equal(count(text, line), 6);

    /* The results: ct() needs "ip" or "ipv6" in the match. */
    snprintf(line, sizeof line, "table=41, priority=1301, cookie=%#llx, "
             "conj_id=%u,ct_state=+new+trk,ip "
             "actions=ct(commit,zone=1),goto_table:50",
             (unsigned long long) pipeline_rule_cookie("web-to-db"),
             web_to_db);
    check_has_line(text, line);
    snprintf(line, sizeof line, "table=41, priority=1301, cookie=%#llx, "
             "conj_id=%u,ct_state=+new+trk,ipv6 "
             "actions=ct(commit,zone=1),goto_table:50",
             (unsigned long long) pipeline_rule_cookie("web-to-db"),
             web_to_db);
    check_has_line(text, line);
    snprintf(line, sizeof line, "conj_id=%u,ct_state=+new+trk,", alt);
    assert_int_equal(count(text, line), 2);

    /* A deny of higher priority: "any" is one flow matching all (every
     * source MAC is unicast). */
    snprintf(line, sizeof line, "table=41, priority=1602, cookie=%#llx, "
             "ct_state=+new+trk,dl_src=00:00:00:00:00:00/01:00:00:00:00:00 "
             "actions=conjunction(%u,1/3)",
             (unsigned long long) pipeline_rule_cookie("no-db-ssh"), no_ssh);
    check_has_line(text, line);
    snprintf(line, sizeof line, "table=41, priority=1602, cookie=%#llx, "
             "conj_id=%u,ct_state=+new+trk actions=drop",
             (unsigned long long) pipeline_rule_cookie("no-db-ssh"), no_ssh);
    check_has_line(text, line);
    snprintf(line, sizeof line, "conjunction(%u,", no_ssh);
    assert_int_equal(count(text, line), 1 + 1 + 2);

    /* CIDRs, IPv4 and IPv6, and nested groups: a label group and a
     * segment named in a group's groups=, and a group whose only members
     * are CIDRs. */
    snprintf(line, sizeof line, "table=41, priority=1901, cookie=%#llx, "
             "ct_state=+new+trk,ip,nw_src=10.0.99.0/24 "
             "actions=conjunction(%u,1/3)",
             (unsigned long long) pipeline_rule_cookie("mgmt-ssh"), ssh);
    check_has_line(text, line);
    snprintf(line, sizeof line, "ct_state=+new+trk,ipv6,"
             "ipv6_src=2001:db8::/64 actions=conjunction(%u,1/3)", ssh);
    assert_int_equal(count(text, line), 1);
    snprintf(line, sizeof line, "ct_state=+new+trk,ipv6,"
             "ipv6_dst=2001:db8::/64 actions=conjunction(%u,2/3)", ssh);
    assert_int_equal(count(text, line), 1);
    snprintf(line, sizeof line, "ct_state=+new+trk,dl_dst=52:54:00:00:01:01 "
             "actions=conjunction(%u,2/3)", ssh);
    assert_int_equal(count(text, line), 1);
    snprintf(line, sizeof line, "ct_state=+new+trk,reg8=200 "
             "actions=conjunction(%u,2/3)", ssh);
    assert_int_equal(count(text, line), 1);
    snprintf(line, sizeof line, "conjunction(%u,2/3)", ssh);
    assert_int_equal(count(text, line), 1 + 1 + 2);
    snprintf(line, sizeof line, "ct_state=+new+trk,ip,"
             "nw_dst=10.0.99.0/24 actions=conjunction(%u,2/3)", dns);
    assert_int_equal(count(text, line), 1);

    /* The stateless rule: +trk only, and no commit.  Its two "any"
     * dimensions are two flows: OVS counts a conjunction's clauses by
     * flows, and would never complete it with one flow for two. */
    snprintf(line, sizeof line, "table=41, priority=1150, cookie=%#llx, "
             "ct_state=+trk,dl_src=00:00:00:00:00:00/01:00:00:00:00:00 "
             "actions=conjunction(%u,1/3)",
             (unsigned long long) pipeline_rule_cookie("ping"), ping);
    check_has_line(text, line);
    snprintf(line, sizeof line, "table=41, priority=1150, cookie=%#llx, "
             "ct_state=+trk,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 "
             "actions=conjunction(%u,2/3)",
             (unsigned long long) pipeline_rule_cookie("ping"), ping);
    check_has_line(text, line);
    snprintf(line, sizeof line, "table=41, priority=1150, cookie=%#llx, "
             "ct_state=+trk,icmp actions=conjunction(%u,3/3)",
             (unsigned long long) pipeline_rule_cookie("ping"), ping);
    check_has_line(text, line);
    snprintf(line, sizeof line, "table=41, priority=1150, cookie=%#llx, "
             "conj_id=%u,ct_state=+trk actions=goto_table:50",
             (unsigned long long) pipeline_rule_cookie("ping"), ping);
    check_has_line(text, line);

    /* Rules do not change the default.  web and db reach each other
     * (for ARP) through web-to-db, but "ping" (any to any) comes first by
     * name, and so names the flow. */
    assert_int_equal(count(text, "table=41, priority=10,"), 4);
    snprintf(line, sizeof line, "table=40, priority=50, cookie=%#llx, "
             "reg6=100,reg8=200 actions=goto_table:50",
             (unsigned long long) pipeline_rule_cookie("ping"));
    check_has_line(text, line);

    free(text);

    text = compute(&in, "h2");
    free(text);
    policy_destroy(policy);
}

/* "any" and /0 prefixes match everything, yet stay distinct flows from
 * each other and from the protocol dimension ("ip"). */
static void
test_any_and_zero_prefixes(void **state)
{
    struct pipeline_vnic vnics[] = {
        VNIC("h1", "vm1", "t1", "52:54:00:00:00:01", "web", 1),
    };
    struct policy *policy = parse_policy(
        "segment web vlan=100\n"
        "group world cidrs=0.0.0.0/0,::/0\n"
        "rule in allow from=world to=world\n"
        "rule all allow from=any to=any\n");
    struct pipeline_input in = {
        .policy = policy,
        .vnics = vnics,
        .n_vnics = ARRAY_SIZE(vnics),
    };
    uint32_t in_id = pipeline_conj_id(policy, "in");
    uint32_t all_id = pipeline_conj_id(policy, "all");
    char line[256];

    (void) state;
    char *text = compute(&in, "h1");
    snprintf(line, sizeof line, "ct_state=+new+trk,ip,"
             "dl_src=00:00:00:00:00:00/01:00:00:00:00:00 "
             "actions=conjunction(%u,1/3)", in_id);
    assert_int_equal(count(text, line), 1);
    snprintf(line, sizeof line, "ct_state=+new+trk,ipv6,"
             "dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 "
             "actions=conjunction(%u,2/3)", in_id);
    assert_int_equal(count(text, line), 1);
    snprintf(line, sizeof line, "ct_state=+new+trk,"
             "dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 "
             "actions=conjunction(%u,2/3)", all_id);
    assert_int_equal(count(text, line), 1);
    snprintf(line, sizeof line, "ct_state=+new+trk,ip "
             "actions=conjunction(%u,3/3),conjunction(%u,3/3)",
             all_id, in_id);
    assert_int_equal(count(text, line), 1);
    free(text);
    policy_destroy(policy);
}

/* A host gets the flows of the rules that can match there: packets from
 * or to its own vNICs.  (Groups of vNICs, matched by MAC: for segments
 * named whole, see test_segment_dimensions.) */
static void
test_rule_locality(void **state)
{
    struct pipeline_vnic vnics[] = {
        VNIC("h1", "web1", "w1", "52:54:00:00:01:01", "web", 1),
        VNIC("h1", "db1", "d1", "52:54:00:00:02:01", "db", 2),
        VNIC("h2", "db2", "d2", "52:54:00:00:02:02", "db", 1),
        VNIC("h3", "web3", "w3", "52:54:00:00:01:03", "web", 1),
    };
    struct policy *policy = parse_policy(
        "segment web vlan=100 vni=5001\n"
        "segment db vlan=200 vni=5002\n"
        "group webs vnics=w1,w3\n"
        "group dbs vnics=d1,d2\n"
        "rule web-to-db allow from=webs to=dbs proto=tcp ports=5432\n"
        "rule web-to-web allow from=webs to=webs proto=tcp ports=80\n");
    struct pipeline_input in = {
        .policy = policy,
        .vnics = vnics,
        .n_vnics = ARRAY_SIZE(vnics),
    };
    uint32_t web_db = pipeline_conj_id(policy, "web-to-db");
    char web_web[64];
    char line[256];

    (void) state;
    snprintf(web_web, sizeof web_web, "conjunction(%u,",
             pipeline_conj_id(policy, "web-to-web"));

    /* h1 has sources and destinations: all of them. */
    char *text = compute(&in, "h1");
    assert_int_equal(count(text, "trk,dl_src="), 2);
    assert_int_equal(count(text, "trk,dl_dst=52:54:00:00:02:0"), 2);
    assert_int_equal(count(text, web_web), 2 + 2 + 2);
    free(text);

    /* h2 only has a destination of web-to-db: the packets it checks go
     * to its own vNIC, from anywhere; web-to-web never matches there. */
    text = compute(&in, "h2");
    snprintf(line, sizeof line, "table=41, priority=1301, cookie=%#llx, "
             "ct_state=+new+trk,dl_dst=52:54:00:00:02:02 "
             "actions=conjunction(%u,2/3)",
             (unsigned long long) pipeline_rule_cookie("web-to-db"),
             web_db);
    check_has_line(text, line);
    check_no(text, "dl_dst=52:54:00:00:02:01");
    assert_int_equal(count(text, "trk,dl_src="), 2);
    assert_int_equal(count(text, web_web), 0);
    free(text);

    /* h3 has a source of web-to-db (only its own vNIC matters), and a
     * source and destination of web-to-web (all of them). */
    text = compute(&in, "h3");
    snprintf(line, sizeof line, "table=41, priority=1301, cookie=%#llx, "
             "ct_state=+new+trk,dl_src=52:54:00:00:01:01 "
             "actions=conjunction(%u,1/3)",
             (unsigned long long) pipeline_rule_cookie("web-to-web"),
             pipeline_conj_id(policy, "web-to-web"));
    check_has_line(text, line);
    snprintf(line, sizeof line, "table=41, priority=1301, cookie=%#llx, "
             "ct_state=+new+trk,dl_src=52:54:00:00:01:03 "
             "actions=conjunction(%u,1/3),conjunction(%u,1/3)",
             (unsigned long long) pipeline_rule_cookie("web-to-db"),
             web_db, pipeline_conj_id(policy, "web-to-web"));
    check_has_line(text, line);
    assert_int_equal(count(text, "trk,dl_dst=52:54:00:00:02:0"), 2);
    free(text);
    policy_destroy(policy);
}

/* Rules whose names hash to one conjunction ID get different ones. */
static void
test_conj_id_clash(void **state)
{
    /* FNV-1a of "r14463" and "r16662" fold to 0xd168846b. */
    struct policy *policy = parse_policy(
        "segment web vlan=100\n"
        "rule r16662 allow from=web to=web proto=tcp\n"
        "rule r14463 allow from=web to=web proto=udp\n");

    (void) state;
    assert_int_equal(pipeline_conj_id(policy, "r14463"), 0xd168846b);
    assert_int_equal(pipeline_conj_id(policy, "r16662"), 0xd168846c);
    policy_destroy(policy);
}

/* (4) An isolated segment. */

static void
test_isolated(void **state)
{
    struct pipeline_vnic vnics[] = {
        VNIC("h1", "vm1", "t1", "52:54:00:00:00:01", "lab", 1),
        VNIC("h1", "vm2", "t2", "52:54:00:00:00:02", "lab", 2),
    };
    struct policy *policy = parse_policy("segment lab vlan=300 isolated\n");
    struct pipeline_input in = {
        .policy = policy,
        .vnics = vnics,
        .n_vnics = ARRAY_SIZE(vnics),
    };

    (void) state;
    char *text = compute(&in, "h1");
    check_no(text, "table=41, priority=10,");
    check_no(text, "table=40, priority=50,");
    check_has_line(text,
        "table=60, priority=100, cookie=0x570296191dc1f9d1, "
        "reg6=300,reg5=0 actions=drop");
    check_has_line(text,
        "table=60, priority=90, cookie=0x570296191dc1f9d1, reg6=300 "
        "actions=drop");
    free(text);
    policy_destroy(policy);

    /* A rule lets them talk, and so flood to each other. */
    policy = parse_policy("segment lab vlan=300 isolated\n"
                          "rule lab-ping allow from=lab to=lab proto=icmp\n");
    in.policy = policy;
    text = compute(&in, "h1");
    check_no(text, "table=41, priority=10,");
    check_has_line(text,
        "table=40, priority=50, cookie=0x5703735f3fa6c15b, "
        "reg6=300,reg8=300 actions=goto_table:50");
    check_has_line(text,
        "table=60, priority=90, cookie=0x570296191dc1f9d1, reg6=300 "
        "actions=output:1,output:2");
    assert_int_equal(count(text, "conjunction("), 1 + 1 + 1);
    free(text);
    policy_destroy(policy);
}

/* (5) Determinism: the input's order does not matter. */

static void
shuffle(void *base, size_t n, size_t size, unsigned int *seed)
{
    char tmp[256];
    char *p = base;

    assert_true(size <= sizeof tmp);
    for (size_t i = n; i > 1; i--) {
        size_t j = rand_r(seed) % i;
        memcpy(tmp, p + (i - 1) * size, size);
        memcpy(p + (i - 1) * size, p + j * size, size);
        memcpy(p + j * size, tmp, size);
    }
}

/* 'text' with its lines in reverse order. */
static char *
reverse_lines(const char *text)
{
    size_t len = strlen(text);
    char *out = malloc(len + 2);
    char *p = out;
    const char *end = text + len;

    while (end > text) {
        const char *start = end - 1;
        while (start > text && start[-1] != '\n') {
            start--;
        }
        memcpy(p, start, end - start);
        p += end - start;
        if (p[-1] != '\n') {
            *p++ = '\n';
        }
        end = start;
    }
    *p = '\0';
    return out;
}

static void
test_determinism(void **state)
{
    struct pipeline_vnic vnics[ARRAY_SIZE(rules_vnics) + 1];
    struct pipeline_tunnel tunnels[ARRAY_SIZE(rules_tunnels) + 1];
    struct policy *policy = parse_policy(rules_policy);
    struct pipeline_input in = {
        .policy = policy,
        .vnics = vnics,
        .n_vnics = ARRAY_SIZE(vnics),
        .tunnels = tunnels,
        .n_tunnels = ARRAY_SIZE(tunnels),
    };

    (void) state;
    memcpy(vnics, rules_vnics, sizeof rules_vnics);
    memcpy(tunnels, rules_tunnels, sizeof rules_tunnels);
    /* Duplicates and vNICs without a port change nothing either. */
    vnics[ARRAY_SIZE(rules_vnics)] = rules_vnics[1];
    vnics[ARRAY_SIZE(rules_vnics)].ofport = 0;
    tunnels[ARRAY_SIZE(rules_tunnels)] = rules_tunnels[0];

    char *h1 = compute(&in, "h1");
    char *h2 = compute(&in, "h2");

    char *reversed = reverse_lines(rules_policy);
    struct policy *policy2 = parse_policy(reversed);
    free(reversed);
    in.policy = policy2;

    unsigned int seed = 42;
    for (int i = 0; i < 20; i++) {
        shuffle(vnics, ARRAY_SIZE(vnics), sizeof *vnics, &seed);
        shuffle(tunnels, ARRAY_SIZE(tunnels), sizeof *tunnels, &seed);

        char *text = compute(&in, "h1");
        check_text(text, h1);
        free(text);
        text = compute(&in, "h2");
        check_text(text, h2);
        free(text);
    }
    free(h1);
    free(h2);
    policy_destroy(policy);
    policy_destroy(policy2);
}

/* Clashing vNICs: the first by host and tap keeps its flows. */
static void
test_clashes(void **state)
{
    struct pipeline_vnic vnics[] = {
        VNIC("h1", "vm1", "t1", "52:54:00:00:00:01", "web", 1),
        VNIC("h1", "vm2", "t2", "52:54:00:00:00:01", "web", 2),
        VNIC("h1", "vm3", "t3", "52:54:00:00:00:03", "web", 1),
        VNIC("h1", "vm4", "t4", "52:54:00:00:00:04", "nope", 4),
        VNIC("h1", "vm5", "t5", "52:54:00:00:00:05", "web", -1),
    };
    struct pipeline_tunnel tunnels[] = {
        { "h1", "h2", 1 },
        { "h1", "h1", 7 },
    };
    struct policy *policy = parse_policy("segment web vlan=100 vni=9\n");
    struct pipeline_input in = {
        .policy = policy,
        .vnics = vnics,
        .n_vnics = ARRAY_SIZE(vnics),
        .tunnels = tunnels,
        .n_tunnels = ARRAY_SIZE(tunnels),
    };

    (void) state;
    char *text = compute(&in, "h1");
    assert_int_equal(count(text, "table=0, priority=100,"), 1);
    assert_int_equal(count(text, "table=30, priority=100,"), 1);
    check_has_line(text,
        "table=60, priority=90, cookie=0x5702e11948724051, reg6=100 "
        "actions=output:1");
    free(text);
    policy_destroy(policy);
}

/* (6) Cross-segment ARP: a rule makes the segments flood to each
 * other. */

static void
test_cross_segment_reach(void **state)
{
    struct pipeline_vnic vnics[] = {
        VNIC("h1", "web1", "w1", "52:54:00:00:01:01", "web", 1),
        VNIC("h1", "db1", "d1", "52:54:00:00:02:01", "db", 2),
        VNIC("h1", "ext1", "e1", "52:54:00:00:03:01", "ext", 3),
        VNIC("h2", "db2", "d2", "52:54:00:00:02:02", "db", 1),
    };
    struct pipeline_tunnel tunnels[] = {
        { "h1", "h2", 10 },
        { "h2", "h1", 10 },
    };
    struct policy *policy = parse_policy(
        "segment web vlan=100 vni=5001\n"
        "segment db vlan=200 vni=5002\n"
        "segment ext vlan=300\n"
        "group outside cidrs=192.0.2.0/24\n"
        "rule web-to-db allow from=web to=db proto=tcp ports=5432\n"
        "rule no-ext deny from=ext to=db\n"
        "rule to-outside allow from=ext to=outside\n");
    struct pipeline_input in = {
        .policy = policy,
        .vnics = vnics,
        .n_vnics = ARRAY_SIZE(vnics),
        .tunnels = tunnels,
        .n_tunnels = ARRAY_SIZE(tunnels),
    };
    uint64_t web = pipeline_segment_cookie("web");
    uint64_t db = pipeline_segment_cookie("db");
    uint64_t ext = pipeline_segment_cookie("ext");
    uint64_t rule = pipeline_rule_cookie("web-to-db");
    char line[256];

    (void) state;
    char *text = compute(&in, "h1");
    /* web floods to db, here and on h2, and db to web (to resolve the
     * sources of the connections it answers). */
    snprintf(line, sizeof line, "table=60, priority=90, cookie=%#llx, "
             "reg6=100 actions=output:1,output:2,set_field:5001->tun_id,"
             "output:10", (unsigned long long) web);
    check_has_line(text, line);
    snprintf(line, sizeof line, "table=60, priority=90, cookie=%#llx, "
             "reg6=200 actions=output:1,output:2,set_field:5002->tun_id,"
             "output:10", (unsigned long long) db);
    check_has_line(text, line);
    snprintf(line, sizeof line, "table=60, priority=100, cookie=%#llx, "
             "reg6=100,reg5=0 actions=output:1,output:2",
             (unsigned long long) web);
    check_has_line(text, line);
    /* ext reaches nothing else: neither a deny nor a CIDR-only group
     * counts. */
    snprintf(line, sizeof line, "table=60, priority=90, cookie=%#llx, "
             "reg6=300 actions=output:3", (unsigned long long) ext);
    check_has_line(text, line);

    /* Non-IP unicast (ARP replies) both ways, with the rule's cookie. */
    snprintf(line, sizeof line, "table=40, priority=50, cookie=%#llx, "
             "reg6=100,reg8=200 actions=goto_table:50",
             (unsigned long long) rule);
    check_has_line(text, line);
    snprintf(line, sizeof line, "table=40, priority=50, cookie=%#llx, "
             "reg6=200,reg8=100 actions=goto_table:50",
             (unsigned long long) rule);
    check_has_line(text, line);
    assert_int_equal(count(text, "table=40, priority=50,"), 5);
    free(text);

    /* h2 has only db: web still arrives there from its tunnel. */
    text = compute(&in, "h2");
    snprintf(line, sizeof line, "table=60, priority=100, cookie=%#llx, "
             "reg6=100,reg5=0 actions=output:1", (unsigned long long) web);
    check_has_line(text, line);
    snprintf(line, sizeof line, "table=60, priority=90, cookie=%#llx, "
             "reg6=200 actions=output:1,set_field:5002->tun_id,output:10",
             (unsigned long long) db);
    check_has_line(text, line);
    check_no(text, "reg6=300");
    free(text);

    /* Without the rule, web floods only to itself. */
    policy_destroy(policy);
    policy = parse_policy("segment web vlan=100 vni=5001\n"
                          "segment db vlan=200 vni=5002\n"
                          "segment ext vlan=300\n");
    in.policy = policy;
    text = compute(&in, "h1");
    snprintf(line, sizeof line, "table=60, priority=90, cookie=%#llx, "
             "reg6=100 actions=output:1", (unsigned long long) web);
    check_has_line(text, line);
    check_no(text, "reg6=100,reg8=200");
    free(text);
    policy_destroy(policy);
}

/* (8) A host has no table 40 or 60 flows for segments it has no part in,
 * even with tunnels that could bring their traffic: so a rule between
 * other hosts' segments leaves its flows, and its digest, alone. */
static void
test_segments_elsewhere(void **state)
{
    (void) state;
    static const char base[] =
        "segment web vlan=100 vni=5001\n"
        "segment app vlan=200 vni=5002 isolated\n";
    static const char with_rule[] =
        "segment web vlan=100 vni=5001\n"
        "segment app vlan=200 vni=5002 isolated\n"
        "rule app-ping allow from=app to=app proto=icmp\n";
    static const struct pipeline_vnic vnics[] = {
        VNIC("h1", "w1", "w1", "52:54:00:00:08:01", "web", 1),
        VNIC("h2", "w2", "w2", "52:54:00:00:08:02", "web", 1),
        VNIC("h2", "a2", "a2", "52:54:00:00:08:12", "app", 2),
        VNIC("h3", "a3", "a3", "52:54:00:00:08:13", "app", 1),
    };
    static const struct pipeline_tunnel tunnels[] = {
        { "h1", "h2", 10 }, { "h2", "h1", 10 },
        { "h2", "h3", 11 }, { "h3", "h2", 11 },
        { "h1", "h3", 12 }, { "h3", "h1", 12 },
    };
    struct policy *p0 = parse_policy(base);
    struct policy *p1 = parse_policy(with_rule);
    struct pipeline_input in = {
        .policy = p0,
        .vnics = vnics,
        .n_vnics = ARRAY_SIZE(vnics),
        .tunnels = tunnels,
        .n_tunnels = ARRAY_SIZE(tunnels),
    };

    char *h1 = compute(&in, "h1");
    check_no(h1, "reg6=200,reg8=200 actions=");         /* Table 40. */
    check_no(h1, "reg6=200,reg5=0 actions=");           /* Table 60. */
    check_no(h1, ", reg6=200 actions=");
    assert_non_null(strstr(h1, ", reg6=100 actions=output:1,"
                           "set_field:5001->tun_id,output:10\n"));
    char *h2 = compute(&in, "h2");
    assert_non_null(strstr(h2, ", reg6=200,reg5=0 actions=drop\n"));

    struct pipeline_plan *a = pipeline_plan_create(&in);
    in.policy = p1;
    struct pipeline_plan *b = pipeline_plan_create(&in);
    assert_true(pipeline_plan_host_digest(a, "h1")
                == pipeline_plan_host_digest(b, "h1"));
    assert_true(pipeline_plan_host_digest(a, "h2")
                != pipeline_plan_host_digest(b, "h2"));
    char *h1_after = compute(&in, "h1");
    check_text(h1_after, h1);
    char *h2_after = compute(&in, "h2");
    assert_non_null(strstr(h2_after, ", reg6=200,reg8=200 "
                           "actions=goto_table:50\n"));

    pipeline_plan_destroy(a);
    pipeline_plan_destroy(b);
    free(h1);
    free(h2);
    free(h1_after);
    free(h2_after);
    policy_destroy(p0);
    policy_destroy(p1);
}

/* (9) A segment named whole in a rule (its name, or a group's segments=)
 * is one flow per dimension, matching the segment's register (reg6 for
 * sources, reg8 for destinations), instead of a flow per member MAC: so
 * a rule costs the same whatever the size of its segments, and vNICs that
 * come and go do not change it.  The exception: on a host with an uplink,
 * a source segment without a VNI is matched by its members' MACs, since
 * any device of its VLAN may send on the trunk. */
static void
test_segment_dimensions(void **state)
{
    static const char policy_text[] =
        "segment web vlan=100 vni=5001\n"
        "segment db vlan=200 vni=5002\n"
        "segment lab vlan=300\n"
        "group mix segments=web vnics=d2\n"
        "rule web-db allow from=web to=db proto=tcp ports=5432\n"
        "rule lab-web allow from=lab to=web proto=tcp ports=80\n"
        "rule web-lab allow from=web to=lab proto=tcp ports=22\n"
        "rule mix-ssh allow from=mix to=db proto=tcp ports=2222\n";
    struct pipeline_vnic vnics[] = {
        VNIC("h1", "web1", "w1", "52:54:00:00:01:01", "web", 1),
        VNIC("h1", "db1", "d1", "52:54:00:00:02:01", "db", 2),
        VNIC("h1", "lab1", "l1", "52:54:00:00:03:01", "lab", 3),
        VNIC("h2", "db2", "d2", "52:54:00:00:02:02", "db", 1),
        VNIC("h2", "lab2", "l2", "52:54:00:00:03:02", "lab", 2),
        VNIC("h2", "web2", "w2", "52:54:00:00:01:02", "web", 3),
    };
    static const struct pipeline_tunnel tunnels[] = {
        { "h1", "h2", 10 }, { "h2", "h1", 10 },
    };
    static const struct pipeline_uplink uplinks[] = {
        { "h1", 20 }, { "h2", 20 },
    };
    struct policy *policy = parse_policy(policy_text);
    struct pipeline_input in = {
        .policy = policy,
        .vnics = vnics,
        .n_vnics = ARRAY_SIZE(vnics),
        .tunnels = tunnels,
        .n_tunnels = ARRAY_SIZE(tunnels),
    };
    uint32_t web_db = pipeline_conj_id(policy, "web-db");
    uint32_t lab_web = pipeline_conj_id(policy, "lab-web");
    uint32_t web_lab = pipeline_conj_id(policy, "web-lab");
    uint32_t mix = pipeline_conj_id(policy, "mix-ssh");
    char line[256];

    (void) state;

    /* No uplink: every whole segment by register, not one member MAC. */
    char *text = compute(&in, "h1");
    snprintf(line, sizeof line, "table=41, priority=1301, cookie=%#llx, "
             "ct_state=+new+trk,reg8=200 "
             "actions=conjunction(%u,2/3),conjunction(%u,2/3)",
             (unsigned long long) pipeline_rule_cookie("mix-ssh"),
             mix, web_db);
    check_has_line(text, line);
    snprintf(line, sizeof line, "ct_state=+new+trk,reg6=300 "
             "actions=conjunction(%u,1/3)", lab_web);
    assert_int_equal(count(text, line), 1);
    snprintf(line, sizeof line, "ct_state=+new+trk,reg8=300 "
             "actions=conjunction(%u,2/3)", web_lab);
    assert_int_equal(count(text, line), 1);
    assert_int_equal(count(text, "trk,dl_src=52:54:00:00:0"), 1);
    assert_int_equal(count(text, "trk,dl_dst=52:54:00:00:0"), 0);

    /* A group with a segment and a vNIC of another: the segment by
     * register, the vNIC by MAC. */
    snprintf(line, sizeof line, "ct_state=+new+trk,dl_src=52:54:00:00:02:02 "
             "actions=conjunction(%u,1/3)", mix);
    assert_int_equal(count(text, line), 1);
    snprintf(line, sizeof line, "ct_state=+new+trk,reg6=100 "
             "actions=conjunction(%u,1/3),conjunction(%u,1/3),"
             "conjunction(%u,1/3)", mix, web_db, web_lab);
    assert_int_equal(count(text, line), 1);

    /* Without web2 (or with more of web's vNICs), table 41 is the same. */
    struct pipeline_input fewer = in;
    fewer.n_vnics--;
    char *text2 = compute(&fewer, "h1");
    char *acl = grep_lines(text, "table=41,");
    char *acl2 = grep_lines(text2, "table=41,");
    assert_string_equal(acl, acl2);
    free(acl);
    free(acl2);
    free(text2);
    free(text);

    /* With uplinks: lab (no VNI) is on the trunk, where any device of
     * VLAN 300 may send, so its sources are its members' MACs (both
     * hosts'); as a destination it is still reg8 (table 30 knows only
     * vNICs' MACs). */
    in.uplinks = uplinks;
    in.n_uplinks = ARRAY_SIZE(uplinks);
    text = compute(&in, "h1");
    check_no(text, "trk,reg6=300");
    snprintf(line, sizeof line, "ct_state=+new+trk,dl_src=52:54:00:00:03:01 "
             "actions=conjunction(%u,1/3)", lab_web);
    assert_int_equal(count(text, line), 1);
    snprintf(line, sizeof line, "ct_state=+new+trk,dl_src=52:54:00:00:03:02 "
             "actions=conjunction(%u,1/3)", lab_web);
    assert_int_equal(count(text, line), 1);
    snprintf(line, sizeof line, "ct_state=+new+trk,reg8=300 "
             "actions=conjunction(%u,2/3)", web_lab);
    assert_int_equal(count(text, line), 1);
    free(text);
    policy_destroy(policy);
}

static void assert_contains(const char *text, const char *needle);

/* (7) A segment without a VNI rides the hosts' uplinks as a VLAN. */
static void
test_uplink_trunk(void **state)
{
    struct policy *policy = parse_policy("segment plain vlan=400\n"
                                         "segment web vlan=100 vni=5001\n");
    static const struct pipeline_vnic vnics[] = {
        { .host = "h1", .vm = "p1", .tap = "p1", .mac = "52:54:00:00:04:01",
          .segment = "plain", .ofport = 1 },
        { .host = "h2", .vm = "p2", .tap = "p2", .mac = "52:54:00:00:04:02",
          .segment = "plain", .ofport = 1 },
        { .host = "h3", .vm = "p3", .tap = "p3", .mac = "52:54:00:00:04:03",
          .segment = "plain", .ofport = 1 },
    };
    static const struct pipeline_uplink uplinks[] = {
        { "h1", 20 }, { "h2", 20 },     /* h3 is not on the trunk. */
    };
    struct pipeline_input in = {
        .policy = policy,
        .vnics = vnics,
        .n_vnics = ARRAY_SIZE(vnics),
        .uplinks = uplinks,
        .n_uplinks = ARRAY_SIZE(uplinks),
    };
    struct weft_flow_set flows;
    char *text = NULL;
    size_t len = 0;

    (void) state;
    weft_flow_set_init(&flows);
    pipeline_compute_host(&in, "h1", &flows);
    FILE *out = open_memstream(&text, &len);
    weft_flow_set_format(&flows, out);
    fclose(out);

    assert_contains(text, "in_port=20,dl_vlan=400 actions=strip_vlan,"
                    "set_field:400->reg6,goto_table:30");
    assert_contains(text, "dl_dst=52:54:00:00:04:02 actions=set_field:0->reg7,"
                    "set_field:400->reg8,set_field:65534->reg9,"
                    "goto_table:40");
    assert_contains(text, "reg6=400 actions=push_vlan:0x8100,"
                    "set_field:4496->vlan_vid,output:20");
    assert_contains(text, "reg6=400 actions=output:1,push_vlan:0x8100,"
                    "set_field:4496->vlan_vid,output:20");
    /* h3 has no uplink: its vNIC is unreachable from h1. */
    assert_null(strstr(text, "52:54:00:00:04:03"));
    /* web has a VNI: no trunk flows for it. */
    assert_null(strstr(text, "dl_vlan=100"));
    assert_false(pipeline_hosts_need_tunnel(&in, "h1", "h2"));

    free(text);
    weft_flow_set_destroy(&flows);
    policy_destroy(policy);
}

/* Tracing: the decision and the rule behind it, for the rules fixture. */

static char *
trace(const struct pipeline_plan *plan, const char *sh, const char *st,
      const char *dh, const char *dt, int proto, int port, bool *delivered)
{
    struct pipeline_trace q = {
        .src_host = sh, .src_tap = st, .dst_host = dh, .dst_tap = dt,
        .proto = proto, .port = port,
    };
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    *delivered = pipeline_plan_trace(plan, &q, out);
    fclose(out);
    return text;
}

static void
assert_contains(const char *text, const char *needle)
{
    if (!strstr(text, needle)) {
        fail_msg("\"%s\" not in:\n%s", needle, text);
    }
}

static void
test_trace(void **state)
{
    struct policy *policy = parse_policy(rules_policy);
    struct pipeline_input in = {
        .policy = policy,
        .vnics = rules_vnics,
        .n_vnics = ARRAY_SIZE(rules_vnics),
        .tunnels = rules_tunnels,
        .n_tunnels = ARRAY_SIZE(rules_tunnels),
    };
    struct pipeline_plan *plan = pipeline_plan_create(&in);
    bool ok;
    char *t;

    (void) state;
    /* Allowed across hosts by a rule. */
    t = trace(plan, "h1", "w1", "h2", "d2", POLICY_PROTO_TCP, 5432, &ok);
    assert_true(ok);
    assert_contains(t, "rule web-to-db (allow, priority 100");
    assert_contains(t, "via the tunnel on port 10");
    assert_contains(t, "into VXLAN to h2 with VNI 5001");
    assert_contains(t, "result: DELIVERED to db2/d2");
    free(t);

    /* The deny at priority 200 wins over nothing else for port 22. */
    t = trace(plan, "h1", "w1", "h1", "d1", POLICY_PROTO_TCP, 22, &ok);
    assert_false(ok);
    assert_contains(t, "rule no-db-ssh (deny, priority 200");
    assert_contains(t, "result: DROPPED on h1");
    free(t);

    /* The other way: no rule, different segments. */
    t = trace(plan, "h2", "d2", "h1", "w1", POLICY_PROTO_TCP, 5432, &ok);
    assert_false(ok);
    assert_contains(t, "default: deny between segments");
    free(t);

    /* Same segment, no rule for udp: the open segment's default. */
    t = trace(plan, "h1", "w1", "h2", "w2", POLICY_PROTO_UDP, 9, &ok);
    assert_true(ok);
    assert_contains(t, "same segment web is open");
    free(t);

    /* Stateless icmp rule from any to any. */
    t = trace(plan, "h2", "d2", "h1", "w1", POLICY_PROTO_ICMP, 0, &ok);
    assert_true(ok);
    assert_contains(t, "rule ping (allow");
    assert_contains(t, "stateless");
    free(t);

    /* An unknown vNIC. */
    t = trace(plan, "h1", "nope", "h1", "w1", POLICY_PROTO_ICMP, 0, &ok);
    assert_false(ok);
    assert_contains(t, "h1/nope is not a placed vNIC");
    free(t);

    pipeline_plan_destroy(plan);
    policy_destroy(policy);
}

/* Rate limits: a meter per vNIC and direction, used first in its table 0
 * flow (what it sends) and its table 50 flow (what it receives); the
 * strictest limit wins; only local vNICs get meters. */
static void
test_limits(void **state)
{
    struct pipeline_vnic vnics[] = {
        VNIC("h1", "vm1", "t1", "52:54:00:00:00:01", "web", 1),
        VNIC("h1", "vm2", "t2", "52:54:00:00:00:02", "web", 2),
        VNIC("h1", "vm3", "t3", "52:54:00:00:00:03", "db", 3),
        VNIC("h2", "vm4", "t4", "52:54:00:00:00:04", "web", 4),
    };
    struct policy *policy = parse_policy(
        "segment web vlan=100 vni=5001\n"
        "segment db vlan=200\n"
        "limit web-in targets=segment:web rate=20mbit direction=ingress\n"
        "limit vm1 targets=vnic:vm1 rate=5mbit burst=1mbit\n"
        "limit db-out targets=vnic:52:54:00:00:00:03 rate=1gbit "
        "direction=egress\n");
    struct pipeline_input in = {
        .policy = policy,
        .vnics = vnics,
        .n_vnics = ARRAY_SIZE(vnics),
    };

    (void) state;
    char *text = compute(&in, "h1");
    /* vm1: 5mbit both ways (stricter than web-in), burst as given. */
    check_has_line(text, "table=0, priority=100, cookie=0x570142fa98c09172, "
                   "in_port=1 actions=meter:1459617793,set_field:1->reg5,"
                   "set_field:100->reg6,goto_table:10");
    check_has_line(text, "table=50, priority=100, cookie=0x570142fa98c09172, "
                   "reg7=1 actions=meter:1459683329,output:1");
    check_has_line(text, "meter=0x57000001 kbps burst stats bands=type=drop "
                   "rate=5000 burst_size=1000");
    check_has_line(text, "meter=0x57010001 kbps burst stats bands=type=drop "
                   "rate=5000 burst_size=1000");
    /* vm2: only what it sends, default burst (a quarter of a second). */
    check_has_line(text, "meter=0x57000002 kbps burst stats bands=type=drop "
                   "rate=20000 burst_size=5000");
    check_has_line(text, "table=50, priority=100, cookie=0x570145fa98c0949b, "
                   "reg7=2 actions=output:2");
    /* vm3: only what it receives. */
    check_has_line(text, "meter=0x57010003 kbps burst stats bands=type=drop "
                   "rate=1000000 burst_size=250000");
    assert_int_equal(count(text, "meter="), 4);
    assert_int_equal(count(text, "actions=meter:"), 4);
    free(text);

    /* h2 gets only its own vNIC's meter. */
    text = compute(&in, "h2");
    assert_int_equal(count(text, "meter="), 1);
    check_has_line(text, "meter=0x57000004 kbps burst stats bands=type=drop "
                   "rate=20000 burst_size=5000");
    free(text);

    /* Trace says which limit applies. */
    struct pipeline_plan *plan = pipeline_plan_create(&in);
    bool ok;
    char *t = trace(plan, "h1", "t2", "h1", "t1", POLICY_PROTO_TCP, 80, &ok);
    assert_true(ok);
    assert_contains(t, "meter 0x57000002: what t2 sends is limited to "
                    "20mbit/s (limit web-in)");
    assert_contains(t, "meter 0x57010001: what t1 receives is limited to "
                    "5mbit/s (limit vm1)");
    free(t);
    pipeline_plan_destroy(plan);

    assert_int_equal(pipeline_meter_id(7, false), 0x57000007);
    assert_int_equal(pipeline_meter_id(7, true), 0x57010007);
    policy_destroy(policy);
}

/* Per-segment IPFIX: a sample() action in the table 0 flow of each local
 * vNIC of a sampled segment, after its meter; other segments untouched. */
static void
test_samples(void **state)
{
    struct pipeline_vnic vnics[] = {
        VNIC("h1", "vm1", "t1", "52:54:00:00:00:01", "web", 1),
        VNIC("h1", "vm2", "t2", "52:54:00:00:00:02", "db", 2),
    };
    struct policy *policy = parse_policy(
        "segment web vlan=100\nsegment db vlan=200\n"
        "limit cap targets=vnic:vm1 rate=1mbit direction=ingress\n");
    struct pipeline_sample samples[] = {
        { .segment = "web", .collector_set_id = 77, .probability = 163 },
    };
    struct pipeline_input in = {
        .policy = policy,
        .vnics = vnics,
        .n_vnics = ARRAY_SIZE(vnics),
        .samples = samples,
        .n_samples = ARRAY_SIZE(samples),
    };

    (void) state;
    char *text = compute(&in, "h1");
    check_has_line(text, "table=0, priority=100, cookie=0x570142fa98c09172, "
                   "in_port=1 actions=meter:1459617793,sample(probability="
                   "163,collector_set_id=77,obs_domain_id=100,"
                   "obs_point_id=1),set_field:1->reg5,set_field:100->reg6,"
                   "goto_table:10");
    check_has_line(text, "table=0, priority=100, cookie=0x570145fa98c0949b, "
                   "in_port=2 actions=set_field:2->reg5,set_field:200->reg6,"
                   "goto_table:10");
    assert_int_equal(count(text, "sample("), 1);
    free(text);
    policy_destroy(policy);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_set),
        cmocka_unit_test(test_one_host),
        cmocka_unit_test(test_app_claim),
        cmocka_unit_test(test_ip_port_security),
        cmocka_unit_test(test_two_hosts),
        cmocka_unit_test(test_tunnel_by_rule),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_any_and_zero_prefixes),
        cmocka_unit_test(test_rule_locality),
        cmocka_unit_test(test_conj_id_clash),
        cmocka_unit_test(test_isolated),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_clashes),
        cmocka_unit_test(test_cross_segment_reach),
        cmocka_unit_test(test_trace),
        cmocka_unit_test(test_uplink_trunk),
        cmocka_unit_test(test_segments_elsewhere),
        cmocka_unit_test(test_segment_dimensions),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_samples),
    };
    return cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);
}
