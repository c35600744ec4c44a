/* A growing string, for code that builds text piece by piece (flow
 * matches and actions, policy documents).  Out of memory aborts, as in
 * xalloc.h. */
#ifndef WEFT_SBUF_H
#define WEFT_SBUF_H 1

#include <stddef.h>

struct sbuf {
    char *s;                    /* NULL until something is written. */
    size_t len, cap;
};

#define SBUF_INITIALIZER { NULL, 0, 0 }

void sbuf_printf(struct sbuf *, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
void sbuf_put(struct sbuf *, const char *);

/* Appends ',' unless the buffer is empty. */
void sbuf_comma(struct sbuf *);

/* The text so far ("" when empty); valid until the next write. */
const char *sbuf_str(const struct sbuf *);

/* Hands the text to the caller (who frees it) and empties the buffer. */
char *sbuf_steal(struct sbuf *);

void sbuf_destroy(struct sbuf *);

#endif /* sbuf.h */
