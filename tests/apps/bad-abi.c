/* An app built for a future ABI major version. */
#include <weft/app.h>

__attribute__((visibility("default")))
const struct weft_app_descriptor weft_app = {
    .abi_major = 99, .abi_minor = 0,
    .struct_size = sizeof(struct weft_app_descriptor), .name = "badabi",
};
