/* An app that asks for a table outside its range. */
#include <weft/app.h>

static int
bad_init(struct weft_app_handle *h, const struct weft_app_kv *c, size_t n)
{
    struct weft_app_flow f = { .table = WEFT_APP_MAX_TABLES,
                               .actions = "drop" };
    return weft_app_flow_add(h, &f);
}

WEFT_APP_DEFINE(.name = "badtable", .init = bad_init);
