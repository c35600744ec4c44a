/* A well-behaved test app: installs a flow in init, claims segment
 * "seg", installs a flow from a timer, fails packet_in on a 1-byte packet
 * (to test disabling) and sends a packet-out otherwise.
 *
 * Built three times, as versions of one app for the reload tests:
 * good.so; good-v2.so (-DGOOD_V2: packet-out to port 8, not 7); and
 * good-broken.so (-DGOOD_BROKEN: init() fails). */
#include <errno.h>
#include <string.h>
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
#ifdef GOOD_BROKEN
    weft_app_log(h, WEFT_APP_LOG_ERR, "this version is broken");
    return EIO;
#endif
    /* The segment it claims must be in the policy, once there is one. */
    long long int generation;
    const char *policy = weft_app_get_policy(h, &generation);
    if (generation && !strstr(policy, "segment seg ")) {
        weft_app_log(h, WEFT_APP_LOG_ERR, "no segment \"seg\" in policy "
                     "generation %lld", generation);
        return EINVAL;
    }
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
#ifdef GOOD_V2
    const char *actions = "output:8";
#else
    const char *actions = "output:7";
#endif
    return weft_app_packet_out(h, p->host, p->in_port, actions, p->packet,
                               p->len);
}

WEFT_APP_DEFINE(.name = "good", .description = "test app",
                .init = good_init, .packet_in = good_packet_in);
