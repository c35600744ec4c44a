/* OpenFlow listener and switch connections (see openflow.h). */
#include <config.h>

#include "openflow.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "openvswitch/list.h"
#include "openvswitch/netdev.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-monitor.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-switch.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/rconn.h"
#include "openvswitch/vconn.h"
#include "byte-order.h"
#include "util.h"

#include "flow-table.h"
#include "log.h"
#include "ovs-loop.h"

WEFT_LOG_MODULE(openflow);

#define ALLOWED_VERSIONS ((1u << OFP13_VERSION) | (1u << OFP14_VERSION) \
                          | (1u << OFP15_VERSION))

/* Probe an idle switch after this many seconds; a silent one is dropped
 * after twice as long. */
#define PROBE_INTERVAL_S 5

/* At most this many messages per switch per loop iteration, so that one busy
 * switch cannot starve the others. */
#define MAX_RECV_PER_RUN 50

struct of_switch {
    struct ovs_list node;           /* In of_listener's 'switches'. */
    struct of_listener *listener;
    struct rconn *rconn;
    char *peer;
    bool features_requested;
    bool identified;                /* Features reply seen. */
    uint64_t dpid;
    unsigned int n_tables;
    void *owner;                    /* From switch_up(), or NULL. */
    struct flow_table *ft;          /* Once identified. */
    struct ovs_list port_stats_reqs; /* Of struct port_stats_req. */
};

/* A port stats request waiting for (the rest of) its reply. */
struct port_stats_req {
    struct ovs_list node;           /* In of_switch's 'port_stats_reqs'. */
    ovs_be32 xid;
    of_port_stats_cb *cb;
    void *aux;
    struct of_port_stats *stats;
    size_t n, allocated;
};

struct of_listener {
    struct pvconn *pvconn;
    char *target;
    struct of_listener_callbacks cbs;
    void *aux;
    struct ovs_list switches;
};

/* OVS listens with a backlog of 10.  When a restarted weftd gets all its
 * switches back at once (they reconnect within milliseconds of each other)
 * and spends tens of milliseconds on each (its flows), the kernel drops the
 * overflow and those switches retry only a second or two later.  pvconn
 * hides its socket, so the listener is found among the process's sockets
 * (new since just before pvconn_open()) and given a deeper queue. */
#define LISTEN_BACKLOG 512
#define MAX_SCANNED_FD 65536

/* Which fds are listening sockets now (malloc'd, MAX_SCANNED_FD long). */
static bool *
listening_sockets(void)
{
    bool *listening = xcalloc(MAX_SCANNED_FD, sizeof *listening);
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;

    while (dir && (de = readdir(dir))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') {
            continue;           /* "." and "..". */
        }
        int fd = atoi(de->d_name);
        int accepting = 0;
        socklen_t len = sizeof accepting;
        if (fd < MAX_SCANNED_FD
            && !getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len)
            && accepting) {
            listening[fd] = true;
        }
    }
    if (dir) {
        closedir(dir);
    }
    return listening;
}

static void
deepen_backlog(const bool *before)
{
    bool *after = listening_sockets();
    for (int fd = 0; fd < MAX_SCANNED_FD; fd++) {
        if (after[fd] && !before[fd] && listen(fd, LISTEN_BACKLOG)) {
            WEFT_WARN("cannot deepen the OpenFlow listen queue (fd %d): %s; "
                      "switches reconnecting all at once may wait a second "
                      "more", fd, ovs_strerror(errno));
        }
    }
    free(after);
}

int
of_listener_create(const char *target,
                   const struct of_listener_callbacks *cbs, void *aux,
                   struct of_listener **listenerp)
{
    struct pvconn *pvconn;
    bool *listening_before = listening_sockets();
    int error = pvconn_open(target, ALLOWED_VERSIONS, 0, &pvconn);
    if (error) {
        free(listening_before);
        *listenerp = NULL;
        return error;
    }
    deepen_backlog(listening_before);
    free(listening_before);

