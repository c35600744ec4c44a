/* Unit tests for weftd's configuration parser: good files, defaults, and
 * every error class with its line number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "weft-config.h"

static const char good[] =
    "# a comment\n"
    "[weftd]\n"
    "openflow-listen = ptcp:6653:192.168.77.254\n"
    "log-level = dbg\n"
    "policy-db = unix:/run/weft/policy.sock\n"
    "rpc-tcp = 127.0.0.1:6700\n"
    "backoff-max = 4\n"
    "\n"
    "[host h1]\n"
    "ovsdb = tcp:192.168.77.1:6640\n"
    "libvirt = test+unix:///default?socket=/run/h1/libvirt-sock\n"
    "tunnel-ip = 192.168.77.1\n"
    "datapath-type = netdev\n"
    "\n"
    "[host h2]\n"
    "  ovsdb=unix:/run/h2/db.sock   \n"
    "tunnel-ip = 192.168.77.2\n"
    "bridge = br-weft\n"
    "uplink = eth1\n";

static void
test_good(void **state)
{
    struct weft_config cfg;
    char *error;

    (void) state;
    assert_int_equal(weft_config_parse_string(good, "w.conf", &cfg, &error),
                     0);
    assert_null(error);
    assert_string_equal(cfg.openflow_listen, "ptcp:6653:192.168.77.254");
    /* Derived from the listener's address. */
    assert_string_equal(cfg.controller_target, "tcp:192.168.77.254:6653");
    assert_string_equal(cfg.unixctl_path, "/run/weft/weftd.ctl");
    assert_string_equal(cfg.log_level, "dbg");
    assert_string_equal(cfg.policy_db, "unix:/run/weft/policy.sock");
    assert_string_equal(cfg.rpc_tcp, "127.0.0.1:6700");
    assert_string_equal(cfg.rpc_socket, "/run/weft/weftd.sock");
    assert_null(cfg.rpc_group);
    assert_int_equal(cfg.backoff_max_ms, 4000);
    assert_int_equal(cfg.n_hosts, 2);

    const struct weft_host_config *h1 = weft_config_find_host(&cfg, "h1");
    assert_non_null(h1);
    assert_string_equal(h1->ovsdb_remote, "tcp:192.168.77.1:6640");
    assert_string_equal(h1->libvirt_uri,
                        "test+unix:///default?socket=/run/h1/libvirt-sock");
    assert_string_equal(h1->bridge, "br-int");
    assert_string_equal(h1->datapath_type, "netdev");
    assert_null(h1->uplink);
    assert_int_equal(h1->line, 9);

    const struct weft_host_config *h2 = weft_config_find_host(&cfg, "h2");
    assert_non_null(h2);
    assert_string_equal(h2->ovsdb_remote, "unix:/run/h2/db.sock");
    assert_string_equal(h2->bridge, "br-weft");
    assert_string_equal(h2->datapath_type, "system");
    assert_string_equal(h2->uplink, "eth1");
    assert_null(h2->libvirt_uri);

    assert_null(weft_config_find_host(&cfg, "h3"));
    assert_true(weft_host_config_equal(h1, h1));
    assert_false(weft_host_config_equal(h1, h2));
    weft_config_destroy(&cfg);
}

static void
test_empty_is_valid(void **state)
{
    struct weft_config cfg;
    char *error;

    (void) state;
    assert_int_equal(weft_config_parse_string("", "e.conf", &cfg, &error), 0);
    assert_int_equal(cfg.n_hosts, 0);
    assert_string_equal(cfg.openflow_listen, "ptcp:6653");
    weft_config_destroy(&cfg);
}

