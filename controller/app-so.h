/* Opening an app's shared object and checking that it is an app this
 * weftd can run (ABI version, descriptor size, name).  No other part of
 * weftd calls dlopen(). */
#ifndef WEFT_APP_SO_H
#define WEFT_APP_SO_H 1

#include "weft/app.h"

struct app_so {
    void *dl;                                   /* From dlopen(). */
    const struct weft_app_descriptor *desc;     /* Its 'weft_app'. */
};

/* Opens 'path' (RTLD_NOW | RTLD_LOCAL: unresolved symbols fail now, the
 * app's symbols stay its own) and validates its descriptor.  Returns 0, or
 * a positive errno value with a malloc'd message in '*errorp' naming the
 * file and the problem; then 'so' is left closed. */
int app_so_open(const char *path, struct app_so *so, char **errorp);

/* Closes 'so' (accepts a closed one). */
void app_so_close(struct app_so *so);

/* True if 'name' is a valid app name (see WEFT_APP_NAME_MAX). */
bool app_so_valid_name(const char *name);

#endif /* app-so.h */
