/* flowstats: per-vNIC packet and byte counters in a file.  Configuration:
 * file=PATH (required), interval=MS (default 2000).
 *
 * Every 'interval' it asks each connected host's switch for its port
 * counters (ABI 1.1, weft_app_port_stats_request()) and, with each
 * answer, rewrites PATH (through PATH.tmp and rename(), so a reader never
 * sees half a file) with one line per placed vNIC it has counters for:
 *
 *   # host tap vm mac segment sent_packets sent_bytes recv_packets
 *   # recv_bytes dropped
 *   h1 t-vm1 vm1 52:54:00:... lab 42 4116 40 3920 0
 *
 * "sent" is what the VM sent (the port's rx), "recv" what it received.
 * It claims nothing and installs no flow: it only reads counters.  Writing
 * a small file on each answer is the one piece of I/O it does on weftd's
 * loop; put PATH on a local file system (e.g. /run). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft/app.h>

#define MAX_VNICS 4096

static struct row {
    char host[64], tap[64], vm[64], mac[18], segment[64];
    struct weft_app_port_stats ps;
} rows[MAX_VNICS];
static size_t n_rows;
static const char *file;

static struct row *
get_row(const struct weft_app_vnic *v)
{
    for (size_t i = 0; i < n_rows; i++) {
        if (!strcmp(rows[i].host, v->host) && !strcmp(rows[i].tap, v->tap)) {
            return &rows[i];
        }
    }
    if (n_rows >= MAX_VNICS) {
        return NULL;
    }
    struct row *r = &rows[n_rows++];
    snprintf(r->host, sizeof r->host, "%s", v->host);
    snprintf(r->tap, sizeof r->tap, "%s", v->tap);
    return r;
}

static int
write_file(struct weft_app_handle *h)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        weft_app_log(h, WEFT_APP_LOG_WARN, "%s: %s", tmp, strerror(errno));
        return errno;
    }
    fprintf(f, "# host tap vm mac segment sent_packets sent_bytes "
            "recv_packets recv_bytes dropped\n");
    for (size_t i = 0; i < n_rows; i++) {
        const struct row *r = &rows[i];
        fprintf(f, "%s %s %s %s %s %llu %llu %llu %llu %llu\n", r->host,
                r->tap, r->vm, r->mac, r->segment,
                (unsigned long long) r->ps.rx_packets,
                (unsigned long long) r->ps.rx_bytes,
                (unsigned long long) r->ps.tx_packets,
                (unsigned long long) r->ps.tx_bytes,
                (unsigned long long) (r->ps.rx_dropped + r->ps.tx_dropped));
    }
    if (fclose(f) || rename(tmp, file)) {
        weft_app_log(h, WEFT_APP_LOG_WARN, "%s: %s", file, strerror(errno));
        return errno;
    }
    return 0;
}

static void
got_stats(struct weft_app_handle *h, const char *host, int error,
          const struct weft_app_port_stats *ps, size_t n, void *aux)
{
    const struct weft_app_vnic *v;
    size_t n_vnics = weft_app_get_vnics(h, host, &v);
    (void) aux;
    if (error) {
        return;
    }
    for (size_t i = 0; i < n_vnics; i++) {
        for (size_t j = 0; j < n; j++) {
            struct row *r = (ps[j].port == (uint32_t) v[i].ofport
                             ? get_row(&v[i]) : NULL);
            if (r) {
                snprintf(r->vm, sizeof r->vm, "%s", v[i].vm);
                snprintf(r->mac, sizeof r->mac, "%s", v[i].mac);
                snprintf(r->segment, sizeof r->segment, "%s", v[i].segment);
                r->ps = ps[j];
            }
        }
    }
    write_file(h);
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
fs_init(struct weft_app_handle *h, const struct weft_app_kv *cfg, size_t n)
{
    const char *interval = weft_app_config_get(h, "interval");
    unsigned int ms = interval ? (unsigned int) atoi(interval) : 2000;
    file = weft_app_config_get(h, "file");
    if (!file || ms < 100) {
        weft_app_log(h, WEFT_APP_LOG_ERR, "file=PATH is required; interval "
                     "must be at least 100 (ms)");
        return EINVAL;
    }
    n_rows = 0;
    weft_app_timer_add(h, ms, ms, poll_hosts, NULL);
    return write_file(h);
}

static int
fs_vnic_removed(struct weft_app_handle *h, const struct weft_app_vnic *v)
{
    for (size_t i = 0; i < n_rows; i++) {
        if (!strcmp(rows[i].host, v->host) && !strcmp(rows[i].tap, v->tap)) {
            rows[i] = rows[--n_rows];
            break;
        }
    }
    return 0;
}

WEFT_APP_DEFINE(.name = "flowstats",
                .description = "per-vNIC packet and byte counters in a file",
                .init = fs_init,
                .vnic_removed = fs_vnic_removed);
