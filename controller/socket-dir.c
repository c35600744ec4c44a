/* Safe directories for control sockets (see socket-dir.h). */
#include "socket-dir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xalloc.h"

int
socket_dir_check(const char *path, const char *what, char **errorp)
{
    const char *slash = strrchr(path, '/');
    char *dir = (!slash ? xstrdup(".")
                 : slash == path ? xstrdup("/")
                 : xmemdup(path, slash - path + 1));
    if (slash && slash != path) {
        dir[slash - path] = '\0';
    }

    int error = 0;
    struct stat st;
    if (stat(dir, &st)) {
        if (errno != ENOENT || mkdir(dir, 0750)) {
            error = errno;
            *errorp = xasprintf("%s: cannot create the directory for the %s: "
                                "%s", dir, what, strerror(error));
        }
    } else if (!S_ISDIR(st.st_mode)) {
        error = ENOTDIR;
        *errorp = xasprintf("%s: not a directory; cannot put the %s there",
                            dir, what);
    } else if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
        error = EPERM;
        *errorp = xasprintf("%s: directory is writable by others, who could "
                            "replace the %s; refusing to use it (chmod o-w "
                            "%s, or choose another path)", dir, what, dir);
    }
    free(dir);
    return error;
}
