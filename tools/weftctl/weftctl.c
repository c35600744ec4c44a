/* weftctl: the command-line client of weftd's RPC socket (controller/rpc.h).
 *
 *     weftctl [--socket PATH] [--format text|json] [--timeout SECS]
 *             COMMAND [ARGS]
 *
 * Each command is one msgpack-RPC request [0, 1, METHOD, [ARGS...]] (the
 * arguments as strings) and one response.  The result is printed as JSON
 * with --format json, else by the command's text formatter, else as
 * indented "key: value" lines.  Commands are the rows of 'commands' below.
 *
 * Exit status: 0 success, 1 failure (no connection, error reply, timeout),
 * 2 usage error. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rpc-codec.h"

#define WEFTCTL_VERSION "0.1.0"
#define DEFAULT_SOCKET "/run/weft/weftd.sock"
#define DEFAULT_TIMEOUT 10.0
#define MAX_REPLY_SIZE (64 * 1024 * 1024)

/* What a text formatter knows besides the result. */
struct weftctl_reply_info {
    const char *target;         /* Socket path or "tcp:HOST:PORT". */
    double elapsed_ms;          /* From connecting to the reply. */
};

typedef void weftctl_format_func(const msgpack_object *result,
                                 const struct weftctl_reply_info *);

/* Command flags. */
enum {
    CMD_READS_FILE = 1 << 0,    /* First argument is FILE or "-": sent as
                                 * its contents, followed by its name. */
    CMD_CHANGES = 1 << 1,       /* Changes the policy: takes --dry-run. */
    CMD_PROBES = 1 << 3,        /* Takes --probe. */
    CMD_PATH_ARG = 1 << 2,      /* First argument is a path, sent absolute
                                 * (weftd runs elsewhere). */
};

struct weftctl_command {
    const char *name;
    int min_args, max_args;
    const char *args_usage;
    const char *method;
    const char *help;
    weftctl_format_func *format; /* NULL: generic rendering. */
    int flags;
};

static weftctl_format_func format_ping;
static weftctl_format_func format_verify;
static weftctl_format_func format_change;
static weftctl_format_func format_document;
static weftctl_format_func format_lines;
static weftctl_format_func format_history;
static weftctl_format_func format_hosts;
static weftctl_format_func format_ports;
static weftctl_format_func format_show;
static weftctl_format_func format_flows;
static weftctl_format_func format_trace;
static weftctl_format_func format_mirrors;
static weftctl_format_func format_topology;
static weftctl_format_func format_doctor;
static weftctl_format_func format_network_sync;
static weftctl_format_func format_mirror;
static weftctl_format_func format_exports;
static weftctl_format_func format_apps;
static weftctl_format_func format_app;

#define OBJECT_COMMANDS(KIND, ARGS)                                          \
    { KIND "-add", 2, 64, "NAME " ARGS, KIND "-add",                         \
      "add or replace a " KIND, format_change, CMD_CHANGES },               \
    { KIND "-del", 1, 1, "NAME", KIND "-del", "delete a " KIND,             \
      format_change, CMD_CHANGES },                                         \
    { KIND "-list", 0, 0, "", KIND "-list", "list " KIND "s",               \
      format_lines, 0 }

static const struct weftctl_command commands[] = {
    { "ping", 0, 0, "", "ping", "check that weftd answers", format_ping, 0 },
    { "status", 0, 0, "", "status", "counts: hosts by state, VMs, policy",
      NULL, 0 },
    { "show", 0, 0, "", "show", "hosts, VMs and vNICs with their state",
      format_show, 0 },
    { "doctor", 0, 1, "[HOST]", "doctor",
      "troubleshooting checklist, host by host, with what to do",
      format_doctor, 0 },
    { "network-sync", 0, 1, "[HOST]", "network-sync",
      "define or update Weft's libvirt network (a portgroup per segment) "
      "on every host now", format_network_sync, 0 },
    { "recompute", 0, 0, "", "recompute",
      "compute every host's flows now, skipping none (a host whose flows "
      "change had been left stale by the incremental compute)", NULL, 0 },
    { "topology", 0, 2, "[dot|png FILE]", "topology",
      "hosts, tunnels, segments and VMs as a Graphviz graph (DOT, or a PNG "
      "through dot(1))", format_topology, 0 },
    { "list-hosts", 0, 0, "", "list-hosts", "managed hosts", format_hosts,
      0 },
    { "list-ports", 0, 1, "[HOST]", "list-ports",
      "vNICs with segment and placement", format_ports, 0 },
    { "dump-flows", 1, 1, "HOST", "dump-flows",
      "the flows weftd wants on HOST, with the object behind each",
      format_flows, 0 },
    { "trace", 2, 3, "SRC DST [tcp/PORT|udp/PORT|icmp]", "trace",
      "what happens to such a packet, and which rule decides, by the "
      "policy and by the flows the switches have", format_trace, 0 },
    { "verify", 0, 1, "[--probe] [HOST]", "verify",
      "check every pair of vNICs: the switches' flows (or, with --probe, "
      "real packets) do what the policy says", format_verify, CMD_PROBES },
    { "set-policy", 1, 1, "FILE|-", "set-policy",
      "replace the whole policy (validated whole)", format_change,
      CMD_READS_FILE | CMD_CHANGES },
    { "get-policy", 0, 0, "", "get-policy", "print the policy in force",
      format_document, 0 },
    OBJECT_COMMANDS("segment", "vlan=N [vni=N] [isolated]"),
    OBJECT_COMMANDS("group", "KEY=A,B..."),
    OBJECT_COMMANDS("rule", "allow|deny from=G to=G [proto=P] [ports=N]"),
    { "mirror-add", 3, 64, "NAME sources=REF,... to=REF [direction=D]",
      "mirror-add", "add or replace a port mirror", format_change,
      CMD_CHANGES },
    { "mirror-del", 1, 1, "NAME", "mirror-del", "delete a port mirror",
      format_change, CMD_CHANGES },
    { "mirror-list", 0, 0, "", "mirror-list",
      "mirrors with state and packet counters", format_mirrors, 0 },
    { "mirror-show", 1, 1, "NAME", "mirror-show",
      "one mirror, host by host", format_mirror, 0 },
    OBJECT_COMMANDS("limit", "targets=REF,... rate=RATE [burst=SIZE] "
                    "[direction=D]"),
    { "export-add", 2, 64, "NAME sflow|ipfix|netflow collectors=IP:PORT,...",
      "export-add", "add a flow export (sFlow, IPFIX, NetFlow) on every "
      "bridge", format_change, CMD_CHANGES },
    { "export-del", 1, 1, "NAME", "export-del", "delete a flow export",
      format_change, CMD_CHANGES },
    { "export-list", 0, 0, "", "export-list",
      "flow exports with their state on each host", format_exports, 0 },
    { "policy-history", 0, 0, "", "policy-history",
      "accepted policy generations", format_history, 0 },
    { "policy-rollback", 1, 1, "GEN", "policy-rollback",
      "put an earlier generation back in force", format_change,
      CMD_CHANGES },
    { "app-load", 1, 65, "PATH [KEY=VALUE...]", "app-load",
      "load a controller app with its configuration", format_app,
      CMD_PATH_ARG },
    { "app-unload", 1, 1, "NAME", "app-unload",
      "unload an app (its flows go)", NULL, 0 },
    { "app-reload", 1, 1, "NAME", "app-reload",
      "load an app's file again; its flows are reconciled", format_app, 0 },
    { "app-list", 0, 0, "", "app-list",
      "loaded apps with state and counters", format_apps, 0 },
};

