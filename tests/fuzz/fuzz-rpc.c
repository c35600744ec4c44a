/* Fuzz target: weftctl's wire protocol as weftd decodes it (framing
 * scanner, msgpack, request shape), fed in two chunks as a socket would. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc-codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rpc_decoder *dec = rpc_decoder_create(64 * 1024);
    size_t half = size ? data[0] % (size + 1) : 0;

    for (int chunk = 0; chunk < 2; chunk++) {
        if (chunk == 0) {
            rpc_decoder_feed(dec, data, half);
        } else {
            rpc_decoder_feed(dec, data + half, size - half);
        }
        for (;;) {
            msgpack_unpacked msg;
            struct rpc_protocol_error error;
            msgpack_unpacked_init(&msg);
            enum rpc_decode_status s = rpc_decoder_next(dec, &msg, &error);
            if (s == RPC_DECODE_MESSAGE) {
                struct rpc_request_msg req;
                rpc_parse_request(&msg.data, &req, &error);
            }
            msgpack_unpacked_destroy(&msg);
            if (s != RPC_DECODE_MESSAGE) {
                break;
            }
        }
    }
    rpc_decoder_destroy(dec);
    return 0;
}
