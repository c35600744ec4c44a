/* Opening an app's shared object and checking that it is an app this
 * weftd can run (ABI version, descriptor size, name).  No other part of
 * weftd calls dlopen(). */
#ifndef WEFT_APP_SO_H
#define WEFT_APP_SO_H 1

#include <stdbool.h>

#include "weft/app.h"

struct app_so {
    void *dl;                                   /* From dlopen(). */
    const struct weft_app_descriptor *desc;     /* Its 'weft_app'. */
    bool has_copy;                              /* app_so_open_copy(). */
    int copy_fd;                                /* Its memfd, if so. */
};

/* Opens 'path' (RTLD_NOW | RTLD_LOCAL: unresolved symbols fail now, the
 * app's symbols stay its own) and validates its descriptor.  Returns 0, or
 * a positive errno value with a malloc'd message in '*errorp' naming the
 * file and the problem; then 'so' is left closed. */
int app_so_open(const char *path, struct app_so *so, char **errorp);

/* Like app_so_open(), but loads a private copy of the file (through a
 * memfd): dlopen() of a file that is loaded already (same path, or same
 * inode) returns the object loaded, so a new version of a running app
 * must be read this way to run beside the old one until it is known to
 * start.  Messages name 'path', not the copy. */
int app_so_open_copy(const char *path, struct app_so *so, char **errorp);

/* Closes 'so' (accepts a closed one). */
void app_so_close(struct app_so *so);

/* True if 'name' is a valid app name (see WEFT_APP_NAME_MAX). */
bool app_so_valid_name(const char *name);

#endif /* app-so.h */
