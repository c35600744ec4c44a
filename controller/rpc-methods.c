/* weftctl's methods: what weftd answers on its RPC socket.
 *
 * Every method takes an array of strings; methods that change the policy
 * also accept a trailing map of options ({"dry_run": true}).  Changes are
 * validated whole before anything is written; then they go to the policy
 * database as one transaction and the reply waits for its outcome.  Errors
 * carry a code (invalid-policy, not-found, busy, unavailable, conflict,
 * not-supported, invalid-params) and, for policy errors, the line and field
 * at fault. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apps.h"
#include "cookie-owner.h"
#include "datapath.h"
#include "doctor.h"
#include "flow-export.h"
#include "flow.h"
#include "host.h"
#include "inventory.h"
#include "mirror-check.h"
#include "mirror-plan.h"
#include "net-sync.h"
#include "openflow.h"
#include "pipeline.h"
#include "policy-db.h"
#include "policy-store.h"
#include "policy.h"
#include "rpc.h"
#include "verify.h"
#include "verify-probe.h"
#include "weftd.h"
#include "xalloc.h"


/* Parameters. */

/* The trailing options map, if any. */
static const msgpack_object *
options_of(const msgpack_object *params)
{
    const msgpack_object_array *a = &params->via.array;
    if (a->size && a->ptr[a->size - 1].type == MSGPACK_OBJECT_MAP) {
        return &a->ptr[a->size - 1];
    }
    return NULL;
}

static size_t
n_string_params(const msgpack_object *params)
{
    return params->via.array.size - (options_of(params) != NULL);
}

static bool
option_bool(const msgpack_object *params, const char *key)
{
    const msgpack_object *options = options_of(params);
    const msgpack_object *v = options ? rpc_map_get(options, key) : NULL;
    return v && v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
}

/* Copies the string parameters into '*argv' (malloc'd strings).  Replies
 * with an error and returns false if one is not a string or the count is
 * outside [min, max]. */
static bool
get_args(struct rpc_request *req, const msgpack_object *params,
         size_t min, size_t max, char ***argvp, size_t *argcp)
{
    size_t n = n_string_params(params);
    if (n < min || n > max) {
        rpc_reply_errorf(req, RPC_E_INVALID_PARAMS, NULL, 0,
                         "%s takes %zu to %zu arguments, not %zu",
                         rpc_request_get_method(req), min, max, n);
        return false;
    }
    char **argv = calloc(n + 1, sizeof *argv);
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *o = &params->via.array.ptr[i];
        if (o->type != MSGPACK_OBJECT_STR) {
            rpc_reply_errorf(req, RPC_E_INVALID_PARAMS, NULL, 0,
                             "argument %zu is %s, not a string", i + 1,
                             rpc_type_name(o));
            for (size_t j = 0; j < i; j++) {
                free(argv[j]);
            }
            free(argv);
            return false;
        }
        argv[i] = rpc_str_dup(o);
    }
    *argvp = argv;
    *argcp = n;
    return true;
}

static void
free_args(char **argv, size_t argc)
{
    for (size_t i = 0; i < argc; i++) {
        free(argv[i]);
    }
    free(argv);
}

static void
reply_policy_error(struct rpc_request *req, const struct policy_error *e,
                   const char *file_name)
{
    char *msg = policy_error_format(e, file_name);
    rpc_reply_error(req, "invalid-policy", msg,
                    e->field[0] ? e->field : NULL, e->line);
    free(msg);
}

/* Policy changes. */

struct change {
    struct weftd *d;
    struct rpc_request *req;
    char *diff;
};

static void
change_done(void *c_, int error, const char *message, int64_t generation)
{
    struct change *c = c_;
    if (error) {
        rpc_reply_error(c->req, error == EAGAIN ? "conflict" : "unavailable",
                        message, NULL, 0);
    } else {
        msgpack_packer *pk = rpc_reply_begin(c->req);
        msgpack_pack_map(pk, 3);
        rpc_pack_kv_int(pk, "generation", generation);
        rpc_pack_kv_string(pk, "changes", c->diff);
        rpc_pack_kv_bool(pk, "dry_run", false);
        rpc_reply_end(c->req);
    }
    free(c->diff);
    free(c);
}

/* Puts 'p' (validated; taken) in force, or with 'dry_run' only says what
 * would change. */
static void
apply_change(struct weftd *d, struct rpc_request *req, struct policy *p,
             bool dry_run, const char *comment)
{
    struct policy_store *ps = &d->policy;

    /* Mirrors also depend on what runs: check new ones against it. */
    const char **hosts = xcalloc(d->n_hosts + 1, sizeof *hosts);
    for (size_t i = 0; i < d->n_hosts; i++) {
        hosts[i] = host_get_name(d->hosts[i]);
    }
    struct policy_error perror;
    int retval = mirror_check_policy(&d->inventory, hosts, d->n_hosts,
                                     ps->current, p, &perror);
    free(hosts);
    if (retval) {
        reply_policy_error(req, &perror, NULL);
        policy_destroy(p);
        return;
    }

    char *diff = policy_diff(ps->current, p);

    if (dry_run || !diff[0]) {
        char *flows = dry_run ? datapath_preview(d, p) : NULL;
        msgpack_packer *pk = rpc_reply_begin(req);
        msgpack_pack_map(pk, 4);
        rpc_pack_kv_int(pk, "generation", ps->generation);
        rpc_pack_kv_string(pk, "changes", diff);
        rpc_pack_kv_bool(pk, "dry_run", dry_run);
        rpc_pack_kv_string(pk, "flow_changes", flows);
        rpc_reply_end(req);
        free(flows);
        policy_destroy(p);
        free(diff);
        return;
    }

    struct change *c = calloc(1, sizeof *c);
    c->d = d;
    c->req = req;
    c->diff = diff;
    int error = policy_store_commit(ps, p, comment, change_done, c);
    if (error) {
        rpc_reply_error(req,
                        error == EBUSY ? RPC_E_BUSY
                        : error == ENOTSUP ? "not-supported"
                        : "unavailable",
                        error == EBUSY
                        ? "another policy change is in progress; try again"
                        : error == ENOTSUP
                        ? "weftd has no policy database (policy-db in its "
                          "configuration)"
                        : "the policy database is not reachable; the policy "
                          "in force is unchanged",
                        NULL, 0);
        free(c->diff);
        free(c);
    }
}

