/* The flow reconciler of one switch connection (see flow-table.h). */
#include <config.h>

#include "flow-table.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#include "byte-order.h"
#include "hash.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/rconn.h"
#include "timeval.h"
#include "util.h"

#include "flow.h"
#include "flow-eval.h"
#include "log.h"
#include "meter-set.h"
#include "openflow.h"

WEFT_LOG_MODULE(flow_table);

/* A round with no answer from the switch for this long is given up, and the
 * connection with it: the switch reconnects and everything starts over from
 * a read-back.  Generous, because committing a large bundle takes the
 * switch a while and it answers nothing meanwhile. */
#define ROUND_TIMEOUT_MS (120 * 1000)

/* Flags of every bundle: OVS insists that open, add and commit agree. */
#define BUNDLE_FLAGS (OFPBF_ATOMIC | OFPBF_ORDERED)

#define FT_STATES                                                          \
    FT_STATE(IDLE, "idle")                                                 \
    /* Flow stats request sent, replies being collected. */                \
    FT_STATE(READING, "reading")                                           \
    /* Bundle opened and filled, barrier sent. */                          \
    FT_STATE(FILLING, "filling bundle")                                    \
    /* Bundle commit sent. */                                              \
    FT_STATE(COMMITTING, "committing")                                     \
    /* OpenFlow 1.3: flow mods and barrier sent. */                        \
    FT_STATE(SENDING, "sending")

enum ft_state {
#define FT_STATE(ENUM, NAME) FT_##ENUM,
    FT_STATES
#undef FT_STATE
};

/* A flow, desired or installed.  Shared (reference counted) between the
 * desired set, the installed mirror and the round in flight. */
struct ft_flow {
    struct hmap_node text_node;     /* In 'desired_text', by source_hash(). */
    struct hmap_node key_node;      /* In 'desired', by 'key_hash'. */
    struct hmap_node installed_node; /* In 'installed', by 'key_hash'. */
    unsigned int ref_cnt;

    /* Key. */
    uint8_t table;
    uint16_t priority;
    struct minimatch match;
    uint32_t key_hash;

    ovs_be64 cookie;
    uint16_t idle_timeout;          /* Desired flows: as given. */
    uint16_t hard_timeout;
    struct ofpact *ofpacts;
    size_t ofpacts_len;
    struct ofpbuf *actions_wire;    /* See actions_wire(), or NULL. */

    /* Desired flows: as given, "table=T,priority=P,cookie=C,MATCH,actions=A".
     * Flows read back: formatted when first needed. */
    char *text;

    /* Desired flows: the match and actions as given, to recognize the
     * flow in the next set without formatting its text. */
    char *src_match;
    char *src_actions;

    /* Why a desired flow cannot be installed, or NULL.  If set, 'match' and
     * 'ofpacts' are empty. */
    char *error;
};

enum ft_op_type {
    FT_OP_DELETE,
    FT_OP_MODIFY,
    FT_OP_ADD,
};

/* One flow mod of the round in flight. */
struct ft_op {
    struct hmap_node xid_node;      /* In 'ops_by_xid'. */
    ovs_be32 xid;
    enum ft_op_type type;
    struct ft_flow *flow;           /* New flow, or the one deleted. */
};

struct flow_table {
    struct rconn *rconn;
    const char *name;
    enum ofp_version version;
    enum ofputil_protocol protocol;
    bool use_bundles;
    flow_table_cb *reconciled;
    void *aux;

    /* The set last given to set_flows(). */
    struct hmap desired_text;       /* Every flow, valid or not. */
    struct hmap desired;            /* Valid flows, by key. */
    unsigned int n_invalid;         /* Flows in 'desired_text' only. */
    bool have_desired;              /* set_flows() was called. */
    bool dirty;                     /* Changed since the last round began. */
    bool failed;                    /* Last round refused; set_flows() to
                                     * try again. */

    /* Mirror of the switch's Weft-marked flows, by key, and of its Weft
     * meters. */
    struct hmap installed;
    struct meter_set installed_meters;
    bool mirror_valid;

    /* The meters last given to set_meters(). */
    struct meter_set desired_meters;

    /* Round in flight. */
    enum ft_state state;
    ovs_be32 request_xid;           /* Stats request, barrier or commit. */
    ovs_be32 open_xid;
    uint32_t bundle_id;
    struct ft_op *ops;
    size_t n_ops;
    struct hmap ops_by_xid;
    struct meter_op *meter_ops;     /* Sent before the flow mods. */
    size_t n_meter_ops;
    bool meter_deletes_left;        /* Deletes wait for a round without
                                     * flow mods. */
    ovs_be32 meter_request_xid;     /* Meter config request. */
    bool reading_flows;             /* Replies still to come. */
    bool reading_meters;
    unsigned int n_refused;         /* Errors received in this round. */
    unsigned int n_read;            /* Flows read back in this round. */
    long long int round_start;
    long long int deadline;         /* Give up if no answer by then. */

    /* flow_table_refresh() requests, and whether their read-back has
     * begun. */
    struct ft_refresh {
        flow_table_refresh_cb *cb;
        void *aux;
    } *refreshes;
    size_t n_refreshes;
    bool refreshing;

    /* A discarded bundle whose reply is still to come. */
    bool discarding;
    ovs_be32 discard_xid;

    /* Statistics. */
    unsigned long long n_rounds;
    unsigned long long n_flow_mods;
    unsigned long long n_meter_mods;
    unsigned long long n_bundles;
    unsigned long long n_errors;
    unsigned int last_round_ms;
    char *last_error;
};

static void ft_flow_unref(struct ft_flow *);
static struct ft_flow *parse_flow(const struct flow_table *,
                                  const struct weft_flow *, char *text);
static struct ft_flow *find_by_source(const struct hmap *,
                                      const struct weft_flow *,
                                      uint32_t hash);
static uint32_t source_hash(const struct weft_flow *);
static struct ft_flow *find_desired(const struct flow_table *,
                                    const struct ft_flow *key);
static struct ft_flow *find_installed(const struct flow_table *,
                                      const struct ft_flow *key);