static void text_write(const msgpack_object *, int level);

static void
usage(FILE *out)
{
    fprintf(out,
            "weftctl: control and query weftd\n"
            "usage: weftctl [OPTIONS] COMMAND [ARGS]\n"
            "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        const struct weftctl_command *c = &commands[i];
        char synopsis[96];
        snprintf(synopsis, sizeof synopsis, "%s%s%s", c->name,
                 c->args_usage[0] ? " " : "", c->args_usage);
        if (strlen(synopsis) < 22) {
            fprintf(out, "  %-22s%s\n", synopsis, c->help);
        } else {
            fprintf(out, "  %s\n  %-22s%s\n", synopsis, "", c->help);
        }
    }
    fprintf(out,
            "Options:\n"
            "  -s, --socket=PATH     weftd's RPC socket (default $WEFT_SOCKET"
            " or\n"
            "                        " DEFAULT_SOCKET "; tcp:HOST:PORT for "
            "TCP)\n"
            "  -f, --format=FORMAT   text (default) or json\n"
            "  -t, --timeout=SECS    give up after SECS (default %.0f; 0: "
            "never)\n"
            "      --dry-run         for policy changes: validate and show "
            "the changes,\n"
            "                        change nothing\n"
            "      --probe           for verify: send real packets\n"
            "  -h, --help            this help\n"
            "  -V, --version         print the version\n",
            DEFAULT_TIMEOUT);
}

static void __attribute__((format(printf, 1, 2), noreturn))
usage_error(const char *format, ...)
{
    va_list args;
    fputs("weftctl: ", stderr);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputs("\n", stderr);
    usage(stderr);
    exit(2);
}

static void __attribute__((format(printf, 1, 2), noreturn))
fatal(const char *format, ...)
{
    va_list args;
    fputs("weftctl: ", stderr);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputs("\n", stderr);
    exit(1);
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Milliseconds left before 'deadline' for poll() (-1: no deadline). */
static int
poll_timeout(double deadline)
{
    if (deadline <= 0) {
        return -1;
    }
    double left = deadline - now_ms();
    return left <= 0 ? 0 : (int) ceil(left);
}

/* Waits for 'events' on 'fd'.  Returns false on timeout. */
static bool
wait_fd(int fd, short events, double deadline)
{
    struct pollfd pfd = { .fd = fd, .events = events };
    for (;;) {
        int n = poll(&pfd, 1, poll_timeout(deadline));
        if (n > 0) {
            return true;
        } else if (n == 0) {
            return false;
        } else if (errno != EINTR) {
            fatal("poll failed: %s", strerror(errno));
        }
    }
}

static void __attribute__((noreturn))
connect_failed(const char *target, int error)
{
    const char *hint = "";
    if (error == ENOENT || error == ECONNREFUSED) {
        hint = " (is weftd running?)";
    } else if (error == EACCES || error == EPERM) {
        hint = " (are you in the socket's group?)";
    }
    fatal("cannot connect to weftd at %s: %s%s", target, strerror(error),
          hint);
}

/* Connects a non-blocking socket to 'sa', within 'deadline'. */
static int
connect_addr(const char *target, const struct sockaddr *sa, socklen_t len,
             double deadline)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK
                    | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fatal("cannot create a socket: %s", strerror(errno));
    }
    for (;;) {
        if (!connect(fd, sa, len)) {
            return fd;
        }
        int error = errno;
        if (error == EINTR) {
            continue;
        } else if (error == EAGAIN && sa->sa_family == AF_UNIX) {
            /* weftd's backlog is full: try again shortly. */
            if (deadline > 0 && now_ms() >= deadline) {
                fatal("weftd at %s accepts no connections (its queue is "
                      "full); try again", target);
            }
            usleep(10000);
            continue;
        } else if (error == EINPROGRESS) {
            if (!wait_fd(fd, POLLOUT, deadline)) {
                fatal("cannot connect to weftd at %s: timed out", target);
            }
            socklen_t elen = sizeof error;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &elen)) {
                error = errno;
            }
            if (!error) {
                return fd;
            }
        }
        connect_failed(target, error);
    }
}

static int
open_connection(const char *target, double deadline)
{
    if (!strncmp(target, "tcp:", 4)) {
        char *host = strdup(target + 4);
        char *colon = strrchr(host, ':');
        if (!colon || colon == host) {
            usage_error("%s: expected tcp:HOST:PORT", target);
        }
        *colon = '\0';
        char *h = host;
        if (h[0] == '[' && colon[-1] == ']') {
            h++;
            colon[-1] = '\0';
        }
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
        struct addrinfo *ai;
        int error = getaddrinfo(h, colon + 1, &hints, &ai);
        if (error) {
            fatal("cannot connect to weftd at %s: %s", target,
                  gai_strerror(error));
        }
        int fd = connect_addr(target, ai->ai_addr, ai->ai_addrlen,
                              deadline);
        freeaddrinfo(ai);
        free(host);
        return fd;
    }

    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (strlen(target) >= sizeof sun.sun_path) {
        fatal("%s: socket path too long", target);
    }
    strcpy(sun.sun_path, target);
    return connect_addr(target, (struct sockaddr *) &sun, sizeof sun,
                        deadline);
}

static void
send_all(int fd, const char *target, const char *data, size_t n,
         double deadline)
{
    while (n > 0) {
        ssize_t k = send(fd, data, n, MSG_NOSIGNAL);
        if (k > 0) {
            data += k;
            n -= k;
        } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(fd, POLLOUT, deadline)) {
                fatal("weftd at %s did not take the request in time",
                      target);
            }
        } else if (k < 0 && errno != EINTR) {
            fatal("cannot send to weftd at %s: %s", target,
                  strerror(errno));
        }
    }
}

