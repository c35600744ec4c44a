/* weftd's RPC server: msgpack-RPC (rpc-codec.h) over a unix socket, and
 * optionally over TCP on a loopback address, driven by weftd's libev loop.
 * weftctl is its client.
 *
 * Nothing here blocks the loop: sockets are non-blocking, each client is
 * read incrementally into its own decoder and written through its own
 * queue.  A client that misbehaves (bytes that are not msgpack, a request of
 * the wrong shape, a message over the size limit) gets an error response
 * and is disconnected; other clients never notice.
 *
 * Limits, per server (rpc_server_set_limits()):
 *   - clients at once: 64; one more gets a "busy" error and is closed;
 *   - message size: 1 MiB ("too-large" error, then closed);
 *   - requests awaiting an answer, per client: 16; more get "busy";
 *   - requests per second, per client: token bucket of 200/s, burst 400;
 *     excess requests get "rate-limited" (the connection stays up).
 *
 * Answers may be given later (asynchronous handlers): a request stays valid
 * until it is answered, even if its client disconnects meanwhile, in which
 * case the answer is dropped.  Every request must be answered exactly once.
 * Answers go out in the order they are given, which for asynchronous
 * handlers need not be the order of the requests: clients match them by
 * msgid. */
#ifndef WEFT_RPC_H
#define WEFT_RPC_H 1

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "rpc-codec.h"

struct ev_loop;
struct rpc_server;
struct rpc_request;

struct rpc_limits {
    unsigned int max_clients;       /* Connected clients, all listeners. */
    size_t max_msg_size;            /* Bytes per request. */
    unsigned int max_pending;       /* Unanswered requests per client. */
    double rate;                    /* Requests per second per client... */
    double burst;                   /* ...in bursts of up to this many. */
};

#define RPC_LIMITS_DEFAULT_INIT {                   \
        .max_clients = 64,                          \
        .max_msg_size = RPC_MAX_MSG_SIZE_DEFAULT,   \
        .max_pending = 16,                          \
        .rate = 200.0,                              \
        .burst = 400.0,                             \
    }

/* Handles one request.  'params' is an array; it and 'req' stay valid until
 * the request is answered with one of the rpc_reply_*() functions, now or
 * later. */
typedef void rpc_handler_func(struct rpc_request *req,
                              const msgpack_object *params, void *aux);

/* Creates a server listening on unix socket 'path', on 'loop'.
 *
 * The socket's directory is created (mode 0750) if missing; a directory
 * writable by others without the sticky bit is refused (they could replace
 * the socket).  A socket left at 'path' by a dead process (nobody accepts
 * connections on it) is replaced; a live one, or anything that is not a
 * socket, is refused.  The socket gets mode 0660 and, if 'group' is
 * nonnull, that group.
 *
 * Returns 0 or a positive errno value; on error '*errorp' gets a malloc'd
 * message saying what failed and what to do. */
int rpc_server_create(struct ev_loop *loop, const char *path,
                      const char *group, struct rpc_server **,
                      char **errorp);

/* Disconnects every client (their unanswered requests stay valid until
 * answered: answers are dropped), closes the listeners and removes the
 * socket file if it is still the one this server made.  Accepts NULL.  Not
 * from inside a handler. */
void rpc_server_destroy(struct rpc_server *);

/* Also listens on TCP 'addr' ("127.0.0.1:PORT" or "[::1]:PORT"; PORT 0
 * picks a free port, which is logged).  Only loopback addresses are
 * accepted until the protocol has TLS.  Returns 0 or a positive errno
 * value, with '*errorp' as for rpc_server_create(). */
/* Counters since the start, for metrics. */
struct rpc_server_stats {
    unsigned long long n_requests;          /* Well-formed requests. */
    unsigned long long n_protocol_errors;   /* Clients closed for them. */
    unsigned int n_clients;                 /* Connected now. */
};
void rpc_server_get_stats(const struct rpc_server *,
                          struct rpc_server_stats *);

int rpc_server_listen_tcp(struct rpc_server *, const char *addr,
                          char **errorp);

/* Replaces the limits (default RPC_LIMITS_DEFAULT_INIT).  They apply to
 * clients that connect afterwards; 'max_clients' applies at once (clients
 * already connected stay). */
void rpc_server_set_limits(struct rpc_server *, const struct rpc_limits *);

/* Registers 'handler' for 'method'.  Returns 0, or EEXIST if 'method' is
 * taken (the old handler stays). */
int rpc_server_register(struct rpc_server *, const char *method,
                        rpc_handler_func *handler, void *aux);

unsigned int rpc_server_n_clients(const struct rpc_server *);

/* The request's method (null-terminated) and msgid. */
const char *rpc_request_get_method(const struct rpc_request *);
uint32_t rpc_request_get_msgid(const struct rpc_request *);

/* Describes the client for log messages ("client #3 (fd 9, pid 1234, uid
 * 0)"), also after it disconnected. */
const char *rpc_request_get_peer(const struct rpc_request *);

/* True if the client disconnected: an asynchronous handler may stop working
 * on the request (it must still answer it, to free it). */
bool rpc_request_is_orphaned(const struct rpc_request *);

/* Answering, from the handler or later (e.g. from a timer or another
 * watcher's callback).  rpc_reply_end() and the other functions below free
 * 'req'; the handler's 'params' go with it. */

/* Answers with a result: pack exactly one object (a map, an array, a
 * scalar; rpc-codec.h has helpers) with the packer that rpc_reply_begin()
 * returns, then call rpc_reply_end().  If the packed bytes are not exactly
 * one object, the client gets an "internal-error" instead and the mistake
 * is logged. */
msgpack_packer *rpc_reply_begin(struct rpc_request *);
void rpc_reply_end(struct rpc_request *);

/* Shortcuts: a nil result; a string result. */
void rpc_reply_ok(struct rpc_request *);
void rpc_reply_ok_string(struct rpc_request *, const char *);

/* Answers with an error {code, message, field, line}; 'field' NULL and
 * 'line' <= 0 are sent as nil. */
void rpc_reply_error(struct rpc_request *, const char *code,
                     const char *message, const char *field, int line);
void rpc_reply_errorf(struct rpc_request *, const char *code,
                      const char *field, int line, const char *format, ...)
    __attribute__((format(printf, 5, 6)));

#endif /* rpc.h */
