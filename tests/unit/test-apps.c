/* Unit tests for the app registry (controller/apps.c, app-so.c,
 * app-services.c) with real shared objects built by tests/apps: loading,
 * every refusal (wrong ABI, no symbol, not an app, duplicate name, init
 * failure, table out of range), flows and cookies, claims, timers,
 * packet-in and packet-out, disabling, reload and unload.  Only the
 * switch side is replaced, by a packet-out recorder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <ev.h>
#include <unistd.h>

#include "apps.h"
#include "flow.h"
#include "log.h"

struct recorder {
    int n_packet_outs;
    char actions[64];
    int n_changed;
    uint64_t stats_id;          /* Last port stats request. */
    int n_stats_requests;
    const char *policy;         /* What weft_app_get_policy() gets. */
    long long int generation;
};

static const char *
rec_policy(void *r_, long long int *generation)
{
    struct recorder *r = r_;
    *generation = r->generation;
    return r->policy;
}

static int
rec_packet_out(void *r_, const char *host, uint32_t in_port,
               const char *actions, const void *packet, size_t len,
               char **errorp)
{
    struct recorder *r = r_;
    r->n_packet_outs++;
    snprintf(r->actions, sizeof r->actions, "%s", actions);
    return 0;
}

/* Port stats: host "down" is not connected; others record the request,
 * which the test answers with apps_port_stats_reply(). */
static int
rec_port_stats(void *r_, const char *host, uint64_t id)
{
    struct recorder *r = r_;
    if (!strcmp(host, "down")) {
        return ENOTCONN;
    }
    r->stats_id = id;
    r->n_stats_requests++;
    return 0;
}

static void
rec_changed(void *r_)
{
    ((struct recorder *) r_)->n_changed++;
}

struct fixture {
    struct recorder rec;
    struct apps *apps;
    char path[512];
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct apps_env env = {
        .loop = ev_default_loop(0),
        .packet_out = rec_packet_out,
        .port_stats = rec_port_stats,
        .policy = rec_policy,
        .changed = rec_changed,
        .aux = &f->rec,
    };
    f->apps = apps_create(&env);
    weft_log_threshold = WEFT_LOG_OFF;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    apps_destroy(f->apps);
    free(f);
    return 0;
}

static const char *
app_path(struct fixture *f, const char *name)
{
    const char *dir = getenv("TEST_APPS_DIR");
    assert_non_null(dir);
    snprintf(f->path, sizeof f->path, "%s/%s.so", dir, name);
    return f->path;
}

/* Loads 'name' expecting failure with a message containing 'needle'. */
static void
expect_refused(struct fixture *f, const char *name, int error,
               const char *needle)
{
    char *msg = NULL;
    assert_int_equal(apps_load(f->apps, app_path(f, name), NULL, NULL, 0,
                               &msg), error);
    assert_non_null(msg);
    if (!strstr(msg, needle)) {
        fail_msg("\"%s\" lacks \"%s\"", msg, needle);
    }
    free(msg);
}

static void
test_refusals(void **state)
{
    struct fixture *f = *state;
    expect_refused(f, "bad-abi", EINVAL,
                   "app built for Weft app ABI 99.0, but this weftd speaks "
                   "ABI 1.2");
    expect_refused(f, "not-an-app", EINVAL, "not a Weft app: it exports no "
                   "\"weft_app\" symbol");
    expect_refused(f, "no-such-app", ENOENT, "cannot load app");
    expect_refused(f, "init-fails", EPERM, "app initfails: init() failed: "
                   "Operation not permitted");
    expect_refused(f, "bad-table", EINVAL, "table 10 is outside the app's "
                   "tables (0-9, which are OpenFlow tables 100-109)");
    assert_int_equal(apps_count(f->apps), 0);

    char *msg = NULL;
    assert_int_equal(apps_load(f->apps, "relative.so", NULL, NULL, 0, &msg),
                     EINVAL);
    free(msg);
    assert_int_equal(apps_load(f->apps, app_path(f, "good"), "other", NULL,
                               0, &msg), EINVAL);
    assert_string_equal(strstr(msg, "the app"),
                        "the app calls itself \"good\", not \"other\"");
    free(msg);

    assert_int_equal(apps_load(f->apps, app_path(f, "good"), NULL, NULL, 0,
                               &msg), 0);
    expect_refused(f, "good", EEXIST, "an app named \"good\" is already "
                   "loaded");
    expect_refused(f, "same-name", EEXIST, "an app named \"good\" is already "
                   "loaded");
    assert_int_equal(apps_count(f->apps), 1);
}

