/* weftd's RPC server on the libev loop (see rpc.h). */
#include "rpc.h"
#include "socket-dir.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <grp.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

WEFT_LOG_MODULE(rpc);

#define READ_SIZE 65536             /* Bytes per read, so that one busy
                                     * client cannot starve the others. */
#define ACCEPTS_PER_WAKEUP 32
#define LISTEN_BACKLOG 64
#define WQ_HIGH (1024 * 1024)       /* Stop reading from a client while it
                                     * has this much unsent output... */
#define WQ_MAX (64 * 1024 * 1024)   /* ...and disconnect it above this. */
#define LINGER_SECS 5.0             /* To deliver a protocol error before
                                     * closing. */
#define ACCEPT_PAUSE_SECS 1.0       /* After running out of descriptors. */
#define WARN_INTERVAL 10.0          /* Between repeated warnings. */

struct rpc_method {
    char *name;
    rpc_handler_func *handler;
    void *aux;
};

struct rpc_listener {
    struct rpc_server *server;
    ev_io io;
    char *name;                     /* Socket path or "127.0.0.1:PORT". */
    bool is_unix;
    dev_t dev;                      /* The socket file we made, so that we */
    ino_t ino;                      /* remove only that one. */
};

struct rpc_server {
    struct ev_loop *loop;
    struct rpc_listener **listeners;
    size_t n_listeners;
    struct rpc_method *methods;
    size_t n_methods;
    struct rpc_limits limits;

    struct rpc_client *clients;     /* Doubly linked. */
    unsigned int n_clients;
    unsigned int next_client_id;

    ev_timer accept_pause;
    ev_tstamp last_reject_warning;
    unsigned int n_rejected;        /* Since the last warning. */

    struct rpc_server_stats stats;
};

struct rpc_client {
    struct rpc_server *server;
    struct rpc_client *prev, *next;
    char name[96];                  /* "client #3 (fd 9, pid 12, uid 0)" */
    struct rpc_limits limits;
    ev_io rio, wio;
    ev_timer linger;
    struct rpc_decoder *dec;

    /* Output not yet sent: bytes [wq_start, wq_end) of 'wq'. */
    char *wq;
    size_t wq_start, wq_end, wq_cap;

    struct rpc_request *pending;    /* Unanswered requests, doubly
                                     * linked. */
    unsigned int n_pending;

    double tokens;                  /* Rate limit's token bucket. */
    ev_tstamp refilled;
    ev_tstamp last_rate_warning;
    ev_tstamp last_busy_warning;

    bool in_dispatch;               /* Handling its input: do not flush or
                                     * close from a reply. */
    bool closing;                   /* Takes no more requests; closes when
                                     * its output is sent... */
    bool wait_pending;              /* ...and its requests answered. */
};

struct rpc_request {
    struct rpc_client *client;      /* NULL once the client is gone. */
    struct rpc_request *prev, *next;
    uint32_t msgid;
    char *method;
    char peer[96];
    msgpack_unpacked msg;           /* Owns the params. */
    msgpack_sbuffer sbuf;           /* Reply, after rpc_reply_begin(). */
    msgpack_packer pk;
    size_t header_len;
};

static void accept_cb(struct ev_loop *, ev_io *, int revents);
static void accept_pause_cb(struct ev_loop *, ev_timer *, int revents);
static void listener_destroy(struct rpc_listener *);
static void server_add_listener(struct rpc_server *, int fd,
                                const char *name, bool is_unix);
static int remove_stale_socket(const char *path, char **errorp);
static void client_close(struct rpc_client *);
static void client_queue(struct rpc_client *, const char *, size_t);
static void client_queue_error(struct rpc_client *, const uint32_t *msgid,
                               const char *code, const char *format, ...)
    __attribute__((format(printf, 4, 5)));
static void request_finish(struct rpc_request *, const char *data,
                           size_t len);

