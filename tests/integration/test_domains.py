# Integration tests of the domains commands through a real Prosody and slixmpp: the guide's flow
# (list, add, rename, delete with confirmation) in English and Korean, who may run them, bad
# forms, the guide's preconditions, two admins racing, and applying to the router for real:
# Prosody includes the daemon's vhosts file, the reload hook reloads it, and a user logs in on
# the new domain; a failing hook is reported in the result and the audit log.
import os
import sqlite3
import sys

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

JID = "domains.example.test"
LIST, ADD, UPDATE, DELETE = "domains/list", "domains/add", "domains/update", "domains/delete"

# What each language's answers say, for the guide flow.
TEXTS = {
    None: {"added": "Added the domain corp.example.", "renamed": "Renamed the domain",
           "deleted": "Deleted 1 domain: chat.example.", "count0": "0 domains.",
           "count1": "1 domain.", "router": "The router was updated",
           "goes": "This domain will be deleted: chat.example.",
           "label": "Managed by"},
    "ko": {"added": "도메인 corp.example을(를) 추가했습니다.",
           "renamed": "도메인 corp.example의 이름을 chat.example(으)로 바꿨습니다.",
           "deleted": "도메인 1개를 삭제했습니다: chat.example.", "count0": "도메인 0개.",
           "count1": "도메인 1개.", "router": "라우터를 갱신했습니다",
           "goes": "삭제할 도메인 1개: chat.example.", "label": "관리 주체"},
}


def ft(node):
    return "urn:imdomaind:" + node


def _xml(r):
    return h.ET.tostring(r.reply if isinstance(r, h.Command) else r, "unicode")


def _setup(admins=None, settings=None, prosody=None):
    p = prosody or h.Router()
    d = h.Daemon(p, admins=admins, settings=settings)
    c = h.Client(p, "admin")
    return p, d, c


def notes_of(r, kind):
    return " ".join(text for t, text in r.notes if t == kind)


def completed_with(r, kind, needle):
    """r completed with a note of `kind` holding `needle`."""
    check(r.status == "completed", "status %r: %s" % (r.status, _xml(r)))
    check(needle in notes_of(r, kind), "no %s note with %r: %r" % (kind, needle, r.notes))
    return r


def listed(c, lang=None, **filters):
    r = c.execute(JID, LIST, form=filters, form_type=ft(LIST), lang=lang)
    check(r.status == "completed", "list: %r" % r)
    return r


def domains_in(r):
    return [row["domain"][0] for row in r.items()]


def expect_error(fn, cond, app=None):
    try:
        got = fn()
    except h.StanzaError as e:
        check(e.condition == cond and e.app == app, "got %s/%s, wanted %s/%s: %s"
              % (e.condition, e.app, cond, app, _xml(e.reply)))
        return e
    raise h.TestFailure("no error (wanted %s): %r" % (cond, got))


def error_text(e):
    for el in e.reply.iter():
        if el.tag.endswith("}text"):
            return el.text or ""
    return ""


# ---------------------------------------------------------------------------------------------
# The guide's flow


