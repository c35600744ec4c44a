/* weftd's metrics in Prometheus' text exposition format (version 0.0.4),
 * served by metrics-server.c when "metrics-listen" is configured. */
#ifndef WEFT_WEFTD_METRICS_H
#define WEFT_WEFTD_METRICS_H 1

/* The text for weftd 'd' (a struct weftd *); caller frees. */
char *weftd_metrics_text(void *d);

#endif /* weftd-metrics.h */
