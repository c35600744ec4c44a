/* Unit tests for the msgpack-RPC codec: framing across partial reads,
 * several messages per chunk, garbage, every wrong request shape, the size
 * limit, response round trips and the JSON writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpc-codec.h"

/* A buffer and a packer over it. */
struct out {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
};

static void
out_init(struct out *o)
{
    msgpack_sbuffer_init(&o->sbuf);
    msgpack_packer_init(&o->pk, &o->sbuf, msgpack_sbuffer_write);
}

static void
out_destroy(struct out *o)
{
    msgpack_sbuffer_destroy(&o->sbuf);
}

/* Appends request [0, msgid, method, [param]] ('param' NULL: no params). */
static void
pack_request(struct out *o, uint32_t msgid, const char *method,
             const char *param)
{
    rpc_pack_request_header(&o->pk, msgid, method, param ? 1 : 0);
    if (param) {
        rpc_pack_string(&o->pk, param);
    }
}

/* Expects the decoder to yield a request with 'msgid' and 'method'. */
static void
expect_request(struct rpc_decoder *dec, uint32_t msgid, const char *method)
{
    msgpack_unpacked msg;
    struct rpc_protocol_error error;
    struct rpc_request_msg req;

    msgpack_unpacked_init(&msg);
    assert_int_equal(rpc_decoder_next(dec, &msg, &error),
                     RPC_DECODE_MESSAGE);
    assert_true(rpc_parse_request(&msg.data, &req, &error));
    assert_int_equal(req.msgid, msgid);
    assert_int_equal(req.method_len, strlen(method));
    assert_memory_equal(req.method, method, req.method_len);
    assert_int_equal(req.params->type, MSGPACK_OBJECT_ARRAY);
    msgpack_unpacked_destroy(&msg);
}

static void
expect_again(struct rpc_decoder *dec)
{
    msgpack_unpacked msg;
    struct rpc_protocol_error error;

    msgpack_unpacked_init(&msg);
    assert_int_equal(rpc_decoder_next(dec, &msg, &error), RPC_DECODE_AGAIN);
    msgpack_unpacked_destroy(&msg);
}

/* Expects a protocol error with 'code' and, if 'msgid' >= 0, that msgid. */
static void
expect_error(struct rpc_decoder *dec, const char *code, long long msgid)
{
    msgpack_unpacked msg;
    struct rpc_protocol_error error;

    msgpack_unpacked_init(&msg);
    assert_int_equal(rpc_decoder_next(dec, &msg, &error), RPC_DECODE_ERROR);
    assert_string_equal(error.code, code);
    assert_true(error.message[0] != '\0');
    if (msgid >= 0) {
        assert_true(error.has_msgid);
        assert_int_equal(error.msgid, msgid);
    } else {
        assert_false(error.has_msgid);
    }
    msgpack_unpacked_destroy(&msg);
}

static void
test_byte_by_byte(void **state)
{
    struct out o;
    (void) state;

    out_init(&o);
    pack_request(&o, 1, "ping", NULL);
    size_t first = o.sbuf.size;
    pack_request(&o, 70000, "host/list", "h1");
    size_t second = o.sbuf.size;
    pack_request(&o, UINT32_MAX, "status", NULL);

    struct rpc_decoder *dec = rpc_decoder_create(0);
    for (size_t i = 0; i < o.sbuf.size; i++) {
        rpc_decoder_feed(dec, o.sbuf.data + i, 1);
        if (i + 1 == first) {
            expect_request(dec, 1, "ping");
        } else if (i + 1 == second) {
            expect_request(dec, 70000, "host/list");
        } else if (i + 1 == o.sbuf.size) {
            expect_request(dec, UINT32_MAX, "status");
        } else {
            expect_again(dec);
            assert_true(rpc_decoder_partial_size(dec) > 0);
        }
    }
    expect_again(dec);
    assert_int_equal(rpc_decoder_partial_size(dec), 0);
    rpc_decoder_destroy(dec);
    out_destroy(&o);
}

