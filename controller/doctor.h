/* "weftctl doctor": the classic troubleshooting checklist, automated,
 * host by host (OVSDB session and bridge, OpenFlow connection, flows,
 * libvirt, tunnels, MTU against VXLAN overhead, Weft's libvirt network and
 * the host's other networks (not managed: their VMs get no Weft policy),
 * each unplaced vNIC), each finding with what to do.  A
 * host that is down is reported and the others are still checked. */
#ifndef WEFT_DOCTOR_H
#define WEFT_DOCTOR_H 1

#include <stddef.h>

struct weftd;

enum doctor_severity {
    DOCTOR_OK,
    DOCTOR_WARN,
    DOCTOR_ERROR,
};
const char *doctor_severity_to_string(enum doctor_severity);

struct doctor_finding {
    char *host;
    char *check;                /* "ovsdb", "openflow", "flows", ... */
    enum doctor_severity severity;
    char *message;
    char *fix;                  /* What to do; NULL when OK. */
};

/* All findings for 'host' (every host if NULL), in host order.  Returns
 * how many; free with doctor_findings_free(). */
size_t doctor_run(const struct weftd *, const char *host,
                  struct doctor_finding **);
void doctor_findings_free(struct doctor_finding *, size_t n);

#endif /* doctor.h */
