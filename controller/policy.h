/* The network policy: segments, groups, rules, mirrors, rate limits and
 * flow exports, as the operator writes them.  This module holds the model,
 * parses and validates the policy document, writes it back in canonical
 * form and diffs two policies.  Pure (no I/O, no OVS): the flow compiler and the OVSDB store
 * read the structs below; weftctl edits them through policy_add_line() and
 * policy_del().  Unit-tested in tests/unit/test-policy.c.
 *
 * The document has one object per line (see config/policy.example):
 *
 *     # Comments start with '#', also after the last word of a line.
 *     segment web vlan=100 vni=5001
 *     segment lab vlan=300 isolated
 *     group web-servers segments=web
 *     group mgmt cidrs=10.0.99.0/24,192.0.2.7/32
 *     rule web-to-db allow from=web to=db proto=tcp ports=5432
 *     mirror tap-web sources=segment:web to=host:h1/mon0 direction=ingress
 *     limit web-cap targets=segment:web rate=20mbit direction=ingress
 *     export flows sflow collectors=192.0.2.9:6343 sampling=100
 *
 * that is KIND NAME [ACTION] key=value... [flag...], words separated by
 * spaces or tabs.  Each key at most once a line; lists are comma-separated,
 * without spaces.
 *
 * Names are 1-63 characters: a letter, then letters, digits, '_', '.' or
 * '-'.  Segments and groups share one namespace (a rule's from= and to=
 * name either, or the keyword "any", which no object may be called); rules,
 * mirrors, limits and exports each have their own.
 *
 * Objects built in memory follow the same rules as parsed ones; their
 * strings are never NULL unless noted.
 *
 * Every error has a line (0 when it concerns the whole document or an
 * object built in memory without one), the field it is about (a key such
 * as "vlan", or "kind", "name", "action"; empty when it is about the
 * object as a whole) and a message that names the object. */
#ifndef WEFT_POLICY_H
#define WEFT_POLICY_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_NAME_MAX 63
#define POLICY_VLAN_MIN 1
#define POLICY_VLAN_MAX 4094
#define POLICY_VNI_MIN 1
#define POLICY_VNI_MAX 16777215
#define POLICY_PRIORITY_MIN 1
#define POLICY_PRIORITY_MAX 1000
#define POLICY_PRIORITY_DEFAULT 100

/* A layer-2 segment: a VLAN on the hosts, optionally stretched between
 * hosts over VXLAN with 'vni'.
 *
 *     segment NAME vlan=1..4094 [vni=1..16777215] [isolated]
 *
 * No two segments share a VLAN or a VNI.  An isolated segment's vNICs do
 * not talk to each other unless a rule allows it. */
struct policy_segment {
    char *name;
    int vlan;
    uint32_t vni;               /* 0 = none (local to each host). */
    bool isolated;
    int line;                   /* Line in the document, 0 if none. */
};

/* An IPv4 or IPv6 prefix; bits beyond 'plen' are zero. */
struct policy_cidr {
    bool ipv6;
    uint8_t addr[16];           /* Network byte order; IPv4 uses 4 bytes. */
    unsigned int plen;          /* 0..32 or 0..128. */
};

/* A set of endpoints, the union of its members:
 *
 *     group NAME [segments=SEG,...] [labels=LABEL,...] [vnics=VNIC,...]
 *                [cidrs=CIDR,...] [groups=NAME,...]
 *
 * 'segments' name segments; 'labels' match the labels vNICs carry in their
 * domain's Weft metadata (1-63 of A-Z a-z 0-9 _ . : = -); 'vnics' are vNIC
 * (tap) names (1-63 of A-Z a-z 0-9 _ . -, starting with a letter or digit)
 * or MAC addresses (stored in lowercase); 'groups' name other groups or
 * segments, without loops.  At least one member; no list repeats an item.
 * Lists keep the order given. */
struct policy_group {
    char *name;
    char **segments;
    size_t n_segments;
    char **labels;
    size_t n_labels;
    char **vnics;
    size_t n_vnics;
    struct policy_cidr *cidrs;
    size_t n_cidrs;
    char **groups;
    size_t n_groups;
    int line;
};

#define POLICY_ACTIONS              \
    POLICY_ACTION(ALLOW, "allow")   \
    POLICY_ACTION(DENY, "deny")

enum policy_action {
#define POLICY_ACTION(ENUM, NAME) POLICY_##ENUM,
    POLICY_ACTIONS
#undef POLICY_ACTION
};

