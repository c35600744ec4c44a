/* Parser and validator for weftd's configuration file (see config.h). */
#include "weft-config.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_OPENFLOW_LISTEN "ptcp:6653"
#define DEFAULT_UNIXCTL_PATH "/run/weft/weftd.ctl"
#define DEFAULT_RPC_SOCKET "/run/weft/weftd.sock"
#define DEFAULT_BRIDGE "br-int"
#define DEFAULT_DATAPATH_TYPE "system"
#define DEFAULT_BACKOFF_MAX_MS 8000
#define DEFAULT_LIBVIRT_NETWORK "weft"

struct parser {
    const char *file_name;
    int line;
    char *error;
    struct weft_config *cfg;
    struct weft_host_config *host;  /* Current [host] section or NULL. */
    struct weft_app_config *app;    /* Current [app] section or NULL. */
    bool in_weftd;                  /* In the [weftd] section. */
    int weftd_line;
};

static bool fail(struct parser *, int line, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static bool
fail(struct parser *p, int line, const char *format, ...)
{
    char msg[512];
    va_list args;

    va_start(args, format);
    vsnprintf(msg, sizeof msg, format, args);
    va_end(args);

    if (!p->error) {
        size_t len = strlen(p->file_name) + strlen(msg) + 32;
        p->error = malloc(len);
        if (p->error) {
            snprintf(p->error, len, "%s:%d: %s", p->file_name, line, msg);
        }
    }
    return false;
}


static char *
trim(char *s)
{
    while (isspace((unsigned char) *s)) {
        s++;
    }
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char) end[-1])) {
        *--end = '\0';
    }
    return s;
}

static bool
valid_name(const char *s, size_t max_len)
{
    size_t len = strlen(s);
    if (!len || len > max_len) {
        return false;
    }
    for (const char *c = s; *c; c++) {
        if (!isalnum((unsigned char) *c) && !strchr("_.-", *c)) {
            return false;
        }
    }
    return true;
}

static bool
valid_ipv4(const char *s)
{
    struct in_addr addr;
    return inet_pton(AF_INET, s, &addr) == 1;
}

static bool
valid_port(const char *s)
{
    char *end;
    errno = 0;
    long port = strtol(s, &end, 10);
    return *s && !*end && !errno && port > 0 && port <= 65535;
}

/* Checks "IP:PORT" (IPv4, or IPv6 in brackets). */
static bool
valid_ip_port(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || !valid_port(colon + 1)) {
        return false;
    }
    char ip[64];
    size_t len = colon - s;
    if (len >= sizeof ip) {
        return false;
    }
    memcpy(ip, s, len);
    ip[len] = '\0';
    if (ip[0] == '[' && len > 2 && ip[len - 1] == ']') {
        struct in6_addr addr6;
        ip[len - 1] = '\0';
        return inet_pton(AF_INET6, ip + 1, &addr6) == 1;
    }
    return valid_ipv4(ip);
}

/* Checks an active stream remote as OVS understands it. */
static bool
valid_remote(const char *s)
{
    if (!strncmp(s, "tcp:", 4) || !strncmp(s, "ssl:", 4)) {
        return valid_ip_port(s + 4);
    }
    if (!strncmp(s, "unix:", 5)) {
        return s[5] != '\0';
    }
    return false;
}

/* A comma-separated list of remotes: the members of a clustered database
 * (OVSDB's IDL connects to one and follows the leader). */
static bool
valid_remote_list(const char *s)
{
    char *copy = xstrdup(s), *save = NULL;
    bool ok = *s && s[strlen(s) - 1] != ',';
    for (char *r = strtok_r(copy, ",", &save); ok && r;
         r = strtok_r(NULL, ",", &save)) {
        ok = valid_remote(r);
    }
    free(copy);
    return ok;
}

