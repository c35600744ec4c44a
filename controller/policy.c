/* The policy model, its document parser, validator, canonical formatter
 * and diff (see policy.h).
 *
 * Each object kind is described by a 'struct kind_class': where its array
 * lives in struct policy, its keys, and its parse, check, format, clone and
 * destroy functions.  One line parser (parse_object()) serves both
 * policy_parse() and policy_add_line(); one set of checks (check_object()
 * and check_refs()) serves both parsing and policy_validate(). */
#include "policy.h"
#include "sbuf.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Every object struct starts with its name. */
_Static_assert(offsetof(struct policy_segment, name) == 0, "name first");
_Static_assert(offsetof(struct policy_group, name) == 0, "name first");
_Static_assert(offsetof(struct policy_rule, name) == 0, "name first");
_Static_assert(offsetof(struct policy_mirror, name) == 0, "name first");
_Static_assert(offsetof(struct policy_limit, name) == 0, "name first");
_Static_assert(offsetof(struct policy_export, name) == 0, "name first");

struct sbuf;

enum kind {
    K_SEGMENT,
    K_GROUP,
    K_RULE,
    K_MIRROR,
    K_LIMIT,
    K_EXPORT,
    N_KINDS
};

/* What an error is about, and how checks compare objects. */
struct obj_ctx {
    const struct policy *p;
    enum kind kind;
    size_t idx;             /* Index in its array. */
    const char *name;
    int line;
    bool vs_all;            /* Compare with all objects, not just earlier. */
    struct policy_error *error;
};

struct key_spec {
    const char *name;
    bool flag;              /* A flag ("isolated"), else key=value. */
    bool required;
};

#define MAX_KEYS 12

struct kind_class {
    const char *name;
    size_t array_ofs;       /* Of the array pointer in struct policy. */
    size_t count_ofs;       /* Of its number of elements. */
    size_t size;            /* Of one object. */
    size_t line_ofs;        /* Of 'line' in an object. */
    enum kind ns;           /* Kinds with the same 'ns' share names. */
    bool has_action;        /* Positional allow|deny after the name. */
    const struct key_spec *keys;
    size_t n_keys;

    /* Fills 'obj' (zeroed, name and line set) from the values of 'keys'
     * (NULL if absent, "" for a flag that is present). */
    bool (*parse)(void *obj, const char *const vals[],
                  const struct obj_ctx *);
    /* Checks 'obj' on its own and against the earlier objects. */
    bool (*check)(const void *obj, const struct obj_ctx *);
    /* Checks that what 'obj' refers to exists. */
    bool (*check_refs)(const void *obj, const struct obj_ctx *);
    void (*format)(const void *obj, struct sbuf *);
    void (*clone)(void *dst, const void *src);
    void (*destroy)(void *obj);
};

static const struct kind_class kinds[N_KINDS];

/* Memory. */






static char **
strv_clone(char **v, size_t n)
{
    char **copy = n ? xmalloc(n * sizeof *copy) : NULL;
    for (size_t i = 0; i < n; i++) {
        copy[i] = xstrdup(v[i]);
    }
    return copy;
}

static void
strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

/* Errors. */

static bool set_error(struct policy_error *, int line, const char *field,
                      const char *format, ...)
    __attribute__((format(printf, 4, 5)));
static bool fail(const struct obj_ctx *, const char *field,
                 const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static bool
vset_error(struct policy_error *e, int line, const char *field,
           const char *prefix, const char *format, va_list args)
{
    size_t len = strlen(prefix);

    e->line = line;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    len = len < sizeof e->msg ? len : sizeof e->msg - 1;
    memcpy(e->msg, prefix, len);
    vsnprintf(e->msg + len, sizeof e->msg - len, format, args);
    return false;
}

/* Fills 'e'.  Returns false, for "return set_error(...)". */
static bool
set_error(struct policy_error *e, int line, const char *field,
          const char *format, ...)
{
    va_list args;

    va_start(args, format);
    vset_error(e, line, field, "", format, args);
    va_end(args);
    return false;
}

/* Fills ctx's error with a message about its object ("segment web: ..."). */
static bool
fail(const struct obj_ctx *ctx, const char *field, const char *format, ...)
{
    char prefix[POLICY_NAME_MAX + 32];
    va_list args;

    snprintf(prefix, sizeof prefix, "%s %.*s: ", kinds[ctx->kind].name,
             POLICY_NAME_MAX, ctx->name);
    va_start(args, format);
    vset_error(ctx->error, ctx->line, field, prefix, format, args);
    va_end(args);
    return false;
}

/* " (line N)", or "" if 'line' is 0. */
static const char *
at_line(int line, char buf[32])
{
    if (line) {
        snprintf(buf, 32, " (line %d)", line);
    } else {
        buf[0] = '\0';
    }
    return buf;
}

/* Generic access to the objects of a kind. */

static size_t *
obj_count(const struct policy *p, enum kind k)
{
    return (size_t *) ((char *) p + kinds[k].count_ofs);
}

static char **
obj_array(const struct policy *p, enum kind k)
{
    return (char **) ((char *) p + kinds[k].array_ofs);
}

static void *
obj_at(const struct policy *p, enum kind k, size_t i)
{
    return *obj_array(p, k) + i * kinds[k].size;
}

static const char *
obj_name(const struct policy *p, enum kind k, size_t i)
{
    return *(char **) obj_at(p, k, i);
}

static int
obj_line(const struct policy *p, enum kind k, size_t i)
{
    return *(int *) ((char *) obj_at(p, k, i) + kinds[k].line_ofs);
}

static size_t
obj_find(const struct policy *p, enum kind k, const char *name)
{
    for (size_t i = 0; i < *obj_count(p, k); i++) {
        if (!strcmp(obj_name(p, k, i), name)) {
            return i;
        }
    }
    return SIZE_MAX;
}

/* "segment, group, ... or export": the kinds, for errors. */
static const char *
kind_names(char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (int i = 0; i < N_KINDS && len < size; i++) {
        len += snprintf(buf + len, size - len, "%s%s",
                        !i ? "" : i == N_KINDS - 1 ? " or " : ", ",
                        kinds[i].name);
    }
    return buf;
}

static bool
kind_from_string(const char *s, enum kind *k)
{
    for (int i = 0; i < N_KINDS; i++) {
        if (!strcmp(s, kinds[i].name)) {
            *k = i;
            return true;
        }
    }
    return false;
}

/* Where an object comes in the order objects are checked: by line, those
 * without a line last, then by kind and array index. */
struct position {
    unsigned int line;
    enum kind kind;
    size_t idx;
};

static struct position
position_of(const struct policy *p, enum kind k, size_t i)
{
    int line = obj_line(p, k, i);

    return (struct position) { line ? line : UINT_MAX, k, i };
}

static int
compare_positions(const void *a_, const void *b_)
{
    const struct position *a = a_, *b = b_;

    return (a->line != b->line ? (a->line < b->line ? -1 : 1)
            : a->kind != b->kind ? (a->kind < b->kind ? -1 : 1)
            : a->idx < b->idx ? -1 : a->idx > b->idx);
}

/* Is object (k, i) one that ctx's object is compared with? */
static bool
is_earlier(const struct obj_ctx *ctx, enum kind k, size_t i)
{
    if (k == ctx->kind && i == ctx->idx) {
        return false;
    } else if (ctx->vs_all) {
        return true;
    }

    struct position a = position_of(ctx->p, k, i);
    struct position b = position_of(ctx->p, ctx->kind, ctx->idx);
    return compare_positions(&a, &b) < 0;
}

/* All the objects of 'p' in the order they are checked.  Caller frees. */
static struct position *
sorted_positions(const struct policy *p, size_t *np)
{
    size_t n = 0;
    for (int k = 0; k < N_KINDS; k++) {
        n += *obj_count(p, k);
    }

    struct position *order = xmalloc(n * sizeof *order);
    n = 0;
    for (int k = 0; k < N_KINDS; k++) {
        for (size_t i = 0; i < *obj_count(p, k); i++) {
            order[n++] = position_of(p, k, i);
        }
    }
    qsort(order, n, sizeof *order, compare_positions);
    *np = n;
    return order;
}

/* Syntax of names and values. */

/* strcmp() == 0 that accepts NULLs, for objects built in memory. */
static bool
streq(const char *a, const char *b)
{
    return a && b ? !strcmp(a, b) : a == b;
}

static bool
is_name_char(int c)
{
    return isalnum(c) || c == '_' || c == '.' || c == '-';
}

static bool
chars_ok(const char *s, bool (*ok)(int c))
{
    size_t len = strlen(s);
    if (!len || len > POLICY_NAME_MAX) {
        return false;
    }
    for (; *s; s++) {
        if (!ok((unsigned char) *s)) {
            return false;
        }
    }
    return true;
}

static bool
valid_name(const char *s)
{
    return isalpha((unsigned char) s[0]) && chars_ok(s, is_name_char);
}

static bool
is_label_char(int c)
{
    return is_name_char(c) || c == ':' || c == '=';
}

static bool
valid_label(const char *s)
{
    return chars_ok(s, is_label_char);
}

static bool
is_mac(const char *s)
{
    for (int i = 0; i < 6; i++) {
        if (!isxdigit((unsigned char) s[0])
            || !isxdigit((unsigned char) s[1])
            || s[2] != (i < 5 ? ':' : '\0')) {
            return false;
        }
        s += 3;
    }
    return true;
}

/* A vNIC: its tap name, or its MAC address. */
static bool
valid_vnic(const char *s)
{
    return is_mac(s) || (isalnum((unsigned char) s[0])
                         && chars_ok(s, is_name_char));
}

/* A host or a port name. */
static bool
valid_host_or_port(const char *s)
{
    return chars_ok(s, is_name_char);
}

/* Writes vNIC 's', MAC addresses in lowercase. */
static void
buf_put_vnic(struct sbuf *b, const char *s)
{
    if (is_mac(s)) {
        for (; *s; s++) {
            sbuf_printf(b, "%c", tolower((unsigned char) *s));
        }
    } else {
        sbuf_put(b, s);
    }
}

/* Parses a decimal number without sign; false if 's' is not one. */
static bool
parse_number(const char *s, long long int *value)
{
    long long int v = 0;

    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        if (!isdigit((unsigned char) *s)) {
            return false;
        }
        v = v < LLONG_MAX / 10 ? v * 10 + (*s - '0') : LLONG_MAX;
    }
    *value = v;
    return true;
}

