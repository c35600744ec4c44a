/* A test app for the lookups: in packet_in it asks for one host's vNICs,
 * then every vNIC, then the hosts twice, and checks that the first
 * results are intact after the later calls (each call has its own array);
 * it reports what it saw in a packet-out's actions string. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <weft/app.h>

static int
lk_packet_in(struct weft_app_handle *h, const struct weft_app_packet_in *p)
{
    const struct weft_app_vnic *one, *all;
    const char *const *hosts1, *const *hosts2;
    size_t n_one = weft_app_get_vnics(h, p->host, &one);
    char first_tap[32];
    snprintf(first_tap, sizeof first_tap, "%s", n_one ? one[0].tap : "-");
    size_t n_all = weft_app_get_vnics(h, NULL, &all);
    size_t n_h1 = weft_app_get_hosts(h, &hosts1);
    size_t n_h2 = weft_app_get_hosts(h, &hosts2);

    if (one == all || n_h1 != n_h2 || (n_h1 && hosts1 == hosts2)
        || (n_one && strcmp(one[0].tap, first_tap))
        || (n_h1 && strcmp(hosts1[0], hosts2[0]))) {
        return EIO;
    }
    char actions[64];
    snprintf(actions, sizeof actions, "one=%zu,all=%zu,hosts=%zu,tap=%s",
             n_one, n_all, n_h1, first_tap);
    return weft_app_packet_out(h, p->host, p->in_port, actions, p->packet,
                               p->len);
}

WEFT_APP_DEFINE(.name = "lookups", .description = "lookup test app",
                .packet_in = lk_packet_in);
