/* Allocation helpers for weftd's own modules: they abort on out-of-memory
 * (like OVS's, and for the same reason: a controller that half-works after
 * an allocation failed is worse than one that restarts), so callers need
 * no error paths for it.
 *
 * The functions carry a weft_ prefix so they never clash with
 * libopenvswitch's xmalloc() family in the linked binary; the short macro
 * names are for controller/ files, which never include OVS headers. */
#ifndef WEFT_XALLOC_H
#define WEFT_XALLOC_H 1

#include <stddef.h>

void *weft_xmalloc(size_t);
void *weft_xzalloc(size_t);
void *weft_xcalloc(size_t n, size_t size);   /* n == 0 is fine. */
void *weft_xrealloc(void *, size_t);
void *weft_xmemdup(const void *, size_t);    /* size 0: NULL. */
char *weft_xstrdup(const char *);            /* NULL: NULL. */
char *weft_xasprintf(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

#define xmalloc(N) weft_xmalloc(N)
#define xzalloc(N) weft_xzalloc(N)
#define xcalloc(N, S) weft_xcalloc(N, S)
#define xrealloc(P, N) weft_xrealloc(P, N)
#define xmemdup(P, N) weft_xmemdup(P, N)
#define xstrdup(S) weft_xstrdup(S)
#define xasprintf(...) weft_xasprintf(__VA_ARGS__)

#endif /* xalloc.h */
