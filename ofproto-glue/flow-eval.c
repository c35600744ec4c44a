/* An offline evaluator of OpenFlow tables (see flow-eval.h). */
#include <config.h>

#include "flow-eval.h"

#include <inttypes.h>
#include <netinet/icmp6.h>
#include <string.h>

#include "classifier.h"
#include "dp-packet.h"
#include "lib/flow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-flow.h"
#include "packets.h"
#include "util.h"

#include "flow.h"

/* Deeper than any pipeline Weft makes: resubmit loops end here. */
#define MAX_DEPTH 64

struct fe_rule {
    struct cls_rule cr;
    const struct flow_eval_rule *r;
};

struct flow_eval {
    struct classifier tables[256];
    bool used[256];
    struct fe_rule *rules;
    size_t n_rules;

    /* Copies of the rules given, with their matches and actions. */
    struct flow_eval_rule *copies;
    size_t n_copies;
};

static void
copy_rule(struct flow_eval_rule *dst, const struct flow_eval_rule *src)
{
    struct minimatch *match = xmalloc(sizeof *match);
    minimatch_clone(match, src->match);
    *dst = *src;
    dst->match = match;
    dst->ofpacts = xmemdup(src->ofpacts, src->ofpacts_len);
}

static void
free_rule(struct flow_eval_rule *r)
{
    struct minimatch *match = CONST_CAST(struct minimatch *, r->match);
    minimatch_destroy(match);
    free(match);
    free(CONST_CAST(struct ofpact *, r->ofpacts));
}

/* A rule whose actions are all conjunction(): a clause of conjunctive
 * matches.  Returns how many, stored in '*conjsp' (caller frees). */
static size_t
get_conjunctions(const struct flow_eval_rule *r,
                 struct cls_conjunction **conjsp)
{
    size_t n = 0;
    const struct ofpact *a;

    *conjsp = NULL;
    OFPACT_FOR_EACH (a, r->ofpacts, r->ofpacts_len) {
        if (a->type != OFPACT_CONJUNCTION) {
            free(*conjsp);
            *conjsp = NULL;
            return 0;
        }
        const struct ofpact_conjunction *c = ofpact_get_CONJUNCTION(a);
        *conjsp = xrealloc(*conjsp, (n + 1) * sizeof **conjsp);
        (*conjsp)[n++] = (struct cls_conjunction) {
            .id = c->id,
            .clause = c->clause,
            .n_clauses = c->n_clauses,
        };
    }
    return n;
}

struct flow_eval *
flow_eval_create(const struct flow_eval_rule *rules, size_t n)
{
    struct flow_eval *fe = xzalloc(sizeof *fe);

    fe->copies = xcalloc(n ? n : 1, sizeof *fe->copies);
    for (size_t i = 0; i < n; i++) {
        copy_rule(&fe->copies[i], &rules[i]);
    }
    fe->n_copies = n;

    fe->rules = xcalloc(n ? n : 1, sizeof *fe->rules);
    for (size_t i = 0; i < n; i++) {
        const struct flow_eval_rule *r = &fe->copies[i];
        struct fe_rule *rule = &fe->rules[fe->n_rules];
        if (!fe->used[r->table]) {
            classifier_init(&fe->tables[r->table], NULL);
            fe->used[r->table] = true;
        }
        rule->r = r;
        cls_rule_init_from_minimatch(&rule->cr, r->match, r->priority);

        struct cls_conjunction *conjs;
        size_t n_conjs = get_conjunctions(r, &conjs);
        if (classifier_find_rule_exactly(&fe->tables[r->table], &rule->cr,
                                         OVS_VERSION_MAX)) {
            /* A switch holds one flow per table, priority and match. */
            cls_rule_destroy(&rule->cr);
        } else {
            classifier_insert(&fe->tables[r->table], &rule->cr,
                              OVS_VERSION_MIN, conjs, n_conjs);
            fe->n_rules++;
        }
        free(conjs);
    }
    return fe;
}