def _guide_flow(lang):
    t = TEXTS[lang]
    _, _, c = _setup()
    nodes = c.commands(JID)
    for node in (LIST, ADD, UPDATE, DELETE):
        check(node in nodes, "%s not listed: %r" % (node, nodes))
    check(t["count0"] in notes_of(listed(c, lang), "info"), "empty list")

    # Add, in two stages.
    r = c.execute(JID, ADD, lang=lang)
    check(r.status == "executing" and r.field("domain") is not None, _xml(r))
    check(r.lang == ("ko" if lang else "en"), "reply xml:lang %r" % r.lang)
    r = c.complete(JID, ADD, r.sessionid, form={"domain": "Corp.Example"}, form_type=ft(ADD),
                   lang=lang)
    completed_with(r, "info", t["added"])
    completed_with(r, "info", t["router"])
    r = listed(c, lang)
    check(domains_in(r) == ["corp.example"], "rows %r" % r.items())
    row = r.items()[0]
    check(row["managed_by"] == ["admin"] and row["where"] == ["local"]
          and row["local_users"] == ["0"] and row["peer_users"] == ["0"]
          and row["cert"] == ["stale"], "row %r" % row)
    labels = [f.get("label") for f in r.form.iter() if f.tag.endswith("}field")]
    check(t["label"] in labels, "labels %r" % labels)

    # Rename: pick the domain, then the new name.
    r = c.execute(JID, UPDATE, lang=lang)
    r = c.next(JID, UPDATE, r.sessionid, form={"domain": "corp.example"}, form_type=ft(UPDATE),
               lang=lang)
    check(r.field("new_name") is not None, _xml(r))
    r = c.complete(JID, UPDATE, r.sessionid, form={"new_name": "chat.example"},
                   form_type=ft(UPDATE), lang=lang)
    completed_with(r, "info", t["renamed"])
    check(domains_in(listed(c)) == ["chat.example"], "after rename")

    # Delete: choose, see exactly what goes, confirm.
    r = c.execute(JID, DELETE, lang=lang)
    check(r.field("domains").get("type") == "list-multi", _xml(r))
    check(r.field("select_all").get("type") == "boolean", _xml(r))
    r = c.next(JID, DELETE, r.sessionid, form={"domains": ["chat.example"]},
               form_type=ft(DELETE), lang=lang)
    shown = " ".join(v.text or "" for v in r.form.iter() if v.tag.endswith("}value"))
    check(t["goes"] in shown, "confirmation %r" % shown)
    r = c.complete(JID, DELETE, r.sessionid, form={"confirm": True}, form_type=ft(DELETE),
                   lang=lang)
    completed_with(r, "info", t["deleted"])
    check(t["count0"] in notes_of(listed(c, lang), "info"), "not empty after delete")


def test_guide_flow_english():
    "the guide flow in English: list, add, list, rename, delete with confirmation"
    _guide_flow(None)


def test_guide_flow_korean():
    "the guide flow in Korean (xml:lang='ko'): every note and label in Korean"
    _guide_flow("ko")


def test_cancel_changes_nothing():
    "cancel at each stage of domains/delete and domains/update changes nothing"
    _, _, c = _setup()
    c.execute(JID, ADD, form={"domain": "keep.example"}, form_type=ft(ADD))
    r = c.execute(JID, DELETE)
    check(c.cancel(JID, DELETE, r.sessionid).status == "canceled")
    r = c.execute(JID, DELETE)
    r = c.next(JID, DELETE, r.sessionid, form={"select_all": True}, form_type=ft(DELETE))
    check(c.cancel(JID, DELETE, r.sessionid).status == "canceled")
    r = c.execute(JID, UPDATE)
    r = c.next(JID, UPDATE, r.sessionid, form={"domain": "keep.example"}, form_type=ft(UPDATE))
    check(c.cancel(JID, UPDATE, r.sessionid).status == "canceled")
    check(domains_in(listed(c)) == ["keep.example"], "changed")


# ---------------------------------------------------------------------------------------------
# Who may, and what is refused


def test_non_admin_forbidden():
    "a non-admin gets forbidden on every domains command and sees none of them"
    p, _, _ = _setup()
    bob = h.Client(p, "bob")
    for node in (LIST, ADD, UPDATE, DELETE):
        expect_error(lambda: bob.execute(JID, node), "forbidden")
        check(node not in bob.commands(JID), "%s listed for bob" % node)


