/* The pipeline compiler: inventory + policy + topology -> the flows each
 * host's integration bridge should have (docs/pipeline.md describes the
 * tables).  Pure: no I/O, no OVS; unit-tested on small fixtures whose
 * expected flows are written as text (tests/unit/test-pipeline.c).
 *
 * The caller builds a pipeline_input from what it knows (placed vNICs with
 * their OpenFlow ports, tunnel ports, the policy in force) and asks for one
 * host's flows at a time, so that a change recomputes only the hosts it
 * affects. */
#ifndef WEFT_PIPELINE_H
#define WEFT_PIPELINE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

struct policy;
struct pipeline_plan;

enum pipeline_table {
    PIPELINE_T_CLASSIFY = 0,
    PIPELINE_T_PORT_SECURITY = 10,
    PIPELINE_T_L2_LOOKUP = 30,
    PIPELINE_T_ACL = 40,
    PIPELINE_T_ACL_TRACKED = 41,
    PIPELINE_T_OUTPUT = 50,
    PIPELINE_T_FLOOD = 60,
    PIPELINE_T_APPS_FIRST = 100,
    PIPELINE_T_APPS_LAST = 199,
    PIPELINE_T_MIRROR_EPOCH = 253,  /* Never reached; see datapath.c. */
};

#define PIPELINE_CT_ZONE 1

/* A vNIC that is placed on its host's bridge. */
struct pipeline_vnic {
    const char *host;
    const char *vm;
    const char *tap;
    const char *mac;            /* Lowercase "xx:xx:xx:xx:xx:xx". */
    const char *segment;        /* A segment of the policy. */
    const char *const *labels;  /* From Weft metadata ("groups="). */
    size_t n_labels;
    int ofport;                 /* On its host's bridge, > 0. */
    const char *const *ips;     /* Canonical addresses it may send from;
                                 * a family with none is not checked. */
    size_t n_ips;
};

/* A tunnel port on 'host' towards 'peer'. */
struct pipeline_tunnel {
    const char *host;
    const char *peer;
    int ofport;                 /* > 0 once OVS has added it. */
};

/* A host's uplink: a bridge port on a physical network that carries the
 * segments without a VNI between hosts as 802.1Q VLANs (a trunk). */
struct pipeline_uplink {
    const char *host;
    int ofport;                 /* > 0 once OVS has the port. */
};

/* A segment claimed by a controller app: on hosts with members of the
 * segment, table 30 sends all its traffic to 'table' (the app's first)
 * instead of forwarding it. */
struct pipeline_claim {
    const char *segment;
    int table;
};

/* A segment whose vNICs' traffic is sampled for a per-segment IPFIX export
 * (flow-based sampling): each local vNIC's table 0 flow gets a sample()
 * action towards the collector set, with the segment's VLAN as
 * observation domain and the vNIC's OpenFlow port as observation point. */
struct pipeline_sample {
    const char *segment;
    uint32_t collector_set_id;  /* Flow_Sample_Collector_Set.id. */
    uint16_t probability;       /* Packets sampled per 65535, >= 1. */
};

struct pipeline_input {
    const struct policy *policy;
    const struct pipeline_vnic *vnics;
    size_t n_vnics;
    const struct pipeline_tunnel *tunnels;
    size_t n_tunnels;
    const struct pipeline_uplink *uplinks;
    size_t n_uplinks;
    const struct pipeline_claim *claims;
    size_t n_claims;
    const struct pipeline_sample *samples;
    size_t n_samples;
};

/* Stores in 'out' (cleared first) the flows that 'host' should have,
 * sorted (weft_flow_set_sort()), the same whatever the order of the input.
 *
 * vNICs with ofport <= 0 or a segment that is not in the policy get no
 * flows, nor does a vNIC that clashes with one before it in (host, tap)
 * order: same host and tap, same MAC, or same host and port.  Tunnels with
 * ofport <= 0, to the host itself, or clashing with another tunnel or a
 * local vNIC are ignored.  A null policy is an empty one. */
void pipeline_compute_host(const struct pipeline_input *, const char *host,
                           struct weft_flow_set *out);

/* True if hosts 'a' and 'b' need a VXLAN tunnel between them: both have
 * vNICs of one segment that has a VNI, or vNICs of two segments with VNIs
 * that an allow rule connects. */
bool pipeline_hosts_need_tunnel(const struct pipeline_input *,
                                const char *a, const char *b);

