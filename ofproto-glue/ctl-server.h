/* weftd's control socket for status queries and runtime commands, on OVS's
 * unixctl protocol, so that "ovs-appctl -t /run/weft/weftd.ctl COMMAND"
 * works like it does for ovs-vswitchd and ovn-controller.
 *
 * The socket is created mode 0660 in a directory that must not be writable
 * by others. */
#ifndef WEFT_CTL_SERVER_H
#define WEFT_CTL_SERVER_H 1

struct ctl_server;
struct ctl_request;

/* Handles one command.  Must answer exactly once with ctl_reply() or
 * ctl_reply_error(), before returning. */
typedef void ctl_handler_func(struct ctl_request *, int argc,
                              const char *argv[], void *aux);

/* Creates the socket at 'path' (absolute), making its directory (0750) if
 * needed.  Returns 0 or a positive errno value; on error '*errorp' gets a
 * malloc'd message. */
int ctl_server_create(const char *path, struct ctl_server **,
                      char **errorp);
void ctl_server_destroy(struct ctl_server *);
void ctl_server_run(struct ctl_server *);
void ctl_server_wait(struct ctl_server *);

/* Registers a command for all servers.  'argv[0]' of the handler is the
 * first argument (not the command name). */
void ctl_command_register(const char *name, const char *usage,
                          int min_args, int max_args,
                          ctl_handler_func *, void *aux);

void ctl_reply(struct ctl_request *, const char *body);
void ctl_reply_error(struct ctl_request *, const char *body);

#endif /* ctl-server.h */