int
rpc_server_create(struct ev_loop *loop, const char *path, const char *group,
                  struct rpc_server **serverp, char **errorp)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    gid_t gid = (gid_t) -1;
    int error;

    *serverp = NULL;
    *errorp = NULL;
    if (strlen(path) >= sizeof sun.sun_path) {
        *errorp = xasprintf("%s: RPC socket path too long (at most %zu "
                            "bytes); choose a shorter rpc-socket path",
                            path, sizeof sun.sun_path - 1);
        return ENAMETOOLONG;
    }
    strcpy(sun.sun_path, path);

    if (group) {
        struct group grp, *result;
        char buf[4096];
        error = getgrnam_r(group, &grp, buf, sizeof buf, &result);
        if (!result) {
            *errorp = xasprintf("%s: cannot give the RPC socket to group "
                                "\"%s\": %s", path, group,
                                error ? strerror(error) : "no such group");
            return error ? error : ENOENT;
        }
        gid = grp.gr_gid;
    }

    error = socket_dir_check(path, "RPC socket", errorp);
    if (error || (error = remove_stale_socket(path, errorp))) {
        return error;
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = errno;
        *errorp = xasprintf("%s: cannot create the RPC socket: %s", path,
                            strerror(error));
        return error;
    }
    /* 0660 from the start: there is no moment when others could
     * connect. */
    mode_t old_umask = umask(0117);
    int retval = bind(fd, (struct sockaddr *) &sun, sizeof sun);
    error = errno;
    umask(old_umask);
    if (retval) {
        *errorp = xasprintf("%s: cannot bind the RPC socket: %s", path,
                            strerror(error));
        close(fd);
        return error;
    }
    if (chmod(path, 0660) || (group && chown(path, (uid_t) -1, gid))) {
        error = errno;
        *errorp = xasprintf("%s: cannot set the RPC socket's %s: %s%s",
                            path, group ? "mode or group" : "mode",
                            strerror(error),
                            group ? " (weftd must be root or a member of "
                                    "the group)" : "");
        close(fd);
        unlink(path);
        return error;
    }
    if (listen(fd, LISTEN_BACKLOG)) {
        error = errno;
        *errorp = xasprintf("%s: cannot listen on the RPC socket: %s", path,
                            strerror(error));
        close(fd);
        unlink(path);
        return error;
    }

    struct rpc_server *server = xzalloc(sizeof *server);
    server->loop = loop;
    server->limits = (struct rpc_limits) RPC_LIMITS_DEFAULT_INIT;
    server->next_client_id = 1;
    ev_init(&server->accept_pause, accept_pause_cb);
    server->accept_pause.data = server;
    server_add_listener(server, fd, path, true);

    struct stat st;
    if (!lstat(path, &st)) {
        struct rpc_listener *l = server->listeners[0];
        l->dev = st.st_dev;
        l->ino = st.st_ino;
    }
    WEFT_INFO("listening for RPC clients on %s (mode 0660%s%s)", path,
              group ? ", group " : "", group ? group : "");
    *serverp = server;
    return 0;
}

void
rpc_server_destroy(struct rpc_server *server)
{
    if (!server) {
        return;
    }
    while (server->clients) {
        client_close(server->clients);
    }
    for (size_t i = 0; i < server->n_listeners; i++) {
        listener_destroy(server->listeners[i]);
    }
    free(server->listeners);
    for (size_t i = 0; i < server->n_methods; i++) {
        free(server->methods[i].name);
    }
    free(server->methods);
    ev_timer_stop(server->loop, &server->accept_pause);
    free(server);
}

/* Splits "HOST:PORT" or "[HOST]:PORT" into malloc'd 'host' and a pointer
 * to the port. */
static bool
split_host_port(const char *addr, char **hostp, const char **portp)
{
    const char *colon;
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (!end || end[1] != ':') {
            return false;
        }
        *hostp = strndup(addr + 1, end - addr - 1);
        colon = end + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon || strchr(addr, ':') != colon) {
            return false;
        }
        *hostp = strndup(addr, colon - addr);
    }
    *portp = colon + 1;
    return **portp != '\0';
}

static bool
is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *) sa;
        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *) sa)
                                   ->sin6_addr;
        return (IN6_IS_ADDR_LOOPBACK(a)
                || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127));
    }
    return false;
}

static void
format_inet(const struct sockaddr *sa, socklen_t len, char *buf,
            size_t size)
{
    char host[INET6_ADDRSTRLEN], port[8];
    if (getnameinfo(sa, len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV)) {
        snprintf(buf, size, "unknown address");
    } else if (sa->sa_family == AF_INET6) {
        snprintf(buf, size, "[%s]:%s", host, port);
    } else {
        snprintf(buf, size, "%s:%s", host, port);
    }
}

