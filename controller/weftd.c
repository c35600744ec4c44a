/* weftd: the Weft controller daemon.
 *
 * Reads the configuration, then runs one libev loop that drives every
 * host's OVSDB session and OpenFlow connection (through ofproto-glue), the
 * control socket, and signal handling.  SIGTERM/SIGINT exit leaving every
 * switch's flows in place (the bridges are in fail_mode=secure); SIGHUP
 * reloads the configuration. */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weft-config.h"
#include "weftd.h"
#include "apps.h"
#include "ctl-server.h"
#include "host.h"
#include "inventory.h"
#include "log.h"
#include "openflow.h"
#include "ovs-loop.h"
#include "rpc.h"
#include "metrics-server.h"
#include "net-sync.h"
#include "weftd-metrics.h"
#include "tls.h"
#include "policy-store.h"
#include "policy.h"
#include "virt-host.h"
#include "weftd-apps.h"

WEFT_LOG_MODULE(weftd);

#define MIN_BACKOFF_MS 500


static void
usage(void)
{
    printf("weftd: the Weft SDN controller\n"
           "usage: weftd [OPTIONS]\n"
           "  -c, --config=FILE     configuration (default "
           "/etc/weft/weftd.conf)\n"
           "      --check-config    validate the configuration and exit\n"
           "      --log-file=FILE   also log to FILE\n"
           "  -v, --verbose         log at debug level\n"
           "      --pidfile=FILE    write the process ID to FILE\n"
           "  -h, --help            this help\n"
           "  -V, --version         print the version\n"
           "Status and commands: ovs-appctl -t /run/weft/weftd.ctl help\n");
}

struct host *
weftd_find_host(const struct weftd *d, const char *name)
{
    for (size_t i = 0; i < d->n_hosts; i++) {
        if (!strcmp(host_get_name(d->hosts[i]), name)) {
            return d->hosts[i];
        }
    }
    return NULL;
}

/* OpenFlow listener callbacks. */

static void *
switch_up(void *d_, struct of_switch *sw, uint64_t dpid)
{
    struct weftd *d = d_;
    for (size_t i = 0; i < d->n_hosts; i++) {
        if (host_get_dpid(d->hosts[i]) == dpid) {
            host_attach_switch(d->hosts[i], sw);
            return d->hosts[i];
        }
    }
    WEFT_WARN("switch %s has datapath ID %016"PRIx64", which is no "
              "configured host's; closing its connection",
              of_switch_get_peer(sw), dpid);
    return NULL;
}

static void
switch_down(void *host, struct of_switch *sw)
{
    host_detach_switch(host, sw);
}

static void
packet_in(void *host, struct of_switch *sw, const struct of_packet_in *pi)
{
    struct weftd *d = of_switch_get_listener_aux(sw);
    weftd_apps_packet_in(d, host, pi);
}

static void
flow_removed(void *host, struct of_switch *sw, uint8_t table,
             uint16_t priority, uint64_t cookie)
{
    struct weftd *d = of_switch_get_listener_aux(sw);
    weftd_apps_flow_removed(d, host, table, priority, cookie);
}

static const struct of_listener_callbacks listener_cbs = {
    .switch_up = switch_up,
    .switch_down = switch_down,
    .packet_in = packet_in,
    .flow_removed = flow_removed,
};

/* A vNIC's segment, under the policy in force: a named segment must exist,
 * a bare VLAN or a portgroup must match one. */
