/* Allocation helpers that abort on out-of-memory (see xalloc.h). */
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *
check(void *p)
{
    if (!p) {
        abort();
    }
    return p;
}

void *
weft_xmalloc(size_t size)
{
    return check(malloc(size ? size : 1));
}

void *
weft_xzalloc(size_t size)
{
    return check(calloc(1, size ? size : 1));
}

void *
weft_xcalloc(size_t n, size_t size)
{
    return check(calloc(n ? n : 1, size ? size : 1));
}

void *
weft_xrealloc(void *p, size_t size)
{
    return check(realloc(p, size ? size : 1));
}

void *
weft_xmemdup(const void *p, size_t size)
{
    return size ? memcpy(weft_xmalloc(size), p, size) : NULL;
}

char *
weft_xstrdup(const char *s)
{
    return s ? check(strdup(s)) : NULL;
}

char *
weft_xasprintf(const char *format, ...)
{
    va_list args;
    char *s;

    va_start(args, format);
    if (vasprintf(&s, format, args) < 0) {
        abort();
    }
    va_end(args);
    return s;
}