/* Checks a passive remote "ptcp:PORT[:IP]" or "pssl:PORT[:IP]". */
static bool
valid_passive_remote(const char *s)
{
    if (strncmp(s, "ptcp:", 5) && strncmp(s, "pssl:", 5)) {
        return false;
    }
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s + 5);
    char *colon = strchr(buf, ':');
    if (colon) {
        *colon = '\0';
        if (!valid_ipv4(colon + 1)) {
            return false;
        }
    }
    return valid_port(buf);
}

static bool
set_string(struct parser *p, char **field, const char *key, const char *value)
{
    if (*field) {
        return fail(p, p->line, "duplicate key \"%s\" in this section", key);
    }
    *field = xstrdup(value);
    return true;
}

static bool
parse_weftd_key(struct parser *p, const char *key, const char *value)
{
    struct weft_config *cfg = p->cfg;

    if (!strcmp(key, "openflow-listen")) {
        if (!valid_passive_remote(value)) {
            return fail(p, p->line, "openflow-listen: \"%s\" is not "
                        "\"ptcp:PORT[:IP]\" or \"pssl:PORT[:IP]\"", value);
        }
        return set_string(p, &cfg->openflow_listen, key, value);
    } else if (!strcmp(key, "controller-target")) {
        if (!valid_remote(value) || !strncmp(value, "unix:", 5)) {
            return fail(p, p->line, "controller-target: \"%s\" is not "
                        "\"tcp:IP:PORT\" or \"ssl:IP:PORT\"", value);
        }
        return set_string(p, &cfg->controller_target, key, value);
    } else if (!strcmp(key, "unixctl")) {
        if (value[0] != '/') {
            return fail(p, p->line, "unixctl: \"%s\" is not an absolute "
                        "path", value);
        }
        return set_string(p, &cfg->unixctl_path, key, value);
    } else if (!strcmp(key, "rpc-socket")) {
        if (value[0] != '/') {
            return fail(p, p->line, "rpc-socket: \"%s\" is not an absolute "
                        "path", value);
        }
        return set_string(p, &cfg->rpc_socket, key, value);
    } else if (!strcmp(key, "rpc-socket-group")) {
        if (!valid_name(value, 32)) {
            return fail(p, p->line, "rpc-socket-group: \"%s\" is not a "
                        "group name", value);
        }
        return set_string(p, &cfg->rpc_group, key, value);
    } else if (!strcmp(key, "rpc-tcp")) {
        if (!valid_ip_port(value) || strncmp(value, "127.", 4)) {
            return fail(p, p->line, "rpc-tcp: \"%s\" is not a loopback "
                        "\"127.x.y.z:PORT\" (other addresses need TLS, "
                        "which is not supported yet)", value);
        }
        return set_string(p, &cfg->rpc_tcp, key, value);
    } else if (!strcmp(key, "policy-db")) {
        if (!valid_remote_list(value)) {
            return fail(p, p->line, "policy-db: \"%s\" is not "
                        "\"unix:PATH\", \"tcp:IP:PORT\" or \"ssl:IP:PORT\", "
                        "or a comma-separated list of them (a cluster)",
                        value);
        }
        return set_string(p, &cfg->policy_db, key, value);
    } else if (!strcmp(key, "log-level")) {
        static const char *const levels[] = {
            "off", "err", "error", "warn", "warning", "info", "dbg", "debug",
        };
        for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
            if (!strcmp(value, levels[i])) {
                return set_string(p, &cfg->log_level, key, value);
            }
        }
        return fail(p, p->line, "log-level: \"%s\" is not one of off, err, "
                    "warn, info, dbg", value);
    } else if (!strcmp(key, "log-file")) {
        if (value[0] != '/') {
            return fail(p, p->line, "log-file: \"%s\" is not an absolute "
                        "path", value);
        }
        return set_string(p, &cfg->log_file, key, value);
    } else if (!strcmp(key, "metrics-listen")) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", value);
        char *colon = strrchr(buf, ':');
        if (colon) {
            *colon = '\0';
        }
        if (!valid_port(colon ? colon + 1 : buf)
            || (colon && !valid_ipv4(buf))) {
            return fail(p, p->line, "metrics-listen: \"%s\" is not PORT or "
                        "IPv4:PORT", value);
        }
        return set_string(p, &cfg->metrics_listen, key, value);
    } else if (!strcmp(key, "standby-lock")) {
        if (!valid_name(value, 63)) {
            return fail(p, p->line, "standby-lock: \"%s\" is not a lock "
                        "name (letters, digits, '_', '.', '-')", value);
        }
        return set_string(p, &cfg->standby_lock, key, value);
    } else if (!strcmp(key, "ssl-private-key")
               || !strcmp(key, "ssl-certificate")
               || !strcmp(key, "ssl-ca-cert")) {
        if (value[0] != '/') {
            return fail(p, p->line, "%s: \"%s\" is not an absolute path",
                        key, value);
        }
        return set_string(p, (!strcmp(key, "ssl-private-key")
                              ? &cfg->ssl_private_key
                              : !strcmp(key, "ssl-certificate")
                              ? &cfg->ssl_certificate : &cfg->ssl_ca_cert),
                          key, value);
    } else if (!strcmp(key, "libvirt-network")
               || !strcmp(key, "libvirt-network-default-portgroup")) {
        bool network = !strcmp(key, "libvirt-network");
        if (!valid_name(value, 63)) {
            return fail(p, p->line, "%s: \"%s\" is not a %s (1-63 letters, "
                        "digits, '_', '.', '-')", key, value,
                        network ? "network name" : "segment name");
        }
        return set_string(p, (network ? &cfg->libvirt_network
                              : &cfg->libvirt_default_portgroup),
                          key, value);
    } else if (!strcmp(key, "backoff-max")) {
        char *end;
        errno = 0;
        double secs = strtod(value, &end);
        if (*end || errno || !(secs >= 0.1 && secs <= 3600)) {
            return fail(p, p->line, "backoff-max: \"%s\" is not a number "
                        "of seconds between 0.1 and 3600", value);
        }
        cfg->backoff_max_ms = (int) (secs * 1000);
        return true;
    }
    return fail(p, p->line, "unknown key \"%s\" in [weftd] (known: "
                "openflow-listen, controller-target, unixctl, rpc-socket, "
                "rpc-socket-group, rpc-tcp, policy-db, log-level, log-file, "
                "backoff-max, metrics-listen, standby-lock, ssl-private-key, "
                "ssl-certificate, ssl-ca-cert, libvirt-network, "
                "libvirt-network-default-portgroup)", key);
}

