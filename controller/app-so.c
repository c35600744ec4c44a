/* Loading an app's shared object (see app-so.h). */
#include "app-so.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xalloc.h"

/* The descriptor's fields up to 'reserved': what this weftd reads. */
#define MIN_DESCRIPTOR_SIZE offsetof(struct weft_app_descriptor, reserved)

bool
app_so_valid_name(const char *name)
{
    size_t len = strlen(name);
    if (!len || len > WEFT_APP_NAME_MAX) {
        return false;
    }
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789_-") == len;
}

static int
refuse(struct app_so *so, char **errorp, char *msg)
{
    app_so_close(so);
    *errorp = msg;
    return EINVAL;
}

/* Opens 'dlpath' (the file itself, or its copy) and checks the app in it;
 * messages name 'path'. */
static int
open_and_check(const char *path, const char *dlpath, struct app_so *so,
               char **errorp)
{
    /* dlerror() says "cannot open shared object file" or the undefined
     * symbol, with the path: clear enough as it is. */
    so->dl = dlopen(dlpath, RTLD_NOW | RTLD_LOCAL);
    if (!so->dl) {
        const char *e = dlerror();
        *errorp = (strcmp(path, dlpath)
                   ? xasprintf("cannot load app %s: %s", path,
                               e ? e : dlpath)
                   : xasprintf("cannot load app: %s", e ? e : path));
        return ENOENT;
    }
    dlerror();
    so->desc = dlsym(so->dl, "weft_app");
    if (!so->desc) {
        return refuse(so, errorp, xasprintf(
                          "%s: not a Weft app: it exports no \"weft_app\" "
                          "symbol (define one with WEFT_APP_DEFINE from "
                          "<weft/app.h>)", path));
    }

    const struct weft_app_descriptor *d = so->desc;
    if (d->abi_major != WEFT_APP_ABI_MAJOR) {
        return refuse(so, errorp, xasprintf(
                          "%s: app built for Weft app ABI %u.%u, but this "
                          "weftd speaks ABI %d.%d: rebuild it against this "
                          "weftd's <weft/app.h>", path, d->abi_major,
                          d->abi_minor, WEFT_APP_ABI_MAJOR,
                          WEFT_APP_ABI_MINOR));
    }
    if (d->abi_minor > WEFT_APP_ABI_MINOR) {
        return refuse(so, errorp, xasprintf(
                          "%s: app built for Weft app ABI %u.%u, newer than "
                          "this weftd's %d.%d (it may use what this weftd "
                          "does not have): upgrade weftd", path,
                          d->abi_major, d->abi_minor, WEFT_APP_ABI_MAJOR,
                          WEFT_APP_ABI_MINOR));
    }
    if (d->struct_size < MIN_DESCRIPTOR_SIZE) {
        return refuse(so, errorp, xasprintf(
                          "%s: app descriptor is %u bytes, less than the "
                          "%zu of ABI %d.%d: corrupt or not built with "
                          "WEFT_APP_DEFINE", path, d->struct_size,
                          MIN_DESCRIPTOR_SIZE, WEFT_APP_ABI_MAJOR,
                          WEFT_APP_ABI_MINOR));
    }
    if (!d->name || !app_so_valid_name(d->name)) {
        return refuse(so, errorp, xasprintf(
                          "%s: app name \"%s\" is invalid (1-%d chars of "
                          "A-Z a-z 0-9 _ -)", path, d->name ? d->name : "",
                          WEFT_APP_NAME_MAX));
    }
    return 0;
}

int
app_so_open(const char *path, struct app_so *so, char **errorp)
{
    memset(so, 0, sizeof *so);
    if (path[0] != '/') {
        *errorp = xasprintf("%s: an app's path must be absolute", path);
        return EINVAL;
    }
    return open_and_check(path, path, so, errorp);
}

int
app_so_open_copy(const char *path, struct app_so *so, char **errorp)
{
    memset(so, 0, sizeof *so);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        int error = errno;
        *errorp = xasprintf("cannot load app: %s: %s", path,
                            strerror(error));
        return error == ENOENT ? ENOENT : EIO;
    }
    int fd = memfd_create("weft-app", MFD_CLOEXEC);
    if (fd < 0) {
        int error = errno;
        close(in);
        *errorp = xasprintf("cannot load app %s: memfd_create: %s", path,
                            strerror(error));
        return error;
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t done = 0; done < n; ) {
            ssize_t w = write(fd, buf + done, n - done);
            if (w < 0) {
                n = -1;
                break;
            }
            done += w;
        }
        if (n < 0) {
            break;
        }
    }
    int error = n < 0 ? errno : 0;
    close(in);
    if (error) {
        close(fd);
        *errorp = xasprintf("cannot load app: copying %s: %s", path,
                            strerror(error));
        return EIO;
    }
    char dlpath[64];
    snprintf(dlpath, sizeof dlpath, "/proc/self/fd/%d", fd);
    error = open_and_check(path, dlpath, so, errorp);
    if (error) {
        close(fd);
        return error;
    }
    /* The fd stays open while the copy is loaded: the dynamic loader knows
     * the copy by the name "/proc/self/fd/N", and would hand out this copy
     * again for a later copy that got the same fd number. */
    so->copy_fd = fd;
    so->has_copy = true;
    return 0;
}

void
app_so_close(struct app_so *so)
{
    if (so->dl) {
        dlclose(so->dl);
    }
    if (so->has_copy) {
        close(so->copy_fd);
    }
    so->has_copy = false;
    so->dl = NULL;
    so->desc = NULL;
}
