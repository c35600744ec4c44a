/* The OVS poll-loop API implemented on top of libev (see ovs-loop.h). */
#include <config.h>

#include "ovs-loop.h"

#include <errno.h>
#include <ev.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fatal-signal.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "openvswitch/vlog.h"
#include "ovs-rcu.h"
#include "seq.h"
#include "timeval.h"
#include "util.h"

/* What one thread waits for until its next wake-up: OVS's poll_*() calls
 * record into this. */
struct wait_set {
    struct pollfd *fds;
    size_t n_fds, allocated_fds;
    long long int deadline;         /* time_msec() value, LLONG_MIN = now. */
};

static pthread_key_t wait_set_key;
static pthread_once_t wait_set_once = PTHREAD_ONCE_INIT;

static void
wait_set_free(void *ws_)
{
    struct wait_set *ws = ws_;
    free(ws->fds);
    free(ws);
}

static void
wait_set_key_create(void)
{
    if (pthread_key_create(&wait_set_key, wait_set_free)) {
        abort();
    }
}

static struct wait_set *
wait_set_get(void)
{
    pthread_once(&wait_set_once, wait_set_key_create);
    struct wait_set *ws = pthread_getspecific(wait_set_key);
    if (!ws) {
        ws = xzalloc(sizeof *ws);
        ws->deadline = LLONG_MAX;
        pthread_setspecific(wait_set_key, ws);
    }
    return ws;
}

static void
wait_set_clear(struct wait_set *ws)
{
    ws->n_fds = 0;
    ws->deadline = LLONG_MAX;
}

/* OVS poll-loop API. */

void
poll_fd_wait_at(int fd, short int events, const char *where OVS_UNUSED)
{
    struct wait_set *ws = wait_set_get();

    for (size_t i = 0; i < ws->n_fds; i++) {
        if (ws->fds[i].fd == fd) {
            ws->fds[i].events |= events;
            return;
        }
    }
    if (ws->n_fds >= ws->allocated_fds) {
        ws->fds = x2nrealloc(ws->fds, &ws->allocated_fds, sizeof *ws->fds);
    }
    ws->fds[ws->n_fds++] = (struct pollfd) { .fd = fd, .events = events };
}

void
poll_timer_wait_until_at(long long int when, const char *where OVS_UNUSED)
{
    struct wait_set *ws = wait_set_get();
    if (when < ws->deadline) {
        ws->deadline = when;
    }
}

void
poll_timer_wait_at(long long int msec, const char *where)
{
    long long int now = time_msec();
    long long int when = (msec <= 0 ? LLONG_MIN
                          : msec >= LLONG_MAX - now ? LLONG_MAX
                          : now + msec);
    poll_timer_wait_until_at(when, where);
}

void
poll_immediate_wake_at(const char *where)
{
    poll_timer_wait_until_at(LLONG_MIN, where);
}

/* Blocking version, for threads other than the libev loop's (OVS's RCU
 * thread, mainly).  Same order of work as OVS's own poll_block(). */
void
poll_block(void)
{
    struct wait_set *ws = wait_set_get();

    fatal_signal_wait();
    int timeout;
    if (ws->deadline == LLONG_MAX) {
        timeout = -1;
    } else {
        long long int left = ws->deadline - time_msec();
        timeout = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int) left;
    }

    ovsrcu_quiesce_start();
    int retval;
    do {
        retval = poll(ws->fds, ws->n_fds, timeout);
    } while (retval < 0 && errno == EINTR && timeout < 0);
    ovsrcu_quiesce_end();

    wait_set_clear(ws);
    fatal_signal_run();
    seq_woke();
}

/* The libev side. */

struct hook {
    ovs_loop_hook_func *run;
    ovs_loop_hook_func *wait;
    void *aux;
};

static struct {
    struct ev_loop *loop;
    ev_prepare prepare;
    ev_check check;
    ev_timer timer;
    ev_idle idle;               /* Keeps libev from blocking: "wake now". */
    ev_io *ios;
    size_t n_ios, allocated_ios;

    struct hook *hooks;
    size_t n_hooks, allocated_hooks;
    bool in_hooks;              /* Calling hooks: unregister defers. */
    bool quiescent;

    unsigned long long wakeups;
} ol;

static void
io_cb(struct ev_loop *loop OVS_UNUSED, ev_io *w OVS_UNUSED,
      int revents OVS_UNUSED)
{
    /* Nothing: the check watcher runs the hooks after any wake-up. */
}

static void
timer_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w OVS_UNUSED,
         int revents OVS_UNUSED)
{
}

static void
idle_cb(struct ev_loop *loop OVS_UNUSED, ev_idle *w OVS_UNUSED,
        int revents OVS_UNUSED)
{
}

static void
call_hooks(bool run)
{
    ol.in_hooks = true;
    /* Index loop: a hook may register further hooks (appended). */
    for (size_t i = 0; i < ol.n_hooks; i++) {
        struct hook *h = &ol.hooks[i];
        ovs_loop_hook_func *f = run ? h->run : h->wait;
        if (f) {
            f(h->aux);
        }
    }
    ol.in_hooks = false;

    /* Drop hooks unregistered while we were iterating. */
    size_t n = 0;
    for (size_t i = 0; i < ol.n_hooks; i++) {
        if (ol.hooks[i].run || ol.hooks[i].wait) {
            ol.hooks[n++] = ol.hooks[i];
        }
    }
    ol.n_hooks = n;
}

