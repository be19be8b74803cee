# The guide's rules that issue 12 closed, each through a real Prosody and the built daemon with
# a slixmpp admin, in English and Korean where a message says what to do: services under HA,
# the default domain as a hosted domain, the multi-domain release rule, HA re-enable, the
# 255-character domain and the certificate, settle_time, and the refusals that name their cause.
import os
import re
import sqlite3
import sys

sys.dont_write_bytecode = True
import harness as h  # noqa: E402
from harness import check  # noqa: E402
import topo_common as tc  # noqa: E402

JID = tc.JID
A, B = "cup-a.example.test", "cup-b.example.test"


def _run(c, node, form, lang=None):
    """Execute `node` and complete its first form with `form`."""
    r = c.execute(JID, node, lang=lang)
    if r.status == "completed":
        return r
    return c.complete(JID, node, r.sessionid, form=form, lang=lang, raise_error=False,
                      timeout=60)


def _errors(r):
    return tc.error_notes(r)


def _notes(r, kind=None):
    return [t for k, t in r.notes if kind is None or k == kind]


# Prosody includes the daemon's vhosts file and activates what it lists (contrib/prosody), as a
# deployment does (the same wiring as test_domains.py).
HOSTS_MODULE_DIR = os.path.join(os.environ.get("IMD_SRCDIR", "."), "contrib", "prosody")


class _OnHost:
    """The Prosody as seen from another of its virtual hosts (for h.Client)."""

    def __init__(self, prosody, host):
        self.prosody, self.host, self.c2s_port = prosody, host, prosody.c2s_port

    def register(self, user, password):
        return self.prosody.register(user, password, host=self.host)


def _router_daemon(extra_settings=None):
    """Prosody wired to the daemon's vhosts file and reload hook; returns (p, d, c, vhosts)."""
    here = h.tmpdir("router")
    vhosts = os.path.join(here, "vhosts.cfg.lua")
    modules = ", ".join('"%s"' % m for m in h.Prosody.MODULES + ["imdomaind_hosts"])
    p = h.Prosody(include=vhosts, extra='plugin_paths = { "%s" }\nmodules_enabled = { %s }'
                  % (HOSTS_MODULE_DIR, modules))
    settings = {"router": {"vhosts_file": vhosts,
                           "reload_hook": "%s --config %s reload" % (h.Prosody.CTL, p.config)}}
    settings.update(extra_settings or {})
    d = h.Daemon(p, settings=settings)
    c = h.Client(p, "admin")
    return p, d, c, vhosts


def _db_value(d, sql, args=()):
    db = sqlite3.connect(d.store, timeout=10)
    try:
        return db.execute(sql, args).fetchone()
    finally:
        db.close()


def _set_default(c, d, domain, lang=None):
    """default-domain to `domain`, waiting for its job to finish."""
    r = c.execute(JID, "default-domain", lang=lang)
    r = c.complete(JID, "default-domain", r.sessionid, form={"domain": domain}, lang=lang,
                   timeout=60)
    check(not _errors(r), "default-domain: %r" % r)
    done = h.wait_for(lambda: _db_value(d, "SELECT state FROM jobs ORDER BY id DESC LIMIT 1")
                      == ("completed",), 60 * h.SLOW)
    check(done, "the default-domain job did not finish")


def _import(c, lines, lang=None):
    """users/import; the answer waits for the router's reload when the domain set changed."""
    r = c.execute(JID, "users/import", lang=lang)
    r = c.complete(JID, "users/import", r.sessionid, form={"users": lines}, lang=lang,
                   timeout=60)
    check(r.status == "completed" and not _errors(r), "users/import: %r" % r)
    return r


def _listed(c, lang=None):
    r = c.execute(JID, "domains/list", form={}, lang=lang)
    return {row["domain"][0]: row for row in r.items()}, r


def _two_nodes_ha_on(c):
    tc.add_node(c, A, "publisher", "g1")
    tc.add_node(c, B, "subscriber", "g1")
    r = _run(c, "ha/enable", {"groups": ["g1"]})
    check(not _errors(r), "ha/enable: %r" % r)


