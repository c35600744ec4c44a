/* msgpack-RPC framing and encoding (see rpc-codec.h). */
#include "rpc-codec.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of a message kept to recover its msgid when it turns out to be
 * oversized or malformed: enough for an array32 header, the type and a
 * uint64 msgid. */
#define PREFIX_SIZE 16

/* Framing scanner: follows the structure of msgpack objects without
 * building them, to find where each message ends and to check its size.
 * One counter of objects still expected suffices: every header consumes one
 * and adds its elements. */
struct rpc_scanner {
    uint64_t need;              /* Objects still to come in this message. */
    uint64_t skip;              /* Payload bytes still to skip. */
    uint64_t size;              /* Bytes of this message so far. */
    uint64_t claimed;           /* Elements its arrays and maps declared. */
    uint8_t hdr[9];             /* Header being received. */
    unsigned int hdr_have;
    unsigned int hdr_need;
};

enum scan_result {
    SCAN_MORE,                  /* Consumed everything, message unfinished. */
    SCAN_COMPLETE,              /* A message ended. */
    SCAN_BAD_BYTE,              /* A byte that starts no msgpack object. */
    SCAN_TOO_LARGE,             /* The message cannot fit the limit. */
};

struct rpc_decoder {
    msgpack_unpacker unpacker;
    struct rpc_scanner scanner;
    size_t max_msg_size;
    size_t n_ready;             /* Complete messages not yet returned. */
    bool failed;
    struct rpc_protocol_error error; /* If 'failed'. */
    uint8_t prefix[PREFIX_SIZE];     /* First bytes of the current
                                      * message. */
    size_t prefix_len;
};

static enum scan_result scan(struct rpc_scanner *, const uint8_t *, size_t n,
                             uint64_t max, size_t *usedp);