static bool
check_range(const struct obj_ctx *ctx, const char *field, long long int v,
            long long int min, long long int max)
{
    if (v < min || v > max) {
        return fail(ctx, field, "%lld is out of range %lld..%lld",
                    v, min, max);
    }
    return true;
}

/* Parses 'text' in min..max. */
static bool
parse_int(const struct obj_ctx *ctx, const char *field, const char *text,
          long long int min, long long int max, long long int *value)
{
    if (!parse_number(text, value)) {
        return fail(ctx, field, "\"%s\" is not a number", text);
    } else if (*value < min || *value > max) {
        return fail(ctx, field, "%s is out of range %lld..%lld",
                    text, min, max);
    }
    return true;
}

/* Splits comma-separated 'value' into '*items' and '*n'. */
static bool
parse_list(const struct obj_ctx *ctx, const char *field, const char *value,
           char ***items, size_t *n)
{
    *items = NULL;
    *n = 0;
    for (const char *s = value; ; ) {
        size_t len = strcspn(s, ",");
        if (!len) {
            strv_free(*items, *n);
            *items = NULL;
            *n = 0;
            return fail(ctx, field, "empty item in \"%s\"", value);
        }
        *items = xrealloc(*items, (*n + 1) * sizeof **items);
        (*items)[(*n)++] = strndup(s, len);
        if (!(*items)[*n - 1]) {
            abort();
        }
        if (!s[len]) {
            return true;
        }
        s += len + 1;
    }
}

/* Are list items 'a' and 'b' the same?  MAC addresses ignore case. */
static bool
same_item(const char *a, const char *b)
{
    return is_mac(a) && is_mac(b) ? !strcasecmp(a, b) : !strcmp(a, b);
}

/* Checks each of 'items' with 'valid' and that none repeats. */
static bool
check_list(const struct obj_ctx *ctx, const char *field, char **items,
           size_t n, bool (*valid)(const char *), const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (!valid(items[i])) {
            return fail(ctx, field, "\"%s\" is not a valid %s",
                        items[i], what);
        }
        for (size_t j = 0; j < i; j++) {
            if (same_item(items[i], items[j])) {
                return fail(ctx, field, "\"%s\" is listed twice", items[i]);
            }
        }
    }
    return true;
}

static void
buf_put_list(struct sbuf *b, const char *key, char **items, size_t n,
             bool vnics)
{
    for (size_t i = 0; i < n; i++) {
        sbuf_printf(b, "%s", i ? "," : key);
        if (vnics) {
            buf_put_vnic(b, items[i]);
        } else {
            sbuf_put(b, items[i]);
        }
    }
}

/* Enum names. */

static const char *const action_names[] = {
#define POLICY_ACTION(ENUM, NAME) NAME,
    POLICY_ACTIONS
#undef POLICY_ACTION
};

static const char *const proto_names[] = {
#define POLICY_PROTO(ENUM, NAME) NAME,
    POLICY_PROTOS
#undef POLICY_PROTO
};

static const char *const ref_names[] = {
#define POLICY_REF(ENUM, NAME) NAME,
    POLICY_REFS
#undef POLICY_REF
};

static const char *const direction_names[] = {
#define POLICY_DIRECTION(ENUM, NAME) NAME,
    POLICY_DIRECTIONS
#undef POLICY_DIRECTION
};

static const char *const export_type_names[] = {
#define POLICY_EXPORT_TYPE(ENUM, NAME) NAME,
    POLICY_EXPORT_TYPES
#undef POLICY_EXPORT_TYPE
};

#define ARRAY_SIZE(A) (sizeof (A) / sizeof (A)[0])

static const char *
enum_to_string(const char *const names[], size_t n, int value)
{
    return value >= 0 && (size_t) value < n ? names[value] : "<invalid>";
}

/* Looks 's' up in 'names'; -1 if absent. */
static int
enum_from_string(const char *const names[], size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(s, names[i])) {
            return i;
        }
    }
    return -1;
}

const char *
policy_action_to_string(enum policy_action a)
{
    return enum_to_string(action_names, ARRAY_SIZE(action_names), a);
}

const char *
policy_proto_to_string(enum policy_proto proto)
{
    return enum_to_string(proto_names, ARRAY_SIZE(proto_names), proto);
}

const char *
policy_ref_to_string(enum policy_ref ref)
{
    return enum_to_string(ref_names, ARRAY_SIZE(ref_names), ref);
}

const char *
policy_direction_to_string(enum policy_direction d)
{
    return enum_to_string(direction_names, ARRAY_SIZE(direction_names), d);
}

const char *
policy_export_type_to_string(enum policy_export_type t)
{
    return enum_to_string(export_type_names, ARRAY_SIZE(export_type_names),
                          t);
}

/* Checks on every object. */

static bool
check_name(const struct obj_ctx *ctx)
{
    if (!valid_name(ctx->name)) {
        return fail(ctx, "name", "invalid name (1-%d characters: a letter, "
                    "then letters, digits, '_', '.' or '-')",
                    POLICY_NAME_MAX);
    } else if (!strcmp(ctx->name, "any")) {
        return fail(ctx, "name", "\"any\" is a reserved word");
    }
    return true;
}

/* Checks ctx's object: its name, that no earlier object in its namespace
 * has the same, then what its kind checks. */
static bool
check_object(const struct obj_ctx *ctx)
{
    if (!check_name(ctx)) {
        return false;
    }
    for (int k = 0; k < N_KINDS; k++) {
        if (kinds[k].ns != kinds[ctx->kind].ns) {
            continue;
        }
        for (size_t i = 0; i < *obj_count(ctx->p, k); i++) {
            if (is_earlier(ctx, k, i)
                && !strcmp(obj_name(ctx->p, k, i), ctx->name)) {
                char buf[32];
                return fail(ctx, "name", "name already used by %s %s%s",
                            kinds[k].name, ctx->name,
                            at_line(obj_line(ctx->p, k, i), buf));
            }
        }
    }
    return kinds[ctx->kind].check(obj_at(ctx->p, ctx->kind, ctx->idx), ctx);
}

static struct obj_ctx
make_ctx(const struct policy *p, enum kind k, size_t i,
         struct policy_error *error)
{
    return (struct obj_ctx) {
        .p = p,
        .kind = k,
        .idx = i,
        .name = obj_name(p, k, i),
        .line = obj_line(p, k, i),
        .error = error,
    };
}

/* Is 'name' a group or a segment? */
static bool
is_group_or_segment(const struct policy *p, const char *name)
{
    return policy_find_group(p, name) || policy_find_segment(p, name);
}

/* Segments. */

enum { SEG_VLAN, SEG_VNI, SEG_ISOLATED };
static const struct key_spec segment_keys[] = {
    [SEG_VLAN] = { "vlan", false, true },
    [SEG_VNI] = { "vni", false, false },
    [SEG_ISOLATED] = { "isolated", true, false },
};

static bool
segment_parse(void *obj, const char *const vals[], const struct obj_ctx *ctx)
{
    struct policy_segment *seg = obj;
    long long int v;

    if (!parse_int(ctx, "vlan", vals[SEG_VLAN], POLICY_VLAN_MIN,
                   POLICY_VLAN_MAX, &v)) {
        return false;
    }
    seg->vlan = v;
    if (vals[SEG_VNI]) {
        if (!parse_int(ctx, "vni", vals[SEG_VNI], POLICY_VNI_MIN,
                       POLICY_VNI_MAX, &v)) {
            return false;
        }
        seg->vni = v;
    }
    seg->isolated = vals[SEG_ISOLATED] != NULL;
    return true;
}

static bool
segment_check(const void *obj, const struct obj_ctx *ctx)
{
    const struct policy_segment *seg = obj;

    if (!check_range(ctx, "vlan", seg->vlan, POLICY_VLAN_MIN,
                     POLICY_VLAN_MAX)
        || (seg->vni && !check_range(ctx, "vni", seg->vni, POLICY_VNI_MIN,
                                     POLICY_VNI_MAX))) {
        return false;
    }
    for (size_t i = 0; i < ctx->p->n_segments; i++) {
        const struct policy_segment *other = &ctx->p->segments[i];
        char buf[32];

        if (!is_earlier(ctx, K_SEGMENT, i)) {
            continue;
        } else if (other->vlan == seg->vlan) {
            return fail(ctx, "vlan", "VLAN %d is already used by segment "
                        "%s%s", seg->vlan, other->name,
                        at_line(other->line, buf));
        } else if (seg->vni && other->vni == seg->vni) {
            return fail(ctx, "vni", "VNI %"PRIu32" is already used by "
                        "segment %s%s", seg->vni, other->name,
                        at_line(other->line, buf));
        }
    }
    return true;
}

static bool
segment_check_refs(const void *obj, const struct obj_ctx *ctx)
{
    return true;
}

static void
segment_format(const void *obj, struct sbuf *b)
{
    const struct policy_segment *seg = obj;

    sbuf_printf(b, "segment %s vlan=%d", seg->name, seg->vlan);
    if (seg->vni) {
        sbuf_printf(b, " vni=%"PRIu32, seg->vni);
    }
    if (seg->isolated) {
        sbuf_put(b, " isolated");
    }
}

static void
segment_clone(void *dst_, const void *src_)
{
    struct policy_segment *dst = dst_;
    const struct policy_segment *src = src_;

    *dst = *src;
    dst->name = xstrdup(src->name);
}

static void
segment_destroy(void *obj)
{
    struct policy_segment *seg = obj;

    free(seg->name);
}

/* Groups. */

enum { GRP_SEGMENTS, GRP_LABELS, GRP_VNICS, GRP_CIDRS, GRP_GROUPS };
static const struct key_spec group_keys[] = {
    [GRP_SEGMENTS] = { "segments", false, false },
    [GRP_LABELS] = { "labels", false, false },
    [GRP_VNICS] = { "vnics", false, false },
    [GRP_CIDRS] = { "cidrs", false, false },
    [GRP_GROUPS] = { "groups", false, false },
};