static uint32_t key_hash(uint8_t table, uint16_t priority,
                         const struct minimatch *);
static bool same_actions(struct ft_flow *, struct ft_flow *);
static const char *ft_flow_text(struct ft_flow *);
static void clear_installed(struct flow_table *);
static void round_begin(struct flow_table *);
static void send_diff(struct flow_table *);
static void round_end(struct flow_table *, bool success);
static bool recv_error(struct flow_table *, const struct ofp_header *);
static bool recv_bundle_control(struct flow_table *,
                                const struct ofp_header *);
static void recv_flow_stats(struct flow_table *, const struct ofp_header *);
static void recv_meter_config(struct flow_table *,
                              const struct ofp_header *);
static void recv_barrier(struct flow_table *);
static void set_error(struct flow_table *, const char *format, ...)
    OVS_PRINTF_FORMAT(2, 3);
static const char *ft_state_name(enum ft_state);

struct flow_table *
flow_table_create(struct rconn *rconn, const char *name,
                  flow_table_cb *reconciled, void *aux)
{
    struct flow_table *ft = xzalloc(sizeof *ft);
    ft->rconn = rconn;
    ft->name = name;
    ft->version = rconn_get_version(rconn);
    ft->protocol = ofputil_protocol_from_ofp_version(ft->version);
    ft->use_bundles = ft->version >= OFP14_VERSION;
    ft->reconciled = reconciled;
    ft->aux = aux;
    hmap_init(&ft->desired_text);
    hmap_init(&ft->desired);
    hmap_init(&ft->installed);
    hmap_init(&ft->ops_by_xid);
    meter_set_init(&ft->installed_meters);
    meter_set_init(&ft->desired_meters);
    ft->state = FT_IDLE;
    return ft;
}

static void
free_ops(struct flow_table *ft)
{
    for (size_t i = 0; i < ft->n_ops; i++) {
        ft_flow_unref(ft->ops[i].flow);
    }
    free(ft->ops);
    ft->ops = NULL;
    ft->n_ops = 0;
    hmap_clear(&ft->ops_by_xid);
    free(ft->meter_ops);
    ft->meter_ops = NULL;
    ft->n_meter_ops = 0;
}

/* Answers every refresh request with 'error', or with what the read-back
 * found. */