static void
m_set_policy(struct rpc_request *req, const msgpack_object *params, void *d)
{
    char **argv;
    size_t argc;
    if (!get_args(req, params, 1, 2, &argv, &argc)) {
        return;
    }
    const char *file_name = argc > 1 ? argv[1] : "policy";
    struct policy *p;
    struct policy_error error;
    if (policy_parse(argv[0], &p, &error)) {
        reply_policy_error(req, &error, file_name);
    } else {
        char comment[256];
        snprintf(comment, sizeof comment, "set-policy %s", file_name);
        apply_change(d, req, p, option_bool(params, "dry_run"), comment);
    }
    free_args(argv, argc);
}

static void
m_get_policy(struct rpc_request *req, const msgpack_object *params, void *d_)
{
    struct weftd *d = d_;
    (void) params;
    msgpack_packer *pk = rpc_reply_begin(req);
    msgpack_pack_map(pk, 2);
    rpc_pack_kv_int(pk, "generation", d->policy.generation);
    rpc_pack_kv_string(pk, "document", d->policy.document);
    rpc_reply_end(req);
}

/* "segment-add NAME KEY=VALUE...", "group-add ...", "rule-add ...": the
 * arguments form one line of the policy document. */
static void
object_add(struct rpc_request *req, const msgpack_object *params,
           struct weftd *d, const char *kind)
{
    char **argv;
    size_t argc;
    if (!get_args(req, params, 1, 64, &argv, &argc)) {
        return;
    }
    size_t len = 1;
    for (size_t i = 0; i < argc; i++) {
        len += strlen(argv[i]) + 1;
    }
    char *line = calloc(1, len);
    for (size_t i = 0; i < argc; i++) {
        strcat(line, argv[i]);
        if (i + 1 < argc) {
            strcat(line, " ");
        }
    }

    struct policy *p = policy_clone(d->policy.current);
    struct policy_error error;
    if (policy_put_line(p, kind, line, &error)) {
        reply_policy_error(req, &error, NULL);
        policy_destroy(p);
    } else {
        char comment[256];
        snprintf(comment, sizeof comment, "%s-add %.200s", kind, line);
        apply_change(d, req, p, option_bool(params, "dry_run"), comment);
    }
    free(line);
    free_args(argv, argc);
}

static void
object_del(struct rpc_request *req, const msgpack_object *params,
           struct weftd *d, const char *kind)
{
    char **argv;
    size_t argc;
    if (!get_args(req, params, 1, 1, &argv, &argc)) {
        return;
    }
    struct policy *p = policy_clone(d->policy.current);
    struct policy_error error;
    int retval = policy_del(p, kind, argv[0], &error);
    if (retval == ENOENT) {
        rpc_reply_errorf(req, "not-found", "name", 0, "no %s named \"%s\"",
                         kind, argv[0]);
        policy_destroy(p);
    } else if (retval) {
        reply_policy_error(req, &error, NULL);
        policy_destroy(p);
    } else {
        char comment[256];
        snprintf(comment, sizeof comment, "%s-del %.200s", kind, argv[0]);
        apply_change(d, req, p, option_bool(params, "dry_run"), comment);
    }
    free_args(argv, argc);
}

/* The canonical lines of one kind of object, without the kind word. */
static void
object_list(struct rpc_request *req, struct weftd *d, const char *kind)
{
    size_t klen = strlen(kind);
    const char *doc = d->policy.document;
    size_t n = 0;

    for (const char *s = doc; *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1
                                                      : s + strlen(s)) {
        n += !strncmp(s, kind, klen) && s[klen] == ' ';
    }
    msgpack_packer *pk = rpc_reply_begin(req);
    msgpack_pack_array(pk, n);
    for (const char *s = doc; *s; ) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t) (nl - s) : strlen(s);
        if (!strncmp(s, kind, klen) && s[klen] == ' ') {
            msgpack_pack_str_with_body(pk, s + klen + 1, len - klen - 1);
        }
        s += len + (nl != NULL);
    }
    rpc_reply_end(req);
}

