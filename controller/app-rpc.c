/* weftctl's app-* methods: load, unload, reload and list controller apps
 * (apps.h).  Each takes an array of strings:
 *
 *   app-load PATH [KEY=VALUE...]   -> the app, as in app-list
 *   app-unload NAME                -> nil
 *   app-reload NAME                -> the app
 *   app-list                       -> [app...]
 *
 * Errors: "invalid-params", "not-found", "app-refused" (the app could not
 * be loaded or started; the message says why). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "rpc.h"
#include "weftd.h"
#include "xalloc.h"

/* The string parameters: their count, or -1 after replying with an error
 * if one is not a string or the count is outside [min, max]. */
static int
string_params(struct rpc_request *req, const msgpack_object *params,
              size_t min, size_t max)
{
    const msgpack_object_array *a = &params->via.array;
    if (a->size < min || a->size > max) {
        rpc_reply_errorf(req, RPC_E_INVALID_PARAMS, NULL, 0,
                         "%s takes %zu to %zu arguments, not %u",
                         rpc_request_get_method(req), min, max, a->size);
        return -1;
    }
    for (uint32_t i = 0; i < a->size; i++) {
        if (a->ptr[i].type != MSGPACK_OBJECT_STR) {
            rpc_reply_errorf(req, RPC_E_INVALID_PARAMS, NULL, 0,
                             "argument %u is %s, not a string", i + 1,
                             rpc_type_name(&a->ptr[i]));
            return -1;
        }
    }
    return a->size;
}

static char *
param(const msgpack_object *params, size_t i)
{
    const msgpack_object_str *s = &params->via.array.ptr[i].via.str;
    char *p = xmalloc(s->size + 1);
    memcpy(p, s->ptr, s->size);
    p[s->size] = '\0';
    return p;
}

static void
pack_app(msgpack_packer *pk, const struct apps_info *a)
{
    char abi[32];
    snprintf(abi, sizeof abi, "%u.%u", a->abi_major, a->abi_minor);
    msgpack_pack_map(pk, 12);
    rpc_pack_kv_string(pk, "name", a->name);
    rpc_pack_kv_string(pk, "state", a->state);
    rpc_pack_kv_string(pk, "path", a->path);
    rpc_pack_kv_string(pk, "description", a->description);
    rpc_pack_kv_string(pk, "abi", a->abi_major ? abi : NULL);
    rpc_pack_kv_int(pk, "slot", a->slot);
    rpc_pack_kv_int(pk, "first_table", a->first_table);
    rpc_pack_kv_int(pk, "last_table", a->last_table);
    rpc_pack_kv_uint(pk, "packet_ins", a->n_packet_ins);
    rpc_pack_kv_uint(pk, "flows", a->n_flows);
    rpc_pack_kv_uint(pk, "errors", a->n_errors);
    rpc_pack_kv_string(pk, "last_error", a->last_error);
}

/* Replies with the app called 'name'. */
static void
reply_app(struct rpc_request *req, const struct apps *apps,
          const char *name)
{
    for (size_t i = 0; i < apps_count(apps); i++) {
        struct apps_info info;
        apps_get_info(apps, i, &info);
        if (!strcmp(info.name, name)) {
            msgpack_packer *pk = rpc_reply_begin(req);
            pack_app(pk, &info);
            rpc_reply_end(req);
            return;
        }
    }
    rpc_reply_ok(req);
}

static void
m_app_load(struct rpc_request *req, const msgpack_object *params, void *d_)
{
    struct weftd *d = d_;
    int n = string_params(req, params, 1, 65);
    if (n < 0) {
        return;
    }
    char *path = param(params, 0);
    char **strings = xcalloc(n, sizeof *strings);
    struct weft_app_kv *kv = xcalloc(n, sizeof *kv);
    size_t n_kv = 0;
    char *error = NULL;
    for (int i = 1; i < n && !error; i++) {
        strings[i] = param(params, i);
        char *eq = strchr(strings[i], '=');
        if (!eq || eq == strings[i] || !strncmp(strings[i], "path=", 5)) {
            error = xasprintf("\"%s\" is not KEY=VALUE (any key but path)",
                              strings[i]);
            break;
        }
        *eq = '\0';
        kv[n_kv++] = (struct weft_app_kv) { strings[i], eq + 1 };
    }
    if (error) {
        rpc_reply_error(req, RPC_E_INVALID_PARAMS, error, NULL, 0);
    } else if (apps_load(d->apps, path, NULL, kv, n_kv, &error)) {
        rpc_reply_error(req, "app-refused", error, NULL, 0);
    } else {
        /* The last app is the one just loaded, unless it took a free slot
         * below others: look it up by path. */
        for (size_t i = 0; i < apps_count(d->apps); i++) {
            struct apps_info info;
            apps_get_info(d->apps, i, &info);
            if (!strcmp(info.path, path)) {
                reply_app(req, d->apps, info.name);
                break;
            }
        }
    }
    free(error);
    for (int i = 0; i < n; i++) {
        free(strings[i]);
    }
    free(strings);
    free(kv);
    free(path);
}

static void
m_app_unload(struct rpc_request *req, const msgpack_object *params,
             void *d_)
{
    struct weftd *d = d_;
    if (string_params(req, params, 1, 1) < 0) {
        return;
    }
    char *name = param(params, 0);
    char *error;
    if (apps_unload(d->apps, name, &error)) {
        rpc_reply_error(req, "not-found", error, NULL, 0);
        free(error);
    } else {
        rpc_reply_ok(req);
    }
    free(name);
}

static void
m_app_reload(struct rpc_request *req, const msgpack_object *params,
             void *d_)
{
    struct weftd *d = d_;
    if (string_params(req, params, 1, 1) < 0) {
        return;
    }
    char *name = param(params, 0);
    char *error;
    int retval = apps_reload(d->apps, name, &error);
    if (retval) {
        rpc_reply_error(req, retval == ENOENT ? "not-found" : "app-refused",
                        error, NULL, 0);
        free(error);
    } else {
        reply_app(req, d->apps, name);
    }
    free(name);
}

static void
m_app_list(struct rpc_request *req, const msgpack_object *params, void *d_)
{
    struct weftd *d = d_;
    if (string_params(req, params, 0, 0) < 0) {
        return;
    }
    msgpack_packer *pk = rpc_reply_begin(req);
    size_t n = apps_count(d->apps);
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        struct apps_info info;
        apps_get_info(d->apps, i, &info);
        pack_app(pk, &info);
    }
    rpc_reply_end(req);
}

void
app_rpc_register(struct weftd *d, struct rpc_server *rpc)
{
    rpc_server_register(rpc, "app-load", m_app_load, d);
    rpc_server_register(rpc, "app-unload", m_app_unload, d);
    rpc_server_register(rpc, "app-reload", m_app_reload, d);
    rpc_server_register(rpc, "app-list", m_app_list, d);
}