/* Parses "ADDRESS[/PLEN]"; a bare address is a host prefix. */
static bool
parse_cidr(const char *s, struct policy_cidr *cidr)
{
    char addr[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t len = slash ? (size_t) (slash - s) : strlen(s);

    if (len >= sizeof addr) {
        return false;
    }
    memcpy(addr, s, len);
    addr[len] = '\0';

    memset(cidr, 0, sizeof *cidr);
    cidr->ipv6 = strchr(addr, ':') != NULL;
    if (inet_pton(cidr->ipv6 ? AF_INET6 : AF_INET, addr, cidr->addr) != 1) {
        return false;
    }

    unsigned int max = cidr->ipv6 ? 128 : 32;
    long long int plen = max;
    if (slash && (!parse_number(slash + 1, &plen) || plen > max
                  || strlen(slash + 1) > 3)) {
        return false;
    }
    cidr->plen = plen;
    return true;
}

static bool
cidr_equal(const struct policy_cidr *a, const struct policy_cidr *b)
{
    return (a->ipv6 == b->ipv6 && a->plen == b->plen
            && !memcmp(a->addr, b->addr, sizeof a->addr));
}

/* Clears the bits of 'cidr' beyond its prefix. */
static void
cidr_mask(struct policy_cidr *cidr)
{
    for (unsigned int i = 0; i < 16; i++) {
        unsigned int bits = i * 8;
        if (bits >= cidr->plen) {
            cidr->addr[i] = 0;
        } else if (bits + 8 > cidr->plen) {
            cidr->addr[i] &= 0xff << (8 - (cidr->plen - bits));
        }
    }
}

void
policy_cidr_format(const struct policy_cidr *cidr, char *buf, size_t size)
{
    char addr[INET6_ADDRSTRLEN];

    inet_ntop(cidr->ipv6 ? AF_INET6 : AF_INET, cidr->addr, addr, sizeof addr);
    snprintf(buf, size, "%s/%u", addr, cidr->plen);
}

static bool
group_parse(void *obj, const char *const vals[], const struct obj_ctx *ctx)
{
    struct policy_group *g = obj;

    if ((vals[GRP_SEGMENTS]
         && !parse_list(ctx, "segments", vals[GRP_SEGMENTS], &g->segments,
                        &g->n_segments))
        || (vals[GRP_LABELS]
            && !parse_list(ctx, "labels", vals[GRP_LABELS], &g->labels,
                           &g->n_labels))
        || (vals[GRP_VNICS]
            && !parse_list(ctx, "vnics", vals[GRP_VNICS], &g->vnics,
                           &g->n_vnics))
        || (vals[GRP_GROUPS]
            && !parse_list(ctx, "groups", vals[GRP_GROUPS], &g->groups,
                           &g->n_groups))) {
        return false;
    }
    for (size_t i = 0; i < g->n_vnics; i++) {
        if (is_mac(g->vnics[i])) {
            for (char *s = g->vnics[i]; *s; s++) {
                *s = tolower((unsigned char) *s);
            }
        }
    }

    if (vals[GRP_CIDRS]) {
        char **cidrs;
        size_t n;

        if (!parse_list(ctx, "cidrs", vals[GRP_CIDRS], &cidrs, &n)) {
            return false;
        }
        g->cidrs = xmalloc(n * sizeof *g->cidrs);
        for (size_t i = 0; i < n; i++) {
            if (!parse_cidr(cidrs[i], &g->cidrs[i])) {
                fail(ctx, "cidrs", "\"%s\" is not an IPv4 or IPv6 prefix "
                     "(ADDRESS/LENGTH)", cidrs[i]);
                strv_free(cidrs, n);
                return false;
            }
            g->n_cidrs++;
        }
        strv_free(cidrs, n);
    }
    return true;
}

static bool
group_check(const void *obj, const struct obj_ctx *ctx)
{
    const struct policy_group *g = obj;

    if (!g->n_segments && !g->n_labels && !g->n_vnics && !g->n_cidrs
        && !g->n_groups) {
        return fail(ctx, "", "no members (give segments=, labels=, "
                    "vnics=, cidrs= or groups=)");
    }
    if (!check_list(ctx, "segments", g->segments, g->n_segments,
                    valid_name, "segment name")
        || !check_list(ctx, "labels", g->labels, g->n_labels,
                       valid_label, "label (1-63 characters: letters, "
                       "digits, '_', '.', ':', '=' or '-')")
        || !check_list(ctx, "vnics", g->vnics, g->n_vnics,
                       valid_vnic, "vNIC name or MAC address")
        || !check_list(ctx, "groups", g->groups, g->n_groups,
                       valid_name, "group name")) {
        return false;
    }
    for (size_t i = 0; i < g->n_cidrs; i++) {
        struct policy_cidr masked = g->cidrs[i];
        char s[POLICY_CIDR_BUFSIZE], t[POLICY_CIDR_BUFSIZE];

        if (masked.plen > (masked.ipv6 ? 128 : 32)) {
            return fail(ctx, "cidrs", "prefix length %u is too long",
                        masked.plen);
        }
        cidr_mask(&masked);
        policy_cidr_format(&g->cidrs[i], s, sizeof s);
        if (!cidr_equal(&masked, &g->cidrs[i])) {
            policy_cidr_format(&masked, t, sizeof t);
            return fail(ctx, "cidrs", "%s has host bits set (did you mean "
                        "%s?)", s, t);
        }
        for (size_t j = 0; j < i; j++) {
            if (cidr_equal(&g->cidrs[j], &g->cidrs[i])) {
                return fail(ctx, "cidrs", "\"%s\" is listed twice", s);
            }
        }
    }
    return true;
}

static bool
group_check_refs(const void *obj, const struct obj_ctx *ctx)
{
    const struct policy_group *g = obj;

    for (size_t i = 0; i < g->n_segments; i++) {
        if (policy_find_segment(ctx->p, g->segments[i])) {
            continue;
        } else if (policy_find_group(ctx->p, g->segments[i])) {
            return fail(ctx, "segments", "%s is a group, not a segment "
                        "(use groups=)", g->segments[i]);
        }
        return fail(ctx, "segments", "unknown segment \"%s\"",
                    g->segments[i]);
    }
    for (size_t i = 0; i < g->n_groups; i++) {
        if (!is_group_or_segment(ctx->p, g->groups[i])) {
            return fail(ctx, "groups", "unknown group or segment \"%s\"",
                        g->groups[i]);
        }
    }
    return true;
}

static void
group_format(const void *obj, struct sbuf *b)
{
    const struct policy_group *g = obj;

    sbuf_printf(b, "group %s", g->name);
    buf_put_list(b, " segments=", g->segments, g->n_segments, false);
    buf_put_list(b, " labels=", g->labels, g->n_labels, false);
    buf_put_list(b, " vnics=", g->vnics, g->n_vnics, true);
    for (size_t i = 0; i < g->n_cidrs; i++) {
        char s[POLICY_CIDR_BUFSIZE];

        policy_cidr_format(&g->cidrs[i], s, sizeof s);
        sbuf_printf(b, "%s%s", i ? "," : " cidrs=", s);
    }
    buf_put_list(b, " groups=", g->groups, g->n_groups, false);
}

static void
group_clone(void *dst_, const void *src_)
{
    struct policy_group *dst = dst_;
    const struct policy_group *src = src_;

    *dst = *src;
    dst->name = xstrdup(src->name);
    dst->segments = strv_clone(src->segments, src->n_segments);
    dst->labels = strv_clone(src->labels, src->n_labels);
    dst->vnics = strv_clone(src->vnics, src->n_vnics);
    dst->cidrs = xmemdup(src->cidrs, src->n_cidrs * sizeof *src->cidrs);
    dst->groups = strv_clone(src->groups, src->n_groups);
}

static void
group_destroy(void *obj)
{
    struct policy_group *g = obj;

    free(g->name);
    strv_free(g->segments, g->n_segments);
    strv_free(g->labels, g->n_labels);
    strv_free(g->vnics, g->n_vnics);
    free(g->cidrs);
    strv_free(g->groups, g->n_groups);
}

/* Depth-first search for a loop through the groups= of group 'g'.
 * 'state' is 0 (unvisited), 1 (on 'stack') or 2 (done). */
static bool
find_group_loop(const struct policy *p, size_t g, unsigned char *state,
                size_t *stack, size_t depth, struct policy_error *error)
{
    const struct policy_group *group = &p->groups[g];

    state[g] = 1;
    stack[depth] = g;
    for (size_t i = 0; i < group->n_groups; i++) {
        size_t m = obj_find(p, K_GROUP, group->groups[i]);

        if (m == SIZE_MAX || state[m] == 2) {
            continue;
        } else if (state[m] == 1) {
            size_t start = depth;
            while (stack[start] != m) {
                start--;
            }

            struct sbuf path = SBUF_INITIALIZER;
            for (size_t j = start; j <= depth; j++) {
                sbuf_printf(&path, "%s -> ", p->groups[stack[j]].name);
            }
            sbuf_put(&path, p->groups[m].name);
            set_error(error, p->groups[m].line, "groups", "group loop %s",
                      path.s);
            sbuf_destroy(&path);
            return false;
        } else if (!find_group_loop(p, m, state, stack, depth + 1, error)) {
            return false;
        }
    }
    state[g] = 2;
    return true;
}

/* Rules. */

enum { RULE_FROM, RULE_TO, RULE_PROTO, RULE_PORTS, RULE_PRIORITY,
       RULE_STATELESS };
static const struct key_spec rule_keys[] = {
    [RULE_FROM] = { "from", false, true },
    [RULE_TO] = { "to", false, true },
    [RULE_PROTO] = { "proto", false, false },
    [RULE_PORTS] = { "ports", false, false },
    [RULE_PRIORITY] = { "priority", false, false },
    [RULE_STATELESS] = { "stateless", true, false },
};

static bool
rule_parse(void *obj, const char *const vals[], const struct obj_ctx *ctx)
{
    struct policy_rule *r = obj;
    long long int v;

    r->from = xstrdup(vals[RULE_FROM]);
    r->to = xstrdup(vals[RULE_TO]);
    if (vals[RULE_PROTO]) {
        int proto = enum_from_string(proto_names, ARRAY_SIZE(proto_names),
                                     vals[RULE_PROTO]);
        if (proto < 0) {
            return fail(ctx, "proto", "unknown protocol \"%s\" (expected "
                        "tcp, udp, icmp, icmp6 or ip)", vals[RULE_PROTO]);
        }
        r->proto = proto;
    }
    if (vals[RULE_PORTS]) {
        char **items;
        size_t n;

        if (!parse_list(ctx, "ports", vals[RULE_PORTS], &items, &n)) {
            return false;
        }
        r->ports = xmalloc(n * sizeof *r->ports);
        for (size_t i = 0; i < n; i++) {
            char *dash = strchr(items[i], '-');
            long long int min, max;

            if (dash) {
                *dash = '\0';
            }
            if (!parse_int(ctx, "ports", items[i], 1, 65535, &min)
                || (dash && !parse_int(ctx, "ports", dash + 1, 1, 65535,
                                       &max))) {
                strv_free(items, n);
                return false;
            }
            r->ports[i].min = min;
            r->ports[i].max = dash ? max : min;
            r->n_ports++;
        }
        strv_free(items, n);
    }
    r->priority = POLICY_PRIORITY_DEFAULT;
    if (vals[RULE_PRIORITY]) {
        if (!parse_int(ctx, "priority", vals[RULE_PRIORITY],
                       POLICY_PRIORITY_MIN, POLICY_PRIORITY_MAX, &v)) {
            return false;
        }
        r->priority = v;
    }
    r->stateful = !vals[RULE_STATELESS];
    return true;
}

static bool
ports_overlap(const struct policy_rule *a, const struct policy_rule *b)
{
    if (!a->n_ports || !b->n_ports) {
        return true;
    }
    for (size_t i = 0; i < a->n_ports; i++) {
        for (size_t j = 0; j < b->n_ports; j++) {
            if (a->ports[i].min <= b->ports[j].max
                && b->ports[j].min <= a->ports[i].max) {
                return true;
            }
        }
    }
    return false;
}

static bool
valid_endpoint(const char *s)
{
    return !strcmp(s, "any") || valid_name(s);
}

static bool
rule_check(const void *obj, const struct obj_ctx *ctx)
{
    const struct policy_rule *r = obj;

    if (r->action != POLICY_ALLOW && r->action != POLICY_DENY) {
        return fail(ctx, "action", "invalid action %d", (int) r->action);
    } else if (!r->from || !valid_endpoint(r->from)) {
        return fail(ctx, "from", "\"%s\" is not a group or segment name or "
                    "\"any\"", r->from ? r->from : "");
    } else if (!r->to || !valid_endpoint(r->to)) {
        return fail(ctx, "to", "\"%s\" is not a group or segment name or "
                    "\"any\"", r->to ? r->to : "");
    } else if ((unsigned int) r->proto >= ARRAY_SIZE(proto_names)) {
        return fail(ctx, "proto", "invalid protocol %d", (int) r->proto);
    } else if (r->n_ports && r->proto != POLICY_PROTO_TCP
               && r->proto != POLICY_PROTO_UDP) {
        return fail(ctx, "ports", "ports need proto=tcp or proto=udp");
    } else if (!check_range(ctx, "priority", r->priority,
                            POLICY_PRIORITY_MIN, POLICY_PRIORITY_MAX)) {
        return false;
    }
    for (size_t i = 0; i < r->n_ports; i++) {
        if (!r->ports[i].min || r->ports[i].min > r->ports[i].max) {
            return fail(ctx, "ports", "bad port range %u-%u (expected N or "
                        "N-M with 1 <= N <= M <= 65535)",
                        r->ports[i].min, r->ports[i].max);
        }
    }

    for (size_t i = 0; i < ctx->p->n_rules; i++) {
        const struct policy_rule *o = &ctx->p->rules[i];
        char buf[32];

        if (is_earlier(ctx, K_RULE, i)
            && o->priority == r->priority && o->action != r->action
            && streq(o->from, r->from) && streq(o->to, r->to)
            && o->proto == r->proto && ports_overlap(o, r)) {
            return fail(ctx, "", "conflicts with rule %s%s: same priority "
                        "%d, from, to and proto, overlapping ports, but %s "
                        "vs %s", o->name, at_line(o->line, buf),
                        r->priority, policy_action_to_string(r->action),
                        policy_action_to_string(o->action));
        }
    }
    return true;
}

static bool
rule_check_refs(const void *obj, const struct obj_ctx *ctx)
{
    const struct policy_rule *r = obj;

    if (strcmp(r->from, "any") && !is_group_or_segment(ctx->p, r->from)) {
        return fail(ctx, "from", "unknown group or segment \"%s\"",
                    r->from);
    } else if (strcmp(r->to, "any") && !is_group_or_segment(ctx->p, r->to)) {
        return fail(ctx, "to", "unknown group or segment \"%s\"", r->to);
    }
    return true;
}

static void
rule_format(const void *obj, struct sbuf *b)
{
    const struct policy_rule *r = obj;

    sbuf_printf(b, "rule %s %s from=%s to=%s", r->name,
               policy_action_to_string(r->action), r->from, r->to);
    if (r->proto != POLICY_PROTO_IP) {
        sbuf_printf(b, " proto=%s", policy_proto_to_string(r->proto));
    }
    for (size_t i = 0; i < r->n_ports; i++) {
        sbuf_printf(b, "%s%u", i ? "," : " ports=", r->ports[i].min);
        if (r->ports[i].max != r->ports[i].min) {
            sbuf_printf(b, "-%u", r->ports[i].max);
        }
    }
    if (r->priority != POLICY_PRIORITY_DEFAULT) {
        sbuf_printf(b, " priority=%d", r->priority);
    }
    if (!r->stateful) {
        sbuf_put(b, " stateless");
    }
}

static void
rule_clone(void *dst_, const void *src_)
{
    struct policy_rule *dst = dst_;
    const struct policy_rule *src = src_;

    *dst = *src;
    dst->name = xstrdup(src->name);
    dst->from = xstrdup(src->from);
    dst->to = xstrdup(src->to);
    dst->ports = xmemdup(src->ports, src->n_ports * sizeof *src->ports);
}

static void
rule_destroy(void *obj)
{
    struct policy_rule *r = obj;

    free(r->name);
    free(r->from);
    free(r->to);
    free(r->ports);
}

/* Mirrors. */

enum { MIR_SOURCES, MIR_TO, MIR_DIRECTION };
static const struct key_spec mirror_keys[] = {
    [MIR_SOURCES] = { "sources", false, true },
    [MIR_TO] = { "to", false, true },
    [MIR_DIRECTION] = { "direction", false, false },
};

/* Targets: mirror sources and limit targets. */

/* Parses "vnic:NAME|group:NAME|segment:NAME,..." in 'value'. */
static bool
parse_targets(const struct obj_ctx *ctx, const char *field,
              const char *value, struct policy_target **targetsp,
              size_t *np)
{
    char **items;
    size_t n;

    if (!parse_list(ctx, field, value, &items, &n)) {
        return false;
    }
    *targetsp = xzalloc(n * sizeof **targetsp);
    for (size_t i = 0; i < n; i++) {
        struct policy_target *t = &(*targetsp)[i];
        char *colon = strchr(items[i], ':');
        int type = -1;

        if (colon) {
            *colon = '\0';
            type = enum_from_string(ref_names, ARRAY_SIZE(ref_names),
                                    items[i]);
        }
        if (type < 0 || type == POLICY_REF_HOST) {
            if (colon) {
                *colon = ':';
            }
            fail(ctx, field, "\"%s\" is not vnic:NAME, group:NAME or "
                 "segment:NAME", items[i]);
            strv_free(items, n);
            return false;
        }
        t->type = type;
        t->name = xstrdup(colon + 1);
        if (type == POLICY_REF_VNIC && is_mac(colon + 1)) {
            for (char *c = t->name; *c; c++) {
                *c = tolower((unsigned char) *c);
            }
        }
        ++*np;
    }
    strv_free(items, n);
    return true;
}

static bool
check_targets(const struct obj_ctx *ctx, const char *field,
              const struct policy_target *targets, size_t n)
{
    if (!n) {
        return fail(ctx, field, "no %s", field);
    }
    for (size_t i = 0; i < n; i++) {
        const struct policy_target *t = &targets[i];
        const char *type = policy_ref_to_string(t->type);

        if (t->type == POLICY_REF_VNIC ? !valid_vnic(t->name)
            : t->type == POLICY_REF_GROUP || t->type == POLICY_REF_SEGMENT
            ? !valid_name(t->name) : true) {
            return fail(ctx, field, "\"%s:%s\" is not a valid target",
                        type, t->name);
        }
        for (size_t j = 0; j < i; j++) {
            if (targets[j].type == t->type
                && same_item(targets[j].name, t->name)) {
                return fail(ctx, field, "\"%s:%s\" is listed twice",
                            type, t->name);
            }
        }
    }
    return true;
}

/* Groups and segments must exist. */
static bool
check_target_refs(const struct obj_ctx *ctx, const char *field,
                  const struct policy_target *targets, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct policy_target *t = &targets[i];

        if ((t->type == POLICY_REF_GROUP
             && !policy_find_group(ctx->p, t->name))
            || (t->type == POLICY_REF_SEGMENT
                && !policy_find_segment(ctx->p, t->name))) {
            return fail(ctx, field, "unknown %s \"%s\"",
                        policy_ref_to_string(t->type), t->name);
        }
    }
    return true;
}