def test_services_stop_refused_under_ha():
    "services: stopping on a node of a group with HA on is refused (ha/disable) unless failover"
    p = h.Prosody()
    tc.daemon(p)
    c = h.Client(p, "admin")
    _two_nodes_ha_on(c)
    r = c.execute(JID, "services")
    f = r.field("failover")
    check(f is not None and f.get("type") == "boolean" and f.get("label"),
          "the failover box is a labelled boolean: %r" % r)
    c.cancel(JID, "services", r.sessionid)
    for lang, words in ((None, ("HA is on", "ha/disable", A, "failover")),
                        ("ko", ("HA가 켜진", "ha/disable", A, "장애 조치"))):
        r = _run(c, "services", {"nodes": [A], "services": ["sync-agent"], "operation": "stop"},
                 lang=lang)
        why = " ".join(_errors(r))
        check(all(w in why for w in words), "refusal (%s): %r" % (lang, why))
    for op in ("stop-all", "restart"):
        r = _run(c, "services", {"nodes": [B], "operation": op,
                                 "services": [] if op == "stop-all" else ["xcp-router"]})
        check(_errors(r) and "ha/disable" in _errors(r)[0], "%s: %r" % (op, r))
    # Nothing was stopped.
    states = {(row["node"][0], row["service"][0]): row["outcome"][0]
              for row in _run(c, "services", {"nodes": [A], "services": ["xcp-router"],
                                              "operation": "start"}).items()}
    check(states == {(A, "xcp-router"): "already running"}, "after refusals: %r" % states)
    # Starting is fine under HA, and an explicit failover goes ahead.
    r = _run(c, "services", {"nodes": [A], "services": ["sync-agent"], "operation": "stop",
                             "failover": "true"})
    rows = [(row["service"][0], row["outcome"][0]) for row in r.items()]
    check(not _errors(r) and rows == [("sync-agent", "stopped")], "failover: %r" % r)
    # With HA off the stop needs no box.
    r = _run(c, "ha/disable", {"groups": ["g1"]})
    r = _run(c, "services", {"nodes": [B], "services": ["sync-agent"], "operation": "stop"})
    check(not _errors(r), "stop with HA off: %r" % r)


def test_default_domain_is_hosted():
    "the default domain is listed, served by the router, in the certificate, counted, kept"
    certs = h.tmpdir("certs")
    p, d, c, vhosts = _router_daemon({"certs": {"dir": certs}})
    _import(c, ["u1,u1@corp.example", "u2,", "u3,"])
    _set_default(c, d, "proc.example")
    rows, r = _listed(c)
    row = rows.get("proc.example")
    check(row is not None, "the default domain is not listed: %r" % sorted(rows))
    check(row["default"] == ["yes"] and row["where"] == ["local"], "row %r" % row)
    check(row["local_users"] == ["3"] and row["managed_by"] == ["system"], "row %r" % row)
    check(rows["corp.example"]["default"] == ["no"], "corp %r" % rows["corp.example"])
    # The router serves it: the vhosts file names it, Prosody activated it, a user logs in.
    h.wait_for(lambda: 'VirtualHost "proc.example"' in h.read_text(vhosts), 30 * h.SLOW)
    check('VirtualHost "proc.example"' in h.read_text(vhosts), h.read_text(vhosts))
    check(p.wait_log(r"Activated host: proc\.example", 10 * h.SLOW), "proc.example not active")
    u1 = h.Client(_OnHost(p, "proc.example"), "u1")
    check(u1.ping("proc.example"), "no ping on the default domain's host")
    u1.close()
    # The certificate covers it.
    r = _run(c, "certs/regenerate", {"key_type": "ec-p256", "days": "90", "xmpp_addr": False})
    check(not _errors(r), "regenerate: %r" % r)
    sans = c.execute(JID, "certs/show").values("sans")
    check(any("proc.example" in s for s in sans), "SANs %r" % sans)
    # It cannot be added again, renamed or deleted; the way out is named, in both languages.
    r = _run(c, "domains/add", {"domain": "Proc.Example"})
    check(_errors(r) and "default domain" in _errors(r)[0], "add: %r" % r)
    _run(c, "domains/add", {"domain": "spare.example"})
    for lang, words in ((None, ("proc.example is the cluster's default domain",
                                "3 users", "default-domain")),
                        ("ko", ("기본 도메인", "3명", "default-domain"))):
        r = c.execute(JID, "domains/delete", lang=lang)
        check("proc.example" not in r.values("domains") and
              "proc.example" not in [o.get("value") for o in r.field("domains")],
              "offered for deletion: %r" % r)
        r = c.next(JID, "domains/delete", r.sessionid, form={"domains": ["proc.example"]},
                   lang=lang)
        why = " ".join(_errors(r))
        check(all(w in why for w in words), "delete (%s): %r" % (lang, why))
        r = c.execute(JID, "domains/update", lang=lang)
        r = c.next(JID, "domains/update", r.sessionid, form={"domain": "proc.example"},
                   lang=lang)
        why = " ".join(_errors(r))
        check(all(w in why for w in words), "update (%s): %r" % (lang, why))
    rows, _ = _listed(c)
    check("proc.example" in rows, "gone after the refusals: %r" % sorted(rows))
    # A rename goes through the default-domain job; the old name is then an ordinary domain.
    _set_default(c, d, "renamed.example")
    rows, _ = _listed(c)
    check(rows["renamed.example"]["default"] == ["yes"] and "proc.example" not in rows,
          "after the rename: %r" % sorted(rows))
    check('VirtualHost "renamed.example"' in h.read_text(vhosts), h.read_text(vhosts))


