/* flow-table-driver: the flow reconciler (ofproto-glue/flow-table.c) on its
 * own, for test-flow-table.sh.
 *
 * Listens for OpenFlow connections like weftd, and gives the first switch
 * that identifies itself the flows of FLOWFILE, one per line:
 *
 *     TABLE PRIORITY COOKIE | MATCH | ACTIONS
 *
 * ("#" starts a comment line).  SIGHUP reads FLOWFILE again and gives the
 * switch the new set.  A switch that reconnects gets the current set again.
 * Every event is one line on stdout, e.g.
 *
 *     reconciled round=2 synced=1 desired=200 invalid=0 installed=200 ...
 *
 * Log messages go to stderr. */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "log.h"
#include "openflow.h"
#include "ovs-loop.h"

WEFT_LOG_MODULE(flow_table_driver);

struct driver {
    struct ev_loop *loop;
    const char *flow_file;
    struct weft_flow *flows;
    size_t n_flows;
    struct of_listener *listener;
    struct of_switch *sw;           /* The switch in use, or NULL. */
    ev_tstamp applied;              /* When the flows were last given. */
    ev_signal sighup, sigterm, sigint;
};

static void
free_flows(struct driver *d)
{
    for (size_t i = 0; i < d->n_flows; i++) {
        free(d->flows[i].match);
        free(d->flows[i].actions);
    }
    free(d->flows);
    d->flows = NULL;
    d->n_flows = 0;
}

static char *
trim(char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t len = strlen(s);
    while (len && strchr(" \t\r\n", s[len - 1])) {
        s[--len] = '\0';
    }
    return s;
}

static char *
xstrdup_(const char *s)
{
    char *copy = strdup(s);
    if (!copy) {
        abort();
    }
    return copy;
}

/* Reads 'd->flow_file'.  Returns 0, or -1 after logging why not. */
static int
read_flows(struct driver *d)
{
    FILE *f = fopen(d->flow_file, "r");
    if (!f) {
        WEFT_ERR("%s: %s", d->flow_file, strerror(errno));
        return -1;
    }

    struct weft_flow *flows = NULL;
    size_t n = 0, allocated = 0;
    char *line = NULL;
    size_t line_size = 0;
    int line_no = 0;
    int error = 0;
    while (getline(&line, &line_size, f) > 0) {
        line_no++;
        char *s = trim(line);
        if (!*s || *s == '#') {
            continue;
        }
        char *bar1 = strchr(s, '|');
        char *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
        unsigned int table, priority;
        char cookie_s[32];
        if (!bar2 || sscanf(s, "%u %u %31s", &table, &priority,
                            cookie_s) != 3
            || table > 255 || priority > 65535) {
            WEFT_ERR("%s:%d: expected \"TABLE PRIORITY COOKIE | MATCH | "
                     "ACTIONS\"", d->flow_file, line_no);
            error = -1;
            break;
        }
        *bar1 = *bar2 = '\0';
        if (n >= allocated) {
            allocated = allocated ? 2 * allocated : 64;
            flows = realloc(flows, allocated * sizeof *flows);
            if (!flows) {
                abort();
            }
        }
        flows[n++] = (struct weft_flow) {
            .table = table,
            .priority = priority,
            .cookie = strtoull(cookie_s, NULL, 0),
            .match = xstrdup_(trim(bar1 + 1)),
            .actions = xstrdup_(trim(bar2 + 1)),
        };
    }
    free(line);
    fclose(f);

    free_flows(d);
    d->flows = flows;
    d->n_flows = n;
    if (error) {
        free_flows(d);
    }
    return error;
}

static void
apply_flows(struct driver *d)
{
    d->applied = ev_time();
    of_switch_set_flows(d->sw, d->flows, d->n_flows);
    ovs_loop_request_run();
    printf("applied flows=%zu\n", d->n_flows);
}

static void *
switch_up(void *d_, struct of_switch *sw, uint64_t dpid)
{
    struct driver *d = d_;
    if (d->sw) {
        WEFT_WARN("%s: already driving %s; refused", of_switch_get_peer(sw),
                  of_switch_get_peer(d->sw));
        return NULL;
    }
    d->sw = sw;
    printf("connected dpid=%016"PRIx64" version=%s\n", dpid,
           of_switch_get_version(sw));
    apply_flows(d);
    return d;
}

