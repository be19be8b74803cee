/* Shared by the unit tests of component/engine/peer*.c: the fixture (setup, teardown) and the
 * helpers more than one of them uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/lib/peers_fixture.h"
#include "component/app.h"
#include "component/config.h"
#include "component/engine/peer_answer.h"
#include "component/engine/peer_findings.h"
#include "component/engine/peer_page.h"
#include "component/engine/peers_window.h"
#include "component/engine/sync.h"
#include "store/store_domain.h"
#include "store/store_peer.h"
#include "store/store_settings.h"
#include "store/store_user.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    char *err = NULL;

    config_defaults(&fx->cfg);
    fx->cfg.jid = xstrdup("a.example.test");
    fx->app.cfg = &fx->cfg;
    fx->app.store = store_open(":memory:", &err);
    fx->ctx = xmpp_ctx_new(NULL, NULL);
    fx->app.ctx = fx->ctx;
    *state = fx;
    return fx->app.store ? 0 : -1;
}

int teardown(void **state)
{
    struct fx *fx = *state;

    store_close(fx->app.store);
    xmpp_ctx_free(fx->ctx);
    config_free(&fx->cfg);
    free(fx);
    return 0;
}

/* ---- configuration ---- */

xmpp_stanza_t *parse_xml(struct fx *fx, const char *xml)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(fx->ctx, xml);
    assert_non_null(s);
    return s;
}

/* Parses `xml`; returns the error (malloc'd) or NULL, with *out filled on success. */
char *parse(struct fx *fx, const char *xml, struct peer_page *out)
{
    xmpp_stanza_t *s = parse_xml(fx, xml);
    char *err = NULL;
    int rc = peer_page_parse(s, out, &err);

    xmpp_stanza_release(s);
    assert_true((rc == 0) == (err == NULL));
    return err;
}

/* Builds the answer to (known, after); returns it serialised (malloc'd) or NULL with *err. */
char *answer(struct fx *fx, const char *known, const char *after, char **err)
{
    bool bad = false;
    xmpp_stanza_t *p = peer_answer_build(&fx->app, known, after, err, &bad);
    char *buf = NULL, *out;
    size_t len = 0;

    if (p == NULL)
        return NULL;
    assert_int_equal(xmpp_stanza_to_text(p, &buf, &len), XMPP_EOK);
    out = xstrdup(buf);
    xmpp_free(fx->ctx, buf);
    xmpp_stanza_release(p);
    return out;
}

void peer_says(struct fx *fx, const char *jid, const struct store_peer_domain *d, size_t n)
{
    struct store_peer_data data = {"v", "DOMAIN.NOT.SET", "userid@default", d, n, 0, false, 0,
                                   NULL};
    enum store_rc rc = store_peer_add(fx->app.store, jid, false);

    assert_true(rc == STORE_OK || rc == STORE_CONFLICT);
    assert_int_equal(store_peer_replace(fx->app.store, jid, &data, 100), STORE_OK);
}

/* Peers answered at 100 (peer_says): since 0 counts them, since 101 finds them expired. */
void audit_since(struct fx *fx, int64_t since, struct sync_report *r)
{
    assert_int_equal(sync_run(fx->app.store, since, r, NULL), 0);
}

void audit(struct fx *fx, struct sync_report *r)
{
    audit_since(fx, 0, r);
}
