/* arp-responder: answers ARP requests of a segment's VMs itself, so that
 * they are not flooded.  Configuration: segment=NAME (required).
 *
 * Weft knows each vNIC's MAC but not its IP addresses (libvirt does not
 * tell them), so the app learns them: every ARP packet of the segment
 * (requests, gratuitous ARP, replies) reaches it, and a sender whose MAC
 * is a placed vNIC of the segment teaches "sender IP -> MAC" (ARP probes,
 * from 0.0.0.0, teach nothing).  A request for a learned IP is answered
 * by a packet-out to the asker's port and goes nowhere else; a request for
 * an unknown IP is flooded to the segment's local vNICs, as a switch would.
 * Entries go with their vNIC.
 *
 * It claims the segment, so it also forwards its other traffic: table 0
 * sends ARP to the controller and the rest to table 1, where seg-l2
 * (../common/seg-l2.h) forwards by destination MAC within each host. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <weft/app.h>

#include "seg-l2.h"

#define MAX_IPS 4096

static struct {
    uint8_t ip[4];
    uint8_t mac[6];
} ips[MAX_IPS];
static size_t n_ips;
static const char *segment;
static unsigned long long n_answered, n_flooded;

/* True if 'mac' is a placed vNIC of the segment. */
static bool
known_vnic(struct weft_app_handle *h, const uint8_t *mac)
{
    const struct weft_app_vnic *v;
    size_t n = weft_app_get_vnics(h, NULL, &v);
    char s[18];
    snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x",
             mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(v[i].mac, s) && !strcmp(v[i].segment, segment)) {
            return true;
        }
    }
    return false;
}

static int
lookup(const uint8_t *ip)
{
    for (size_t i = 0; i < n_ips; i++) {
        if (!memcmp(ips[i].ip, ip, 4)) {
            return i;
        }
    }
    return -1;
}

static void
learn(struct weft_app_handle *h, const uint8_t *ip, const uint8_t *mac)
{
    int i = lookup(ip);
    if (!memcmp(ip, "\0\0\0\0", 4) || !known_vnic(h, mac)
        || (i >= 0 && !memcmp(ips[i].mac, mac, 6))) {
        return;
    }
    if (i < 0 && n_ips >= MAX_IPS) {
        return;
    }
    i = i < 0 ? (int) n_ips++ : i;
    memcpy(ips[i].ip, ip, 4);
    memcpy(ips[i].mac, mac, 6);
    weft_app_log(h, WEFT_APP_LOG_INFO, "learned %u.%u.%u.%u is at "
                 "%02x:%02x:%02x:%02x:%02x:%02x", ip[0], ip[1], ip[2], ip[3],
                 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static int
arp_init(struct weft_app_handle *h, const struct weft_app_kv *cfg, size_t n)
{
    char actions[64];
    segment = weft_app_config_get(h, "segment");
    if (!segment) {
        weft_app_log(h, WEFT_APP_LOG_ERR, "segment=NAME is required");
        return EINVAL;
    }
    n_ips = n_answered = n_flooded = 0;
    seg_l2_init(segment, 1);
    snprintf(actions, sizeof actions, "controller,goto_table:%u",
             weft_app_table(h, 1));
    struct weft_app_flow flows[] = {
        { .priority = 100, .match = "arp,arp_op=1", .actions = "controller" },
        /* Replies are forwarded, and copied to the app to learn from. */
        { .priority = 90, .match = "arp", .actions = actions },
        { .priority = 0, .actions = actions + strlen("controller,") },
    };
    for (size_t i = 0; i < sizeof flows / sizeof flows[0]; i++) {
        int error = weft_app_flow_add(h, &flows[i]);
        if (error) {
            return error;
        }
    }
    return weft_app_claim_segment(h, segment);
}

static int
arp_packet_in(struct weft_app_handle *h, const struct weft_app_packet_in *pi)
{
    const uint8_t *p = pi->packet;
    /* Ethernet (14) + ARP for IPv4 over Ethernet (28), untagged. */
    if (pi->len < 42 || p[12] != 0x08 || p[13] != 0x06 || p[14] || p[15] != 1
        || p[16] != 0x08 || p[17] || p[18] != 6 || p[19] != 4) {
        return 0;
    }
    uint16_t op = p[20] << 8 | p[21];
    const uint8_t *sha = p + 22, *spa = p + 28, *tpa = p + 38;
    learn(h, spa, sha);
    if (op != 1 || pi->table != 0) {
        return 0;               /* A reply: forwarded by its flow. */
    }

    int i = lookup(tpa);
    if (i < 0 || !memcmp(spa, tpa, 4)) {
        /* Unknown, or gratuitous: flood it through table 1. */
        char actions[32];
        snprintf(actions, sizeof actions, "resubmit(,%u)",
                 weft_app_table(h, 1));
        n_flooded++;
        int error = weft_app_packet_out(h, pi->host, pi->in_port, actions,
                                        pi->packet, pi->len);
        return error == ENOTCONN ? 0 : error;
    }

    uint8_t reply[42];
    memcpy(reply, sha, 6);                  /* To the asker... */
    memcpy(reply + 6, ips[i].mac, 6);       /* ...from the owner. */
    memcpy(reply + 12, p + 12, 8);          /* Type, ARP header. */
    reply[20] = 0;
    reply[21] = 2;                          /* Reply. */
    memcpy(reply + 22, ips[i].mac, 6);
    memcpy(reply + 28, tpa, 4);
    memcpy(reply + 32, sha, 6);
    memcpy(reply + 38, spa, 4);
    char actions[32];
    snprintf(actions, sizeof actions, "output:%u", pi->in_port);
    n_answered++;
    weft_app_log(h, WEFT_APP_LOG_DBG, "answered who-has %u.%u.%u.%u on %s "
                 "port %u", tpa[0], tpa[1], tpa[2], tpa[3], pi->host,
                 pi->in_port);
    /* From the controller (in_port 0): OVS never outputs a packet back to
     * the port it came in on. */
    int error = weft_app_packet_out(h, pi->host, 0, actions, reply,
                                    sizeof reply);
    return error == ENOTCONN ? 0 : error;
}

static int
arp_vnic_removed(struct weft_app_handle *h, const struct weft_app_vnic *v)
{
    for (size_t i = 0; i < n_ips; ) {
        char mac[18];
        const uint8_t *m = ips[i].mac;
        snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x",
                 m[0], m[1], m[2], m[3], m[4], m[5]);
        if (!strcmp(mac, v->mac)) {
            ips[i] = ips[--n_ips];
        } else {
            i++;
        }
    }
    return seg_l2_vnic_removed(h, v);
}

static void
arp_destroy(struct weft_app_handle *h)
{
    weft_app_log(h, WEFT_APP_LOG_INFO, "%llu requests answered, %llu "
                 "flooded, %zu IPs known", n_answered, n_flooded, n_ips);
}

WEFT_APP_DEFINE(.name = "arp-responder",
                .description = "answers ARP from learned IPs of vNICs",
                .init = arp_init,
                .destroy = arp_destroy,
                .vnic_added = seg_l2_vnic_added,
                .vnic_removed = arp_vnic_removed,
                .packet_in = arp_packet_in);
