/* Runs the Open vSwitch library on weftd's libev loop.
 *
 * OVS modules (ovsdb-idl, rconn, stream, unixctl) are written for OVS's own
 * poll loop: each iteration calls every module's x_run(), then x_wait() to
 * record the fds and deadlines it waits for, then poll_block().  weftd has
 * one libev loop instead, so this module provides OVS's poll_*() entry points
 * itself (the original poll-loop.o is removed from the archive by
 * tools/build-ovs) and turns the recorded waits into libev watchers:
 *
 *   - an ev_prepare watcher (run just before libev blocks) calls every
 *     registered wait hook and arms one ev_io per recorded fd plus one
 *     ev_timer for the earliest deadline;
 *   - an ev_check watcher (run right after libev wakes up) disarms them and
 *     calls every registered run hook.
 *
 * Only the loop thread is driven this way; OVS helper threads that call
 * poll_block() (the RCU thread) get a plain blocking poll().
 *
 * The rest of weftd registers its OVS-facing modules here and never includes
 * OVS headers. */
#ifndef WEFT_OVS_LOOP_H
#define WEFT_OVS_LOOP_H 1

struct ev_loop;

typedef void ovs_loop_hook_func(void *aux);

/* Initializes the OVS library for a program called 'program_name' and
 * attaches it to 'loop'.  Call once, after the program's own ev_signal
 * watchers are started (OVS then leaves those signals alone) and before any
 * other OVS-facing call. */
void ovs_loop_init(struct ev_loop *loop, const char *program_name);

/* Adds a module: 'run' is called after every wake-up of the loop, 'wait'
 * before every sleep (it must register what it waits for with the OVS
 * library, e.g. by calling ovsdb_idl_wait()). */
void ovs_loop_register(ovs_loop_hook_func *run, ovs_loop_hook_func *wait,
                       void *aux);
void ovs_loop_unregister(ovs_loop_hook_func *run, ovs_loop_hook_func *wait,
                         void *aux);

/* Makes the next loop iteration run every hook without blocking: for
 * callbacks outside the hooks (libev watchers of the controller's own) that
 * changed state the hooks act on. */
void ovs_loop_request_run(void);

/* Sets the OVS library's own log level on the console ("off", "err",
 * "warn", "info", "dbg"). */
void ovs_loop_set_ovs_log_level(const char *level);

/* Number of loop iterations that ran the OVS hooks, for the idle CPU
 * measurements in BENCHMARKS.md. */
unsigned long long ovs_loop_get_wakeups(void);

/* Detaches from the loop and frees the watchers. */
void ovs_loop_destroy(void);

#endif /* ovs-loop.h */