static bool scanner_at_start(const struct rpc_scanner *);
static bool recover_msgid(const uint8_t *, size_t n, uint32_t *msgid);
static void set_error(struct rpc_protocol_error *, const char *code,
                      const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void json_value(FILE *, const msgpack_object *, int indent,
                       int level);

struct rpc_decoder *
rpc_decoder_create(size_t max_msg_size)
{
    struct rpc_decoder *dec = calloc(1, sizeof *dec);
    if (!dec || !msgpack_unpacker_init(&dec->unpacker,
                                       MSGPACK_UNPACKER_INIT_BUFFER_SIZE)) {
        abort();
    }
    dec->max_msg_size = max_msg_size ? max_msg_size
                                     : RPC_MAX_MSG_SIZE_DEFAULT;
    return dec;
}

void
rpc_decoder_destroy(struct rpc_decoder *dec)
{
    if (dec) {
        msgpack_unpacker_destroy(&dec->unpacker);
        free(dec);
    }
}

void
rpc_decoder_feed(struct rpc_decoder *dec, const void *data_, size_t n)
{
    const uint8_t *data = data_;
    while (n > 0) {
        size_t size;
        size_t chunk = n < 65536 ? n : 65536;
        void *buf = rpc_decoder_get_buffer(dec, chunk, &size);
        memcpy(buf, data, chunk);
        rpc_decoder_commit(dec, chunk);
        data += chunk;
        n -= chunk;
    }
}

void *
rpc_decoder_get_buffer(struct rpc_decoder *dec, size_t min_size,
                       size_t *sizep)
{
    if (!msgpack_unpacker_reserve_buffer(&dec->unpacker, min_size)) {
        abort();
    }
    *sizep = msgpack_unpacker_buffer_capacity(&dec->unpacker);
    return msgpack_unpacker_buffer(&dec->unpacker);
}

static void
decoder_fail(struct rpc_decoder *dec, enum scan_result r, uint8_t byte)
{
    struct rpc_protocol_error *e = &dec->error;
    if (r == SCAN_BAD_BYTE) {
        set_error(e, RPC_E_PARSE, "not msgpack: byte 0x%02x at offset "
                  "%"PRIu64" of a message starts no msgpack object", byte,
                  dec->scanner.size);
    } else {
        /* Each element still expected needs at least one byte. */
        set_error(e, RPC_E_TOO_LARGE, "message too large: it declares at "
                  "least %"PRIu64" bytes, over the %zu-byte limit",
                  dec->scanner.size + dec->scanner.need,
                  dec->max_msg_size);
    }
    e->has_msgid = recover_msgid(dec->prefix, dec->prefix_len, &e->msgid);
    dec->failed = true;
}

void
rpc_decoder_commit(struct rpc_decoder *dec, size_t n)
{
    const uint8_t *p = (const uint8_t *) msgpack_unpacker_buffer(
        &dec->unpacker);
    size_t i = 0;

    while (i < n && !dec->failed) {
        if (scanner_at_start(&dec->scanner)) {
            dec->prefix_len = 0;
        }
        size_t used;
        enum scan_result r = scan(&dec->scanner, p + i, n - i,
                                  dec->max_msg_size, &used);
        size_t room = PREFIX_SIZE - dec->prefix_len;
        size_t copy = used < room ? used : room;
        memcpy(dec->prefix + dec->prefix_len, p + i, copy);
        dec->prefix_len += copy;

        if (r == SCAN_COMPLETE) {
            dec->n_ready++;
        } else if (r != SCAN_MORE) {
            decoder_fail(dec, r, p[i + used]);
        }
        i += used;
    }
    /* Bytes after an error are never parsed: msgpack-c is only asked for
     * the 'n_ready' messages before it. */
    msgpack_unpacker_buffer_consumed(&dec->unpacker, n);
}

enum rpc_decode_status
rpc_decoder_next(struct rpc_decoder *dec, msgpack_unpacked *msg,
                 struct rpc_protocol_error *error)
{
    if (dec->n_ready) {
        msgpack_unpack_return ret = msgpack_unpacker_next(&dec->unpacker,
                                                          msg);
        if (ret == MSGPACK_UNPACK_SUCCESS) {
            dec->n_ready--;
            return RPC_DECODE_MESSAGE;
        }
        /* The scanner accepted it, so msgpack-c ran out of memory or of
         * nesting depth (it allows 32 levels). */
        dec->n_ready = 0;
        dec->failed = true;
        set_error(&dec->error, RPC_E_PARSE, "message nests deeper than "
                  "msgpack-c's limit (32 levels) or exhausted memory");
    }
    if (dec->failed) {
        *error = dec->error;
        return RPC_DECODE_ERROR;
    }
    return RPC_DECODE_AGAIN;
}

size_t
rpc_decoder_partial_size(const struct rpc_decoder *dec)
{
    return dec->scanner.size;
}

/* Message shapes. */

static bool
get_uint32(const msgpack_object *obj, uint32_t *value)
{
    if (obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER
        && obj->via.u64 <= UINT32_MAX) {
        *value = obj->via.u64;
        return true;
    }
    return false;
}

static bool
is_uint(const msgpack_object *obj, uint64_t value)
{
    return obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER
           && obj->via.u64 == value;
}

bool
rpc_parse_request(const msgpack_object *obj, struct rpc_request_msg *req,
                  struct rpc_protocol_error *error)
{
    memset(req, 0, sizeof *req);
    memset(error, 0, sizeof *error);
    if (obj->type != MSGPACK_OBJECT_ARRAY) {
        set_error(error, RPC_E_INVALID_REQUEST, "request must be an array "
                  "[0, msgid, method, params] (got %s)", rpc_type_name(obj));
        return false;
    }

    const msgpack_object_array *a = &obj->via.array;
    if (a->size >= 2 && is_uint(&a->ptr[0], 0)) {
        error->has_msgid = get_uint32(&a->ptr[1], &error->msgid);
    }
    if (a->size == 3 && is_uint(&a->ptr[0], 2)) {
        set_error(error, RPC_E_INVALID_REQUEST, "notifications [2, method, "
                  "params] are not supported; send requests");
        return false;
    }
    if (a->size != 4) {
        set_error(error, RPC_E_INVALID_REQUEST, "request must have 4 "
                  "elements [0, msgid, method, params] (got %"PRIu32")",
                  a->size);
        return false;
    }
    if (!is_uint(&a->ptr[0], 0)) {
        if (a->ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            set_error(error, RPC_E_INVALID_REQUEST, "message type must be 0 "
                      "(request) (got %"PRIu64")", a->ptr[0].via.u64);
        } else {
            set_error(error, RPC_E_INVALID_REQUEST, "message type must be 0 "
                      "(request) (got %s)", rpc_type_name(&a->ptr[0]));
        }
        return false;
    }
    if (!get_uint32(&a->ptr[1], &req->msgid)) {
        set_error(error, RPC_E_INVALID_REQUEST, "msgid must be an unsigned "
                  "32-bit integer (got %s%s)",
                  a->ptr[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER
                  ? "too large " : "", rpc_type_name(&a->ptr[1]));
        return false;
    }
    if (a->ptr[2].type != MSGPACK_OBJECT_STR || !a->ptr[2].via.str.size) {
        set_error(error, RPC_E_INVALID_REQUEST, "method must be a non-empty "
                  "string (got %s%s)",
                  a->ptr[2].type == MSGPACK_OBJECT_STR ? "empty " : "",
                  rpc_type_name(&a->ptr[2]));
        return false;
    }
    if (a->ptr[3].type != MSGPACK_OBJECT_ARRAY) {
        set_error(error, RPC_E_INVALID_REQUEST, "params must be an array "
                  "(got %s)", rpc_type_name(&a->ptr[3]));
        return false;
    }
    req->method = a->ptr[2].via.str.ptr;
    req->method_len = a->ptr[2].via.str.size;
    req->params = &a->ptr[3];
    return true;
}

bool
rpc_parse_response(const msgpack_object *obj, struct rpc_response_msg *resp,
                   struct rpc_protocol_error *error)
{
    memset(resp, 0, sizeof *resp);
    memset(error, 0, sizeof *error);
    if (obj->type != MSGPACK_OBJECT_ARRAY || obj->via.array.size != 4
        || !is_uint(&obj->via.array.ptr[0], 1)) {
        set_error(error, RPC_E_INVALID_REQUEST, "response is not an array "
                  "[1, msgid, error, result]");
        return false;
    }

    const msgpack_object *e = obj->via.array.ptr;
    if (e[1].type == MSGPACK_OBJECT_NIL) {
        resp->has_msgid = false;
    } else if (get_uint32(&e[1], &resp->msgid)) {
        resp->has_msgid = true;
    } else {
        set_error(error, RPC_E_INVALID_REQUEST, "response msgid is a %s, "
                  "not an unsigned 32-bit integer or nil",
                  rpc_type_name(&e[1]));
        return false;
    }
    resp->error = e[2].type == MSGPACK_OBJECT_NIL ? NULL : &e[2];
    resp->result = &e[3];
    return true;
}

/* Encoding. */

static void
pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

void
rpc_pack_request_header(msgpack_packer *pk, uint32_t msgid,
                        const char *method, uint32_t n_params)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint8(pk, 0);
    msgpack_pack_uint32(pk, msgid);
    pack_str(pk, method);
    msgpack_pack_array(pk, n_params);
}

void
rpc_pack_response_header(msgpack_packer *pk, uint32_t msgid)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint8(pk, 1);
    msgpack_pack_uint32(pk, msgid);
    msgpack_pack_nil(pk);
}