static char *
resolve_segment(void *d_, const char *name, int vlan, const char *portgroup,
                char **reason)
{
    const struct weftd *d = d_;
    const struct policy *p = d->policy.current;
    char *msg;

    if (name) {
        if (policy_find_segment(p, name)) {
            return strdup(name);
        }
        if (asprintf(&msg, "unknown segment \"%s\" (not in policy "
                     "generation %"PRId64")", name, d->policy.generation) < 0) {
            abort();
        }
    } else if (vlan) {
        for (size_t i = 0; i < p->n_segments; i++) {
            if (p->segments[i].vlan == vlan) {
                return strdup(p->segments[i].name);
            }
        }
        if (asprintf(&msg, "no segment has VLAN %d in policy generation "
                     "%"PRId64, vlan, d->policy.generation) < 0) {
            abort();
        }
    } else if (portgroup) {
        if (policy_find_segment(p, portgroup)) {
            return strdup(portgroup);
        }
        if (asprintf(&msg, "portgroup \"%s\" names no segment of policy "
                     "generation %"PRId64, portgroup,
                     d->policy.generation) < 0) {
            abort();
        }
    } else {
        msg = strdup("no segment: give the interface Weft metadata, a "
                     "<vlan><tag>, or a network portgroup");
    }
    *reason = msg;
    return NULL;
}

/* The policy in force changed (or was read for the first time). */
static void
policy_changed(void *d_)
{
    struct weftd *d = d_;
    d->inventory.hold = false;
    inventory_set_resolver(&d->inventory, resolve_segment, d);
    if (d->apps) {
        apps_policy_changed(d->apps);
    }
    ovs_loop_request_run();
}

static void apply_config(struct weftd *, struct weft_config *);

/* Active/standby: the standby takes over when it gets the lock; an active
 * weftd that finds the lock held by another (after the policy database
 * came back, say) steps down by exiting, so that two never manage the same
 * switches.  Either way the switches keep their flows meanwhile. */
static void
run_standby(struct weftd *d)
{
    if (d->standby && policy_store_has_lock(&d->policy)) {
        d->standby = false;
        WEFT_INFO("active: holding the lock \"%s\"; taking over %zu hosts",
                  d->standby_cfg.standby_lock, d->standby_cfg.n_hosts);
        apply_config(d, &d->standby_cfg);
        weftd_apps_load_configured(d);
    } else if (!d->standby && d->cfg.standby_lock
               && policy_store_is_lock_contended(&d->policy)) {
        WEFT_ERR("another weftd holds the lock \"%s\" now: exiting so that "
                 "only one manages the switches (they keep their flows)",
                 d->cfg.standby_lock);
        d->exiting = true;
        ev_break(d->loop, EVBREAK_ALL);
    }
}

static void
weftd_run(void *d_)
{
    struct weftd *d = d_;
    policy_store_run(&d->policy);
    run_standby(d);
    if (d->listener) {
        of_listener_run(d->listener);
    }
    weftd_apps_run(d);
    datapath_run(&d->datapath, d);
    if (d->ctl) {
        ctl_server_run(d->ctl);
    }
}

static void
weftd_wait(void *d_)
{
    struct weftd *d = d_;
    policy_store_wait(&d->policy);
    if (d->listener) {
        of_listener_wait(d->listener);
    }
    if (d->ctl) {
        ctl_server_wait(d->ctl);
    }
}

static void
apply_log_level(const struct weft_config *cfg, bool verbose)
{
    enum weft_log_level level = WEFT_LOG_INFO;
    if (verbose) {
        level = WEFT_LOG_DBG;
    } else if (cfg->log_level) {
        weft_log_level_from_string(cfg->log_level, &level);
    }
    weft_log_threshold = level;
}

static int
open_listener(struct weftd *d)
{
    int error = of_listener_create(d->cfg.openflow_listen, &listener_cbs, d,
                                   &d->listener);
    if (error) {
        WEFT_ERR("cannot listen for OpenFlow connections on %s: %s; switches "
                 "cannot reach weftd (fix openflow-listen and send SIGHUP)",
                 d->cfg.openflow_listen, strerror(error));
        return error;
    }
    WEFT_INFO("listening for switches on %s; bridges connect to %s",
              d->cfg.openflow_listen, d->cfg.controller_target);
    return 0;
}

