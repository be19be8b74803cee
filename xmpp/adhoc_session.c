/* XEP-0050 ad-hoc commands: the sessions (ids, owners, idle expiry, the limits per JID and in
 * all) and the ids of ended sessions, remembered so that a late request hears session-expired. */
#include "xmpp/adhoc_session.h"

#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/adhoc_internal.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

/* The bare part of a JID (everything before '/'): "uid:N" for a control connection "uid:N/cK". */
static char *bare_of(const char *jid)
{
    const char *slash = strchr(jid, '/');
    return slash ? xstrndup(jid, (size_t)(slash - jid)) : xstrdup(jid);
}

/* ---- sessions ---- */

static void remember_ended(adhoc_t *a, const struct session *s, uint64_t now)
{
    struct ended *e;

    if (a->n_ended == ADHOC_MAX_ENDED) { /* forget the oldest */
        free(a->ended[a->ended_tail].owner);
        a->ended_tail = (a->ended_tail + 1) % ADHOC_MAX_ENDED;
        a->n_ended--;
    }
    e = &a->ended[(a->ended_tail + a->n_ended++) % ADHOC_MAX_ENDED];
    memcpy(e->id, s->id, sizeof(e->id));
    e->owner = xstrdup(s->owner);
    e->at = now;
}

const struct ended *adhoc_ended_find(const adhoc_t *a, const char *id, uint64_t now)
{
    for (size_t i = 0; i < a->n_ended; i++) {
        const struct ended *e = &a->ended[(a->ended_tail + i) % ADHOC_MAX_ENDED];
        if (strcmp(e->id, id) == 0 && now - e->at <= a->lim.ended_keep_ms)
            return e;
    }
    return NULL;
}

static void forget_old_ended(adhoc_t *a, uint64_t now)
{
    while (a->n_ended > 0 && now >= a->ended[a->ended_tail].at &&
           now - a->ended[a->ended_tail].at > a->lim.ended_keep_ms) {
        free(a->ended[a->ended_tail].owner);
        a->ended_tail = (a->ended_tail + 1) % ADHOC_MAX_ENDED;
        a->n_ended--;
    }
}

void adhoc_stage_clear(struct stage *st)
{
    form_free(st->shown);
    form_free(st->answer);
    memset(st, 0, sizeof(*st));
}

static void session_free(struct session *s)
{
    for (unsigned i = 0; i < s->depth; i++)
        adhoc_stage_clear(&s->stages[i]);
    if (s->state_free && s->state)
        s->state_free(s->state);
    adhoc_results_free(s->results, s->n_results);
    adhoc_notes_clear(&s->notes);
    free(s->owner);
    free(s->bare);
    free(s);
}