/* KIND-add and KIND-del. */
#define OBJECT_EDIT_METHODS(KIND)                                          \
    static void                                                            \
    m_##KIND##_add(struct rpc_request *req, const msgpack_object *params,  \
                   void *d)                                                \
    {                                                                      \
        object_add(req, params, d, #KIND);                                 \
    }                                                                      \
    static void                                                            \
    m_##KIND##_del(struct rpc_request *req, const msgpack_object *params,  \
                   void *d)                                                \
    {                                                                      \
        object_del(req, params, d, #KIND);                                 \
    }
/* The same and KIND-list, the objects' lines. */
#define OBJECT_METHODS(KIND)                                               \
    OBJECT_EDIT_METHODS(KIND)                                              \
    static void                                                            \
    m_##KIND##_list(struct rpc_request *req, const msgpack_object *params, \
                    void *d)                                               \
    {                                                                      \
        (void) params;                                                     \
        object_list(req, d, #KIND);                                        \
    }
OBJECT_METHODS(segment)
OBJECT_METHODS(group)
OBJECT_METHODS(rule)
OBJECT_METHODS(limit)

/* Mirrors and exports have lists of their own, with their state. */
OBJECT_EDIT_METHODS(mirror)
OBJECT_EDIT_METHODS(export)

static const char *
host_or_port(const char *s)
{
    return s ? s : "-";
}

static void
pack_names(msgpack_packer *pk, const char *key, const char **names,
           size_t n)
{
    rpc_pack_key(pk, key);
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        rpc_pack_string(pk, names[i]);
    }
}

/* One mirror's status; with 'details', each host's row too. */
static void
pack_mirror(msgpack_packer *pk, const struct weftd *d,
            const struct mirror_plan *plan, const struct mirror_status *st,
            bool details)
{
    uint64_t packets, bytes;
    size_t n_rows = datapath_mirror_counters(d, plan, st->name, &packets,
                                             &bytes);
    char dest[256];
    snprintf(dest, sizeof dest, "%s/%s", host_or_port(st->dest_host),
             host_or_port(st->dest_port));
    char key[16];
    snprintf(key, sizeof key, "%#"PRIx32, st->key);

    msgpack_pack_map(pk, 9 + details);
    rpc_pack_kv_string(pk, "name", st->name);
    rpc_pack_kv_string(pk, "state", mirror_state_to_string(st->state));
    rpc_pack_kv_string(pk, "detail", st->detail);
    rpc_pack_kv_uint(pk, "sources", st->n_sources);
    rpc_pack_kv_string(pk, "destination", dest);
    rpc_pack_kv_string(pk, "tunnel_key", key);
    rpc_pack_kv_uint(pk, "hosts", n_rows);
    rpc_pack_kv_uint(pk, "tx_packets", packets);
    rpc_pack_kv_uint(pk, "tx_bytes", bytes);
    if (!details) {
        return;
    }
    rpc_pack_key(pk, "rows");
    msgpack_pack_array(pk, n_rows);
    for (size_t i = 0; i < plan->n_rows; i++) {
        const struct mirror_row *r = &plan->rows[i];
        if (r->mirror != st->name) {
            continue;
        }
        uint64_t p = 0, b = 0;
        const char *problem = "host no longer managed";
        const struct host *h = weftd_find_host(d, r->host);
        bool present = h && host_get_mirror_stats(h, st->name, &p, &b,
                                                  &problem);
        msgpack_pack_map(pk, 8);
        rpc_pack_kv_string(pk, "host", r->host);
        pack_names(pk, "select_src", r->select_src, r->n_select_src);
        pack_names(pk, "select_dst", r->select_dst, r->n_select_dst);
        rpc_pack_kv_string(pk, "output", r->output_port);
        rpc_pack_kv_bool(pk, "present", present);
        rpc_pack_kv_string(pk, "problem", present ? "" : problem);
        rpc_pack_kv_uint(pk, "tx_packets", p);
        rpc_pack_kv_uint(pk, "tx_bytes", b);
    }
}

static void
m_mirror_list(struct rpc_request *req, const msgpack_object *params,
              void *d_)
{
    struct weftd *d = d_;
    (void) params;
    struct mirror_plan *plan = datapath_mirror_plan_create(d);
    msgpack_packer *pk = rpc_reply_begin(req);
    msgpack_pack_array(pk, plan->n_mirrors);
    for (size_t i = 0; i < plan->n_mirrors; i++) {
        pack_mirror(pk, d, plan, &plan->mirrors[i], false);
    }
    rpc_reply_end(req);
    mirror_plan_destroy(plan);
}

static void
m_mirror_show(struct rpc_request *req, const msgpack_object *params,
              void *d_)
{
    struct weftd *d = d_;
    char **argv;
    size_t argc;
    if (!get_args(req, params, 1, 1, &argv, &argc)) {
        return;
    }
    struct mirror_plan *plan = datapath_mirror_plan_create(d);
    const struct mirror_status *st = NULL;
    for (size_t i = 0; i < plan->n_mirrors; i++) {
        if (!strcmp(plan->mirrors[i].name, argv[0])) {
            st = &plan->mirrors[i];
        }
    }
    if (!st) {
        rpc_reply_errorf(req, "not-found", "name", 0, "no mirror named "
                         "\"%s\"", argv[0]);
    } else {
        msgpack_packer *pk = rpc_reply_begin(req);
        pack_mirror(pk, d, plan, st, true);
        rpc_reply_end(req);
    }
    mirror_plan_destroy(plan);
    free_args(argv, argc);
}

static void
m_policy_history(struct rpc_request *req, const msgpack_object *params,
                 void *d_)
{
    struct weftd *d = d_;
    struct policy_db_entry *entries = NULL;
    size_t n = d->policy.db ? policy_db_get_history(d->policy.db, &entries)
                            : 0;
    (void) params;

    msgpack_packer *pk = rpc_reply_begin(req);
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(pk, 4);
        rpc_pack_kv_int(pk, "generation", entries[i].generation);
        rpc_pack_kv_int(pk, "created_at_ms", entries[i].created_at);
        rpc_pack_kv_string(pk, "comment", entries[i].comment);
        rpc_pack_kv_bool(pk, "in_force",
                         entries[i].generation == d->policy.generation);
    }
    rpc_reply_end(req);
    free(entries);
}

