/* HTTP/1.0 server for Prometheus scrapes (see metrics-server.h). */
#include "metrics-server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

WEFT_LOG_MODULE(metrics);

#define MAX_REQUEST 8192
#define MAX_CLIENTS 16
#define CLIENT_TIMEOUT 10.0

struct metrics_client {
    struct metrics_server *server;
    ev_io io;
    ev_timer timer;
    char request[MAX_REQUEST];
    size_t request_len;
    char *reply;                /* Once the request is complete. */
    size_t reply_len, reply_sent;
};

struct metrics_server {
    struct ev_loop *loop;
    ev_io accept_io;
    metrics_text_func *text;
    void *aux;
    struct metrics_client *clients[MAX_CLIENTS];
    unsigned long long n_scrapes;
};

static void
client_close(struct metrics_client *c)
{
    struct metrics_server *s = c->server;
    ev_io_stop(s->loop, &c->io);
    ev_timer_stop(s->loop, &c->timer);
    close(c->io.fd);
    for (size_t i = 0; i < MAX_CLIENTS; i++) {
        if (s->clients[i] == c) {
            s->clients[i] = NULL;
        }
    }
    free(c->reply);
    free(c);
}

static void
set_reply(struct metrics_client *c, const char *status, const char *body)
{
    c->reply = xasprintf("HTTP/1.0 %s\r\nContent-Type: text/plain; "
                         "version=0.0.4; charset=utf-8\r\nContent-Length: "
                         "%zu\r\nConnection: close\r\n\r\n%s", status,
                         strlen(body), body);
    c->reply_len = strlen(c->reply);
    ev_io_stop(c->server->loop, &c->io);
    ev_io_set(&c->io, c->io.fd, EV_WRITE);
    ev_io_start(c->server->loop, &c->io);
}

/* The request is complete: answer it. */
static void
handle_request(struct metrics_client *c)
{
    c->request[c->request_len] = '\0';
    if (!strncmp(c->request, "GET /metrics ", 13)
        || !strncmp(c->request, "GET /metrics?", 13)) {
        char *text = c->server->text(c->server->aux);
        set_reply(c, "200 OK", text);
        free(text);
        c->server->n_scrapes++;
    } else if (!strncmp(c->request, "GET ", 4)) {
        set_reply(c, "404 Not Found", "only /metrics is served here\n");
    } else {
        set_reply(c, "405 Method Not Allowed", "only GET is served here\n");
    }
}

static void
client_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct metrics_client *c = io->data;
    (void) loop;
    (void) revents;

    if (c->reply) {
        ssize_t n = send(io->fd, c->reply + c->reply_sent,
                         c->reply_len - c->reply_sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        if (n > 0) {
            c->reply_sent += n;
        }
        if (n <= 0 || c->reply_sent == c->reply_len) {
            client_close(c);
        }
        return;
    }
    ssize_t n = recv(io->fd, c->request + c->request_len,
                     MAX_REQUEST - 1 - c->request_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        client_close(c);
        return;
    }
    c->request_len += n;
    c->request[c->request_len] = '\0';
    if (strstr(c->request, "\r\n\r\n") || strstr(c->request, "\n\n")) {
        handle_request(c);
    } else if (c->request_len >= MAX_REQUEST - 1) {
        set_reply(c, "413 Request Entity Too Large", "request too large\n");
    }
}

static void
timeout_cb(struct ev_loop *loop, ev_timer *timer, int revents)
{
    (void) loop;
    (void) revents;
    client_close(timer->data);
}

static void
accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct metrics_server *s = io->data;
    (void) revents;

    int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        return;
    }
    size_t slot = MAX_CLIENTS;
    for (size_t i = 0; i < MAX_CLIENTS && slot == MAX_CLIENTS; i++) {
        if (!s->clients[i]) {
            slot = i;
        }
    }
    if (slot == MAX_CLIENTS) {
        WEFT_WARN("metrics: %d scrapes at once already; closing a new one",
                  MAX_CLIENTS);
        close(fd);
        return;
    }
    struct metrics_client *c = xzalloc(sizeof *c);
    c->server = s;
    ev_io_init(&c->io, client_cb, fd, EV_READ);
    c->io.data = c;
    ev_timer_init(&c->timer, timeout_cb, CLIENT_TIMEOUT, 0);
    c->timer.data = c;
    ev_io_start(loop, &c->io);
    ev_timer_start(loop, &c->timer);
    s->clients[slot] = c;
}

/* "IPv4:PORT" or "PORT" into 'sin'. */
static bool
parse_addr(const char *addr, struct sockaddr_in *sin)
{
    char ip[64] = "127.0.0.1";
    const char *colon = strrchr(addr, ':');
    const char *port = colon ? colon + 1 : addr;
    if (colon) {
        if ((size_t) (colon - addr) >= sizeof ip) {
            return false;
        }
        memcpy(ip, addr, colon - addr);
        ip[colon - addr] = '\0';
    }
    char *end;
    long p = strtol(port, &end, 10);
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(p);
    return (*port && !*end && p > 0 && p < 65536
            && inet_pton(AF_INET, ip, &sin->sin_addr) == 1);
}

int
metrics_server_create(struct ev_loop *loop, const char *addr,
                      metrics_text_func *text, void *aux,
                      struct metrics_server **serverp, char **errorp)
{
    struct sockaddr_in sin;
    *serverp = NULL;
    *errorp = NULL;
    if (!parse_addr(addr, &sin)) {
        *errorp = xasprintf("metrics-listen: \"%s\" is not IPv4:PORT or "
                            "PORT", addr);
        return EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0
        || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one)
        || bind(fd, (struct sockaddr *) &sin, sizeof sin)
        || listen(fd, 16)) {
        int error = errno;
        *errorp = xasprintf("metrics-listen %s: %s", addr, strerror(error));
        if (fd >= 0) {
            close(fd);
        }
        return error;
    }
    struct metrics_server *s = xzalloc(sizeof *s);
    s->loop = loop;
    s->text = text;
    s->aux = aux;
    ev_io_init(&s->accept_io, accept_cb, fd, EV_READ);
    s->accept_io.data = s;
    ev_io_start(loop, &s->accept_io);
    *serverp = s;
    return 0;
}

void
metrics_server_destroy(struct metrics_server *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < MAX_CLIENTS; i++) {
        if (s->clients[i]) {
            client_close(s->clients[i]);
        }
    }
    ev_io_stop(s->loop, &s->accept_io);
    close(s->accept_io.fd);
    free(s);
}

unsigned long long
metrics_server_get_scrapes(const struct metrics_server *s)
{
    return s ? s->n_scrapes : 0;
}