def test_malformed_forms():
    "a payload that is not a form: bad-request + bad-payload; a missing domain or a bad name: the stage again naming the rule"
    _, _, c = _setup()
    r = c.execute(JID, ADD)
    # A value a person entered: the stage again, the field named by its label.
    bad = c.complete(JID, ADD, r.sessionid, form={"domain": ""}, form_type=ft(ADD))
    check(bad.rejected() == "Domain [domain]: a value is required", repr(bad))
    expect_error(lambda: c.complete(JID, ADD, r.sessionid, form="<foo xmlns='urn:x'/>"),
                 "bad-request", "bad-payload")
    expect_error(lambda: c.complete(JID, ADD, r.sessionid, form={"domain": "x.example"},
                                    form_type="urn:imdomaind:other"),
                 "bad-request", "bad-payload")
    bad = c.complete(JID, ADD, r.sessionid, form={"domain": "Abc.1om"}, form_type=ft(ADD))
    check("the last label must not start with a digit" in (bad.rejected() or ""), repr(bad))
    check(bad.value("domain") == "Abc.1om", "entered value kept: %r" % bad.values("domain"))
    bad = c.complete(JID, ADD, r.sessionid, form={"domain": "Abc.1om"}, form_type=ft(ADD),
                     lang="ko")
    check("도메인 이름으로 쓸 수 없습니다" in (bad.rejected() or ""), repr(bad))
    # A one-round-trip script has no stage to come back to: an error, as before.
    e = expect_error(lambda: c.execute(JID, ADD, form={"domain": "Abc.1om"}, form_type=ft(ADD)),
                     "bad-request", "bad-payload")
    check("the last label must not start with a digit" in error_text(e), error_text(e))
    # The session survived every refusal: a good name now completes it.
    r = c.complete(JID, ADD, r.sessionid, form={"domain": "abc.com"}, form_type=ft(ADD))
    completed_with(r, "info", "abc.com")
    check(domains_in(listed(c)) == ["abc.com"], "list")


def _db_write(d, sql, args=()):
    """Changes the daemon's store behind its back, as the topology commands would."""
    db = sqlite3.connect(d.store, timeout=10)
    try:
        db.execute(sql, args)
        db.commit()
    finally:
        db.close()


def test_preconditions():
    "HA on a redundancy group or a running service refuses a change, naming it and the remedy"
    _, d, c = _setup()
    _db_write(d, "INSERT INTO redundancy_groups (name, ha_enabled) VALUES ('dg-seoul', 1)")
    r = c.execute(JID, ADD, form={"domain": "x.example"}, form_type=ft(ADD))
    completed_with(r, "error", "dg-seoul")
    completed_with(r, "error", "ha/disable")
    r = c.execute(JID, ADD, form={"domain": "x.example"}, form_type=ft(ADD), lang="ko")
    completed_with(r, "error", "HA가 켜져 있습니다")
    _db_write(d, "UPDATE redundancy_groups SET ha_enabled = 0, ha_changed_at = 0")
    _db_write(d, "INSERT INTO nodes (name, role) VALUES ('imp1.example.test', 'publisher')")
    _db_write(d, "INSERT INTO node_services (node_id, service, state, updated_at) "
                 "SELECT id, 'xcp-router', 'running', 0 FROM nodes")
    r = c.execute(JID, ADD, form={"domain": "x.example"}, form_type=ft(ADD))
    completed_with(r, "error", "imp1.example.test xcp-router (running)")
    check(domains_in(listed(c)) == [], "something was added")
    _db_write(d, "UPDATE node_services SET state = 'stopped'")
    completed_with(c.execute(JID, ADD, form={"domain": "x.example"}, form_type=ft(ADD)),
                   "info", "Added")


def test_system_managed_cannot_change():
    "a system-managed domain is listed but cannot be chosen for rename or delete"
    _, d, c = _setup()
    c.execute(JID, ADD, form={"domain": "used.example"}, form_type=ft(ADD))
    _db_write(d, "UPDATE domains SET managed_by = 'system'")
    check(listed(c).items()[0]["managed_by"] == ["system"], "not system")
    completed_with(c.execute(JID, UPDATE), "info", "There is no local admin-managed domain")
    completed_with(c.execute(JID, DELETE), "info", "There is no local admin-managed domain")