static struct host *
add_host(struct weftd *d, const struct weft_host_config *hc)
{
    struct host_options opts = {
        .controller_target = d->cfg.controller_target,
        .min_backoff_ms = MIN_BACKOFF_MS,
        .max_backoff_ms = d->cfg.backoff_max_ms,
        .inventory = &d->inventory,
        .libvirt_network = d->cfg.libvirt_network,
    };
    return host_create(d->loop, hc, &opts);
}

/* Replaces the running configuration with 'new': hosts that did not change
 * keep their sessions, others are added, removed or restarted. */
static void
apply_config(struct weftd *d, struct weft_config *new)
{
    bool same_listener = (d->cfg.openflow_listen
                          && !strcmp(d->cfg.openflow_listen,
                                     new->openflow_listen));
    bool same_target = (d->cfg.controller_target && new->controller_target
                        && !strcmp(d->cfg.controller_target,
                                   new->controller_target));

    struct host **hosts = calloc(new->n_hosts, sizeof *hosts);
    if (new->n_hosts && !hosts) {
        abort();
    }
    for (size_t i = 0; i < new->n_hosts; i++) {
        const struct weft_host_config *hc = &new->hosts[i];
        struct host *old = weftd_find_host(d, hc->name);
        if (old && same_target
            && weft_host_config_equal(host_get_config(old), hc)) {
            hosts[i] = old;
        } else {
            if (old) {
                WEFT_INFO("%s: configuration changed; restarting its session",
                          hc->name);
            }
            hosts[i] = NULL;    /* Created below, after removals. */
        }
    }
    for (size_t i = 0; i < d->n_hosts; i++) {
        bool kept = false;
        for (size_t j = 0; j < new->n_hosts; j++) {
            kept = kept || hosts[j] == d->hosts[i];
        }
        if (!kept) {
            if (!weft_config_find_host(new, host_get_name(d->hosts[i]))) {
                WEFT_INFO("%s: removed from the configuration; no longer "
                          "managed (its bridge and flows are left as they "
                          "are)", host_get_name(d->hosts[i]));
            }
            host_destroy(d->hosts[i]);
        }
    }
    free(d->hosts);

    if (!same_listener) {
        of_listener_destroy(d->listener);
        d->listener = NULL;
    }
    weft_config_destroy(&d->cfg);
    d->cfg = *new;
    memset(new, 0, sizeof *new);

    d->hosts = hosts;
    d->n_hosts = d->cfg.n_hosts;
    for (size_t i = 0; i < d->n_hosts; i++) {
        if (!d->hosts[i]) {
            d->hosts[i] = add_host(d, &d->cfg.hosts[i]);
        }
    }
    if (!d->listener) {
        open_listener(d);
    }
}

static bool
nullable_streq(const char *a, const char *b)
{
    return a && b ? !strcmp(a, b) : a == b;
}

static void
reload(struct weftd *d)
{
    struct weft_config new;
    char *error;
    if (weft_config_parse_file(d->config_path, &new, &error)) {
        WEFT_ERR("reload refused, previous configuration stays in force: %s",
                 error);
        free(error);
        return;
    }
    if (new.ssl_private_key
        && tls_configure(new.ssl_private_key, new.ssl_certificate,
                         new.ssl_ca_cert, &error)) {
        WEFT_ERR("reload refused, previous configuration stays in force: "
                 "%s", error);
        free(error);
        weft_config_destroy(&new);
        return;
    }
    if (d->standby) {
        WEFT_INFO("reloading %s: %zu hosts, applied when this standby "
                  "takes over", d->config_path, new.n_hosts);
        weft_config_destroy(&d->standby_cfg);
        d->standby_cfg = new;
        return;
    }
    WEFT_INFO("reloading %s: %zu hosts", d->config_path, new.n_hosts);
    if (strcmp(new.unixctl_path, d->cfg.unixctl_path)
        || strcmp(new.rpc_socket, d->cfg.rpc_socket)
        || !nullable_streq(new.policy_db, d->cfg.policy_db)
        || !nullable_streq(new.rpc_tcp, d->cfg.rpc_tcp)) {
        WEFT_WARN("changes to unixctl, rpc-socket, rpc-tcp or policy-db take "
                  "effect at restart; the rest is applied now");
    }
    apply_log_level(&new, false);
    weft_log_set_file(new.log_file);
    apply_config(d, &new);
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct weftd *d = w->data;
    (void) revents;

    if (w->signum == SIGHUP) {
        weft_log_reopen();
        reload(d);
    } else {
        WEFT_INFO("%s: exiting; switches keep their flows (fail_mode "
                  "secure)", strsignal(w->signum));
        d->exiting = true;
        ev_break(loop, EVBREAK_ALL);
    }
}

