# Integration tests of the long jobs through a real Prosody: default-domain over many users
# imported straight into the store, progress through jobs/status, pings answered while the job
# runs, kill -9 in the middle and a restart that finishes it, a failing batch with Retry and
# Cancel (rollback), settings round trip with the address-scheme job, the audit log, Korean.
import sqlite3
import sys

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

JID = "domains.example.test"
NEW = "new.example"
OLD = "DOMAIN.NOT.SET"
WAIT = 60  # seconds a job may take to end (grows under valgrind through h.SLOW)
BATCH = 1000  # JOB_BATCH_ROWS (component/engine/job.h): users per batch, one transaction each


# ---------------------------------------------------------------------------------------------
# The store, read and written beside the daemon (WAL lets both work at once)


def _db(d):
    db = sqlite3.connect(d.store, timeout=10)
    db.execute("PRAGMA busy_timeout = 10000")
    return db


def _insert_users(d, n, with_uri=False):
    db = _db(d)
    rows = (("u%06d" % i, ("u%06d@Corp.example" % i) if with_uri else "",
             "corp.example" if with_uri else "", "u%06d@%s" % (i, OLD)) for i in range(n))
    db.executemany("INSERT INTO users (userid, directory_uri, uri_domain, im_address)"
                   " VALUES (?, ?, ?, ?)", rows)
    db.commit()
    h.recount_im_domains(db)
    db.close()


def _with_users(n, with_uri=False):
    """Prosody + a running daemon whose store got n users + a logged-in admin. The users are
    inserted once the daemon runs, so that its start-up work (probing the presence of every
    user) does not cover them and the tests see the job alone."""
    p = h.Prosody()
    d = h.Daemon(p)
    _insert_users(d, n, with_uri)
    c = h.Client(p, "admin")
    return p, d, c


def _job(d, job_id=None):
    """(state, done, total) of a job (the newest when job_id is None), or None."""
    db = _db(d)
    try:
        if job_id is None:
            row = db.execute("SELECT state, done, total FROM jobs ORDER BY id DESC LIMIT 1")
        else:
            row = db.execute("SELECT state, done, total FROM jobs WHERE id = ?", (job_id,))
        return row.fetchone()
    finally:
        db.close()


def _count_not_at(d, domain):
    """Users whose IM address is not userid@domain."""
    db = _db(d)
    try:
        return db.execute("SELECT count(*) FROM users WHERE im_address <> userid || '@' || ?",
                          (domain,)).fetchone()[0]
    finally:
        db.close()


def _default_domain(d):
    db = _db(d)
    try:
        return db.execute("SELECT default_domain FROM settings").fetchone()[0]
    finally:
        db.close()


def _wait_state(d, states, timeout=WAIT):
    found = h.wait_for(lambda: (_job(d) or (None,))[0] in states, timeout * h.SLOW, 0.02)
    check(found, "the job did not reach %s: %r" % (states, _job(d)))


def _fault(d, userid, domain):
    """Makes any batch that writes userid@domain for `userid` fail (a stand-in for a full disk)."""
    db = _db(d)
    db.execute("CREATE TRIGGER fault BEFORE UPDATE OF im_address ON users"
               " WHEN NEW.userid = '%s' AND NEW.im_address = '%s@%s'"
               " BEGIN SELECT RAISE(ABORT, 'injected fault'); END" % (userid, userid, domain))
    db.commit()
    db.close()


def _unfault(d):
    db = _db(d)
    db.execute("DROP TRIGGER fault")
    db.commit()
    db.close()


# ---------------------------------------------------------------------------------------------
# Commands


def _start_default(c, domain, lang=None):
    """Runs default-domain to the end; returns the completed Command."""
    first = c.command(JID, "default-domain", lang=lang)
    check(first.status == "executing", "default-domain did not show a form: %r" % first)
    return c.command(JID, "default-domain", "complete", first.sessionid, {"domain": domain},
                     lang=lang)


def _status(c, job_id, lang=None):
    """jobs/status up to the view of job_id: the Command (executing or completed)."""
    first = c.command(JID, "jobs/status", lang=lang)
    check(first.status == "executing", "jobs/status: %r" % first)
    return c.command(JID, "jobs/status", "next", first.sessionid, {"job": str(job_id)},
                     lang=lang)


def _fixed_texts(cmd):
    return [v.text or "" for f in cmd.form.findall("{%s}field" % h.NS_DATA)
            if f.get("type") == "fixed" for v in f.findall("{%s}value" % h.NS_DATA)]


# ---------------------------------------------------------------------------------------------
# Tests