static bool
parse_host_key(struct parser *p, const char *key, const char *value)
{
    struct weft_host_config *h = p->host;

    if (!strcmp(key, "ovsdb")) {
        if (!valid_remote(value)) {
            return fail(p, p->line, "ovsdb: \"%s\" is not \"tcp:IP:PORT\", "
                        "\"ssl:IP:PORT\" or \"unix:PATH\"", value);
        }
        return set_string(p, &h->ovsdb_remote, key, value);
    } else if (!strcmp(key, "libvirt")) {
        if (!strstr(value, ":/")) {
            return fail(p, p->line, "libvirt: \"%s\" is not a libvirt URI "
                        "(e.g. qemu+ssh://host/system)", value);
        }
        return set_string(p, &h->libvirt_uri, key, value);
    } else if (!strcmp(key, "tunnel-ip")) {
        if (!valid_ipv4(value)) {
            return fail(p, p->line, "tunnel-ip: \"%s\" is not an IPv4 "
                        "address", value);
        }
        return set_string(p, &h->tunnel_ip, key, value);
    } else if (!strcmp(key, "bridge")) {
        if (!valid_name(value, 15)) {
            return fail(p, p->line, "bridge: \"%s\" is not a valid bridge "
                        "name (1-15 chars of A-Z a-z 0-9 _ . -)", value);
        }
        return set_string(p, &h->bridge, key, value);
    } else if (!strcmp(key, "datapath-type")) {
        if (!valid_name(value, 31)) {
            return fail(p, p->line, "datapath-type: \"%s\" is not a "
                        "datapath type such as system or netdev", value);
        }
        return set_string(p, &h->datapath_type, key, value);
    } else if (!strcmp(key, "uplink")) {
        if (!valid_name(value, 15)) {
            return fail(p, p->line, "uplink: \"%s\" is not a valid port "
                        "name", value);
        }
        return set_string(p, &h->uplink, key, value);
    }
    return fail(p, p->line, "unknown key \"%s\" in [host %s] (known: ovsdb, "
                "libvirt, tunnel-ip, bridge, datapath-type, uplink)",
                key, h->name);
}

