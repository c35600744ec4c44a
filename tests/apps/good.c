/* A well-behaved test app: installs a flow in init, claims segment
 * "seg", installs a flow from a timer, fails packet_in on a 1-byte packet
 * (to test disabling) and sends a packet-out otherwise. */
#include <errno.h>
#include <weft/app.h>

static void
tick(struct weft_app_handle *h, void *aux)
{
    struct weft_app_flow f = { .table = 1, .priority = 5, .match = "ip",
                               .actions = "drop" };
    (void) aux;
    weft_app_flow_add(h, &f);
}

static int
good_init(struct weft_app_handle *h, const struct weft_app_kv *c, size_t n)
{
    struct weft_app_flow f = { .actions = "controller" };
    int error = weft_app_flow_add(h, &f);
    weft_app_timer_add(h, 10, 0, tick, NULL);
    return error ? error : weft_app_claim_segment(h, "seg");
}

static int
good_packet_in(struct weft_app_handle *h, const struct weft_app_packet_in *p)
{
    if (p->len == 1) {
        return EIO;
    }
    return weft_app_packet_out(h, p->host, p->in_port, "output:7", p->packet,
                               p->len);
}

WEFT_APP_DEFINE(.name = "good", .description = "test app",
                .init = good_init, .packet_in = good_packet_in);