void
rpc_pack_error_response(msgpack_packer *pk, const uint32_t *msgid,
                        const char *code, const char *message,
                        const char *field, int line)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint8(pk, 1);
    if (msgid) {
        msgpack_pack_uint32(pk, *msgid);
    } else {
        msgpack_pack_nil(pk);
    }
    rpc_pack_error(pk, code, message, field, line);
    msgpack_pack_nil(pk);
}

void
rpc_pack_error(msgpack_packer *pk, const char *code, const char *message,
               const char *field, int line)
{
    msgpack_pack_map(pk, 4);
    rpc_pack_kv_string(pk, "code", code);
    rpc_pack_kv_string(pk, "message", message ? message : code);
    rpc_pack_kv_string(pk, "field", field);
    rpc_pack_key(pk, "line");
    if (line > 0) {
        msgpack_pack_int(pk, line);
    } else {
        msgpack_pack_nil(pk);
    }
}

void
rpc_pack_string(msgpack_packer *pk, const char *s)
{
    if (s) {
        pack_str(pk, s);
    } else {
        msgpack_pack_nil(pk);
    }
}

void
rpc_pack_key(msgpack_packer *pk, const char *key)
{
    pack_str(pk, key);
}

void
rpc_pack_kv_string(msgpack_packer *pk, const char *key, const char *value)
{
    pack_str(pk, key);
    rpc_pack_string(pk, value);
}

