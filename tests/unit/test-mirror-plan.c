/* Unit tests for the mirror planner: which Mirror rows, tunnel ports and
 * delivery flows each host gets, and what a mirror's status says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mirror-plan.h"
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

static const char *const admin_labels[] = { "admin" };

/* web1, web3 and col on h1; web2 on h2; db1 (labelled admin) on h3. */
static const struct pipeline_vnic lab_vnics[] = {
    { "h2", "web2", "t-web2", "52:54:00:00:00:02", "web", NULL, 0, 2 },
    { "h1", "web1", "t-web1", "52:54:00:00:00:01", "web", NULL, 0, 1 },
    { "h1", "web3", "t-web3", "52:54:00:00:00:03", "web", NULL, 0, 3 },
    { "h3", "db1", "t-db1", "52:54:00:00:00:21", "db", admin_labels, 1, 4 },
    { "h3", "col", "t-col", "52:54:00:00:00:99", "mon", NULL, 0, 7 },
    { "h1", "col1", "t-col1", "52:54:00:00:00:98", "mon", NULL, 0, 8 },
};

static const struct mirror_plan_host lab_hosts[] = {
    { "h1", "192.168.77.1" },
    { "h2", "192.168.77.2" },
    { "h3", "192.168.77.3" },
};

#define SEGMENTS \
    "segment web vlan=100 vni=5001\n" \
    "segment db vlan=200 vni=5002\n" \
    "segment mon vlan=900\n"

static struct mirror_plan *
plan_for(const char *policy_text, struct policy **policyp)
{
    *policyp = parse_policy(policy_text);
    struct mirror_plan_input in = {
        .policy = *policyp,
        .vnics = lab_vnics,
        .n_vnics = sizeof lab_vnics / sizeof lab_vnics[0],
        .hosts = lab_hosts,
        .n_hosts = 3,
    };
    return mirror_plan_create(&in);
}

/* "host: src=a,b dst=c -> port [key K to IP]" for each row. */
static char *
format_rows(const struct mirror_plan *plan)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    for (size_t i = 0; i < plan->n_rows; i++) {
        const struct mirror_row *r = &plan->rows[i];
        fprintf(f, "%s %s: src=", r->mirror, r->host);
        for (size_t j = 0; j < r->n_select_src; j++) {
            fprintf(f, "%s%s", j ? "," : "", r->select_src[j]);
        }
        fprintf(f, " dst=");
        for (size_t j = 0; j < r->n_select_dst; j++) {
            fprintf(f, "%s%s", j ? "," : "", r->select_dst[j]);
        }
        fprintf(f, " -> %s", r->output_port);
        if (r->remote) {
            fprintf(f, " key %#x to %s", r->key, r->remote_ip);
        }
        fprintf(f, "\n");
    }
    fclose(f);
    return text;
}

static void
assert_rows(const struct mirror_plan *plan, const char *expected)
{
    char *rows = format_rows(plan);
    if (strcmp(rows, expected)) {
        fail_msg("rows differ\n--- expected\n%s--- got\n%s", expected, rows);
    }
    free(rows);
}

static void
test_remote_vnic_both(void **state)
{
    (void) state;
    struct policy *p;
    struct mirror_plan *plan = plan_for(
        SEGMENTS "mirror m1 sources=vnic:web1 to=vnic:col\n", &p);
    uint32_t key = mirror_plan_key(p, "m1");
    char port[MIRROR_PORT_NAME_SIZE], expected[256];

    assert_true(key >= MIRROR_KEY_MIN && key <= MIRROR_KEY_MAX);
    mirror_port_name(key, port);
    snprintf(expected, sizeof expected, "m1 h1: src=t-web1 dst=t-web1 -> %s "
             "key %#x to 192.168.77.3\n", port, key);
    assert_rows(plan, expected);

    assert_int_equal(plan->n_deliveries, 1);
    assert_string_equal(plan->deliveries[0].host, "h3");
    assert_string_equal(plan->deliveries[0].port, "t-col");
    assert_int_equal(plan->deliveries[0].ofport, 7);
    assert_int_equal(plan->deliveries[0].key, key);
    assert_true(mirror_plan_host_receives(plan, "h3"));
    assert_false(mirror_plan_host_receives(plan, "h1"));

    assert_int_equal(plan->n_mirrors, 1);
    assert_int_equal(plan->mirrors[0].state, MIRROR_ACTIVE);
    assert_int_equal(plan->mirrors[0].n_sources, 1);
    assert_string_equal(plan->mirrors[0].dest_host, "h3");
    /* The collector is dedicated; nothing else is. */
    for (size_t i = 0; i < sizeof lab_vnics / sizeof lab_vnics[0]; i++) {
        assert_int_equal(plan->dedicated[i],
                         !strcmp(lab_vnics[i].tap, "t-col"));
    }
    mirror_plan_destroy(plan);
    policy_destroy(p);
}

static void
test_local_span_segment_ingress(void **state)
{
    (void) state;
    struct policy *p;
    /* A segment source on two hosts: h1 mirrors locally into col1, h2
     * through a tunnel.  Ingress only: select_src. */
    struct mirror_plan *plan = plan_for(
        SEGMENTS "mirror span sources=segment:web to=vnic:t-col1 "
        "direction=ingress\n", &p);
    char port[MIRROR_PORT_NAME_SIZE], expected[256];
    uint32_t key = mirror_plan_key(p, "span");
    mirror_port_name(key, port);
    snprintf(expected, sizeof expected,
             "span h1: src=t-web1,t-web3 dst= -> t-col1\n"
             "span h2: src=t-web2 dst= -> %s key %#x to 192.168.77.1\n",
             port, key);
    assert_rows(plan, expected);
    assert_int_equal(plan->n_deliveries, 1);
    assert_string_equal(plan->deliveries[0].host, "h1");
    assert_int_equal(plan->mirrors[0].n_sources, 3);
    mirror_plan_destroy(plan);
    policy_destroy(p);
}