/* weft_app_get_policy(): good.so refuses to start without its segment. */
static void
test_policy_lookup(void **state)
{
    struct fixture *f = *state;
    f->rec.policy = "segment other vlan=1\n";
    f->rec.generation = 4;
    expect_refused(f, "good", EINVAL, "app good: init() failed: Invalid "
                   "argument");
    f->rec.policy = "segment other vlan=1\nsegment seg vlan=7\n";
    f->rec.generation = 5;
    char *msg = NULL;
    assert_int_equal(apps_load(f->apps, app_path(f, "good"), NULL, NULL, 0,
                               &msg), 0);
    assert_int_equal(apps_count(f->apps), 1);
}

static void
test_flows_claims_timer(void **state)
{
    struct fixture *f = *state;
    char *msg = NULL;
    /* A refused app before takes no slot. */
    expect_refused(f, "init-fails", EPERM, "init() failed");
    assert_int_equal(apps_load(f->apps, app_path(f, "good"), "good", NULL, 0,
                               &msg), 0);

    struct weft_flow_set flows;
    weft_flow_set_init(&flows);
    apps_get_flows(f->apps, "h1", &flows);
    assert_int_equal(flows.n, 1);
    assert_int_equal(flows.flows[0].table, 100);
    assert_string_equal(flows.flows[0].actions, "controller");
    assert_int_equal(flows.flows[0].cookie >> 48, 0x5705);
    assert_string_equal(apps_cookie_owner(f->apps, flows.flows[0].cookie),
                        "good");

    const struct apps_claim *claims;
    assert_int_equal(apps_get_claims(f->apps, &claims), 1);
    assert_string_equal(claims[0].segment, "seg");
    assert_int_equal(claims[0].table, 100);

    /* The timer adds a flow in relative table 1. */
    unsigned int version = apps_get_version(f->apps);
    ev_run(ev_default_loop(0), EVRUN_ONCE);
    assert_int_not_equal(apps_get_version(f->apps), version);
    weft_flow_set_clear(&flows);
    apps_get_flows(f->apps, "h1", &flows);
    assert_int_equal(flows.n, 2);
    weft_flow_set_sort(&flows);
    assert_int_equal(flows.flows[1].table, 101);
    weft_flow_set_destroy(&flows);
}

static void
test_packet_in_and_disable(void **state)
{
    struct fixture *f = *state;
    char *msg = NULL;
    assert_int_equal(apps_load(f->apps, app_path(f, "good"), NULL, NULL, 0,
                               &msg), 0);
    uint8_t packet[64] = { 0 };
    struct weft_app_packet_in pi = {
        .host = "h1", .in_port = 3, .table = 100, .packet = packet,
        .len = sizeof packet,
    };
    assert_true(apps_packet_in(f->apps, &pi));
    assert_int_equal(f->rec.n_packet_outs, 1);
    assert_string_equal(f->rec.actions, "output:7");
    pi.table = 110;             /* No app there. */
    assert_false(apps_packet_in(f->apps, &pi));

    /* A failing callback disables the app: flows and claims go. */
    pi.table = 100;
    pi.len = 1;
    assert_true(apps_packet_in(f->apps, &pi));
    struct apps_info info;
    apps_get_info(f->apps, 0, &info);
    assert_string_equal(info.state, "disabled");
    assert_int_equal(info.n_packet_ins, 2);
    assert_int_equal(info.n_errors, 1);
    assert_non_null(strstr(info.last_error, "packet_in() failed"));
    const struct apps_claim *claims;
    assert_int_equal(apps_get_claims(f->apps, &claims), 0);
    struct weft_flow_set flows;
    weft_flow_set_init(&flows);
    apps_get_flows(f->apps, "h1", &flows);
    assert_int_equal(flows.n, 0);
    pi.len = sizeof packet;
    assert_false(apps_packet_in(f->apps, &pi));

    /* Reload starts it again, in the same slot. */
    assert_int_equal(apps_reload(f->apps, "good", &msg), 0);
    apps_get_info(f->apps, 0, &info);
    assert_string_equal(info.state, "running");
    assert_int_equal(info.first_table, 100);
    apps_get_flows(f->apps, "h1", &flows);
    assert_int_equal(flows.n, 1);
    weft_flow_set_destroy(&flows);

    assert_int_equal(apps_unload(f->apps, "good", &msg), 0);
    assert_int_equal(apps_count(f->apps), 0);
    assert_int_equal(apps_unload(f->apps, "good", &msg), ENOENT);
    assert_string_equal(msg, "no app named \"good\" is loaded");
    free(msg);
}