/* Receives the response to 'msgid' into '*msg'. */
static void
receive_reply(int fd, const char *target, uint32_t msgid, double deadline,
              double timeout, msgpack_unpacked *msg,
              struct rpc_response_msg *resp)
{
    struct rpc_decoder *dec = rpc_decoder_create(MAX_REPLY_SIZE);
    struct rpc_protocol_error error;

    for (;;) {
        enum rpc_decode_status status = rpc_decoder_next(dec, msg, &error);
        if (status == RPC_DECODE_ERROR) {
            fatal("malformed reply from weftd at %s: %s", target,
                  error.message);
        } else if (status == RPC_DECODE_MESSAGE) {
            if (!rpc_parse_response(&msg->data, resp, &error)) {
                fatal("malformed reply from weftd at %s: %s", target,
                      error.message);
            }
            if (!resp->has_msgid || resp->msgid == msgid) {
                break;
            }
            continue;           /* Not ours. */
        }

        if (!wait_fd(fd, POLLIN, deadline)) {
            fatal("weftd at %s did not answer within %g s", target,
                  timeout);
        }
        size_t size;
        void *buf = rpc_decoder_get_buffer(dec, 65536, &size);
        ssize_t n = recv(fd, buf, size, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            fatal("cannot receive from weftd at %s: %s", target,
                  strerror(errno));
        } else if (n == 0) {
            fatal("weftd at %s closed the connection without answering",
                  target);
        }
        rpc_decoder_commit(dec, n);
    }
    rpc_decoder_destroy(dec);
}

/* Prints error reply 'e'. */
static void
print_error(const msgpack_object *e)
{
    const msgpack_object *message = rpc_map_get(e, "message");
    const msgpack_object *field = rpc_map_get(e, "field");
    const msgpack_object *line = rpc_map_get(e, "line");

    fputs("weftctl: ", stderr);
    if (message && message->type == MSGPACK_OBJECT_STR) {
        fwrite(message->via.str.ptr, 1, message->via.str.size, stderr);
    } else {
        rpc_json_write(stderr, e, 0);
    }
    /* Policy errors say where they are in the message itself. */
    const msgpack_object *code = rpc_map_get(e, "code");
    bool located = code && rpc_str_equals(code, "invalid-policy");
    bool has_line = (!located && line
                     && line->type == MSGPACK_OBJECT_POSITIVE_INTEGER);
    bool has_field = !located && field && field->type == MSGPACK_OBJECT_STR;
    if (has_line || has_field) {
        fputs(" (", stderr);
        if (has_line) {
            fprintf(stderr, "line %llu",
                    (unsigned long long) line->via.u64);
        }
        if (has_field) {
            fprintf(stderr, "%sfield %.*s", has_line ? ", " : "",
                    (int) field->via.str.size, field->via.str.ptr);
        }
        fputs(")", stderr);
    }
    fputs("\n", stderr);
}

/* Reads 'path' ("-": standard input) whole, or exits. */
static char *
read_file(const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        fatal("%s: cannot open: %s", path, strerror(errno));
    }
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fatal("out of memory");
        }
        len += fread(buf + len, 1, cap - len - 1, f);
        if (len < cap - 1) {
            break;
        }
        if (cap >= MAX_REPLY_SIZE / 64) {
            fatal("%s: larger than %d bytes", path, MAX_REPLY_SIZE / 64);
        }
        cap *= 2;
        buf = realloc(buf, cap);
    }
    if (ferror(f)) {
        fatal("%s: read error: %s", path, strerror(errno));
    }
    if (f != stdin) {
        fclose(f);
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        fatal("%s: contains a NUL byte: not a policy document", path);
    }
    return buf;
}

/* Text formatters.  Each gets the result map/array and prints it the way
 * an operator reads it; --format json prints the result itself. */

/* Exit status of a command whose result can report failures (1), for
 * formatters that find one. */
static int exit_status;

static const msgpack_object *
get(const msgpack_object *map, const char *key)
{
    return map && map->type == MSGPACK_OBJECT_MAP ? rpc_map_get(map, key)
                                                  : NULL;
}

static bool
get_bool(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = get(map, key);
    return o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

static void
put_str(const msgpack_object *o, const char *if_nil, int width)
{
    if (o && o->type == MSGPACK_OBJECT_STR) {
        printf("%-*.*s", width, (int) o->via.str.size, o->via.str.ptr);
    } else if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        printf("%-*llu", width, (unsigned long long) o->via.u64);
    } else if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        printf("%-*lld", width, (long long) o->via.i64);
    } else {
        printf("%-*s", width, if_nil);
    }
}

static long long int
get_int(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = get(map, key);
    return (!o ? 0
            : o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (long long) o->via.u64
            : o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? o->via.i64 : 0);
}

static void
format_change(const msgpack_object *r, const struct weftctl_reply_info *info)
{
    const msgpack_object *changes = get(r, "changes");
    const msgpack_object *dry = get(r, "dry_run");
    bool dry_run = dry && dry->type == MSGPACK_OBJECT_BOOLEAN
                   && dry->via.boolean;
    bool none = !changes || changes->type != MSGPACK_OBJECT_STR
                || !changes->via.str.size;
    (void) info;

    if (none) {
        printf("no changes; policy generation %lld stays in force\n",
               get_int(r, "generation"));
        return;
    }
    fwrite(changes->via.str.ptr, 1, changes->via.str.size, stdout);
    if (changes->via.str.ptr[changes->via.str.size - 1] != '\n') {
        putchar('\n');
    }
    if (dry_run) {
        const msgpack_object *flows = get(r, "flow_changes");
        if (flows && flows->type == MSGPACK_OBJECT_STR) {
            printf("flows:\n%s", flows->via.str.size ? "" : "  (none)\n");
            fwrite(flows->via.str.ptr, 1, flows->via.str.size, stdout);
        }
        printf("dry run: nothing changed (policy generation %lld stays in "
               "force)\n", get_int(r, "generation"));
    } else {
        printf("policy generation %lld in force\n",
               get_int(r, "generation"));
    }
}

static void
format_document(const msgpack_object *r,
                const struct weftctl_reply_info *info)
{
    const msgpack_object *doc = get(r, "document");
    (void) info;
    if (doc && doc->type == MSGPACK_OBJECT_STR) {
        fwrite(doc->via.str.ptr, 1, doc->via.str.size, stdout);
    }
}

static void
format_lines(const msgpack_object *r, const struct weftctl_reply_info *info)
{
    (void) info;
    for (uint32_t i = 0; r->type == MSGPACK_OBJECT_ARRAY
                         && i < r->via.array.size; i++) {
        put_str(&r->via.array.ptr[i], "", 0);
        putchar('\n');
    }
}