static void
notify_refreshes(struct flow_table *ft, const char *error)
{
    struct ft_refresh *refreshes = ft->refreshes;
    size_t n = ft->n_refreshes;
    struct flow_table_drift drift = { 0 };

    ft->refreshes = NULL;
    ft->n_refreshes = 0;
    ft->refreshing = false;
    if (!error) {
        const struct ft_flow *f;
        HMAP_FOR_EACH (f, key_node, &ft->desired) {
            struct ft_flow *old = find_installed(ft, f);
            if (!old) {
                drift.n_missing++;
            } else if (old->cookie != f->cookie
                       || !same_actions(old, CONST_CAST(struct ft_flow *,
                                                        f))) {
                drift.n_changed++;
            }
        }
        HMAP_FOR_EACH (f, installed_node, &ft->installed) {
            drift.n_unexpected += !find_desired(ft, f);
        }
        if (drift.n_missing || drift.n_unexpected || drift.n_changed) {
            WEFT_WARN("%s: read back on request: %"PRIuSIZE" flows missing, "
                      "%"PRIuSIZE" unexpected, %"PRIuSIZE" changed compared "
                      "with the desired flows (changed behind Weft's back, "
                      "or not yet sent); reconciling", ft->name,
                      drift.n_missing, drift.n_unexpected, drift.n_changed);
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *why = error;
        struct flow_eval *fe = error ? NULL : flow_table_eval_create(ft, &why);
        refreshes[i].cb(refreshes[i].aux, fe, &drift, fe ? NULL : why);
    }
    free(refreshes);
}

void
flow_table_refresh(struct flow_table *ft, flow_table_refresh_cb *cb,
                   void *aux)
{
    ft->refreshes = xrealloc(ft->refreshes,
                             (ft->n_refreshes + 1) * sizeof *ft->refreshes);
    ft->refreshes[ft->n_refreshes++] = (struct ft_refresh) { cb, aux };
}

void
flow_table_destroy(struct flow_table *ft)
{
    if (!ft) {
        return;
    }
    notify_refreshes(ft, "the OpenFlow connection closed");
    free_ops(ft);
    hmap_destroy(&ft->ops_by_xid);

    struct ft_flow *f;
    HMAP_FOR_EACH_POP (f, text_node, &ft->desired_text) {
        ft_flow_unref(f);
    }
    hmap_destroy(&ft->desired_text);
    hmap_destroy(&ft->desired);
    clear_installed(ft);
    hmap_destroy(&ft->installed);
    meter_set_destroy(&ft->installed_meters);
    meter_set_destroy(&ft->desired_meters);
    free(ft->last_error);
    free(ft);
}

static char *
flow_text(const struct weft_flow *wf)
{
    char timeouts[64] = "";
    if (wf->idle_timeout || wf->hard_timeout) {
        snprintf(timeouts, sizeof timeouts,
                 "idle_timeout=%"PRIu16",hard_timeout=%"PRIu16",",
                 wf->idle_timeout, wf->hard_timeout);
    }
    return xasprintf("table=%"PRIu8",priority=%"PRIu16",cookie=%#"PRIx64
                     ",%s%s%sactions=%s", wf->table, wf->priority,
                     wf->cookie, timeouts, wf->match, *wf->match ? "," : "",
                     wf->actions);
}

void
flow_table_set_flows(struct flow_table *ft, const struct weft_flow *flows,
                     size_t n)
{
    /* Flows of the previous set are moved over when they appear again, so
     * that each distinct flow is parsed once. */
    struct hmap old_text = HMAP_INITIALIZER(&old_text);
    hmap_swap(&old_text, &ft->desired_text);
    hmap_clear(&ft->desired);
    ft->n_invalid = 0;

    for (size_t i = 0; i < n; i++) {
        uint32_t hash = source_hash(&flows[i]);

        struct ft_flow *f = find_by_source(&old_text, &flows[i], hash);
        if (f) {
            hmap_remove(&old_text, &f->text_node);
        } else if (find_by_source(&ft->desired_text, &flows[i], hash)) {
            /* The same flow twice: once is enough. */
            continue;
        } else {
            f = parse_flow(ft, &flows[i], flow_text(&flows[i]));
            if (f->error) {
                ft->n_errors++;
                set_error(ft, "%s: flow skipped: %s", f->text, f->error);
            }
        }
        hmap_insert(&ft->desired_text, &f->text_node, hash);
        if (f->error) {
            ft->n_invalid++;
            continue;
        }

        struct ft_flow *other = find_desired(ft, f);
        if (other) {
            /* A switch holds one flow per table, priority and match: the
             * second would silently replace the first. */
            if (other->cookie != f->cookie || !same_actions(other, f)) {
                ft->n_invalid++;
                ft->n_errors++;
                set_error(ft, "%s: flow skipped: same table, priority and "
                          "match as %s", f->text, other->text);
            }
            continue;
        }
        hmap_insert(&ft->desired, &f->key_node, f->key_hash);
    }

    struct ft_flow *f;
    HMAP_FOR_EACH_POP (f, text_node, &old_text) {
        ft_flow_unref(f);
    }
    hmap_destroy(&old_text);

    ft->have_desired = true;
    ft->dirty = true;
    ft->failed = false;
}

void
flow_table_set_meters(struct flow_table *ft, const struct weft_meter *meters,
                      size_t n)
{
    struct meter_set set;
    meter_set_init(&set);
    size_t skipped = meter_set_assign(&set, meters, n);
    if (skipped) {
        ft->n_errors++;
        set_error(ft, "%"PRIuSIZE" meters skipped: without Weft's mark in "
                  "their ID, with a rate or burst of 0, or with the ID of "
                  "another", skipped);
    }
    if (!meter_set_equal(&set, &ft->desired_meters)) {
        struct meter_set tmp = ft->desired_meters;
        ft->desired_meters = set;
        set = tmp;
        ft->dirty = true;
        ft->failed = false;
    }
    meter_set_destroy(&set);
}

void
flow_table_get_stats(const struct flow_table *ft,
                     struct of_switch_flow_stats *stats)
{
    *stats = (struct of_switch_flow_stats) {
        .n_desired = hmap_count(&ft->desired),
        .n_invalid = ft->n_invalid,
        .n_installed = ft->mirror_valid ? hmap_count(&ft->installed) : 0,
        .n_meters_desired = ft->desired_meters.n,
        .n_meters_installed = (ft->mirror_valid ? ft->installed_meters.n
                               : 0),
        .n_rounds = ft->n_rounds,
        .n_flow_mods = ft->n_flow_mods,
        .n_meter_mods = ft->n_meter_mods,
        .n_bundles = ft->n_bundles,
        .n_errors = ft->n_errors,
        .last_round_ms = ft->last_round_ms,
        .synced = (ft->have_desired && ft->state == FT_IDLE
                   && ft->mirror_valid && !ft->dirty && !ft->failed),
        .state = ft_state_name(ft->state),
        .last_error = ft->last_error,
    };
}

struct flow_eval *
flow_table_eval_create(const struct flow_table *ft, const char **why)
{
    if (!ft->mirror_valid) {
        *why = "the switch's flows have not been read back yet";
        return NULL;
    }
    /* Between rounds the mirror is what the switch acknowledged. */
    struct flow_eval_rule *rules = xcalloc(hmap_count(&ft->installed) + 1,
                                           sizeof *rules);
    size_t n = 0;
    const struct ft_flow *f;
    HMAP_FOR_EACH (f, installed_node, &ft->installed) {
        rules[n++] = (struct flow_eval_rule) {
            .table = f->table,
            .priority = f->priority,
            .cookie = ntohll(f->cookie),
            .match = &f->match,
            .ofpacts = f->ofpacts,
            .ofpacts_len = f->ofpacts_len,
        };
    }
    struct flow_eval *fe = flow_eval_create(rules, n);
    free(rules);
    return fe;
}

bool
flow_table_recv(struct flow_table *ft, const struct ofp_header *oh)
{
    enum ofptype type;
    if (ofptype_decode(&type, oh)) {
        return false;
    }

    switch (type) {
    case OFPTYPE_ERROR:
        return recv_error(ft, oh);

    case OFPTYPE_FLOW_STATS_REPLY:
        if (ft->state == FT_READING && ft->reading_flows
            && oh->xid == ft->request_xid) {
            recv_flow_stats(ft, oh);
            return true;
        }
        return false;

    case OFPTYPE_METER_CONFIG_STATS_REPLY:
        if (ft->state == FT_READING && ft->reading_meters
            && oh->xid == ft->meter_request_xid) {
            recv_meter_config(ft, oh);
            return true;
        }
        return false;

    case OFPTYPE_BARRIER_REPLY:
        if ((ft->state == FT_FILLING || ft->state == FT_SENDING)
            && oh->xid == ft->request_xid) {
            recv_barrier(ft);
            return true;
        }
        return false;

    case OFPTYPE_BUNDLE_CONTROL:
        return recv_bundle_control(ft, oh);

    default:
        return false;
    }
}

bool
flow_table_flow_removed(struct flow_table *ft, uint8_t table,
                        uint16_t priority, const struct match *match,
                        uint64_t cookie)
{
    if ((cookie & WEFT_COOKIE_MARK_MASK) != WEFT_COOKIE_MARK_VALUE) {
        return false;
    }
    struct ft_flow key = { .table = table, .priority = priority };
    minimatch_init(&key.match, match);
    key.key_hash = key_hash(table, priority, &key.match);
    struct ft_flow *f = find_installed(ft, &key);
    if (f && ntohll(f->cookie) == cookie) {
        hmap_remove(&ft->installed, &f->installed_node);
        ft_flow_unref(f);
    }
    minimatch_destroy(&key.match);
    return true;
}

void
flow_table_run(struct flow_table *ft)
{
    if (ft->state != FT_IDLE) {
        if (time_msec() >= ft->deadline) {
            ft->n_errors++;
            set_error(ft, "no answer from the switch for %d s while %s; "
                      "dropping the connection", ROUND_TIMEOUT_MS / 1000,
                      ft_state_name(ft->state));
            ft->deadline = LLONG_MAX;
            rconn_disconnect(ft->rconn);
        }
        return;
    }
    if (!rconn_is_connected(ft->rconn)) {
        return;
    }
    if (ft->n_refreshes && !ft->refreshing) {
        if (!ft->have_desired) {
            /* A read-back now would be followed by deleting every flow. */
            notify_refreshes(ft, "weftd has not computed this switch's "
                             "flows yet");
            return;
        }
        ft->refreshing = true;
        ft->mirror_valid = false;
        round_begin(ft);
    } else if (ft->dirty) {
        round_begin(ft);
    }
}

void
flow_table_wait(struct flow_table *ft)
{
    if (ft->state != FT_IDLE) {
        poll_timer_wait_until(ft->deadline);
    } else if (ft->dirty || ft->n_refreshes) {
        poll_immediate_wake();
    }
}

/* Flows. */

static void
ft_flow_unref(struct ft_flow *f)
{
    if (f && !--f->ref_cnt) {
        if (!f->error) {
            minimatch_destroy(&f->match);
        }
        free(f->ofpacts);
        ofpbuf_delete(f->actions_wire);
        free(f->text);
        free(f->src_match);
        free(f->src_actions);
        free(f->error);
        free(f);
    }
}

static struct ft_flow *
ft_flow_ref(struct ft_flow *f)
{
    f->ref_cnt++;
    return f;
}

static uint32_t
key_hash(uint8_t table, uint16_t priority, const struct minimatch *match)
{
    return minimatch_hash(match, hash_2words(table, priority));
}

/* Parses 'text' (taken) of 'wf' into a new flow, in the form the switch
 * will give it back in flow stats: the parsed flow mod is encoded in the
 * negotiated protocol and decoded again, as the switch does, so that a flow
 * read back compares equal to the flow that installed it. */
static struct ft_flow *
parse_flow(const struct flow_table *ft, const struct weft_flow *wf,
           char *text)
{
    struct ft_flow *f = xzalloc(sizeof *f);
    f->ref_cnt = 1;
    f->text = text;
    f->src_match = xstrdup(wf->match);
    f->src_actions = xstrdup(wf->actions);
    f->table = wf->table;
    f->priority = wf->priority;
    f->cookie = htonll(wf->cookie);
    f->idle_timeout = wf->idle_timeout;
    f->hard_timeout = wf->hard_timeout;

    if ((wf->cookie & WEFT_COOKIE_MARK_MASK) != WEFT_COOKIE_MARK_VALUE) {
        f->error = xasprintf("cookie %#"PRIx64" lacks Weft's mark "
                             "(%#llx in the top byte)", wf->cookie,
                             WEFT_COOKIE_MARK);
        return f;
    }

    struct ofputil_flow_mod fm;
    enum ofputil_protocol usable;
    char *error = parse_ofp_flow_mod_str(&fm, text, NULL, NULL, OFPFC_ADD,
                                         &usable);
    if (error) {
        f->error = error;
        return f;
    }
    if (fm.table_id != wf->table || fm.priority != wf->priority
        || fm.new_cookie != f->cookie) {
        f->error = xstrdup("table, priority and cookie come from the flow, "
                           "not from its match");
    } else if (fm.idle_timeout != wf->idle_timeout
               || fm.hard_timeout != wf->hard_timeout) {
        f->error = xstrdup("timeouts come from the flow, not from its "
                           "match");
    } else if (fm.importance || fm.flags) {
        f->error = xstrdup("importance and flags are not supported");
    } else if (!(usable & ft->protocol)) {
        f->error = xasprintf("not expressible in %s",
                             ofputil_version_to_string(ft->version));
    }
    if (f->error) {
        minimatch_destroy(&fm.match);
        free(fm.ofpacts);
        return f;
    }

    struct ofpbuf *msg = ofputil_encode_flow_mod(&fm, ft->protocol);
    struct minimatch parsed;
    minimatch_move(&parsed, &fm.match);
    free(fm.ofpacts);

    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 64);
    enum ofperr ofperr = ofputil_decode_flow_mod(&fm, msg->data, ft->protocol,
                                                 NULL, NULL, &ofpacts,
                                                 OFPP_MAX, 255);
    ofpbuf_delete(msg);
    if (ofperr) {
        f->error = xasprintf("does not survive encoding in %s (%s)",
                             ofputil_version_to_string(ft->version),
                             ofperr_to_string(ofperr));
    } else if (!minimatch_equal(&parsed, &fm.match)) {
        /* The encoder leaves out fields whose prerequisites are missing
         * (e.g. nw_dst without ip): the flow would match more than it
         * says. */
        char *s = minimatch_to_string(&fm.match, NULL, OFP_DEFAULT_PRIORITY);
        f->error = xasprintf("the switch would get match \"%s\" instead "
                             "(a field without its prerequisites?)", s);
        free(s);
        minimatch_destroy(&fm.match);
    }
    minimatch_destroy(&parsed);
    if (f->error) {
        ofpbuf_uninit(&ofpacts);
        return f;
    }
    minimatch_move(&f->match, &fm.match);
    f->ofpacts_len = ofpacts.size;
    f->ofpacts = ofpbuf_steal_data(&ofpacts);
    f->key_hash = key_hash(f->table, f->priority, &f->match);
    return f;
}

