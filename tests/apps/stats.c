/* A test app for port counters (ABI 1.1): a packet-in asks for the
 * counters of its host's switch; the answer is reported in a packet-out's
 * actions string ("err=E,n=N,rx=R" with R the rx_packets of port 1). */
#include <errno.h>
#include <stdio.h>
#include <weft/app.h>

static void
got_stats(struct weft_app_handle *h, const char *host, int error,
          const struct weft_app_port_stats *ps, size_t n, void *aux)
{
    unsigned long long rx = 0;
    char actions[64];
    (void) aux;
    for (size_t i = 0; i < n; i++) {
        if (ps[i].port == 1) {
            rx = ps[i].rx_packets;
        }
    }
    snprintf(actions, sizeof actions, "err=%d,n=%zu,rx=%llu", error, n, rx);
    weft_app_packet_out(h, host, 0, actions, "", 0);
}

static int
st_packet_in(struct weft_app_handle *h, const struct weft_app_packet_in *p)
{
    int error = weft_app_port_stats_request(h, p->host, got_stats, NULL);
    return error == ENOTCONN ? 0 : error;
}

WEFT_APP_DEFINE(.name = "stats", .description = "port stats test app",
                .packet_in = st_packet_in);