/* POLICY_PROTO_IP, the default, means any IP protocol. */
#define POLICY_PROTOS                   \
    POLICY_PROTO(IP, "ip")              \
    POLICY_PROTO(TCP, "tcp")            \
    POLICY_PROTO(UDP, "udp")            \
    POLICY_PROTO(ICMP, "icmp")          \
    POLICY_PROTO(ICMP6, "icmp6")

enum policy_proto {
#define POLICY_PROTO(ENUM, NAME) POLICY_PROTO_##ENUM,
    POLICY_PROTOS
#undef POLICY_PROTO
};

struct policy_port_range {
    uint16_t min, max;          /* 1 <= min <= max. */
};

/* An access rule:
 *
 *     rule NAME allow|deny from=NAME|any to=NAME|any
 *          [proto=ip|tcp|udp|icmp|icmp6] [ports=N|N-M,...]
 *          [priority=1..1000] [stateless]
 *
 * 'from' and 'to' name a group or a segment, or are "any".  'ports' (only
 * with tcp or udp; none = all ports) are destination ports.  Higher
 * priorities win.  Two rules with the same priority, from, to and proto,
 * overlapping ports and different actions are refused. */
struct policy_rule {
    char *name;
    enum policy_action action;
    char *from;
    char *to;
    enum policy_proto proto;
    struct policy_port_range *ports;
    size_t n_ports;
    int priority;               /* Default POLICY_PRIORITY_DEFAULT. */
    bool stateful;              /* Default true; flag "stateless". */
    int line;
};

/* What a mirror source or destination refers to. */
#define POLICY_REFS                     \
    POLICY_REF(VNIC, "vnic")            \
    POLICY_REF(GROUP, "group")          \
    POLICY_REF(SEGMENT, "segment")      \
    POLICY_REF(HOST, "host")

enum policy_ref {
#define POLICY_REF(ENUM, NAME) POLICY_REF_##ENUM,
    POLICY_REFS
#undef POLICY_REF
};

/* Relative to the switch: ingress = packets the sources send, egress =
 * packets sent to them. */
#define POLICY_DIRECTIONS                       \
    POLICY_DIRECTION(BOTH, "both")              \
    POLICY_DIRECTION(INGRESS, "ingress")        \
    POLICY_DIRECTION(EGRESS, "egress")

enum policy_direction {
#define POLICY_DIRECTION(ENUM, NAME) POLICY_DIRECTION_##ENUM,
    POLICY_DIRECTIONS
#undef POLICY_DIRECTION
};

/* What a mirror copies or a limit applies to: "vnic:NAME" (a tap name, a
 * MAC address or a domain name), "group:NAME" or "segment:NAME". */
struct policy_target {
    enum policy_ref type;       /* VNIC, GROUP or SEGMENT. */
    char *name;
};

/* A port mirror:
 *
 *     mirror NAME sources=vnic:NAME|group:NAME|segment:NAME,...
 *            to=vnic:NAME|host:HOST/PORT [direction=both|ingress|egress]
 *
 * Groups and segments must exist; vNICs are not checked here. */
struct policy_mirror {
    char *name;
    struct policy_target *sources;
    size_t n_sources;
    enum policy_ref to_type;    /* VNIC or HOST. */
    char *to_name;              /* The vNIC, or the host. */
    char *to_port;              /* HOST: port on that host; VNIC: NULL. */
    enum policy_direction direction;    /* Default both. */
    int line;
};

#define POLICY_RATE_MIN_KBPS 10
#define POLICY_RATE_MAX_KBPS 100000000          /* 100 Gbit/s. */
#define POLICY_BURST_MIN_KBIT 16                /* One 1500-byte frame. */
#define POLICY_BURST_MAX_KBIT 10000000          /* 10 Gbit. */

/* A rate limit on each of its targets' vNICs:
 *
 *     limit NAME targets=vnic:NAME|group:NAME|segment:NAME,...
 *           rate=RATE [burst=SIZE] [direction=both|ingress|egress]
 *
 * RATE is a number with the unit kbit, mbit or gbit (per second, powers of
 * 1000), 10kbit..100gbit; SIZE likewise in kbit, mbit or gbit, 16kbit..
 * 10gbit (default: see policy_limit_burst()).  ingress limits what the
 * vNIC sends, egress what it receives, both (default) each direction on
 * its own.  Every vNIC gets the whole rate: it is not shared among the
 * targets.  A vNIC that several limits cover gets the lowest rate of each
 * direction.  Groups and segments must exist; vNICs are not checked. */
struct policy_limit {
    char *name;
    struct policy_target *targets;
    size_t n_targets;
    uint32_t rate_kbps;
    uint32_t burst_kbit;        /* 0: default. */
    enum policy_direction direction;    /* Default both. */
    int line;
};