static void
test_several_in_one_chunk(void **state)
{
    struct out o;
    (void) state;

    out_init(&o);
    for (uint32_t id = 0; id < 20; id++) {
        pack_request(&o, id, "ping", "x");
    }
    /* And half of one more. */
    size_t whole = o.sbuf.size;
    pack_request(&o, 99, "status", NULL);

    struct rpc_decoder *dec = rpc_decoder_create(0);
    rpc_decoder_feed(dec, o.sbuf.data, whole + 3);
    for (uint32_t id = 0; id < 20; id++) {
        expect_request(dec, id, "ping");
    }
    expect_again(dec);
    rpc_decoder_feed(dec, o.sbuf.data + whole + 3, o.sbuf.size - whole - 3);
    expect_request(dec, 99, "status");
    expect_again(dec);
    rpc_decoder_destroy(dec);
    out_destroy(&o);
}

static void
test_zero_copy_buffer(void **state)
{
    struct out o;
    (void) state;

    out_init(&o);
    pack_request(&o, 5, "ping", NULL);
    pack_request(&o, 6, "ping", NULL);

    struct rpc_decoder *dec = rpc_decoder_create(0);
    size_t size;
    char *buf = rpc_decoder_get_buffer(dec, 4096, &size);
    assert_true(size >= 4096);
    memcpy(buf, o.sbuf.data, o.sbuf.size);
    rpc_decoder_commit(dec, o.sbuf.size);
    expect_request(dec, 5, "ping");

    /* A message outlives its decoder. */
    msgpack_unpacked msg;
    struct rpc_protocol_error error;
    msgpack_unpacked_init(&msg);
    assert_int_equal(rpc_decoder_next(dec, &msg, &error),
                     RPC_DECODE_MESSAGE);
    rpc_decoder_destroy(dec);
    struct rpc_request_msg req;
    assert_true(rpc_parse_request(&msg.data, &req, &error));
    assert_int_equal(req.msgid, 6);
    assert_memory_equal(req.method, "ping", 4);
    msgpack_unpacked_destroy(&msg);
    out_destroy(&o);
}

static void
test_garbage(void **state)
{
    (void) state;

    /* 0xc1 is the one byte msgpack never uses. */
    struct rpc_decoder *dec = rpc_decoder_create(0);
    rpc_decoder_feed(dec, "\xc1garbage", 8);
    expect_error(dec, RPC_E_PARSE, -1);
    /* Final: more input changes nothing. */
    struct out o;
    out_init(&o);
    pack_request(&o, 1, "ping", NULL);
    rpc_decoder_feed(dec, o.sbuf.data, o.sbuf.size);
    expect_error(dec, RPC_E_PARSE, -1);
    rpc_decoder_destroy(dec);

    /* Good messages before the garbage come out first. */
    dec = rpc_decoder_create(0);
    pack_request(&o, 2, "ping", NULL);
    msgpack_sbuffer_write(&o.sbuf, "\xc1", 1);
    rpc_decoder_feed(dec, o.sbuf.data, o.sbuf.size);
    expect_request(dec, 1, "ping");
    expect_request(dec, 2, "ping");
    expect_error(dec, RPC_E_PARSE, -1);
    rpc_decoder_destroy(dec);
    out_destroy(&o);

    /* Garbage inside a request: its msgid is recovered. */
    static const uint8_t mid[] = {
        0x94, 0x00, 0xcd, 0x12, 0x34, 0xa4, 'p', 'i', 'n', 'g', 0xc1,
    };
    dec = rpc_decoder_create(0);
    rpc_decoder_feed(dec, mid, sizeof mid);
    expect_error(dec, RPC_E_PARSE, 0x1234);
    rpc_decoder_destroy(dec);

    /* Nesting deeper than msgpack-c allows. */
    uint8_t deep[64];
    memset(deep, 0x91, sizeof deep - 1);
    deep[sizeof deep - 1] = 0xc0;
    dec = rpc_decoder_create(0);
    rpc_decoder_feed(dec, deep, sizeof deep);
    expect_error(dec, RPC_E_PARSE, -1);
    rpc_decoder_destroy(dec);
}