static void
m_policy_rollback(struct rpc_request *req, const msgpack_object *params,
                  void *d_)
{
    struct weftd *d = d_;
    char **argv;
    size_t argc;
    if (!get_args(req, params, 1, 1, &argv, &argc)) {
        return;
    }
    char *end;
    long long int gen = strtoll(argv[0], &end, 10);
    struct policy_db_entry *entries = NULL;
    size_t n = (*end || !d->policy.db ? 0
                : policy_db_get_history(d->policy.db, &entries));
    const struct policy_db_entry *e = NULL;
    for (size_t i = 0; i < n; i++) {
        if (entries[i].generation == gen) {
            e = &entries[i];
        }
    }
    if (!e) {
        rpc_reply_errorf(req, "not-found", "generation", 0,
                         "no generation \"%s\" in the policy history (see "
                         "policy-history)", argv[0]);
    } else {
        struct policy *p;
        struct policy_error error;
        char name[64];
        snprintf(name, sizeof name, "generation %lld", gen);
        if (policy_parse(e->document, &p, &error)) {
            reply_policy_error(req, &error, name);
        } else {
            char comment[128];
            snprintf(comment, sizeof comment, "rollback to generation %lld",
                     gen);
            apply_change(d, req, p, option_bool(params, "dry_run"), comment);
        }
    }
    free(entries);
    free_args(argv, argc);
}

/* Status. */

static long long int
now_ms(const struct weftd *d)
{
    return (long long int) (ev_now(d->loop) * 1000.0);
}

static void
pack_host(msgpack_packer *pk, const struct weftd *d, const struct host *h,
          long long int now)
{
    struct host_status st;
    char dpid[17];

    host_get_status(h, now, &st);
    snprintf(dpid, sizeof dpid, "%016"PRIx64, st.dpid);
    msgpack_pack_map(pk, 24);
    rpc_pack_kv_string(pk, "name", st.name);
    rpc_pack_kv_string(pk, "state", host_state_to_string(st.state));
    rpc_pack_kv_double(pk, "state_secs", st.state_secs);
    rpc_pack_kv_string(pk, "ovsdb", st.ovsdb_remote);
    rpc_pack_kv_string(pk, "ovsdb_detail", st.ovsdb_detail);
    rpc_pack_kv_string(pk, "bridge", st.bridge);
    rpc_pack_kv_string(pk, "datapath_type", st.datapath_type);
    rpc_pack_kv_string(pk, "datapath_id", dpid);
    rpc_pack_kv_uint(pk, "ports", st.n_ports);
    rpc_pack_kv_string(pk, "openflow", st.openflow_peer);
    rpc_pack_kv_string(pk, "openflow_version", st.openflow_version);
    rpc_pack_kv_string(pk, "tunnel_ip", st.tunnel_ip);
    rpc_pack_kv_string(pk, "libvirt", st.libvirt_uri ? st.libvirt_state
                                                     : NULL);
    rpc_pack_kv_uint(pk, "tunnels", st.n_tunnels);
    rpc_pack_kv_uint(pk, "flows_wanted", st.n_flows_desired);
    rpc_pack_kv_uint(pk, "flows_installed", st.n_flows_installed);
    rpc_pack_kv_bool(pk, "flows_synced", st.flows_synced);
    rpc_pack_kv_uint(pk, "flow_mods", st.n_flow_mods);
    rpc_pack_kv_uint(pk, "meters_wanted", st.n_meters_desired);
    rpc_pack_kv_uint(pk, "meters_installed", st.n_meters_installed);
    rpc_pack_kv_uint(pk, "meter_mods", st.n_meter_mods);
    rpc_pack_kv_string(pk, "flow_error", st.flow_error);
    net_sync_pack_host(pk, d, h);   /* Two entries. */
}

static void
pack_vnic(msgpack_packer *pk, const char *host, const struct inv_vm *vm,
          const struct inv_vnic *v)
{
    msgpack_pack_map(pk, 10);
    rpc_pack_kv_string(pk, "host", host);
    rpc_pack_kv_string(pk, "vm", vm->name);
    rpc_pack_kv_string(pk, "vm_uuid", vm->uuid);
    rpc_pack_kv_string(pk, "tap", v->tap);
    rpc_pack_kv_string(pk, "mac", v->mac[0] ? v->mac : NULL);
    rpc_pack_kv_string(pk, "iface_id", v->iface_id);
    rpc_pack_kv_string(pk, "segment", v->segment);
    rpc_pack_kv_string(pk, "placement", inv_placement_to_string(v->placement));
    rpc_pack_kv_int(pk, "ofport", v->ofport);
    rpc_pack_kv_string(pk, "reason", v->reason);
}

static size_t
count_vnics(const struct inventory *inv, const char *host)
{
    size_t n = 0;
    for (size_t h = 0; h < inv->n_hosts; h++) {
        const struct inv_host *ih = &inv->hosts[h];
        if (host && strcmp(host, ih->name)) {
            continue;
        }
        for (size_t i = 0; i < ih->n_vms; i++) {
            n += ih->vms[i].n_vnics;
        }
    }
    return n;
}

