/* pktin-gen: an OpenFlow 1.3 packet-in load generator, in the manner of
 * cbench (which speaks OpenFlow 1.0 only, and weftd 1.3-1.5).
 *
 * It connects N emulated switches to a controller, answers the handshake
 * (features with the datapath IDs given, so that weftd matches them to
 * its configured hosts; echo, barrier, get-config, empty multipart
 * replies), then sends packet-ins as a learning switch would see them: each
 * switch has M hosts (MAC 02:00:SS:SS:HH:HH behind port 1 + H mod P).
 * First every host sends one broadcast (warm-up: controllers learn the
 * MACs; not measured), then unicast frames between random pairs of the
 * switch's hosts behind different ports.  A packet-out carrying one of our frames back (each
 * frame has a sequence number in its UDP payload) is a response; its
 * latency is the time since its packet-in.  Each switch keeps up to W
 * packet-ins outstanding (W=1: latency mode, as cbench -l; larger:
 * throughput); one unanswered for 1 s is counted lost and its slot
 * reused.  Flow mods are counted, not measured.
 *
 * Output: one line of key=value pairs (see print_result()).  Single
 * threaded, on OVS's poll loop; run it on another core than the
 * controller where there is one. */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "openvswitch/match.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofp-switch.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vconn.h"
#include "openvswitch/vlog.h"
#include "byte-order.h"
#include "util.h"

#define MAX_WINDOW 1024
#define LOST_US 1000000         /* An answer later than this is lost. */
#define FRAME_LEN 64

struct pending {
    uint64_t seq;               /* 0: free. */
    uint64_t sent_us;
};

struct sw {
    int idx;
    uint64_t dpid;
    struct vconn *vconn;
    bool up;                    /* Features reply sent. */
    int warm;                   /* Warm-up broadcasts sent. */
    struct pending pending[MAX_WINDOW];
    int n_pending;
};

static struct {
    const char *target;
    int n_switches, n_macs, n_ports, window, table;
    double duration, warmup;
    uint64_t *dpids;
    int n_dpids;
} opt = {
    .target = "tcp:127.0.0.1:6653", .n_switches = 16, .n_macs = 100,
    .n_ports = 4, .window = 64, .table = 0, .duration = 10, .warmup = 2,
};

static uint64_t next_seq = 1;
static bool measuring;
static unsigned long long n_sent, n_responses, n_flow_mods, n_lost;
static unsigned long long n_errors, n_other_outs;
static uint32_t *latencies;     /* Microseconds, of measured responses. */
static size_t n_latencies, max_latencies;

static uint64_t
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

static void
mac_of(const struct sw *s, int host, uint8_t mac[6])
{
    mac[0] = 0x02;
    mac[1] = 0;
    mac[2] = s->idx >> 8;
    mac[3] = s->idx;
    mac[4] = host >> 8;
    mac[5] = host;
}

/* Ethernet + IPv4 + UDP with 'seq' (and the switch index) as payload. */
static void
make_frame(const struct sw *s, int src, int dst, uint64_t seq,
           uint8_t frame[FRAME_LEN])
{
    memset(frame, 0, FRAME_LEN);
    if (dst < 0) {
        memset(frame, 0xff, 6);
    } else {
        mac_of(s, dst, frame);
    }
    mac_of(s, src, frame + 6);
    frame[12] = 0x08;                   /* IPv4. */
    frame[14] = 0x45;
    frame[17] = FRAME_LEN - 14;         /* Total length. */
    frame[22] = 64;                     /* TTL. */
    frame[23] = 17;                     /* UDP. */
    frame[26] = 10, frame[29] = src;
    frame[30] = 10, frame[33] = dst < 0 ? 255 : dst;
    frame[35] = 9, frame[37] = 9;       /* Ports. */
    frame[39] = FRAME_LEN - 34;         /* UDP length. */
    memcpy(frame + 42, &seq, 8);
    uint32_t idx = s->idx;
    memcpy(frame + 50, &idx, 4);
}

static int
send_packet_in(struct sw *s, int src, int dst, uint64_t seq)
{
    uint8_t frame[FRAME_LEN];
    make_frame(s, src, dst, seq, frame);
    struct ofputil_packet_in_private pin = {
        .base = {
            .packet = frame,
            .packet_len = FRAME_LEN,
            .reason = OFPR_NO_MATCH,    /* A table-miss, as learning
                                         * switches expect. */
            .table_id = opt.table,
            .cookie = htonll(0),
        },
    };
    match_init_catchall(&pin.base.flow_metadata);
    match_set_in_port(&pin.base.flow_metadata,
                      (OVS_FORCE ofp_port_t) (1 + src % opt.n_ports));
    struct ofpbuf *msg = ofputil_encode_packet_in_private(
        &pin, OFPUTIL_P_OF13_OXM, OFPUTIL_PACKET_IN_STD);
    return vconn_send(s->vconn, msg);
}