/* Writes " KEY=type:name,...". */
static void
buf_put_targets(struct sbuf *b, const char *key,
                const struct policy_target *targets, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i) {
            sbuf_put(b, ",");
        } else {
            sbuf_printf(b, " %s=", key);
        }
        sbuf_printf(b, "%s:", policy_ref_to_string(targets[i].type));
        buf_put_vnic(b, targets[i].name);
    }
}

static struct policy_target *
targets_clone(const struct policy_target *targets, size_t n)
{
    struct policy_target *copy = xmemdup(targets, n * sizeof *targets);
    for (size_t i = 0; i < n; i++) {
        copy[i].name = xstrdup(targets[i].name);
    }
    return copy;
}

static void
targets_free(struct policy_target *targets, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(targets[i].name);
    }
    free(targets);
}

/* Is segment or group 'name' (of kind 'type') among 'targets'? */
static bool
targets_name(const struct policy_target *targets, size_t n,
             enum policy_ref type, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (targets[i].type == type && !strcmp(targets[i].name, name)) {
            return true;
        }
    }
    return false;
}

static bool
parse_direction(const struct obj_ctx *ctx, const char *value,
                enum policy_direction *direction)
{
    if (value) {
        int d = enum_from_string(direction_names,
                                 ARRAY_SIZE(direction_names), value);
        if (d < 0) {
            return fail(ctx, "direction", "unknown direction \"%s\" "
                        "(expected ingress, egress or both)", value);
        }
        *direction = d;
    }
    return true;
}