    struct of_listener *l = xzalloc(sizeof *l);
    l->pvconn = pvconn;
    l->target = xstrdup(target);
    l->cbs = *cbs;
    l->aux = aux;
    ovs_list_init(&l->switches);
    *listenerp = l;
    return 0;
}

static void
port_stats_req_free(struct port_stats_req *req)
{
    ovs_list_remove(&req->node);
    free(req->stats);
    free(req);
}

/* Frees 'sw'; with 'notify', tells the owners of pending requests. */
static void
switch_free(struct of_switch *sw, bool notify)
{
    struct port_stats_req *req;
    LIST_FOR_EACH_SAFE (req, node, &sw->port_stats_reqs) {
        if (notify) {
            req->cb(sw, req->aux, ENOTCONN, NULL, 0);
        }
        port_stats_req_free(req);
    }
    ovs_list_remove(&sw->node);
    flow_table_destroy(sw->ft);
    rconn_destroy(sw->rconn);
    free(sw->peer);
    free(sw);
}

void
of_listener_destroy(struct of_listener *l)
{
    if (!l) {
        return;
    }
    struct of_switch *sw;
    LIST_FOR_EACH_SAFE (sw, node, &l->switches) {
        switch_free(sw, false);
    }
    pvconn_close(l->pvconn);
    free(l->target);
    free(l);
}

static void
accept_switches(struct of_listener *l)
{
    for (int i = 0; i < 16; i++) {
        struct vconn *vconn;
        int error = pvconn_accept(l->pvconn, &vconn);
        if (error) {
            if (error != EAGAIN) {
                WEFT_WARN("%s: accept failed: %s; still listening",
                          l->target, ovs_strerror(error));
            }
            return;
        }

        struct of_switch *sw = xzalloc(sizeof *sw);
        sw->listener = l;
        sw->peer = xstrdup(vconn_get_name(vconn));
        ovs_list_init(&sw->port_stats_reqs);
        sw->rconn = rconn_create(PROBE_INTERVAL_S, 0, 0, ALLOWED_VERSIONS);
        rconn_connect_unreliably(sw->rconn, vconn, sw->peer);
        ovs_list_push_back(&l->switches, &sw->node);
        WEFT_DBG("%s: new OpenFlow connection", sw->peer);
    }
}

static void
send_msg(struct of_switch *sw, struct ofpbuf *msg)
{
    int error = rconn_send(sw->rconn, msg, NULL);
    if (error) {
        WEFT_DBG("%s: send failed: %s", sw->peer, ovs_strerror(error));
    }
}

static void
flows_reconciled(void *sw_)
{
    struct of_switch *sw = sw_;
    if (sw->owner && sw->listener->cbs.flows_reconciled) {
        sw->listener->cbs.flows_reconciled(sw->owner, sw);
    }
}

static void
handle_features_reply(struct of_switch *sw, struct ofpbuf *msg)
{
    struct ofputil_switch_features features;
    enum ofperr error = ofputil_pull_switch_features(msg, &features);
    if (error) {
        WEFT_WARN("%s: malformed features reply (%s); closing",
                  sw->peer, ofperr_to_string(error));
        rconn_disconnect(sw->rconn);
        return;
    }
    if (sw->identified) {
        return;
    }
    sw->identified = true;
    sw->dpid = features.datapath_id;
    sw->n_tables = features.n_tables;
    /* Before switch_up(), which may already give the switch its flows. */
    sw->ft = flow_table_create(sw->rconn, sw->peer, flows_reconciled, sw);
    sw->owner = sw->listener->cbs.switch_up(sw->listener->aux, sw, sw->dpid);
    if (!sw->owner) {
        rconn_disconnect(sw->rconn);
    }
}