/* Decodes the one message in 'o' and runs rpc_parse_request() on it:
 * expects an invalid-request error, with 'msgid' if >= 0. */
static void
expect_bad_shape(struct out *o, long long msgid, const char *needle)
{
    msgpack_unpacked msg;
    struct rpc_protocol_error error;
    struct rpc_request_msg req;
    struct rpc_decoder *dec = rpc_decoder_create(0);

    rpc_decoder_feed(dec, o->sbuf.data, o->sbuf.size);
    msgpack_unpacked_init(&msg);
    assert_int_equal(rpc_decoder_next(dec, &msg, &error),
                     RPC_DECODE_MESSAGE);
    assert_false(rpc_parse_request(&msg.data, &req, &error));
    assert_string_equal(error.code, RPC_E_INVALID_REQUEST);
    if (!strstr(error.message, needle)) {
        fail_msg("error \"%s\" does not mention \"%s\"", error.message,
                 needle);
    }
    if (msgid >= 0) {
        assert_true(error.has_msgid);
        assert_int_equal(error.msgid, msgid);
    } else {
        assert_false(error.has_msgid);
    }
    msgpack_unpacked_destroy(&msg);
    rpc_decoder_destroy(dec);
    msgpack_sbuffer_clear(&o->sbuf);
}

static void
test_wrong_shapes(void **state)
{
    struct out o;
    msgpack_packer *pk = &o.pk;
    (void) state;

    out_init(&o);

    /* Not an array. */
    msgpack_pack_int(pk, 5);
    expect_bad_shape(&o, -1, "must be an array [0, msgid, method, params] "
                     "(got integer)");
    msgpack_pack_map(pk, 1);
    rpc_pack_kv_string(pk, "method", "ping");
    expect_bad_shape(&o, -1, "(got map)");
    rpc_pack_string(pk, "ping");
    expect_bad_shape(&o, -1, "(got string)");

    /* Wrong number of elements. */
    msgpack_pack_array(pk, 3);
    msgpack_pack_int(pk, 0);
    msgpack_pack_int(pk, 7);
    rpc_pack_string(pk, "ping");
    expect_bad_shape(&o, 7, "4 elements");
    msgpack_pack_array(pk, 0);
    expect_bad_shape(&o, -1, "(got 0)");

    /* Wrong type tag. */
    msgpack_pack_array(pk, 4);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, 7);
    msgpack_pack_nil(pk);
    msgpack_pack_nil(pk);
    expect_bad_shape(&o, -1, "type must be 0 (request) (got 1)");
    msgpack_pack_array(pk, 4);
    rpc_pack_string(pk, "0");
    msgpack_pack_int(pk, 7);
    rpc_pack_string(pk, "ping");
    msgpack_pack_array(pk, 0);
    expect_bad_shape(&o, -1, "(got string)");
    msgpack_pack_array(pk, 3);
    msgpack_pack_int(pk, 2);
    rpc_pack_string(pk, "ping");
    msgpack_pack_array(pk, 0);
    expect_bad_shape(&o, -1, "notifications");

    /* msgid not an unsigned 32-bit integer. */
    msgpack_pack_array(pk, 4);
    msgpack_pack_int(pk, 0);
    rpc_pack_string(pk, "7");
    rpc_pack_string(pk, "ping");
    msgpack_pack_array(pk, 0);
    expect_bad_shape(&o, -1, "msgid must be");
    msgpack_pack_array(pk, 4);
    msgpack_pack_int(pk, 0);
    msgpack_pack_int(pk, -7);
    rpc_pack_string(pk, "ping");
    msgpack_pack_array(pk, 0);
    expect_bad_shape(&o, -1, "(got negative integer)");
    msgpack_pack_array(pk, 4);
    msgpack_pack_int(pk, 0);
    msgpack_pack_uint64(pk, UINT64_C(1) << 32);
    rpc_pack_string(pk, "ping");
    msgpack_pack_array(pk, 0);
    expect_bad_shape(&o, -1, "(got too large integer)");
    msgpack_pack_array(pk, 4);
    msgpack_pack_int(pk, 0);
    msgpack_pack_double(pk, 7.0);
    rpc_pack_string(pk, "ping");
    msgpack_pack_array(pk, 0);
    expect_bad_shape(&o, -1, "(got float)");

    /* method not a string. */
    msgpack_pack_array(pk, 4);
    msgpack_pack_int(pk, 0);
    msgpack_pack_int(pk, 8);
    msgpack_pack_int(pk, 42);
    msgpack_pack_array(pk, 0);
    expect_bad_shape(&o, 8, "method must be a non-empty string (got "
                     "integer)");
    msgpack_pack_array(pk, 4);
    msgpack_pack_int(pk, 0);
    msgpack_pack_int(pk, 8);
    rpc_pack_string(pk, "");
    msgpack_pack_array(pk, 0);
    expect_bad_shape(&o, 8, "(got empty string)");
    msgpack_pack_array(pk, 4);
    msgpack_pack_int(pk, 0);
    msgpack_pack_int(pk, 8);
    msgpack_pack_bin_with_body(pk, "ping", 4);
    msgpack_pack_array(pk, 0);
    expect_bad_shape(&o, 8, "(got binary)");

    /* params not an array. */
    msgpack_pack_array(pk, 4);
    msgpack_pack_int(pk, 0);
    msgpack_pack_int(pk, 9);
    rpc_pack_string(pk, "ping");
    msgpack_pack_map(pk, 0);
    expect_bad_shape(&o, 9, "params must be an array (got map)");
    msgpack_pack_array(pk, 4);
    msgpack_pack_int(pk, 0);
    msgpack_pack_int(pk, 9);
    rpc_pack_string(pk, "ping");
    msgpack_pack_nil(pk);
    expect_bad_shape(&o, 9, "(got nil)");

    /* A msgid packed as a signed type is still fine. */
    msgpack_pack_array(pk, 4);
    msgpack_pack_int(pk, 0);
    msgpack_pack_int64(pk, 12);
    rpc_pack_string(pk, "ping");
    msgpack_pack_array(pk, 0);
    struct rpc_decoder *dec = rpc_decoder_create(0);
    rpc_decoder_feed(dec, o.sbuf.data, o.sbuf.size);
    expect_request(dec, 12, "ping");
    rpc_decoder_destroy(dec);

    out_destroy(&o);
}

