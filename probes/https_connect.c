/*
 * https_connect.c - HTTPS CONNECT probe: the proxy port speaks TLS (HOPM's
 * HTTPS, solanum's httpsconnect).  The engine does the TLS handshake with
 * libevent's OpenSSL filter (PE_K_TLS; no certificate check: the nonce
 * is the proof), then this is HTTP CONNECT inside TLS.  A port that does not
 * speak TLS ends the handshake: closed, reason tls-failed.
 */
#include "config.h"
#include "pe_int.h"

#ifdef HAVE_LIBEVENT_OPENSSL
const struct pe_kind pe_kind_https_connect = {
	.name = "https-connect",
	.flags = PE_K_PROXY | PE_K_TLS,
	.priv_size = sizeof(struct pe_http_connect),
	.start = pe_http_connect_start,
	.on_read = pe_http_connect_read,
	.on_drained = pe_http_connect_drained,
};
#endif
