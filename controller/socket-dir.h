/* Where weftd puts a control socket: a directory others cannot write into,
 * since whoever can write there can replace the socket with their own. */
#ifndef WEFT_SOCKET_DIR_H
#define WEFT_SOCKET_DIR_H 1

/* Checks the directory of socket 'path', creating it (mode 0750) if it does
 * not exist.  Refuses a non-directory and a directory writable by others
 * (unless sticky).  Returns 0, or an errno value with a malloc'd message in
 * '*errorp' that names 'what' (e.g. "RPC socket"). */
int socket_dir_check(const char *path, const char *what, char **errorp);

#endif /* socket-dir.h */
