/*
 * https_connect.c - HTTPS CONNECT probe: the proxy port speaks TLS (HOPM's
 * HTTPS, solanum's httpsconnect).  The engine does the TLS handshake with
 * libevent's OpenSSL filter (PE_PROTO_TLS; no certificate check: the nonce
 * is the proof), then this is HTTP CONNECT inside TLS.  A port that does not
 * speak TLS ends the handshake: closed, reason tls-failed.
 */
#include "config.h"
#include "pe_int.h"

#ifdef HAVE_LIBEVENT_OPENSSL
const struct pe_proto pe_proto_https_connect = {
	.name = "https-connect",
	.flags = PE_PROTO_TLS,
	.start = pe_http_connect_start,
	.on_read = pe_http_connect_read,
};
#endif
