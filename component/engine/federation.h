/* federation/check's probe: can we reach a remote XMPP domain's s2s service and trust it? DNS
 * SRV (falling back to the domain on 5269), TCP connect, s2s stream open, STARTTLS, the chain
 * against a CA file and the certificate's name, each step timed and bounded by a timeout. It
 * blocks: run it on a worker thread. The ping through the router is the command's own step. */
#ifndef IMD_FEDERATION_H
#define IMD_FEDERATION_H

#include <stddef.h>

#define FED_DEFAULT_PORT 5269
#define FED_DETAIL_MAX 512
#define FED_FEATURES_MAX 16384 /* bytes read while waiting for <stream:features/> */

enum fed_step { FED_RESOLVE, FED_CONNECT, FED_STREAM, FED_STARTTLS, FED_CHAIN, FED_NAME, FED_PING };
#define FED_STEPS 7

/* FED_TOLERATED: wrong by the standard, accepted by some servers (a certificate valid for the
 * domain by its subject CN only); not a failure for federation_first_failure. */
enum fed_state { FED_NOT_RUN, FED_OK, FED_FAILED, FED_TOLERATED };

struct fed_step_result {
    enum fed_state state;
    unsigned ms; /* how long the step took */
    char detail[FED_DETAIL_MAX];
};

struct fed_report {
    struct fed_step_result steps[FED_STEPS];
};

struct fed_options {
    const char *domain;    /* the remote domain (required) */
    const char *from;      /* our domain for the stream header; NULL: none */
    const char *ca_file;   /* trust anchors; NULL: OpenSSL's default paths */
    const char *overrides; /* "domain=host:port ..." used before DNS; NULL: none */
    unsigned timeout_ms;   /* per step */
};

/* "resolve", "connect", "stream", "starttls", "chain", "name", "ping" (static). */
const char *federation_step_name(enum fed_step step);

/* Runs the steps up to FED_NAME, stopping at the first failure (the later ones stay
 * FED_NOT_RUN), except that the name is checked whatever the chain step says. Fills *report
 * (zeroed first). */
void federation_probe(const struct fed_options *opts, struct fed_report *report);

/* The first failed step, or -1 when none failed. */
int federation_first_failure(const struct fed_report *report);

/* The SRV record with the lowest priority in the DNS answer `msg` of `len` bytes (RFC 1035
 * wire format, as res_nquery returns it): 1 with its target in `host` and its port in `port`,
 * 0 when there is none or the message is cut short before one. Public for its unit test. */
int federation_best_srv(const unsigned char *msg, int len, char *host, size_t host_size,
                        unsigned *port);

#endif