static bool
parse_app_key(struct parser *p, const char *key, const char *value)
{
    struct weft_app_config *a = p->app;

    if (!strcmp(key, "path")) {
        if (value[0] != '/') {
            return fail(p, p->line, "path: \"%s\" is not an absolute path "
                        "to the app's shared object", value);
        }
        return set_string(p, &a->path, key, value);
    }
    for (size_t i = 0; i < a->n_keys; i++) {
        if (!strcmp(a->keys[i], key)) {
            return fail(p, p->line, "duplicate key \"%s\" in this section",
                        key);
        }
    }
    a->keys = realloc(a->keys, (a->n_keys + 1) * sizeof *a->keys);
    a->values = realloc(a->values, (a->n_keys + 1) * sizeof *a->values);
    if (!a->keys || !a->values) {
        abort();
    }
    a->keys[a->n_keys] = xstrdup(key);
    a->values[a->n_keys++] = xstrdup(value);
    return true;
}

static bool
parse_app_section(struct parser *p, const char *name)
{
    if (!valid_name(name, 31) || strchr(name, '.')) {
        return fail(p, p->line, "app name \"%s\" is invalid (1-31 chars of "
                    "A-Z a-z 0-9 _ -)", name);
    }
    struct weft_config *cfg = p->cfg;
    for (size_t i = 0; i < cfg->n_apps; i++) {
        if (!strcmp(cfg->apps[i].name, name)) {
            return fail(p, p->line, "duplicate app \"%s\" (first at line "
                        "%d)", name, cfg->apps[i].line);
        }
    }
    struct weft_app_config *apps
        = realloc(cfg->apps, (cfg->n_apps + 1) * sizeof *apps);
    if (!apps) {
        abort();
    }
    cfg->apps = apps;
    p->app = &apps[cfg->n_apps++];
    memset(p->app, 0, sizeof *p->app);
    p->app->name = xstrdup(name);
    p->app->line = p->line;
    return true;
}

static bool
parse_section(struct parser *p, char *line)
{
    char *close = strchr(line, ']');
    if (!close || trim(close + 1)[0]) {
        return fail(p, p->line, "malformed section header (expected "
                    "\"[weftd]\" or \"[host NAME]\")");
    }
    *close = '\0';
    char *inside = trim(line + 1);

    p->host = NULL;
    p->app = NULL;
    p->in_weftd = false;
    if (!strcmp(inside, "weftd")) {
        if (p->weftd_line) {
            return fail(p, p->line, "duplicate [weftd] section (first at "
                        "line %d)", p->weftd_line);
        }
        p->in_weftd = true;
        p->weftd_line = p->line;
        return true;
    }
    if (!strncmp(inside, "host", 4) && isspace((unsigned char) inside[4])) {
        char *name = trim(inside + 5);
        if (!valid_name(name, 63)) {
            return fail(p, p->line, "host name \"%s\" is invalid (1-63 "
                        "chars of A-Z a-z 0-9 _ . -)", name);
        }
        const struct weft_host_config *dup
            = weft_config_find_host(p->cfg, name);
        if (dup) {
            return fail(p, p->line, "duplicate host \"%s\" (first at line "
                        "%d)", name, dup->line);
        }
        struct weft_config *cfg = p->cfg;
        struct weft_host_config *hosts
            = realloc(cfg->hosts, (cfg->n_hosts + 1) * sizeof *hosts);
        if (!hosts) {
            abort();
        }
        cfg->hosts = hosts;
        p->host = &hosts[cfg->n_hosts++];
        memset(p->host, 0, sizeof *p->host);
        p->host->name = xstrdup(name);
        p->host->line = p->line;
        return true;
    }
    if (!strncmp(inside, "app", 3) && isspace((unsigned char) inside[3])) {
        return parse_app_section(p, trim(inside + 4));
    }
    return fail(p, p->line, "unknown section \"[%s]\" (expected \"[weftd]\", "
                "\"[host NAME]\" or \"[app NAME]\")", inside);
}