static void
test_vnic_events(void **state)
{
    struct fixture *f = *state;
    char *msg = NULL;
    assert_int_equal(apps_load(f->apps, app_path(f, "good"), NULL, NULL, 0,
                               &msg), 0);
    struct weft_app_vnic v[] = {
        { .vm = "vm1", .tap = "t1", .mac = "52:54:00:00:00:01",
          .segment = "seg", .ofport = 1 },
        { .vm = "vm2", .tap = "t2", .mac = "52:54:00:00:00:02",
          .segment = "seg", .ofport = 2 },
    };
    apps_host_up(f->apps, "h1");
    apps_set_vnics(f->apps, "h1", v, 2);
    apps_set_vnics(f->apps, "h1", v, 1);
    apps_set_vnics(f->apps, "h2", v + 1, 1);
    apps_host_down(f->apps, "h1");
    /* Nothing failed: the app (without vNIC callbacks) still runs. */
    struct apps_info info;
    apps_get_info(f->apps, 0, &info);
    assert_string_equal(info.state, "running");
}

/* Each lookup returns its own array: earlier results survive later
 * calls in the same callback (valgrind would see a use after free). */
static void
test_lookups(void **state)
{
    struct fixture *f = *state;
    char *msg = NULL;
    assert_int_equal(apps_load(f->apps, app_path(f, "lookups"), NULL, NULL,
                               0, &msg), 0);
    struct weft_app_vnic v[] = {
        { .vm = "vm1", .tap = "t1", .mac = "52:54:00:00:00:01",
          .segment = "seg", .ofport = 1 },
        { .vm = "vm2", .tap = "t2", .mac = "52:54:00:00:00:02",
          .segment = "seg", .ofport = 2 },
    };
    apps_host_up(f->apps, "h1");
    apps_host_up(f->apps, "h2");
    apps_set_vnics(f->apps, "h1", v, 1);
    apps_set_vnics(f->apps, "h2", v + 1, 1);
    uint8_t packet[64] = { 0 };
    struct weft_app_packet_in pi = {
        .host = "h1", .in_port = 1, .table = 100, .packet = packet,
        .len = sizeof packet,
    };
    for (int i = 0; i < 3; i++) {
        assert_true(apps_packet_in(f->apps, &pi));
        assert_string_equal(f->rec.actions, "one=1,all=2,hosts=2,tap=t1");
    }
    struct apps_info info;
    apps_get_info(f->apps, 0, &info);
    assert_string_equal(info.state, "running");
}

/* Copies build file 'name'.so to 'dst' through a new inode (as "install"
 * or a compiler writing a new file would), not over the old one. */
static void
put_version(struct fixture *f, const char *name, const char *dst)
{
    char tmp[600], cmd[2000];
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && mv '%s' '%s'",
             app_path(f, name), tmp, tmp, dst);
    assert_int_equal(system(cmd), 0);
}

static const char *
packet_in_actions(struct fixture *f)
{
    uint8_t packet[64] = { 0 };
    struct weft_app_packet_in pi = {
        .host = "h1", .in_port = 3, .table = 100, .packet = packet,
        .len = sizeof packet,
    };
    f->rec.actions[0] = '\0';
    assert_true(apps_packet_in(f->apps, &pi));
    return f->rec.actions;
}

