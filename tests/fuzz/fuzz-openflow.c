/* Fuzz target: OpenFlow messages from a switch, as weftd's listener and
 * flow reconciler handle them (ofproto-glue/openflow.c, flow-table.c).
 * Each input is what a fake switch sends on a fresh TCP connection to
 * 127.0.0.1, after a valid HELLO and FEATURES_REPLY (so that the switch
 * is identified and its flows are being reconciled, and the input reaches
 * the handlers of packet-ins, flow-removed, errors, multipart and bundle
 * replies); then the connection closes. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flow.h"
#include "log.h"
#include "openflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int owner;
static struct of_listener *listener;
static int port;
static unsigned long long n_up, n_down;   /* Switches identified, gone. */

static const struct weft_flow flows[] = {
    { 0, 100, 0x5701000000000001ULL, "in_port=1", "goto_table:10" },
    { 10, 0, 0x5700000000000000ULL, "", "drop" },
};

static void *
switch_up(void *aux, struct of_switch *sw, uint64_t dpid)
{
    (void) aux;
    (void) dpid;
    n_up++;
    of_switch_set_flows(sw, flows, 2);
    return &owner;
}

static void
switch_down(void *owner_, struct of_switch *sw)
{
    (void) owner_;
    (void) sw;
    n_down++;
}

static const struct of_listener_callbacks callbacks = {
    .switch_up = switch_up,
    .switch_down = switch_down,
};

static void
init(void)
{
    weft_log_threshold = WEFT_LOG_OFF;
    for (int i = 0; i < 50 && !listener; i++) {
        char target[64];
        port = 30000 + (getpid() * 7 + i * 131) % 30000;
        snprintf(target, sizeof target, "ptcp:%d:127.0.0.1", port);
        if (of_listener_create(target, &callbacks, NULL, &listener)) {
            listener = NULL;
        }
    }
    if (!listener) {
        abort();
    }
}

/* connect() that survives libFuzzer's SIGALRM (its -timeout watchdog):
 * an interrupted connect goes on in the background, so wait for it to
 * finish instead of calling connect() again. */
static int
connect_retrying(int fd, const struct sockaddr_in *sin)
{
    if (!connect(fd, (const struct sockaddr *) sin, sizeof *sin)) {
        return 0;
    }
    if (errno != EINTR) {
        return -1;
    }
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    int n;
    do {
        n = poll(&pfd, 1, 1000);
    } while (n < 0 && errno == EINTR);

    int error = 0;
    socklen_t len = sizeof error;
    if (n != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len)
        || error) {
        return -1;
    }
    return 0;
}

static void
run(int n)
{
    for (int i = 0; i < n; i++) {
        of_listener_run(listener);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!listener) {
        init();
    }
    /* OpenFlow 1.5: HELLO, then FEATURES_REPLY with datapath ID 1. */
    static const uint8_t preamble[] = {
        0x06, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01,
        0x06, 0x06, 0x00, 0x20, 0x00, 0x00, 0x00, 0x02,
        0, 0, 0, 0, 0, 0, 0, 1,         /* datapath_id */
        0, 0, 0, 0,                     /* n_buffers */
        254, 0, 0, 0,                   /* n_tables, auxiliary_id, pad */
        0, 0, 0, 0x4f,                  /* capabilities */
        0, 0, 0, 0,                     /* reserved */
    };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons(port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    /* Thousands of connections a second: each from another loopback
     * address (all of 127/8 is local), closed with a reset, so that the
     * TIME_WAIT states of either side never use up the ephemeral ports of
     * one address pair. */
    static uint32_t n_conns;
    n_conns++;
    struct sockaddr_in src = {
        .sin_family = AF_INET,
        .sin_addr.s_addr = htonl(0x7f000000u | 0x10000u
                                 | (n_conns % 0xfff0u + 2)),
    };
    struct linger linger = { .l_onoff = 1, .l_linger = 0 };
    if (fd < 0
        || setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger)
        || bind(fd, (struct sockaddr *) &src, sizeof src)
        || connect_retrying(fd, &sin)) {
        perror("fuzz-openflow: connecting to the listener");
        abort();
    }
    run(5);
    if (write(fd, preamble, sizeof preamble) != sizeof preamble
        || (size && write(fd, data, size) < 0)) {
        /* The listener may have closed it already: fine. */
    }
    run(40);
    close(fd);
    /* Until the listener has let go of this connection too, so that
     * connections (and file descriptors) do not pile up across inputs;
     * a connection it never lets go of is a leak worth a crash. */
    for (int i = 0; i < 100000 && n_down < n_up; i++) {
        run(1);
    }
    if (n_down < n_up) {
        abort();
    }
    return 0;
}