void
rpc_pack_kv_int(msgpack_packer *pk, const char *key, int64_t value)
{
    pack_str(pk, key);
    msgpack_pack_int64(pk, value);
}

void
rpc_pack_kv_uint(msgpack_packer *pk, const char *key, uint64_t value)
{
    pack_str(pk, key);
    msgpack_pack_uint64(pk, value);
}

void
rpc_pack_kv_bool(msgpack_packer *pk, const char *key, bool value)
{
    pack_str(pk, key);
    if (value) {
        msgpack_pack_true(pk);
    } else {
        msgpack_pack_false(pk);
    }
}

void
rpc_pack_kv_double(msgpack_packer *pk, const char *key, double value)
{
    pack_str(pk, key);
    msgpack_pack_double(pk, value);
}

long long int
rpc_count_objects(const void *data_, size_t n)
{
    const uint8_t *data = data_;
    struct rpc_scanner s;
    long long int count = 0;
    size_t i = 0;

    memset(&s, 0, sizeof s);
    while (i < n) {
        size_t used;
        enum scan_result r = scan(&s, data + i, n - i, n, &used);
        if (r == SCAN_COMPLETE) {
            count++;
        } else {
            return -1;
        }
        i += used;
    }
    return count;
}

/* Reading objects. */

const msgpack_object *
rpc_map_get(const msgpack_object *map, const char *key)
{
    if (map && map->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < map->via.map.size; i++) {
            const msgpack_object_kv *kv = &map->via.map.ptr[i];
            if (rpc_str_equals(&kv->key, key)) {
                return &kv->val;
            }
        }
    }
    return NULL;
}

bool
rpc_str_equals(const msgpack_object *obj, const char *s)
{
    size_t len = strlen(s);
    return (obj && obj->type == MSGPACK_OBJECT_STR
            && obj->via.str.size == len
            && !memcmp(obj->via.str.ptr, s, len));
}

char *
rpc_str_dup(const msgpack_object *obj)
{
    if (!obj || obj->type != MSGPACK_OBJECT_STR
        || memchr(obj->via.str.ptr, '\0', obj->via.str.size)) {
        return NULL;
    }
    char *s = malloc(obj->via.str.size + 1);
    if (!s) {
        abort();
    }
    memcpy(s, obj->via.str.ptr, obj->via.str.size);
    s[obj->via.str.size] = '\0';
    return s;
}

const char *
rpc_type_name(const msgpack_object *obj)
{
    switch (obj->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return "integer";
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "negative integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "float";
    case MSGPACK_OBJECT_STR: return "string";
    case MSGPACK_OBJECT_ARRAY: return "array";
    case MSGPACK_OBJECT_MAP: return "map";
    case MSGPACK_OBJECT_BIN: return "binary";
    case MSGPACK_OBJECT_EXT: return "extension";
    }
    return "unknown";
}

