/* Fuzz target: the policy document parser and what runs on a parsed
 * policy (format, re-parse, diff, the pipeline and mirror compilers on a
 * small fixed inventory).  A document that parses must format to a
 * document that parses to an equal policy. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "mirror-plan.h"
#include "pipeline.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const labels[] = { "admin", "web" };
static const struct pipeline_vnic vnics[] = {
    { "h1", "web1", "t-web1", "52:54:00:00:00:01", "web", labels, 2, 1,
      NULL, 0 },
    { "h2", "db1", "t-db1", "52:54:00:00:00:02", "db", NULL, 0, 2,
      NULL, 0 },
    { "h2", "lab1", "t-lab1", "52:54:00:00:00:03", "lab", labels, 1, 3,
      NULL, 0 },
};
static const struct pipeline_tunnel tunnels[] = {
    { "h1", "h2", 10 },
    { "h2", "h1", 10 },
};
static const struct mirror_plan_host hosts[] = {
    { "h1", "192.0.2.1" }, { "h2", "192.0.2.2" },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    struct policy *p;
    struct policy_error error;
    if (!policy_parse(text, &p, &error)) {
        char *canonical = policy_format(p);
        struct policy *q;
        if (policy_parse(canonical, &q, &error) || !policy_equal(p, q)) {
            abort();            /* Formatting lost or broke something. */
        }
        free(policy_diff(p, q));
        policy_destroy(q);
        free(canonical);

        struct pipeline_input in = {
            .policy = p, .vnics = vnics, .n_vnics = 3,
            .tunnels = tunnels, .n_tunnels = 2,
        };
        struct weft_flow_set flows;
        weft_flow_set_init(&flows);
        pipeline_compute_host(&in, "h1", &flows);
        pipeline_compute_host(&in, "h2", &flows);
        weft_flow_set_destroy(&flows);

        struct mirror_plan_input min = {
            .policy = p, .vnics = vnics, .n_vnics = 3,
            .hosts = hosts, .n_hosts = 2,
        };
        mirror_plan_destroy(mirror_plan_create(&min));
        policy_destroy(p);
    }
    free(text);
    return 0;
}