def _release_of(c, node):
    rows = {row["node"][0]: row for row in c.execute(JID, "topology").items()}
    return rows[node]["release"][0]


def test_topology_release_rule_and_causes():
    "topology/edit: refusals name their cause; no node below 10.0 while several domains; SIP proxy"
    p = h.Prosody()
    tc.daemon(p)  # default domain: example.test
    c = h.Client(p, "admin")
    r = tc.add_node(c, A, "publisher", "g1")
    check(any("example.test" in n and "SIP" in n for n in _notes(r, "info")),
          "the publisher's DNS domain is not the SIP proxy: %r" % r)
    r = c.execute(JID, "settings")
    check(r.value("cucm_domain_sip_proxy") == "example.test", "settings: %r" % r.values(
        "cucm_domain_sip_proxy"))
    c.cancel(JID, "settings", r.sessionid)
    tc.add_node(c, B, "subscriber", "g1")
    cases = [
        ({"name": "cup-c.example.test", "role": "subscriber", "release": "15.0", "group": "g1"},
         ("Group g1 is full", A, B), ("g1", "가득", A)),
        ({"name": "cup-c.example.test", "role": "publisher", "release": "15.0", "group": "g2"},
         ("publisher already: " + A,), ("게시자가 이미", A)),
        ({"name": B.upper(), "role": "subscriber", "release": "15.0", "group": "g2"},
         ("The name is taken", B), ("이름이 이미", B)),
    ]
    for fields, en, ko in cases:
        for lang, words in ((None, en), ("ko", ko)):
            why = " ".join(_errors(tc.edit(c, "add-node", fields, lang=lang)))
            check(all(w in why for w in words), "%r (%s): %r" % (fields, lang, why))
    # B to publisher: the cause is the other publisher, not the name or the group.
    why = " ".join(_errors(tc.edit(c, "update-node", {"node": B, "role": "publisher"})))
    check("publisher already: " + A in why, "update to publisher: %r" % why)
    # One hosted domain (the default): a node may run 9.1 ...
    r = tc.edit(c, "update-node", {"node": B, "release": "9.1"})
    check(not _errors(r) and _release_of(c, B) == "9.1", "9.1 with one domain: %r" % r)
    tc.edit(c, "update-node", {"node": B, "release": "15.0"})
    # ... but not once a second domain is hosted (domains/add needs the services stopped).
    r = _run(c, "services", {"operation": "stop-all"})
    check(not _errors(r), "stop-all: %r" % r)
    r = _run(c, "domains/add", {"domain": "second.example"})
    check(not _errors(r), "domains/add: %r" % r)
    for lang, words in ((None, ("cannot go to release 9.1", "2 IM domains", "example.test",
                                "second.example", "10.0")),
                        ("ko", ("9.1", "IM 도메인 2개", "10.0"))):
        why = " ".join(_errors(tc.edit(c, "update-node", {"node": B, "release": "9.1"},
                                       lang=lang)))
        check(all(w in why for w in words), "lowering (%s): %r" % (lang, why))
    check(_release_of(c, B) == "15.0", "the release changed anyway")
    why = " ".join(_errors(tc.edit(c, "add-node", {"name": "cup-d.example.test",
                                                   "role": "subscriber", "release": "9.1",
                                                   "group": "g2"})))
    check("cannot go to release 9.1" in why, "adding a 9.1 node: %r" % why)