static void
pack_vnics(msgpack_packer *pk, const struct inventory *inv, const char *host)
{
    msgpack_pack_array(pk, count_vnics(inv, host));
    for (size_t h = 0; h < inv->n_hosts; h++) {
        const struct inv_host *ih = &inv->hosts[h];
        if (host && strcmp(host, ih->name)) {
            continue;
        }
        for (size_t i = 0; i < ih->n_vms; i++) {
            for (size_t j = 0; j < ih->vms[i].n_vnics; j++) {
                pack_vnic(pk, ih->name, &ih->vms[i], &ih->vms[i].vnics[j]);
            }
        }
    }
}

static void
pack_hosts(msgpack_packer *pk, const struct weftd *d)
{
    long long int now = now_ms(d);
    msgpack_pack_array(pk, d->n_hosts);
    for (size_t i = 0; i < d->n_hosts; i++) {
        pack_host(pk, d, d->hosts[i], now);
    }
}

static void
pack_counts(msgpack_packer *pk, const struct weftd *d)
{
    size_t by_state[HOST_ERROR + 1] = { 0 };
    for (size_t i = 0; i < d->n_hosts; i++) {
        by_state[host_get_state(d->hosts[i])]++;
    }
    size_t n_vms, n_vnics, n_placed, n_unplaced;
    inventory_count(&d->inventory, &n_vms, &n_vnics, &n_placed,
                    &n_unplaced);

    msgpack_pack_map(pk, 16 + HOST_ERROR + 1);
    rpc_pack_kv_uint(pk, "hosts", d->n_hosts);
    for (int s = 0; s <= HOST_ERROR; s++) {
        char key[32];
        snprintf(key, sizeof key, "hosts_%s", host_state_to_string(s));
        rpc_pack_kv_uint(pk, key, by_state[s]);
    }
    rpc_pack_kv_uint(pk, "vms", n_vms);
    rpc_pack_kv_uint(pk, "vnics", n_vnics);
    rpc_pack_kv_uint(pk, "vnics_placed", n_placed);
    rpc_pack_kv_uint(pk, "vnics_unplaced", n_unplaced);
    rpc_pack_kv_int(pk, "policy_generation", d->policy.generation);
    rpc_pack_kv_bool(pk, "policy_db_connected",
                     policy_store_is_connected(&d->policy));
    rpc_pack_kv_uint(pk, "segments", d->policy.current->n_segments);
    rpc_pack_kv_uint(pk, "rules", d->policy.current->n_rules);
    rpc_pack_kv_uint(pk, "openflow_connections",
                     d->listener ? of_listener_count(d->listener) : 0);
    /* How much work policy and inventory changes caused. */
    const struct datapath_stats *ds = &d->datapath.stats;
    rpc_pack_kv_uint(pk, "recomputes", ds->n_computes);
    rpc_pack_kv_uint(pk, "hosts_recomputed", ds->n_host_computes);
    rpc_pack_kv_uint(pk, "hosts_changed", ds->n_hosts_changed);
    rpc_pack_kv_uint(pk, "hosts_skipped", ds->n_hosts_skipped);
    rpc_pack_kv_uint(pk, "incremental_check_errors", ds->n_check_errors);
    rpc_pack_kv_double(pk, "last_recompute_ms", ds->last_compute_ms);
}

static void
m_ping(struct rpc_request *req, const msgpack_object *params, void *d)
{
    (void) params;
    (void) d;
    msgpack_packer *pk = rpc_reply_begin(req);
    msgpack_pack_map(pk, 2);
    rpc_pack_kv_string(pk, "version", "weftd " WEFT_VERSION);
    rpc_pack_kv_int(pk, "pid", getpid());
    rpc_reply_end(req);
}

static void
m_status(struct rpc_request *req, const msgpack_object *params, void *d)
{
    (void) params;
    msgpack_packer *pk = rpc_reply_begin(req);
    pack_counts(pk, d);
    rpc_reply_end(req);
}

static void
m_doctor(struct rpc_request *req, const msgpack_object *params, void *d_)
{
    struct weftd *d = d_;
    char **argv;
    size_t argc;
    if (!get_args(req, params, 0, 1, &argv, &argc)) {
        return;
    }
    if (argc && !weftd_find_host(d, argv[0])) {
        rpc_reply_errorf(req, "not-found", "host", 0, "no host named "
                         "\"%s\"", argv[0]);
        free_args(argv, argc);
        return;
    }
    struct doctor_finding *v;
    size_t n = doctor_run(d, argc ? argv[0] : NULL, &v);
    msgpack_packer *pk = rpc_reply_begin(req);
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(pk, 5);
        rpc_pack_kv_string(pk, "host", v[i].host);
        rpc_pack_kv_string(pk, "check", v[i].check);
        rpc_pack_kv_string(pk, "severity",
                           doctor_severity_to_string(v[i].severity));
        rpc_pack_kv_string(pk, "message", v[i].message);
        rpc_pack_kv_string(pk, "fix", v[i].fix);
    }
    rpc_reply_end(req);
    doctor_findings_free(v, n);
    free_args(argv, argc);
}

/* Hosts, tunnels, segments and vNICs, for a picture ("weftctl
 * topology"). */
