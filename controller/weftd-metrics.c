/* weftd's metrics (see weftd-metrics.h).  Names follow Prometheus'
 * conventions: weft_ prefix, _total for counters, base units. */
#include "weftd-metrics.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "datapath.h"
#include "host.h"
#include "inventory.h"
#include "mirror-plan.h"
#include "metrics-server.h"
#include "rpc.h"
#include "weftd.h"

/* Writes "# HELP" and "# TYPE" lines. */
static void
header(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
hosts_metrics(FILE *f, const struct weftd *d)
{
    size_t counts[HOST_ERROR + 1] = { 0 };
    for (size_t i = 0; i < d->n_hosts; i++) {
        counts[host_get_state(d->hosts[i])]++;
    }
    header(f, "weft_hosts", "gauge", "Managed hosts by state.");
    for (int s = 0; s <= HOST_ERROR; s++) {
        fprintf(f, "weft_hosts{state=\"%s\"} %zu\n", host_state_to_string(s),
                counts[s]);
    }

    long long int now = (long long int) (ev_now(d->loop) * 1000.0);
    static const struct {
        const char *name, *type, *help;
    } per_host[] = {
        { "weft_flows_desired", "gauge", "Flows weftd wants on the host." },
        { "weft_flows_installed", "gauge",
          "Weft's flows on the host's switch, as last read back." },
        { "weft_flows_synced", "gauge",
          "1 if the switch has exactly the desired flows." },
        { "weft_flow_mods_total", "counter",
          "Flow mods sent on the current OpenFlow connection." },
        { "weft_flow_errors_total", "counter",
          "Flow errors on the current OpenFlow connection." },
        { "weft_meters_desired", "gauge",
          "Rate limit meters weftd wants on the host." },
        { "weft_meter_mods_total", "counter",
          "Meter mods sent on the current OpenFlow connection." },
    };
    for (size_t m = 0; m < sizeof per_host / sizeof *per_host; m++) {
        header(f, per_host[m].name, per_host[m].type, per_host[m].help);
        for (size_t i = 0; i < d->n_hosts; i++) {
            struct host_status st;
            host_get_status(d->hosts[i], now, &st);
            unsigned long long v = (m == 0 ? st.n_flows_desired
                                    : m == 1 ? st.n_flows_installed
                                    : m == 2 ? st.flows_synced
                                    : m == 3 ? st.n_flow_mods
                                    : m == 4 ? st.n_flow_errors
                                    : m == 5 ? st.n_meters_desired
                                    : st.n_meter_mods);
            fprintf(f, "%s{host=\"%s\"} %llu\n", per_host[m].name, st.name,
                    v);
        }
    }

    header(f, "weft_reconcile_duration_seconds", "histogram",
           "Duration of flow reconciliation rounds with a host's switch.");
    for (size_t i = 0; i < d->n_hosts; i++) {
        struct host_reconcile_histogram r;
        const char *name = host_get_name(d->hosts[i]);
        host_get_reconcile_histogram(d->hosts[i], &r);
        for (size_t b = 0; b < HOST_N_RECONCILE_BUCKETS; b++) {
            fprintf(f, "weft_reconcile_duration_seconds_bucket{host=\"%s\","
                    "le=\"%g\"} %llu\n", name,
                    HOST_RECONCILE_BUCKETS_MS[b] / 1000.0, r.buckets[b]);
        }
        fprintf(f, "weft_reconcile_duration_seconds_bucket{host=\"%s\","
                "le=\"+Inf\"} %llu\n", name, r.count);
        fprintf(f, "weft_reconcile_duration_seconds_sum{host=\"%s\"} %g\n",
                name, r.sum_ms / 1000.0);
        fprintf(f, "weft_reconcile_duration_seconds_count{host=\"%s\"} "
                "%llu\n", name, r.count);
    }
}

static void
inventory_metrics(FILE *f, const struct weftd *d)
{
    size_t n_vms, n_vnics, n_placed, n_unplaced;
    inventory_count(&d->inventory, &n_vms, &n_vnics, &n_placed, &n_unplaced);
    header(f, "weft_vms", "gauge", "Running domains on the managed hosts.");
    fprintf(f, "weft_vms %zu\n", n_vms);
    header(f, "weft_vnics", "gauge", "vNICs of running domains, by "
           "placement.");
    fprintf(f, "weft_vnics{placement=\"placed\"} %zu\n", n_placed);
    fprintf(f, "weft_vnics{placement=\"unplaced\"} %zu\n", n_unplaced);
    fprintf(f, "weft_vnics{placement=\"pending\"} %zu\n",
            n_vnics - n_placed - n_unplaced);
}

static void
datapath_metrics(FILE *f, const struct weftd *d)
{
    const struct datapath_stats *s = &d->datapath.stats;
    header(f, "weft_policy_generation", "gauge", "Policy generation in "
           "force.");
    fprintf(f, "weft_policy_generation %lld\n",
            (long long) d->policy.generation);
    header(f, "weft_recomputes_total", "counter", "Flow computations.");
    fprintf(f, "weft_recomputes_total %llu\n", s->n_computes);
    header(f, "weft_host_recomputes_total", "counter",
           "Hosts whose flows were computed.");
    fprintf(f, "weft_host_recomputes_total %llu\n", s->n_host_computes);
    header(f, "weft_host_recomputes_skipped_total", "counter",
           "Hosts not computed: nothing they depend on had changed.");
    fprintf(f, "weft_host_recomputes_skipped_total %llu\n",
            s->n_hosts_skipped);
    header(f, "weft_host_flow_changes_total", "counter",
           "Computations that changed a host's desired flows.");
    fprintf(f, "weft_host_flow_changes_total %llu\n", s->n_hosts_changed);
    header(f, "weft_last_compute_seconds", "gauge",
           "CPU time of the last flow computation.");
    fprintf(f, "weft_last_compute_seconds %g\n", s->last_compute_ms / 1000.0);
}

static void
mirror_metrics(FILE *f, const struct weftd *d)
{
    struct mirror_plan *plan = datapath_mirror_plan_create(d);
    header(f, "weft_mirror_packets_total", "counter",
           "Packets a mirror copied (OVS Mirror statistics, all hosts).");
    for (size_t i = 0; i < plan->n_mirrors; i++) {
        uint64_t packets, bytes;
        datapath_mirror_counters(d, plan, plan->mirrors[i].name, &packets,
                                 &bytes);
        fprintf(f, "weft_mirror_packets_total{mirror=\"%s\",state=\"%s\"} "
                "%llu\n", plan->mirrors[i].name,
                mirror_state_to_string(plan->mirrors[i].state),
                (unsigned long long) packets);
    }
    mirror_plan_destroy(plan);
}

static void
service_metrics(FILE *f, const struct weftd *d)
{
    struct rpc_server_stats rs = { 0 };
    if (d->rpc) {
        rpc_server_get_stats(d->rpc, &rs);
    }
    header(f, "weft_rpc_requests_total", "counter", "weftctl requests.");
    fprintf(f, "weft_rpc_requests_total %llu\n", rs.n_requests);
    header(f, "weft_rpc_protocol_errors_total", "counter",
           "RPC clients closed for a protocol error.");
    fprintf(f, "weft_rpc_protocol_errors_total %llu\n",
            rs.n_protocol_errors);
    header(f, "weft_rpc_clients", "gauge", "Connected weftctl clients.");
    fprintf(f, "weft_rpc_clients %u\n", rs.n_clients);

    header(f, "weft_app_packet_ins_total", "counter",
           "Packet-ins handed to a controller app.");
    size_t n_apps = d->apps ? apps_count(d->apps) : 0;
    for (size_t i = 0; i < n_apps; i++) {
        struct apps_info info;
        apps_get_info(d->apps, i, &info);
        fprintf(f, "weft_app_packet_ins_total{app=\"%s\"} %llu\n", info.name,
                info.n_packet_ins);
    }
    header(f, "weft_app_flows", "gauge", "Flows a controller app declared.");
    for (size_t i = 0; i < n_apps; i++) {
        struct apps_info info;
        apps_get_info(d->apps, i, &info);
        fprintf(f, "weft_app_flows{app=\"%s\",state=\"%s\"} %zu\n", info.name,
                info.state, info.n_flows);
    }
    header(f, "weft_app_errors_total", "counter",
           "Errors of a controller app's callbacks.");
    for (size_t i = 0; i < n_apps; i++) {
        struct apps_info info;
        apps_get_info(d->apps, i, &info);
        fprintf(f, "weft_app_errors_total{app=\"%s\"} %llu\n", info.name,
                info.n_errors);
    }
    header(f, "weft_standby", "gauge",
           "1 while this weftd waits as a standby.");
    fprintf(f, "weft_standby %d\n", d->standby);
    header(f, "weft_metrics_scrapes_total", "counter", "Scrapes served.");
    fprintf(f, "weft_metrics_scrapes_total %llu\n",
            metrics_server_get_scrapes(d->metrics) + 1);
}

char *
weftd_metrics_text(void *d_)
{
    const struct weftd *d = d_;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    hosts_metrics(f, d);
    inventory_metrics(f, d);
    datapath_metrics(f, d);
    mirror_metrics(f, d);
    service_metrics(f, d);
    fclose(f);
    return text;
}
