/* Plain forwarding of a claimed segment within each host (see seg-l2.h). */
#include "seg-l2.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *seg_segment;
static uint8_t seg_table;

void
seg_l2_init(const char *segment, uint8_t table)
{
    seg_segment = segment;
    seg_table = table;
}

/* The flood flow of 'host': its local vNICs of the segment, now. */
static int
update_flood(struct weft_app_handle *h, const char *host)
{
    static const char bcast[] = "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00";
    const struct weft_app_vnic *v;
    size_t n = weft_app_get_vnics(h, host, &v);
    char actions[2048] = "";
    size_t len = 0;

    for (size_t i = 0; i < n && len < sizeof actions - 24; i++) {
        if (!strcmp(v[i].segment, seg_segment)) {
            len += snprintf(actions + len, sizeof actions - len,
                            "%soutput:%d", len ? "," : "", v[i].ofport);
        }
    }
    if (!len) {
        int error = weft_app_flow_remove(h, host, seg_table, 5, bcast);
        return error == ENOENT ? 0 : error;
    }
    struct weft_app_flow f = {
        .host = host, .table = seg_table, .priority = 5, .match = bcast,
        .actions = actions,
    };
    return weft_app_flow_add(h, &f);
}

int
seg_l2_vnic_added(struct weft_app_handle *h, const struct weft_app_vnic *v)
{
    char match[64], actions[32];
    if (strcmp(v->segment, seg_segment)) {
        return 0;
    }
    snprintf(match, sizeof match, "dl_dst=%s", v->mac);
    snprintf(actions, sizeof actions, "output:%d", v->ofport);
    struct weft_app_flow f = {
        .host = v->host, .table = seg_table, .priority = 10,
        .match = match, .actions = actions,
    };
    int error = weft_app_flow_add(h, &f);
    return error ? error : update_flood(h, v->host);
}

int
seg_l2_vnic_removed(struct weft_app_handle *h, const struct weft_app_vnic *v)
{
    char match[64];
    if (strcmp(v->segment, seg_segment)) {
        return 0;
    }
    snprintf(match, sizeof match, "dl_dst=%s", v->mac);
    weft_app_flow_remove(h, v->host, seg_table, 10, match);
    return update_flood(h, v->host);
}