static void
format_history(const msgpack_object *r, const struct weftctl_reply_info *info)
{
    (void) info;
    printf("%-6s %-20s %s\n", "GEN", "CREATED (UTC)", "COMMENT");
    for (uint32_t i = 0; r->type == MSGPACK_OBJECT_ARRAY
                         && i < r->via.array.size; i++) {
        const msgpack_object *e = &r->via.array.ptr[i];
        time_t t = get_int(e, "created_at_ms") / 1000;
        struct tm tm;
        char when[32];
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        const msgpack_object *in_force = get(e, "in_force");
        printf("%-6lld %-20s ", get_int(e, "generation"), when);
        put_str(get(e, "comment"), "", 0);
        if (in_force && in_force->type == MSGPACK_OBJECT_BOOLEAN
            && in_force->via.boolean) {
            fputs("  (in force)", stdout);
        }
        putchar('\n');
    }
}

/* One column of a table of result maps. */
struct column {
    const char *header;
    const char *key;
    const char *if_nil;
    int width;                  /* 0: last column, unpadded. */
};

/* Prints an array of maps as a table, one row per map.  A map's "reason",
 * if any, follows its row after ": ". */
static void
print_table(const msgpack_object *rows, const struct column *cols,
            size_t n_cols)
{
    for (size_t c = 0; c < n_cols; c++) {
        printf(c + 1 < n_cols ? "%-*s " : "%*s\n", cols[c].width,
               cols[c].header);
    }
    for (uint32_t i = 0; rows && rows->type == MSGPACK_OBJECT_ARRAY
                         && i < rows->via.array.size; i++) {
        const msgpack_object *row = &rows->via.array.ptr[i];
        for (size_t c = 0; c < n_cols; c++) {
            put_str(get(row, cols[c].key), cols[c].if_nil, cols[c].width);
            if (c + 1 < n_cols) {
                putchar(' ');
            }
        }
        const msgpack_object *reason = get(row, "reason");
        if (reason && reason->type == MSGPACK_OBJECT_STR) {
            fputs(": ", stdout);
            put_str(reason, "", 0);
        }
        putchar('\n');
    }
}

static void
print_hosts(const msgpack_object *hosts)
{
    static const struct column cols[] = {
        { "HOST", "name", "?", 10 },
        { "STATE", "state", "?", 11 },
        { "OVSDB", "ovsdb", "?", 22 },
        { "OPENFLOW", "openflow_version", "-", 12 },
        { "LIBVIRT", "libvirt", "-", 0 },
    };
    print_table(hosts, cols, sizeof cols / sizeof *cols);
}

static void
print_ports(const msgpack_object *ports)
{
    static const struct column cols[] = {
        { "HOST", "host", "?", 8 },
        { "VM", "vm", "?", 14 },
        { "TAP", "tap", "-", 14 },
        { "MAC", "mac", "-", 17 },
        { "SEGMENT", "segment", "-", 10 },
        { "PLACEMENT", "placement", "?", 0 },
    };
    print_table(ports, cols, sizeof cols / sizeof *cols);
}

static void
format_hosts(const msgpack_object *r, const struct weftctl_reply_info *info)
{
    (void) info;
    print_hosts(r);
}

static void
format_ports(const msgpack_object *r, const struct weftctl_reply_info *info)
{
    (void) info;
    print_ports(r);
}

static void
format_flows(const msgpack_object *r, const struct weftctl_reply_info *info)
{
    (void) info;
    for (uint32_t i = 0; r->type == MSGPACK_OBJECT_ARRAY
                         && i < r->via.array.size; i++) {
        const msgpack_object *f = &r->via.array.ptr[i];
        const msgpack_object *match = get(f, "match");
        printf("table=%lld, priority=%lld, cookie=", get_int(f, "table"),
               get_int(f, "priority"));
        put_str(get(f, "cookie"), "?", 0);
        fputs(", ", stdout);
        if (match && match->type == MSGPACK_OBJECT_STR
            && match->via.str.size) {
            put_str(match, "", 0);
            putchar(' ');
        }
        fputs("actions=", stdout);
        put_str(get(f, "actions"), "", 0);
        const msgpack_object *owner = get(f, "owner");
        if (owner && owner->type == MSGPACK_OBJECT_STR) {
            fputs("  # ", stdout);
            put_str(owner, "", 0);
        }
        putchar('\n');
    }
}

static void
format_trace(const msgpack_object *r, const struct weftctl_reply_info *info)
{
    (void) info;
    printf("by the policy:\n");
    put_str(get(r, "explanation"), "", 0);
    printf("\nby the flows on the switches (Weft's, as read back):\n");
    put_str(get(r, "flows"), "", 0);
    if (get_bool(r, "flows_complete")
        && get_bool(r, "delivered") != get_bool(r, "flows_delivered")) {
        printf("\nMISMATCH: the policy %s this packet but the flows %s it\n",
               get_bool(r, "delivered") ? "allows" : "refuses",
               get_bool(r, "flows_delivered") ? "deliver" : "drop");
        exit_status = 1;
    }
}

/* Counts, then one line per mismatch; any mismatch fails the command. */
static void
format_verify(const msgpack_object *r, const struct weftctl_reply_info *info)
{
    (void) info;
    put_str(get(r, "details"), "", 0);
    if (get_bool(r, "probe")) {
        printf("real packets: %lld probes (%lld copies each), %lld "
               "mismatches, %lld inconclusive, %lld not sent\n",
               get_int(r, "probes"), get_int(r, "copies"),
               get_int(r, "mismatches"),
               get_int(r, "inconclusive"), get_int(r, "not_sent"));
        if (get_int(r, "mismatches")) {
            exit_status = 1;
        }
        return;
    }
    printf("%lld vNICs, %lld probes per pair: %lld checked, %lld "
           "mismatches, %lld not checked%s\n", get_int(r, "vnics"),
           get_int(r, "probes_per_pair"), get_int(r, "checks"),
           get_int(r, "mismatches"), get_int(r, "not_checked"),
           get_bool(r, "truncated") ? " (stopped early: too many)" : "");
    if (get_int(r, "mismatches")) {
        exit_status = 1;
    }
}

static const struct column mirror_cols[] = {
    { "MIRROR", "name", "?", 14 },
    { "STATE", "state", "?", 16 },
    { "SOURCES", "sources", "0", 7 },
    { "DESTINATION", "destination", "-", 20 },
    { "KEY", "tunnel_key", "-", 8 },
    { "PACKETS", "tx_packets", "0", 0 },
};

