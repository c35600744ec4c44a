/* An app whose init() refuses to start. */
#include <errno.h>
#include <weft/app.h>

static int
fail_init(struct weft_app_handle *h, const struct weft_app_kv *c, size_t n)
{
    weft_app_log(h, WEFT_APP_LOG_ERR, "refusing to start");
    return EPERM;
}

WEFT_APP_DEFINE(.name = "initfails", .init = fail_init);
