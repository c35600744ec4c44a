/* quarantine: isolates a vNIC that sends too fast.  Configuration:
 * segment=NAME (required), pps=N (packets per second a vNIC may send,
 * default 1000), interval=MS (how often to look, default 1000).
 *
 * Every 'interval' it asks each connected host's switch for its port
 * counters (ABI 1.1, weft_app_port_stats_request()) and computes, for each
 * vNIC of the segment, the packets per second its port received (what
 * the VM sent) since the last answer.  Above 'pps', it installs
 * "in_port=PORT actions=drop" in its table 0 on that host and logs a
 * warning: from then on nothing the VM sends goes anywhere; what is sent
 * to it still arrives.  A quarantine lasts until "weftctl app-reload
 * quarantine" (the new version starts with no quarantined vNIC, and the
 * drop flows, no longer declared, leave the switch) or until the vNIC is
 * gone.
 *
 * It claims the segment, so it also forwards the segment's traffic: table
 * 0 sends what is not dropped to table 1, where seg-l2
 * (../common/seg-l2.h) forwards by destination MAC within each host. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <weft/app.h>

#include "seg-l2.h"

#define MAX_PORTS 4096

/* What was last seen of one vNIC's port. */
static struct sample {
    char host[64];
    uint32_t port;
    uint64_t rx_packets;
    double t;
    bool quarantined;
} samples[MAX_PORTS];
static size_t n_samples;
static const char *segment;
static double max_pps = 1000;
static unsigned long long n_quarantined;

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct sample *
get_sample(const char *host, uint32_t port)
{
    for (size_t i = 0; i < n_samples; i++) {
        if (samples[i].port == port && !strcmp(samples[i].host, host)) {
            return &samples[i];
        }
    }
    if (n_samples >= MAX_PORTS) {
        return NULL;
    }
    struct sample *s = &samples[n_samples++];
    memset(s, 0, sizeof *s);
    snprintf(s->host, sizeof s->host, "%s", host);
    s->port = port;
    return s;
}

static void
isolate(struct weft_app_handle *h, const struct weft_app_vnic *v,
        struct sample *s, double pps)
{
    char match[32];
    snprintf(match, sizeof match, "in_port=%u", s->port);
    struct weft_app_flow f = {
        .host = v->host, .priority = 1000, .match = match,
        .actions = "drop",
    };
    if (weft_app_flow_add(h, &f)) {
        return;
    }
    s->quarantined = true;
    n_quarantined++;
    weft_app_log(h, WEFT_APP_LOG_WARN, "quarantined %s/%s (VM %s, %s): "
                 "%.0f packets/s sent, more than %.0f; its traffic is "
                 "dropped until \"weftctl app-reload %s\"", v->host, v->tap,
                 v->vm, v->mac, pps, max_pps, weft_app_name(h));
}

static void
got_stats(struct weft_app_handle *h, const char *host, int error,
          const struct weft_app_port_stats *ps, size_t n, void *aux)
{
    const struct weft_app_vnic *v;
    size_t n_vnics = weft_app_get_vnics(h, host, &v);
    double t = now();
    (void) aux;

    for (size_t i = 0; !error && i < n_vnics; i++) {
        if (strcmp(v[i].segment, segment)) {
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            struct sample *s = (ps[j].port == (uint32_t) v[i].ofport
                                ? get_sample(host, ps[j].port) : NULL);
            if (!s) {
                continue;
            }
            if (s->t && t > s->t && ps[j].rx_packets >= s->rx_packets
                && !s->quarantined) {
                double pps = (ps[j].rx_packets - s->rx_packets) / (t - s->t);
                if (pps > max_pps) {
                    isolate(h, &v[i], s, pps);
                }
            }
            s->rx_packets = ps[j].rx_packets;
            s->t = t;
        }
    }
}

static void
poll_hosts(struct weft_app_handle *h, void *aux)
{
    const char *const *hosts;
    size_t n = weft_app_get_hosts(h, &hosts);
    (void) aux;
    for (size_t i = 0; i < n; i++) {
        weft_app_port_stats_request(h, hosts[i], got_stats, NULL);
    }
}

static int
q_init(struct weft_app_handle *h, const struct weft_app_kv *cfg, size_t n)
{
    const char *pps = weft_app_config_get(h, "pps");
    const char *interval = weft_app_config_get(h, "interval");
    unsigned int ms = interval ? (unsigned int) atoi(interval) : 1000;
    char actions[32];

    segment = weft_app_config_get(h, "segment");
    max_pps = pps ? atof(pps) : 1000;
    if (!segment || max_pps <= 0 || ms < 100) {
        weft_app_log(h, WEFT_APP_LOG_ERR, "segment=NAME is required; pps "
                     "must be positive and interval at least 100 (ms)");
        return EINVAL;
    }
    n_samples = 0;
    n_quarantined = 0;
    seg_l2_init(segment, 1);
    snprintf(actions, sizeof actions, "goto_table:%u", weft_app_table(h, 1));
    struct weft_app_flow pass = { .actions = actions };
    int error = weft_app_flow_add(h, &pass);
    if (!error) {
        error = weft_app_claim_segment(h, segment);
    }
    weft_app_timer_add(h, ms, ms, poll_hosts, NULL);
    return error;
}

static int
q_vnic_removed(struct weft_app_handle *h, const struct weft_app_vnic *v)
{
    /* Its port number may be given to another vNIC: forget it. */
    for (size_t i = 0; i < n_samples; i++) {
        if (samples[i].port == (uint32_t) v->ofport
            && !strcmp(samples[i].host, v->host)) {
            char match[32];
            snprintf(match, sizeof match, "in_port=%u", samples[i].port);
            weft_app_flow_remove(h, v->host, 0, 1000, match);
            samples[i] = samples[--n_samples];
            break;
        }
    }
    return seg_l2_vnic_removed(h, v);
}

static void
q_destroy(struct weft_app_handle *h)
{
    weft_app_log(h, WEFT_APP_LOG_INFO, "%llu vNICs were quarantined",
                 n_quarantined);
}

WEFT_APP_DEFINE(.name = "quarantine",
                .description = "drops the traffic of vNICs sending too fast",
                .init = q_init,
                .destroy = q_destroy,
                .vnic_added = seg_l2_vnic_added,
                .vnic_removed = q_vnic_removed,
                .packet_in = NULL);
