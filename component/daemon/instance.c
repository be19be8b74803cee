/* One serving instance per component JID: announcements to our own JID and the step-down rule
 * (see instance.h for why). */
#include "component/daemon/instance.h"

#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/stanza.h"

#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NONCE_BYTES 8
/* One answering burst per burst received (its announcements arrive together); a later
 * instance reconnects no sooner than 250 ms after standing by, and must be told again. */
#define ANSWER_GAP_MS 100
#define RESEND_MAX 16
#define RESEND_WINDOW_MS 2000

struct instance {
    uv_loop_t *loop;
    xmpp_ctx_t *ctx;
    const char *jid;
    instance_send_fn send;
    instance_step_down_fn step_down;
    void *ud;
    uint64_t started; /* wall clock, ms since the epoch: comparable across machines */
    char nonce[2 * NONCE_BYTES + 1];
    char started_text[24];
    uv_timer_t timer;
    bool ready;
    uint64_t last_answer; /* loop time of the last answering burst */
    /* Re-sends: an announcement the router handed back to us reached nobody else, so while
     * another instance may be listening (just after connecting, just after hearing one) it
     * goes out again, up to RESEND_MAX times within RESEND_WINDOW_MS. A burst alone misses
     * the other instance with probability 1/2^INSTANCE_BURST; with the re-sends, 1/2^20. */
    unsigned resends_left;
    uint64_t resend_until;
    unsigned seq;
};

bool instance_is_later(uint64_t a_started, const char *a_nonce, uint64_t b_started,
                       const char *b_nonce)
{
    if (a_started != b_started)
        return a_started > b_started;
    return strcmp(a_nonce, b_nonce) > 0;
}

static uint64_t loop_now(instance_t *in)
{
    uv_update_time(in->loop);
    return uv_now(in->loop);
}

static void send_one(instance_t *in)
{
    xmpp_stanza_t *msg = xmpp_message_new(in->ctx, NULL, in->jid, NULL);
    char id[48];

    snprintf(id, sizeof(id), "imd-instance-%s-%u", in->nonce, ++in->seq);
    xmpp_stanza_set_id(msg, id);
    xmpp_stanza_set_from(msg, in->jid);
    xmpp_stanza_t *el = stanza_add_element(msg, "instance", NS_IMD_INSTANCE);
    xmpp_stanza_set_attribute(el, "nonce", in->nonce);
    xmpp_stanza_set_attribute(el, "started", in->started_text);
    if (in->send(in->ud, msg) < 0)
        log_debug("instance: announcement not sent (link not ready)");
    xmpp_stanza_release(msg);
}

/* A burst, and a window in which returned announcements are sent again (see resends_left). */
static void announce_eagerly(instance_t *in)
{
    in->resends_left = RESEND_MAX;
    in->resend_until = loop_now(in) + RESEND_WINDOW_MS;
    for (int i = 0; i < INSTANCE_BURST; i++)
        send_one(in);
}

static void announce(instance_t *in)
{
    for (int i = 0; i < INSTANCE_BURST; i++)
        send_one(in);
}

static void on_timer(uv_timer_t *t)
{
    instance_t *in = t->data;

    if (in->ready)
        announce(in);
}

instance_t *instance_new(uv_loop_t *loop, xmpp_ctx_t *ctx, const char *jid, instance_send_fn send,
                         instance_step_down_fn step_down, void *ud)
{
    instance_t *in = xcalloc(1, sizeof(*in));
    unsigned char rnd[NONCE_BYTES];
    struct timespec now;

    in->loop = loop;
    in->ctx = ctx;
    in->jid = jid;
    in->send = send;
    in->step_down = step_down;
    in->ud = ud;
    clock_gettime(CLOCK_REALTIME, &now);
    in->started = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
    snprintf(in->started_text, sizeof(in->started_text), "%" PRIu64, in->started);
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) /* never fatal: the start time decides first */
        memset(rnd, 0, sizeof(rnd));
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(in->nonce + 2 * i, 3, "%02x", rnd[i]);
    uv_timer_init(loop, &in->timer);
    in->timer.data = in;
    return in;
}

void instance_on_ready(instance_t *in)
{
    in->ready = true;
    announce_eagerly(in);
    uv_timer_start(&in->timer, on_timer, INSTANCE_CHECK_MS, INSTANCE_CHECK_MS);
}

void instance_on_lost(instance_t *in)
{
    in->ready = false;
    uv_timer_stop(&in->timer);
}

static void describe(char *buf, size_t size, uint64_t ms)
{
    time_t secs = (time_t)(ms / 1000u);
    struct tm tm;

    char sec[32];

    if (gmtime_r(&secs, &tm) == NULL || strftime(sec, sizeof(sec), "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(buf, size, "%" PRIu64 " ms after the epoch", ms);
    else
        snprintf(buf, size, "%s.%03u UTC", sec, (unsigned)(ms % 1000u));
}

bool instance_on_stanza(instance_t *in, xmpp_stanza_t *stanza)
{
    const char *name = xmpp_stanza_get_name(stanza);

    if (name == NULL || strcmp(name, "message") != 0)
        return false;
    xmpp_stanza_t *el = stanza_child(stanza, "instance", NS_IMD_INSTANCE);
    if (el == NULL)
        return false;
    const char *from = xmpp_stanza_get_from(stanza);
    const char *nonce = xmpp_stanza_get_attribute(el, "nonce");
    const char *started_s = xmpp_stanza_get_attribute(el, "started");
    char *end = NULL;
    unsigned long long started = started_s ? strtoull(started_s, &end, 10) : 0;
    if (from == NULL || strcmp(from, in->jid) != 0 || nonce == NULL || started_s == NULL ||
        end == started_s || *end != '\0') {
        log_debug("instance: ignoring a malformed or foreign announcement from %s",
                  from ? from : "-");
        return true; /* ours in namespace: never a command */
    }
    if (strcmp(nonce, in->nonce) == 0) {
        /* Our own, routed back to us: alone, or the router picked us this time. */
        if (in->ready && in->resends_left > 0 && loop_now(in) < in->resend_until) {
            in->resends_left--;
            send_one(in);
        }
        return true;
    }
    if (!in->ready)
        return true;
    char when[64], mine[64], why[512];
    describe(when, sizeof(when), started);
    describe(mine, sizeof(mine), in->started);
    if (instance_is_later(in->started, in->nonce, started, nonce)) {
        snprintf(why, sizeof(why),
                 "another instance serves %s (started %s, nonce %.16s; this one started %s, "
                 "later): the router would split stanzas between us, so this one stands by",
                 in->jid, when, nonce, mine);
        in->ready = false;
        uv_timer_stop(&in->timer);
        in->step_down(in->ud, why);
        return true;
    }
    uint64_t now = loop_now(in);
    if (in->last_answer == 0 || now - in->last_answer >= ANSWER_GAP_MS) {
        log_warnx("instance: another instance connected as %s (started %s, nonce %.16s, later "
                  "than this one): it must stand by; telling it",
                  in->jid, when, nonce);
        in->last_answer = now;
        announce_eagerly(in);
    }
    return true;
}

void instance_free(instance_t *in)
{
    free(in); /* its timer was closed by the daemon's walk over the loop */
}
