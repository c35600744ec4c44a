/* rpc-echo-server: a test harness that runs weftd's RPC server (rpc.h) on a
 * libev loop with a few methods, for tests/integration/test-rpc.sh:
 *
 *     ping     {"version": STR, "pid": INT}
 *     status   a map with nested values and awkward strings; with
 *              --status-error, an error with a field and a line instead
 *     slow     answers after 100 ms (or params[0] ms) from a timer:
 *              {"slept_ms": INT, "params": PARAMS}
 *     echo     its params
 *
 * SIGTERM or SIGINT: frees everything and exits 0 (for valgrind). */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "rpc.h"

WEFT_LOG_MODULE(echo);

struct echo {
    struct ev_loop *loop;
    struct rpc_server *server;
    struct slow *slows;             /* Pending "slow" requests. */
    bool status_error;
    ev_tstamp started;
};

struct slow {
    struct echo *echo;
    struct slow *prev, *next;
    ev_timer timer;
    struct rpc_request *req;
    const msgpack_object *params;   /* Valid until 'req' is answered. */
    long long int ms;
};

static void
usage(void)
{
    printf("usage: rpc-echo-server --socket PATH [OPTIONS]\n"
           "  --group GROUP        give the socket to GROUP\n"
           "  --tcp ADDR           also listen on TCP ADDR\n"
           "  --max-clients N      --max-pending N    --max-msg-size N\n"
           "  --rate R             --burst B\n"
           "  --status-error       \"status\" answers an error\n"
           "  -v, --verbose        log at debug level\n");
}

static void
ping_cb(struct rpc_request *req, const msgpack_object *params, void *echo_)
{
    msgpack_packer *pk = rpc_reply_begin(req);
    (void) params;
    (void) echo_;

    msgpack_pack_map(pk, 2);
    rpc_pack_kv_string(pk, "version", "rpc-echo-server 0.1.0");
    rpc_pack_kv_int(pk, "pid", getpid());
    rpc_reply_end(req);
}

static void
status_cb(struct rpc_request *req, const msgpack_object *params,
          void *echo_)
{
    struct echo *echo = echo_;
    (void) params;

    if (echo->status_error) {
        rpc_reply_error(req, "invalid-config", "tunnel-ip \"10.0.0.300\" is "
                        "not an IPv4 address", "tunnel-ip", 12);
        return;
    }

    msgpack_packer *pk = rpc_reply_begin(req);
    msgpack_pack_map(pk, 9);
    rpc_pack_kv_string(pk, "daemon", "rpc-echo-server");
    rpc_pack_kv_int(pk, "pid", getpid());
    rpc_pack_kv_double(pk, "uptime", ev_now(echo->loop) - echo->started);
    rpc_pack_key(pk, "clients");
    msgpack_pack_map(pk, 2);
    rpc_pack_kv_uint(pk, "connected", rpc_server_n_clients(echo->server));
    rpc_pack_kv_uint(pk, "max", 64);
    rpc_pack_key(pk, "methods");
    msgpack_pack_array(pk, 4);
    rpc_pack_string(pk, "echo");
    rpc_pack_string(pk, "ping");
    rpc_pack_string(pk, "slow");
    rpc_pack_string(pk, "status");
    rpc_pack_kv_string(pk, "note", "quote \" backslash \\ newline \n tab "
                       "\t caf\xc3\xa9 \xe2\x98\x83 ctrl \x01 end");
    rpc_pack_kv_bool(pk, "ok", true);
    rpc_pack_kv_string(pk, "nothing", NULL);
    rpc_pack_kv_int(pk, "negative", -5);
    rpc_reply_end(req);
}

static void
echo_cb(struct rpc_request *req, const msgpack_object *params, void *echo_)
{
    (void) echo_;
    msgpack_pack_object(rpc_reply_begin(req), *params);
    rpc_reply_end(req);
}

static void
slow_unlink(struct slow *s)
{
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        s->echo->slows = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }
}

static void
slow_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct slow *s = w->data;
    (void) loop;
    (void) revents;

    if (rpc_request_is_orphaned(s->req)) {
        WEFT_INFO("%s: slow request's client is gone; answering anyway "
                  "(the answer is dropped)", rpc_request_get_peer(s->req));
    }
    msgpack_packer *pk = rpc_reply_begin(s->req);
    msgpack_pack_map(pk, 2);
    rpc_pack_kv_int(pk, "slept_ms", s->ms);
    rpc_pack_key(pk, "params");
    msgpack_pack_object(pk, *s->params);
    rpc_reply_end(s->req);
    slow_unlink(s);
    free(s);
}

