/* A minimal HTTP/1.0 server for Prometheus scrapes: it answers "GET
 * /metrics" with the text a callback produces, then closes the
 * connection.  Non-blocking on the libev loop; a client gets 10 seconds
 * and 8 KiB for its request; at most 16 clients at once. */
#ifndef WEFT_METRICS_SERVER_H
#define WEFT_METRICS_SERVER_H 1

struct ev_loop;
struct metrics_server;

/* Produces the exposition text (malloc'd; the server frees it). */
typedef char *metrics_text_func(void *aux);

/* Listens on 'addr', "IPv4:PORT" or "PORT" (then 127.0.0.1).  Returns 0,
 * or an errno value with a malloc'd message in '*errorp'. */
int metrics_server_create(struct ev_loop *, const char *addr,
                          metrics_text_func *, void *aux,
                          struct metrics_server **, char **errorp);
void metrics_server_destroy(struct metrics_server *);   /* Accepts NULL. */

/* Scrapes answered since the start. */
unsigned long long metrics_server_get_scrapes(const struct metrics_server *);

#endif /* metrics-server.h */
