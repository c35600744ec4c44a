/* Weft's one logging facility.
 *
 * Every module logs through these macros; the output format matches the one
 * weftd configures for the OVS library's own messages, so an operator reads
 * one consistent stream:
 *
 *     2026-11-23T12:00:00.123Z|host|INFO|h1: connecting -> syncing
 *
 * Each .c file that logs says once which module it is:
 *
 *     WEFT_LOG_MODULE(host);
 *
 * and then uses WEFT_ERR/WARN/INFO/DBG with printf-style arguments.  Messages
 * are cheap to skip: the level check happens before formatting. */
#ifndef WEFT_LOG_H
#define WEFT_LOG_H 1

#include <stdbool.h>
#include <stdio.h>

enum weft_log_level {
    WEFT_LOG_OFF,
    WEFT_LOG_ERR,
    WEFT_LOG_WARN,
    WEFT_LOG_INFO,
    WEFT_LOG_DBG,
};

/* The level at or below which messages are written (default INFO). */
extern enum weft_log_level weft_log_threshold;

/* Parses "off", "err", "warn", "info" or "dbg" (also "error", "warning",
 * "debug").  Returns true on success. */
bool weft_log_level_from_string(const char *, enum weft_log_level *);
const char *weft_log_level_to_string(enum weft_log_level);

/* Sends log output to 'path' (appending) in addition to stderr, or only to
 * stderr if 'path' is NULL.  Returns 0 or an errno value. */
int weft_log_set_file(const char *path);

/* Reopens the log file, e.g. after logrotate moved it (SIGHUP). */
int weft_log_reopen(void);

void weft_log_write(const char *module, enum weft_log_level,
                    const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#define WEFT_LOG_MODULE(NAME) \
    static const char weft_log_module_[] __attribute__((unused)) = #NAME

#define WEFT_LOG_(LEVEL, ...)                                   \
    do {                                                        \
        if ((LEVEL) <= weft_log_threshold) {                    \
            weft_log_write(weft_log_module_, LEVEL, __VA_ARGS__); \
        }                                                       \
    } while (0)

#define WEFT_LOG(LEVEL, ...) WEFT_LOG_(LEVEL, __VA_ARGS__)
#define WEFT_ERR(...) WEFT_LOG_(WEFT_LOG_ERR, __VA_ARGS__)
#define WEFT_WARN(...) WEFT_LOG_(WEFT_LOG_WARN, __VA_ARGS__)
#define WEFT_INFO(...) WEFT_LOG_(WEFT_LOG_INFO, __VA_ARGS__)
#define WEFT_DBG(...) WEFT_LOG_(WEFT_LOG_DBG, __VA_ARGS__)

#endif /* log.h */
