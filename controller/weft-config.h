/* weftd's configuration file: which hypervisors to manage and how weftd
 * itself listens.  Pure parsing and validation, no I/O beyond reading the
 * file, so that every error class is unit-tested (tests/unit/test-config.c).
 *
 * The format is INI-like and documented in config/weftd.conf.example:
 *
 *     [weftd]
 *     openflow-listen = ptcp:6653:192.168.77.254
 *
 *     [host h1]
 *     ovsdb = tcp:192.168.77.1:6640
 *     tunnel-ip = 192.168.77.1
 *
 *     [app l2learn]
 *     path = /usr/local/lib/weft/apps/l2learn.so
 *     segment = lab
 *
 * Every error is reported as "FILE:LINE: what is wrong". */
#ifndef WEFT_WEFT_CONFIG_H
#define WEFT_WEFT_CONFIG_H 1

#include <stdbool.h>
#include <stddef.h>

/* One managed hypervisor. */
struct weft_host_config {
    char *name;             /* Unique, [A-Za-z0-9_.-], at most 63 chars. */
    char *ovsdb_remote;     /* "tcp:IP:PORT", "ssl:IP:PORT" or "unix:PATH". */
    char *libvirt_uri;      /* libvirt connection URI, or NULL. */
    char *tunnel_ip;        /* IPv4 address of the VXLAN endpoint. */
    char *bridge;           /* Integration bridge, default "br-int". */
    char *datapath_type;    /* "system" (default), "netdev", ... */
    char *uplink;           /* Port carrying VLAN trunks, or NULL. */
    int line;               /* Line of the [host] header, for messages. */
};

/* A controller app loaded at start ([app NAME]): 'path' plus the other
 * keys, passed to the app as its configuration. */
struct weft_app_config {
    char *name;             /* The app's name; it must call itself so. */
    char *path;             /* Absolute path of its shared object. */
    char **keys, **values;  /* Its other keys, in file order. */
    size_t n_keys;
    int line;
};

struct weft_config {
    char *openflow_listen;    /* Passive OpenFlow listener, "ptcp:PORT[:IP]". */
    char *controller_target;  /* What bridges connect to, "tcp:IP:PORT". */
    char *unixctl_path;       /* Control socket for status queries. */
    char *rpc_socket;         /* weftctl's msgpack-RPC socket. */
    char *rpc_group;          /* Group owning it, or NULL. */
    char *rpc_tcp;            /* Loopback "IP:PORT" listener, or NULL. */
    char *metrics_listen;     /* Prometheus endpoint "[IP:]PORT", or NULL. */
    char *policy_db;          /* Policy OVSDB remote, or NULL. */
    char *log_level;          /* NULL or a level accepted by log.h. */
    char *log_file;           /* NULL or a path. */
    int backoff_max_ms;       /* Upper bound of reconnection backoff. */

    /* TLS for every "ssl:"/"pssl:" remote (OVSDB, OpenFlow, policy DB):
     * weftd's key and certificate, and the CA that signed its peers'.
     * Required together, and whenever such a remote is used. */
    /* Active/standby: the name of the policy database lock that the
     * active weftd holds; NULL for a lone weftd. */
    char *standby_lock;

    /* The libvirt network weftd keeps on every host (default "weft"; NULL
     * with "libvirt-network = none"), and the segment whose portgroup is
     * its default (NULL: none). */
    char *libvirt_network;
    char *libvirt_default_portgroup;

    char *ssl_private_key;
    char *ssl_certificate;
    char *ssl_ca_cert;

    struct weft_host_config *hosts;
    size_t n_hosts;

    struct weft_app_config *apps;
    size_t n_apps;
};

/* Parses and validates the configuration in 'text'; 'file_name' is used in
 * error messages.  On success fills in 'cfg' and returns 0.  On failure
 * returns EINVAL and stores a malloc'd "FILE:LINE: message" in '*errorp';
 * 'cfg' is then left empty. */
int weft_config_parse_string(const char *text, const char *file_name,
                             struct weft_config *cfg, char **errorp);

/* Same, reading 'path'.  A file that cannot be read yields its errno and
 * a message naming the file. */
int weft_config_parse_file(const char *path, struct weft_config *cfg,
                           char **errorp);

/* Looks up a host by name; NULL if absent. */
const struct weft_host_config *weft_config_find_host(
    const struct weft_config *, const char *name);

/* Returns true if 'a' and 'b' describe the same host in every field, so a
 * reload can keep its live session. */
bool weft_host_config_equal(const struct weft_host_config *a,
                           const struct weft_host_config *b);

void weft_config_destroy(struct weft_config *);

#endif /* weft-config.h */
