/* The object behind a flow, from its cookie (controller/flow.h): for
 * dump-flows, trace and verify. */
#ifndef WEFT_COOKIE_OWNER_H
#define WEFT_COOKIE_OWNER_H 1

#include <stdint.h>

struct weftd;

/* "rule web-db", "vnic web1/t-web1", "segment web", "tunnel to h2",
 * "mirror m", "app l2learn"..., or NULL if no object of the current
 * policy, hosts or apps has that cookie.  Caller frees. */
char *cookie_owner(const struct weftd *, uint64_t cookie);

#endif /* cookie-owner.h */
