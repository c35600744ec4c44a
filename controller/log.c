/* Weft's logging facility: timestamped, levelled lines to stderr and
 * optionally to a log file.  See log.h. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum weft_log_level weft_log_threshold = WEFT_LOG_INFO;

static FILE *log_file;
static char *log_file_name;

static const char *const level_names[] = {
    [WEFT_LOG_OFF] = "OFF",
    [WEFT_LOG_ERR] = "ERR",
    [WEFT_LOG_WARN] = "WARN",
    [WEFT_LOG_INFO] = "INFO",
    [WEFT_LOG_DBG] = "DBG",
};

bool
weft_log_level_from_string(const char *s, enum weft_log_level *level)
{
    static const struct {
        const char *name;
        enum weft_log_level level;
    } names[] = {
        { "off", WEFT_LOG_OFF }, { "err", WEFT_LOG_ERR },
        { "error", WEFT_LOG_ERR }, { "warn", WEFT_LOG_WARN },
        { "warning", WEFT_LOG_WARN }, { "info", WEFT_LOG_INFO },
        { "dbg", WEFT_LOG_DBG }, { "debug", WEFT_LOG_DBG },
    };

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!strcasecmp(s, names[i].name)) {
            *level = names[i].level;
            return true;
        }
    }
    return false;
}

const char *
weft_log_level_to_string(enum weft_log_level level)
{
    return level <= WEFT_LOG_DBG ? level_names[level] : "?";
}

int
weft_log_set_file(const char *path)
{
    if (log_file) {
        fclose(log_file);
        log_file = NULL;
    }
    free(log_file_name);
    log_file_name = NULL;
    if (!path) {
        return 0;
    }
    log_file_name = strdup(path);
    return weft_log_reopen();
}

int
weft_log_reopen(void)
{
    if (!log_file_name) {
        return 0;
    }
    FILE *f = fopen(log_file_name, "a");
    if (!f) {
        return errno;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    if (log_file) {
        fclose(log_file);
    }
    log_file = f;
    return 0;
}

void
weft_log_write(const char *module, enum weft_log_level level,
               const char *format, ...)
{
    char stamp[40];
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof stamp - n, ".%03ldZ", ts.tv_nsec / 1000000);

    char msg[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(msg, sizeof msg, format, args);
    va_end(args);

    fprintf(stderr, "%s|%s|%s|%s\n", stamp, module,
            weft_log_level_to_string(level), msg);
    if (log_file) {
        fprintf(log_file, "%s|%s|%s|%s\n", stamp, module,
                weft_log_level_to_string(level), msg);
    }
}