def test_two_admins_race():
    "two admins change the same domain: the second gets a clear conflict, nothing is lost"
    p, _, a = _setup(admins=["admin@example.test", "admin2@example.test"])
    b = h.Client(p, "admin2")
    a.execute(JID, ADD, form={"domain": "shared.example"}, form_type=ft(ADD))
    a.execute(JID, ADD, form={"domain": "other.example"}, form_type=ft(ADD))
    # Both pick shared.example for a rename; A commits first.
    ra = a.execute(JID, UPDATE)
    ra = a.next(JID, UPDATE, ra.sessionid, form={"domain": "shared.example"},
                form_type=ft(UPDATE))
    rb = b.execute(JID, UPDATE)
    rb = b.next(JID, UPDATE, rb.sessionid, form={"domain": "shared.example"},
                form_type=ft(UPDATE))
    completed_with(a.complete(JID, UPDATE, ra.sessionid, form={"new_name": "by-a.example"},
                              form_type=ft(UPDATE)), "info", "by-a.example")
    completed_with(b.complete(JID, UPDATE, rb.sessionid, form={"new_name": "by-b.example"},
                              form_type=ft(UPDATE)), "error",
                   "there is no domain shared.example (another administrator")
    # Both add the same name: the second hears it exists (in any case).
    completed_with(b.execute(JID, ADD, form={"domain": "new.example"}, form_type=ft(ADD)),
                   "info", "Added")
    completed_with(a.execute(JID, ADD, form={"domain": "NEW.example"}, form_type=ft(ADD)),
                   "error", "the domain new.example already exists")
    # Both confirm deletions: B's covers A's domain too and is refused as a whole.
    da = a.execute(JID, DELETE)
    da = a.next(JID, DELETE, da.sessionid, form={"domains": ["by-a.example"]},
                form_type=ft(DELETE))
    db = b.execute(JID, DELETE)
    db = b.next(JID, DELETE, db.sessionid, form={"domains": ["by-a.example", "other.example"]},
                form_type=ft(DELETE))
    completed_with(a.complete(JID, DELETE, da.sessionid, form={"confirm": True},
                              form_type=ft(DELETE)), "info", "by-a.example")
    completed_with(b.complete(JID, DELETE, db.sessionid, form={"confirm": True},
                              form_type=ft(DELETE)), "error", "there is no domain by-a.example")
    check(sorted(domains_in(listed(b))) == ["new.example", "other.example"],
          "list %r" % domains_in(listed(b)))


# ---------------------------------------------------------------------------------------------
# Applying to the router


class _OnHost:
    """The Prosody as seen from another of its virtual hosts (for h.Client)."""

    def __init__(self, prosody, host):
        self.prosody, self.host, self.c2s_port = prosody, host, prosody.c2s_port

    def register(self, user, password):
        return self.prosody.register(user, password, host=self.host)


# Prosody 0.12 re-reads its config on reload but activates no VirtualHost added since start (nor
# drops a removed one): the module we ship for that (contrib/prosody) is loaded here as a
# deployment loads it.
HOSTS_MODULE_DIR = os.path.join(os.environ.get("IMD_SRCDIR", "."), "contrib", "prosody")


def _router_setup(hook=None):
    here = h.tmpdir("router")
    vhosts = os.path.join(here, "vhosts.cfg.lua")
    modules = ", ".join('"%s"' % m for m in h.Prosody.MODULES + ["imdomaind_hosts"])
    p = h.Prosody(include=vhosts, extra='plugin_paths = { "%s" }\nmodules_enabled = { %s }'
                  % (HOSTS_MODULE_DIR, modules))
    if hook is None:
        hook = "%s --config %s reload" % (h.Prosody.CTL, p.config)
    _, d, c = _setup(prosody=p, settings={"router": {"vhosts_file": vhosts,
                                                     "reload_hook": hook}})
    return p, d, c, vhosts


