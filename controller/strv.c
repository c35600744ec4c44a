/* Arrays of strings (see strv.h). */
#include "strv.h"

#include <stdlib.h>

#include "xalloc.h"

const char **
strv_copy(const char *const *v, size_t n)
{
    const char **copy = xcalloc(n + 1, sizeof *copy);
    for (size_t i = 0; i < n; i++) {
        copy[i] = xstrdup(v[i]);
    }
    return copy;
}

void
strv_free_n(const char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free((char *) v[i]);
    }
    free(v);
}
