/* msgpack-RPC framing and encoding for weftd's RPC socket (rpc.h) and its
 * clients (weftctl): pure functions over bytes and msgpack objects, no I/O.
 *
 * Wire format (https://github.com/msgpack-rpc/msgpack-rpc/blob/master/
 * spec.md), one msgpack array per message, back to back on a stream:
 *
 *     request:   [0, msgid, method, params]   msgid uint32, method str,
 *                                             params array
 *     response:  [1, msgid, error, result]    exactly one of error and
 *                                             result is nil
 *
 * Weft's errors are maps with four keys, always present:
 *
 *     {"code": STR, "message": STR, "field": STR|nil, "line": INT|nil}
 *
 * 'code' is one of the RPC_E_* strings below (or a handler's own), for
 * programs; 'message' is for people; 'field' and 'line' point into the
 * caller's input when the error is about it (e.g. a configuration key).
 *
 * A response whose msgid is nil is about the connection itself (the request
 * it answers could not be identified, e.g. bytes that are not msgpack); the
 * server closes the connection after sending it, like JSON-RPC's "id: null"
 * parse errors. */
#ifndef WEFT_RPC_CODEC_H
#define WEFT_RPC_CODEC_H 1

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The largest message a decoder accepts unless told otherwise. */
#define RPC_MAX_MSG_SIZE_DEFAULT (1024 * 1024)

/* Error codes.  Handlers may use their own codes too. */
#define RPC_E_PARSE "parse-error"           /* Not msgpack. */
#define RPC_E_INVALID_REQUEST "invalid-request" /* msgpack, wrong shape. */
#define RPC_E_TOO_LARGE "too-large"         /* Over the size limit. */
#define RPC_E_UNKNOWN_METHOD "unknown-method"
#define RPC_E_INVALID_PARAMS "invalid-params"
#define RPC_E_BUSY "busy"                   /* Too many pending requests or
                                             * clients. */
#define RPC_E_RATE_LIMITED "rate-limited"
#define RPC_E_INTERNAL "internal-error"

/* Why a stream or a message was refused. */
struct rpc_protocol_error {
    const char *code;           /* RPC_E_PARSE, _INVALID_REQUEST or
                                 * _TOO_LARGE. */
    char message[192];
    bool has_msgid;             /* True if the msgid of the offending
                                 * request could be recovered. */
    uint32_t msgid;
};

/* Incremental decoder.
 *
 * Accepts a byte stream in chunks of any size (down to one byte) and yields
 * complete msgpack objects, one per message.  Before msgpack-c sees a byte,
 * a scanner checks the framing: the size limit is enforced as soon as a
 * header declares more than fits (a "str32 of 4 GiB" is refused after 5
 * bytes, not after buffering them), and so is the number of elements the
 * message's arrays and maps claim (msgpack-c allocates them up front).
 *
 * Any error is final: the stream cannot be resynchronized, so the decoder
 * returns RPC_DECODE_ERROR from then on. */
struct rpc_decoder;

enum rpc_decode_status {
    RPC_DECODE_AGAIN,           /* Need more bytes. */
    RPC_DECODE_MESSAGE,         /* One message decoded. */
    RPC_DECODE_ERROR,           /* Protocol error; see the error. */
};

/* 'max_msg_size' 0 means RPC_MAX_MSG_SIZE_DEFAULT. */
struct rpc_decoder *rpc_decoder_create(size_t max_msg_size);
void rpc_decoder_destroy(struct rpc_decoder *);

/* Copies 'n' bytes into the decoder. */
void rpc_decoder_feed(struct rpc_decoder *, const void *, size_t n);

/* Zero-copy alternative to rpc_decoder_feed(): returns a buffer of at least
 * 'min_size' bytes (its size in '*sizep') to read() into, then
 * rpc_decoder_commit() says how many bytes landed there. */
void *rpc_decoder_get_buffer(struct rpc_decoder *, size_t min_size,
                             size_t *sizep);
void rpc_decoder_commit(struct rpc_decoder *, size_t n);

/* Returns the next message in '*msg' (RPC_DECODE_MESSAGE: the caller owns
 * it and must msgpack_unpacked_destroy() it; it stays valid after the
 * decoder is destroyed), or RPC_DECODE_AGAIN, or RPC_DECODE_ERROR with
 * '*error' filled in.  Messages before a protocol error in the same chunk
 * are returned first.  '*msg' must have been msgpack_unpacked_init()'d. */