void
rpc_json_write(FILE *out, const msgpack_object *obj, int indent)
{
    json_value(out, obj, indent > 0 ? indent : 0, 0);
}

/* Static helpers. */

static void
set_error(struct rpc_protocol_error *e, const char *code,
          const char *format, ...)
{
    va_list args;
    e->code = code;
    va_start(args, format);
    vsnprintf(e->message, sizeof e->message, format, args);
    va_end(args);
}

static uint64_t
get_be(const uint8_t *p, unsigned int n)
{
    uint64_t v = 0;
    for (unsigned int i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* Length of the header that starts with 'b' (0 if 'b' is never valid).
 * Fixed-size scalars count as all header. */
static unsigned int
header_len(uint8_t b)
{
    if (b <= 0xbf || b >= 0xe0) {
        return 1;               /* Fixints, fixmap, fixarray, fixstr. */
    }
    switch (b) {
    case 0xc1:
        return 0;
    case 0xc4: case 0xc7: case 0xcc: case 0xd0: case 0xd9:
        return 2;
    case 0xc5: case 0xc8: case 0xcd: case 0xd1: case 0xda: case 0xdc:
    case 0xde:
        return 3;
    case 0xc6: case 0xc9: case 0xca: case 0xce: case 0xd2: case 0xdb:
    case 0xdd: case 0xdf:
        return 5;
    case 0xcb: case 0xcf: case 0xd3:
        return 9;
    default:
        return 1;               /* nil, booleans, fixext. */
    }
}

/* From a complete header: the elements it declares (a map's keys and
 * values both count) and the payload bytes that follow. */
static void
header_decode(const uint8_t *h, uint64_t *countp, uint64_t *payloadp)
{
    uint8_t b = h[0];
    uint64_t count = 0, payload = 0;

    if (b >= 0x80 && b <= 0x8f) {
        count = 2 * (b & 0x0f);
    } else if (b >= 0x90 && b <= 0x9f) {
        count = b & 0x0f;
    } else if (b >= 0xa0 && b <= 0xbf) {
        payload = b & 0x1f;
    } else {
        switch (b) {
        case 0xc4: case 0xd9: payload = h[1]; break;
        case 0xc5: case 0xda: payload = get_be(h + 1, 2); break;
        case 0xc6: case 0xdb: payload = get_be(h + 1, 4); break;
        case 0xc7: payload = h[1] + 1; break;     /* + type byte. */
        case 0xc8: payload = get_be(h + 1, 2) + 1; break;
        case 0xc9: payload = get_be(h + 1, 4) + 1; break;
        case 0xd4: payload = 2; break;
        case 0xd5: payload = 3; break;
        case 0xd6: payload = 5; break;
        case 0xd7: payload = 9; break;
        case 0xd8: payload = 17; break;
        case 0xdc: count = get_be(h + 1, 2); break;
        case 0xdd: count = get_be(h + 1, 4); break;
        case 0xde: count = 2 * get_be(h + 1, 2); break;
        case 0xdf: count = 2 * get_be(h + 1, 4); break;
        default: break;
        }
    }
    *countp = count;
    *payloadp = payload;
}

static bool
scanner_at_start(const struct rpc_scanner *s)
{
    return !s->size;
}

/* Scans up to 'n' bytes of 'p', stopping right after the end of a message.
 * '*usedp' gets the bytes consumed (for SCAN_BAD_BYTE, the offset of the
 * bad byte).  A message must fit in 'max' bytes: every element it declares
 * needs at least one more byte, so an array or map header that claims more
 * elements than fit is refused at once. */
static enum scan_result
scan(struct rpc_scanner *s, const uint8_t *p, size_t n, uint64_t max,
     size_t *usedp)
{
    size_t i = 0;

    while (i < n) {
        if (s->skip) {
            uint64_t k = s->skip < n - i ? s->skip : n - i;
            s->skip -= k;
            i += k;
            if (!s->skip && !s->need) {
                goto complete;
            }
            continue;
        }

        if (!s->hdr_have) {
            s->hdr_need = header_len(p[i]);
            if (!s->hdr_need) {
                *usedp = i;
                return SCAN_BAD_BYTE;
            }
        }
        unsigned int k = s->hdr_need - s->hdr_have;
        if (k > n - i) {
            k = n - i;
        }
        memcpy(s->hdr + s->hdr_have, p + i, k);
        s->hdr_have += k;
        s->size += k;
        i += k;
        if (s->hdr_have < s->hdr_need) {
            break;
        }
        s->hdr_have = 0;

        uint64_t count, payload;
        header_decode(s->hdr, &count, &payload);
        if (s->need) {
            s->need--;          /* This object was one of those expected. */
        }
        s->need += count;
        s->claimed += count;
        s->skip = payload;
        s->size += payload;
        if (s->size > max || s->claimed > max
            || s->need > max - s->size) {
            *usedp = i;
            return SCAN_TOO_LARGE;
        }
        if (!s->need && !s->skip) {
            goto complete;
        }
    }
    *usedp = i;
    return SCAN_MORE;

complete:
    memset(s, 0, sizeof *s);
    *usedp = i;
    return SCAN_COMPLETE;
}

/* Reads a non-negative integer at 'p[*i]'. */
static bool
read_uint(const uint8_t *p, size_t n, size_t *i, uint64_t *value)
{
    if (*i >= n) {
        return false;
    }
    uint8_t b = p[*i];
    unsigned int len;
    bool is_signed = false;
    if (b <= 0x7f) {
        *value = b;
        *i += 1;
        return true;
    } else if (b >= 0xcc && b <= 0xcf) {
        len = 1u << (b - 0xcc);
    } else if (b >= 0xd0 && b <= 0xd3) {
        len = 1u << (b - 0xd0);
        is_signed = true;
    } else {
        return false;
    }
    if (n - *i < 1 + len || (is_signed && p[*i + 1] & 0x80)) {
        return false;
    }
    *value = get_be(p + *i + 1, len);
    *i += 1 + len;
    return true;
}

/* Recovers the msgid from the first bytes of a request
 * "[0, msgid, ...". */
static bool
recover_msgid(const uint8_t *p, size_t n, uint32_t *msgid)
{
    size_t i;
    uint64_t type, id;

    if (n < 1) {
        return false;
    } else if (p[0] >= 0x92 && p[0] <= 0x9f) {
        i = 1;
    } else if (p[0] == 0xdc) {
        i = 3;
    } else if (p[0] == 0xdd) {
        i = 5;
    } else {
        return false;
    }
    if (!read_uint(p, n, &i, &type) || type != 0
        || !read_uint(p, n, &i, &id) || id > UINT32_MAX) {
        return false;
    }
    *msgid = id;
    return true;
}

/* JSON output. */

static void
json_newline(FILE *out, int indent, int level)
{
    if (indent) {
        fprintf(out, "\n%*s", indent * level, "");
    }
}

/* Length of the valid UTF-8 sequence at 's' (0 if invalid). */
static size_t
utf8_len(const uint8_t *s, size_t n)
{
    uint8_t b = s[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf;

    if (b < 0x80) {
        return 1;
    } else if (b >= 0xc2 && b <= 0xdf) {
        len = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3;
        lo = b == 0xe0 ? 0xa0 : 0x80;
        hi = b == 0xed ? 0x9f : 0xbf;   /* No surrogates. */
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4;
        lo = b == 0xf0 ? 0x90 : 0x80;
        hi = b == 0xf4 ? 0x8f : 0xbf;   /* At most U+10FFFF. */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return len;
}

static void
json_string(FILE *out, const char *s_, size_t n)
{
    const uint8_t *s = (const uint8_t *) s_;

    putc('"', out);
    for (size_t i = 0; i < n; ) {
        uint8_t c = s[i];
        size_t len = utf8_len(s + i, n - i);
        if (!len) {
            fputs("\\ufffd", out);
            i++;
            continue;
        }
        if (len > 1) {
            fwrite(s + i, 1, len, out);
        } else if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
        } else if (c == '\n') {
            fputs("\\n", out);
        } else if (c == '\t') {
            fputs("\\t", out);
        } else if (c == '\r') {
            fputs("\\r", out);
        } else if (c == '\b') {
            fputs("\\b", out);
        } else if (c == '\f') {
            fputs("\\f", out);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\u%04x", c);
        } else {
            putc(c, out);
        }
        i += len;
    }
    putc('"', out);
}

static void
json_base64(FILE *out, const uint8_t *p, size_t n)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    putc('"', out);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t) p[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t) p[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= p[i + 2];
        }
        putc(digits[(v >> 18) & 63], out);
        putc(digits[(v >> 12) & 63], out);
        putc(i + 1 < n ? digits[(v >> 6) & 63] : '=', out);
        putc(i + 2 < n ? digits[v & 63] : '=', out);
    }
    putc('"', out);
}