def test_apply_for_real():
    "add a domain: the vhosts file is rewritten, Prosody reloads, a user logs in on the new domain"
    p, _, c, vhosts = _router_setup()
    r = c.execute(JID, ADD, form={"domain": "Fresh.Example.Test"}, form_type=ft(ADD),
                  timeout=30)
    completed_with(r, "info", "The router was updated (router reloaded")
    check('VirtualHost "fresh.example.test"' in h.read_text(vhosts), h.read_text(vhosts))
    check(p.wait_log(r"Activated host: fresh\.example\.test", 10),
          "Prosody did not activate the new host")
    alice = h.Client(_OnHost(p, "fresh.example.test"), "alice")
    check(alice.bare == "alice@fresh.example.test", alice.bare)
    check(alice.ping("fresh.example.test"), "no ping on the new host")
    alice.close()
    # Deleting it takes the host away again.
    r = c.execute(JID, DELETE, form={"domains": ["fresh.example.test"]}, form_type=ft(DELETE))
    r = c.complete(JID, DELETE, r.sessionid, form={"confirm": True}, form_type=ft(DELETE),
                   timeout=30)
    completed_with(r, "info", "The router was updated (router reloaded")
    check('fresh.example.test' not in h.read_text(vhosts), h.read_text(vhosts))
    check(p.wait_log(r"Deactivating host: fresh\.example\.test", 10),
          "Prosody did not drop the deleted host")


def _c2s_stream_answer(router, host):
    """What the router answers to a client stream header for `host` (text, up to 2 s)."""
    import socket
    with socket.create_connection(("127.0.0.1", router.c2s_port), timeout=5) as s:
        s.sendall(("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream="
                   "'http://etherx.jabber.org/streams' to='%s' version='1.0'>" % host).encode())
        data, deadline = b"", h.time.monotonic() + 2 * h.SLOW
        s.settimeout(0.2)
        while h.time.monotonic() < deadline and b"</stream:features>" not in data \
                and b"</stream:error>" not in data:
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                break
            data += chunk
        return data.decode("utf-8", "replace")


def test_apply_for_real_ejabberd():
    "ejabberd: add a domain: the hosts YAML is rewritten, reload_config, a user logs in there"
    here = h.tmpdir("router")
    hosts = os.path.join(here, "imdomaind-hosts.yml")
    p = h.Ejabberd(include=hosts)
    hook = p.hook_command("reload_config")
    # ejabberdctl starts an Erlang VM per call: seconds on a loaded machine.
    _, d, c = _setup(prosody=p, settings={"router": {"kind": "ejabberd", "vhosts_file": hosts,
                                                     "reload_hook": hook, "hook_timeout": 120}})
    rc, out, err = d.check_config()
    check(rc == 0 and "router: ejabberd: vhosts_file %s is a YAML `hosts` list" % hosts in out,
          "imdomaind -n: %r %r" % (out, err))
    r = c.execute(JID, ADD, form={"domain": "Fresh.Example.Test"}, form_type=ft(ADD),
                  timeout=120)
    completed_with(r, "info", "The router was updated (router reloaded")
    check('hosts:\n  - "fresh.example.test"\n' in h.read_text(hosts), h.read_text(hosts))
    check("</stream:features>" in _c2s_stream_answer(p, "fresh.example.test"),
          "ejabberd does not serve the new host")
    alice = h.Client(_OnHost(p, "fresh.example.test"), "alice")
    check(alice.bare == "alice@fresh.example.test", alice.bare)
    check(alice.ping("fresh.example.test"), "no ping on the new host")
    alice.close()
    # Deleting it takes the host away again: logging in there is refused (host-unknown).
    r = c.execute(JID, DELETE, form={"domains": ["fresh.example.test"]}, form_type=ft(DELETE))
    r = c.complete(JID, DELETE, r.sessionid, form={"confirm": True}, form_type=ft(DELETE),
                   timeout=120)
    completed_with(r, "info", "The router was updated (router reloaded")
    check("fresh.example.test" not in h.read_text(hosts), h.read_text(hosts))
    check("hosts:" not in h.read_text(hosts), "an empty hosts list: %s" % h.read_text(hosts))
    answer = _c2s_stream_answer(p, "fresh.example.test")
    check("<host-unknown" in answer, "a stream to the removed domain: %r" % answer)
    check("<host-unknown" not in _c2s_stream_answer(p, "example.test"), "the base host")
    # The component and the other host are unaffected by the reloads.
    check(c.ping(JID))