/* Weft's libvirt network: "weft" unless named, none with "none". */
static void
test_libvirt_network(void **state)
{
    (void) state;
    static const struct {
        const char *text, *network, *default_pg;
    } cases[] = {
        { "", "weft", NULL },
        { "[weftd]\nlibvirt-network = lab\n"
          "libvirt-network-default-portgroup = web\n", "lab", "web" },
        { "[weftd]\nlibvirt-network = none\n", NULL, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct weft_config cfg;
        char *error = NULL;
        assert_int_equal(weft_config_parse_string(cases[i].text, "n.conf",
                                                  &cfg, &error), 0);
        if (cases[i].network) {
            assert_string_equal(cfg.libvirt_network, cases[i].network);
        } else {
            assert_null(cfg.libvirt_network);
        }
        if (cases[i].default_pg) {
            assert_string_equal(cfg.libvirt_default_portgroup,
                                cases[i].default_pg);
        } else {
            assert_null(cfg.libvirt_default_portgroup);
        }
        weft_config_destroy(&cfg);
    }
}

static void
test_ssl_listener_derives_ssl_target(void **state)
{
    struct weft_config cfg;
    char *error;

    (void) state;
    assert_int_equal(weft_config_parse_string(
                         "[weftd]\nopenflow-listen = pssl:6653:10.0.0.1\n"
                         "ssl-private-key = /etc/weft/key.pem\n"
                         "ssl-certificate = /etc/weft/cert.pem\n"
                         "ssl-ca-cert = /etc/weft/ca.pem\n"
                         "[host a]\novsdb = ssl:10.0.0.2:6640\n"
                         "tunnel-ip = 10.0.0.2\n", "s.conf", &cfg, &error),
                     0);
    assert_string_equal(cfg.controller_target, "ssl:10.0.0.1:6653");
    assert_string_equal(cfg.ssl_ca_cert, "/etc/weft/ca.pem");
    weft_config_destroy(&cfg);
}

/* Each bad document and the exact message it must produce. */
struct bad_case {
    const char *text;
    const char *error;
};

static const struct bad_case bad_cases[] = {
    { "[weftd]\nfrobnicate = 1\n",
      "b.conf:2: unknown key \"frobnicate\" in [weftd] (known: "
      "openflow-listen, controller-target, unixctl, rpc-socket, "
      "rpc-socket-group, rpc-tcp, policy-db, log-level, log-file, "
      "backoff-max, metrics-listen, standby-lock, ssl-private-key, "
      "ssl-certificate, ssl-ca-cert, libvirt-network, "
      "libvirt-network-default-portgroup)" },
    { "[weftd]\nlibvirt-network = my net\n",
      "b.conf:2: libvirt-network: \"my net\" is not a network name (1-63 "
      "letters, digits, '_', '.', '-')" },
    { "[weftd]\nlibvirt-network-default-portgroup = a/b\n",
      "b.conf:2: libvirt-network-default-portgroup: \"a/b\" is not a "
      "segment name (1-63 letters, digits, '_', '.', '-')" },
    { "[weftd]\nmetrics-listen = 127.0.0.1\n",
      "b.conf:2: metrics-listen: \"127.0.0.1\" is not PORT or IPv4:PORT" },
    { "[weftd]\nstandby-lock = weftd\n",
      "b.conf:1: standby-lock needs policy-db: the lock is held in the "
      "policy database" },
    { "[weftd]\nstandby-lock = we ftd\n",
      "b.conf:2: standby-lock: \"we ftd\" is not a lock name (letters, "
      "digits, '_', '.', '-')" },
    { "[weftd]\nopenflow-listen = pssl:6653:10.0.0.1\n",
      "b.conf:1: pssl:6653:10.0.0.1 uses TLS: [weftd] needs "
      "ssl-private-key, ssl-certificate and ssl-ca-cert" },
    { "[weftd]\nopenflow-listen = ptcp:6653:10.0.0.1\n"
      "[host h1]\novsdb = ssl:10.0.0.2:6640\ntunnel-ip = 10.0.0.2\n",
      "b.conf:1: ssl:10.0.0.2:6640 uses TLS: [weftd] needs "
      "ssl-private-key, ssl-certificate and ssl-ca-cert" },
    { "[weftd]\nssl-private-key = /k\nssl-ca-cert = /c\n",
      "b.conf:1: ssl-private-key, ssl-certificate and ssl-ca-cert go "
      "together: ssl-certificate is missing" },
    { "[weftd]\nssl-ca-cert = ca.pem\n",
      "b.conf:2: ssl-ca-cert: \"ca.pem\" is not an absolute path" },
    { "[weftd]\nrpc-tcp = 10.0.0.1:7000\n",
      "b.conf:2: rpc-tcp: \"10.0.0.1:7000\" is not a loopback "
      "\"127.x.y.z:PORT\" (other addresses need TLS, which is not "
      "supported yet)" },
    { "[weftd]\npolicy-db = /run/x.sock\n",
      "b.conf:2: policy-db: \"/run/x.sock\" is not \"unix:PATH\", "
      "\"tcp:IP:PORT\" or \"ssl:IP:PORT\", or a comma-separated list of "
      "them (a cluster)" },
    { "[weftd]\npolicy-db = tcp:127.0.0.1:6641,tcp:127.0.0.1\n",
      "b.conf:2: policy-db: \"tcp:127.0.0.1:6641,tcp:127.0.0.1\" is not "
      "\"unix:PATH\", \"tcp:IP:PORT\" or \"ssl:IP:PORT\", or a "
      "comma-separated list of them (a cluster)" },
    { "[weftd]\nrpc-socket = weftd.sock\n",
      "b.conf:2: rpc-socket: \"weftd.sock\" is not an absolute path" },
    { "[host h1]\novsdb = tcp:1.2.3.4:6640\ncolour = red\n",
      "b.conf:3: unknown key \"colour\" in [host h1] (known: ovsdb, libvirt, "
      "tunnel-ip, bridge, datapath-type, uplink)" },
    { "[host h1]\ntunnel-ip = 192.168.0.1\n",
      "b.conf:1: host \"h1\": missing required key \"ovsdb\"" },
    { "[weftd]\nopenflow-listen = ptcp:6653:10.0.0.1\n\n"
      "[host h1]\novsdb = tcp:10.0.0.2:6640\n",
      "b.conf:4: host \"h1\": missing required key \"tunnel-ip\"" },
    { "[host h1]\novsdb = tcp:10.0.0.2:6640\ntunnel-ip = 10.0.0.2\n"
      "[host h1]\n",
      "b.conf:4: duplicate host \"h1\" (first at line 1)" },
    { "[host h1]\novsdb = tcp:10.0.0.2:66400\n",
      "b.conf:2: ovsdb: \"tcp:10.0.0.2:66400\" is not \"tcp:IP:PORT\", "
      "\"ssl:IP:PORT\" or \"unix:PATH\"" },
    { "[host h1]\novsdb = 10.0.0.2\n",
      "b.conf:2: ovsdb: \"10.0.0.2\" is not \"tcp:IP:PORT\", "
      "\"ssl:IP:PORT\" or \"unix:PATH\"" },
    { "[host h1]\ntunnel-ip = 300.1.1.1\n",
      "b.conf:2: tunnel-ip: \"300.1.1.1\" is not an IPv4 address" },
    { "[host h1]\novsdb = unix:/a\novsdb = unix:/b\n",
      "b.conf:3: duplicate key \"ovsdb\" in this section" },
    { "ovsdb = unix:/a\n",
      "b.conf:1: key \"ovsdb\" outside of any section" },
    { "[weftd]\njust some words\n",
      "b.conf:2: expected \"key = value\", \"[weftd]\" or \"[host NAME]\"" },
    { "[weftd]\nlog-level =\n",
      "b.conf:2: key \"log-level\" has an empty value" },
    { "[weftd]\nlog-level = loud\n",
      "b.conf:2: log-level: \"loud\" is not one of off, err, warn, info, "
      "dbg" },
    { "[hosts h1]\n",
      "b.conf:1: unknown section \"[hosts h1]\" (expected \"[weftd]\", "
      "\"[host NAME]\" or \"[app NAME]\")" },
    { "[app l2learn]\nsegment = lab\n",
      "b.conf:1: app \"l2learn\": missing required key \"path\"" },
    { "[app l2learn]\npath = l2learn.so\n",
      "b.conf:2: path: \"l2learn.so\" is not an absolute path to the app's "
      "shared object" },
    { "[app a.b]\n",
      "b.conf:1: app name \"a.b\" is invalid (1-31 chars of A-Z a-z 0-9 _ "
      "-)" },
    { "[app x]\npath = /x.so\n[app x]\n",
      "b.conf:3: duplicate app \"x\" (first at line 1)" },
    { "[app x]\npath = /x.so\nk = 1\nk = 2\n",
      "b.conf:4: duplicate key \"k\" in this section" },
    { "[host bad/name]\n",
      "b.conf:1: host name \"bad/name\" is invalid (1-63 chars of A-Z a-z "
      "0-9 _ . -)" },
    { "[weftd\n",
      "b.conf:1: malformed section header (expected \"[weftd]\" or "
      "\"[host NAME]\")" },
    { "[weftd]\n[weftd]\n",
      "b.conf:2: duplicate [weftd] section (first at line 1)" },
    { "[host h1]\nbridge = a-bridge-name-too-long\n",
      "b.conf:2: bridge: \"a-bridge-name-too-long\" is not a valid bridge "
      "name (1-15 chars of A-Z a-z 0-9 _ . -)" },
    { "[weftd]\nopenflow-listen = tcp:6653\n",
      "b.conf:2: openflow-listen: \"tcp:6653\" is not \"ptcp:PORT[:IP]\" or "
      "\"pssl:PORT[:IP]\"" },
    { "[weftd]\nbackoff-max = forever\n",
      "b.conf:2: backoff-max: \"forever\" is not a number of seconds "
      "between 0.1 and 3600" },
    { "[weftd]\nunixctl = run/weftd.ctl\n",
      "b.conf:2: unixctl: \"run/weftd.ctl\" is not an absolute path" },
    { "[host h1]\nlibvirt = qemu\n",
      "b.conf:2: libvirt: \"qemu\" is not a libvirt URI (e.g. "
      "qemu+ssh://host/system)" },
    { "[weftd]\nopenflow-listen = ptcp:6653\n"
      "[host h1]\novsdb = unix:/a\ntunnel-ip = 10.0.0.1\n",
      "b.conf:1: controller-target is required when openflow-listen "
      "(ptcp:6653) names no address" },
    { "[weftd]\nopenflow-listen = ptcp:6653:10.0.0.9\n"
      "[host h1]\novsdb = unix:/a\ntunnel-ip = 10.0.0.1\n"
      "[host h2]\novsdb = unix:/b\ntunnel-ip = 10.0.0.1\n",
      "b.conf:6: host \"h2\": tunnel-ip 10.0.0.1 is already used by host "
      "\"h1\"" },
};

static void
test_bad(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        struct weft_config cfg;
        char *error;
        int retval = weft_config_parse_string(bad_cases[i].text, "b.conf",
                                              &cfg, &error);
        assert_int_not_equal(retval, 0);
        assert_non_null(error);
        assert_string_equal(error, bad_cases[i].error);
        /* A refused file leaves nothing behind. */
        assert_int_equal(cfg.n_hosts, 0);
        assert_null(cfg.hosts);
        free(error);
    }
}