/* The burst 'l' allows, in kbit: its own, or else a quarter of a second
 * at its rate, but at least 64 kbit.  A policer drops what exceeds the
 * burst, and TCP backs off on each drop: measured on the lab's userspace
 * datapath, a 20mbit limit let TCP through at 11 Mbit/s with a tenth of a
 * second, 19 with a quarter (docs/qos.md). */
uint32_t policy_limit_burst(const struct policy_limit *l);

/* Flow export protocols.  Each is one OVSDB table referenced by a column
 * of Bridge of the same name, so a bridge has at most one of each. */
#define POLICY_EXPORT_TYPES                         \
    POLICY_EXPORT_TYPE(SFLOW, "sflow")              \
    POLICY_EXPORT_TYPE(IPFIX, "ipfix")              \
    POLICY_EXPORT_TYPE(NETFLOW, "netflow")

enum policy_export_type {
#define POLICY_EXPORT_TYPE(ENUM, NAME) POLICY_EXPORT_##ENUM,
    POLICY_EXPORT_TYPES
#undef POLICY_EXPORT_TYPE
};

#define POLICY_EXPORT_COLLECTORS_MAX 8
#define POLICY_EXPORT_SAMPLING_MAX 1000000      /* 1 in N packets. */
#define POLICY_EXPORT_POLLING_MAX 3600          /* Seconds. */
#define POLICY_EXPORT_HEADER_MIN 14             /* Bytes: an Ethernet one. */
#define POLICY_EXPORT_HEADER_MAX 1500
#define POLICY_EXPORT_TIMEOUT_MAX 4200          /* IPFIX's ceiling, s. */
#define POLICY_EXPORT_CACHE_MAX 1000000         /* Flows. */

/* Flow export from every managed bridge to collectors:
 *
 *     export NAME sflow|ipfix|netflow collectors=IP:PORT,...
 *            [sampling=N] [polling=SECONDS] [header=BYTES]
 *            [active-timeout=SECONDS] [cache-max-flows=N]
 *
 * The type is a flag, written first by policy_format().  Collectors are
 * IPv4 "A.B.C.D:PORT" or IPv6 "[ADDR]:PORT" (stored in canonical form),
 * port 1-65535, 1..POLICY_EXPORT_COLLECTORS_MAX of them.  Options and the
 * types that take them:
 *
 *     sampling        sflow, ipfix    1 in N packets, 1..1000000
 *     polling         sflow           counter interval, 1..3600 s
 *     header          sflow           bytes of each sample, 14..1500
 *     active-timeout  ipfix, netflow  seconds a long flow is reported
 *                                     after, 1..4200
 *     cache-max-flows ipfix           flow cache size, 1..1000000
 *
 * 0 (absent) leaves the OVS default.
 *
 * An ipfix export may name segments (segments=SEG,...): it then samples
 * only what the vNICs of those segments send (flow-based IPFIX: a
 * Flow_Sample_Collector_Set per export and a sample() action in the
 * vNICs' classification flows), each packet with probability 1/sampling
 * (default POLICY_EXPORT_SEGMENT_SAMPLING), the segment's VLAN as
 * observation domain.  A segment is in at most one such export.  Without
 * segments, at most one export per type (bridge-wide). */
#define POLICY_EXPORT_SEGMENT_SAMPLING 400

struct policy_export {
    char *name;
    enum policy_export_type type;
    char **collectors;
    size_t n_collectors;
    int sampling;               /* 0 = OVS default; likewise below. */
    int polling;
    int header;
    int active_timeout;
    int cache_max_flows;
    char **segments;            /* ipfix only; none: bridge-wide. */
    size_t n_segments;
    int line;
};

/* The collector set ID (Flow_Sample_Collector_Set.id and the sample
 * action's collector_set_id) of per-segment export 'name': a hash of the
 * name, never 0, so that it stays the same across restarts. */
uint32_t policy_export_collector_set_id(const char *name);

/* A whole policy.  Each array is in document (or insertion) order. */
struct policy {
    struct policy_segment *segments;
    size_t n_segments;
    struct policy_group *groups;
    size_t n_groups;
    struct policy_rule *rules;
    size_t n_rules;
    struct policy_mirror *mirrors;
    size_t n_mirrors;
    struct policy_limit *limits;
    size_t n_limits;
    struct policy_export *exports;
    size_t n_exports;
};

struct policy_error {
    int line;                   /* 0 = whole document or no line known. */
    char field[32];             /* "" if none. */
    char msg[256];
};