def test_certificates_ejabberd():
    "ejabberd: certs/regenerate writes [certs] dir, certfiles globs find it, STARTTLS serves it"
    import subprocess
    here = h.tmpdir("router")
    hosts = os.path.join(here, "imdomaind-hosts.yml")
    certs = os.path.join(here, "certs")
    os.makedirs(certs)
    p = h.Ejabberd(include=hosts, certfiles=[certs + "/*.crt", certs + "/*.key"],
                   starttls=True)
    _, _, c = _setup(prosody=p, settings={
        "router": {"kind": "ejabberd", "vhosts_file": hosts,
                   "reload_hook": p.hook_command("reload_config"), "hook_timeout": 120},
        "certs": {"dir": certs, "key_type": "ec-p256", "days": 90}})
    r = c.execute(JID, ADD, form={"domain": "tls.example.test"}, form_type=ft(ADD), timeout=120)
    completed_with(r, "info", "The router was updated (router reloaded")
    first = c.execute(JID, "certs/regenerate")
    r = c.complete(JID, "certs/regenerate", first.sessionid,
                   form={"key_type": "ec-p256", "days": "90", "xmpp_addr": False},
                   form_type=ft("certs/regenerate"), timeout=60)
    check(not any(t == "error" for t, _ in r.notes), "regenerate: %r" % r.notes)
    check(os.path.islink(os.path.join(certs, "tls.example.test.crt")), os.listdir(certs))
    # The hook ran after the files changed; ejabberd re-read certfiles on reload_config.
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % p.c2s_port,
                          "-starttls", "xmpp", "-xmpphost", "tls.example.test",
                          "-servername", "tls.example.test", "-showcerts"],
                         input="", capture_output=True, text=True, timeout=30).stdout
    pem = out[out.index("-----BEGIN CERTIFICATE-----"):out.index("-----END CERTIFICATE-----")
              + len("-----END CERTIFICATE-----")] if "-----BEGIN" in out else ""
    check(pem, "no certificate on STARTTLS: %s" % out[-2000:])
    text = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=pem,
                          capture_output=True, text=True, timeout=30).stdout
    check("DNS:tls.example.test" in text, "the served certificate: %s" % text)


def test_failing_hook():
    "a failing reload hook: the result says the router was not updated; the audit log records it"
    _, d, c, _ = _router_setup(hook="/bin/false")
    r = c.execute(JID, ADD, form={"domain": "x.example"}, form_type=ft(ADD))
    completed_with(r, "info", "The router was NOT updated: the reload hook /bin/false exited "
                              "with status 1")
    completed_with(r, "info", "not applied until a retry succeeds")
    r = listed(c)
    check("The router does not have the current domain set" in notes_of(r, "warn"), r.notes)
    db = sqlite3.connect(d.store, timeout=10)
    try:
        rows = db.execute("SELECT node, outcome, details FROM audit_log ORDER BY id").fetchall()
    finally:
        db.close()
    check(any(n == "router/apply" and o == "error" and "/bin/false" in det
              for n, o, det in rows), "audit %r" % rows)
    check(any(n == ADD and o == "ok" and "NOT updated" in det for n, o, det in rows),
          "audit %r" % rows)


h.tap.run([
    test_guide_flow_english,
    test_guide_flow_korean,
    test_cancel_changes_nothing,
    test_non_admin_forbidden,
    test_malformed_forms,
    test_preconditions,
    test_system_managed_cannot_change,
    test_two_admins_race,
    test_apply_for_real,
    test_apply_for_real_ejabberd,
    test_certificates_ejabberd,
    test_failing_hook,
] + h.under_ejabberd([
    test_guide_flow_english,
    test_non_admin_forbidden,
    test_two_admins_race,
]))