/* Each mirror's detail, when it has one, under the table. */
static void
print_mirror_details(const msgpack_object *mirrors)
{
    for (uint32_t i = 0; mirrors->type == MSGPACK_OBJECT_ARRAY
                         && i < mirrors->via.array.size; i++) {
        const msgpack_object *m = &mirrors->via.array.ptr[i];
        const msgpack_object *detail = get(m, "detail");
        if (detail && detail->type == MSGPACK_OBJECT_STR
            && detail->via.str.size) {
            fputs("  ", stdout);
            put_str(get(m, "name"), "?", 0);
            fputs(": ", stdout);
            put_str(detail, "", 0);
            putchar('\n');
        }
    }
}

static void
format_mirrors(const msgpack_object *r, const struct weftctl_reply_info *info)
{
    (void) info;
    print_table(r, mirror_cols, sizeof mirror_cols / sizeof *mirror_cols);
    print_mirror_details(r);
}

static void
put_names(const msgpack_object *names)
{
    for (uint32_t i = 0; names && names->type == MSGPACK_OBJECT_ARRAY
                         && i < names->via.array.size; i++) {
        fputs(i ? "," : "", stdout);
        put_str(&names->via.array.ptr[i], "?", 0);
    }
    if (!names || names->type != MSGPACK_OBJECT_ARRAY
        || !names->via.array.size) {
        putchar('-');
    }
}

static void
format_mirror(const msgpack_object *r, const struct weftctl_reply_info *info)
{
    (void) info;
    msgpack_object one = { .type = MSGPACK_OBJECT_ARRAY,
                           .via.array = { 1, (msgpack_object *) r } };
    print_table(&one, mirror_cols, sizeof mirror_cols / sizeof *mirror_cols);
    print_mirror_details(&one);
    const msgpack_object *rows = get(r, "rows");
    for (uint32_t i = 0; rows && rows->type == MSGPACK_OBJECT_ARRAY
                         && i < rows->via.array.size; i++) {
        const msgpack_object *row = &rows->via.array.ptr[i];
        const msgpack_object *present = get(row, "present");
        fputs("host ", stdout);
        put_str(get(row, "host"), "?", 0);
        fputs(": ingress of ", stdout);
        put_names(get(row, "select_src"));
        fputs(", egress of ", stdout);
        put_names(get(row, "select_dst"));
        fputs(" -> ", stdout);
        put_str(get(row, "output"), "?", 0);
        if (present && present->type == MSGPACK_OBJECT_BOOLEAN
            && present->via.boolean) {
            printf(": %lld packets, %lld bytes\n", get_int(row, "tx_packets"),
                   get_int(row, "tx_bytes"));
        } else {
            fputs(": not on the bridge: ", stdout);
            put_str(get(row, "problem"), "?", 0);
            putchar('\n');
        }
    }
}

/* One line per export, then its state host by host. */
static void
format_exports(const msgpack_object *r, const struct weftctl_reply_info *info)
{
    (void) info;
    printf("%-14s %-8s %-9s %s\n", "EXPORT", "TYPE", "INSTALLED",
           "COLLECTORS");
    for (uint32_t i = 0; r->type == MSGPACK_OBJECT_ARRAY
                         && i < r->via.array.size; i++) {
        const msgpack_object *e = &r->via.array.ptr[i];
        char installed[32];
        snprintf(installed, sizeof installed, "%lld/%lld",
                 get_int(e, "installed"), get_int(e, "n_hosts"));
        put_str(get(e, "name"), "?", 14);
        putchar(' ');
        put_str(get(e, "type"), "?", 8);
        printf(" %-9s ", installed);
        put_names(get(e, "collectors"));
        const msgpack_object *segs = get(e, "segments");
        if (segs && segs->type == MSGPACK_OBJECT_ARRAY
            && segs->via.array.size) {
            fputs(" (segments ", stdout);
            put_names(segs);
            putchar(')');
        }
        putchar('\n');

        const msgpack_object *hosts = get(e, "hosts");
        for (uint32_t j = 0; hosts && hosts->type == MSGPACK_OBJECT_ARRAY
                             && j < hosts->via.array.size; j++) {
            const msgpack_object *h = &hosts->via.array.ptr[j];
            fputs(j ? ", " : "  ", stdout);
            put_str(get(h, "host"), "?", 0);
            fputs(": ", stdout);
            put_str(get(h, "state"), "?", 0);
        }
        if (hosts && hosts->type == MSGPACK_OBJECT_ARRAY
            && hosts->via.array.size) {
            putchar('\n');
        }
    }
}

/* "weftctl topology png FILE": where the picture goes (NULL: DOT text on
 * standard output). */
static const char *topology_png;

/* A msgpack string as a C string in 'buf' ("" if not a string). */
static const char *
str_of(const msgpack_object *o, char *buf, size_t size)
{
    if (o && o->type == MSGPACK_OBJECT_STR) {
        snprintf(buf, size, "%.*s", (int) o->via.str.size, o->via.str.ptr);
    } else {
        snprintf(buf, size, "%s", "");
    }
    return buf;
}

/* One line per finding, "HOST CHECK SEVERITY message", and the fix under
 * each one that is not OK; then a count. */
static void
format_doctor(const msgpack_object *r, const struct weftctl_reply_info *info)
{
    size_t n_warn = 0, n_error = 0;
    char sev[16];
    (void) info;
    for (uint32_t i = 0; r->type == MSGPACK_OBJECT_ARRAY
                         && i < r->via.array.size; i++) {
        const msgpack_object *f = &r->via.array.ptr[i];
        str_of(get(f, "severity"), sev, sizeof sev);
        put_str(get(f, "host"), "?", 8);
        putchar(' ');
        put_str(get(f, "check"), "?", 9);
        printf(" %-5s ", sev);
        put_str(get(f, "message"), "", 0);
        putchar('\n');
        const msgpack_object *fix = get(f, "fix");
        if (fix && fix->type == MSGPACK_OBJECT_STR) {
            fputs("         fix: ", stdout);
            put_str(fix, "", 0);
            putchar('\n');
        }
        n_warn += !strcmp(sev, "warn");
        n_error += !strcmp(sev, "error");
    }
    printf("%zu errors, %zu warnings\n", n_error, n_warn);
}

/* One line per host: what became of Weft's libvirt network there.  Any
 * result but "in sync", "defined", "updated" or "skipped" fails the
 * command. */