static void
handle_packet_in(struct of_switch *sw, const struct ofp_header *oh)
{
    struct ofputil_packet_in pin;
    size_t total_len;
    uint32_t buffer_id;
    enum ofperr error = ofputil_decode_packet_in(oh, true, NULL, NULL, &pin,
                                                 &total_len, &buffer_id,
                                                 NULL);
    if (error) {
        WEFT_WARN("%s: malformed packet-in (%s); ignored", sw->peer,
                  ofperr_to_string(error));
        return;
    }
    if (sw->owner && sw->listener->cbs.packet_in) {
        struct of_packet_in pi = {
            .in_port = (OVS_FORCE uint16_t) pin.flow_metadata.flow.in_port.ofp_port,
            .table = pin.table_id,
            .cookie = ntohll(pin.cookie),
            .packet = pin.packet,
            .len = pin.packet_len,
        };
        sw->listener->cbs.packet_in(sw->owner, sw, &pi);
    }
    /* 'pin' points into 'oh': nothing to free. */
}

static void
handle_flow_removed(struct of_switch *sw, const struct ofp_header *oh)
{
    struct ofputil_flow_removed fr;
    enum ofperr error = ofputil_decode_flow_removed(&fr, oh);
    if (error) {
        WEFT_WARN("%s: malformed flow removed message (%s); ignored",
                  sw->peer, ofperr_to_string(error));
        return;
    }
    if (!flow_table_flow_removed(sw->ft, fr.table_id, fr.priority,
                                 &fr.match, ntohll(fr.cookie))) {
        return;                 /* Not a Weft flow. */
    }
    if (sw->owner && sw->listener->cbs.flow_removed) {
        sw->listener->cbs.flow_removed(sw->owner, sw, fr.table_id,
                                       fr.priority, ntohll(fr.cookie));
    }
}

static struct port_stats_req *
find_port_stats_req(const struct of_switch *sw, ovs_be32 xid)
{
    struct port_stats_req *req;
    LIST_FOR_EACH (req, node, &sw->port_stats_reqs) {
        if (req->xid == xid) {
            return req;
        }
    }
    return NULL;
}

/* A part of a port stats reply; the last one completes the request. */
static void
handle_port_stats_reply(struct of_switch *sw, const struct ofp_header *oh)
{
    struct port_stats_req *req = find_port_stats_req(sw, oh->xid);
    if (!req) {
        return;
    }
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    for (;;) {
        struct ofputil_port_stats ps;
        int retval = ofputil_decode_port_stats(&ps, &b);
        if (retval) {
            if (retval != EOF) {
                WEFT_WARN("%s: malformed port stats reply (%s); using the "
                          "ports decoded so far", sw->peer,
                          ofperr_to_string(retval));
            }
            break;
        }
        if (req->n >= req->allocated) {
            req->allocated = 2 * req->allocated + 16;
            req->stats = xrealloc(req->stats,
                                  req->allocated * sizeof *req->stats);
        }
        req->stats[req->n++] = (struct of_port_stats) {
            .port = (OVS_FORCE uint16_t) ps.port_no,
            .rx_packets = ps.stats.rx_packets,
            .tx_packets = ps.stats.tx_packets,
            .rx_bytes = ps.stats.rx_bytes,
            .tx_bytes = ps.stats.tx_bytes,
            .rx_dropped = ps.stats.rx_dropped,
            .tx_dropped = ps.stats.tx_dropped,
        };
        netdev_free_custom_stats_counters(&ps.custom_stats);
    }
    if (!ofpmp_more(oh)) {
        req->cb(sw, req->aux, 0, req->stats, req->n);
        port_stats_req_free(req);
    }
}

/* An error reply to a port stats request: true if it was one. */
static bool
port_stats_error(struct of_switch *sw, const struct ofp_header *oh)
{
    struct port_stats_req *req = find_port_stats_req(sw, oh->xid);
    if (!req) {
        return false;
    }
    WEFT_WARN("%s: switch refused a port stats request: %s", sw->peer,
              ofperr_to_string(ofperr_decode_msg(oh, NULL)));
    req->cb(sw, req->aux, EPROTO, NULL, 0);
    port_stats_req_free(req);
    return true;
}