static uint32_t
source_hash(const struct weft_flow *wf)
{
    uint32_t hash = hash_3words(wf->table | (wf->priority << 8),
                                wf->idle_timeout | (wf->hard_timeout << 16),
                                0);
    hash = hash_uint64_basis(wf->cookie, hash);
    return hash_string(wf->actions, hash_string(wf->match, hash));
}

/* The desired flow in 'map' that was given as 'wf'. */
static struct ft_flow *
find_by_source(const struct hmap *map, const struct weft_flow *wf,
               uint32_t hash)
{
    struct ft_flow *f;
    HMAP_FOR_EACH_WITH_HASH (f, text_node, hash, map) {
        if (f->table == wf->table && f->priority == wf->priority
            && ntohll(f->cookie) == wf->cookie
            && f->idle_timeout == wf->idle_timeout
            && f->hard_timeout == wf->hard_timeout
            && !strcmp(f->src_match, wf->match)
            && !strcmp(f->src_actions, wf->actions)) {
            return f;
        }
    }
    return NULL;
}

static bool
same_key(const struct ft_flow *a, const struct ft_flow *b)
{
    return (a->table == b->table && a->priority == b->priority
            && minimatch_equal(&a->match, &b->match));
}

static struct ft_flow *
find_desired(const struct flow_table *ft, const struct ft_flow *key)
{
    struct ft_flow *f;
    HMAP_FOR_EACH_WITH_HASH (f, key_node, key->key_hash, &ft->desired) {
        if (same_key(f, key)) {
            return f;
        }
    }
    return NULL;
}