static void
slow_cb(struct rpc_request *req, const msgpack_object *params, void *echo_)
{
    struct echo *echo = echo_;
    struct slow *s = calloc(1, sizeof *s);
    if (!s) {
        abort();
    }
    s->echo = echo;
    s->req = req;
    s->params = params;
    s->ms = 100;
    if (params->via.array.size
        && params->via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER
        && params->via.array.ptr[0].via.u64 <= 60000) {
        s->ms = params->via.array.ptr[0].via.u64;
    }
    s->next = echo->slows;
    if (echo->slows) {
        echo->slows->prev = s;
    }
    echo->slows = s;
    ev_timer_init(&s->timer, slow_timer_cb, s->ms / 1000.0, 0.0);
    s->timer.data = s;
    ev_timer_start(echo->loop, &s->timer);
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void) revents;
    WEFT_INFO("%s: exiting", strsignal(w->signum));
    ev_break(loop, EVBREAK_ALL);
}

int
main(int argc, char *argv[])
{
    static const struct option long_options[] = {
        { "socket", required_argument, NULL, 's' },
        { "group", required_argument, NULL, 'g' },
        { "tcp", required_argument, NULL, 't' },
        { "max-clients", required_argument, NULL, 'C' },
        { "max-pending", required_argument, NULL, 'P' },
        { "max-msg-size", required_argument, NULL, 'M' },
        { "rate", required_argument, NULL, 'r' },
        { "burst", required_argument, NULL, 'b' },
        { "status-error", no_argument, NULL, 'E' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct rpc_limits limits = RPC_LIMITS_DEFAULT_INIT;
    struct echo echo = { .status_error = false };
    const char *path = NULL, *group = NULL, *tcp = NULL;

    for (;;) {
        int c = getopt_long(argc, argv, "vh", long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case 's': path = optarg; break;
        case 'g': group = optarg; break;
        case 't': tcp = optarg; break;
        case 'C': limits.max_clients = atoi(optarg); break;
        case 'P': limits.max_pending = atoi(optarg); break;
        case 'M': limits.max_msg_size = atol(optarg); break;
        case 'r': limits.rate = atof(optarg); break;
        case 'b': limits.burst = atof(optarg); break;
        case 'E': echo.status_error = true; break;
        case 'v': weft_log_threshold = WEFT_LOG_DBG; break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (!path || optind < argc) {
        usage();
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    echo.loop = ev_default_loop(EVFLAG_AUTO);
    echo.started = ev_now(echo.loop);

    char *error;
    if (rpc_server_create(echo.loop, path, group, &echo.server, &error)) {
        WEFT_ERR("%s; exiting", error);
        free(error);
        ev_loop_destroy(echo.loop);
        return 1;
    }
    if (tcp && rpc_server_listen_tcp(echo.server, tcp, &error)) {
        WEFT_ERR("%s; exiting", error);
        free(error);
        rpc_server_destroy(echo.server);
        ev_loop_destroy(echo.loop);
        return 1;
    }
    rpc_server_set_limits(echo.server, &limits);
    rpc_server_register(echo.server, "ping", ping_cb, &echo);
    rpc_server_register(echo.server, "status", status_cb, &echo);
    rpc_server_register(echo.server, "slow", slow_cb, &echo);
    rpc_server_register(echo.server, "echo", echo_cb, &echo);
    if (rpc_server_register(echo.server, "ping", ping_cb, &echo)
        != EEXIST) {
        WEFT_ERR("registering \"ping\" twice did not fail");
        return 1;
    }

    ev_signal sigterm, sigint;
    ev_signal_init(&sigterm, signal_cb, SIGTERM);
    ev_signal_init(&sigint, signal_cb, SIGINT);
    ev_signal_start(echo.loop, &sigterm);
    ev_signal_start(echo.loop, &sigint);

    ev_run(echo.loop, 0);

    rpc_server_destroy(echo.server);
    /* Requests outlive the server; answering them frees them. */
    while (echo.slows) {
        struct slow *s = echo.slows;
        ev_timer_stop(echo.loop, &s->timer);
        rpc_reply_error(s->req, "shutting-down", NULL, NULL, 0);
        slow_unlink(s);
        free(s);
    }
    ev_signal_stop(echo.loop, &sigterm);
    ev_signal_stop(echo.loop, &sigint);
    ev_loop_destroy(echo.loop);
    return 0;
}
