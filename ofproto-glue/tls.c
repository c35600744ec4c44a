/* TLS settings (see tls.h). */
#include <config.h>

#include "tls.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "stream-ssl.h"
#include "util.h"

int
tls_configure(const char *private_key, const char *certificate,
              const char *ca_cert, char **errorp)
{
    const char *const files[] = { private_key, certificate, ca_cert };
    const char *const what[] = { "ssl-private-key", "ssl-certificate",
                                 "ssl-ca-cert" };
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        if (access(files[i], R_OK)) {
            int error = errno;
            *errorp = xasprintf("%s %s: %s", what[i], files[i],
                                ovs_strerror(error));
            return error;
        }
    }
    stream_ssl_set_key_and_cert(private_key, certificate);
    /* No bootstrap: a peer's CA is never trusted on first use. */
    stream_ssl_set_ca_cert_file(ca_cert, false);
    *errorp = NULL;
    return 0;
}