enum rpc_decode_status rpc_decoder_next(struct rpc_decoder *,
                                        msgpack_unpacked *msg,
                                        struct rpc_protocol_error *error);

/* Bytes of the message being received (0 between messages). */
size_t rpc_decoder_partial_size(const struct rpc_decoder *);

/* Message shapes. */

struct rpc_request_msg {
    uint32_t msgid;
    const char *method;         /* Not null-terminated: 'method_len'. */
    size_t method_len;
    const msgpack_object *params; /* An array. */
};

struct rpc_response_msg {
    bool has_msgid;             /* False: about the connection itself. */
    uint32_t msgid;
    const msgpack_object *error;  /* NULL if nil (success). */
    const msgpack_object *result;
};

/* Check a decoded message's shape.  Return true and fill in the first
 * argument on success; return false and fill in '*error' otherwise (with the
 * msgid if it could be recovered).  Pointers point into 'obj'. */
bool rpc_parse_request(const msgpack_object *obj, struct rpc_request_msg *,
                       struct rpc_protocol_error *error);
bool rpc_parse_response(const msgpack_object *obj, struct rpc_response_msg *,
                        struct rpc_protocol_error *error);

/* Encoding.  All write to a msgpack_packer (usually over a
 * msgpack_sbuffer). */

/* Packs '[0, msgid, method, ' and an array header of 'n_params': the caller
 * then packs exactly 'n_params' objects. */
void rpc_pack_request_header(msgpack_packer *, uint32_t msgid,
                             const char *method, uint32_t n_params);

/* Packs '[1, msgid, nil, ': the caller then packs exactly one object, the
 * result. */
void rpc_pack_response_header(msgpack_packer *, uint32_t msgid);

/* Packs a whole error response '[1, msgid, ERROR, nil]', with a nil msgid if
 * 'msgid' is NULL.  ERROR as rpc_pack_error(). */
void rpc_pack_error_response(msgpack_packer *, const uint32_t *msgid,
                             const char *code, const char *message,
                             const char *field, int line);

/* Packs an error map.  'message' NULL uses 'code'; 'field' NULL and 'line'
 * <= 0 are packed as nil. */
void rpc_pack_error(msgpack_packer *, const char *code, const char *message,
                    const char *field, int line);

/* Result builder: thin helpers for the common cases.  Build a map with
 * msgpack_pack_map(pk, N) followed by N rpc_pack_kv_*() calls, or
 * rpc_pack_key() and any value. */
void rpc_pack_string(msgpack_packer *, const char *); /* NULL: nil. */
void rpc_pack_key(msgpack_packer *, const char *);
void rpc_pack_kv_string(msgpack_packer *, const char *key, const char *);
void rpc_pack_kv_int(msgpack_packer *, const char *key, int64_t);
void rpc_pack_kv_uint(msgpack_packer *, const char *key, uint64_t);
void rpc_pack_kv_bool(msgpack_packer *, const char *key, bool);
void rpc_pack_kv_double(msgpack_packer *, const char *key, double);

/* Counts the complete msgpack objects in 'data' (top level, back to back).
 * Returns -1 if 'data' is not a sequence of complete objects. */
long long int rpc_count_objects(const void *data, size_t n);

/* Reading objects. */

/* Returns the value for string key 'key' in map 'map', or NULL if 'map' is
 * not a map or has no such key. */
const msgpack_object *rpc_map_get(const msgpack_object *map,
                                  const char *key);

/* True if 'obj' is a string equal to 's'. */
bool rpc_str_equals(const msgpack_object *obj, const char *s);

/* Returns a malloc'd null-terminated copy of string 'obj', or NULL if it is
 * not a string or contains a null byte. */
char *rpc_str_dup(const msgpack_object *obj);

/* A short name for 'obj''s type, for messages ("array", "string"...). */
const char *rpc_type_name(const msgpack_object *obj);

/* Writes 'obj' as JSON: strings escaped (invalid UTF-8 becomes U+FFFD),
 * binary and extension data as base64 strings, non-finite floats as null,
 * non-string map keys as their JSON text in a string.  'indent' > 0
 * pretty-prints with that many spaces per level; 0 writes one line. */
void rpc_json_write(FILE *, const msgpack_object *obj, int indent);

#endif /* rpc-codec.h */