static void
format_network_sync(const msgpack_object *r,
                    const struct weftctl_reply_info *info)
{
    static const char *const good[] = {
        "in sync", "defined", "updated", "skipped",
    };
    char result[32];
    (void) info;
    for (uint32_t i = 0; r->type == MSGPACK_OBJECT_ARRAY
                         && i < r->via.array.size; i++) {
        const msgpack_object *h = &r->via.array.ptr[i];
        str_of(get(h, "result"), result, sizeof result);
        put_str(get(h, "host"), "?", 8);
        putchar(' ');
        put_str(get(h, "network"), "?", 8);
        printf(" %s: ", result);
        put_str(get(h, "message"), "", 0);
        putchar('\n');
        bool ok = false;
        for (size_t j = 0; j < sizeof good / sizeof *good; j++) {
            ok = ok || !strcmp(result, good[j]);
        }
        if (!ok) {
            exit_status = 1;
        }
    }
}

/* Every libvirt network of every host: Weft's with its state, the others
 * as not managed, with why their VMs get no Weft policy. */
static void
print_libvirt_networks(const msgpack_object *hosts)
{
    char buf[256];
    printf("%-8s %-12s %-9s %-10s %s\n", "HOST", "NETWORK", "FORWARD",
           "BRIDGE", "STATE");
    for (uint32_t i = 0; hosts && hosts->type == MSGPACK_OBJECT_ARRAY
                         && i < hosts->via.array.size; i++) {
        const msgpack_object *h = &hosts->via.array.ptr[i];
        const msgpack_object *nets = get(h, "libvirt_networks");
        const msgpack_object *mine = get(h, "libvirt_network");
        for (uint32_t j = 0; nets && nets->type == MSGPACK_OBJECT_ARRAY
                             && j < nets->via.array.size; j++) {
            const msgpack_object *n = &nets->via.array.ptr[j];
            put_str(get(h, "name"), "?", 8);
            putchar(' ');
            put_str(get(n, "name"), "?", 12);
            putchar(' ');
            put_str(get(n, "forward"), "?", 9);
            putchar(' ');
            put_str(get(n, "bridge"), "-", 10);
            putchar(' ');
            const msgpack_object *managed = get(n, "managed");
            if (managed && managed->type == MSGPACK_OBJECT_BOOLEAN
                && managed->via.boolean) {
                printf("Weft's: %s: ",
                       str_of(get(mine, "result"), buf, sizeof buf));
                put_str(get(mine, "message"), "", 0);
            } else {
                fputs("not managed: ", stdout);
                put_str(get(n, "reason"), "", 0);
            }
            putchar('\n');
        }
        if (mine && mine->type == MSGPACK_OBJECT_MAP
            && str_of(get(mine, "result"), buf, sizeof buf)
            && (!strcmp(buf, "refused") || !strcmp(buf, "failed"))) {
            put_str(get(h, "name"), "?", 8);
            putchar(' ');
            put_str(get(mine, "name"), "?", 12);
            printf(" %s: ", buf);
            put_str(get(mine, "message"), "", 0);
            putchar('\n');
        }
    }
}

/* A fill color per segment, stable for its name. */
static const char *
segment_color(const char *segment)
{
    static const char *const palette[] = {
        "#a6cee3", "#b2df8a", "#fb9a99", "#fdbf6f", "#cab2d6", "#ffff99",
        "#8dd3c7", "#bebada", "#fccde5", "#d9d9d9",
    };
    unsigned int h = 5381;
    for (const char *s = segment; *s; s++) {
        h = h * 33 + (unsigned char) *s;
    }
    return *segment ? palette[h % (sizeof palette / sizeof *palette)]
                    : "white";
}

/* Hosts are clusters holding their bridge and their VMs' vNICs (colored
 * by segment); tunnels join the bridges. */
static void
write_dot(const msgpack_object *r, FILE *f)
{
    const msgpack_object *hosts = get(r, "hosts");
    const msgpack_object *vnics = get(r, "vnics");
    const msgpack_object *tunnels = get(r, "tunnels");
    const msgpack_object *segments = get(r, "segments");
    char a[128], b[128], c[128], d[128], e[64];

    fprintf(f, "graph weft {\n  graph [fontname=\"Helvetica\", "
            "rankdir=LR];\n  node [fontname=\"Helvetica\", fontsize=10];\n"
            "  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (uint32_t i = 0; hosts && i < hosts->via.array.size; i++) {
        const msgpack_object *h = &hosts->via.array.ptr[i];
        str_of(get(h, "name"), a, sizeof a);
        fprintf(f, "  subgraph \"cluster_%s\" {\n    label=\"%s (%s)\\n%s\";"
                "\n    \"br:%s\" [shape=box, style=rounded, label=\"%s\"];"
                "\n", a, a, str_of(get(h, "state"), b, sizeof b),
                str_of(get(h, "tunnel_ip"), c, sizeof c), a,
                str_of(get(h, "bridge"), d, sizeof d));
        for (uint32_t j = 0; vnics && j < vnics->via.array.size; j++) {
            const msgpack_object *v = &vnics->via.array.ptr[j];
            if (strcmp(str_of(get(v, "host"), b, sizeof b), a)) {
                continue;
            }
            str_of(get(v, "segment"), c, sizeof c);
            str_of(get(v, "tap"), d, sizeof d);
            fprintf(f, "    \"%s/%s\" [shape=ellipse, style=filled, "
                    "fillcolor=\"%s\", label=\"%s\\n%s\\n%s\"];\n"
                    "    \"br:%s\" -- \"%s/%s\" [style=%s];\n",
                    a, d, segment_color(c),
                    str_of(get(v, "vm"), b, sizeof b), d, c[0] ? c : "-",
                    a, a, d,
                    strcmp(str_of(get(v, "placement"), e, sizeof e),
                           "placed") ? "dashed" : "solid");
        }
        fprintf(f, "  }\n");
    }
    /* One edge per pair of hosts, drawn once. */
    for (uint32_t i = 0; tunnels && i < tunnels->via.array.size; i++) {
        const msgpack_object *t = &tunnels->via.array.ptr[i];
        str_of(get(t, "host"), a, sizeof a);
        str_of(get(t, "peer"), b, sizeof b);
        if (strcmp(a, b) < 0) {
            fprintf(f, "  \"br:%s\" -- \"br:%s\" [label=\"VXLAN\", "
                    "penwidth=2];\n", a, b);
        }
    }
    /* The legend: segments with their VLAN and VNI. */
    fprintf(f, "  subgraph cluster_legend {\n    label=\"segments\";\n");
    for (uint32_t i = 0; segments && i < segments->via.array.size; i++) {
        const msgpack_object *s = &segments->via.array.ptr[i];
        str_of(get(s, "name"), a, sizeof a);
        long long vni = get_int(s, "vni");
        snprintf(e, sizeof e, "VNI %lld", vni);
        fprintf(f, "    \"seg:%s\" [shape=note, style=filled, "
                "fillcolor=\"%s\", label=\"%s\\nVLAN %lld, %s\"];\n", a,
                segment_color(a), a, get_int(s, "vlan"),
                vni ? e : "no VNI");
    }
    fprintf(f, "  }\n}\n");
}