void
flow_eval_destroy(struct flow_eval *fe)
{
    if (!fe) {
        return;
    }
    for (size_t i = 0; i < fe->n_rules; i++) {
        struct fe_rule *rule = &fe->rules[i];
        classifier_remove_assert(&fe->tables[rule->r->table], &rule->cr);
    }
    for (size_t t = 0; t < 256; t++) {
        if (fe->used[t]) {
            classifier_destroy(&fe->tables[t]);
        }
    }
    for (size_t i = 0; i < fe->n_rules; i++) {
        cls_rule_destroy(&fe->rules[i].cr);
    }
    free(fe->rules);
    for (size_t i = 0; i < fe->n_copies; i++) {
        free_rule(&fe->copies[i]);
    }
    free(fe->copies);
    free(fe);
}

struct flow_eval *
flow_eval_create_from_flows(const struct weft_flow *flows, size_t n,
                            char **errorp)
{
    struct flow_eval_rule *rules = xcalloc(n ? n : 1, sizeof *rules);
    size_t n_rules = 0;

    *errorp = NULL;
    for (size_t i = 0; i < n && !*errorp; i++) {
        const struct weft_flow *wf = &flows[i];
        char *text = xasprintf("table=%"PRIu8",priority=%"PRIu16
                               ",cookie=%#"PRIx64",%s%sactions=%s",
                               wf->table, wf->priority, wf->cookie,
                               wf->match, *wf->match ? "," : "",
                               wf->actions);
        struct ofputil_flow_mod fm;
        enum ofputil_protocol usable;
        char *error = parse_ofp_flow_mod_str(&fm, text, NULL, NULL,
                                             OFPFC_ADD, &usable);
        if (error) {
            *errorp = xasprintf("%s: %s", text, error);
            free(error);
        } else {
            struct minimatch *match = xmalloc(sizeof *match);
            minimatch_move(match, &fm.match);
            rules[n_rules++] = (struct flow_eval_rule) {
                .table = wf->table,
                .priority = wf->priority,
                .cookie = wf->cookie,
                .match = match,
                .ofpacts = fm.ofpacts,
                .ofpacts_len = fm.ofpacts_len,
            };
        }
        free(text);
    }

    struct flow_eval *fe = *errorp ? NULL : flow_eval_create(rules, n_rules);
    for (size_t i = 0; i < n_rules; i++) {
        free_rule(&rules[i]);
    }
    free(rules);
    return fe;
}

/* Running. */

struct fe_ctx {
    const struct flow_eval *fe;
    const struct flow_eval_packet *packet;
    struct flow flow;
    flow_eval_step_cb *step;
    void *aux;
    struct flow_eval_result *result;
    size_t allocated_outputs, allocated_cookies;
};

static void
report(struct fe_ctx *ctx, uint64_t cookie, struct ds *s)
{
    if (ctx->step) {
        ctx->step(ctx->aux, cookie, ds_cstr(s));
    }
    ds_destroy(s);
}

static void
stop(struct fe_ctx *ctx, char *problem)
{
    if (!ctx->result->problem) {
        ctx->result->problem = problem;
    } else {
        free(problem);
    }
}

static void
add_output(struct fe_ctx *ctx, ofp_port_t port)
{
    struct flow_eval_result *r = ctx->result;
    if (port == OFPP_CONTROLLER) {
        r->to_controller = true;
        return;
    }
    if (r->n_outputs >= ctx->allocated_outputs) {
        r->outputs = x2nrealloc(r->outputs, &ctx->allocated_outputs,
                                sizeof *r->outputs);
    }
    r->outputs[r->n_outputs++] = (struct flow_eval_output) {
        .port = (OVS_FORCE uint16_t) port,
        .tun_id = ntohll(ctx->flow.tunnel.tun_id),
    };
}

static void eval_table(struct fe_ctx *, uint8_t table, int depth);

/* Executes 'ofpacts'; tables to go on with come after the action list, as
 * the switch does (goto_table last, ct's recirculation after). */
