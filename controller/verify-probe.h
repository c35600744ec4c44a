/* "weftctl verify --probe": real packets through the real switches.
 *
 * For each probe (the pairs and probe classes of verify_run(), see
 * verify.h), weftd reads the destination port's transmit counter, hands
 * the source host's switch VERIFY_PROBE_COPIES copies of the probe packet
 * as if the source VM had sent them (an OpenFlow packet-out with the VM's
 * port as in_port, through table 0: the switch's own pipeline, conntrack,
 * tunnels and the peer's datapath), waits VERIFY_PROBE_WAIT_MS and reads
 * the counter again.  All the copies out of the destination port:
 * delivered; at most a third: dropped; in between (traffic of the VMs
 * themselves): inconclusive.  One probe at a time, so a probe's counter
 * is not disturbed by another's.
 *
 * This sees what the flow evaluator cannot: flows that are not Weft's
 * (an operator's drop flow on the bridge), and the datapath itself. */
#ifndef WEFT_VERIFY_PROBE_H
#define WEFT_VERIFY_PROBE_H 1

#include <stddef.h>
#include <stdio.h>

struct weftd;

#define VERIFY_PROBE_COPIES 10
#define VERIFY_PROBE_WAIT_MS 250

struct verify_probe_report {
    size_t n_probes;            /* Sent, with an outcome. */
    size_t n_mismatches;
    size_t n_inconclusive;
    size_t n_not_sent;          /* A host not connected. */
};

/* Called once, with the mismatches, inconclusive and unsent probes (one
 * line each) and the counts: from the loop, or from within
 * verify_probe_start() when there is nothing to probe. */
typedef void verify_probe_done_cb(void *aux, const char *details,
                                  const struct verify_probe_report *);

/* Probes every ordered pair of placed vNICs (with 'host' nonnull: whose
 * source is on 'host') for each probe class, against the policy in force
 * when each probe goes. */
void verify_probe_start(struct weftd *, const char *host,
                        verify_probe_done_cb *, void *aux);

#endif /* verify-probe.h */