static void
got_packet_out(struct sw *s, const struct ofp_header *oh)
{
    struct ofputil_packet_out po;
    uint64_t ofpacts_stub[1024 / 8];
    struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(ofpacts_stub);
    if (ofputil_decode_packet_out(&po, oh, NULL, &ofpacts)
        || po.packet_len < 54) {
        n_other_outs++;
        ofpbuf_uninit(&ofpacts);
        return;
    }
    uint64_t seq;
    memcpy(&seq, (const uint8_t *) po.packet + 42, 8);
    ofpbuf_uninit(&ofpacts);
    for (int i = 0; i < opt.window; i++) {
        struct pending *p = &s->pending[i];
        if (p->seq && p->seq == seq) {
            if (measuring) {
                n_responses++;
                if (n_latencies < max_latencies) {
                    latencies[n_latencies++] = now_us() - p->sent_us;
                }
            }
            p->seq = 0;
            s->n_pending--;
            return;
        }
    }
    n_other_outs++;             /* Warm-up floods, late answers. */
}

static void
reply(struct sw *s, struct ofpbuf *msg)
{
    if (msg) {
        vconn_send(s->vconn, msg);
    }
}

static void
handle(struct sw *s, struct ofpbuf *msg)
{
    const struct ofp_header *oh = msg->data;
    enum ofptype type;
    if (ofptype_decode(&type, oh)) {
        return;
    }
    switch (type) {
    case OFPTYPE_ECHO_REQUEST:
        reply(s, ofputil_encode_echo_reply(oh));
        break;
    case OFPTYPE_FEATURES_REQUEST: {
        struct ofputil_switch_features f = {
            .datapath_id = s->dpid, .n_buffers = 0, .n_tables = 254,
            .capabilities = OFPUTIL_C_FLOW_STATS | OFPUTIL_C_PORT_STATS,
        };
        reply(s, ofputil_encode_switch_features(&f, OFPUTIL_P_OF13_OXM,
                                                oh->xid));
        s->up = true;
        break;
    }
    case OFPTYPE_GET_CONFIG_REQUEST: {
        struct ofputil_switch_config c = { .miss_send_len = UINT16_MAX };
        reply(s, ofputil_encode_get_config_reply(oh, &c));
        break;
    }
    case OFPTYPE_BARRIER_REQUEST:
        reply(s, ofpraw_alloc_reply(OFPRAW_OFPT11_BARRIER_REPLY, oh, 0));
        break;
    case OFPTYPE_PACKET_OUT:
        got_packet_out(s, oh);
        break;
    case OFPTYPE_FLOW_MOD:
        n_flow_mods += measuring;
        break;
    case OFPTYPE_ERROR:
        n_errors++;
        break;
    default:
        if (ofpmsg_is_stat_request(oh)) {
            /* Flow stats, port description...: nothing here. */
            reply(s, ofpraw_alloc_stats_reply(oh, 0));
        }
        break;
    }
}

/* Sends what the window allows; false if the connection is backed up. */
static void
fill(struct sw *s, uint64_t now)
{
    if (!s->up) {
        return;
    }
    if (s->warm < opt.n_macs) {
        /* One broadcast per host, all before any unicast. */
        while (s->warm < opt.n_macs
               && !send_packet_in(s, s->warm, -1, 0)) {
            s->warm++;
        }
        return;
    }
    for (int i = 0; i < opt.window; i++) {
        struct pending *p = &s->pending[i];
        if (p->seq && now - p->sent_us > LOST_US) {
            n_lost += measuring;
            p->seq = 0;
            s->n_pending--;
        }
        if (!p->seq) {
            /* A destination behind another port: a learning switch does
             * not answer a frame for the port it came from. */
            int src = random() % opt.n_macs;
            int dst;
            do {
                dst = random() % opt.n_macs;
            } while (dst % opt.n_ports == src % opt.n_ports);
            uint64_t seq = next_seq++;
            if (send_packet_in(s, src, dst, seq)) {
                return;
            }
            *p = (struct pending) { .seq = seq, .sent_us = now };
            s->n_pending++;
            n_sent += measuring;
        }
    }
}

static int
cmp_u32(const void *a_, const void *b_)
{
    uint32_t a = *(const uint32_t *) a_, b = *(const uint32_t *) b_;
    return a < b ? -1 : a > b;
}

static double
pct(double p)
{
    return n_latencies ? latencies[(size_t) (p * (n_latencies - 1))] : 0;
}

