/* l2learn: a MAC-learning switch for one segment, the Weft counterpart of
 * Ryu's simple_switch_13.py.  Configuration: segment=NAME (required) and
 * idle=SECONDS (learned flows' idle timeout, default 30).
 *
 * It claims the segment, so all of the segment's traffic reaches its table
 * 0, where at first one flow sends everything to the controller.  On each
 * packet-in it learns which port the source MAC is behind on that host.
 * If the destination is known, it installs "in_port, dl_dst -> output"
 * with an idle timeout and sends the packet there; else it floods the
 * packet to the segment's other vNICs on the host. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft/app.h>

#define MAX_MACS 4096

static struct mac_entry {
    char host[64];
    uint8_t mac[6];
    uint32_t port;
} macs[MAX_MACS];
static size_t n_macs;
static const char *segment;
static unsigned int idle = 30;

static struct mac_entry *
lookup(const char *host, const uint8_t *mac)
{
    for (size_t i = 0; i < n_macs; i++) {
        if (!memcmp(macs[i].mac, mac, 6) && !strcmp(macs[i].host, host)) {
            return &macs[i];
        }
    }
    return NULL;
}

static void
learn(const char *host, const uint8_t *mac, uint32_t port)
{
    struct mac_entry *e = lookup(host, mac);
    if (!e && n_macs < MAX_MACS && !(mac[0] & 1)) {
        e = &macs[n_macs++];
        snprintf(e->host, sizeof e->host, "%s", host);
        memcpy(e->mac, mac, 6);
    }
    if (e) {
        e->port = port;
    }
}

static int
l2_init(struct weft_app_handle *h, const struct weft_app_kv *cfg, size_t n)
{
    const char *idle_s = weft_app_config_get(h, "idle");
    segment = weft_app_config_get(h, "segment");
    if (!segment) {
        weft_app_log(h, WEFT_APP_LOG_ERR, "segment=NAME is required");
        return EINVAL;
    }
    idle = idle_s ? (unsigned int) atoi(idle_s) : 30;
    n_macs = 0;
    struct weft_app_flow miss = { .actions = "controller" };
    int error = weft_app_flow_add(h, &miss);
    return error ? error : weft_app_claim_segment(h, segment);
}

static int
l2_packet_in(struct weft_app_handle *h, const struct weft_app_packet_in *pi)
{
    const uint8_t *dst = pi->packet, *src = pi->packet + 6;
    char actions[512] = "", match[80];
    size_t len = 0;

    if (pi->len < 14) {
        return 0;
    }
    learn(pi->host, src, pi->in_port);
    const struct mac_entry *e = lookup(pi->host, dst);
    if (e) {
        snprintf(match, sizeof match, "in_port=%u,dl_dst=%02x:%02x:%02x:"
                 "%02x:%02x:%02x", pi->in_port, dst[0], dst[1], dst[2],
                 dst[3], dst[4], dst[5]);
        snprintf(actions, sizeof actions, "output:%u", e->port);
        struct weft_app_flow f = {
            .host = pi->host, .priority = 10, .match = match,
            .actions = actions, .idle_timeout = idle,
        };
        int error = weft_app_flow_add(h, &f);
        if (error) {
            return error;
        }
    } else {
        const struct weft_app_vnic *v;
        size_t n = weft_app_get_vnics(h, pi->host, &v);
        for (size_t i = 0; i < n && len < sizeof actions - 20; i++) {
            if (!strcmp(v[i].segment, segment)
                && (uint32_t) v[i].ofport != pi->in_port) {
                len += snprintf(actions + len, sizeof actions - len,
                                "%soutput:%d", len ? "," : "", v[i].ofport);
            }
        }
        if (!len) {
            return 0;
        }
    }
    int error = weft_app_packet_out(h, pi->host, pi->in_port, actions,
                                    pi->packet, pi->len);
    return error == ENOTCONN ? 0 : error;
}

WEFT_APP_DEFINE(.name = "l2learn",
                .description = "MAC-learning switch for one segment",
                .init = l2_init,
                .packet_in = l2_packet_in);
