/* A growing string (see sbuf.h). */
#include "sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void
sbuf_printf(struct sbuf *b, const char *format, ...)
{
    for (;;) {
        va_list args;
        size_t avail = b->cap - b->len;

        va_start(args, format);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, avail, format, args);
        va_end(args);
        if (n < 0) {
            abort();
        }
        if ((size_t) n < avail) {
            b->len += n;
            return;
        }
        b->cap = 2 * b->cap + n + 64;
        b->s = xrealloc(b->s, b->cap);
    }
}

void
sbuf_put(struct sbuf *b, const char *s)
{
    sbuf_printf(b, "%s", s);
}

void
sbuf_comma(struct sbuf *b)
{
    if (b->len) {
        sbuf_put(b, ",");
    }
}

const char *
sbuf_str(const struct sbuf *b)
{
    return b->s ? b->s : "";
}

char *
sbuf_steal(struct sbuf *b)
{
    char *s = b->s ? b->s : xstrdup("");
    memset(b, 0, sizeof *b);
    return s;
}

void
sbuf_destroy(struct sbuf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}