static void
handle_msg(struct of_switch *sw, struct ofpbuf *msg)
{
    const struct ofp_header *oh = msg->data;
    enum ofptype type;

    if (sw->ft && flow_table_recv(sw->ft, oh)) {
        return;
    }
    if (ofptype_decode(&type, oh)) {
        WEFT_WARN("%s: undecodable OpenFlow message (type %"PRIu8"); "
                  "ignored", sw->peer, oh->type);
        return;
    }
    switch (type) {
    case OFPTYPE_ECHO_REQUEST:
        /* rconn sends its own probes but does not answer the peer's. */
        send_msg(sw, ofputil_encode_echo_reply(oh));
        break;
    case OFPTYPE_FEATURES_REPLY:
        handle_features_reply(sw, msg);
        break;
    case OFPTYPE_ERROR: {
        if (port_stats_error(sw, oh)) {
            break;
        }
        char *s = ofp_to_string(oh, ntohs(oh->length), NULL, NULL, 1);
        WEFT_WARN("%s: switch reported an error: %s", sw->peer, s);
        free(s);
        break;
    }
    case OFPTYPE_PACKET_IN:
        handle_packet_in(sw, oh);
        break;
    case OFPTYPE_FLOW_REMOVED:
        if (sw->ft) {
            handle_flow_removed(sw, oh);
        }
        break;
    case OFPTYPE_PORT_STATS_REPLY:
        handle_port_stats_reply(sw, oh);
        break;
    default:
        /* Port status, replies: consumed by later layers. */
        break;
    }
}

static bool
switch_run(struct of_switch *sw)
{
    rconn_run(sw->rconn);
    if (!rconn_is_alive(sw->rconn)) {
        return false;
    }
    if (rconn_is_connected(sw->rconn) && !sw->features_requested) {
        sw->features_requested = true;
        send_msg(sw, ofpraw_alloc(OFPRAW_OFPT_FEATURES_REQUEST,
                                  rconn_get_version(sw->rconn), 0));
    }
    for (int i = 0; i < MAX_RECV_PER_RUN; i++) {
        struct ofpbuf *msg = rconn_recv(sw->rconn);
        if (!msg) {
            break;
        }
        handle_msg(sw, msg);
        ofpbuf_delete(msg);
    }
    if (sw->ft) {
        flow_table_run(sw->ft);
    }
    return rconn_is_alive(sw->rconn);
}

void
of_listener_run(struct of_listener *l)
{
    accept_switches(l);

    struct of_switch *sw;
    LIST_FOR_EACH_SAFE (sw, node, &l->switches) {
        if (!switch_run(sw)) {
            WEFT_DBG("%s: OpenFlow connection closed", sw->peer);
            if (sw->owner) {
                l->cbs.switch_down(sw->owner, sw);
            }
            switch_free(sw, true);
        }
    }
}

void
of_listener_wait(struct of_listener *l)
{
    pvconn_wait(l->pvconn);

    struct of_switch *sw;
    LIST_FOR_EACH (sw, node, &l->switches) {
        rconn_run_wait(sw->rconn);
        rconn_recv_wait(sw->rconn);
        if (sw->ft) {
            flow_table_wait(sw->ft);
        }
    }
}

unsigned int
of_listener_count(const struct of_listener *l)
{
    return ovs_list_size(&l->switches);
}

void
of_switch_close(struct of_switch *sw)
{
    /* Freed by the next of_listener_run(): the caller may be inside a
     * callback from that very loop. */
    sw->owner = NULL;
    rconn_disconnect(sw->rconn);
}

uint64_t
of_switch_get_dpid(const struct of_switch *sw)
{
    return sw->dpid;
}

void *
of_switch_get_listener_aux(const struct of_switch *sw)
{
    return sw->listener->aux;
}