static void
format_topology(const msgpack_object *r, const struct weftctl_reply_info *info)
{
    (void) info;
    if (!topology_png) {
        write_dot(r, stdout);
        return;
    }
    char *cmd = NULL;
    if (asprintf(&cmd, "dot -Tpng -o '%s'", topology_png) < 0) {
        fatal("out of memory");
    }
    FILE *p = popen(cmd, "w");
    free(cmd);
    if (!p) {
        fatal("cannot run dot(1): %s (install graphviz)", strerror(errno));
    }
    write_dot(r, p);
    int status = pclose(p);
    if (status) {
        fatal("dot(1) failed (status %d): is graphviz installed?", status);
    }
    printf("%s\n", topology_png);
}

static void
format_show(const msgpack_object *r, const struct weftctl_reply_info *info)
{
    const msgpack_object *c = get(r, "counts");
    (void) info;
    printf("hosts: %lld (%lld ready, %lld syncing, %lld connecting, %lld "
           "lost, %lld error)\n", get_int(c, "hosts"),
           get_int(c, "hosts_ready"), get_int(c, "hosts_syncing"),
           get_int(c, "hosts_connecting"), get_int(c, "hosts_lost"),
           get_int(c, "hosts_error"));
    printf("vms: %lld, vnics: %lld (%lld placed, %lld unplaced)\n",
           get_int(c, "vms"), get_int(c, "vnics"), get_int(c, "vnics_placed"),
           get_int(c, "vnics_unplaced"));
    printf("policy: generation %lld, %lld segments, %lld rules\n\n",
           get_int(c, "policy_generation"), get_int(c, "segments"),
           get_int(c, "rules"));
    print_hosts(get(r, "hosts"));
    putchar('\n');
    print_ports(get(r, "vnics"));
    putchar('\n');
    print_libvirt_networks(get(r, "hosts"));
}

static void
print_apps(const msgpack_object *apps)
{
    static const struct column cols[] = {
        { "APP", "name", "?", 12 },
        { "STATE", "state", "?", 9 },
        { "ABI", "abi", "-", 4 },
        { "TABLES", "first_table", "?", 6 },
        { "PACKET-INS", "packet_ins", "0", 10 },
        { "FLOWS", "flows", "0", 6 },
        { "ERRORS", "errors", "0", 6 },
        { "PATH", "path", "?", 0 },
    };
    print_table(apps, cols, sizeof cols / sizeof *cols);
    for (uint32_t i = 0; apps->type == MSGPACK_OBJECT_ARRAY
                         && i < apps->via.array.size; i++) {
        const msgpack_object *e = get(&apps->via.array.ptr[i], "last_error");
        if (e && e->type == MSGPACK_OBJECT_STR) {
            put_str(get(&apps->via.array.ptr[i], "name"), "?", 0);
            fputs(": last error: ", stdout);
            put_str(e, "", 0);
            putchar('\n');
        }
    }
}

static void
format_apps(const msgpack_object *r, const struct weftctl_reply_info *info)
{
    (void) info;
    print_apps(r);
}

static void
format_app(const msgpack_object *r, const struct weftctl_reply_info *info)
{
    (void) info;
    printf("app ");
    put_str(get(r, "name"), "?", 0);
    putchar(' ');
    put_str(get(r, "state"), "?", 0);
    printf(": tables %lld-%lld, %lld flows\n", get_int(r, "first_table"),
           get_int(r, "last_table"), get_int(r, "flows"));
}