static void
test_group_egress_to_host_port(void **state)
{
    (void) state;
    struct policy *p;
    struct mirror_plan *plan = plan_for(
        SEGMENTS "group admins labels=admin\n"
        "mirror g sources=group:admins to=host:h3/mon0 direction=egress\n",
        &p);
    assert_rows(plan, "g h3: src= dst=t-db1 -> mon0\n");
    assert_int_equal(plan->n_deliveries, 0);
    assert_int_equal(plan->mirrors[0].state, MIRROR_ACTIVE);
    mirror_plan_destroy(plan);
    policy_destroy(p);
}

static bool
no_port(void *aux, const char *host, const char *port)
{
    (void) aux;
    (void) host;
    return strcmp(port, "mon0");
}

/* A host port that is not on the bridge: the mirror waits, no rows. */
static void
test_host_port_absent(void **state)
{
    (void) state;
    struct policy *p = parse_policy(
        SEGMENTS "mirror g sources=segment:web to=host:h3/mon0\n");
    struct mirror_plan_input in = {
        .policy = p,
        .vnics = lab_vnics,
        .n_vnics = sizeof lab_vnics / sizeof lab_vnics[0],
        .hosts = lab_hosts,
        .n_hosts = 3,
        .host_port_present = no_port,
    };
    struct mirror_plan *plan = mirror_plan_create(&in);
    assert_int_equal(plan->n_rows, 0);
    assert_int_equal(plan->n_deliveries, 0);
    assert_int_equal(plan->mirrors[0].state, MIRROR_DESTINATION_DOWN);
    assert_non_null(strstr(plan->mirrors[0].detail,
                           "port mon0 is not on h3's bridge"));
    mirror_plan_destroy(plan);
    policy_destroy(p);
}

static void
test_destination_excluded_from_sources(void **state)
{
    (void) state;
    struct policy *p;
    struct mirror_plan *plan = plan_for(
        SEGMENTS "mirror all sources=segment:mon,vnic:web2 to=vnic:col\n",
        &p);
    char port[MIRROR_PORT_NAME_SIZE], expected[512];
    uint32_t key = mirror_plan_key(p, "all");
    mirror_port_name(key, port);
    snprintf(expected, sizeof expected,
             "all h1: src=t-col1 dst=t-col1 -> %s key %#x to 192.168.77.3\n"
             "all h2: src=t-web2 dst=t-web2 -> %s key %#x to 192.168.77.3\n",
             port, key, port, key);
    assert_rows(plan, expected);
    assert_non_null(strstr(plan->mirrors[0].detail, "left out"));
    mirror_plan_destroy(plan);
    policy_destroy(p);
}

static void
test_not_realized(void **state)
{
    (void) state;
    struct policy *p;
    struct mirror_plan *plan = plan_for(
        SEGMENTS "segment empty vlan=5\n"
        "mirror a sources=vnic:web1 to=vnic:nowhere\n"
        "mirror b sources=segment:empty to=vnic:col\n"
        "mirror c sources=vnic:web1 to=host:h9/mon0\n", &p);
    assert_int_equal(plan->n_rows, 0);
    assert_int_equal(plan->n_deliveries, 0);
    assert_int_equal(plan->n_mirrors, 3);
    assert_int_equal(plan->mirrors[0].state, MIRROR_DESTINATION_DOWN);
    assert_non_null(strstr(plan->mirrors[0].detail, "nowhere"));
    assert_int_equal(plan->mirrors[1].state, MIRROR_NO_SOURCES);
    assert_int_equal(plan->mirrors[2].state, MIRROR_ERROR);
    assert_non_null(strstr(plan->mirrors[2].detail, "h9"));
    /* A collector without sources stays dedicated. */
    assert_true(plan->dedicated[4]);
    mirror_plan_destroy(plan);
    policy_destroy(p);
}

static void
test_keys_stable_and_distinct(void **state)
{
    (void) state;
    struct policy *p = parse_policy(
        SEGMENTS "mirror a sources=vnic:web1 to=vnic:col\n"
        "mirror b sources=vnic:web2 to=vnic:col\n");
    struct policy *q = parse_policy(
        SEGMENTS "mirror b sources=vnic:web2 to=vnic:col\n"
        "rule r allow from=web to=db\n");
    uint32_t a = mirror_plan_key(p, "a"), b = mirror_plan_key(p, "b");
    assert_int_not_equal(a, b);
    assert_int_equal(mirror_plan_key(q, "b"), b);
    assert_int_equal(mirror_plan_key(q, "a"), 0);

    /* A segment holding a mirror's key pushes it to another one. */
    char text[256];
    snprintf(text, sizeof text, "segment s vlan=7 vni=%u\n"
             "mirror a sources=vnic:web1 to=vnic:col\n", a);
    struct policy *r = parse_policy(text);
    uint32_t moved = mirror_plan_key(r, "a");
    assert_int_not_equal(moved, a);
    assert_true(moved >= MIRROR_KEY_MIN && moved <= MIRROR_KEY_MAX);
    policy_destroy(p);
    policy_destroy(q);
    policy_destroy(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_vnic_both),
        cmocka_unit_test(test_local_span_segment_ingress),
        cmocka_unit_test(test_group_egress_to_host_port),
        cmocka_unit_test(test_host_port_absent),
        cmocka_unit_test(test_destination_excluded_from_sources),
        cmocka_unit_test(test_not_realized),
        cmocka_unit_test(test_keys_stable_and_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
