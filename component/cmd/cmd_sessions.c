/* sessions (ActiveJsmSessions per node) and XEP-0133 get-online-users-num. */
#include "component/cmd/commands.h"

#include "component/engine/sessions.h"
#include "store/store_user.h"
#include "util/log.h"

#include <stdio.h>

#define NS_ADMIN "http://jabber.org/protocol/admin"

static void add_row(form_t *f, const char *node, int64_t sessions, int64_t online, int64_t users)
{
    char s[24], o[24], u[24];

    snprintf(s, sizeof(s), "%lld", (long long)sessions);
    snprintf(o, sizeof(o), "%lld", (long long)online);
    snprintf(u, sizeof(u), "%lld", (long long)users);
    const char *cells[] = {node, s, o, u};
    form_add_row(f, cells);
}

static void sessions_step(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct store_node_users *load = NULL;
    size_t n = 0;
    form_t *f;

    if (store_user_count_per_node(app->store, &load, &n) != STORE_OK) {
        log_warnx("sessions: store: %s", store_errmsg(app->store));
        adhoc_fail(call, &(struct text){"The nodes could not be read: see the daemon's log.",
                                        "노드를 읽을 수 없습니다. 데몬 로그를 보세요."});
        return;
    }
    f = form_new(FORM_RESULT);
    form_set_title(f, &(struct text){"Active sessions (ActiveJsmSessions)",
                                     "활성 세션(ActiveJsmSessions)"});
    form_add_column(f, "node", FIELD_TEXT_SINGLE, &(struct text){"Node", "노드"});
    form_add_column(f, "sessions", FIELD_TEXT_SINGLE, &(struct text){"Sessions", "세션"});
    form_add_column(f, "online_users", FIELD_TEXT_SINGLE,
                    &(struct text){"Online users", "온라인 사용자"});
    form_add_column(f, "users", FIELD_TEXT_SINGLE,
                    &(struct text){"Assigned users", "할당된 사용자"});
    for (size_t i = 0; i < n; i++)
        add_row(f, load[i].node, sessions_on_node(app->sessions, load[i].node),
                sessions_users_on_node(app->sessions, load[i].node), load[i].users);
    store_node_users_free(load, n);
    adhoc_complete(call, f);
}

static const struct adhoc_command sessions_def = {
    .node = "sessions",
    .name = {"Active sessions per node", "노드별 활성 세션"},
    .step = sessions_step,
};

/* XEP-0133 4.15: a result form of FORM_TYPE NS_ADMIN with onlineusersnum. */
static void online_users_step(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    form_t *f = form_new(FORM_RESULT);
    form_field_t *fld;

    form_set_form_type(f, NS_ADMIN);
    fld = form_add_field(f, "onlineusersnum", FIELD_TEXT_SINGLE,
                         &(struct text){"The number of online users", "온라인 사용자 수"});
    form_field_add_int(fld, sessions_online_users(app->sessions));
    adhoc_complete(call, f);
}

static const struct adhoc_command online_users_def = {
    .node = NS_ADMIN "#get-online-users-num",
    .name = {"Get Number of Online Users", "온라인 사용자 수"},
    .step = online_users_step,
};

int cmd_sessions_register(struct app *app)
{
    if (adhoc_register(app->adhoc, &sessions_def, app) < 0 ||
        adhoc_register(app->adhoc, &online_users_def, app) < 0)
        return -1;
    return 0;
}
