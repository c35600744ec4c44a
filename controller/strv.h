/* Arrays of strings with a separate count, as OVS IDL and Weft's specs
 * pass them around. */
#ifndef WEFT_STRV_H
#define WEFT_STRV_H 1

#include <stddef.h>

/* A deep copy of the 'n' strings of 'v' (never NULL; aborts on out of
 * memory). */
const char **strv_copy(const char *const *v, size_t n);

/* Frees the 'n' strings of 'v' and 'v' itself; accepts NULL. */
void strv_free_n(const char **v, size_t n);

#endif /* strv.h */