static bool
mirror_parse(void *obj, const char *const vals[], const struct obj_ctx *ctx)
{
    struct policy_mirror *m = obj;

    if (!parse_targets(ctx, "sources", vals[MIR_SOURCES], &m->sources,
                       &m->n_sources)) {
        return false;
    }

    const char *to = vals[MIR_TO];
    if (!strncmp(to, "vnic:", 5)) {
        m->to_type = POLICY_REF_VNIC;
        m->to_name = xstrdup(to + 5);
    } else if (!strncmp(to, "host:", 5) && strchr(to, '/')) {
        const char *slash = strchr(to, '/');

        m->to_type = POLICY_REF_HOST;
        m->to_name = strndup(to + 5, slash - (to + 5));
        m->to_port = xstrdup(slash + 1);
        if (!m->to_name) {
            abort();
        }
    } else {
        return fail(ctx, "to", "\"%s\" is not vnic:NAME or host:HOST/PORT",
                    to);
    }

    return parse_direction(ctx, vals[MIR_DIRECTION], &m->direction);
}

static bool
mirror_check(const void *obj, const struct obj_ctx *ctx)
{
    const struct policy_mirror *m = obj;

    if (!check_targets(ctx, "sources", m->sources, m->n_sources)) {
        return false;
    }
    if (m->to_type == POLICY_REF_VNIC
        ? !m->to_name || !valid_vnic(m->to_name) || m->to_port
        : m->to_type == POLICY_REF_HOST
        ? (!m->to_name || !valid_host_or_port(m->to_name)
           || !m->to_port || !valid_host_or_port(m->to_port))
        : true) {
        return fail(ctx, "to", "destination is not a valid vnic:NAME or "
                    "host:HOST/PORT");
    }
    for (size_t i = 0; m->to_type == POLICY_REF_VNIC && i < m->n_sources;
         i++) {
        const struct policy_target *s = &m->sources[i];
        if (s->type == POLICY_REF_VNIC && same_item(s->name, m->to_name)) {
            return fail(ctx, "sources", "vnic:%s is also the destination: "
                        "a mirror cannot copy a port into itself", s->name);
        }
    }
    if ((unsigned int) m->direction >= ARRAY_SIZE(direction_names)) {
        return fail(ctx, "direction", "invalid direction %d",
                    (int) m->direction);
    }
    return true;
}

static bool
mirror_check_refs(const void *obj, const struct obj_ctx *ctx)
{
    const struct policy_mirror *m = obj;

    return check_target_refs(ctx, "sources", m->sources, m->n_sources);
}

static void
mirror_format(const void *obj, struct sbuf *b)
{
    const struct policy_mirror *m = obj;

    sbuf_printf(b, "mirror %s", m->name);
    buf_put_targets(b, "sources", m->sources, m->n_sources);
    sbuf_printf(b, " to=%s:", policy_ref_to_string(m->to_type));
    if (m->to_type == POLICY_REF_VNIC) {
        buf_put_vnic(b, m->to_name);
    } else {
        sbuf_printf(b, "%s/%s", m->to_name, m->to_port);
    }
    if (m->direction != POLICY_DIRECTION_BOTH) {
        sbuf_printf(b, " direction=%s",
                   policy_direction_to_string(m->direction));
    }
}

static void
mirror_clone(void *dst_, const void *src_)
{
    struct policy_mirror *dst = dst_;
    const struct policy_mirror *src = src_;

    *dst = *src;
    dst->name = xstrdup(src->name);
    dst->sources = targets_clone(src->sources, src->n_sources);
    dst->to_name = xstrdup(src->to_name);
    dst->to_port = xstrdup(src->to_port);
}

static void
mirror_destroy(void *obj)
{
    struct policy_mirror *m = obj;

    free(m->name);
    targets_free(m->sources, m->n_sources);
    free(m->to_name);
    free(m->to_port);
}

/* Limits. */

enum { LIM_TARGETS, LIM_RATE, LIM_BURST, LIM_DIRECTION };
static const struct key_spec limit_keys[] = {
    [LIM_TARGETS] = { "targets", false, true },
    [LIM_RATE] = { "rate", false, true },
    [LIM_BURST] = { "burst", false, false },
    [LIM_DIRECTION] = { "direction", false, false },
};

static const struct {
    const char *name;
    uint32_t kbit;
} rate_units[] = {
    { "gbit", 1000000 },
    { "mbit", 1000 },
    { "kbit", 1 },
};

/* Parses 'text', a number and a unit of rate_units, into kbit in
 * min..max. */
static bool
parse_kbit(const struct obj_ctx *ctx, const char *field, const char *text,
           uint32_t min, uint32_t max, uint32_t *kbit)
{
    size_t digits = strspn(text, "0123456789");
    const char *unit = text + digits;
    char number[24];
    long long int v;

    if (!digits || digits >= sizeof number) {
        return fail(ctx, field, "\"%s\" is not a number with a unit (e.g. "
                    "20mbit)", text);
    }
    memcpy(number, text, digits);
    number[digits] = '\0';
    parse_number(number, &v);
    for (size_t i = 0; i < ARRAY_SIZE(rate_units); i++) {
        if (!strcmp(unit, rate_units[i].name)) {
            long long int k = (v > LLONG_MAX / rate_units[i].kbit ? LLONG_MAX
                               : v * rate_units[i].kbit);
            char lo[POLICY_RATE_BUFSIZE], hi[POLICY_RATE_BUFSIZE];

            if (k < min || k > max) {
                policy_rate_format(min, lo, sizeof lo);
                policy_rate_format(max, hi, sizeof hi);
                return fail(ctx, field, "%s is out of range %s..%s", text,
                            lo, hi);
            }
            *kbit = k;
            return true;
        }
    }
    return fail(ctx, field, "\"%s\": %s unit \"%s\" (expected kbit, mbit or "
                "gbit, bits per second for a rate)", text,
                *unit ? "unknown" : "missing", unit);
}

void
policy_rate_format(uint32_t kbps, char *buf, size_t size)
{
    for (size_t i = 0; i < ARRAY_SIZE(rate_units); i++) {
        if (kbps % rate_units[i].kbit == 0) {
            snprintf(buf, size, "%"PRIu32"%s", kbps / rate_units[i].kbit,
                     rate_units[i].name);
            return;
        }
    }
}

uint32_t
policy_limit_burst(const struct policy_limit *l)
{
    return (l->burst_kbit ? l->burst_kbit
            : l->rate_kbps / 4 > 64 ? l->rate_kbps / 4 : 64);
}

static bool
limit_parse(void *obj, const char *const vals[], const struct obj_ctx *ctx)
{
    struct policy_limit *l = obj;

    return (parse_targets(ctx, "targets", vals[LIM_TARGETS], &l->targets,
                          &l->n_targets)
            && parse_kbit(ctx, "rate", vals[LIM_RATE], POLICY_RATE_MIN_KBPS,
                          POLICY_RATE_MAX_KBPS, &l->rate_kbps)
            && (!vals[LIM_BURST]
                || parse_kbit(ctx, "burst", vals[LIM_BURST],
                              POLICY_BURST_MIN_KBIT, POLICY_BURST_MAX_KBIT,
                              &l->burst_kbit))
            && parse_direction(ctx, vals[LIM_DIRECTION], &l->direction));
}

static bool
limit_check(const void *obj, const struct obj_ctx *ctx)
{
    const struct policy_limit *l = obj;

    if (!check_targets(ctx, "targets", l->targets, l->n_targets)) {
        return false;
    } else if (l->rate_kbps < POLICY_RATE_MIN_KBPS
               || l->rate_kbps > POLICY_RATE_MAX_KBPS) {
        return fail(ctx, "rate", "%"PRIu32" kbit/s is out of range "
                    "10kbit..100gbit", l->rate_kbps);
    } else if (l->burst_kbit && (l->burst_kbit < POLICY_BURST_MIN_KBIT
                                 || l->burst_kbit > POLICY_BURST_MAX_KBIT)) {
        return fail(ctx, "burst", "%"PRIu32" kbit is out of range "
                    "16kbit..10gbit", l->burst_kbit);
    } else if ((unsigned int) l->direction >= ARRAY_SIZE(direction_names)) {
        return fail(ctx, "direction", "invalid direction %d",
                    (int) l->direction);
    }
    return true;
}

static bool
limit_check_refs(const void *obj, const struct obj_ctx *ctx)
{
    const struct policy_limit *l = obj;

    return check_target_refs(ctx, "targets", l->targets, l->n_targets);
}

static void
limit_format(const void *obj, struct sbuf *b)
{
    const struct policy_limit *l = obj;
    char rate[POLICY_RATE_BUFSIZE];

    sbuf_printf(b, "limit %s", l->name);
    buf_put_targets(b, "targets", l->targets, l->n_targets);
    policy_rate_format(l->rate_kbps, rate, sizeof rate);
    sbuf_printf(b, " rate=%s", rate);
    if (l->burst_kbit) {
        policy_rate_format(l->burst_kbit, rate, sizeof rate);
        sbuf_printf(b, " burst=%s", rate);
    }
    if (l->direction != POLICY_DIRECTION_BOTH) {
        sbuf_printf(b, " direction=%s",
                   policy_direction_to_string(l->direction));
    }
}

static void
limit_clone(void *dst_, const void *src_)
{
    struct policy_limit *dst = dst_;
    const struct policy_limit *src = src_;

    *dst = *src;
    dst->name = xstrdup(src->name);
    dst->targets = targets_clone(src->targets, src->n_targets);
}

static void
limit_destroy(void *obj)
{
    struct policy_limit *l = obj;

    free(l->name);
    targets_free(l->targets, l->n_targets);
}

/* Exports. */

enum { EXP_SFLOW, EXP_IPFIX, EXP_NETFLOW, EXP_COLLECTORS, EXP_SAMPLING,
       EXP_POLLING, EXP_HEADER, EXP_ACTIVE_TIMEOUT, EXP_CACHE_MAX_FLOWS,
       EXP_SEGMENTS };
/* The type is a flag (one of the first three), so that the generic line
 * parser reads "export NAME sflow ..." without a positional word. */
static const struct key_spec export_keys[] = {
    [EXP_SFLOW] = { "sflow", true, false },
    [EXP_IPFIX] = { "ipfix", true, false },
    [EXP_NETFLOW] = { "netflow", true, false },
    [EXP_COLLECTORS] = { "collectors", false, true },
    [EXP_SAMPLING] = { "sampling", false, false },
    [EXP_POLLING] = { "polling", false, false },
    [EXP_HEADER] = { "header", false, false },
    [EXP_ACTIVE_TIMEOUT] = { "active-timeout", false, false },
    [EXP_CACHE_MAX_FLOWS] = { "cache-max-flows", false, false },
    [EXP_SEGMENTS] = { "segments", false, false },
};

