/* XEP-0114 handshake digest with OpenSSL's EVP interface. */
#include "xmpp/handshake.h"

#include <openssl/evp.h>
#include <string.h>

int handshake_digest(const char *stream_id, const char *secret,
                     char out[HANDSHAKE_DIGEST_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    int ok = 0;

    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return -1;
    if (EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, stream_id, strlen(stream_id)) == 1 &&
        EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
        EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len == 20)
        ok = 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    for (unsigned int i = 0; i < md_len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    out[HANDSHAKE_DIGEST_LEN] = '\0';
    return 0;
}