static size_t
n_flows(struct fixture *f)
{
    struct weft_flow_set flows;
    weft_flow_set_init(&flows);
    apps_get_flows(f->apps, "h1", &flows);
    size_t n = flows.n;
    weft_flow_set_destroy(&flows);
    return n;
}

/* A reload whose new version does not start changes nothing: the old
 * version keeps running with its flows and claims.  One that starts
 * replaces it (new code at the same path), in the same slot. */
static void
test_reload_keeps_old_on_failure(void **state)
{
    struct fixture *f = *state;
    char dir[] = "/tmp/test-apps-XXXXXX", path[64], *msg = NULL;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/app.so", dir);

    put_version(f, "good", path);
    assert_int_equal(apps_load(f->apps, path, NULL, NULL, 0, &msg), 0);
    ev_run(ev_default_loop(0), EVRUN_ONCE);     /* The timer's flow. */
    assert_int_equal(n_flows(f), 2);
    assert_string_equal(packet_in_actions(f), "output:7");

    /* init() fails: the old version stays, with flows, claim, timers. */
    put_version(f, "good-broken", path);
    unsigned int version = apps_get_version(f->apps);
    assert_int_equal(apps_reload(f->apps, "good", &msg), EIO);
    assert_non_null(strstr(msg, "init() failed"));
    free(msg);
    struct apps_info info;
    apps_get_info(f->apps, 0, &info);
    assert_string_equal(info.state, "running");
    assert_non_null(strstr(info.last_error, "reload failed, the version "
                           "running stays"));
    assert_int_equal(apps_get_version(f->apps), version);
    assert_int_equal(n_flows(f), 2);
    const struct apps_claim *claims;
    assert_int_equal(apps_get_claims(f->apps, &claims), 1);
    assert_string_equal(packet_in_actions(f), "output:7");

    /* Another ABI: refused the same way. */
    put_version(f, "bad-abi", path);
    assert_int_equal(apps_reload(f->apps, "good", &msg), EINVAL);
    assert_non_null(strstr(msg, "ABI 99.0"));
    free(msg);
    apps_get_info(f->apps, 0, &info);
    assert_string_equal(info.state, "running");
    assert_int_equal(n_flows(f), 2);

    /* A good new version takes over, same slot, counters kept. */
    put_version(f, "good-v2", path);
    assert_int_equal(apps_reload(f->apps, "good", &msg), 0);
    apps_get_info(f->apps, 0, &info);
    assert_string_equal(info.state, "running");
    assert_int_equal(info.first_table, 100);
    assert_int_equal(info.n_packet_ins, 2);
    assert_int_equal(info.n_errors, 2);
    assert_string_equal(packet_in_actions(f), "output:8");
    assert_int_equal(apps_get_claims(f->apps, &claims), 1);
    assert_int_equal(n_flows(f), 1);    /* The new timer has not run. */

    /* And a reload of the same file again works (the copy in use is not
     * confused with the new one). */
    assert_int_equal(apps_reload(f->apps, "good", &msg), 0);
    assert_string_equal(packet_in_actions(f), "output:8");

    assert_int_equal(apps_unload(f->apps, "good", &msg), 0);
    unlink(path);
    rmdir(dir);
}

/* Port counters (ABI 1.1): the answer reaches the app that asked, once;
 * an answer for an app that went is dropped; a host whose switch is not
 * connected is refused at once. */