int
main(int argc, char *argv[])
{
    static const struct option long_options[] = {
        { "socket", required_argument, NULL, 's' },
        { "format", required_argument, NULL, 'f' },
        { "timeout", required_argument, NULL, 't' },
        { "dry-run", no_argument, NULL, 'D' },
        { "probe", no_argument, NULL, 'P' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *target = getenv("WEFT_SOCKET");
    bool json = false;
    bool dry_run = false;
    bool probe = false;
    double timeout = DEFAULT_TIMEOUT;

    if (!target || !target[0]) {
        target = DEFAULT_SOCKET;
    }
    opterr = 0;
    for (;;) {
        /* '+': options end at the command, whose arguments may start with
         * '-'. */
        int c = getopt_long(argc, argv, "+s:f:t:hV", long_options, NULL);
        if (c == -1) {
            break;
        }
        char *end;
        switch (c) {
        case 's':
            target = optarg;
            break;
        case 'D':
            dry_run = true;
            break;
        case 'P':
            probe = true;
            break;
        case 'f':
            if (!strcmp(optarg, "json")) {
                json = true;
            } else if (!strcmp(optarg, "text")) {
                json = false;
            } else {
                usage_error("unknown format \"%s\" (text or json)", optarg);
            }
            break;
        case 't':
            timeout = strtod(optarg, &end);
            if (end == optarg || *end || !(timeout >= 0)) {
                usage_error("--timeout wants a number of seconds, not "
                            "\"%s\"", optarg);
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("weftctl %s\n", WEFTCTL_VERSION);
            return 0;
        case ':':
            usage_error("option %s needs an argument", argv[optind - 1]);
        default:
            usage_error("unknown option \"%s\"", argv[optind - 1]);
        }
    }
    if (optind >= argc) {
        usage_error("no command given");
    }

    const char *name = argv[optind];
    const struct weftctl_command *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (!strcmp(commands[i].name, name)) {
            cmd = &commands[i];
        }
    }
    if (!cmd) {
        usage_error("unknown command \"%s\"", name);
    }
    /* "--dry-run" may also follow the command, as in
     * "weftctl set-policy --dry-run FILE". */
    int n_args = 0;
    char **args = argv + optind + 1;
    for (int i = optind + 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dry-run")) {
            dry_run = true;
        } else if (!strcmp(argv[i], "--probe")) {
            probe = true;
        } else {
            args[n_args++] = argv[i];
        }
    }
    if (n_args < cmd->min_args || n_args > cmd->max_args) {
        if (cmd->min_args == cmd->max_args) {
            usage_error("\"%s\" takes %d argument%s%s%s", name,
                        cmd->min_args, cmd->min_args == 1 ? "" : "s",
                        cmd->args_usage[0] ? ": " : "", cmd->args_usage);
        }
        usage_error("\"%s\" takes %d to %d arguments: %s", name,
                    cmd->min_args, cmd->max_args, cmd->args_usage);
    }

    if (!strcmp(cmd->name, "topology")) {
        /* Local arguments: how to render, not sent to weftd. */
        if (n_args && strcmp(args[0], "dot") && strcmp(args[0], "png")) {
            usage_error("topology: \"%s\" is not dot or png", args[0]);
        }
        if (n_args && !strcmp(args[0], "png")) {
            if (n_args != 2 || strchr(args[1], '\'')) {
                usage_error("topology png needs a FILE (without ')");
            }
            topology_png = args[1];
        }
        n_args = 0;
    }
    if (dry_run && !(cmd->flags & CMD_CHANGES)) {
        usage_error("--dry-run only goes with commands that change the "
                    "policy");
    }
    if (probe && !(cmd->flags & CMD_PROBES)) {
        usage_error("--probe only goes with verify");
    }
    if (probe && timeout == DEFAULT_TIMEOUT) {
        /* A quarter of a second per probe, one at a time. */
        timeout = 3600;
    }
    char *file_text = NULL;
    if (cmd->flags & CMD_READS_FILE) {
        file_text = read_file(args[0]);
    }
    char *abs_path = NULL;
    if (cmd->flags & CMD_PATH_ARG) {
        abs_path = realpath(args[0], NULL);
        if (!abs_path) {
            fatal("%s: %s", args[0], strerror(errno));
        }
        args[0] = abs_path;
    }

    double start = now_ms();
    double deadline = timeout > 0 ? start + timeout * 1000.0 : 0;
    int fd = open_connection(target, deadline);

    /* The request. */
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    const uint32_t msgid = 1;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    int n_params = (n_args + (file_text != NULL)
                    + (dry_run || probe ? 1 : 0));
    rpc_pack_request_header(&pk, msgid, cmd->method, n_params);
    if (file_text) {
        /* The document, then its name for error messages. */
        rpc_pack_string(&pk, file_text);
        rpc_pack_string(&pk, strcmp(args[0], "-") ? args[0] : "<stdin>");
        free(file_text);
    } else {
        for (int i = 0; i < n_args; i++) {
            rpc_pack_string(&pk, args[i]);
        }
    }
    if (dry_run || probe) {
        msgpack_pack_map(&pk, 1);
        rpc_pack_kv_bool(&pk, dry_run ? "dry_run" : "probe", true);
    }
    send_all(fd, target, sbuf.data, sbuf.size, deadline);
    msgpack_sbuffer_destroy(&sbuf);
    free(abs_path);

    msgpack_unpacked msg;
    struct rpc_response_msg resp;
    msgpack_unpacked_init(&msg);
    receive_reply(fd, target, msgid, deadline, timeout, &msg, &resp);
    close(fd);

    if (resp.error) {
        print_error(resp.error);
        msgpack_unpacked_destroy(&msg);
        return 1;
    }
    struct weftctl_reply_info info = {
        .target = target,
        .elapsed_ms = now_ms() - start,
    };
    if (json) {
        rpc_json_write(stdout, resp.result, 2);
        putchar('\n');
    } else if (cmd->format) {
        cmd->format(resp.result, &info);
    } else {
        text_write(resp.result, 0);
    }
    msgpack_unpacked_destroy(&msg);
    if (fflush(stdout) || ferror(stdout)) {
        fatal("cannot write output: %s", strerror(errno));
    }
    return exit_status;
}

/* Text output. */

/* Writes string 's' for a terminal: control characters other than tab
 * escaped, lines after the first indented to 'level'. */
static void
text_string(const char *s, size_t n, int level)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '\n') {
            if (i + 1 < n) {
                printf("\n%*s", 2 * level, "");
            }
        } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
            printf("\\x%02x", c);
        } else {
            putchar(c);
        }
    }
}

static bool
is_nonempty_container(const msgpack_object *obj)
{
    return ((obj->type == MSGPACK_OBJECT_MAP && obj->via.map.size)
            || (obj->type == MSGPACK_OBJECT_ARRAY && obj->via.array.size));
}

static void
text_scalar(const msgpack_object *obj, int level)
{
    switch (obj->type) {
    case MSGPACK_OBJECT_NIL:
        fputs("-", stdout);
        break;
    case MSGPACK_OBJECT_STR:
        text_string(obj->via.str.ptr, obj->via.str.size, level);
        break;
    case MSGPACK_OBJECT_BIN:
        printf("<%"PRIu32" bytes>", obj->via.bin.size);
        break;
    case MSGPACK_OBJECT_MAP:
        fputs("{}", stdout);
        break;
    case MSGPACK_OBJECT_ARRAY:
        fputs("[]", stdout);
        break;
    default:
        rpc_json_write(stdout, obj, 0);
        break;
    }
}

/* Writes 'obj' as "key: value" lines (maps) and "- item" lines (arrays),
 * nested ones indented by two spaces per level. */
static void
text_write(const msgpack_object *obj, int level)
{
    if (obj->type == MSGPACK_OBJECT_MAP && obj->via.map.size) {
        for (uint32_t i = 0; i < obj->via.map.size; i++) {
            const msgpack_object_kv *kv = &obj->via.map.ptr[i];
            printf("%*s", 2 * level, "");
            text_scalar(&kv->key, level + 1);
            if (is_nonempty_container(&kv->val)) {
                fputs(":\n", stdout);
                text_write(&kv->val, level + 1);
            } else {
                fputs(": ", stdout);
                text_scalar(&kv->val, level + 1);
                putchar('\n');
            }
        }
    } else if (obj->type == MSGPACK_OBJECT_ARRAY && obj->via.array.size) {
        for (uint32_t i = 0; i < obj->via.array.size; i++) {
            const msgpack_object *item = &obj->via.array.ptr[i];
            printf("%*s-", 2 * level, "");
            if (is_nonempty_container(item)) {
                putchar('\n');
                text_write(item, level + 1);
            } else {
                putchar(' ');
                text_scalar(item, level + 1);
                putchar('\n');
            }
        }
    } else if (obj->type != MSGPACK_OBJECT_NIL || level) {
        printf("%*s", 2 * level, "");
        text_scalar(obj, level);
        putchar('\n');
    }
}

/* Command formatters. */

static void
format_ping(const msgpack_object *result,
            const struct weftctl_reply_info *info)
{
    const msgpack_object *version = rpc_map_get(result, "version");
    const msgpack_object *pid = rpc_map_get(result, "pid");

    fputs("pong from ", stdout);
    if (version && version->type == MSGPACK_OBJECT_STR) {
        text_string(version->via.str.ptr, version->via.str.size, 0);
    } else {
        fputs("weftd", stdout);
    }
    if (pid && pid->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        printf(" (pid %llu)", (unsigned long long) pid->via.u64);
    }
    printf(" at %s in %.1f ms\n", info->target, info->elapsed_ms);
}
