/* The mirror planner: policy mirrors + placed vNICs -> what each host must
 * have so that the sources' traffic reaches each mirror's destination.
 * Pure (no I/O); unit-tested in tests/unit/test-mirror-plan.c.
 *
 * How a mirror is realized (docs/mirrors.md has the picture):
 *
 *   - On every host with sources, one OVSDB Mirror row "weft-NAME" selects
 *     the sources' ports (select_src_port for what they send, "ingress";
 *     select_dst_port for what they receive, "egress").
 *   - Its output_port is the destination itself when it is on the same
 *     host (local SPAN), else a VXLAN port "wm-KKKKKK" towards the
 *     destination's host with the fixed key K, the mirror's tunnel key.
 *   - The destination's host has a catch-all VXLAN port "wm-rx"
 *     (remote_ip=flow, key=flow) and a flow "tun_id=K -> output:DEST" in
 *     table 0.  The collector thus sees the original frames, undecorated;
 *     on the underlay they are plain VXLAN that tshark decodes.
 *
 * A mirror's destination vNIC is dedicated to it, like an OVS mirror
 * output port: the pipeline gives it no forwarding flows, so it only
 * receives mirrored traffic (and cannot be one of its own sources).
 *
 * Mirror tunnel keys come from the range MIRROR_KEY_MIN..MIRROR_KEY_MAX,
 * derived from the mirror's name (stable across restarts and unrelated
 * changes) and moved to the next free key if a segment VNI or an earlier
 * mirror (by name) has it. */
#ifndef WEFT_MIRROR_PLAN_H
#define WEFT_MIRROR_PLAN_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pipeline_vnic;
struct policy;

#define MIRROR_KEY_MIN 0xfff000u
#define MIRROR_KEY_MAX 0xfffffeu

/* Name of the receiving VXLAN port on a destination's host. */
#define MIRROR_RX_PORT "wm-rx"

/* A managed host. */
struct mirror_plan_host {
    const char *name;
    const char *tunnel_ip;      /* NULL if it has none. */
};

struct mirror_plan_input {
    const struct policy *policy;
    const struct pipeline_vnic *vnics;  /* Placed vNICs, any order. */
    size_t n_vnics;
    const struct mirror_plan_host *hosts;
    size_t n_hosts;

    /* Whether port 'port' is on 'host''s bridge, for destinations given
     * as host:HOST/PORT.  NULL: assume it is. */
    bool (*host_port_present)(void *aux, const char *host, const char *port);
    void *aux;
};

/* One Mirror row on one host. */
struct mirror_row {
    const char *mirror;         /* The policy mirror's name. */
    const char *host;
    const char **select_src;    /* Ports whose received packets (what
                                 * the VM sends) are mirrored. */
    size_t n_select_src;
    const char **select_dst;    /* Ports whose sent packets are. */
    size_t n_select_dst;
    const char *output_port;    /* Local destination or tunnel port. */
    /* For a tunnel output port: */
    bool remote;
    uint32_t key;
    const char *remote_ip;
};

/* On a destination host: frames with tunnel key 'key' go to 'port'. */
struct mirror_delivery {
    const char *mirror;
    const char *host;
    uint32_t key;
    const char *port;
    int ofport;                 /* A vNIC's; 0 for a host port (the caller
                                 * looks it up). */
};

#define MIRROR_STATES                                   \
    MIRROR_STATE(ACTIVE, "active")                      \
    MIRROR_STATE(NO_SOURCES, "no-sources")              \
    MIRROR_STATE(DESTINATION_DOWN, "destination-down")  \
    MIRROR_STATE(ERROR, "error")

enum mirror_state {
#define MIRROR_STATE(ENUM, NAME) MIRROR_##ENUM,
    MIRROR_STATES
#undef MIRROR_STATE
};
const char *mirror_state_to_string(enum mirror_state);

/* What became of one policy mirror. */
struct mirror_status {
    const char *name;
    enum mirror_state state;
    char *detail;               /* Why, for anything but ACTIVE; else
                                 * notes (e.g. destination excluded from
                                 * the sources), or "". */
    size_t n_sources;           /* Placed source vNICs. */
    const char *dest_host;      /* NULL if not placed. */
    const char *dest_port;
    uint32_t key;               /* Its tunnel key. */
};

struct mirror_plan {
    struct mirror_status *mirrors;      /* One per policy mirror, by name. */
    size_t n_mirrors;
    struct mirror_row *rows;            /* By mirror, then host. */
    size_t n_rows;
    struct mirror_delivery *deliveries;
    size_t n_deliveries;
    bool *dedicated;                    /* Per input vNIC: a destination. */
};

struct mirror_plan *mirror_plan_create(const struct mirror_plan_input *);
void mirror_plan_destroy(struct mirror_plan *);     /* Accepts NULL. */

/* The tunnel key of 'policy''s mirror 'name' (0 if there is none). */
uint32_t mirror_plan_key(const struct policy *, const char *name);

/* "wm-" and the key in hex: the tunnel port for 'key'. */
#define MIRROR_PORT_NAME_SIZE 16
void mirror_port_name(uint32_t key, char name[MIRROR_PORT_NAME_SIZE]);

/* True if host 'host' must have the MIRROR_RX_PORT. */
bool mirror_plan_host_receives(const struct mirror_plan *, const char *host);

#endif /* mirror-plan.h */
