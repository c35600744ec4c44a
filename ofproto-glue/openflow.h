/* OpenFlow connections from the managed switches.
 *
 * weftd is a passive controller: every integration bridge is told (through
 * OVSDB) to connect to weftd's listener, and each connection is matched to
 * its host by the datapath ID that weftd itself set on the bridge.  This
 * keeps one listening socket for any number of hosts, works through NAT
 * towards the controller, and lets a restarted weftd get all its switches
 * back without knowing their addresses.
 *
 * The listener negotiates OpenFlow 1.3 to 1.5, asks each new switch for its
 * features, answers echo requests, and hands the switch to its owner once
 * the datapath ID is known. */
#ifndef WEFT_OPENFLOW_H
#define WEFT_OPENFLOW_H 1

#include <stdbool.h>
#include <stdint.h>

struct of_listener;
struct of_switch;

struct of_listener_callbacks {
    /* A switch identified itself as 'dpid'.  Returns the owner to attach it
     * to, or NULL to refuse it (the connection is then closed). */
    void *(*switch_up)(void *aux, struct of_switch *, uint64_t dpid);

    /* The connection of a switch that had been attached to 'owner' is gone.
     * The switch object is freed right after this returns. */
    void (*switch_down)(void *owner, struct of_switch *);
};

/* Listens on 'target' ("ptcp:PORT[:IP]" or "pssl:PORT[:IP]").  Returns 0
 * and stores the listener in '*listenerp', or a positive errno value. */
int of_listener_create(const char *target,
                       const struct of_listener_callbacks *, void *aux,
                       struct of_listener **listenerp);

/* Closes the listener and every connection (without calling switch_down:
 * the caller is going away). */
void of_listener_destroy(struct of_listener *);

void of_listener_run(struct of_listener *);
void of_listener_wait(struct of_listener *);

/* Number of open connections, identified or not. */
unsigned int of_listener_count(const struct of_listener *);

/* Closes 'sw' (e.g. replaced by a newer connection from the same switch).
 * switch_down is not called. */
void of_switch_close(struct of_switch *);

uint64_t of_switch_get_dpid(const struct of_switch *);
const char *of_switch_get_peer(const struct of_switch *);
/* Negotiated version as a name, e.g. "OpenFlow15". */
const char *of_switch_get_version(const struct of_switch *);
/* Number of tables the switch reported. */
unsigned int of_switch_get_n_tables(const struct of_switch *);

#endif /* openflow.h */