def test_default_domain_form():
    "default-domain shows the current value, the preconditions and the local domains; bad names"
    _, _, c = _with_users(10)
    first = c.command(JID, "default-domain")
    check(first.status == "executing" and first.field("domain") is not None, repr(first))
    texts = " ".join(_fixed_texts(first))
    check("Current default domain: %s" % OLD in texts, texts)
    check("Preconditions: met" in texts, texts)
    err = c.command(JID, "default-domain", "complete", first.sessionid, {"domain": "Abc.1om"})
    check(err.rejected() and err.sessionid == first.sessionid, repr(err))
    check("digit" in err.rejected(), "the refusal names the rule: %r" % err.notes)
    c.command(JID, "default-domain", "cancel", first.sessionid)
    ko = c.command(JID, "default-domain", lang="ko")
    check("현재 기본 도메인: %s" % OLD in " ".join(_fixed_texts(ko)), repr(ko))
    c.command(JID, "default-domain", "cancel", ko.sessionid, lang="ko")


def test_job_with_progress_and_pings():
    "default-domain over 20,000 users: progress in jobs/status, pings answered, all-new at the end"
    n = h.sized(20000, 3000)  # a few batches at least
    _, d, c = _with_users(n)
    done = _start_default(c, NEW)
    check(done.status == "completed", repr(done))
    check(any(t == "info" and "started job 1" in n for t, n in done.notes), repr(done.notes))
    check(_default_domain(d) == NEW, "the setting holds the target from the start")
    answered_while_running = 0
    for _ in range(200):
        state = _job(d)
        check(c.ping(JID), "ping not answered during the job")
        if state[0] == "running" and _job(d)[0] == "running":
            answered_while_running += 1
        if state[0] != "running":
            break
    view = _status(c, 1)
    while view.status == "executing":  # refreshed in place with next
        check(view.actions and "next" in view.actions, repr(view))
        check(any("of %d users" % n in note for _, note in view.notes), repr(view.notes))
        view = c.command(JID, "jobs/status", "next", view.sessionid)
    _wait_state(d, ("completed",))
    check(view.value("state") == "completed", repr(view))
    check(view.value("done") == str(n), repr(view))
    check(_count_not_at(d, NEW) == 0, "users left with an old address")
    h.tap.comment("pings answered while the job was running: %d" % answered_while_running)


