/* TLS for every connection weftd makes or accepts through OVS streams
 * ("ssl:" and "pssl:" remotes: hypervisors' OVSDB, the OpenFlow listener,
 * the policy database), with OVS's stream-ssl. */
#ifndef WEFT_TLS_H
#define WEFT_TLS_H 1

/* Sets weftd's private key and certificate and the CA certificate that
 * its peers' certificates must be signed by.  Each file must be readable
 * now (OVS reads them when a connection starts, and again when they
 * change, so certificates can be rotated in place).  Returns 0, or an
 * errno value with a malloc'd message in '*errorp' naming the file. */
int tls_configure(const char *private_key, const char *certificate,
                  const char *ca_cert, char **errorp);

#endif /* tls.h */