/* Control commands. */

static void
cmd_host_list(struct ctl_request *req, int argc, const char *argv[],
              void *d_)
{
    struct weftd *d = d_;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    long long int now = (long long int) (ev_now(d->loop) * 1000.0);

    for (size_t i = 0; i < d->n_hosts; i++) {
        if (argc && strcmp(argv[0], host_get_name(d->hosts[i]))) {
            continue;
        }
        host_format_status(d->hosts[i], now, out);
    }
    fclose(out);
    if (argc && !len) {
        char msg[128];
        snprintf(msg, sizeof msg, "no host named \"%s\"", argv[0]);
        ctl_reply_error(req, msg);
    } else {
        ctl_reply(req, buf);
    }
    free(buf);
}

static void
cmd_vm_list(struct ctl_request *req, int argc, const char *argv[], void *d_)
{
    struct weftd *d = d_;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    for (size_t h = 0; h < d->inventory.n_hosts; h++) {
        const struct inv_host *host = &d->inventory.hosts[h];
        if (argc && strcmp(argv[0], host->name)) {
            continue;
        }
        for (size_t i = 0; i < host->n_vms; i++) {
            const struct inv_vm *vm = &host->vms[i];
            fprintf(out, "%s %s (%s)\n", host->name, vm->name, vm->uuid);
            for (size_t j = 0; j < vm->n_vnics; j++) {
                const struct inv_vnic *v = &vm->vnics[j];
                fprintf(out, "  %s %s segment=%s %s", v->tap ? v->tap : "-",
                        v->mac[0] ? v->mac : "-",
                        v->segment ? v->segment : "-",
                        inv_placement_to_string(v->placement));
                if (v->placement == INV_PLACED) {
                    fprintf(out, " ofport=%d", v->ofport);
                }
                if (v->reason) {
                    fprintf(out, ": %s", v->reason);
                }
                fputc('\n', out);
            }
        }
    }
    fclose(out);
    ctl_reply(req, buf);
    free(buf);
}

static void
cmd_status(struct ctl_request *req, int argc, const char *argv[], void *d_)
{
    struct weftd *d = d_;
    size_t counts[HOST_ERROR + 1] = { 0 };
    (void) argc;
    (void) argv;

    for (size_t i = 0; i < d->n_hosts; i++) {
        counts[host_get_state(d->hosts[i])]++;
    }
    char buf[512];
    int n = snprintf(buf, sizeof buf, "weftd %s, pid %ld%s%s%s\nhosts: %zu",
                     WEFT_VERSION, (long) getpid(),
                     d->standby ? ", standby (waiting for the lock \""
                     : d->cfg.standby_lock ? ", active (holding the lock \""
                     : "",
                     d->standby ? d->standby_cfg.standby_lock
                     : d->cfg.standby_lock ? d->cfg.standby_lock : "",
                     d->standby || d->cfg.standby_lock ? "\")" : "",
                     d->n_hosts);
    for (int s = 0; s <= HOST_ERROR; s++) {
        n += snprintf(buf + n, sizeof buf - n, ", %zu %s", counts[s],
                      host_state_to_string(s));
    }
    size_t n_vms, n_vnics, n_placed, n_unplaced;
    inventory_count(&d->inventory, &n_vms, &n_vnics, &n_placed, &n_unplaced);
    snprintf(buf + n, sizeof buf - n, "\nopenflow connections: %u\n"
             "vms: %zu, vnics: %zu, %zu placed, %zu unplaced\n",
             d->listener ? of_listener_count(d->listener) : 0,
             n_vms, n_vnics, n_placed, n_unplaced);
    ctl_reply(req, buf);
}

