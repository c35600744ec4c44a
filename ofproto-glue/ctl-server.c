/* Control socket on OVS's unixctl server (see ctl-server.h). */
#include <config.h>

#include "ctl-server.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unixctl.h"
#include "util.h"

#include "socket-dir.h"

struct ctl_server {
    struct unixctl_server *unixctl;
};

int
ctl_server_create(const char *path, struct ctl_server **serverp,
                  char **errorp)
{
    *serverp = NULL;
    *errorp = NULL;

    int error = socket_dir_check(path, "control socket", errorp);
    if (error) {
        return error;
    }

    /* 0660: the socket's group may be given to operators. */
    mode_t old_umask = umask(0117);
    struct unixctl_server *unixctl;
    error = unixctl_server_create(path, &unixctl);
    umask(old_umask);
    if (error) {
        *errorp = xasprintf("%s: cannot create control socket: %s", path,
                            ovs_strerror(error));
        return error;
    }

    struct ctl_server *server = xzalloc(sizeof *server);
    server->unixctl = unixctl;
    *serverp = server;
    return 0;
}

void
ctl_server_destroy(struct ctl_server *server)
{
    if (server) {
        unixctl_server_destroy(server->unixctl);
        free(server);
    }
}

void
ctl_server_run(struct ctl_server *server)
{
    unixctl_server_run(server->unixctl);
}

void
ctl_server_wait(struct ctl_server *server)
{
    unixctl_server_wait(server->unixctl);
}

struct ctl_command {
    ctl_handler_func *handler;
    void *aux;
};

static void
dispatch(struct unixctl_conn *conn, int argc, const char *argv[], void *aux)
{
    const struct ctl_command *cmd = aux;
    cmd->handler((struct ctl_request *) conn, argc - 1, argv + 1, cmd->aux);
}

void
ctl_command_register(const char *name, const char *usage, int min_args,
                     int max_args, ctl_handler_func *handler, void *aux)
{
    struct ctl_command *cmd = xmalloc(sizeof *cmd);
    cmd->handler = handler;
    cmd->aux = aux;
    /* 'cmd' lives as long as the process: unixctl keeps commands forever. */
    unixctl_command_register(name, usage, min_args, max_args, dispatch, cmd);
}

void
ctl_reply(struct ctl_request *req, const char *body)
{
    unixctl_command_reply((struct unixctl_conn *) req, body);
}

void
ctl_reply_error(struct ctl_request *req, const char *body)
{
    unixctl_command_reply_error((struct unixctl_conn *) req, body);
}
