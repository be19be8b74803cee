/* The local control socket's wire format, shared by the daemon and imdomainctl: each message
 * is a 4-byte big-endian length followed by that many bytes of one XML <iq> element, the same
 * payloads XMPP clients send (XEP-0050 commands, disco#items). */
#ifndef IMD_CTL_PROTO_H
#define IMD_CTL_PROTO_H

#include <stdint.h>

#define CTL_FRAME_MAX (1024u * 1024u) /* one request or answer */
#define CTL_HEADER_LEN 4

static inline void ctl_put_len(unsigned char out[CTL_HEADER_LEN], uint32_t len)
{
    out[0] = (unsigned char)(len >> 24);
    out[1] = (unsigned char)(len >> 16);
    out[2] = (unsigned char)(len >> 8);
    out[3] = (unsigned char)len;
}

static inline uint32_t ctl_get_len(const unsigned char in[CTL_HEADER_LEN])
{
    return ((uint32_t)in[0] << 24) | ((uint32_t)in[1] << 16) | ((uint32_t)in[2] << 8) | in[3];
}

#endif