static struct ft_flow *
find_installed(const struct flow_table *ft, const struct ft_flow *key)
{
    struct ft_flow *f;
    HMAP_FOR_EACH_WITH_HASH (f, installed_node, key->key_hash,
                             &ft->installed) {
        if (same_key(f, key)) {
            return f;
        }
    }
    return NULL;
}

/* Returns 'f''s actions in the form used to compare them: encoded as
 * OpenFlow 1.5 instructions, computed once.
 *
 * Equal actions may differ in their "struct ofpact" form: in 'raw', the wire
 * form they were decoded from, which OVS keeps to answer in the same form
 * (a flow installed in OpenFlow 1.5 with "load" comes back in 1.3 as
 * "set_field"), and in padding that decoders leave uninitialized.
 * OpenFlow 1.5 has one form for both, and encoders write every byte. */
static const struct ofpbuf *
actions_wire(struct ft_flow *f)
{
    if (!f->actions_wire) {
        f->actions_wire = ofpbuf_new(f->ofpacts_len + 16);
        ofpacts_put_openflow_instructions(f->ofpacts, f->ofpacts_len,
                                          f->actions_wire, OFP15_VERSION);
    }
    return f->actions_wire;
}

static bool
same_actions(struct ft_flow *a, struct ft_flow *b)
{
    const struct ofpbuf *a_wire = actions_wire(a);
    const struct ofpbuf *b_wire = actions_wire(b);
    return (a_wire->size == b_wire->size
            && !memcmp(a_wire->data, b_wire->data, a_wire->size));
}

static const char *
ft_flow_text(struct ft_flow *f)
{
    if (!f->text) {
        struct ds s = DS_EMPTY_INITIALIZER;
        ds_put_format(&s, "table=%"PRIu8",priority=%"PRIu16",cookie=%#"
                      PRIx64",", f->table, f->priority, ntohll(f->cookie));
        minimatch_format(&f->match, NULL, NULL, &s, OFP_DEFAULT_PRIORITY);
        if (s.string[s.length - 1] != ',') {
            ds_put_char(&s, ',');
        }
        ds_put_cstr(&s, "actions=");
        struct ofpact_format_params fp = { .s = &s };
        ofpacts_format(f->ofpacts, f->ofpacts_len, &fp);
        f->text = ds_steal_cstr(&s);
    }
    return f->text;
}

static void
clear_installed(struct flow_table *ft)
{
    struct ft_flow *f;
    HMAP_FOR_EACH_POP (f, installed_node, &ft->installed) {
        ft_flow_unref(f);
    }
}

/* Rounds. */

static void
send_msg(struct flow_table *ft, struct ofpbuf *msg)
{
    /* A failed send means the connection is going away, and this object
     * with it: nothing to recover. */
    int error = rconn_send(ft->rconn, msg, NULL);
    if (error) {
        WEFT_DBG("%s: send failed: %s", ft->name, ovs_strerror(error));
    }
}

static ovs_be32
send_bundle_ctrl(struct flow_table *ft, uint16_t type)
{
    struct ofputil_bundle_ctrl_msg bc = {
        .bundle_id = ft->bundle_id,
        .type = type,
        .flags = BUNDLE_FLAGS,
    };
    struct ofpbuf *msg = ofputil_encode_bundle_ctrl_request(ft->version, &bc);
    ovs_be32 xid = ((const struct ofp_header *) msg->data)->xid;
    send_msg(ft, msg);
    return xid;
}

static ovs_be32
send_barrier(struct flow_table *ft)
{
    struct ofpbuf *msg = ofputil_encode_barrier_request(ft->version);
    ovs_be32 xid = ((const struct ofp_header *) msg->data)->xid;
    send_msg(ft, msg);
    return xid;
}

static void
send_read_back(struct flow_table *ft)
{
    struct ofputil_flow_stats_request fsr = {
        .cookie = htonll(WEFT_COOKIE_MARK_VALUE),
        .cookie_mask = htonll(WEFT_COOKIE_MARK_MASK),
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .table_id = OFPTT_ALL,
    };
    match_init_catchall(&fsr.match);

    clear_installed(ft);
    meter_set_clear(&ft->installed_meters);
    ft->mirror_valid = false;
    ft->n_read = 0;

    struct ofpbuf *msg = ofputil_encode_flow_stats_request(&fsr,
                                                           ft->protocol);
    ft->request_xid = ((const struct ofp_header *) msg->data)->xid;
    send_msg(ft, msg);
    msg = meter_set_encode_request(ft->version);
    ft->meter_request_xid = ((const struct ofp_header *) msg->data)->xid;
    send_msg(ft, msg);
    ft->reading_flows = ft->reading_meters = true;
    ft->state = FT_READING;
}

/* Both read-backs are complete: the mirror is known. */
static void
read_back_done(struct flow_table *ft)
{
    if (!ft->reading_flows && !ft->reading_meters) {
        WEFT_DBG("%s: read back %u Weft flows and %"PRIuSIZE" Weft meters",
                 ft->name, ft->n_read, ft->installed_meters.n);
        ft->mirror_valid = true;
        if (ft->refreshing) {
            notify_refreshes(ft, NULL);
        }
        send_diff(ft);
    }
}