static void
m_topology(struct rpc_request *req, const msgpack_object *params, void *d_)
{
    struct weftd *d = d_;
    const struct policy *p = d->policy.current;
    (void) params;

    msgpack_packer *pk = rpc_reply_begin(req);
    msgpack_pack_map(pk, 4);
    rpc_pack_key(pk, "hosts");
    pack_hosts(pk, d);

    size_t n_tunnels = 0;
    for (size_t i = 0; i < d->n_hosts; i++) {
        for (size_t j = 0; j < d->n_hosts; j++) {
            n_tunnels += (i != j && host_get_tunnel_ofport(
                              d->hosts[i], host_get_name(d->hosts[j])) > 0);
        }
    }
    rpc_pack_key(pk, "tunnels");
    msgpack_pack_array(pk, n_tunnels);
    for (size_t i = 0; i < d->n_hosts; i++) {
        for (size_t j = 0; j < d->n_hosts; j++) {
            const char *peer = host_get_name(d->hosts[j]);
            int ofport = (i != j ? host_get_tunnel_ofport(d->hosts[i], peer)
                          : 0);
            if (ofport > 0) {
                msgpack_pack_map(pk, 3);
                rpc_pack_kv_string(pk, "host", host_get_name(d->hosts[i]));
                rpc_pack_kv_string(pk, "peer", peer);
                rpc_pack_kv_int(pk, "ofport", ofport);
            }
        }
    }

    rpc_pack_key(pk, "segments");
    msgpack_pack_array(pk, p->n_segments);
    for (size_t i = 0; i < p->n_segments; i++) {
        const struct policy_segment *s = &p->segments[i];
        msgpack_pack_map(pk, 4);
        rpc_pack_kv_string(pk, "name", s->name);
        rpc_pack_kv_int(pk, "vlan", s->vlan);
        rpc_pack_kv_int(pk, "vni", s->vni);
        rpc_pack_kv_bool(pk, "isolated", s->isolated);
    }
    rpc_pack_key(pk, "vnics");
    pack_vnics(pk, &d->inventory, NULL);
    rpc_reply_end(req);
}

static void
m_show(struct rpc_request *req, const msgpack_object *params, void *d_)
{
    struct weftd *d = d_;
    (void) params;
    msgpack_packer *pk = rpc_reply_begin(req);
    msgpack_pack_map(pk, 3);
    rpc_pack_key(pk, "counts");
    pack_counts(pk, d);
    rpc_pack_key(pk, "hosts");
    pack_hosts(pk, d);
    rpc_pack_key(pk, "vnics");
    pack_vnics(pk, &d->inventory, NULL);
    rpc_reply_end(req);
}

/* "network-sync [HOST]": Weft's libvirt network, defined or updated
 * now; answered host by host once they have looked (net-sync.h). */
static void
m_network_sync(struct rpc_request *req, const msgpack_object *params,
               void *d_)
{
    struct weftd *d = d_;
    char **argv;
    size_t argc;
    if (get_args(req, params, 0, 1, &argv, &argc)) {
        net_sync_request(d->net_sync, req, argc ? argv[0] : NULL);
        free_args(argv, argc);
    }
}

/* "recompute": every host's flows computed now, none skipped; a host
 * whose flows change is one the incremental compute had left stale. */
static void
m_recompute(struct rpc_request *req, const msgpack_object *params, void *d_)
{
    struct weftd *d = d_;
    char **argv;
    size_t argc, computed, missed;

    if (!get_args(req, params, 0, 0, &argv, &argc)) {
        return;
    }
    free_args(argv, argc);
    if (!datapath_recompute(&d->datapath, d, &computed, &missed)) {
        rpc_reply_error(req, "not-ready", "weftd has not computed any flows "
                        "yet (the policy or the hosts' ports are not known "
                        "yet); try again in a few seconds", NULL, 0);
        return;
    }
    msgpack_packer *pk = rpc_reply_begin(req);
    msgpack_pack_map(pk, 2);
    rpc_pack_kv_uint(pk, "hosts_computed", computed);
    rpc_pack_kv_uint(pk, "hosts_missed", missed);
    rpc_reply_end(req);
}

static void
m_list_hosts(struct rpc_request *req, const msgpack_object *params, void *d)
{
    (void) params;
    msgpack_packer *pk = rpc_reply_begin(req);
    pack_hosts(pk, d);
    rpc_reply_end(req);
}

static void
m_list_ports(struct rpc_request *req, const msgpack_object *params, void *d_)
{
    struct weftd *d = d_;
    char **argv;
    size_t argc;
    if (!get_args(req, params, 0, 1, &argv, &argc)) {
        return;
    }
    if (argc && !inventory_find_host(&d->inventory, argv[0])) {
        rpc_reply_errorf(req, "not-found", "host", 0, "no host named "
                         "\"%s\"", argv[0]);
    } else {
        msgpack_packer *pk = rpc_reply_begin(req);
        pack_vnics(pk, &d->inventory, argc ? argv[0] : NULL);
        rpc_reply_end(req);
    }
    free_args(argv, argc);
}