int
rpc_server_listen_tcp(struct rpc_server *server, const char *addr,
                      char **errorp)
{
    struct addrinfo hints = {
        .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
        .ai_socktype = SOCK_STREAM,
    };
    struct addrinfo *ai;
    char *host = NULL;
    const char *port;
    int error;

    *errorp = NULL;
    if (!split_host_port(addr, &host, &port)
        || getaddrinfo(host, port, &hints, &ai)) {
        free(host);
        *errorp = xasprintf("%s: not a numeric TCP address HOST:PORT (for "
                            "example 127.0.0.1:6656 or [::1]:6656)", addr);
        return EINVAL;
    }
    free(host);
    if (!is_loopback(ai->ai_addr)) {
        freeaddrinfo(ai);
        *errorp = xasprintf("%s: RPC over TCP is only allowed on loopback "
                            "addresses (127.0.0.0/8, ::1) until it supports "
                            "TLS; listen on 127.0.0.1, or reach the unix "
                            "socket over SSH", addr);
        return EACCES;
    }

    int fd = socket(ai->ai_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0
        || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one)
        || bind(fd, ai->ai_addr, ai->ai_addrlen)
        || listen(fd, LISTEN_BACKLOG)) {
        error = errno;
        *errorp = xasprintf("%s: cannot listen for RPC clients: %s", addr,
                            strerror(error));
        if (fd >= 0) {
            close(fd);
        }
        freeaddrinfo(ai);
        return error;
    }
    freeaddrinfo(ai);

    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char name[64];
    if (getsockname(fd, (struct sockaddr *) &ss, &len)) {
        snprintf(name, sizeof name, "%s", addr);
    } else {
        format_inet((struct sockaddr *) &ss, len, name, sizeof name);
    }
    server_add_listener(server, fd, name, false);
    WEFT_INFO("listening for RPC clients on %s (TCP, loopback only)", name);
    return 0;
}

void
rpc_server_set_limits(struct rpc_server *server,
                      const struct rpc_limits *limits)
{
    server->limits = *limits;
}

int
rpc_server_register(struct rpc_server *server, const char *method,
                    rpc_handler_func *handler, void *aux)
{
    for (size_t i = 0; i < server->n_methods; i++) {
        if (!strcmp(server->methods[i].name, method)) {
            return EEXIST;
        }
    }
    server->methods = realloc(server->methods, (server->n_methods + 1)
                              * sizeof *server->methods);
    if (!server->methods) {
        abort();
    }
    struct rpc_method *m = &server->methods[server->n_methods++];
    m->name = strdup(method);
    m->handler = handler;
    m->aux = aux;
    return 0;
}

unsigned int
rpc_server_n_clients(const struct rpc_server *server)
{
    return server->n_clients;
}

const char *
rpc_request_get_method(const struct rpc_request *req)
{
    return req->method;
}

uint32_t
rpc_request_get_msgid(const struct rpc_request *req)
{
    return req->msgid;
}

const char *
rpc_request_get_peer(const struct rpc_request *req)
{
    return req->peer;
}

bool
rpc_request_is_orphaned(const struct rpc_request *req)
{
    return !req->client;
}

msgpack_packer *
rpc_reply_begin(struct rpc_request *req)
{
    msgpack_sbuffer_init(&req->sbuf);
    msgpack_packer_init(&req->pk, &req->sbuf, msgpack_sbuffer_write);
    rpc_pack_response_header(&req->pk, req->msgid);
    req->header_len = req->sbuf.size;
    return &req->pk;
}

void
rpc_reply_end(struct rpc_request *req)
{
    long long int n = rpc_count_objects(req->sbuf.data + req->header_len,
                                        req->sbuf.size - req->header_len);
    if (n != 1) {
        WEFT_ERR("%s: the handler of \"%s\" packed %lld objects as its "
                 "result instead of exactly 1; answering \"%s\" instead "
                 "(a bug in that handler)", req->peer, req->method, n,
                 RPC_E_INTERNAL);
        msgpack_sbuffer_clear(&req->sbuf);
        rpc_pack_error_response(&req->pk, &req->msgid, RPC_E_INTERNAL,
                                "weftd built an invalid reply; see its log",
                                NULL, 0);
    }
    request_finish(req, req->sbuf.data, req->sbuf.size);
}