static void
switch_down(void *d_, struct of_switch *sw)
{
    struct driver *d = d_;
    if (d->sw == sw) {
        d->sw = NULL;
        printf("disconnected\n");
    }
}

static void
flows_reconciled(void *d_, struct of_switch *sw)
{
    struct driver *d = d_;
    struct of_switch_flow_stats st;
    of_switch_get_flow_stats(sw, &st);
    printf("reconciled round=%llu synced=%d desired=%u invalid=%u "
           "installed=%u flow_mods=%llu bundles=%llu errors=%llu "
           "round_ms=%u apply_ms=%.0f last_error=%s\n",
           st.n_rounds, st.synced, st.n_desired, st.n_invalid,
           st.n_installed, st.n_flow_mods, st.n_bundles, st.n_errors,
           st.last_round_ms, (ev_time() - d->applied) * 1000.0,
           st.last_error ? st.last_error : "none");
}

static const struct of_listener_callbacks listener_cbs = {
    .switch_up = switch_up,
    .switch_down = switch_down,
    .flows_reconciled = flows_reconciled,
};

static void
driver_run(void *d_)
{
    struct driver *d = d_;
    of_listener_run(d->listener);
}

static void
driver_wait(void *d_)
{
    struct driver *d = d_;
    of_listener_wait(d->listener);
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct driver *d = w->data;
    (void) revents;

    if (w->signum != SIGHUP) {
        ev_break(loop, EVBREAK_ALL);
    } else if (!read_flows(d)) {
        printf("reloaded flows=%zu\n", d->n_flows);
        if (d->sw) {
            apply_flows(d);
        }
    }
}

int
main(int argc, char *argv[])
{
    static const struct option long_options[] = {
        { "listen", required_argument, NULL, 'l' },
        { "verbose", no_argument, NULL, 'v' },
        { NULL, 0, NULL, 0 },
    };
    struct driver d = { .flow_file = NULL };
    const char *target = "ptcp:6653:127.0.0.1";

    for (;;) {
        int c = getopt_long(argc, argv, "l:v", long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case 'l': target = optarg; break;
        case 'v': weft_log_threshold = WEFT_LOG_DBG; break;
        default:
            fprintf(stderr, "usage: %s [--listen=ptcp:PORT[:IP]] "
                    "[--verbose] FLOWFILE\n", argv[0]);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: %s [--listen=ptcp:PORT[:IP]] [--verbose] "
                "FLOWFILE\n", argv[0]);
        return 2;
    }
    d.flow_file = argv[optind];
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (read_flows(&d)) {
        return 1;
    }

    signal(SIGPIPE, SIG_IGN);
    d.loop = ev_default_loop(EVFLAG_AUTO);
    ev_signal_init(&d.sighup, signal_cb, SIGHUP);
    ev_signal_init(&d.sigterm, signal_cb, SIGTERM);
    ev_signal_init(&d.sigint, signal_cb, SIGINT);
    d.sighup.data = d.sigterm.data = d.sigint.data = &d;
    ev_signal_start(d.loop, &d.sighup);
    ev_signal_start(d.loop, &d.sigterm);
    ev_signal_start(d.loop, &d.sigint);

    ovs_loop_init(d.loop, argv[0]);
    ovs_loop_set_ovs_log_level("warn");
    int error = of_listener_create(target, &listener_cbs, &d, &d.listener);
    if (error) {
        WEFT_ERR("%s: cannot listen: %s", target, strerror(error));
        return 1;
    }
    printf("listening on %s flows=%zu\n", target, d.n_flows);
    ovs_loop_register(driver_run, driver_wait, &d);

    ev_run(d.loop, 0);

    ovs_loop_unregister(driver_run, driver_wait, &d);
    of_listener_destroy(d.listener);
    ovs_loop_destroy();
    free_flows(&d);
    printf("exiting\n");
    return 0;
}