static void
test_oversized(void **state)
{
    struct out o;
    (void) state;

    /* A string parameter over the limit: refused as soon as its header
     * arrives, with the msgid. */
    out_init(&o);
    char *big = malloc(2000);
    memset(big, 'a', 1999);
    big[1999] = '\0';
    pack_request(&o, 77, "ping", big);
    struct rpc_decoder *dec = rpc_decoder_create(1024);
    size_t i;
    for (i = 0; i < o.sbuf.size; i++) {
        msgpack_unpacked msg;
        struct rpc_protocol_error error;
        msgpack_unpacked_init(&msg);
        rpc_decoder_feed(dec, o.sbuf.data + i, 1);
        enum rpc_decode_status status = rpc_decoder_next(dec, &msg, &error);
        msgpack_unpacked_destroy(&msg);
        if (status != RPC_DECODE_AGAIN) {
            assert_int_equal(status, RPC_DECODE_ERROR);
            break;
        }
    }
    assert_true(i < 20);
    expect_error(dec, RPC_E_TOO_LARGE, 77);
    rpc_decoder_destroy(dec);
    msgpack_sbuffer_clear(&o.sbuf);

    /* Exactly the limit is fine, one byte more is not. */
    pack_request(&o, 78, "ping", big);
    size_t exact = o.sbuf.size;
    dec = rpc_decoder_create(exact);
    rpc_decoder_feed(dec, o.sbuf.data, o.sbuf.size);
    expect_request(dec, 78, "ping");
    rpc_decoder_destroy(dec);
    dec = rpc_decoder_create(exact - 1);
    rpc_decoder_feed(dec, o.sbuf.data, o.sbuf.size);
    expect_error(dec, RPC_E_TOO_LARGE, 78);
    rpc_decoder_destroy(dec);
    msgpack_sbuffer_clear(&o.sbuf);
    free(big);

    /* A str32 header declaring 4 GiB: refused after 5 bytes, default
     * limit. */
    dec = rpc_decoder_create(0);
    rpc_decoder_feed(dec, "\xdb\xff\xff\xff\xff", 5);
    expect_error(dec, RPC_E_TOO_LARGE, -1);
    rpc_decoder_destroy(dec);

    /* An array claiming 2^32-1 elements (msgpack-c would allocate 64 GiB
     * for them) and a map claiming 600 000 pairs in 20 bytes. */
    static const uint8_t claims[] = {
        0x94, 0x00, 0x05, 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff,
    };
    dec = rpc_decoder_create(0);
    rpc_decoder_feed(dec, claims, sizeof claims);
    expect_error(dec, RPC_E_TOO_LARGE, 5);
    rpc_decoder_destroy(dec);
    static const uint8_t map_claim[] = {
        0x94, 0x00, 0x06, 0xa1, 'x', 0x91, 0xdf, 0x00, 0x09, 0x27, 0xc0,
    };
    dec = rpc_decoder_create(0);
    rpc_decoder_feed(dec, map_claim, sizeof map_claim);
    expect_error(dec, RPC_E_TOO_LARGE, 6);
    rpc_decoder_destroy(dec);

    /* Many small messages never add up: the limit is per message. */
    dec = rpc_decoder_create(64);
    for (uint32_t id = 0; id < 100; id++) {
        pack_request(&o, id, "ping", NULL);
    }
    rpc_decoder_feed(dec, o.sbuf.data, o.sbuf.size);
    for (uint32_t id = 0; id < 100; id++) {
        expect_request(dec, id, "ping");
    }
    expect_again(dec);
    rpc_decoder_destroy(dec);
    out_destroy(&o);
}