static void
m_dump_flows(struct rpc_request *req, const msgpack_object *params, void *d_)
{
    struct weftd *d = d_;
    char **argv;
    size_t argc;
    if (!get_args(req, params, 1, 1, &argv, &argc)) {
        return;
    }
    const struct host *h = weftd_find_host(d, argv[0]);
    if (!h) {
        rpc_reply_errorf(req, "not-found", "host", 0, "no host named "
                         "\"%s\"", argv[0]);
        free_args(argv, argc);
        return;
    }
    const struct weft_flow_set *flows = host_get_flows(h);
    msgpack_packer *pk = rpc_reply_begin(req);
    msgpack_pack_array(pk, flows->n);
    for (size_t i = 0; i < flows->n; i++) {
        const struct weft_flow *f = &flows->flows[i];
        char *owner = cookie_owner(d, f->cookie);
        msgpack_pack_map(pk, 6);
        rpc_pack_kv_uint(pk, "table", f->table);
        rpc_pack_kv_uint(pk, "priority", f->priority);
        char cookie[24];
        snprintf(cookie, sizeof cookie, "0x%016llx",
                 (unsigned long long) f->cookie);
        rpc_pack_kv_string(pk, "cookie", cookie);
        rpc_pack_kv_string(pk, "match", f->match);
        rpc_pack_kv_string(pk, "actions", f->actions);
        rpc_pack_kv_string(pk, "owner", owner);
        free(owner);
    }
    rpc_reply_end(req);
    free_args(argv, argc);
}

/* "VM" (its first vNIC) or "VM/TAP" -> host and tap. */
static bool
find_vnic_by_name(const struct weftd *d, const char *spec,
                  const char **host, const char **tap)
{
    const char *slash = strchr(spec, '/');
    size_t vm_len = slash ? (size_t) (slash - spec) : strlen(spec);
    for (size_t i = 0; i < d->n_hosts; i++) {
        const struct host_vm_port *ports;
        size_t n = host_get_vm_ports(d->hosts[i], &ports);
        for (size_t j = 0; j < n; j++) {
            if (strlen(ports[j].vm) == vm_len
                && !strncmp(ports[j].vm, spec, vm_len)
                && (!slash || !strcmp(ports[j].tap, slash + 1))) {
                *host = host_get_name(d->hosts[i]);
                *tap = ports[j].tap;
                return true;
            }
        }
    }
    return false;
}

/* A trace or verify request waiting for the switches' flows. */
struct trace_ctx {
    struct weftd *d;
    struct rpc_request *req;
    char *src_host, *src_tap;   /* verify: the host, or NULL. */
    char *dst_host, *dst_tap;
    int proto, port;
};

static void
trace_ctx_destroy(struct trace_ctx *ctx)
{
    free(ctx->src_host);
    free(ctx->src_tap);
    free(ctx->dst_host);
    free(ctx->dst_tap);
    free(ctx);
}

static void
trace_ready(struct verify_net *net, void *ctx_)
{
    struct trace_ctx *ctx = ctx_;
    struct weftd *d = ctx->d;
    struct pipeline_trace q = {
        .src_host = ctx->src_host, .src_tap = ctx->src_tap,
        .dst_host = ctx->dst_host, .dst_tap = ctx->dst_tap,
        .proto = ctx->proto, .port = ctx->port,
    };
    struct pipeline_plan *plan = datapath_plan_create(d, d->policy.current);
    char *text = NULL, *flows_text = NULL;
    size_t len = 0, flows_len = 0;
    FILE *out = open_memstream(&text, &len);
    bool delivered = pipeline_plan_trace(plan, &q, out);
    fclose(out);

    bool complete;
    out = open_memstream(&flows_text, &flows_len);
    verify_net_format_drift(net, out);
    bool flows_delivered = verify_trace(d, net, plan, &q, out, &complete);
    fclose(out);
    verify_net_destroy(net);
    datapath_plan_destroy(plan);

    msgpack_packer *pk = rpc_reply_begin(ctx->req);
    msgpack_pack_map(pk, 5);
    rpc_pack_kv_bool(pk, "delivered", delivered);
    rpc_pack_kv_string(pk, "explanation", text);
    rpc_pack_kv_bool(pk, "flows_delivered", flows_delivered);
    rpc_pack_kv_bool(pk, "flows_complete", complete);
    rpc_pack_kv_string(pk, "flows", flows_text);
    rpc_reply_end(ctx->req);
    free(text);
    free(flows_text);
    trace_ctx_destroy(ctx);
}

static void
m_trace(struct rpc_request *req, const msgpack_object *params, void *d_)
{
    struct weftd *d = d_;
    char **argv;
    size_t argc;
    if (!get_args(req, params, 2, 3, &argv, &argc)) {
        return;
    }
    struct pipeline_trace q = { .proto = POLICY_PROTO_ICMP };
    const char *bad = NULL;
    if (!find_vnic_by_name(d, argv[0], &q.src_host, &q.src_tap)) {
        bad = argv[0];
    } else if (!find_vnic_by_name(d, argv[1], &q.dst_host, &q.dst_tap)) {
        bad = argv[1];
    }
    if (bad) {
        rpc_reply_errorf(req, "not-found", "vnic", 0, "no placed vNIC "
                         "\"%s\" (VM or VM/TAP; see list-ports)", bad);
        free_args(argv, argc);
        return;
    }
    if (argc > 2) {
        char proto[16];
        int port = 0;
        if (sscanf(argv[2], "%15[a-z0-9]/%d", proto, &port) < 1
            || port < 0 || port > 65535) {
            proto[0] = '\0';
        }
        q.proto = (!strcmp(proto, "tcp") ? POLICY_PROTO_TCP
                   : !strcmp(proto, "udp") ? POLICY_PROTO_UDP
                   : !strcmp(proto, "icmp") ? POLICY_PROTO_ICMP
                   : !strcmp(proto, "icmp6") ? POLICY_PROTO_ICMP6 : -1);
        q.port = port;
        if (q.proto < 0 || (port && q.proto != POLICY_PROTO_TCP
                            && q.proto != POLICY_PROTO_UDP)) {
            rpc_reply_errorf(req, RPC_E_INVALID_PARAMS, "proto", 0,
                             "\"%s\" is not tcp/PORT, udp/PORT, icmp or "
                             "icmp6", argv[2]);
            free_args(argv, argc);
            return;
        }
    }

    struct trace_ctx *ctx = xmalloc(sizeof *ctx);
    *ctx = (struct trace_ctx) {
        .d = d,
        .req = req,
        .src_host = xstrdup(q.src_host), .src_tap = xstrdup(q.src_tap),
        .dst_host = xstrdup(q.dst_host), .dst_tap = xstrdup(q.dst_tap),
        .proto = q.proto,
        .port = q.port,
    };
    free_args(argv, argc);
    verify_net_refresh(d, trace_ready, ctx);
}