static void
print_result(double secs)
{
    qsort(latencies, n_latencies, sizeof *latencies, cmp_u32);
    printf("switches=%d macs=%d window=%d seconds=%.2f sent=%llu "
           "responses=%llu responses_per_s=%.0f lost=%llu flow_mods=%llu "
           "other_packet_outs=%llu errors=%llu latency_us_p50=%.0f "
           "p90=%.0f p99=%.0f max=%.0f\n",
           opt.n_switches, opt.n_macs, opt.window, secs, n_sent, n_responses,
           n_responses / secs, n_lost, n_flow_mods, n_other_outs, n_errors,
           pct(0.5), pct(0.9), pct(0.99), pct(1.0));
}

static void
usage(void)
{
    printf("usage: pktin-gen [options]\n"
           "  -c TARGET    controller (default tcp:127.0.0.1:6653)\n"
           "  -s N         switches (default 16)\n"
           "  -d HEX,...   their datapath IDs (default 1..N)\n"
           "  -m N         hosts (MACs) per switch (default 100)\n"
           "  -p N         ports per switch (default 4)\n"
           "  -w N         packet-ins outstanding per switch (default 64;\n"
           "               1 = latency mode)\n"
           "  -t N         table_id of the packet-ins (default 0)\n"
           "  -D SECONDS   measured time (default 10)\n"
           "  -W SECONDS   warm-up before measuring (default 2)\n");
}

static void
parse_options(int argc, char *argv[])
{
    int c;
    while ((c = getopt(argc, argv, "c:s:d:m:p:w:t:D:W:h")) != -1) {
        switch (c) {
        case 'c': opt.target = optarg; break;
        case 's': opt.n_switches = atoi(optarg); break;
        case 'd':
            for (char *tok = strtok(optarg, ","); tok;
                 tok = strtok(NULL, ",")) {
                opt.dpids = xrealloc(opt.dpids,
                                     (opt.n_dpids + 1) * sizeof *opt.dpids);
                opt.dpids[opt.n_dpids++] = strtoull(tok, NULL, 16);
            }
            break;
        case 'm': opt.n_macs = atoi(optarg); break;
        case 'p': opt.n_ports = atoi(optarg); break;
        case 'w': opt.window = atoi(optarg); break;
        case 't': opt.table = atoi(optarg); break;
        case 'D': opt.duration = atof(optarg); break;
        case 'W': opt.warmup = atof(optarg); break;
        case 'h': usage(); exit(0);
        default: usage(); exit(2);
        }
    }
    if (opt.n_switches < 1 || opt.n_macs < 2 || opt.n_macs > 65535
        || opt.n_ports < 2 || opt.n_ports > opt.n_macs || opt.window < 1 || opt.window > MAX_WINDOW
        || opt.duration <= 0 || opt.warmup < 0
        || (opt.n_dpids && opt.n_dpids != opt.n_switches)) {
        fprintf(stderr, "pktin-gen: bad options (-s 1+, -m 2-65535, -p 2-M, "
                "-w 1-%d, one -d ID per switch)\n", MAX_WINDOW);
        exit(2);
    }
}

int
main(int argc, char *argv[])
{
    set_program_name(argv[0]);
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_WARN);
    parse_options(argc, argv);
    srandom(1);

    struct sw *sws = xcalloc(opt.n_switches, sizeof *sws);
    for (int i = 0; i < opt.n_switches; i++) {
        sws[i].idx = i;
        sws[i].dpid = opt.n_dpids ? opt.dpids[i] : (uint64_t) i + 1;
        int error = vconn_open_block(opt.target, 1u << OFP13_VERSION, 0, -1,
                                     &sws[i].vconn);
        if (error) {
            fprintf(stderr, "pktin-gen: %s: %s\n", opt.target,
                    ovs_strerror(error));
            exit(1);
        }
    }
    max_latencies = 10 * 1000 * 1000;
    latencies = xmalloc(max_latencies * sizeof *latencies);

    uint64_t start = now_us();
    uint64_t measure_at = start + opt.warmup * 1e6;
    uint64_t end = measure_at + opt.duration * 1e6;
    for (;;) {
        uint64_t now = now_us();
        if (!measuring && now >= measure_at) {
            measuring = true;
        }
        if (now >= end) {
            break;
        }
        for (int i = 0; i < opt.n_switches; i++) {
            struct sw *s = &sws[i];
            vconn_run(s->vconn);
            for (int j = 0; j < 64; j++) {
                struct ofpbuf *msg;
                int error = vconn_recv(s->vconn, &msg);
                if (error == EAGAIN) {
                    break;
                } else if (error) {
                    fprintf(stderr, "pktin-gen: switch %d: connection "
                            "lost: %s\n", i, ovs_strerror(error));
                    exit(1);
                }
                handle(s, msg);
                ofpbuf_delete(msg);
            }
            fill(s, now);
            vconn_run_wait(s->vconn);
            vconn_recv_wait(s->vconn);
        }
        poll_timer_wait_until((measuring ? end : measure_at) / 1000);
        poll_timer_wait(10);    /* Lost packet-ins, full send queues. */
        poll_block();
    }
    print_result(opt.duration);
    return 0;
}