/* An export option: its key, where it lives in the struct, its range and
 * which types take it (a bit per enum policy_export_type). */
struct export_option {
    int key;
    size_t ofs;
    int min, max;
    unsigned int types;
};

#define T_SFLOW (1u << POLICY_EXPORT_SFLOW)
#define T_IPFIX (1u << POLICY_EXPORT_IPFIX)
#define T_NETFLOW (1u << POLICY_EXPORT_NETFLOW)

static const struct export_option export_options[] = {
    { EXP_SAMPLING, offsetof(struct policy_export, sampling),
      1, POLICY_EXPORT_SAMPLING_MAX, T_SFLOW | T_IPFIX },
    { EXP_POLLING, offsetof(struct policy_export, polling),
      1, POLICY_EXPORT_POLLING_MAX, T_SFLOW },
    { EXP_HEADER, offsetof(struct policy_export, header),
      POLICY_EXPORT_HEADER_MIN, POLICY_EXPORT_HEADER_MAX, T_SFLOW },
    { EXP_ACTIVE_TIMEOUT, offsetof(struct policy_export, active_timeout),
      1, POLICY_EXPORT_TIMEOUT_MAX, T_IPFIX | T_NETFLOW },
    { EXP_CACHE_MAX_FLOWS, offsetof(struct policy_export, cache_max_flows),
      1, POLICY_EXPORT_CACHE_MAX, T_IPFIX },
};

static int *
export_option_value(const struct policy_export *e,
                    const struct export_option *o)
{
    return (int *) ((char *) e + o->ofs);
}

/* "sflow and ipfix" for the types in 'types'. */
static const char *
export_types_text(unsigned int types, char *buf, size_t size)
{
    size_t len = 0, n = 0, total = __builtin_popcount(types);

    buf[0] = '\0';
    for (size_t t = 0; t < ARRAY_SIZE(export_type_names); t++) {
        if (types & (1u << t)) {
            n++;
            len += snprintf(buf + len, size - len, "%s%s",
                            n == 1 ? "" : n == total ? " and " : ", ",
                            export_type_names[t]);
        }
    }
    return buf;
}

/* Parses "IPv4:PORT" or "[IPv6]:PORT" into canonical text in 'out'. */
static bool
parse_collector(const char *s, char *out, size_t size)
{
    char addr[INET6_ADDRSTRLEN];
    const char *port;
    bool v6 = s[0] == '[';
    size_t len;

    if (v6) {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') {
            return false;
        }
        len = close - (s + 1);
        s++;
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon) {
            return false;
        }
        len = colon - s;
        port = colon + 1;
    }
    if (!len || len >= sizeof addr) {
        return false;
    }
    memcpy(addr, s, len);
    addr[len] = '\0';

    uint8_t bin[16];
    long long int p;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1
        || !parse_number(port, &p) || strlen(port) > 5) {
        return false;
    }
    inet_ntop(v6 ? AF_INET6 : AF_INET, bin, addr, sizeof addr);
    snprintf(out, size, v6 ? "[%s]:%lld" : "%s:%lld", addr, p);
    return true;
}

/* The port of a canonical collector. */
static long long int
collector_port(const char *c)
{
    return atoll(strrchr(c, ':') + 1);
}

static bool
export_parse_type(struct policy_export *e, const char *const vals[],
                  const struct obj_ctx *ctx)
{
    int type = -1;

    for (int t = EXP_SFLOW; t <= EXP_NETFLOW; t++) {
        if (!vals[t]) {
            continue;
        } else if (type >= 0) {
            return fail(ctx, export_keys[t].name, "%s and %s given: an "
                        "export has one type", export_keys[type].name,
                        export_keys[t].name);
        }
        type = t;
    }
    if (type < 0) {
        return fail(ctx, "type", "missing type (give sflow, ipfix or "
                    "netflow after the name)");
    }
    e->type = (type == EXP_SFLOW ? POLICY_EXPORT_SFLOW
               : type == EXP_IPFIX ? POLICY_EXPORT_IPFIX
               : POLICY_EXPORT_NETFLOW);
    return true;
}

static bool
export_parse(void *obj, const char *const vals[], const struct obj_ctx *ctx)
{
    struct policy_export *e = obj;

    if (!export_parse_type(e, vals, ctx)) {
        return false;
    } else if (vals[EXP_SEGMENTS]
               && !parse_list(ctx, "segments", vals[EXP_SEGMENTS],
                              &e->segments, &e->n_segments)) {
        return false;
    } else if (!parse_list(ctx, "collectors", vals[EXP_COLLECTORS],
                           &e->collectors, &e->n_collectors)) {
        return false;
    }
    for (size_t i = 0; i < e->n_collectors; i++) {
        char canon[INET6_ADDRSTRLEN + 16];

        if (!parse_collector(e->collectors[i], canon, sizeof canon)) {
            return fail(ctx, "collectors", "\"%s\" is not IPv4:PORT or "
                        "[IPv6]:PORT", e->collectors[i]);
        }
        free(e->collectors[i]);
        e->collectors[i] = xstrdup(canon);
    }
    for (size_t i = 0; i < ARRAY_SIZE(export_options); i++) {
        const struct export_option *o = &export_options[i];
        const char *key = export_keys[o->key].name;
        long long int v;

        if (vals[o->key]) {
            if (!parse_int(ctx, key, vals[o->key], o->min, o->max, &v)) {
                return false;
            }
            *export_option_value(e, o) = v;
        }
    }
    return true;
}

static bool
export_check_collectors(const struct policy_export *e,
                        const struct obj_ctx *ctx)
{
    if (!e->n_collectors) {
        return fail(ctx, "collectors", "no collectors");
    } else if (e->n_collectors > POLICY_EXPORT_COLLECTORS_MAX) {
        return fail(ctx, "collectors", "%zu collectors, at most %d",
                    e->n_collectors, POLICY_EXPORT_COLLECTORS_MAX);
    }
    for (size_t i = 0; i < e->n_collectors; i++) {
        char canon[INET6_ADDRSTRLEN + 16];
        const char *c = e->collectors[i];

        if (!c || !parse_collector(c, canon, sizeof canon)) {
            return fail(ctx, "collectors", "\"%s\" is not IPv4:PORT or "
                        "[IPv6]:PORT", c ? c : "");
        } else if (!check_range(ctx, "collectors", collector_port(canon),
                                1, 65535)) {
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(e->collectors[j], c)) {
                return fail(ctx, "collectors", "\"%s\" is listed twice", c);
            }
        }
    }
    return true;
}

static bool
export_check(const void *obj, const struct obj_ctx *ctx)
{
    const struct policy_export *e = obj;

    if ((unsigned int) e->type >= ARRAY_SIZE(export_type_names)) {
        return fail(ctx, "type", "invalid type %d", (int) e->type);
    } else if (!export_check_collectors(e, ctx)) {
        return false;
    }
    for (size_t i = 0; i < ARRAY_SIZE(export_options); i++) {
        const struct export_option *o = &export_options[i];
        const char *key = export_keys[o->key].name;
        int v = *export_option_value(e, o);
        char types[64];

        if (!v) {
            continue;
        } else if (!(o->types & (1u << e->type))) {
            return fail(ctx, key, "%s does not apply to %s (only to %s)",
                        key, policy_export_type_to_string(e->type),
                        export_types_text(o->types, types, sizeof types));
        } else if (!check_range(ctx, key, v, o->min, o->max)) {
            return false;
        }
    }
    if (e->n_segments && e->type != POLICY_EXPORT_IPFIX) {
        return fail(ctx, "segments", "only an ipfix export can be per "
                    "segment (OVS exports %s from a whole bridge)",
                    policy_export_type_to_string(e->type));
    } else if (!check_list(ctx, "segments", e->segments, e->n_segments,
                           valid_name, "segment name")) {
        return false;
    }
    for (size_t i = 0; i < ctx->p->n_exports; i++) {
        const struct policy_export *o = &ctx->p->exports[i];
        char buf[32];

        if (!is_earlier(ctx, K_EXPORT, i)) {
            continue;
        } else if (o->type == e->type && !o->n_segments && !e->n_segments) {
            return fail(ctx, "", "export %s%s is already %s: a bridge has "
                        "one %s export (list several collectors= instead)",
                        o->name, at_line(o->line, buf),
                        policy_export_type_to_string(e->type),
                        policy_export_type_to_string(e->type));
        }
        for (size_t j = 0; j < e->n_segments; j++) {
            for (size_t k = 0; k < o->n_segments; k++) {
                if (!strcmp(e->segments[j], o->segments[k])) {
                    return fail(ctx, "segments", "segment %s is already "
                                "exported by export %s%s", e->segments[j],
                                o->name, at_line(o->line, buf));
                }
            }
        }
        if (e->n_segments && o->n_segments
            && policy_export_collector_set_id(e->name)
               == policy_export_collector_set_id(o->name)) {
            return fail(ctx, "name", "its collector set ID clashes with "
                        "export %s%s's: choose another name", o->name,
                        at_line(o->line, buf));
        }
    }
    return true;
}

static bool
export_check_refs(const void *obj, const struct obj_ctx *ctx)
{
    const struct policy_export *e = obj;

    for (size_t i = 0; i < e->n_segments; i++) {
        if (!policy_find_segment(ctx->p, e->segments[i])) {
            return fail(ctx, "segments", "unknown segment \"%s\"",
                        e->segments[i]);
        }
    }
    return true;
}

uint32_t
policy_export_collector_set_id(const char *name)
{
    uint32_t hash = 2166136261u;            /* FNV-1a, 32 bits. */
    for (const char *s = name; *s; s++) {
        hash = (hash ^ (unsigned char) *s) * 16777619u;
    }
    return hash ? hash : 1;
}

static void
export_format(const void *obj, struct sbuf *b)
{
    const struct policy_export *e = obj;

    sbuf_printf(b, "export %s %s", e->name,
                policy_export_type_to_string(e->type));
    buf_put_list(b, " collectors=", e->collectors, e->n_collectors, false);
    buf_put_list(b, " segments=", e->segments, e->n_segments, false);
    for (size_t i = 0; i < ARRAY_SIZE(export_options); i++) {
        const struct export_option *o = &export_options[i];
        int v = *export_option_value(e, o);

        if (v) {
            sbuf_printf(b, " %s=%d", export_keys[o->key].name, v);
        }
    }
}

