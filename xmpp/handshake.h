/* XEP-0114 handshake digest: lower-case hex SHA-1 of the stream id followed by the secret. */
#ifndef IMD_HANDSHAKE_H
#define IMD_HANDSHAKE_H

#define HANDSHAKE_DIGEST_LEN 40

/* Writes 40 hex characters and a NUL into `out`; returns 0, or -1 if OpenSSL fails. */
int handshake_digest(const char *stream_id, const char *secret,
                     char out[HANDSHAKE_DIGEST_LEN + 1]);

#endif