/* Unlinks and frees `s`; `remember` keeps its id so that late requests hear session-expired. */
void adhoc_session_end(adhoc_t *a, struct session *s, bool remember, uint64_t now)
{
    for (struct session **p = &a->sessions; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    a->n_sessions--;
    if (remember)
        remember_ended(a, s, now);
    session_free(s);
}

struct session *adhoc_session_find(const adhoc_t *a, const char *id)
{
    for (struct session *s = a->sessions; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

unsigned adhoc_session_count(const adhoc_t *a, const char *requester)
{
    char *bare = requester ? bare_of(requester) : NULL;
    unsigned n = 0;

    for (const struct session *s = a->sessions; s; s = s->next)
        if (bare == NULL || strcmp(s->bare, bare) == 0)
            n++;
    free(bare);
    return n;
}

/* Tells the end hook that the run of `s` is over. A paging session already ended its run when
 * its step completed. */
void adhoc_run_ended(const adhoc_t *a, const struct session *s, enum adhoc_end how,
                     const char *note)
{
    if (a->on_end && !s->paging)
        a->on_end(a->on_end_ud, s->cmd->def->node, s->owner, how, note);
}

void adhoc_on_end(adhoc_t *a, adhoc_end_fn fn, void *ud)
{
    a->on_end = fn;
    a->on_end_ud = ud;
}

bool adhoc_idle_too_long(const adhoc_t *a, const struct session *s, uint64_t now)
{
    return now > s->last && now - s->last > a->lim.timeout_ms;
}

unsigned adhoc_expire(adhoc_t *a, uint64_t now)
{
    unsigned n = 0;
    struct session *s = a->sessions, *next;

    for (; s; s = next) {
        next = s->next;
        if (s->busy == NULL && adhoc_idle_too_long(a, s, now)) {
            adhoc_run_ended(a, s, ADHOC_END_EXPIRED, NULL);
            log_info("adhoc: session expired node=%s owner=%s", s->cmd->def->node, s->owner);
            adhoc_session_end(a, s, true, now);
            n++;
        }
    }
    forget_old_ended(a, now);
    return n;
}

unsigned adhoc_end_owner(adhoc_t *a, const char *requester)
{
    uint64_t now = a->lim.clock(a->lim.clock_ud);
    unsigned n = 0;
    struct session *s = a->sessions, *next;

    for (; s; s = next) {
        next = s->next;
        if (s->busy == NULL && strcmp(s->owner, requester) == 0) {
            adhoc_run_ended(a, s, ADHOC_END_ABANDONED, NULL);
            log_info("adhoc: session abandoned node=%s owner=%s", s->cmd->def->node, s->owner);
            adhoc_session_end(a, s, true, now);
            n++;
        }
    }
    return n;
}

static int new_session_id(char out[SESSIONID_LEN + 1])
{
    unsigned char raw[SESSIONID_BYTES];
    static const char hex[] = "0123456789abcdef";

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        log_warnx("adhoc: RAND_bytes failed reason=no-entropy");
        return -1;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[SESSIONID_LEN] = '\0';
    return 0;
}

struct session *adhoc_session_new(adhoc_t *a, const struct req *r)
{
    struct session *s = xcalloc(1, sizeof(*s));

    if (new_session_id(s->id) < 0) {
        free(s);
        return NULL;
    }
    s->owner = xstrdup(r->requester);
    s->bare = bare_of(r->requester);
    s->cmd = r->reg;
    s->last = r->now;
    s->next = a->sessions;
    a->sessions = s;
    a->n_sessions++;
    return s;
}

/* The session of `requester`'s bare JID left alone longest (none waiting for a step), or NULL. */
static struct session *oldest_idle(const adhoc_t *a, const char *requester)
{
    char *bare = bare_of(requester);
    struct session *old = NULL;

    for (struct session *s = a->sessions; s; s = s->next)
        if (s->busy == NULL && strcmp(s->bare, bare) == 0 && (old == NULL || s->last < old->last))
            old = s;
    free(bare);
    return old;
}

/* At a limit, the requester's own oldest idle session makes room (a client that never cancels,
 * a forgotten form, must not lock its admin out); only others' sessions are never touched. */
xmpp_stanza_t *adhoc_over_limit(const struct req *r)
{
    adhoc_t *a = r->a;
    unsigned mine = adhoc_session_count(a, r->requester);
    struct session *old;

    while ((a->n_sessions >= a->lim.max_total || mine >= a->lim.max_per_jid) &&
           (old = oldest_idle(a, r->requester)) != NULL) {
        log_info("adhoc: session ended to make room node=%s owner=%s for=%s", old->cmd->def->node,
                 old->owner, r->node);
        adhoc_run_ended(a, old, ADHOC_END_EXPIRED, NULL);
        adhoc_session_end(a, old, true, r->now);
        mine--;
    }
    if (a->n_sessions < a->lim.max_total && mine < a->lim.max_per_jid)
        return NULL;
    log_warnx("adhoc: session limit node=%s requester=%s mine=%u max_per_jid=%u total=%u "
              "max_total=%u",
              r->node, r->requester, mine, a->lim.max_per_jid, a->n_sessions, a->lim.max_total);
    if (i18n_is_korean(r->lang))
        return adhoc_error_owned(r, "resource-constraint", NULL,
                                 xasprintf("열린 명령 세션이 너무 많습니다(내 세션 %u개, 한도 %u; "
                                           "전체 %u개, 한도 %u). 하나를 완료하거나 취소하세요",
                                           mine, a->lim.max_per_jid, a->n_sessions,
                                           a->lim.max_total));
    return adhoc_error_owned(
        r, "resource-constraint", NULL,
        xasprintf("too many open command sessions (%u of yours, limit %u; %u in "
                  "all, limit %u); complete or cancel one",
                  mine, a->lim.max_per_jid, a->n_sessions, a->lim.max_total));
}