static bool
parse_line(struct parser *p, char *line)
{
    line = trim(line);
    if (!line[0] || line[0] == '#' || line[0] == ';') {
        return true;
    }
    if (line[0] == '[') {
        return parse_section(p, line);
    }

    char *eq = strchr(line, '=');
    if (!eq) {
        return fail(p, p->line, "expected \"key = value\", \"[weftd]\" or "
                    "\"[host NAME]\"");
    }
    *eq = '\0';
    char *key = trim(line);
    char *value = trim(eq + 1);
    if (!key[0]) {
        return fail(p, p->line, "missing key before \"=\"");
    }
    if (!value[0]) {
        return fail(p, p->line, "key \"%s\" has an empty value", key);
    }
    if (p->in_weftd) {
        return parse_weftd_key(p, key, value);
    } else if (p->host) {
        return parse_host_key(p, key, value);
    } else if (p->app) {
        return parse_app_key(p, key, value);
    }
    return fail(p, p->line, "key \"%s\" outside of any section", key);
}

/* Cross-field checks and defaults, once the whole file is read. */
/* True if 'remote' (or a member of a list) uses TLS. */
static bool
is_ssl(const char *remote)
{
    return remote && (!strncmp(remote, "ssl:", 4)
                      || !strncmp(remote, "pssl:", 5)
                      || strstr(remote, ",ssl:"));
}

/* TLS settings come as a set, and any TLS remote needs them. */
static bool
check_ssl(struct parser *p)
{
    const struct weft_config *cfg = p->cfg;
    int line = p->weftd_line ? p->weftd_line : 1;
    int n = (!!cfg->ssl_private_key + !!cfg->ssl_certificate
             + !!cfg->ssl_ca_cert);
    if (n && n < 3) {
        return fail(p, line, "ssl-private-key, ssl-certificate and "
                    "ssl-ca-cert go together: %s is missing",
                    !cfg->ssl_private_key ? "ssl-private-key"
                    : !cfg->ssl_certificate ? "ssl-certificate"
                    : "ssl-ca-cert");
    }
    const char *remote = (is_ssl(cfg->openflow_listen) ? cfg->openflow_listen
                          : is_ssl(cfg->controller_target)
                          ? cfg->controller_target
                          : is_ssl(cfg->policy_db) ? cfg->policy_db : NULL);
    for (size_t i = 0; !remote && i < cfg->n_hosts; i++) {
        if (is_ssl(cfg->hosts[i].ovsdb_remote)) {
            remote = cfg->hosts[i].ovsdb_remote;
        }
    }
    if (remote && !n) {
        return fail(p, line, "%s uses TLS: [weftd] needs ssl-private-key, "
                    "ssl-certificate and ssl-ca-cert", remote);
    }
    return true;
}