static void
cmd_log_set(struct ctl_request *req, int argc, const char *argv[], void *d_)
{
    enum weft_log_level level;
    (void) argc;
    (void) d_;
    if (!weft_log_level_from_string(argv[0], &level)) {
        ctl_reply_error(req, "unknown level (off, err, warn, info, dbg)");
        return;
    }
    weft_log_threshold = level;
    ctl_reply(req, "");
}

static void
cmd_reload(struct ctl_request *req, int argc, const char *argv[], void *d_)
{
    (void) argc;
    (void) argv;
    reload(d_);
    ctl_reply(req, "");
}

static void
cmd_exit(struct ctl_request *req, int argc, const char *argv[], void *d_)
{
    struct weftd *d = d_;
    (void) argc;
    (void) argv;
    ctl_reply(req, "");
    d->exiting = true;
    ev_break(d->loop, EVBREAK_ALL);
}

static void
write_pidfile(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        WEFT_WARN("%s: cannot write pidfile: %s; continuing without", path,
                  strerror(errno));
        return;
    }
    fprintf(f, "%ld\n", (long) getpid());
    fclose(f);
}

int
main(int argc, char *argv[])
{
    static const struct option long_options[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, 'C' },
        { "log-file", required_argument, NULL, 'L' },
        { "verbose", no_argument, NULL, 'v' },
        { "pidfile", required_argument, NULL, 'P' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct weftd d = { .config_path = "/etc/weft/weftd.conf" };
    bool check_only = false, verbose = false;
    const char *log_file = NULL, *pidfile = NULL;

    for (;;) {
        int c = getopt_long(argc, argv, "c:vhV", long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case 'c': d.config_path = optarg; break;
        case 'C': check_only = true; break;
        case 'L': log_file = optarg; break;
        case 'v': verbose = true; break;
        case 'P': pidfile = optarg; break;
        case 'h': usage(); return 0;
        case 'V': printf("weftd %s\n", WEFT_VERSION); return 0;
        default:
            fprintf(stderr, "weftd: try --help\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "weftd: unexpected argument \"%s\"; try --help\n",
                argv[optind]);
        return 2;
    }

    struct weft_config cfg;
    char *error;
    if (weft_config_parse_file(d.config_path, &cfg, &error)) {
        fprintf(stderr, "weftd: %s\n", error);
        free(error);
        return 2;
    }
    if (check_only) {
        printf("%s: OK, %zu hosts\n", d.config_path, cfg.n_hosts);
        weft_config_destroy(&cfg);
        return 0;
    }
    apply_log_level(&cfg, verbose);
    if (log_file || cfg.log_file) {
        int err = weft_log_set_file(log_file ? log_file : cfg.log_file);
        if (err) {
            fprintf(stderr, "weftd: %s: cannot open log file: %s\n",
                    log_file ? log_file : cfg.log_file, strerror(err));
            weft_config_destroy(&cfg);
            return 1;
        }
    }

    if (cfg.ssl_private_key
        && tls_configure(cfg.ssl_private_key, cfg.ssl_certificate,
                         cfg.ssl_ca_cert, &error)) {
        fprintf(stderr, "weftd: %s: %s; exiting\n", d.config_path, error);
        free(error);
        weft_config_destroy(&cfg);
        return 2;
    }

    /* Signals first: OVS's fatal-signal module then leaves them to us. */
    signal(SIGPIPE, SIG_IGN);
    d.loop = ev_default_loop(EVFLAG_AUTO);
    ev_signal_init(&d.sigterm, signal_cb, SIGTERM);
    ev_signal_init(&d.sigint, signal_cb, SIGINT);
    ev_signal_init(&d.sighup, signal_cb, SIGHUP);
    d.sigterm.data = d.sigint.data = d.sighup.data = &d;
    ev_signal_start(d.loop, &d.sigterm);
    ev_signal_start(d.loop, &d.sigint);
    ev_signal_start(d.loop, &d.sighup);

    ovs_loop_init(d.loop, argv[0]);
    inventory_init(&d.inventory);
    datapath_init(&d.datapath, (long long int) (ev_now(d.loop) * 1000.0));
    virt_host_global_init();
    /* With a policy database, segments must exist in the policy, and
     * nothing is placed or removed before it has been read. */
    policy_store_init(&d.policy, cfg.policy_db, policy_changed, &d);
    d.inventory.hold = cfg.policy_db != NULL;
    ovs_loop_set_ovs_log_level(verbose ? "info" : "warn");

    if (ctl_server_create(cfg.unixctl_path, &d.ctl, &error)) {
        WEFT_ERR("%s; exiting", error);
        free(error);
        return 1;
    }
    ctl_command_register("status", "", 0, 0, cmd_status, &d);
    ctl_command_register("host/list", "[HOST]", 0, 1, cmd_host_list, &d);
    ctl_command_register("vm/list", "[HOST]", 0, 1, cmd_vm_list, &d);
    ctl_command_register("log/set", "LEVEL", 1, 1, cmd_log_set, &d);
    ctl_command_register("reload", "", 0, 0, cmd_reload, &d);
    ctl_command_register("exit", "", 0, 0, cmd_exit, &d);

    if (rpc_server_create(d.loop, cfg.rpc_socket, cfg.rpc_group, &d.rpc,
                          &error)
        || (cfg.rpc_tcp && rpc_server_listen_tcp(d.rpc, cfg.rpc_tcp,
                                                 &error))) {
        WEFT_ERR("%s; exiting", error);
        free(error);
        return 1;
    }
    rpc_methods_register(&d, d.rpc);
    if (cfg.metrics_listen
        && metrics_server_create(d.loop, cfg.metrics_listen,
                                 weftd_metrics_text, &d, &d.metrics,
                                 &error)) {
        WEFT_ERR("%s; exiting", error);
        free(error);
        return 1;
    }
    app_rpc_register(&d, d.rpc);
    d.net_sync = net_sync_create(&d);

    if (pidfile) {
        write_pidfile(pidfile);
    }
    WEFT_INFO("weftd %s starting: %s, %zu hosts, control socket %s, RPC "
              "socket %s", WEFT_VERSION, d.config_path, cfg.n_hosts,
              cfg.unixctl_path, cfg.rpc_socket);
    if (cfg.standby_lock) {
        policy_store_set_lock(&d.policy, cfg.standby_lock);
        d.standby = true;
        WEFT_INFO("standby: waiting for the lock \"%s\" in the policy "
                  "database before managing any host", cfg.standby_lock);
        d.standby_cfg = cfg;
        memset(&cfg, 0, sizeof cfg);
    } else {
        apply_config(&d, &cfg);
    }
    weftd_apps_init(&d);
    ovs_loop_register(weftd_run, weftd_wait, &d);

    ev_run(d.loop, 0);

    ovs_loop_unregister(weftd_run, weftd_wait, &d);
    weftd_apps_destroy(&d);
    net_sync_destroy(d.net_sync);
    for (size_t i = 0; i < d.n_hosts; i++) {
        host_destroy(d.hosts[i]);
    }
    free(d.hosts);
    of_listener_destroy(d.listener);
    rpc_server_destroy(d.rpc);
    metrics_server_destroy(d.metrics);
    ctl_server_destroy(d.ctl);
    weft_config_destroy(&d.cfg);
    weft_config_destroy(&d.standby_cfg);
    inventory_destroy(&d.inventory);
    policy_store_destroy(&d.policy);
    ovs_loop_destroy();
    if (pidfile) {
        unlink(pidfile);
    }
    return 0;
}