/* Decodes the one response in 'o'. */
static void
decode_response(struct out *o, msgpack_unpacked *msg,
                struct rpc_response_msg *resp)
{
    struct rpc_protocol_error error;
    struct rpc_decoder *dec = rpc_decoder_create(0);

    rpc_decoder_feed(dec, o->sbuf.data, o->sbuf.size);
    msgpack_unpacked_init(msg);
    assert_int_equal(rpc_decoder_next(dec, msg, &error), RPC_DECODE_MESSAGE);
    assert_true(rpc_parse_response(&msg->data, resp, &error));
    rpc_decoder_destroy(dec);
}

static void
test_response_round_trip(void **state)
{
    struct out o;
    msgpack_unpacked msg;
    struct rpc_response_msg resp;
    const msgpack_object *v;
    (void) state;

    /* Success with a map built by the result helpers. */
    out_init(&o);
    rpc_pack_response_header(&o.pk, 41);
    msgpack_pack_map(&o.pk, 6);
    rpc_pack_kv_string(&o.pk, "version", "0.1.0");
    rpc_pack_kv_int(&o.pk, "delta", -3);
    rpc_pack_kv_uint(&o.pk, "hosts", 12);
    rpc_pack_kv_bool(&o.pk, "ready", true);
    rpc_pack_kv_double(&o.pk, "uptime", 1.5);
    rpc_pack_key(&o.pk, "names");
    msgpack_pack_array(&o.pk, 2);
    rpc_pack_string(&o.pk, "h1");
    rpc_pack_string(&o.pk, NULL);
    assert_int_equal(rpc_count_objects(o.sbuf.data, o.sbuf.size), 1);

    decode_response(&o, &msg, &resp);
    assert_true(resp.has_msgid);
    assert_int_equal(resp.msgid, 41);
    assert_null(resp.error);
    assert_true(rpc_str_equals(rpc_map_get(resp.result, "version"),
                               "0.1.0"));
    assert_int_equal(rpc_map_get(resp.result, "delta")->via.i64, -3);
    assert_int_equal(rpc_map_get(resp.result, "hosts")->via.u64, 12);
    assert_true(rpc_map_get(resp.result, "ready")->via.boolean);
    assert_true(rpc_map_get(resp.result, "uptime")->via.f64 == 1.5);
    v = rpc_map_get(resp.result, "names");
    assert_int_equal(v->via.array.size, 2);
    char *s = rpc_str_dup(&v->via.array.ptr[0]);
    assert_string_equal(s, "h1");
    free(s);
    assert_null(rpc_str_dup(&v->via.array.ptr[1]));
    assert_int_equal(v->via.array.ptr[1].type, MSGPACK_OBJECT_NIL);
    assert_null(rpc_map_get(resp.result, "absent"));
    assert_null(rpc_map_get(v, "names"));
    msgpack_unpacked_destroy(&msg);
    msgpack_sbuffer_clear(&o.sbuf);

    /* Error with field and line. */
    uint32_t id = 42;
    rpc_pack_error_response(&o.pk, &id, "invalid-config", "bad address",
                            "tunnel-ip", 12);
    decode_response(&o, &msg, &resp);
    assert_true(resp.has_msgid);
    assert_int_equal(resp.msgid, 42);
    assert_non_null(resp.error);
    assert_int_equal(resp.result->type, MSGPACK_OBJECT_NIL);
    assert_int_equal(resp.error->via.map.size, 4);
    assert_true(rpc_str_equals(rpc_map_get(resp.error, "code"),
                               "invalid-config"));
    assert_true(rpc_str_equals(rpc_map_get(resp.error, "message"),
                               "bad address"));
    assert_true(rpc_str_equals(rpc_map_get(resp.error, "field"),
                               "tunnel-ip"));
    assert_int_equal(rpc_map_get(resp.error, "line")->via.u64, 12);
    msgpack_unpacked_destroy(&msg);
    msgpack_sbuffer_clear(&o.sbuf);

    /* Error about the connection: nil msgid, nil field and line, message
     * defaults to the code. */
    rpc_pack_error_response(&o.pk, NULL, RPC_E_PARSE, NULL, NULL, 0);
    decode_response(&o, &msg, &resp);
    assert_false(resp.has_msgid);
    assert_true(rpc_str_equals(rpc_map_get(resp.error, "code"),
                               RPC_E_PARSE));
    assert_true(rpc_str_equals(rpc_map_get(resp.error, "message"),
                               RPC_E_PARSE));
    assert_int_equal(rpc_map_get(resp.error, "field")->type,
                     MSGPACK_OBJECT_NIL);
    assert_int_equal(rpc_map_get(resp.error, "line")->type,
                     MSGPACK_OBJECT_NIL);
    msgpack_unpacked_destroy(&msg);
    out_destroy(&o);

    /* A request is not a response. */
    struct rpc_protocol_error error;
    out_init(&o);
    pack_request(&o, 1, "ping", NULL);
    struct rpc_decoder *dec = rpc_decoder_create(0);
    rpc_decoder_feed(dec, o.sbuf.data, o.sbuf.size);
    msgpack_unpacked_init(&msg);
    assert_int_equal(rpc_decoder_next(dec, &msg, &error),
                     RPC_DECODE_MESSAGE);
    assert_false(rpc_parse_response(&msg.data, &resp, &error));
    msgpack_unpacked_destroy(&msg);
    rpc_decoder_destroy(dec);
    out_destroy(&o);
}