void
rpc_reply_ok(struct rpc_request *req)
{
    msgpack_pack_nil(rpc_reply_begin(req));
    rpc_reply_end(req);
}

void
rpc_reply_ok_string(struct rpc_request *req, const char *s)
{
    rpc_pack_string(rpc_reply_begin(req), s);
    rpc_reply_end(req);
}

void
rpc_reply_error(struct rpc_request *req, const char *code,
                const char *message, const char *field, int line)
{
    msgpack_sbuffer_init(&req->sbuf);
    msgpack_packer_init(&req->pk, &req->sbuf, msgpack_sbuffer_write);
    rpc_pack_error_response(&req->pk, &req->msgid, code, message, field,
                            line);
    request_finish(req, req->sbuf.data, req->sbuf.size);
}

void
rpc_reply_errorf(struct rpc_request *req, const char *code,
                 const char *field, int line, const char *format, ...)
{
    char *message;
    va_list args;

    va_start(args, format);
    if (vasprintf(&message, format, args) < 0) {
        abort();
    }
    va_end(args);
    rpc_reply_error(req, code, message, field, line);
    free(message);
}

/* Static helpers. */



/* Copies up to 48 bytes of untrusted 's' for a log message, with
 * unprintable bytes as '?'. */
static void
sanitize(const char *s, size_t len, char *buf, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < size && i < 48; i++) {
        unsigned char c = s[i];
        buf[n++] = c >= 0x20 && c < 0x7f ? c : '?';
    }
    if (len > 48 && n + 4 < size) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
}

/* A socket file at 'path' that nobody accepts connections on was left by a
 * process that died: removes it.  Refuses anything else. */
static int
remove_stale_socket(const char *path, char **errorp)
{
    struct stat st;
    int error;

    if (lstat(path, &st)) {
        if (errno == ENOENT) {
            return 0;
        }
        error = errno;
        *errorp = xasprintf("%s: cannot check the RPC socket path: %s", path,
                            strerror(error));
        return error;
    }
    if (!S_ISSOCK(st.st_mode)) {
        *errorp = xasprintf("%s: exists and is not a socket; refusing to "
                            "replace it (remove it, or choose another "
                            "rpc-socket path)", path);
        return EEXIST;
    }

    /* Non-blocking: a live server with a full backlog must not stall us. */
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = errno;
        *errorp = xasprintf("%s: cannot create a socket to probe the RPC "
                            "socket: %s", path, strerror(error));
        return error;
    }
    int retval = connect(fd, (struct sockaddr *) &sun, sizeof sun);
    error = retval ? errno : 0;
    close(fd);
    if (!retval || error == EAGAIN || error == EINPROGRESS) {
        *errorp = xasprintf("%s: another process (another weftd?) is "
                            "accepting connections on this socket; refusing "
                            "to take it over (stop it first)", path);
        return EADDRINUSE;
    } else if (error == ECONNREFUSED) {
        if (unlink(path) && errno != ENOENT) {
            error = errno;
            *errorp = xasprintf("%s: cannot remove the stale RPC socket: "
                                "%s", path, strerror(error));
            return error;
        }
        WEFT_INFO("%s: removed the stale RPC socket of a process that is "
                  "gone", path);
        return 0;
    } else if (error == ENOENT) {
        return 0;
    }
    *errorp = xasprintf("%s: cannot tell whether the existing RPC socket is "
                        "in use: %s; remove it if no weftd is running",
                        path, strerror(error));
    return error;
}

static void
server_add_listener(struct rpc_server *server, int fd, const char *name,
                    bool is_unix)
{
    struct rpc_listener *l = xzalloc(sizeof *l);
    l->server = server;
    l->name = strdup(name);
    l->is_unix = is_unix;
    ev_io_init(&l->io, accept_cb, fd, EV_READ);
    l->io.data = l;
    ev_io_start(server->loop, &l->io);

    server->listeners = realloc(server->listeners, (server->n_listeners + 1)
                                * sizeof *server->listeners);
    if (!server->listeners) {
        abort();
    }
    server->listeners[server->n_listeners++] = l;
}