static bool
finish(struct parser *p)
{
    struct weft_config *cfg = p->cfg;

    for (size_t i = 0; i < cfg->n_hosts; i++) {
        struct weft_host_config *h = &cfg->hosts[i];
        if (!h->ovsdb_remote) {
            return fail(p, h->line, "host \"%s\": missing required key "
                        "\"ovsdb\"", h->name);
        }
        if (!h->tunnel_ip) {
            return fail(p, h->line, "host \"%s\": missing required key "
                        "\"tunnel-ip\"", h->name);
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(cfg->hosts[j].tunnel_ip, h->tunnel_ip)) {
                return fail(p, h->line, "host \"%s\": tunnel-ip %s is "
                            "already used by host \"%s\"", h->name,
                            h->tunnel_ip, cfg->hosts[j].name);
            }
        }
        if (!h->bridge) {
            h->bridge = xstrdup(DEFAULT_BRIDGE);
        }
        if (!h->datapath_type) {
            h->datapath_type = xstrdup(DEFAULT_DATAPATH_TYPE);
        }
    }

    for (size_t i = 0; i < cfg->n_apps; i++) {
        if (!cfg->apps[i].path) {
            return fail(p, cfg->apps[i].line, "app \"%s\": missing required "
                        "key \"path\"", cfg->apps[i].name);
        }
    }

    if (!cfg->openflow_listen) {
        cfg->openflow_listen = xstrdup(DEFAULT_OPENFLOW_LISTEN);
    }
    if (!cfg->controller_target) {
        /* "ptcp:PORT:IP" tells the bridges where to connect; a listener on
         * all addresses does not, so then the target must be explicit. */
        const char *port = cfg->openflow_listen + 5;
        const char *ip = strchr(port, ':');
        if (!ip) {
            if (cfg->n_hosts) {
                return fail(p, p->weftd_line ? p->weftd_line : 1,
                            "controller-target is required when "
                            "openflow-listen (%s) names no address",
                            cfg->openflow_listen);
            }
        } else {
            char target[128];
            snprintf(target, sizeof target, "%.3s:%s:%.*s",
                     cfg->openflow_listen + 1, ip + 1, (int) (ip - port),
                     port);
            cfg->controller_target = xstrdup(target);
        }
    }
    if (!check_ssl(p)) {
        return false;
    }
    if (cfg->standby_lock && !cfg->policy_db) {
        return fail(p, p->weftd_line ? p->weftd_line : 1, "standby-lock "
                    "needs policy-db: the lock is held in the policy "
                    "database");
    }
    if (!cfg->unixctl_path) {
        cfg->unixctl_path = xstrdup(DEFAULT_UNIXCTL_PATH);
    }
    if (!cfg->rpc_socket) {
        cfg->rpc_socket = xstrdup(DEFAULT_RPC_SOCKET);
    }
    if (!cfg->backoff_max_ms) {
        cfg->backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
    }
    if (!cfg->libvirt_network) {
        cfg->libvirt_network = xstrdup(DEFAULT_LIBVIRT_NETWORK);
    } else if (!strcmp(cfg->libvirt_network, "none")) {
        free(cfg->libvirt_network);
        cfg->libvirt_network = NULL;
    }
    return true;
}

int
weft_config_parse_string(const char *text, const char *file_name,
                         struct weft_config *cfg, char **errorp)
{
    struct parser p = {
        .file_name = file_name,
        .cfg = cfg,
    };

    memset(cfg, 0, sizeof *cfg);
    *errorp = NULL;

    bool ok = true;
    const char *s = text;
    while (ok && *s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t) (nl - s) : strlen(s);
        char *line = malloc(len + 1);
        if (!line) {
            abort();
        }
        memcpy(line, s, len);
        line[len] = '\0';
        p.line++;
        ok = parse_line(&p, line);
        free(line);
        s += len + (nl != NULL);
    }
    if (ok) {
        p.line++;
        ok = finish(&p);
    }
    if (!ok) {
        weft_config_destroy(cfg);
        *errorp = p.error ? p.error : strdup("out of memory");
        return EINVAL;
    }
    return 0;
}