static void
export_clone(void *dst_, const void *src_)
{
    struct policy_export *dst = dst_;
    const struct policy_export *src = src_;

    *dst = *src;
    dst->name = xstrdup(src->name);
    dst->collectors = strv_clone(src->collectors, src->n_collectors);
    dst->segments = strv_clone(src->segments, src->n_segments);
}

static void
export_destroy(void *obj)
{
    struct policy_export *e = obj;

    free(e->name);
    strv_free(e->collectors, e->n_collectors);
    strv_free(e->segments, e->n_segments);
}

#define KIND(ENUM, NAME, TYPE, MEMBER, NS, ACTION, PREFIX)              \
    [ENUM] = {                                                          \
        .name = NAME,                                                   \
        .array_ofs = offsetof(struct policy, MEMBER),                   \
        .count_ofs = offsetof(struct policy, n_##MEMBER),               \
        .size = sizeof(struct TYPE),                                    \
        .line_ofs = offsetof(struct TYPE, line),                        \
        .ns = NS,                                                       \
        .has_action = ACTION,                                           \
        .keys = PREFIX##_keys,                                          \
        .n_keys = ARRAY_SIZE(PREFIX##_keys),                            \
        .parse = PREFIX##_parse,                                        \
        .check = PREFIX##_check,                                        \
        .check_refs = PREFIX##_check_refs,                              \
        .format = PREFIX##_format,                                      \
        .clone = PREFIX##_clone,                                        \
        .destroy = PREFIX##_destroy,                                    \
    }

static const struct kind_class kinds[N_KINDS] = {
    KIND(K_SEGMENT, "segment", policy_segment, segments, K_SEGMENT, false,
         segment),
    KIND(K_GROUP, "group", policy_group, groups, K_SEGMENT, false, group),
    KIND(K_RULE, "rule", policy_rule, rules, K_RULE, true, rule),
    KIND(K_MIRROR, "mirror", policy_mirror, mirrors, K_MIRROR, false,
         mirror),
    KIND(K_LIMIT, "limit", policy_limit, limits, K_LIMIT, false, limit),
    KIND(K_EXPORT, "export", policy_export, exports, K_EXPORT, false,
         export),
};

/* Parsing. */

/* Splits 'line' in place into words separated by spaces or tabs, up to a
 * word starting with '#'.  Returns the number of words; caller frees
 * '*wordsp'. */
static size_t
split_words(char *line, char ***wordsp)
{
    char **words = NULL;
    size_t n = 0;

    for (char *s = line; ; ) {
        s += strspn(s, " \t\r\v\f");
        if (!*s || *s == '#') {
            break;
        }
        words = xrealloc(words, (n + 1) * sizeof *words);
        words[n++] = s;
        s += strcspn(s, " \t\r\v\f");
        if (*s) {
            *s++ = '\0';
        }
    }
    *wordsp = words;
    return n;
}

static const char *
key_list(const struct kind_class *kc, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < kc->n_keys && len < size; i++) {
        len += snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
                        kc->keys[i].name);
    }
    return buf;
}

/* Parses an object of kind 'k' from 'words' (its name first, then the
 * rest of its line) and appends it to 'p', unchecked but for its syntax.
 * On error fills '*error' and leaves 'p' unchanged. */
static bool
parse_object(struct policy *p, enum kind k, char **words, size_t n,
             int line, struct policy_error *error)
{
    const struct kind_class *kc = &kinds[k];
    struct obj_ctx ctx = {
        .p = p, .kind = k, .line = line, .error = error,
        .name = n ? words[0] : "",
    };

    if (!n) {
        return set_error(error, line, "name", "%s: missing name", kc->name);
    } else if (!check_name(&ctx)) {
        return false;
    }

    void *obj = xzalloc(kc->size);
    *(char **) obj = xstrdup(words[0]);
    *(int *) ((char *) obj + kc->line_ofs) = line;

    size_t w = 1;
    if (kc->has_action) {
        /* Only rules have one. */
        int action = (w < n ? enum_from_string(action_names,
                                               ARRAY_SIZE(action_names),
                                               words[w])
                      : -1);
        if (w >= n) {
            fail(&ctx, "action", "expected allow or deny after the name");
            goto error;
        } else if (action < 0) {
            fail(&ctx, "action", "expected allow or deny after the name, "
                 "not \"%s\"", words[w]);
            goto error;
        }
        ((struct policy_rule *) obj)->action = action;
        w++;
    }

    const char *vals[MAX_KEYS] = { NULL };
    for (; w < n; w++) {
        char *word = words[w];
        char *eq = strchr(word, '=');
        char known[128];
        size_t i;

        if (eq) {
            *eq = '\0';
        }
        for (i = 0; i < kc->n_keys; i++) {
            if (!strcmp(word, kc->keys[i].name)) {
                break;
            }
        }
        if (i >= kc->n_keys) {
            fail(&ctx, word, "unknown %s \"%s\" (expected %s)",
                 eq ? "key" : "flag", word, key_list(kc, known, sizeof known));
            goto error;
        } else if (vals[i]) {
            fail(&ctx, word, "%s given twice", word);
            goto error;
        } else if (kc->keys[i].flag && eq) {
            fail(&ctx, word, "%s is a flag and takes no value", word);
            goto error;
        } else if (!kc->keys[i].flag && (!eq || !eq[1])) {
            fail(&ctx, word, "%s needs a value (%s=...)", word, word);
            goto error;
        }
        vals[i] = eq ? eq + 1 : "";
    }
    for (size_t i = 0; i < kc->n_keys; i++) {
        if (kc->keys[i].required && !vals[i]) {
            fail(&ctx, kc->keys[i].name, "missing %s=", kc->keys[i].name);
            goto error;
        }
    }
    if (!kc->parse(obj, vals, &ctx)) {
        goto error;
    }

    size_t *count = obj_count(p, k);
    char **array = obj_array(p, k);
    *array = xrealloc(*array, (*count + 1) * kc->size);
    memcpy(*array + *count * kc->size, obj, kc->size);
    ++*count;
    free(obj);
    return true;

error:
    kc->destroy(obj);
    free(obj);
    return false;
}

/* Checks what every object refers to, then that groups have no loops. */
static bool
validate_refs(const struct policy *p, struct policy_error *error)
{
    size_t n_objs;
    struct position *order = sorted_positions(p, &n_objs);

    for (size_t i = 0; i < n_objs; i++) {
        enum kind k = order[i].kind;
        struct obj_ctx ctx = make_ctx(p, k, order[i].idx, error);

        if (!kinds[k].check_refs(obj_at(p, k, order[i].idx), &ctx)) {
            free(order);
            return false;
        }
    }
    free(order);

    size_t n = p->n_groups;
    unsigned char *state = xzalloc(n);
    size_t *stack = xmalloc(n * sizeof *stack);
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        if (!state[i]) {
            ok = find_group_loop(p, i, state, stack, 0, error);
        }
    }
    free(state);
    free(stack);
    return ok;
}

int
policy_parse(const char *text, struct policy **policyp,
             struct policy_error *error)
{
    struct policy *p = policy_create();
    int line_number = 0;
    bool ok = true;

    memset(error, 0, sizeof *error);
    for (const char *s = text; ok && *s; ) {
        size_t len = strcspn(s, "\n");
        char *line = strndup(s, len);
        char **words;
        size_t n;
        enum kind k;

        if (!line) {
            abort();
        }
        line_number++;
        n = split_words(line, &words);
        if (!n) {
            /* Blank or comment. */
        } else if (!kind_from_string(words[0], &k)) {
            char names[128];
            ok = set_error(error, line_number, "kind", "unknown kind \"%s\" "
                           "(expected %s)", words[0],
                           kind_names(names, sizeof names));
        } else if (parse_object(p, k, words + 1, n - 1, line_number,
                                error)) {
            struct obj_ctx ctx = make_ctx(p, k, *obj_count(p, k) - 1,
                                          error);
            ok = check_object(&ctx);
        } else {
            ok = false;
        }
        free(words);
        free(line);
        s += len + (s[len] == '\n');
    }
    if (ok) {
        ok = validate_refs(p, error);
    }
    if (!ok) {
        policy_destroy(p);
        *policyp = NULL;
        return EINVAL;
    }
    *policyp = p;
    return 0;
}

/* Validation. */

int
policy_validate(const struct policy *p, struct policy_error *error)
{
    size_t n;
    struct position *order = sorted_positions(p, &n);
    bool ok = true;

    memset(error, 0, sizeof *error);
    for (size_t i = 0; ok && i < n; i++) {
        struct obj_ctx ctx = make_ctx(p, order[i].kind, order[i].idx, error);
        ok = check_object(&ctx);
    }
    free(order);
    return ok && validate_refs(p, error) ? 0 : EINVAL;
}

/* Creation, copies, lookups. */

struct policy *
policy_create(void)
{
    struct policy *p = xzalloc(sizeof *p);
    return p;
}

void
policy_destroy(struct policy *p)
{
    if (!p) {
        return;
    }
    for (int k = 0; k < N_KINDS; k++) {
        for (size_t i = 0; i < *obj_count(p, k); i++) {
            kinds[k].destroy(obj_at(p, k, i));
        }
        free(*obj_array(p, k));
    }
    free(p);
}

struct policy *
policy_clone(const struct policy *p)
{
    struct policy *clone = policy_create();

    for (int k = 0; k < N_KINDS; k++) {
        size_t n = *obj_count(p, k);

        *obj_array(clone, k) = n ? xmalloc(n * kinds[k].size) : NULL;
        for (size_t i = 0; i < n; i++) {
            kinds[k].clone(obj_at(clone, k, i), obj_at(p, k, i));
        }
        *obj_count(clone, k) = n;
    }
    return clone;
}

static const void *
find(const struct policy *p, enum kind k, const char *name)
{
    size_t i = obj_find(p, k, name);
    return i == SIZE_MAX ? NULL : obj_at(p, k, i);
}

const struct policy_segment *
policy_find_segment(const struct policy *p, const char *name)
{
    return find(p, K_SEGMENT, name);
}

const struct policy_group *
policy_find_group(const struct policy *p, const char *name)
{
    return find(p, K_GROUP, name);
}

const struct policy_rule *
policy_find_rule(const struct policy *p, const char *name)
{
    return find(p, K_RULE, name);
}