static void
listener_destroy(struct rpc_listener *l)
{
    ev_io_stop(l->server->loop, &l->io);
    close(l->io.fd);
    if (l->is_unix) {
        /* Only ours: a newer weftd may have replaced it. */
        struct stat st;
        if (!lstat(l->name, &st) && st.st_dev == l->dev
            && st.st_ino == l->ino) {
            unlink(l->name);
        }
    }
    free(l->name);
    free(l);
}

static void
accept_pause_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct rpc_server *server = w->data;
    (void) revents;

    for (size_t i = 0; i < server->n_listeners; i++) {
        ev_io_start(loop, &server->listeners[i]->io);
    }
}

/* Turns away a client over the limit, telling it why. */
static void
reject_client(struct rpc_server *server, int fd, const char *peer)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    char message[128];

    snprintf(message, sizeof message, "too many clients (%u connected); try "
             "again later", server->n_clients);
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    rpc_pack_error_response(&pk, NULL, RPC_E_BUSY, message, NULL, 0);
    if (send(fd, sbuf.data, sbuf.size, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        /* It will see the connection close. */
    }
    msgpack_sbuffer_destroy(&sbuf);
    close(fd);

    server->n_rejected++;
    ev_tstamp now = ev_now(server->loop);
    if (now - server->last_reject_warning >= WARN_INTERVAL) {
        WEFT_WARN("too many RPC clients (%u, the limit); turned away %u "
                  "(latest: %s) with a \"busy\" error; find what holds the "
                  "connections or raise the limit", server->n_clients,
                  server->n_rejected, peer);
        server->last_reject_warning = now;
        server->n_rejected = 0;
    }
}

static void client_read_cb(struct ev_loop *, ev_io *, int revents);
static void client_write_cb(struct ev_loop *, ev_io *, int revents);
static void client_linger_cb(struct ev_loop *, ev_timer *, int revents);

static void
client_create(struct rpc_server *server, int fd, const char *peer)
{
    struct rpc_client *c = xzalloc(sizeof *c);
    c->server = server;
    snprintf(c->name, sizeof c->name, "client #%u (fd %d, %s)",
             server->next_client_id++, fd, peer);
    c->limits = server->limits;
    c->dec = rpc_decoder_create(c->limits.max_msg_size);
    c->tokens = c->limits.burst;
    c->refilled = ev_now(server->loop);
    c->last_rate_warning = c->last_busy_warning = -WARN_INTERVAL;

    ev_io_init(&c->rio, client_read_cb, fd, EV_READ);
    ev_io_init(&c->wio, client_write_cb, fd, EV_WRITE);
    ev_init(&c->linger, client_linger_cb);
    c->rio.data = c->wio.data = c->linger.data = c;
    ev_io_start(server->loop, &c->rio);

    c->next = server->clients;
    if (server->clients) {
        server->clients->prev = c;
    }
    server->clients = c;
    server->n_clients++;
    WEFT_DBG("%s: connected (%u clients)", c->name, server->n_clients);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct rpc_listener *l = w->data;
    struct rpc_server *server = l->server;
    (void) revents;

    for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(w->fd, (struct sockaddr *) &ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int error = errno;
            if (error == EAGAIN || error == EWOULDBLOCK) {
                return;
            } else if (error == EINTR || error == ECONNABORTED) {
                continue;
            } else if (error == EMFILE || error == ENFILE
                       || error == ENOBUFS || error == ENOMEM) {
                /* The pending connection stays readable: without a pause
                 * the loop would spin. */
                WEFT_ERR("cannot accept RPC clients on %s: %s; pausing "
                         "accepts for %.0f s (raise the descriptor limit or "
                         "find what holds descriptors)", l->name,
                         strerror(error), ACCEPT_PAUSE_SECS);
                for (size_t j = 0; j < server->n_listeners; j++) {
                    ev_io_stop(loop, &server->listeners[j]->io);
                }
                ev_timer_stop(loop, &server->accept_pause);
                ev_timer_set(&server->accept_pause, ACCEPT_PAUSE_SECS, 0.0);
                ev_timer_start(loop, &server->accept_pause);
                return;
            }
            WEFT_ERR("cannot accept an RPC client on %s: %s; will retry at "
                     "the next connection", l->name, strerror(error));
            return;
        }

        char peer[64];
        if (l->is_unix) {
            struct ucred cred;
            socklen_t clen = sizeof cred;
            if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen)) {
                snprintf(peer, sizeof peer, "unknown peer");
            } else {
                snprintf(peer, sizeof peer, "pid %ld, uid %ld",
                         (long) cred.pid, (long) cred.uid);
            }
        } else {
            format_inet((struct sockaddr *) &ss, len, peer, sizeof peer);
            if (!is_loopback((struct sockaddr *) &ss)) {
                WEFT_WARN("%s: refusing an RPC client from %s: only "
                          "loopback clients are allowed over TCP", l->name,
                          peer);
                close(fd);
                continue;
            }
        }

        if (server->n_clients >= server->limits.max_clients) {
            reject_client(server, fd, peer);
        } else {
            client_create(server, fd, peer);
        }
    }
}