static struct ofpbuf *
encode_op(const struct flow_table *ft, const struct ft_op *op)
{
    const struct ft_flow *f = op->flow;
    struct ofputil_flow_mod fm = {
        .match = f->match,
        .priority = f->priority,
        .table_id = f->table,
        .buffer_id = UINT32_MAX,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .new_cookie = OVS_BE64_MAX,
    };

    switch (op->type) {
    case FT_OP_DELETE:
        /* The cookie mask makes sure that only Weft's flow goes, should
         * another have taken its place meanwhile. */
        fm.command = OFPFC_DELETE_STRICT;
        fm.cookie = htonll(WEFT_COOKIE_MARK_VALUE);
        fm.cookie_mask = htonll(WEFT_COOKIE_MARK_MASK);
        break;
    case FT_OP_MODIFY:
        /* Keeps the flow's counters, unlike an add. */
        fm.command = OFPFC_MODIFY_STRICT;
        fm.cookie = htonll(WEFT_COOKIE_MARK_VALUE);
        fm.cookie_mask = htonll(WEFT_COOKIE_MARK_MASK);
        fm.ofpacts = f->ofpacts;
        fm.ofpacts_len = f->ofpacts_len;
        break;
    case FT_OP_ADD:
        /* Also for a changed cookie: in OpenFlow 1.2+, a modify cannot
         * change it, and an add replaces the flow with the same key. */
        fm.command = OFPFC_ADD;
        fm.new_cookie = f->cookie;
        /* A flow that expires must say so, or the mirror would keep it
         * (flow_table_flow_removed()). */
        fm.idle_timeout = f->idle_timeout;
        fm.hard_timeout = f->hard_timeout;
        if (f->idle_timeout || f->hard_timeout) {
            fm.flags = OFPUTIL_FF_SEND_FLOW_REM;
        }
        fm.ofpacts = f->ofpacts;
        fm.ofpacts_len = f->ofpacts_len;
        break;
    }
    return ofputil_encode_flow_mod(&fm, ft->protocol);
}

static void
add_op(struct flow_table *ft, size_t *allocated, enum ft_op_type type,
       struct ft_flow *f)
{
    if (ft->n_ops >= *allocated) {
        ft->ops = x2nrealloc(ft->ops, allocated, sizeof *ft->ops);
    }
    ft->ops[ft->n_ops++] = (struct ft_op) {
        .type = type,
        .flow = ft_flow_ref(f),
    };
}

/* Computes the meter mods of the round, once its flow mods are known.
 * Deleting a meter deletes the flows that use it, so deletes wait until
 * the flows that used them are gone: they go in a round of their own,
 * once no flow mod is left. */
static void
plan_meter_ops(struct flow_table *ft)
{
    size_t n_deletes;
    size_t n = meter_set_diff(&ft->desired_meters, &ft->installed_meters,
                              &ft->meter_ops, &n_deletes);
    ft->n_meter_ops = n;
    ft->meter_deletes_left = false;
    if (n_deletes && ft->n_ops) {
        ft->n_meter_ops = n - n_deletes;
        ft->meter_deletes_left = true;
    }
}

static void
send_meter_ops(struct flow_table *ft)
{
    for (size_t i = 0; i < ft->n_meter_ops; i++) {
        struct meter_op *op = &ft->meter_ops[i];
        struct ofpbuf *msg = meter_op_encode(op, ft->version);
        op->xid = ((const struct ofp_header *) msg->data)->xid;
        send_msg(ft, msg);
    }
    ft->n_meter_mods += ft->n_meter_ops;
}

/* Computes the difference between the desired flows and meters and the
 * mirror and sends it. */
static void
send_diff(struct flow_table *ft)
{
    ft->dirty = false;
    free_ops(ft);

    /* Deletes first, so that a non-atomic update never has old and new
     * flows of an object side by side. */
    size_t allocated = 0;
    struct ft_flow *f;
    HMAP_FOR_EACH (f, installed_node, &ft->installed) {
        if (!find_desired(ft, f)) {
            add_op(ft, &allocated, FT_OP_DELETE, f);
        }
    }
    HMAP_FOR_EACH (f, key_node, &ft->desired) {
        struct ft_flow *old = find_installed(ft, f);
        if (!old || old->cookie != f->cookie) {
            add_op(ft, &allocated, FT_OP_ADD, f);
        } else if (!same_actions(old, f)) {
            WEFT_DBG("%s: modify %s (was %s)", ft->name, f->text,
                     ft_flow_text(old));
            add_op(ft, &allocated, FT_OP_MODIFY, f);
        } else if (old != f) {
            /* The same flow, read back: share the desired copy, which
             * halves the memory after a reconnect. */
            hmap_replace(&ft->installed, &old->installed_node,
                         &ft_flow_ref(f)->installed_node);
            ft_flow_unref(old);
        }
    }
    plan_meter_ops(ft);
    if (!ft->n_ops && !ft->n_meter_ops) {
        round_end(ft, true);
        return;
    }

    ft->n_refused = 0;
    send_meter_ops(ft);
    if (!ft->n_ops) {
        ft->request_xid = send_barrier(ft);
        ft->state = FT_SENDING;
        return;
    }
    if (ft->use_bundles) {
        ft->bundle_id++;
        ft->open_xid = send_bundle_ctrl(ft, OFPBCT_OPEN_REQUEST);
    }
    for (size_t i = 0; i < ft->n_ops; i++) {
        struct ft_op *op = &ft->ops[i];
        struct ofpbuf *msg = encode_op(ft, op);
        op->xid = ((const struct ofp_header *) msg->data)->xid;
        hmap_insert(&ft->ops_by_xid, &op->xid_node, hash_int(op->xid, 0));
        if (ft->use_bundles) {
            struct ofputil_bundle_add_msg bam = {
                .bundle_id = ft->bundle_id,
                .flags = BUNDLE_FLAGS,
                .msg = msg->data,
            };
            struct ofpbuf *add = ofputil_encode_bundle_add(ft->version,
                                                           &bam);
            ofpbuf_delete(msg);
            msg = add;
        }
        send_msg(ft, msg);
    }
    ft->n_flow_mods += ft->n_ops;
    ft->request_xid = send_barrier(ft);
    ft->state = ft->use_bundles ? FT_FILLING : FT_SENDING;
}

