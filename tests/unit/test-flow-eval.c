/* Unit tests for the flow evaluator (ofproto-glue/flow-eval.c) and the
 * cluster tracer (controller/net-trace.c), on the flows the pipeline
 * compiler makes for a two-host fixture, parsed by OVS's own parser.
 *
 * The last test is the compiler checked against the policy: for every pair
 * of vNICs and several protocols, what the flows do (evaluated with OVS's
 * classifier) must be what pipeline_plan_trace() says the policy wants.
 * The two are independent: one reads the flows, the other reasons on the
 * rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow-eval.h"
#include "net-trace.h"
#include "pipeline.h"
#include "policy.h"

#define ARRAY_SIZE(A) (sizeof (A) / sizeof (A)[0])

static const char policy_text[] =
    "segment web vlan=100 vni=5001\n"
    "segment db vlan=200 vni=5002\n"
    "segment lab vlan=300 vni=5003 isolated\n"
    "rule web-to-db allow from=web to=db proto=tcp ports=5432\n"
    "rule no-ssh deny from=any to=db proto=tcp ports=22 priority=200\n"
    "rule lab-ping allow from=lab to=lab proto=icmp\n"
    "rule dns allow from=web to=db proto=udp ports=53 stateless\n"
    "limit cap targets=segment:lab rate=10mbit\n";

static const char *const web1_ips[] = { "10.0.0.11" };

static const struct pipeline_vnic vnics[] = {
    { .host = "h1", .vm = "web1", .tap = "w1", .mac = "52:54:00:00:01:01",
      .segment = "web", .ofport = 1, .ips = web1_ips, .n_ips = 1 },
    { .host = "h1", .vm = "lab1", .tap = "l1", .mac = "52:54:00:00:03:01",
      .segment = "lab", .ofport = 2 },
    { .host = "h2", .vm = "web2", .tap = "w2", .mac = "52:54:00:00:01:02",
      .segment = "web", .ofport = 1 },
    { .host = "h2", .vm = "db2", .tap = "d2", .mac = "52:54:00:00:02:02",
      .segment = "db", .ofport = 2 },
    { .host = "h2", .vm = "lab2", .tap = "l2", .mac = "52:54:00:00:03:02",
      .segment = "lab", .ofport = 3 },
};

static const struct pipeline_tunnel tunnels[] = {
    { "h1", "h2", 10 },
    { "h2", "h1", 10 },
};

static const struct net_trace_tunnel h1_tunnels[] = { { 10, "h2" } };
static const struct net_trace_tunnel h2_tunnels[] = { { 10, "h1" } };

struct fixture {
    struct policy *policy;
    struct pipeline_input in;
    struct pipeline_plan *plan;
    struct weft_flow_set flows[2];
    struct net_trace_host hosts[2];
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct policy_error error;
    assert_int_equal(policy_parse(policy_text, &f->policy, &error), 0);
    f->in = (struct pipeline_input) {
        .policy = f->policy,
        .vnics = vnics,
        .n_vnics = ARRAY_SIZE(vnics),
        .tunnels = tunnels,
        .n_tunnels = ARRAY_SIZE(tunnels),
    };
    f->plan = pipeline_plan_create(&f->in);

    static const char *const names[] = { "h1", "h2" };
    for (int i = 0; i < 2; i++) {
        char *problem;
        weft_flow_set_init(&f->flows[i]);
        pipeline_plan_compute_host(f->plan, names[i], &f->flows[i]);
        f->hosts[i] = (struct net_trace_host) {
            .name = names[i],
            .fe = flow_eval_create_from_flows(f->flows[i].flows,
                                              f->flows[i].n, &problem),
            .tunnels = i ? h2_tunnels : h1_tunnels,
            .n_tunnels = 1,
        };
        if (!f->hosts[i].fe) {
            fail_msg("%s", problem);
        }
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 2; i++) {
        flow_eval_destroy((struct flow_eval *) f->hosts[i].fe);
        weft_flow_set_destroy(&f->flows[i]);
    }
    pipeline_plan_destroy(f->plan);
    policy_destroy(f->policy);
    free(f);
    return 0;
}

static const struct pipeline_vnic *
vnic(const char *tap)
{
    for (size_t i = 0; i < ARRAY_SIZE(vnics); i++) {
        if (!strcmp(vnics[i].tap, tap)) {
            return &vnics[i];
        }
    }
    fail_msg("no vNIC %s", tap);
    return NULL;
}

static void
collect(void *aux, const char *host, uint64_t cookie, const char *text)
{
    FILE *out = aux;
    fprintf(out, "%s: %s [%#llx]\n", host, text, (unsigned long long) cookie);
}

/* Traces a packet from 'src' to 'dst'; returns the steps (caller frees)
 * and whether it reached 'dst'. */
static char *
trace(struct fixture *f, const char *src, const char *dst, int proto,
      int port, bool established, bool *delivered)
{
    const struct pipeline_vnic *s = vnic(src), *d = vnic(dst);
    struct flow_eval_packet p;
    net_trace_packet(s, d, proto, port, &p);
    p.ct_established = established;

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    struct net_trace_result r;
    net_trace_run(f->hosts, 2, s->host, &p, collect, out, &r);
    fclose(out);
    if (r.problem) {
        fail_msg("%s\n%s", r.problem, text);
    }
    *delivered = net_trace_delivered_to(&r, d->host, d->ofport);
    net_trace_result_destroy(&r);
    return text;
}