static void
client_close(struct rpc_client *c)
{
    struct rpc_server *server = c->server;
    struct ev_loop *loop = server->loop;

    ev_io_stop(loop, &c->rio);
    ev_io_stop(loop, &c->wio);
    ev_timer_stop(loop, &c->linger);
    close(c->rio.fd);

    /* Requests stay with their handlers; their answers will be dropped. */
    while (c->pending) {
        struct rpc_request *req = c->pending;
        c->pending = req->next;
        req->client = NULL;
        req->prev = req->next = NULL;
    }
    if (c->n_pending) {
        WEFT_DBG("%s: %u unanswered requests will be answered to nobody",
                 c->name, c->n_pending);
    }

    if (c->prev) {
        c->prev->next = c->next;
    } else {
        server->clients = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    server->n_clients--;
    WEFT_DBG("%s: disconnected (%u clients left)", c->name,
             server->n_clients);

    rpc_decoder_destroy(c->dec);
    free(c->wq);
    free(c);
}

/* Closes 'c' if it is closing and done.  Returns true if it did. */
static bool
client_maybe_close(struct rpc_client *c)
{
    if (c->closing && c->wq_start == c->wq_end
        && (!c->wait_pending || !c->n_pending)) {
        client_close(c);
        return true;
    }
    return false;
}

/* Sends what it can of 'c''s output; may close 'c'. */
static void
client_flush(struct rpc_client *c)
{
    struct ev_loop *loop = c->server->loop;

    while (c->wq_start < c->wq_end) {
        ssize_t n = send(c->rio.fd, c->wq + c->wq_start,
                         c->wq_end - c->wq_start,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            if (c->wait_pending) {
                /* It closed its side, then went away before its answers:
                 * e.g. weftctl interrupted. */
                WEFT_DBG("%s: gone before reading its answers (%s)",
                         c->name, strerror(errno));
            } else {
                WEFT_WARN("%s: cannot send replies (%s); disconnecting it",
                          c->name, strerror(errno));
            }
            client_close(c);
            return;
        }
        c->wq_start += n;
    }

    size_t queued = c->wq_end - c->wq_start;
    if (!queued) {
        c->wq_start = c->wq_end = 0;
        ev_io_stop(loop, &c->wio);
        if (!c->closing && !ev_is_active(&c->rio)) {
            ev_io_start(loop, &c->rio);     /* Caught up: read again. */
        }
    } else {
        ev_io_start(loop, &c->wio);
        if (queued > WQ_MAX) {
            WEFT_WARN("%s: has %zu bytes of replies it does not read; "
                      "disconnecting it", c->name, queued);
            client_close(c);
            return;
        } else if (queued > WQ_HIGH) {
            ev_io_stop(loop, &c->rio);      /* Until it reads its replies. */
        }
    }
    client_maybe_close(c);
}

/* Appends to 'c''s output and sends it, unless 'c' is processing its
 * input (then the reader sends it all at the end). */
static void
client_queue(struct rpc_client *c, const char *data, size_t len)
{
    if (c->wq_start == c->wq_end) {
        c->wq_start = c->wq_end = 0;
    }
    if (c->wq_end + len > c->wq_cap) {
        if (c->wq_start) {
            memmove(c->wq, c->wq + c->wq_start, c->wq_end - c->wq_start);
            c->wq_end -= c->wq_start;
            c->wq_start = 0;
        }
        if (c->wq_end + len > c->wq_cap) {
            size_t cap = c->wq_cap ? c->wq_cap : 4096;
            while (cap < c->wq_end + len) {
                cap *= 2;
            }
            c->wq = realloc(c->wq, cap);
            if (!c->wq) {
                abort();
            }
            c->wq_cap = cap;
        }
    }
    memcpy(c->wq + c->wq_end, data, len);
    c->wq_end += len;
    if (!c->in_dispatch) {
        client_flush(c);
    }
}

static void
client_queue_error(struct rpc_client *c, const uint32_t *msgid,
                   const char *code, const char *format, ...)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    char message[256];
    va_list args;

    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);

    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    rpc_pack_error_response(&pk, msgid, code, message, NULL, 0);
    client_queue(c, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy(&sbuf);
}