const char *
of_switch_get_peer(const struct of_switch *sw)
{
    return sw->peer;
}

const char *
of_switch_get_version(const struct of_switch *sw)
{
    int version = rconn_get_version(sw->rconn);
    return version > 0 ? ofputil_version_to_string(version) : "none";
}

unsigned int
of_switch_get_n_tables(const struct of_switch *sw)
{
    return sw->n_tables;
}

void
of_switch_set_flows(struct of_switch *sw, const struct weft_flow *flows,
                    size_t n)
{
    if (!sw->ft) {
        /* Owners get switches from switch_up(), when 'ft' exists. */
        WEFT_WARN("%s: flows given before the switch was identified; "
                  "ignored", sw->peer);
        return;
    }
    flow_table_set_flows(sw->ft, flows, n);
}

void
of_switch_set_meters(struct of_switch *sw, const struct weft_meter *meters,
                     size_t n)
{
    if (sw->ft) {
        flow_table_set_meters(sw->ft, meters, n);
    }
}

bool
of_switch_refresh_flows(struct of_switch *sw, of_switch_refresh_cb *cb,
                        void *aux)
{
    if (!sw->ft) {
        return false;
    }
    flow_table_refresh(sw->ft, cb, aux);
    ovs_loop_request_run();
    return true;
}

struct flow_eval *
of_switch_flow_eval_create(const struct of_switch *sw, const char **why)
{
    if (!sw->ft) {
        *why = "the switch has not identified itself yet";
        return NULL;
    }
    return flow_table_eval_create(sw->ft, why);
}

void
of_switch_get_flow_stats(const struct of_switch *sw,
                         struct of_switch_flow_stats *stats)
{
    if (sw->ft) {
        flow_table_get_stats(sw->ft, stats);
    } else {
        *stats = (struct of_switch_flow_stats) { .state = "unidentified" };
    }
}

int
of_switch_packet_out(struct of_switch *sw, uint32_t in_port,
                     const char *actions, const void *packet, size_t len,
                     char **errorp)
{
    struct ofpbuf ofpacts;
    enum ofputil_protocol usable = OFPUTIL_P_ANY;
    ofpbuf_init(&ofpacts, 64);
    struct ofpact_parse_params pp = {
        .ofpacts = &ofpacts,
        .usable_protocols = &usable,
    };
    char *error = ofpacts_parse_actions(actions, &pp);
    if (error) {
        *errorp = xasprintf("packet-out actions \"%s\": %s", actions, error);
        free(error);
        ofpbuf_uninit(&ofpacts);
        return EINVAL;
    }
    struct ofputil_packet_out po = {
        .packet = packet,
        .packet_len = len,
        .buffer_id = UINT32_MAX,
        .ofpacts = ofpacts.data,
        .ofpacts_len = ofpacts.size,
    };
    match_init_catchall(&po.flow_metadata);
    match_set_in_port(&po.flow_metadata,
                      in_port ? (OVS_FORCE ofp_port_t) in_port : OFPP_CONTROLLER);
    int version = rconn_get_version(sw->rconn);
    send_msg(sw, ofputil_encode_packet_out(
                 &po, ofputil_protocol_from_ofp_version(version)));
    ofpbuf_uninit(&ofpacts);
    return 0;
}

void
of_switch_request_port_stats(struct of_switch *sw, of_port_stats_cb *cb,
                             void *aux)
{
    struct port_stats_req *req = xzalloc(sizeof *req);
    struct ofpbuf *msg = ofputil_encode_dump_ports_request(
        rconn_get_version(sw->rconn), OFPP_ANY);
    req->xid = ((const struct ofp_header *) msg->data)->xid;
    req->cb = cb;
    req->aux = aux;
    ovs_list_push_back(&sw->port_stats_reqs, &req->node);
    /* A send that fails means the connection is going: switch_free()
     * then reports ENOTCONN. */
    send_msg(sw, msg);
}