static void
test_apps(void **state)
{
    struct weft_config cfg;
    char *error;

    (void) state;
    assert_int_equal(weft_config_parse_string(
                         "[app l2learn]\npath = /lib/l2learn.so\n"
                         "segment = lab\nidle = 30\n[app other]\n"
                         "path = /o.so\n", "a.conf", &cfg, &error), 0);
    assert_int_equal(cfg.n_apps, 2);
    assert_string_equal(cfg.apps[0].name, "l2learn");
    assert_string_equal(cfg.apps[0].path, "/lib/l2learn.so");
    assert_int_equal(cfg.apps[0].n_keys, 2);
    assert_string_equal(cfg.apps[0].keys[1], "idle");
    assert_string_equal(cfg.apps[0].values[1], "30");
    assert_int_equal(cfg.apps[1].n_keys, 0);
    weft_config_destroy(&cfg);
}

static void
test_missing_file(void **state)
{
    struct weft_config cfg;
    char *error;

    (void) state;
    assert_int_not_equal(weft_config_parse_file("/nonexistent/w.conf", &cfg,
                                                &error), 0);
    assert_string_equal(error, "/nonexistent/w.conf: cannot open: No such "
                        "file or directory");
    free(error);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_empty_is_valid),
        cmocka_unit_test(test_ssl_listener_derives_ssl_target),
        cmocka_unit_test(test_libvirt_network),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_apps),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