static void
test_count_objects(void **state)
{
    struct out o;
    (void) state;

    out_init(&o);
    assert_int_equal(rpc_count_objects("", 0), 0);
    msgpack_pack_map(&o.pk, 1);
    rpc_pack_kv_int(&o.pk, "a", 1);
    assert_int_equal(rpc_count_objects(o.sbuf.data, o.sbuf.size), 1);
    assert_int_equal(rpc_count_objects(o.sbuf.data, o.sbuf.size - 1), -1);
    msgpack_pack_nil(&o.pk);
    assert_int_equal(rpc_count_objects(o.sbuf.data, o.sbuf.size), 2);
    assert_int_equal(rpc_count_objects("\xc1", 1), -1);
    out_destroy(&o);
}

/* Returns 'obj' as JSON in a malloc'd string. */
static char *
to_json(const msgpack_object *obj, int indent)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    rpc_json_write(f, obj, indent);
    fclose(f);
    return buf;
}

static void
test_json(void **state)
{
    struct out o;
    msgpack_packer *pk = &o.pk;
    (void) state;

    out_init(&o);
    msgpack_pack_map(pk, 9);
    rpc_pack_kv_string(pk, "s", "q\"b\\n\nt\tc\x01\x7f"
                       "\xc3\xa9\xe2\x98\x83");
    rpc_pack_key(pk, "bad");
    msgpack_pack_str_with_body(pk, "a\xff" "b\xc3" "c\xed\xa0\x80", 8);
    rpc_pack_kv_int(pk, "neg", -5);
    rpc_pack_kv_double(pk, "f", 0.1);
    rpc_pack_key(pk, "inf");
    msgpack_pack_double(pk, 1.0 / 0.0);
    rpc_pack_key(pk, "bin");
    msgpack_pack_bin_with_body(pk, "hello", 5);
    msgpack_pack_int(pk, 7);            /* A non-string key. */
    msgpack_pack_array(pk, 0);
    rpc_pack_key(pk, "empty");
    msgpack_pack_map(pk, 0);
    rpc_pack_key(pk, "list");
    msgpack_pack_array(pk, 3);
    msgpack_pack_nil(pk);
    msgpack_pack_true(pk);
    msgpack_pack_false(pk);

    msgpack_unpacked msg;
    msgpack_unpacked_init(&msg);
    assert_int_equal(msgpack_unpack_next(&msg, o.sbuf.data, o.sbuf.size,
                                         NULL), MSGPACK_UNPACK_SUCCESS);
    char *json = to_json(&msg.data, 0);
    assert_string_equal(json,
        "{\"s\":\"q\\\"b\\\\n\\nt\\tc\\u0001\\u007f\xc3\xa9\xe2\x98\x83\","
        "\"bad\":\"a\\ufffdb\\ufffdc\\ufffd\\ufffd\\ufffd\","
        "\"neg\":-5,\"f\":0.1,\"inf\":null,\"bin\":\"aGVsbG8=\","
        "\"7\":[],\"empty\":{},\"list\":[null,true,false]}");
    free(json);

    json = to_json(&msg.data.via.map.ptr[8].val, 2);
    assert_string_equal(json, "[\n  null,\n  true,\n  false\n]");
    free(json);
    msgpack_unpacked_destroy(&msg);
    out_destroy(&o);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_several_in_one_chunk),
        cmocka_unit_test(test_zero_copy_buffer),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_wrong_shapes),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_response_round_trip),
        cmocka_unit_test(test_count_objects),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests_name("rpc-codec", tests, NULL, NULL);
}