static void
round_begin(struct flow_table *ft)
{
    ft->round_start = time_msec();
    ft->deadline = ft->round_start + ROUND_TIMEOUT_MS;
    ft->dirty = false;
    if (ft->mirror_valid) {
        send_diff(ft);
    } else {
        send_read_back(ft);
    }
}

static void
apply_ops(struct flow_table *ft)
{
    for (size_t i = 0; i < ft->n_ops; i++) {
        struct ft_op *op = &ft->ops[i];
        struct ft_flow *old = find_installed(ft, op->flow);
        if (old) {
            hmap_remove(&ft->installed, &old->installed_node);
            ft_flow_unref(old);
        }
        if (op->type != FT_OP_DELETE) {
            hmap_insert(&ft->installed, &ft_flow_ref(op->flow)->installed_node,
                        op->flow->key_hash);
        }
    }
}

/* " (meters: 1 added, ...)", or "" without meter mods.  Caller frees. */
static char *
meter_summary(const struct flow_table *ft)
{
    size_t n[3] = { 0, 0, 0 };
    for (size_t i = 0; i < ft->n_meter_ops; i++) {
        n[ft->meter_ops[i].type]++;
    }
    return (ft->n_meter_ops
            ? xasprintf("; meters: %"PRIuSIZE" added, %"PRIuSIZE" modified, "
                        "%"PRIuSIZE" deleted", n[METER_OP_ADD],
                        n[METER_OP_MODIFY], n[METER_OP_DELETE])
            : xstrdup(""));
}

static void
log_round(const struct flow_table *ft, bool success)
{
    size_t n[3] = { 0, 0, 0 };
    for (size_t i = 0; i < ft->n_ops; i++) {
        n[ft->ops[i].type]++;
    }
    char *meters = meter_summary(ft);
    if (!success) {
        WEFT_WARN("%s: flow update refused (%zu deletes, %zu modifies, %zu "
                  "adds%s%s); the switch keeps %s flows until the next "
                  "change or reconnect", ft->name, n[FT_OP_DELETE],
                  n[FT_OP_MODIFY], n[FT_OP_ADD],
                  ft->use_bundles ? ", one atomic bundle" : "", meters,
                  ft->use_bundles ? "its previous" : "part of the new");
    } else if (ft->n_ops || ft->n_meter_ops) {
        WEFT_INFO("%s: flows updated: %zu deleted, %zu modified, %zu added "
                  "(%s)%s, %"PRIuSIZE" Weft flows installed, %u ms",
                  ft->name, n[FT_OP_DELETE], n[FT_OP_MODIFY], n[FT_OP_ADD],
                  !ft->n_ops ? "no flow mods"
                  : ft->use_bundles ? "one bundle" : "flow mods and barrier",
                  meters, hmap_count(&ft->installed), ft->last_round_ms);
    } else if (ft->n_rounds == 1) {
        WEFT_INFO("%s: switch already has the %"PRIuSIZE" desired flows; "
                  "nothing sent", ft->name, hmap_count(&ft->desired));
    } else {
        WEFT_DBG("%s: flows unchanged; nothing sent", ft->name);
    }
    free(meters);
}

static void
round_end(struct flow_table *ft, bool success)
{
    if (success) {
        apply_ops(ft);
        meter_set_apply(&ft->installed_meters, ft->meter_ops,
                        ft->n_meter_ops);
        if (ft->use_bundles && ft->n_ops) {
            ft->n_bundles++;
        }
        if (ft->meter_deletes_left) {
            ft->dirty = true;
        }
    } else {
        ft->failed = true;
        /* Meter mods are never in the bundle: some may have gone in. */
        if (ft->state == FT_READING || !ft->use_bundles
            || ft->n_meter_ops) {
            /* Unknown or partly changed: read again next time. */
            clear_installed(ft);
            ft->mirror_valid = false;
        }
    }
    if (ft->refreshing) {
        notify_refreshes(ft, "the switch refused to list its flows");
    }
    ft->state = FT_IDLE;
    ft->reading_flows = ft->reading_meters = false;
    ft->n_rounds++;
    ft->last_round_ms = (unsigned int) (time_msec() - ft->round_start);
    log_round(ft, success);
    free_ops(ft);

    if (ft->reconciled) {
        ft->reconciled(ft->aux);
    }
}

static struct ft_op *
find_op(const struct flow_table *ft, ovs_be32 xid)
{
    struct ft_op *op;
    HMAP_FOR_EACH_WITH_HASH (op, xid_node, hash_int(xid, 0),
                             &ft->ops_by_xid) {
        if (op->xid == xid) {
            return op;
        }
    }
    return NULL;
}

static const struct meter_op *
find_meter_op(const struct flow_table *ft, ovs_be32 xid)
{
    for (size_t i = 0; i < ft->n_meter_ops; i++) {
        if (ft->meter_ops[i].xid == xid) {
            return &ft->meter_ops[i];
        }
    }
    return NULL;
}

static const char *
op_name(enum ft_op_type type)
{
    return (type == FT_OP_DELETE ? "delete"
            : type == FT_OP_MODIFY ? "modify"
            : "add");
}