/* An empty (valid) policy.  Never returns NULL (aborts on out of memory,
 * like the whole module). */
struct policy *policy_create(void);
/* Accepts NULL. */
void policy_destroy(struct policy *);
/* A deep copy, line numbers included. */
struct policy *policy_clone(const struct policy *);

/* Parses and fully validates 'text'.  On success stores a new policy in
 * '*policyp' and returns 0.  On error returns EINVAL, fills '*error' (the
 * first error found: syntax and per-object errors in line order, then
 * references and group loops) and sets '*policyp' to NULL. */
int policy_parse(const char *text, struct policy **policyp,
                 struct policy_error *error);

/* Validates a policy built or edited in memory with the same checks as
 * policy_parse() (except those about the text itself).  Errors carry the
 * line numbers stored in the objects.  Objects are checked in line order,
 * those without a line last, so of two clashing objects the later one is
 * reported.  Returns 0 or EINVAL. */
int policy_validate(const struct policy *, struct policy_error *);

/* The canonical text of 'policy': segments, groups, rules, mirrors, limits,
 * then exports, each sorted by name, one line each, keys in a fixed order,
 * defaults omitted, lists in their stored order, no comments.
 * policy_parse() of it gives an equal policy, which formats to the same
 * bytes.  Caller frees. */
char *policy_format(const struct policy *);

/* True if 'a' and 'b' have the same objects (order and lines ignored). */
bool policy_equal(const struct policy *a, const struct policy *b);

/* What changes from 'old' to 'new', one line per object, in canonical
 * order:
 *
 *     + segment web vlan=100
 *     - rule x deny from=any to=db
 *     ~ group g: group g segments=a -> group g segments=a,b
 *
 * Empty string if they are equal.  Caller frees. */
char *policy_diff(const struct policy *old, const struct policy *new);

/* "FILE:LINE: FIELD: MESSAGE", leaving out the parts that are absent (no
 * file name if 'file_name' is NULL, "line N:" then instead of "FILE:N:",
 * no line if 0, no field if empty).  Caller frees. */
char *policy_error_format(const struct policy_error *,
                          const char *file_name);

/* Adds one object of 'kind' (a kind of the document: "segment", "group",
 * "rule", "mirror", "limit" or "export") written as a document line
 * without the kind, e.g. "web vlan=100 vni=5001", then validates the whole
 * policy.  The new object has line 0.  Returns 0, or EINVAL with '*error'
 * filled and the policy unchanged. */
int policy_add_line(struct policy *, const char *kind, const char *line,
                    struct policy_error *);

/* Like policy_add_line(), but an object of the same kind and name is
 * replaced (the new one has line 0).  On error the policy is unchanged. */
int policy_put_line(struct policy *, const char *kind, const char *line,
                    struct policy_error *);

/* Deletes the object of 'kind' called 'name', then validates the whole
 * policy.  Deleting a segment or group that something still refers to is
 * an error naming the referrer.  Returns 0, or ENOENT (no such object) or
 * EINVAL with '*error' filled and the policy unchanged. */
int policy_del(struct policy *, const char *kind, const char *name,
               struct policy_error *);

/* Lookups by name; NULL if absent. */
const struct policy_segment *policy_find_segment(const struct policy *,
                                                 const char *name);
const struct policy_group *policy_find_group(const struct policy *,
                                             const char *name);
const struct policy_rule *policy_find_rule(const struct policy *,
                                           const char *name);
const struct policy_mirror *policy_find_mirror(const struct policy *,
                                               const char *name);
const struct policy_limit *policy_find_limit(const struct policy *,
                                             const char *name);
const struct policy_export *policy_find_export(const struct policy *,
                                               const char *name);

const char *policy_action_to_string(enum policy_action);
const char *policy_proto_to_string(enum policy_proto);
const char *policy_ref_to_string(enum policy_ref);
const char *policy_direction_to_string(enum policy_direction);
const char *policy_export_type_to_string(enum policy_export_type);

/* Writes 'kbps' as "Nkbit", "Nmbit" or "Ngbit", the largest unit that
 * divides it, into 'buf' (at least POLICY_RATE_BUFSIZE bytes). */
#define POLICY_RATE_BUFSIZE 24
void policy_rate_format(uint32_t kbps, char *buf, size_t size);

/* Writes 'cidr' as "ADDRESS/PLEN" into 'buf' (at least 44 bytes). */
#define POLICY_CIDR_BUFSIZE 44
void policy_cidr_format(const struct policy_cidr *, char *buf, size_t size);

#endif /* policy.h */