static void
verify_ready(struct verify_net *net, void *ctx_)
{
    struct trace_ctx *ctx = ctx_;
    struct weftd *d = ctx->d;
    struct pipeline_plan *plan = datapath_plan_create(d, d->policy.current);
    struct verify_report rep;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    verify_net_format_drift(net, out);
    verify_run(d, net, plan, ctx->src_host, out, &rep);
    fclose(out);
    verify_net_destroy(net);
    datapath_plan_destroy(plan);

    msgpack_packer *pk = rpc_reply_begin(ctx->req);
    msgpack_pack_map(pk, 7);
    rpc_pack_kv_uint(pk, "vnics", rep.n_vnics);
    rpc_pack_kv_uint(pk, "probes_per_pair", rep.n_probes);
    rpc_pack_kv_uint(pk, "checks", rep.n_checks);
    rpc_pack_kv_uint(pk, "mismatches", rep.n_mismatches);
    rpc_pack_kv_uint(pk, "not_checked", rep.n_incomplete);
    rpc_pack_kv_bool(pk, "truncated", rep.truncated);
    rpc_pack_kv_string(pk, "details", text);
    rpc_reply_end(ctx->req);
    free(text);
    trace_ctx_destroy(ctx);
}

static void
probe_done(void *req_, const char *details,
           const struct verify_probe_report *rep)
{
    struct rpc_request *req = req_;
    msgpack_packer *pk = rpc_reply_begin(req);
    msgpack_pack_map(pk, 7);
    rpc_pack_kv_bool(pk, "probe", true);
    rpc_pack_kv_uint(pk, "copies", VERIFY_PROBE_COPIES);
    rpc_pack_kv_uint(pk, "probes", rep->n_probes);
    rpc_pack_kv_uint(pk, "mismatches", rep->n_mismatches);
    rpc_pack_kv_uint(pk, "inconclusive", rep->n_inconclusive);
    rpc_pack_kv_uint(pk, "not_sent", rep->n_not_sent);
    rpc_pack_kv_string(pk, "details", details);
    rpc_reply_end(req);
}

static void
m_verify(struct rpc_request *req, const msgpack_object *params, void *d_)
{
    struct weftd *d = d_;
    char **argv;
    size_t argc;
    if (!get_args(req, params, 0, 1, &argv, &argc)) {
        return;
    }
    const char *host = argc ? argv[0] : NULL;
    if (host && !weftd_find_host(d, host)) {
        rpc_reply_errorf(req, "not-found", "host", 0, "no host named "
                         "\"%s\"", host);
        free_args(argv, argc);
        return;
    }

    if (option_bool(params, "probe")) {
        verify_probe_start(d, host, probe_done, req);
        free_args(argv, argc);
        return;
    }

    struct trace_ctx *ctx = xzalloc(sizeof *ctx);
    ctx->d = d;
    ctx->req = req;
    ctx->src_host = host ? xstrdup(host) : NULL;
    free_args(argv, argc);
    verify_net_refresh(d, verify_ready, ctx);
}

void
rpc_methods_register(struct weftd *d, struct rpc_server *rpc)
{
    static const struct {
        const char *name;
        rpc_handler_func *handler;
    } methods[] = {
        { "ping", m_ping },
        { "status", m_status },
        { "show", m_show },
        { "topology", m_topology },
        { "doctor", m_doctor },
        { "network-sync", m_network_sync },
        { "recompute", m_recompute },
        { "list-hosts", m_list_hosts },
        { "list-ports", m_list_ports },
        { "dump-flows", m_dump_flows },
        { "trace", m_trace },
        { "verify", m_verify },
        { "set-policy", m_set_policy },
        { "get-policy", m_get_policy },
        { "segment-add", m_segment_add },
        { "segment-del", m_segment_del },
        { "segment-list", m_segment_list },
        { "group-add", m_group_add },
        { "group-del", m_group_del },
        { "group-list", m_group_list },
        { "rule-add", m_rule_add },
        { "rule-del", m_rule_del },
        { "rule-list", m_rule_list },
        { "mirror-add", m_mirror_add },
        { "mirror-del", m_mirror_del },
        { "mirror-list", m_mirror_list },
        { "mirror-show", m_mirror_show },
        { "limit-add", m_limit_add },
        { "limit-del", m_limit_del },
        { "limit-list", m_limit_list },
        { "export-add", m_export_add },
        { "export-del", m_export_del },
        { "policy-history", m_policy_history },
        { "policy-rollback", m_policy_rollback },
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        rpc_server_register(rpc, methods[i].name, methods[i].handler, d);
    }
    flow_export_rpc_register(d, rpc);
}