static void
execute(struct fe_ctx *ctx, const struct ofpact *ofpacts, size_t len,
        int depth)
{
    int goto_table = -1;
    int recirc_table = -1;
    const struct ofpact *a;

    OFPACT_FOR_EACH (a, ofpacts, len) {
        switch (a->type) {
        case OFPACT_OUTPUT:
            add_output(ctx, ofpact_get_OUTPUT(a)->port);
            break;
        case OFPACT_CONTROLLER:
            ctx->result->to_controller = true;
            break;
        case OFPACT_SET_FIELD: {
            const struct ofpact_set_field *sf = ofpact_get_SET_FIELD(a);
            mf_set_flow_value_masked(sf->field, sf->value,
                                     ofpact_set_field_mask(sf), &ctx->flow);
            break;
        }
        case OFPACT_RESUBMIT: {
            const struct ofpact_resubmit *rs = ofpact_get_RESUBMIT(a);
            ofp_port_t in_port = ctx->flow.in_port.ofp_port;
            if (rs->in_port != OFPP_IN_PORT) {
                ctx->flow.in_port.ofp_port = rs->in_port;
            }
            eval_table(ctx, rs->table_id, depth + 1);
            ctx->flow.in_port.ofp_port = in_port;
            break;
        }
        case OFPACT_GOTO_TABLE:
            goto_table = ofpact_get_GOTO_TABLE(a)->table_id;
            break;
        case OFPACT_CT: {
            const struct ofpact_conntrack *ct = ofpact_get_CT(a);
            if (ct->flags & NX_CT_F_COMMIT) {
                ctx->result->committed = true;
            }
            if (ct->recirc_table != NX_CT_RECIRC_NONE) {
                ctx->flow.ct_state = (CS_TRACKED
                                      | (ctx->packet->ct_established
                                         ? CS_ESTABLISHED : CS_NEW));
                ctx->flow.ct_zone = ct->zone_imm;
                recirc_table = ct->recirc_table;
            }
            break;
        }
        case OFPACT_PUSH_VLAN:
            ctx->flow.vlans[0].tpid = ofpact_get_PUSH_VLAN(a)->ethertype;
            ctx->flow.vlans[0].tci = htons(VLAN_CFI);
            break;
        case OFPACT_STRIP_VLAN:
            memset(&ctx->flow.vlans[0], 0, sizeof ctx->flow.vlans[0]);
            break;
        case OFPACT_METER:
        case OFPACT_NOTE:
        case OFPACT_SAMPLE:
        case OFPACT_CONJUNCTION:
            break;
        default:
            stop(ctx, xasprintf("action %s is not evaluated",
                                ofpact_name(a->type)));
            return;
        }
    }
    if (goto_table >= 0) {
        eval_table(ctx, goto_table, depth + 1);
    }
    if (recirc_table >= 0) {
        eval_table(ctx, recirc_table, depth + 1);
    }
}

static void
eval_table(struct fe_ctx *ctx, uint8_t table, int depth)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    if (depth > MAX_DEPTH) {
        stop(ctx, xasprintf("more than %d tables deep: a resubmit loop?",
                            MAX_DEPTH));
        return;
    }
    const struct cls_rule *cr = (ctx->fe->used[table]
                                 ? classifier_lookup(&ctx->fe->tables[table],
                                                     OVS_VERSION_MAX,
                                                     &ctx->flow, NULL)
                                 : NULL);
    if (!cr) {
        ds_put_format(&s, "table %"PRIu8": no flow matches: dropped", table);
        report(ctx, 0, &s);
        return;
    }

    const struct fe_rule *rule = CONTAINER_OF(cr, struct fe_rule, cr);
    const struct flow_eval_rule *r = rule->r;
    struct flow_eval_result *res = ctx->result;
    if (res->n_cookies >= ctx->allocated_cookies) {
        res->cookies = x2nrealloc(res->cookies, &ctx->allocated_cookies,
                                  sizeof *res->cookies);
    }
    res->cookies[res->n_cookies++] = r->cookie;

    ds_put_format(&s, "table %"PRIu8": priority %"PRIu16", ", table,
                  r->priority);
    size_t start = s.length;
    minimatch_format(r->match, NULL, NULL, &s, OFP_DEFAULT_PRIORITY);
    if (s.length == start) {
        ds_put_cstr(&s, "(any)");
    }
    ds_put_cstr(&s, " -> ");
    if (r->ofpacts_len) {
        struct ofpact_format_params fp = { .s = &s };
        ofpacts_format(r->ofpacts, r->ofpacts_len, &fp);
    } else {
        ds_put_cstr(&s, "drop");
    }
    report(ctx, r->cookie, &s);
    execute(ctx, r->ofpacts, r->ofpacts_len, depth);
}