/* A protocol error: tells the client, then closes it once that is sent
 * (or after LINGER_SECS). */
static void
client_fail(struct rpc_client *c, const struct rpc_protocol_error *error)
{
    c->server->stats.n_protocol_errors++;
    char msgid[32] = "";
    if (error->has_msgid) {
        snprintf(msgid, sizeof msgid, " (msgid %"PRIu32")", error->msgid);
    }
    WEFT_WARN("%s: %s%s; sending it a \"%s\" error and disconnecting it "
              "(other clients are not affected)", c->name, error->message,
              msgid, error->code);
    client_queue_error(c, error->has_msgid ? &error->msgid : NULL,
                       error->code, "%s", error->message);
    c->closing = true;
    c->wait_pending = false;
    ev_io_stop(c->server->loop, &c->rio);
    ev_timer_set(&c->linger, LINGER_SECS, 0.0);
    ev_timer_start(c->server->loop, &c->linger);
}

static const struct rpc_method *
find_method(const struct rpc_server *server, const char *name, size_t len)
{
    for (size_t i = 0; i < server->n_methods; i++) {
        const struct rpc_method *m = &server->methods[i];
        if (strlen(m->name) == len && !memcmp(m->name, name, len)) {
            return m;
        }
    }
    return NULL;
}

/* Handles one well-formed request; takes ownership of 'msg'. */
static void
client_handle_request(struct rpc_client *c, const struct rpc_request_msg *rm,
                      msgpack_unpacked *msg)
{
    struct rpc_server *server = c->server;
    ev_tstamp now = ev_now(server->loop);
    char method[64];

    sanitize(rm->method, rm->method_len, method, sizeof method);
    WEFT_DBG("%s: request \"%s\" (msgid %"PRIu32")", c->name, method,
             rm->msgid);
    server->stats.n_requests++;

    /* Token bucket. */
    c->tokens += (now - c->refilled) * c->limits.rate;
    if (c->tokens > c->limits.burst) {
        c->tokens = c->limits.burst;
    }
    c->refilled = now;
    if (c->tokens < 1.0) {
        if (now - c->last_rate_warning >= WARN_INTERVAL) {
            WEFT_WARN("%s: more than %.0f requests per second; answering "
                      "\"%s\" until it slows down", c->name,
                      c->limits.rate, RPC_E_RATE_LIMITED);
            c->last_rate_warning = now;
        }
        client_queue_error(c, &rm->msgid, RPC_E_RATE_LIMITED, "more than "
                           "%.0f requests per second (bursts of %.0f); slow "
                           "down", c->limits.rate, c->limits.burst);
        goto done;
    }
    c->tokens -= 1.0;

    if (c->n_pending >= c->limits.max_pending) {
        if (now - c->last_busy_warning >= WARN_INTERVAL) {
            WEFT_WARN("%s: %u requests already await answers; answering "
                      "\"%s\" to more", c->name, c->n_pending, RPC_E_BUSY);
            c->last_busy_warning = now;
        }
        client_queue_error(c, &rm->msgid, RPC_E_BUSY, "%u requests already "
                           "await answers; wait for some before sending "
                           "more", c->n_pending);
        goto done;
    }

    const struct rpc_method *m = find_method(server, rm->method,
                                             rm->method_len);
    if (!m) {
        WEFT_DBG("%s: unknown method \"%s\"", c->name, method);
        client_queue_error(c, &rm->msgid, RPC_E_UNKNOWN_METHOD, "unknown "
                           "method \"%s\"", method);
        goto done;
    }

    struct rpc_request *req = xzalloc(sizeof *req);
    req->client = c;
    req->msgid = rm->msgid;
    req->method = strdup(m->name);
    snprintf(req->peer, sizeof req->peer, "%s", c->name);
    req->msg = *msg;                /* The params live in its zone. */
    req->next = c->pending;
    if (c->pending) {
        c->pending->prev = req;
    }
    c->pending = req;
    c->n_pending++;
    m->handler(req, rm->params, m->aux);
    return;

done:
    msgpack_unpacked_destroy(msg);
}