/* The same two functions over a plan: what the compiler derives from an
 * input independently of the host (valid vNICs in canonical order, rules
 * resolved to vNICs and CIDRs, which segments reach which), computed once.
 * A caller that asks for many hosts, or for every pair of hosts, should use
 * a plan: the functions above build one on every call.  The plan points
 * into the input, which must outlive it and not change. */
struct pipeline_plan *pipeline_plan_create(const struct pipeline_input *);
void pipeline_plan_destroy(struct pipeline_plan *);  /* Accepts NULL. */
void pipeline_plan_compute_host(const struct pipeline_plan *,
                                const char *host, struct weft_flow_set *out);
bool pipeline_plan_hosts_need_tunnel(const struct pipeline_plan *,
                                     const char *a, const char *b);

/* A digest of everything pipeline_plan_compute_host() reads to compute
 * the flows of 'host' from 'plan': the host's own vNICs, tunnels and
 * uplink, the remote vNICs its flows name, the rules that apply on it
 * (with the members they name) and the segments.  Two plans that give a
 * host the same digest give it the same flows, so a caller that keeps the
 * digest of the flows it computed may skip hosts whose digest did not
 * change: this is what makes a change recompute only the hosts it
 * affects.  Much cheaper than computing: nothing is formatted. */
uint64_t pipeline_plan_host_digest(const struct pipeline_plan *,
                                   const char *host);

/* Cookies of the flows made for each kind of object (see flow.h), so that
 * tools such as "weftctl trace" can tell which object made a flow.  The ID
 * is the FNV-1a 64-bit hash of the object's name ("HOST/TAP" for a vNIC,
 * the peer host's name for a tunnel), its top 16 bits XORed into the low
 * 48.  Table defaults have weft_cookie(WEFT_COOKIE_PIPELINE, 0). */
uint64_t pipeline_vnic_cookie(const char *host, const char *tap);
uint64_t pipeline_segment_cookie(const char *segment);
uint64_t pipeline_rule_cookie(const char *rule);
uint64_t pipeline_tunnel_cookie(const char *peer);

/* The ID of the meter that limits what the vNIC on OpenFlow port 'ofport'
 * sends ('receives' false) or receives (true): Weft's mark, then bit 16
 * for the direction, then the port. */
uint32_t pipeline_meter_id(int ofport, bool receives);

/* The conjunction ID (conj_id) of the flows of 'policy''s rule called
 * 'rule', 0 if there is none.  Derived from the rule's name, unique in the
 * policy: of rules whose hashes clash, the one first by name keeps its
 * hash and the next takes the next free value. */
uint32_t pipeline_conj_id(const struct policy *, const char *rule);

/* Flow priority in table 41 of a rule of policy priority 'priority'.  Of
 * two rules of the same priority, a deny is above a stateful allow, which
 * is above a stateless allow: OVS leaves the outcome undefined when a
 * packet matches two conjunctions of one priority, so overlapping rules
 * must not share one. */
int pipeline_rule_priority(int priority, bool deny, bool stateful);

/* A pointer the plan's owner may hang on it (e.g. the input it points
 * into, to free together). */
void pipeline_plan_set_aux(struct pipeline_plan *, void *);
void *pipeline_plan_get_aux(const struct pipeline_plan *);

/* "weftctl trace": what happens to a packet from one placed vNIC to
 * another, and which rule decides, explained from the same plan the flows
 * are compiled from (so it answers for every host, whatever the transport
 * to it).  'proto' is a POLICY_PROTO_* value (enum policy_proto) and 'port'
 * a destination port for tcp/udp (0: none). */
struct pipeline_trace {
    const char *src_host, *src_tap;
    const char *dst_host, *dst_tap;
    int proto;
    int port;
};

/* The vNICs of 'plan' that get flows, sorted by host and tap: 'i' from 0
 * to pipeline_plan_n_vnics() - 1. */
size_t pipeline_plan_n_vnics(const struct pipeline_plan *);
const struct pipeline_vnic *pipeline_plan_vnic(const struct pipeline_plan *,
                                               size_t i);

/* Writes the explanation to 'out', one step per line.  Returns true if the
 * packet would be delivered. */
bool pipeline_plan_trace(const struct pipeline_plan *,
                         const struct pipeline_trace *, FILE *out);

#endif /* pipeline.h */