/* The flow of 'p' as the switch extracts it from the packet. */
static void
packet_to_flow(const struct flow_eval_packet *p, struct flow *flow)
{
    memset(flow, 0, sizeof *flow);
    flow->in_port.ofp_port = (OVS_FORCE ofp_port_t) p->in_port;
    if (p->tun_id) {
        flow->tunnel.tun_id = htonll(p->tun_id);
        flow->tunnel.flags = FLOW_TNL_F_KEY;
    }
    memcpy(flow->dl_src.ea, p->dl_src, 6);
    memcpy(flow->dl_dst.ea, p->dl_dst, 6);
    flow->nw_ttl = 64;
    if (p->ipv6) {
        flow->dl_type = htons(ETH_TYPE_IPV6);
        memcpy(&flow->ipv6_src, p->nw_src, 16);
        memcpy(&flow->ipv6_dst, p->nw_dst, 16);
    } else {
        flow->dl_type = htons(ETH_TYPE_IP);
        memcpy(&flow->nw_src, p->nw_src, 4);
        memcpy(&flow->nw_dst, p->nw_dst, 4);
    }
    switch (p->proto) {
    case FLOW_EVAL_ICMP:
        flow->nw_proto = p->ipv6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
        /* ICMP type and code live in tp_src and tp_dst. */
        flow->tp_src = htons(p->ipv6 ? ICMP6_ECHO_REQUEST
                             : ICMP4_ECHO_REQUEST);
        break;
    case FLOW_EVAL_TCP:
        flow->nw_proto = IPPROTO_TCP;
        flow->tp_src = htons(p->tp_src);
        flow->tp_dst = htons(p->tp_dst);
        flow->tcp_flags = htons(TCP_SYN);
        break;
    case FLOW_EVAL_UDP:
        flow->nw_proto = IPPROTO_UDP;
        flow->tp_src = htons(p->tp_src);
        flow->tp_dst = htons(p->tp_dst);
        break;
    }
}

void
flow_eval_run(const struct flow_eval *fe, const struct flow_eval_packet *p,
              flow_eval_step_cb *step, void *aux,
              struct flow_eval_result *result)
{
    struct fe_ctx ctx = {
        .fe = fe,
        .packet = p,
        .step = step,
        .aux = aux,
        .result = result,
    };

    memset(result, 0, sizeof *result);
    packet_to_flow(p, &ctx.flow);
    eval_table(&ctx, 0, 0);
}

void *
flow_eval_packet_compose(const struct flow_eval_packet *p, size_t *len)
{
    static const char payload[] = "weft verify --probe";
    struct flow flow;
    struct dp_packet packet;

    packet_to_flow(p, &flow);
    dp_packet_init(&packet, 128);
    flow_compose(&packet, &flow, payload, sizeof payload);
    *len = dp_packet_size(&packet);
    void *data = xmemdup(dp_packet_data(&packet), *len);
    dp_packet_uninit(&packet);
    return data;
}

void
flow_eval_result_destroy(struct flow_eval_result *r)
{
    if (r) {
        free(r->outputs);
        free(r->cookies);
        free(r->problem);
        memset(r, 0, sizeof *r);
    }
}