/* Just before libev blocks: collect the OVS modules' waits and arm
 * watchers for them. */
static void
prepare_cb(struct ev_loop *loop, ev_prepare *w OVS_UNUSED,
           int revents OVS_UNUSED)
{
    struct wait_set *ws = wait_set_get();

    call_hooks(false);
    fatal_signal_wait();

    /* fds are re-armed every time: OVS closes and reopens sockets, and an
     * fd number can be reused by another socket in between. */
    if (ws->n_fds > ol.allocated_ios) {
        ol.ios = xrealloc(ol.ios, ws->n_fds * sizeof *ol.ios);
        ol.allocated_ios = ws->n_fds;
    }
    ol.n_ios = ws->n_fds;
    for (size_t i = 0; i < ws->n_fds; i++) {
        int events = ((ws->fds[i].events & POLLIN ? EV_READ : 0)
                      | (ws->fds[i].events & POLLOUT ? EV_WRITE : 0));
        ev_io_init(&ol.ios[i], io_cb, ws->fds[i].fd, events ? events
                   : EV_READ);
        ev_io_start(loop, &ol.ios[i]);
    }

    if (ws->deadline == LLONG_MIN || ws->deadline <= time_msec()) {
        ev_idle_start(loop, &ol.idle);
    } else if (ws->deadline != LLONG_MAX) {
        double secs = (ws->deadline - time_msec()) / 1000.0;
        ev_timer_set(&ol.timer, secs, 0.);
        ev_timer_start(loop, &ol.timer);
    }

    ovsrcu_quiesce_start();
    ol.quiescent = true;
}

static void
disarm(struct ev_loop *loop)
{
    if (ol.quiescent) {
        ovsrcu_quiesce_end();
        ol.quiescent = false;
    }
    for (size_t i = 0; i < ol.n_ios; i++) {
        ev_io_stop(loop, &ol.ios[i]);
    }
    ol.n_ios = 0;
    ev_timer_stop(loop, &ol.timer);
    ev_idle_stop(loop, &ol.idle);
    wait_set_clear(wait_set_get());
}

/* Right after libev wakes up, before any other watcher's callback. */
static void
check_cb(struct ev_loop *loop, ev_check *w OVS_UNUSED,
         int revents OVS_UNUSED)
{
    disarm(loop);
    fatal_signal_run();
    seq_woke();                 /* Or seq-based wake-ups are lost. */

    ol.wakeups++;
    call_hooks(true);
}

void
ovs_loop_init(struct ev_loop *loop, const char *program_name)
{
    set_program_name(program_name);
    vlog_set_pattern(VLF_CONSOLE, "%D{%Y-%m-%dT%H:%M:%S.###Z}|ovs-%c|%p|%m");
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_WARN);
    vlog_set_levels(NULL, VLF_SYSLOG, VLL_OFF);

    ol.loop = loop;
    ev_prepare_init(&ol.prepare, prepare_cb);
    ev_set_priority(&ol.prepare, EV_MINPRI);
    ev_prepare_start(loop, &ol.prepare);

    ev_check_init(&ol.check, check_cb);
    ev_set_priority(&ol.check, EV_MAXPRI);
    ev_check_start(loop, &ol.check);

    ev_init(&ol.timer, timer_cb);
    ev_idle_init(&ol.idle, idle_cb);

    /* prepare/check must not keep the loop alive by themselves. */
    ev_unref(loop);
    ev_unref(loop);
}

void
ovs_loop_register(ovs_loop_hook_func *run, ovs_loop_hook_func *wait,
                  void *aux)
{
    if (ol.n_hooks >= ol.allocated_hooks) {
        ol.hooks = x2nrealloc(ol.hooks, &ol.allocated_hooks,
                              sizeof *ol.hooks);
    }
    ol.hooks[ol.n_hooks++] = (struct hook) { run, wait, aux };
}

void
ovs_loop_unregister(ovs_loop_hook_func *run, ovs_loop_hook_func *wait,
                    void *aux)
{
    for (size_t i = 0; i < ol.n_hooks; i++) {
        struct hook *h = &ol.hooks[i];
        if (h->run == run && h->wait == wait && h->aux == aux) {
            if (ol.in_hooks) {
                h->run = h->wait = NULL;    /* Removed after the pass. */
            } else {
                memmove(h, h + 1, (ol.n_hooks - i - 1) * sizeof *h);
                ol.n_hooks--;
            }
            return;
        }
    }
}

void
ovs_loop_request_run(void)
{
    poll_immediate_wake();
}

void
ovs_loop_set_ovs_log_level(const char *level)
{
    enum vlog_level lvl = vlog_get_level_val(level);
    if (lvl != -1) {
        vlog_set_levels(NULL, VLF_CONSOLE, lvl);
    } else if (!strcmp(level, "off")) {
        vlog_set_levels(NULL, VLF_CONSOLE, VLL_OFF);
    }
}

unsigned long long
ovs_loop_get_wakeups(void)
{
    return ol.wakeups;
}

void
ovs_loop_destroy(void)
{
    if (!ol.loop) {
        return;
    }
    disarm(ol.loop);
    ev_ref(ol.loop);
    ev_ref(ol.loop);
    ev_prepare_stop(ol.loop, &ol.prepare);
    ev_check_stop(ol.loop, &ol.check);
    free(ol.ios);
    free(ol.hooks);
    memset(&ol, 0, sizeof ol);
}