static void
json_double(FILE *out, double d)
{
    char buf[32];

    if (!isfinite(d)) {
        fputs("null", out);
        return;
    }
    /* The shortest of %.15g and %.17g that reads back the same. */
    snprintf(buf, sizeof buf, "%.15g", d);
    if (strtod(buf, NULL) != d) {
        snprintf(buf, sizeof buf, "%.17g", d);
    }
    fputs(buf, out);
}

static void
json_key(FILE *out, const msgpack_object *key)
{
    if (key->type == MSGPACK_OBJECT_STR) {
        json_string(out, key->via.str.ptr, key->via.str.size);
        return;
    }

    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) {
        abort();
    }
    json_value(mem, key, 0, 0);
    fclose(mem);
    json_string(out, buf, len);
    free(buf);
}

static void
json_value(FILE *out, const msgpack_object *obj, int indent, int level)
{
    switch (obj->type) {
    case MSGPACK_OBJECT_NIL:
        fputs("null", out);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        fputs(obj->via.boolean ? "true" : "false", out);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        fprintf(out, "%"PRIu64, obj->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        fprintf(out, "%"PRId64, obj->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        json_double(out, obj->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        json_string(out, obj->via.str.ptr, obj->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        json_base64(out, (const uint8_t *) obj->via.bin.ptr,
                    obj->via.bin.size);
        break;
    case MSGPACK_OBJECT_EXT:
        json_base64(out, (const uint8_t *) obj->via.ext.ptr,
                    obj->via.ext.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        if (!obj->via.array.size) {
            fputs("[]", out);
            break;
        }
        putc('[', out);
        for (uint32_t i = 0; i < obj->via.array.size; i++) {
            if (i) {
                putc(',', out);
            }
            json_newline(out, indent, level + 1);
            json_value(out, &obj->via.array.ptr[i], indent, level + 1);
        }
        json_newline(out, indent, level);
        putc(']', out);
        break;
    case MSGPACK_OBJECT_MAP:
        if (!obj->via.map.size) {
            fputs("{}", out);
            break;
        }
        putc('{', out);
        for (uint32_t i = 0; i < obj->via.map.size; i++) {
            if (i) {
                putc(',', out);
            }
            json_newline(out, indent, level + 1);
            json_key(out, &obj->via.map.ptr[i].key);
            fputs(indent ? ": " : ":", out);
            json_value(out, &obj->via.map.ptr[i].val, indent, level + 1);
        }
        json_newline(out, indent, level);
        putc('}', out);
        break;
    default:
        fputs("null", out);
        break;
    }
}