static void
test_port_stats(void **state)
{
    struct fixture *f = *state;
    char *msg = NULL;
    assert_int_equal(apps_load(f->apps, app_path(f, "stats"), NULL, NULL, 0,
                               &msg), 0);
    uint8_t packet[64] = { 0 };
    struct weft_app_packet_in pi = {
        .host = "h1", .in_port = 1, .table = 100, .packet = packet,
        .len = sizeof packet,
    };
    assert_true(apps_packet_in(f->apps, &pi));
    assert_int_equal(f->rec.n_stats_requests, 1);
    assert_int_equal(f->rec.n_packet_outs, 0);      /* Not answered yet. */

    struct weft_app_port_stats ps[] = {
        { .port = 1, .rx_packets = 42 }, { .port = 2, .rx_packets = 7 },
    };
    apps_port_stats_reply(f->apps, f->rec.stats_id, 0, ps, 2);
    assert_int_equal(f->rec.n_packet_outs, 1);
    assert_string_equal(f->rec.actions, "err=0,n=2,rx=42");
    /* A second answer to the same request is ignored. */
    apps_port_stats_reply(f->apps, f->rec.stats_id, 0, ps, 2);
    assert_int_equal(f->rec.n_packet_outs, 1);

    /* Errors are passed on. */
    assert_true(apps_packet_in(f->apps, &pi));
    apps_port_stats_reply(f->apps, f->rec.stats_id, ENOTCONN, NULL, 0);
    assert_string_equal(f->rec.actions, "err=107,n=0,rx=0");

    /* Not connected: refused at once, nothing pending. */
    pi.host = "down";
    assert_true(apps_packet_in(f->apps, &pi));
    assert_int_equal(f->rec.n_stats_requests, 2);

    /* Unloaded before the answer: the answer is dropped. */
    pi.host = "h1";
    assert_true(apps_packet_in(f->apps, &pi));
    assert_int_equal(apps_unload(f->apps, "stats", &msg), 0);
    apps_port_stats_reply(f->apps, f->rec.stats_id, 0, ps, 2);
    assert_int_equal(f->rec.n_packet_outs, 2);
}

/* l2learn (the sample) adds flows for one host: only that host's flows
 * version moves, so weftd recomputes only that host's flows. */
static void
test_per_host_flows_version(void **state)
{
    struct fixture *f = *state;
    const char *dir = getenv("SAMPLE_APPS_DIR");
    char path[512], *msg = NULL;
    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/l2learn.so", dir);
    struct weft_app_kv cfg[] = { { "segment", "seg" } };
    assert_int_equal(apps_load(f->apps, path, NULL, cfg, 1, &msg), 0);
    apps_host_up(f->apps, "h1");
    apps_host_up(f->apps, "h2");
    unsigned int v1 = apps_get_flows_version(f->apps, "h1");
    unsigned int v2 = apps_get_flows_version(f->apps, "h2");

    /* A from port 1 (learned), then B -> A from port 2: a flow on h1. */
    uint8_t a_to_b[64] = { 2, 0, 0, 0, 0, 0xb, 2, 0, 0, 0, 0, 0xa };
    uint8_t b_to_a[64] = { 2, 0, 0, 0, 0, 0xa, 2, 0, 0, 0, 0, 0xb };
    struct weft_app_packet_in pi = {
        .host = "h1", .in_port = 1, .table = 100, .packet = a_to_b,
        .len = sizeof a_to_b,
    };
    assert_true(apps_packet_in(f->apps, &pi));
    pi.in_port = 2;
    pi.packet = b_to_a;
    assert_true(apps_packet_in(f->apps, &pi));
    assert_int_not_equal(apps_get_flows_version(f->apps, "h1"), v1);
    assert_int_equal(apps_get_flows_version(f->apps, "h2"), v2);
    assert_string_equal(f->rec.actions, "output:1");

    /* The same packet again declares the same flow: nothing changes, so
     * nothing is recomputed (l2learn does this on every packet-in). */
    unsigned int v1_after = apps_get_flows_version(f->apps, "h1");
    assert_true(apps_packet_in(f->apps, &pi));
    assert_int_equal(apps_get_flows_version(f->apps, "h1"), v1_after);

    struct weft_flow_set flows;
    weft_flow_set_init(&flows);
    apps_get_flows(f->apps, "h1", &flows);
    assert_int_equal(flows.n, 2);
    weft_flow_set_clear(&flows);
    apps_get_flows(f->apps, "h2", &flows);
    assert_int_equal(flows.n, 1);
    weft_flow_set_destroy(&flows);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flows_claims_timer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_packet_in_and_disable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vnic_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_host_flows_version, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_old_on_failure,
                                        setup, teardown),
    };
    return cmocka_run_group_tests_name("apps", tests, NULL, NULL);
}