int
weft_config_parse_file(const char *path, struct weft_config *cfg,
                       char **errorp)
{
    memset(cfg, 0, sizeof *cfg);
    *errorp = NULL;

    FILE *f = fopen(path, "r");
    if (!f) {
        int error = errno;
        size_t len = strlen(path) + 128;
        *errorp = malloc(len);
        if (*errorp) {
            snprintf(*errorp, len, "%s: cannot open: %s", path,
                     strerror(error));
        }
        return error;
    }

    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    for (;;) {
        if (!text) {
            abort();
        }
        size_t n = fread(text + len, 1, cap - len - 1, f);
        len += n;
        if (len < cap - 1) {
            break;
        }
        if (cap >= 16 * 1024 * 1024) {
            break;
        }
        cap *= 2;
        text = realloc(text, cap);
    }
    int read_error = ferror(f) ? errno : 0;
    fclose(f);
    text[len] = '\0';

    int error;
    if (read_error) {
        size_t elen = strlen(path) + 128;
        *errorp = malloc(elen);
        if (*errorp) {
            snprintf(*errorp, elen, "%s: read error: %s", path,
                     strerror(read_error));
        }
        error = read_error;
    } else if (len >= 16 * 1024 * 1024 - 1) {
        *errorp = strdup("configuration file larger than 16 MB");
        error = EFBIG;
    } else {
        error = weft_config_parse_string(text, path, cfg, errorp);
    }
    free(text);
    return error;
}

const struct weft_host_config *
weft_config_find_host(const struct weft_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_hosts; i++) {
        if (!strcmp(cfg->hosts[i].name, name)) {
            return &cfg->hosts[i];
        }
    }
    return NULL;
}

static bool
nullable_streq(const char *a, const char *b)
{
    return a && b ? !strcmp(a, b) : a == b;
}

bool
weft_host_config_equal(const struct weft_host_config *a,
                       const struct weft_host_config *b)
{
    return (nullable_streq(a->name, b->name)
            && nullable_streq(a->ovsdb_remote, b->ovsdb_remote)
            && nullable_streq(a->libvirt_uri, b->libvirt_uri)
            && nullable_streq(a->tunnel_ip, b->tunnel_ip)
            && nullable_streq(a->bridge, b->bridge)
            && nullable_streq(a->datapath_type, b->datapath_type)
            && nullable_streq(a->uplink, b->uplink));
}

static void
host_config_destroy(struct weft_host_config *h)
{
    free(h->name);
    free(h->ovsdb_remote);
    free(h->libvirt_uri);
    free(h->tunnel_ip);
    free(h->bridge);
    free(h->datapath_type);
    free(h->uplink);
}

void
weft_config_destroy(struct weft_config *cfg)
{
    if (!cfg) {
        return;
    }
    for (size_t i = 0; i < cfg->n_hosts; i++) {
        host_config_destroy(&cfg->hosts[i]);
    }
    free(cfg->hosts);
    for (size_t i = 0; i < cfg->n_apps; i++) {
        struct weft_app_config *a = &cfg->apps[i];
        for (size_t j = 0; j < a->n_keys; j++) {
            free(a->keys[j]);
            free(a->values[j]);
        }
        free(a->keys);
        free(a->values);
        free(a->name);
        free(a->path);
    }
    free(cfg->apps);
    free(cfg->openflow_listen);
    free(cfg->controller_target);
    free(cfg->unixctl_path);
    free(cfg->rpc_socket);
    free(cfg->rpc_group);
    free(cfg->rpc_tcp);
    free(cfg->policy_db);
    free(cfg->log_level);
    free(cfg->log_file);
    free(cfg->standby_lock);
    free(cfg->metrics_listen);
    free(cfg->libvirt_network);
    free(cfg->libvirt_default_portgroup);
    free(cfg->ssl_private_key);
    free(cfg->ssl_certificate);
    free(cfg->ssl_ca_cert);
    memset(cfg, 0, sizeof *cfg);
}