static void
client_dispatch(struct rpc_client *c)
{
    for (;;) {
        msgpack_unpacked msg;
        struct rpc_protocol_error error;
        struct rpc_request_msg rm;

        msgpack_unpacked_init(&msg);
        enum rpc_decode_status status = rpc_decoder_next(c->dec, &msg,
                                                         &error);
        if (status == RPC_DECODE_AGAIN) {
            msgpack_unpacked_destroy(&msg);
            return;
        } else if (status == RPC_DECODE_ERROR) {
            msgpack_unpacked_destroy(&msg);
            client_fail(c, &error);
            return;
        } else if (!rpc_parse_request(&msg.data, &rm, &error)) {
            msgpack_unpacked_destroy(&msg);
            client_fail(c, &error);
            return;
        }
        client_handle_request(c, &rm, &msg);
    }
}

static void
client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct rpc_client *c = w->data;
    size_t size;
    (void) loop;
    (void) revents;

    void *buf = rpc_decoder_get_buffer(c->dec, READ_SIZE, &size);
    ssize_t n = recv(w->fd, buf, size < READ_SIZE ? size : READ_SIZE, 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            WEFT_WARN("%s: receive failed (%s); disconnecting it", c->name,
                      strerror(errno));
            client_close(c);
        }
        return;
    } else if (n == 0) {
        size_t partial = rpc_decoder_partial_size(c->dec);
        if (partial) {
            WEFT_WARN("%s: closed its connection in the middle of a "
                      "message (%zu bytes received); the message is "
                      "ignored", c->name, partial);
        }
        /* It may only have shut down its sending side: answer what it
         * asked, then close. */
        c->closing = true;
        c->wait_pending = true;
        ev_io_stop(loop, &c->rio);
        client_maybe_close(c);
        return;
    }

    rpc_decoder_commit(c->dec, n);
    c->in_dispatch = true;
    client_dispatch(c);
    c->in_dispatch = false;
    client_flush(c);
}

static void
client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void) loop;
    (void) revents;
    client_flush(w->data);
}

static void
client_linger_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct rpc_client *c = w->data;
    (void) loop;
    (void) revents;

    WEFT_DBG("%s: did not read its error reply within %.0f s; closing",
             c->name, LINGER_SECS);
    client_close(c);
}

static void
request_free(struct rpc_request *req)
{
    msgpack_unpacked_destroy(&req->msg);
    msgpack_sbuffer_destroy(&req->sbuf);
    free(req->method);
    free(req);
}

/* Sends 'data' (a whole response) to 'req''s client, if it is still there,
 * and frees 'req'. */
static void
request_finish(struct rpc_request *req, const char *data, size_t len)
{
    struct rpc_client *c = req->client;

    if (!c) {
        WEFT_DBG("%s: dropping the answer to \"%s\" (msgid %"PRIu32"): the "
                 "client disconnected", req->peer, req->method, req->msgid);
        request_free(req);
        return;
    }

    if (req->prev) {
        req->prev->next = req->next;
    } else {
        c->pending = req->next;
    }
    if (req->next) {
        req->next->prev = req->prev;
    }
    c->n_pending--;
    /* 'c' may be closed by this. */
    client_queue(c, data, len);
    request_free(req);
}

void
rpc_server_get_stats(const struct rpc_server *server,
                     struct rpc_server_stats *stats)
{
    *stats = server->stats;
    stats->n_clients = server->n_clients;
}