def test_kill_mid_job_resumes():
    "kill -9 in the middle of the job, restart: it resumes from its cursor and ends all-new"
    total = h.sized(200000, 20000)
    _, d, c = _with_users(total)
    _start_default(c, NEW)
    caught = h.wait_for(lambda: (_job(d)[0] == "running" and _job(d)[1] >= total // 50) or
                        _job(d)[0] != "running", WAIT * h.SLOW, 0.001)
    check(caught, "no progress")
    d.kill()
    state, done_at_kill, _ = _job(d)
    if state != "running":
        raise h.Skip("the job ended before the kill (%s); nothing to resume" % state)
    mixed = _count_not_at(d, NEW)
    check(0 < mixed < total, "expected a mix at the kill, %d not new" % mixed)
    h.tap.comment("killed at %d of %d users" % (done_at_kill, total))
    mark = d.log_size()
    d.start()
    check(d.wait_log(r"job: resuming id=1", 10, start=mark), "no resume line")
    _wait_state(d, ("completed",))
    check(_count_not_at(d, NEW) == 0, "users left with an old address after the resume")
    check(_job(d)[1] == total, "done %r" % (_job(d),))
    check(_default_domain(d) == NEW)


def test_failure_cancel_then_retry():
    "a failing batch: the job waits in failed; Cancel rolls back (all-old), Retry finishes (all-new)"
    n = h.sized(20000, 3000)
    _, d, c = _with_users(n)
    fault = n // 2  # the batch holding this user fails; the batches before it are done
    _fault(d, "u%06d" % fault, NEW)
    _start_default(c, NEW)
    _wait_state(d, ("failed",))
    check(_job(d)[1] == fault - fault % BATCH, "failed at %r" % (_job(d),))
    view = _status(c, 1)
    check(view.status == "executing", repr(view))
    check(set(view.actions) >= {"next", "complete"}, repr(view.actions))
    check(any(t == "warn" and "injected fault" in n for t, n in view.notes), repr(view.notes))
    # another change is refused while the job waits
    again = _start_default(c, "other.example")
    check(any(t == "error" for t, _ in again.notes), repr(again.notes))
    # Cancel: roll back
    canceled = c.command(JID, "jobs/status", "cancel", view.sessionid)
    check(canceled.status == "canceled", repr(canceled))
    check(any("Cancel started" in n for _, n in canceled.notes), repr(canceled.notes))
    _wait_state(d, ("canceled",))
    check(_count_not_at(d, OLD) == 0, "users left with the new address after the rollback")
    check(_default_domain(d) == OLD)

    # the same change again, and Retry once the fault is gone
    _start_default(c, NEW)
    _wait_state(d, ("failed",))
    _unfault(d)
    view = _status(c, 2, lang="ko")
    check(any("실패" in n for _, n in view.notes), repr(view.notes))
    retried = c.command(JID, "jobs/status", "next", view.sessionid, lang="ko")
    check(any("재시도" in n for _, n in retried.notes), repr(retried.notes))
    _wait_state(d, ("completed",))
    check(_count_not_at(d, NEW) == 0)
    final = _status(c, 2)
    check(final.status == "completed" and final.value("attempts") == "2", repr(final))


def test_settings_roundtrip_and_scheme_job():
    "settings: prefilled, saved, shown again; a new scheme re-derives every address; Korean"
    _, d, c = _with_users(h.sized(5000, 2000), with_uri=True)
    first = c.command(JID, "settings")
    check(first.value("im_address_scheme") == "userid@default", repr(first))
    check(first.value("audit_time") == "02:00", repr(first))
    done = c.command(JID, "settings", "complete", first.sessionid, {
        "im_address_scheme": "directory-uri", "tls_federation": True, "wildcard_sans": False,
        "cucm_domain_sip_proxy": "sip.corp.example", "audit_time": "3:15"})
    check(done.status == "completed", repr(done))
    info = " ".join(n for t, n in done.notes if t == "info")
    for want in ("tls_federation: off → on", "audit_time: 02:00 → 03:15",
                 "im_address_scheme: userid@default → directory-uri", "job 1"):
        check(want in info, "%r not in %r" % (want, info))
    _wait_state(d, ("completed",))
    db = _db(d)
    wrong = db.execute("SELECT count(*) FROM users WHERE im_address <> directory_uri").fetchone()
    db.close()
    check(wrong[0] == 0, "%d users without their directory URI as IM address" % wrong[0])
    again = c.command(JID, "settings", lang="ko")
    check(again.value("tls_federation") in ("1", "true"), repr(again))
    check(again.value("audit_time") == "03:15" and
          again.value("cucm_domain_sip_proxy") == "sip.corp.example", repr(again))
    title = again.form.find("{%s}title" % h.NS_DATA)
    check(title is not None and title.text == "클러스터 설정", "Korean title")
    bad = c.command(JID, "settings", "complete", again.sessionid, {
        "im_address_scheme": "directory-uri", "tls_federation": True, "wildcard_sans": False,
        "cucm_domain_sip_proxy": "", "audit_time": "25:00"}, lang="ko")
    # A wrong value keeps the session: the same form with what was entered, the field named
    # by its (Korean) label, and the note inside the form too.
    check(bad.status == "executing" and bad.sessionid == again.sessionid, repr(bad))
    check(bad.value("audit_time") == "25:00" and
          bad.value("cucm_domain_sip_proxy") in ("", None), repr(bad))
    errors = [n for t, n in bad.notes if t == "error"]
    check(errors and errors[0].startswith("야간 동기화 감사 시각 [audit_time]: '25:00'"),
          repr(bad.notes))
    fixed = [v.text for f in bad.form.findall("{%s}field" % h.NS_DATA)
             if f.get("type") == "fixed" for v in f.findall("{%s}value" % h.NS_DATA)]
    check(any(x.startswith("오류: 야간 동기화 감사 시각") for x in fixed), repr(fixed))
    check(c.cancel(JID, "settings", bad.sessionid).status == "canceled")


def test_audit_log_shows_runs():
    "audit-log: the runs of settings, default-domain and the job itself, newest first; Korean"
    _, d, c = _with_users(100)
    _start_default(c, NEW)
    _wait_state(d, ("completed",))
    first = c.command(JID, "settings")
    c.command(JID, "settings", "complete", first.sessionid, {
        "im_address_scheme": "userid@default", "tls_federation": False, "wildcard_sans": True,
        "cucm_domain_sip_proxy": "", "audit_time": "02:00"})
    form = c.command(JID, "audit-log")
    check(form.value("since") == "24h", repr(form))
    res = c.command(JID, "audit-log", "complete", form.sessionid, {"since": "24h", "actor": ""})
    rows = res.items()
    nodes = [r["node"][0] for r in rows]
    for want in ("settings", "default-domain", "job/default-domain"):
        check(want in nodes, "%s missing from %r" % (want, nodes))
    times = [r["time"][0] for r in rows]
    check(times == sorted(times, reverse=True), "not newest first: %r" % times)
    check(all(t.endswith("Z") and "T" in t for t in times), repr(times))
    job_row = rows[nodes.index("job/default-domain")]
    check(job_row["outcome"] == ["ok"] and job_row["actor"] == ["imdomaind"], repr(job_row))
    mine = c.command(JID, "audit-log", lang="ko")
    res = c.command(JID, "audit-log", "complete", mine.sessionid,
                    {"since": "1h", "actor": "admin@example.test/elsewhere"}, lang="ko")
    check(res.items() and all(r["actor"] == ["admin@example.test"] for r in res.items()),
          repr(res.items()))
    labels = [f.get("label") for f in res.form.find("{%s}reported" % h.NS_DATA)]
    check("시각(UTC)" in labels, repr(labels))


h.tap.run([
    test_default_domain_form,
    test_job_with_progress_and_pings,
    test_kill_mid_job_resumes,
    test_failure_cancel_then_retry,
    test_settings_roundtrip_and_scheme_job,
    test_audit_log_shows_runs,
])