const struct policy_mirror *
policy_find_mirror(const struct policy *p, const char *name)
{
    return find(p, K_MIRROR, name);
}

const struct policy_limit *
policy_find_limit(const struct policy *p, const char *name)
{
    return find(p, K_LIMIT, name);
}

const struct policy_export *
policy_find_export(const struct policy *p, const char *name)
{
    return find(p, K_EXPORT, name);
}

/* Formatting and diff. */

struct named {
    const char *name;
    size_t idx;
};

static int
compare_named(const void *a_, const void *b_)
{
    const struct named *a = a_, *b = b_;
    int cmp = strcmp(a->name, b->name);

    return cmp ? cmp : a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* The objects of kind 'k' in 'p', sorted by name.  Caller frees. */
static struct named *
sort_by_name(const struct policy *p, enum kind k)
{
    size_t n = *obj_count(p, k);
    struct named *sorted = xmalloc(n * sizeof *sorted);

    for (size_t i = 0; i < n; i++) {
        sorted[i] = (struct named) { obj_name(p, k, i), i };
    }
    qsort(sorted, n, sizeof *sorted, compare_named);
    return sorted;
}

/* The canonical line of an object.  Caller frees. */
static char *
format_object(const struct policy *p, enum kind k, size_t i)
{
    struct sbuf b = SBUF_INITIALIZER;

    kinds[k].format(obj_at(p, k, i), &b);
    return sbuf_steal(&b);
}

char *
policy_format(const struct policy *p)
{
    struct sbuf b = SBUF_INITIALIZER;

    for (int k = 0; k < N_KINDS; k++) {
        struct named *sorted = sort_by_name(p, k);
        for (size_t i = 0; i < *obj_count(p, k); i++) {
            kinds[k].format(obj_at(p, k, sorted[i].idx), &b);
            sbuf_put(&b, "\n");
        }
        free(sorted);
    }
    return sbuf_steal(&b);
}

bool
policy_equal(const struct policy *a, const struct policy *b)
{
    char *fa = policy_format(a);
    char *fb = policy_format(b);
    bool equal = !strcmp(fa, fb);

    free(fa);
    free(fb);
    return equal;
}

char *
policy_diff(const struct policy *old, const struct policy *new)
{
    struct sbuf b = SBUF_INITIALIZER;

    for (int k = 0; k < N_KINDS; k++) {
        struct named *o = sort_by_name(old, k);
        struct named *n = sort_by_name(new, k);
        size_t n_o = *obj_count(old, k), n_n = *obj_count(new, k);
        size_t i = 0, j = 0;

        while (i < n_o || j < n_n) {
            int cmp = (i >= n_o ? 1
                       : j >= n_n ? -1
                       : strcmp(o[i].name, n[j].name));
            if (cmp < 0) {
                char *s = format_object(old, k, o[i++].idx);
                sbuf_printf(&b, "- %s\n", s);
                free(s);
            } else if (cmp > 0) {
                char *s = format_object(new, k, n[j++].idx);
                sbuf_printf(&b, "+ %s\n", s);
                free(s);
            } else {
                char *s = format_object(old, k, o[i++].idx);
                char *t = format_object(new, k, n[j++].idx);
                if (strcmp(s, t)) {
                    sbuf_printf(&b, "~ %s %s: %s -> %s\n", kinds[k].name,
                               obj_name(new, k, n[j - 1].idx), s, t);
                }
                free(s);
                free(t);
            }
        }
        free(o);
        free(n);
    }
    return sbuf_steal(&b);
}

char *
policy_error_format(const struct policy_error *error, const char *file_name)
{
    struct sbuf b = SBUF_INITIALIZER;

    if (file_name) {
        sbuf_printf(&b, "%s:", file_name);
        if (error->line > 0) {
            sbuf_printf(&b, "%d:", error->line);
        }
        sbuf_put(&b, " ");
    } else if (error->line > 0) {
        sbuf_printf(&b, "line %d: ", error->line);
    }
    if (error->field[0]) {
        sbuf_printf(&b, "%s: ", error->field);
    }
    sbuf_put(&b, error->msg);
    return sbuf_steal(&b);
}

/* Editing. */

int
policy_add_line(struct policy *p, const char *kind, const char *line,
                struct policy_error *error)
{
    enum kind k;

    memset(error, 0, sizeof *error);
    if (!kind_from_string(kind, &k)) {
        char names[128];
        set_error(error, 0, "kind", "unknown kind \"%s\" (expected %s)",
                  kind, kind_names(names, sizeof names));
        return EINVAL;
    }

    char *copy = xstrdup(line);
    char **words;
    size_t n = split_words(copy, &words);
    bool ok = parse_object(p, k, words, n, 0, error);
    free(words);
    free(copy);
    if (!ok) {
        return EINVAL;
    }

    /* Check the new object against all the others first, so that a clash
     * is reported on the new object, then everything. */
    size_t *count = obj_count(p, k);
    struct obj_ctx ctx = make_ctx(p, k, *count - 1, error);
    ctx.vs_all = true;
    if (!check_object(&ctx) || policy_validate(p, error)) {
        --*count;
        kinds[k].destroy(obj_at(p, k, *count));
        return EINVAL;
    }
    return 0;
}

/* Finds an object that refers to segment or group 'name'; if there is one,
 * fills '*error' about it and returns true. */
static bool
find_referrer(const struct policy *p, enum kind k, const char *name,
              struct policy_error *error)
{
    const char *what = kinds[k].name;

    for (size_t i = 0; i < p->n_groups; i++) {
        const struct policy_group *g = &p->groups[i];
        const char *field = NULL;

        for (size_t j = 0; j < g->n_segments && !field; j++) {
            field = !strcmp(g->segments[j], name) ? "segments" : NULL;
        }
        for (size_t j = 0; j < g->n_groups && !field; j++) {
            field = !strcmp(g->groups[j], name) ? "groups" : NULL;
        }
        if (field) {
            return !set_error(error, g->line, field, "%s %s is still used "
                              "by group %s", what, name, g->name);
        }
    }
    for (size_t i = 0; i < p->n_rules; i++) {
        const struct policy_rule *r = &p->rules[i];
        const char *field = (streq(r->from, name) ? "from"
                             : streq(r->to, name) ? "to" : NULL);
        if (field) {
            return !set_error(error, r->line, field, "%s %s is still used "
                              "by rule %s", what, name, r->name);
        }
    }
    enum policy_ref type = (k == K_GROUP ? POLICY_REF_GROUP
                            : POLICY_REF_SEGMENT);
    for (size_t i = 0; i < p->n_mirrors; i++) {
        const struct policy_mirror *m = &p->mirrors[i];
        if (targets_name(m->sources, m->n_sources, type, name)) {
            return !set_error(error, m->line, "sources", "%s %s is still "
                              "used by mirror %s", what, name, m->name);
        }
    }
    for (size_t i = 0; i < p->n_limits; i++) {
        const struct policy_limit *l = &p->limits[i];
        if (targets_name(l->targets, l->n_targets, type, name)) {
            return !set_error(error, l->line, "targets", "%s %s is still "
                              "used by limit %s", what, name, l->name);
        }
    }
    for (size_t i = 0; k == K_SEGMENT && i < p->n_exports; i++) {
        const struct policy_export *e = &p->exports[i];
        for (size_t j = 0; j < e->n_segments; j++) {
            if (!strcmp(e->segments[j], name)) {
                return !set_error(error, e->line, "segments", "%s %s is "
                                  "still used by export %s", what, name,
                                  e->name);
            }
        }
    }
    return false;
}

/* Removes object 'i' of kind 'k' from 'p' and returns it (malloc'd). */
static void *
take_out(struct policy *p, enum kind k, size_t i)
{
    const struct kind_class *kc = &kinds[k];
    char *array = *obj_array(p, k);
    size_t *count = obj_count(p, k);
    void *obj = xmalloc(kc->size);

    memcpy(obj, array + i * kc->size, kc->size);
    memmove(array + i * kc->size, array + (i + 1) * kc->size,
            (*count - i - 1) * kc->size);
    --*count;
    return obj;
}

/* Undoes take_out(), freeing 'obj' (not its content). */
static void
put_back(struct policy *p, enum kind k, size_t i, void *obj)
{
    const struct kind_class *kc = &kinds[k];
    char *array = *obj_array(p, k);
    size_t *count = obj_count(p, k);

    /* take_out() left room: arrays never shrink. */
    memmove(array + (i + 1) * kc->size, array + i * kc->size,
            (*count - i) * kc->size);
    memcpy(array + i * kc->size, obj, kc->size);
    ++*count;
    free(obj);
}

int
policy_del(struct policy *p, const char *kind, const char *name,
           struct policy_error *error)
{
    enum kind k;

    memset(error, 0, sizeof *error);
    if (!kind_from_string(kind, &k)) {
        char names[128];
        set_error(error, 0, "kind", "unknown kind \"%s\" (expected %s)",
                  kind, kind_names(names, sizeof names));
        return EINVAL;
    }

    size_t i = obj_find(p, k, name);
    if (i == SIZE_MAX) {
        set_error(error, 0, "name", "no %s named \"%s\"", kind, name);
        return ENOENT;
    }
    if ((k == K_SEGMENT || k == K_GROUP) && find_referrer(p, k, name, error)) {
        return EINVAL;
    }

    /* Take it out, and put it back if the rest is not valid. */
    void *obj = take_out(p, k, i);
    if (policy_validate(p, error)) {
        put_back(p, k, i, obj);
        return EINVAL;
    }
    kinds[k].destroy(obj);
    free(obj);
    return 0;
}

int
policy_put_line(struct policy *p, const char *kind, const char *line,
                struct policy_error *error)
{
    enum kind k;
    if (!kind_from_string(kind, &k)) {
        return policy_add_line(p, kind, line, error);
    }

    /* The name is the first word. */
    char *copy = xstrdup(line);
    char **words;
    size_t n = split_words(copy, &words);
    size_t i = n ? obj_find(p, k, words[0]) : SIZE_MAX;
    free(words);
    free(copy);
    if (i == SIZE_MAX) {
        return policy_add_line(p, kind, line, error);
    }

    void *old = take_out(p, k, i);
    int retval = policy_add_line(p, kind, line, error);
    if (retval) {
        put_back(p, k, i, old);
    } else {
        kinds[k].destroy(old);
        free(old);
    }
    return retval;
}
