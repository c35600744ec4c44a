/* seg-l2: plain forwarding of a claimed segment for sample apps whose job
 * is something else (answering ARP, quarantining vNICs).  An app that
 * claims a segment gets all of its traffic and must forward it itself;
 * these flows do it proactively from the inventory, in one of the app's
 * tables, on each host:
 *
 *   priority 10  dl_dst=MAC of a local vNIC of the segment -> output:PORT
 *   priority 5   broadcast/multicast -> output to every local vNIC of the
 *                segment (OVS never sends a packet back out of its
 *                in_port)
 *   (no match: dropped, the table-miss of OpenFlow 1.3)
 *
 * Only within a host: vNICs of the segment on other hosts are not reached
 * (the core's tunnels are not exposed to apps).  Compiled into each app
 * that uses it; not part of the ABI. */
#ifndef SEG_L2_H
#define SEG_L2_H 1

#include <weft/app.h>

/* Forward 'segment' in the app's relative table 'table'. */
void seg_l2_init(const char *segment, uint8_t table);

/* To be called from the app's vnic_added/vnic_removed callbacks. */
int seg_l2_vnic_added(struct weft_app_handle *, const struct weft_app_vnic *);
int seg_l2_vnic_removed(struct weft_app_handle *,
                        const struct weft_app_vnic *);

#endif /* seg-l2.h */