static void
expect(struct fixture *f, const char *src, const char *dst, int proto,
       int port, bool established, bool want, const char *needle)
{
    bool delivered;
    char *text = trace(f, src, dst, proto, port, established, &delivered);
    if (delivered != want || (needle && !strstr(text, needle))) {
        fail_msg("%s -> %s proto %d port %d%s: %s (wanted %s%s%s):\n%s",
                 src, dst, proto, port, established ? " (est)" : "",
                 delivered ? "delivered" : "dropped",
                 want ? "delivered" : "dropped", needle ? ", with " : "",
                 needle ? needle : "", text);
    }
    free(text);
}

static void
test_scenarios(void **state)
{
    struct fixture *f = *state;

    /* Same segment across hosts: into the tunnel with the VNI, delivered
     * on h2. */
    expect(f, "w1", "w2", POLICY_PROTO_ICMP, 0, false, true,
           "into the tunnel to h2 with tun_id 5001");
    /* A rule allows web -> db tcp/5432; the reverse new connection and
     * other ports are refused; an established reply passes. */
    expect(f, "w1", "d2", POLICY_PROTO_TCP, 5432, false, true,
           "ct(commit,zone=1)");
    expect(f, "w1", "d2", POLICY_PROTO_TCP, 5433, false, false, NULL);
    expect(f, "d2", "w2", POLICY_PROTO_TCP, 5432, false, false, NULL);
    expect(f, "d2", "w2", POLICY_PROTO_TCP, 40000, true, true, NULL);
    /* The deny at priority 200 wins, even within the web -> db rule's
     * reach. */
    expect(f, "w2", "d2", POLICY_PROTO_TCP, 22, false, false, NULL);
    /* Isolated segment: only icmp, by the rule; the meter is on the
     * way. */
    expect(f, "l1", "l2", POLICY_PROTO_ICMP, 0, false, true, "meter:");
    expect(f, "l1", "l2", POLICY_PROTO_TCP, 80, false, false, NULL);
}

static void
test_port_security(void **state)
{
    struct fixture *f = *state;
    struct flow_eval_packet p;
    struct net_trace_result r;

    /* A forged source MAC. */
    net_trace_packet(vnic("w1"), vnic("w2"), POLICY_PROTO_ICMP, 0, &p);
    p.dl_src[5] = 0x99;
    net_trace_run(f->hosts, 2, "h1", &p, NULL, NULL, &r);
    assert_int_equal(r.n_deliveries, 0);
    net_trace_result_destroy(&r);

    /* A forged source IP from a vNIC whose address is known. */
    net_trace_packet(vnic("w1"), vnic("w2"), POLICY_PROTO_ICMP, 0, &p);
    p.nw_src[3] = 99;
    net_trace_run(f->hosts, 2, "h1", &p, NULL, NULL, &r);
    assert_int_equal(r.n_deliveries, 0);
    net_trace_result_destroy(&r);

    /* Unknown hosts and flows are reported, not guessed. */
    net_trace_run(f->hosts, 2, "h9", &p, NULL, NULL, &r);
    assert_string_equal(r.problem, "no host h9");
    net_trace_result_destroy(&r);
    struct net_trace_host down[2] = { f->hosts[0], f->hosts[1] };
    down[1].fe = NULL;
    down[1].why_unknown = "switch not connected";
    net_trace_packet(vnic("w1"), vnic("w2"), POLICY_PROTO_ICMP, 0, &p);
    net_trace_run(down, 2, "h1", &p, NULL, NULL, &r);
    assert_string_equal(r.problem, "h2: flows unknown: switch not "
                        "connected");
    net_trace_result_destroy(&r);
}

/* The compiled flows do what the policy says, for every pair. */
static void
test_flows_agree_with_policy(void **state)
{
    struct fixture *f = *state;
    static const struct {
        int proto, port;
    } probes[] = {
        { POLICY_PROTO_ICMP, 0 },
        { POLICY_PROTO_ICMP6, 0 },
        { POLICY_PROTO_TCP, 5432 },
        { POLICY_PROTO_TCP, 22 },
        { POLICY_PROTO_TCP, 80 },
        { POLICY_PROTO_UDP, 53 },
        { POLICY_PROTO_UDP, 54 },
    };
    size_t n_checks = 0, n_delivered = 0;

    for (size_t i = 0; i < ARRAY_SIZE(vnics); i++) {
        for (size_t j = 0; j < ARRAY_SIZE(vnics); j++) {
            for (size_t k = 0; k < ARRAY_SIZE(probes) && i != j; k++) {
                struct pipeline_trace q = {
                    .src_host = vnics[i].host, .src_tap = vnics[i].tap,
                    .dst_host = vnics[j].host, .dst_tap = vnics[j].tap,
                    .proto = probes[k].proto, .port = probes[k].port,
                };
                FILE *null = fopen("/dev/null", "w");
                bool want = pipeline_plan_trace(f->plan, &q, null);
                fclose(null);
                expect(f, vnics[i].tap, vnics[j].tap, probes[k].proto,
                       probes[k].port, false, want, NULL);
                n_checks++;
                n_delivered += want;
            }
        }
    }
    /* Both outcomes were exercised. */
    assert_int_equal(n_checks, 5 * 4 * ARRAY_SIZE(probes));
    assert_true(n_delivered > 10 && n_delivered < n_checks - 10);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scenarios, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_security, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_flows_agree_with_policy, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