static bool
recv_error(struct flow_table *ft, const struct ofp_header *oh)
{
    enum ofperr error = ofperr_decode_msg(oh, NULL);
    const char *reason = error ? ofperr_to_string(error) : "unknown error";
    ovs_be32 xid = oh->xid;

    if (ft->discarding && xid == ft->discard_xid) {
        WEFT_DBG("%s: bundle discard refused: %s", ft->name, reason);
        ft->discarding = false;
        return true;
    }
    if (ft->state == FT_IDLE) {
        return false;
    }
    ft->deadline = time_msec() + ROUND_TIMEOUT_MS;

    if (ft->state == FT_READING) {
        if (ft->reading_meters && xid == ft->meter_request_xid) {
            /* No meters on this switch: none to read back, and any meter
             * mod will be refused with its own error. */
            WEFT_INFO("%s: switch refused to list its meters (%s); "
                      "assuming it has none", ft->name, reason);
            ft->reading_meters = false;
            read_back_done(ft);
            return true;
        }
        if (xid != ft->request_xid) {
            return false;
        }
        ft->n_errors++;
        set_error(ft, "switch refused to list its flows: %s", reason);
        round_end(ft, false);
        return true;
    }

    struct ft_op *op = find_op(ft, xid);
    const struct meter_op *mop = find_meter_op(ft, xid);
    if (op) {
        ft->n_refused++;
        ft->n_errors++;
        set_error(ft, "switch refused %s of flow %s: %s", op_name(op->type),
                  ft_flow_text(op->flow), reason);
    } else if (mop) {
        char *what = meter_op_to_string(mop);
        ft->n_refused++;
        ft->n_errors++;
        set_error(ft, "switch refused %s: %s", what, reason);
        free(what);
    } else if (ft->use_bundles && xid == ft->open_xid) {
        ft->n_refused++;
        ft->n_errors++;
        set_error(ft, "switch refused to open a bundle: %s", reason);
    } else if (xid == ft->request_xid) {
        /* The commit (the failing flow was reported just before), or,
         * unexpectedly, the barrier. */
        ft->n_refused++;
        if (ft->state == FT_COMMITTING) {
            WEFT_DBG("%s: bundle commit refused: %s", ft->name, reason);
        } else {
            ft->n_errors++;
            set_error(ft, "switch refused a barrier: %s", reason);
        }
        round_end(ft, false);
    } else {
        return false;
    }
    return true;
}

static bool
recv_bundle_control(struct flow_table *ft, const struct ofp_header *oh)
{
    struct ofputil_bundle_ctrl_msg bc;
    if (ofputil_decode_bundle_ctrl(oh, &bc)) {
        return false;
    }
    if (ft->discarding && oh->xid == ft->discard_xid) {
        ft->discarding = false;
        return true;
    }
    if (ft->state == FT_FILLING && oh->xid == ft->open_xid) {
        ft->deadline = time_msec() + ROUND_TIMEOUT_MS;
        return true;
    }
    if (ft->state == FT_COMMITTING && oh->xid == ft->request_xid
        && bc.type == OFPBCT_COMMIT_REPLY) {
        round_end(ft, true);
        return true;
    }
    return false;
}

static void
recv_flow_stats(struct flow_table *ft, const struct ofp_header *oh)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 64);
    ft->deadline = time_msec() + ROUND_TIMEOUT_MS;

    for (;;) {
        struct ofputil_flow_stats fs;
        int retval = ofputil_decode_flow_stats_reply(&fs, &b, false,
                                                     &ofpacts);
        if (retval == EOF) {
            break;
        } else if (retval) {
            ft->n_errors++;
            set_error(ft, "malformed flow stats reply (%s); dropping the "
                      "connection", ofperr_to_string(retval));
            ofpbuf_uninit(&ofpacts);
            rconn_disconnect(ft->rconn);
            return;
        }

        /* The switch filtered on the cookie already. */
        if ((ntohll(fs.cookie) & WEFT_COOKIE_MARK_MASK)
            != WEFT_COOKIE_MARK_VALUE) {
            continue;
        }
        struct ft_flow *f = xzalloc(sizeof *f);
        f->ref_cnt = 1;
        f->table = fs.table_id;
        f->priority = fs.priority;
        minimatch_init(&f->match, &fs.match);
        f->key_hash = key_hash(f->table, f->priority, &f->match);
        f->cookie = fs.cookie;
        f->ofpacts = xmemdup(fs.ofpacts, fs.ofpacts_len);
        f->ofpacts_len = fs.ofpacts_len;
        hmap_insert(&ft->installed, &f->installed_node, f->key_hash);
        ft->n_read++;
    }
    ofpbuf_uninit(&ofpacts);

    if (!ofpmp_more(oh)) {
        ft->reading_flows = false;
        read_back_done(ft);
    }
}

static void
recv_meter_config(struct flow_table *ft, const struct ofp_header *oh)
{
    ft->deadline = time_msec() + ROUND_TIMEOUT_MS;
    int error = meter_set_add_reply(&ft->installed_meters, oh);
    if (error) {
        ft->n_errors++;
        set_error(ft, "malformed meter config reply (%s); dropping the "
                  "connection", ofperr_to_string(error));
        rconn_disconnect(ft->rconn);
        return;
    }
    if (!ofpmp_more(oh)) {
        ft->reading_meters = false;
        read_back_done(ft);
    }
}

static void
recv_barrier(struct flow_table *ft)
{
    ft->deadline = time_msec() + ROUND_TIMEOUT_MS;
    if (ft->state == FT_SENDING) {
        round_end(ft, !ft->n_refused);
    } else if (ft->n_refused) {
        /* Something was left out of the bundle: committing the rest would
         * not be atomic. */
        ft->discard_xid = send_bundle_ctrl(ft, OFPBCT_DISCARD_REQUEST);
        ft->discarding = true;
        round_end(ft, false);
    } else {
        ft->request_xid = send_bundle_ctrl(ft, OFPBCT_COMMIT_REQUEST);
        ft->state = FT_COMMITTING;
    }
}

static void
set_error(struct flow_table *ft, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *msg = xvasprintf(format, args);
    va_end(args);

    WEFT_WARN("%s: %s", ft->name, msg);
    free(ft->last_error);
    ft->last_error = msg;
}

static const char *
ft_state_name(enum ft_state state)
{
    switch (state) {
#define FT_STATE(ENUM, NAME) case FT_##ENUM: return NAME;
        FT_STATES
#undef FT_STATE
    }
    return "unknown";
}