def test_audit_release_finding():
    "the sync audit adds a domain users have despite a 9.1 node, and raises a finding naming it"
    p = h.Prosody()
    tc.daemon(p)
    c = h.Client(p, "admin")
    tc.add_node(c, A, "publisher", "g1")
    tc.add_node(c, B, "subscriber", "g1", release="9.1")
    for lang, words in ((None, ("Finding", "2 IM domains", B + " (9.1)", "10.0")),
                        ("ko", ("발견 사항", "IM 도메인 3개", B + " (9.1)", "10.0"))):
        user = "u-%s" % (lang or "en")
        r = _import(c, ["%s,%s@new-%s.example" % (user, user, lang or "en")], lang=lang)
        warn = " ".join(_notes(r, "warn"))
        check(all(w in warn for w in words), "import (%s): %r" % (lang, r.notes))
        rows, lst = _listed(c, lang=lang)
        check("new-%s.example" % (lang or "en") in rows, "not added: %r" % sorted(rows))
        check(any(all(w in n for w in words) for n in _notes(lst, "warn")),
              "domains/list (%s): %r" % (lang, lst.notes))
    r = c.execute(JID, "sync/audit")
    check(any(B in n for n in _notes(r, "warn")), "sync/audit: %r" % r.notes)
    log = c.execute(JID, "audit-log", form={})
    if log.status != "completed":
        log = c.complete(JID, "audit-log", log.sessionid, form={})
    text = repr(log.items()) + repr([v for f in log.form.findall("{%s}field" % h.NS_DATA)
                                     for v in log.values(f.get("var"))])
    check("Finding" in text and B in text, "audit log: %s" % text[:2000])


def _presence(c, **kw):
    async def send():
        c.xmpp.send_presence(**kw)
    h._run(send(), 5)


def _sessions_are(admin, want):
    ok = h.wait_for(lambda: {n: v[0] for n, v in tc.sessions(admin).items()} == want,
                    15 * h.SLOW, interval=0.2)
    check(ok, "sessions %r, expected %r" % (tc.sessions(admin), want))


def test_ha_enable_recorded_and_assigned():
    "ha/enable: per node, sessions vs recorded (refused below) and vs assigned users (warned)"
    p = h.Prosody()
    tc.daemon(p)
    admin = h.Client(p, "admin")
    tc.add_node(admin, A, "publisher", "g1")
    tc.add_node(admin, B, "subscriber", "g1")
    names = ["u0", "u1", "u2", "u3"]
    tc.import_users(admin, ["%s,%s@%s,%s" % (u, u, p.host, (A, A, B, B)[i])
                            for i, u in enumerate(names)])
    clients = {}
    for u in ("u0", "u2", "u3"):  # u1 (assigned to a) stays offline
        clients[u] = h.Client(p, u)
        _presence(clients[u], pto=JID, ptype="subscribe")
    _sessions_are(admin, {A: 1, B: 2})
    tc.one_shot(admin, "ha/enable", {})  # HA on to begin with
    r = tc.one_shot(admin, "ha/disable", {})
    clients["u3"].close()
    _sessions_are(admin, {A: 1, B: 1})
    for lang, words in ((None, ("node %s: 1 sessions, 2 recorded, 2 users assigned" % B,)),
                        ("ko", ("노드 %s: 세션 1개, 기록된 수 2개, 할당된 사용자 2명" % B,))):
        r = tc.one_shot(admin, "ha/enable", {}) if lang is None else _run(
            admin, "ha/enable", {}, lang=lang)
        why = " ".join(_errors(r))
        check(all(w in why for w in words) and A + ":" not in why,
              "refusal (%s): %r" % (lang, why))
        rows = {row["node"][0]: (row["sessions"][0], row["recorded"][0], row["assigned"][0],
                                 row["verdict"][0]) for row in r.items()}
        check(rows == {A: ("1", "1", "2", "below assigned"), B: ("1", "2", "2", "below recorded")},
              "report (%s): %r" % (lang, rows))
    clients["u3"] = h.Client(p, "u3", register=False)
    _sessions_are(admin, {A: 1, B: 2})
    for lang, words in ((None, ("%s has 1 sessions, fewer than the 2 users assigned" % A,)),
                        ("ko", ("%s의 세션 1개가 할당된 사용자 2명보다 적습니다" % A,))):
        r = _run(admin, "ha/enable", {}, lang=lang)
        check(not _errors(r), "refused (%s): %r" % (lang, r.notes))
        warn = " ".join(_notes(r, "warn"))
        check(all(w in warn for w in words) and B not in warn, "warning (%s): %r" % (lang, warn))
        tc.one_shot(admin, "ha/disable", {})


def test_settle_time_below_the_guide():
    "[ha] settle_time below 120 s: -n and the start-up log warn; the wait message is exact"
    p = h.Prosody()
    d = tc.daemon(p, settings={"ha": {"settle_time": 20}})
    rc, out, _ = d.check_config()
    check(rc == 0 and "warning: [ha] settle_time = 20 s is below the guide's 2 minutes" in out
          and "configuration OK" in out, "-n: %r" % out)
    check(d.wait_log(r"config: \[ha\] settle_time = 20 s is below the guide", 5),
          "no start-up warning")
    c = h.Client(p, "admin")
    tc.add_node(c, A, "publisher", "g1")
    tc.one_shot(c, "ha/enable", {})
    r = tc.one_shot(c, "ha/disable", {})
    check(any("settle_time is 20 s" in n for n in _notes(r, "warn")), "disable: %r" % r.notes)
    _run(c, "services", {"operation": "stop-all"})
    for lang, pattern in ((None, r"wait ([0-9.]+) s more .*\[ha\] settle_time is 20 s; the "
                                 r"guide asks for at least 2 minutes"),
                          ("ko", r"([0-9.]+)초 더 기다리세요\(\[ha\] settle_time 20초")):
        why = " ".join(_errors(_run(c, "domains/add", {"domain": "x.example"}, lang=lang)))
        m = re.search(pattern, why)
        check(m is not None, "refusal (%s): %r" % (lang, why))
        left = float(m.group(1))
        check(0 < left <= 20.0, "the wait says %s s of a 20 s settle time" % m.group(1))
    # After the 20 s (not 21, not 120) the change goes ahead.
    ok = h.wait_for(lambda: not _errors(_run(c, "domains/add", {"domain": "x.example"})),
                    25 * h.SLOW, interval=0.5)
    check(ok, "still refused after the settle time")
    # 0 is allowed, and warned about too.
    d0 = h.Daemon(p, settings={"ha": {"settle_time": 0}}, start=False)
    rc, out, _ = d0.check_config()
    check(rc == 0 and "settle_time = 0 s is below" in out, "-n with 0: %r" % out)


def test_longest_domain_and_the_certificate():
    "a legal 255-character domain: certs/regenerate covers it, gives it no link, leaves none dangling"
    certs = h.tmpdir("certs")
    p = h.Prosody()
    h.Daemon(p, settings={"certs": {"dir": certs}})
    c = h.Client(p, "admin")
    long_name = ".".join(["x" * 63, "y" * 63, "z" * 63, "w" * 63])  # 255 characters
    check(len(long_name) == 255, "length %d" % len(long_name))
    for name in ("short.example", long_name):
        r = _run(c, "domains/add", {"domain": name})
        check(not _errors(r), "domains/add: %r" % r)
    for lang, words in ((None, ("installed", "too long for a file name", long_name)),
                        ("ko", ("설치됨", "너무 길어", long_name))):
        r = _run(c, "certs/regenerate", {"key_type": "ec-p256", "days": "90",
                                         "xmpp_addr": False}, lang=lang)
        text = " ".join(_notes(r))
        check(not _errors(r) and all(w in text for w in words), "regenerate (%s): %r" % (
            lang, r.notes))
        sans = c.execute(JID, "certs/show").values("sans")
        check(any(long_name in v for v in sans) and any("short.example" in v for v in sans),
              "SANs %r" % sans)
        entries = os.listdir(certs)
        check("short.example.crt" in entries and "short.example.key" in entries, repr(entries))
        check(not any(e.startswith(long_name[:60]) for e in entries), repr(entries))
        for e in entries:
            path = os.path.join(certs, e)
            check(not os.path.islink(path) or os.path.exists(path), "%s links to nothing" % e)
    check(c.execute(JID, "certs/show").value("status") == "current", "certs/show not current")


h.tap.run([
    test_longest_domain_and_the_certificate,
    test_settle_time_below_the_guide,
    test_ha_enable_recorded_and_assigned,
    test_topology_release_rule_and_causes,
    test_audit_release_finding,
    test_default_domain_is_hosted,
    test_services_stop_refused_under_ha,
])
