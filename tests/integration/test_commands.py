# Integration tests of the XEP-0050 / XEP-0004 framework through a real Prosody: discovery
# filtered by who asks, every action and status, sessions bound to the full JID, idle expiry,
# limits, client quirks, payload errors, English and Korean texts, and the audit record of each
# run. Driven by slixmpp against the real daemon and its real commands.
import sqlite3
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

JID = "domains.example.test"
ERR_TEXT = "{%s}text" % h.NS_STANZAS


def _setup(settings=None, admins=None):
    """A router (Prosody, or ejabberd under h.under_ejabberd) + a connected daemon + a logged-in
    admin client."""
    p = h.Router()
    d = h.Daemon(p, settings=settings, admins=admins)
    c = h.Client(p, "admin")
    return p, d, c


def _xml(el):
    return h.ET.tostring(el.reply if isinstance(el, h.Command) else el, "unicode")


def expect_rejected(r, sessionid):
    """r is the same stage again after a refused value: executing in the same session, with
    an error note that is also inside the form (a fixed field). Returns the note's text."""
    check(r.status == "executing" and r.sessionid == sessionid, "not the stage again: %r" % r)
    errors = [text for kind, text in r.notes if kind == "error"]
    check(len(errors) == 1, "error notes %r" % r.notes)
    fixed = [v.text or "" for f in r.people.findall("{%s}field" % h.NS_DATA)
             if f.get("type") == "fixed" for v in f.findall("{%s}value" % h.NS_DATA)]
    check(any(errors[0] in line for line in fixed), "note not in the form: %r" % fixed)
    return errors[0]


def expect_error(fn, cond, app=None, etype=None):
    """Runs fn() (a client request raising StanzaError) and checks the error; returns it."""
    try:
        got = fn()
    except h.StanzaError as e:
        check(e.condition == cond, "condition %r, wanted %r: %s" % (e.condition, cond,
                                                                      _xml(e.reply)))
        check(e.app == app, "command condition %r, wanted %r: %s" % (e.app, app, _xml(e.reply)))
        if etype:
            check(e.type == etype, "error type %r, wanted %r" % (e.type, etype))
        return e
    raise h.TestFailure("no error (wanted %s%s): %r" % (cond, " + " + app if app else "", got))


def error_text(e):
    """The <text/> of an error reply (slixmpp hands the stanza over without its namespace)."""
    for path in ("{%s}error/%s" % (h.NS_CLIENT, ERR_TEXT), "error/" + ERR_TEXT):
        el = e.reply.find(path)
        if el is not None:
            return el.text or ""
    return ""


# ---------------------------------------------------------------------------------------------
# Discovery


def test_disco_features():
    "disco#info: the component lists commands; the commands node is an automation/command-list"
    _, _, c = _setup()
    info = c.disco_info(JID)
    check(h.NS_COMMANDS in info["features"], "features %r" % info["features"])
    node = c.disco_info(JID, h.NS_COMMANDS)
    check(node["node"] == h.NS_COMMANDS, "node %r" % node["node"])
    check([(cat, t) for cat, t, _ in node["identities"]] == [("automation", "command-list")],
          "identities %r" % node["identities"])


def test_disco_items_non_admin():
    "disco#items on the commands node: a non-admin sees nothing, the admin sees the commands"
    p, _, admin = _setup()
    bob = h.Client(p, "bob")
    check(bob.disco_items(JID, h.NS_COMMANDS) == [], "bob sees commands")
    items = admin.disco_items(JID, h.NS_COMMANDS)
    for jid, node, name in items:
        check(jid == JID and node and name, "item %r" % ((jid, node, name),))
    check(len({n for _, n, _ in items}) == len(items), "duplicate nodes in %r" % items)


def test_unknown_node():
    "an unknown node: item-not-found (cancel), for execute, a made-up session and disco"
    p, _, c = _setup()
    e = expect_error(lambda: c.execute(JID, "no/such-command"), "item-not-found",
                     etype="cancel")
    check("no/such-command" in error_text(e), "text %r" % error_text(e))
    expect_error(lambda: c.next(JID, "no/such-command", "0123456789abcdef"), "item-not-found")
    bob = h.Client(p, "bob")
    expect_error(lambda: bob.execute(JID, "no/such-command"), "item-not-found")
    # disco#info on an unknown command node as well
    expect_error(lambda: c.disco_info(JID, "no/such-command"), "item-not-found")
    # and disco#items on a node other than the commands node (XEP-0030: a node the entity does
    # not know is item-not-found), for the admin and for anyone
    expect_error(lambda: c.disco_items(JID, "no/such-node"), "item-not-found", etype="cancel")
    expect_error(lambda: bob.disco_items(JID, "no/such-node"), "item-not-found", etype="cancel")
    # a command node is known (disco#info answers for it) and has no items: an empty result for
    # the admin; for bob, who may not see it, it does not exist
    check(c.disco_items(JID, "domains/list") == [], "items of a command node")
    expect_error(lambda: bob.disco_items(JID, "domains/list"), "item-not-found", etype="cancel")


def test_no_node():
    "a <command/> without a node: bad-request"
    _, _, c = _setup()
    r = c.iq("<iq type='set' to='%s'><command xmlns='%s' action='execute'/></iq>"
             % (JID, h.NS_COMMANDS))
    check(r.get("type") == "error", _xml(r))
    etype, cond, _ = h.error_condition(r)
    check((etype, cond) == ("modify", "bad-request"), _xml(r))



# ---------------------------------------------------------------------------------------------
# With the real commands: domains/list (filter form -> table), domains/add (one required field),
# domains/update (pick -> new name, with prev)

LIST, ADD, UPDATE = "domains/list", "domains/add", "domains/update"


def ft(node):
    return "urn:imdomaind:" + node


def add_domain(c, name):
    """domains/add in one round trip; checks it completed without an error note."""
    r = c.execute(JID, ADD, form={"domain": name}, form_type=ft(ADD))
    check(r.status == "completed", "add %s: %r" % (name, r))
    check(not [t for t, _ in r.notes if t == "error"], "add %s: %r" % (name, r.notes))
    return r


def listed(c):
    """The domain column of domains/list with no filter."""
    r = c.execute(JID, LIST, form={}, form_type=ft(LIST))
    check(r.status == "completed", "list: %r" % r)
    return [row["domain"][0] for row in r.items()]


def check_executing(r, node, default, actions):
    """An executing reply: node, a session id, <actions execute=default> listing `actions`."""
    check(r.status == "executing", "status %r: %s" % (r.status, _xml(r)))
    check(r.node == node, "node %r" % r.node)
    check(r.sessionid and len(r.sessionid) >= 16, "session id %r" % r.sessionid)
    check(r.default_action == default and default in r.actions,
          "actions %r execute=%r, wanted execute=%r" % (r.actions, r.default_action, default))
    check(sorted(r.actions) == sorted(actions), "actions %r, wanted %r" % (r.actions, actions))
    check(r.form is not None and r.form.get("type") == "form", "no form: %s" % _xml(r))
    check(r.form_type() == ft(node), "FORM_TYPE %r" % r.form_type())


def check_ended(r, status):
    check(r.status == status, "status %r, wanted %r: %s" % (r.status, status, _xml(r)))
    check(r.el.find("{%s}actions" % h.NS_COMMANDS) is None, "actions on an ended command")


def test_disco_command_nodes():
    "the admin's command list holds the domain commands; disco#info per node; bob sees none"
    p, _, c = _setup()
    nodes = c.commands(JID)
    for node in (LIST, ADD, UPDATE):
        check(node in nodes, "%s not listed: %r" % (node, nodes))
    info = c.disco_info(JID, LIST)
    check([(cat, t) for cat, t, _ in info["identities"]] == [("automation", "command-node")],
          "identities %r" % info["identities"])
    check(info["identities"][0][2], "command-node identity without a name")
    for ns in (h.NS_COMMANDS, h.NS_DATA):
        check(ns in info["features"], "%s missing from %r" % (ns, info["features"]))
    bob = h.Client(p, "bob")
    check(bob.commands(JID) == [], "bob sees commands")
    expect_error(lambda: bob.disco_info(JID, LIST), "item-not-found")


def test_forbidden():
    "a non-admin running a command: forbidden (auth), the text says only admins may"
    p, _, c = _setup()
    bob = h.Client(p, "bob")
    e = expect_error(lambda: bob.execute(JID, LIST), "forbidden", etype="auth")
    check("administrators" in error_text(e), "text %r" % error_text(e))
    # Not even with a session id an admin has open.
    r = c.execute(JID, LIST)
    expect_error(lambda: bob.complete(JID, LIST, r.sessionid, form={}), "forbidden")
    check_ended(c.complete(JID, LIST, r.sessionid, form={}), "completed")


def test_malformed_action():
    "an action that is not one of the five: bad-request + malformed-action"
    _, _, c = _setup()
    e = expect_error(lambda: c.command(JID, LIST, action="launch"), "bad-request",
                     "malformed-action", etype="modify")
    check("launch" in error_text(e), "text %r" % error_text(e))
    r = c.execute(JID, LIST)
    expect_error(lambda: c.command(JID, LIST, action="Next", sessionid=r.sessionid),
                 "bad-request", "malformed-action")
    check_ended(c.complete(JID, LIST, r.sessionid, form={}), "completed")


def test_bad_sessionid():
    "an unknown session id: bad-request + bad-sessionid, for every action"
    _, _, c = _setup()
    sid = "0123456789abcdef0123456789abcdef"
    for action in ("execute", "next", "prev", "complete"):
        e = expect_error(lambda: c.command(JID, LIST, action=action, sessionid=sid),
                         "bad-request", "bad-sessionid", etype="modify")
        check(sid in error_text(e), "text %r" % error_text(e))
    # A real session id of another command is not a session of this one.
    r = c.execute(JID, LIST)
    expect_error(lambda: c.next(JID, ADD, r.sessionid), "bad-request", "bad-sessionid")
    check_ended(c.complete(JID, LIST, r.sessionid, form={}), "completed")


def test_execute_complete():
    "execute shows the form (executing, execute=complete); complete gives the table (completed)"
    _, _, c = _setup()
    r = c.execute(JID, LIST)
    check_executing(r, LIST, "complete", ["complete"])
    for var in ("filter", "managed_by", "where"):
        check(r.field(var) is not None, "no field %s: %s" % (var, _xml(r)))
    check(r.field("FORM_TYPE").get("type") == "hidden", "FORM_TYPE not hidden")
    done = c.complete(JID, LIST, r.sessionid, form={}, form_type=ft(LIST))
    check_ended(done, "completed")
    check(done.sessionid == r.sessionid, "session id changed: %r" % done.sessionid)
    check(done.form is not None and done.form.get("type") == "result", _xml(done))
    rep = done.form.find("{%s}reported" % h.NS_DATA)
    check(rep is not None, "no <reported/>: %s" % _xml(done))
    cols = [f.get("var") for f in rep.findall("{%s}field" % h.NS_DATA)]
    check(cols[:1] == ["domain"], "columns %r" % cols)
    top = [f.get("var") for f in done.form.findall("{%s}field" % h.NS_DATA)]
    check(top == [], "a result table with top-level fields %r (XEP-0004 2.13.1)" % top)
    check(done.notes and done.notes[0][0] == "info", "notes %r" % done.notes)


def test_notes_and_table():
    "a completed add carries an info note naming the domain; the list shows it with its columns"
    _, _, c = _setup()
    r = add_domain(c, "Chat.Example.ORG")
    check(any(t == "info" and "chat.example.org" in text for t, text in r.notes),
          "notes %r" % r.notes)
    r = c.execute(JID, LIST, form={"filter": "chat"}, form_type=ft(LIST))
    rows = r.items()
    check([row["domain"] for row in rows] == [["chat.example.org"]], "rows %r" % rows)
    check(rows[0]["managed_by"] == ["admin"], "row %r" % rows[0])
    check(any(t == "info" and "1" in text for t, text in r.notes), "notes %r" % r.notes)


def test_next_prev_complete():
    "a three-stage run: next, prev (back with the answer kept), next, complete"
    _, _, c = _setup()
    add_domain(c, "old.example.org")
    add_domain(c, "other.example.org")
    r = c.execute(JID, UPDATE)
    check_executing(r, UPDATE, "next", ["next"])
    opts = [o.find("{%s}value" % h.NS_DATA).text
            for o in r.field("domain").findall("{%s}option" % h.NS_DATA)]
    check(opts == ["old.example.org", "other.example.org"], "options %r" % opts)
    sid = r.sessionid
    r2 = c.next(JID, UPDATE, sid, form={"domain": "old.example.org"}, form_type=ft(UPDATE))
    check_executing(r2, UPDATE, "complete", ["prev", "complete"])
    check(r2.sessionid == sid, "session id changed")
    check(r2.field("new_name") is not None, _xml(r2))
    back = c.prev(JID, UPDATE, sid)
    check_executing(back, UPDATE, "next", ["next"])
    check(back.value("domain") == "old.example.org", "the answer was not kept: %s" % _xml(back))
    r3 = c.next(JID, UPDATE, sid, form={"domain": "other.example.org"}, form_type=ft(UPDATE))
    check_executing(r3, UPDATE, "complete", ["prev", "complete"])
    done = c.complete(JID, UPDATE, sid, form={"new_name": "renamed.example.org"},
                      form_type=ft(UPDATE))
    check_ended(done, "completed")
    check(any(t == "info" and "renamed.example.org" in text for t, text in done.notes),
          "notes %r" % done.notes)
    check(sorted(listed(c)) == ["old.example.org", "renamed.example.org"], listed(c))


def test_cancel():
    "cancel on a later stage: status canceled, nothing changed, the id is then session-expired"
    _, _, c = _setup()
    add_domain(c, "keep.example.org")
    r = c.execute(JID, UPDATE)
    sid = r.sessionid
    c.next(JID, UPDATE, sid, form={"domain": "keep.example.org"}, form_type=ft(UPDATE))
    done = c.cancel(JID, UPDATE, sid)
    check_ended(done, "canceled")
    check(done.sessionid == sid, "canceled reply without the session id")
    check(listed(c) == ["keep.example.org"], listed(c))
    for action in ("next", "complete", "cancel"):
        e = expect_error(lambda: c.command(JID, UPDATE, action=action, sessionid=sid),
                         "not-allowed", "session-expired", etype="cancel")
        check(sid in error_text(e), "text %r" % error_text(e))


def test_cancel_by_form():
    "a submitted <x type='cancel'/> cancels the session like action=cancel"
    _, _, c = _setup()
    r = c.execute(JID, LIST)
    done = c.command(JID, LIST, action="complete", sessionid=r.sessionid,
                     form="<x xmlns='jabber:x:data' type='cancel'/>")
    check_ended(done, "canceled")
    expect_error(lambda: c.complete(JID, LIST, r.sessionid, form={}), "not-allowed",
                 "session-expired")


def test_cancel_without_session():
    "cancel with no session: answered canceled, nothing opened"
    _, _, c = _setup()
    check_ended(c.command(JID, LIST, action="cancel"), "canceled")


def test_completed_is_expired():
    "a completed session's id answers not-allowed + session-expired"
    _, _, c = _setup()
    r = c.execute(JID, LIST)
    c.complete(JID, LIST, r.sessionid, form={})
    expect_error(lambda: c.complete(JID, LIST, r.sessionid, form={}), "not-allowed",
                 "session-expired", etype="cancel")


def test_session_bound_to_full_jid():
    "another resource of the same admin, and another admin, get bad-sessionid; the owner goes on"
    p = h.Router()
    h.Daemon(p, admins=["admin@example.test", "carol@example.test"])
    owner = h.Client(p, "admin")
    same = h.Client(p, "admin", register=False, resource="laptop")
    carol = h.Client(p, "carol")
    r = owner.execute(JID, LIST)
    for other in (same, carol):
        e = expect_error(lambda: other.complete(JID, LIST, r.sessionid, form={}),
                         "bad-request", "bad-sessionid")
        check(r.sessionid in error_text(e), "text %r" % error_text(e))
        expect_error(lambda: other.cancel(JID, LIST, r.sessionid), "bad-request",
                     "bad-sessionid")
    check_ended(owner.complete(JID, LIST, r.sessionid, form={}), "completed")
    # Once ended, others still hear bad-sessionid (not that it existed), the owner
    # session-expired.
    expect_error(lambda: same.complete(JID, LIST, r.sessionid, form={}), "bad-request",
                 "bad-sessionid")
    expect_error(lambda: owner.complete(JID, LIST, r.sessionid, form={}), "not-allowed",
                 "session-expired")


def test_session_ids_differ():
    "session ids are long random hex, different each time"
    _, _, c = _setup()
    ids = set()
    for _ in range(5):
        r = c.execute(JID, LIST)
        check(len(r.sessionid) >= 32 and all(ch in "0123456789abcdef" for ch in r.sessionid),
              "session id %r" % r.sessionid)
        ids.add(r.sessionid)
        c.cancel(JID, LIST, r.sessionid)
    check(len(ids) == 5, "repeated ids %r" % ids)


def test_idle_expiry():
    "[commands] session_timeout = 1: a session idle longer is not-allowed + session-expired"
    _, d, c = _setup(settings={"commands": {"session_timeout": 1}})
    r = c.execute(JID, LIST)
    kept = c.execute(JID, LIST)
    time.sleep(0.5)
    check_ended(c.complete(JID, LIST, kept.sessionid, form={}), "completed")
    time.sleep(1.6)  # the daemon's own sweep runs every 15 s: this is the request path
    e = expect_error(lambda: c.complete(JID, LIST, r.sessionid, form={}), "not-allowed",
                     "session-expired", etype="cancel")
    check(r.sessionid in error_text(e) and "idle for more than 1 second)" in error_text(e),
          "text %r" % error_text(e))
    # It stays expired (remembered), and a new run works.
    expect_error(lambda: c.cancel(JID, LIST, r.sessionid), "not-allowed", "session-expired")
    check_ended(c.execute(JID, LIST, form={}, form_type=ft(LIST)), "completed")


def test_session_limit_per_jid():
    "max_sessions_per_jid = 2: a third session of the same bare JID ends its oldest idle one"
    p, _, c = _setup(settings={"commands": {"max_sessions_per_jid": 2}})
    other = h.Client(p, "admin", register=False, resource="laptop")
    a = c.execute(JID, LIST)
    b = other.execute(JID, LIST)
    # At the limit the admin is not locked out: the JID's oldest idle session (a) ends and
    # answers session-expired; the new one opens.
    x = c.execute(JID, LIST)
    check(x.status == "executing", repr(x))
    expect_error(lambda: c.cancel(JID, LIST, a.sessionid), "not-allowed", "session-expired")
    # Then b is the oldest: a one-round-trip run takes its place and gives its slot back.
    check_ended(other.execute(JID, LIST, form={}, form_type=ft(LIST)), "completed")
    expect_error(lambda: other.complete(JID, LIST, b.sessionid, form={}), "not-allowed",
                 "session-expired")
    check_ended(c.complete(JID, LIST, x.sessionid, form={}), "completed")
    check(c.execute(JID, LIST).status == "executing")


def test_session_limit_total():
    "max_sessions = 2: a JID with a session gives up its oldest; one without is resource-constraint"
    p = h.Prosody()
    h.Daemon(p, admins=["admin@example.test", "carol@example.test", "dave@example.test"],
             settings={"commands": {"max_sessions": 2}})
    c = h.Client(p, "admin")
    carol = h.Client(p, "carol")
    dave = h.Client(p, "dave")
    a = c.execute(JID, LIST)
    first = carol.execute(JID, LIST)
    # An admin with no session of their own is refused: others' sessions are never taken.
    expect_error(lambda: dave.execute(JID, LIST), "resource-constraint")
    # carol at the total limit gives up her own oldest idle session instead of being refused.
    check(carol.execute(JID, LIST).status == "executing")
    expect_error(lambda: carol.cancel(JID, LIST, first.sessionid), "not-allowed",
                 "session-expired")
    check(c.cancel(JID, LIST, a.sessionid).status == "canceled")
    check(dave.execute(JID, LIST).status == "executing")


def test_no_action_is_default():
    "no action attribute (Psi): the stage's default, next on a next stage, complete on the last"
    _, _, c = _setup()
    add_domain(c, "psi.example.org")
    r = c.command(JID, UPDATE, action=None)
    check_executing(r, UPDATE, "next", ["next"])
    r2 = c.command(JID, UPDATE, action=None, sessionid=r.sessionid,
                   form={"domain": "psi.example.org"}, form_type=ft(UPDATE))
    check_executing(r2, UPDATE, "complete", ["prev", "complete"])
    done = c.command(JID, UPDATE, action=None, sessionid=r.sessionid,
                     form={"new_name": "psi2.example.org"}, form_type=ft(UPDATE))
    check_ended(done, "completed")
    check(listed(c) == ["psi2.example.org"], listed(c))
    # `execute` with a session id is the stage default too.
    r = c.execute(JID, LIST)
    check_ended(c.command(JID, LIST, action="execute", sessionid=r.sessionid, form={}),
                "completed")


def test_next_on_last_stage():
    "next on a stage offering only complete (poezio) completes"
    _, _, c = _setup()
    r = c.execute(JID, LIST)
    check_ended(c.next(JID, LIST, r.sessionid, form={}, form_type=ft(LIST)), "completed")


def _update_started(name):
    """A fresh set-up with one editable domain and domains/update at its first stage."""
    _, _, c = _setup()
    add_domain(c, name)
    return c, c.execute(JID, UPDATE)


def _pick(c, r, name, send):
    """Submits the first stage of domains/update with `send` (c.next, c.complete...); checks
    that the second stage is shown."""
    r2 = send(JID, UPDATE, r.sessionid, form={"domain": name}, form_type=ft(UPDATE))
    check_executing(r2, UPDATE, "complete", ["prev", "complete"])
    return r2


def test_complete_where_next_offered():
    "complete on a stage offering only next (Movim) moves on like next"
    c, r = _update_started("movim.example.org")
    _pick(c, r, "movim.example.org", c.complete)


def test_bad_action():
    "prev where it is not offered: bad-request + bad-action naming what is; the session goes on"
    c, r = _update_started("act.example.org")
    e = expect_error(lambda: c.prev(JID, UPDATE, r.sessionid), "bad-request", "bad-action",
                     etype="modify")
    check("prev" in error_text(e) and "next" in error_text(e), "text %r" % error_text(e))
    expect_error(lambda: c.command(JID, LIST, action="prev"), "bad-request", "bad-action")
    _pick(c, r, "act.example.org", c.next)


def test_one_round_trip():
    "the filled form with execute or complete and no session (slixmpp scripts) runs at once"
    _, _, c = _setup()
    r = c.execute(JID, ADD, form={"domain": "one.example.org"}, form_type=ft(ADD))
    check_ended(r, "completed")
    r = c.command(JID, ADD, action="complete", form={"domain": "two.example.org"},
                  form_type=ft(ADD))
    check_ended(r, "completed")
    r = c.command(JID, ADD, action=None, form={"domain": "three.example.org"},
                  form_type=ft(ADD))
    check_ended(r, "completed")
    # Without FORM_TYPE too (XEP-0004 lets a submission leave it out).
    check_ended(c.execute(JID, ADD, form={"domain": "four.example.org"}), "completed")
    check(sorted(listed(c)) == ["four.example.org", "one.example.org", "three.example.org",
                                "two.example.org"], listed(c))
    # A multi-stage command given its first form goes on to the second stage.
    r = c.execute(JID, UPDATE, form={"domain": "one.example.org"}, form_type=ft(UPDATE))
    check_executing(r, UPDATE, "complete", ["prev", "complete"])


def test_bad_payload_form_type():
    "another FORM_TYPE: bad-request + bad-payload naming it; the session stays at its stage"
    _, _, c = _setup()
    r = c.execute(JID, ADD)
    e = expect_error(lambda: c.complete(JID, ADD, r.sessionid, form={"domain": "x.example.org"},
                                        form_type=ft(LIST)),
                     "bad-request", "bad-payload", etype="modify")
    check("FORM_TYPE" in error_text(e) and ft(ADD) in error_text(e), "text %r" % error_text(e))
    check_ended(c.complete(JID, ADD, r.sessionid, form={"domain": "x.example.org"},
                           form_type=ft(ADD)), "completed")
    check(listed(c) == ["x.example.org"], listed(c))
    # In one round trip the refused run leaves no session behind.
    expect_error(lambda: c.execute(JID, ADD, form={"domain": "y.example.org"},
                                   form_type="urn:example:other"), "bad-request", "bad-payload")
    check(listed(c) == ["x.example.org"], listed(c))


def test_bad_payload_missing_required():
    "a required field left empty: the stage again naming the field; no form at all: bad-payload"
    _, _, c = _setup()
    r = c.execute(JID, ADD)
    why = expect_rejected(c.complete(JID, ADD, r.sessionid, form={"domain": ""},
                                     form_type=ft(ADD)), r.sessionid)
    check(why == "Domain [domain]: a value is required", "text %r" % why)
    e = expect_error(lambda: c.complete(JID, ADD, r.sessionid), "bad-request", "bad-payload")
    check(error_text(e), "no text")
    check_ended(c.cancel(JID, ADD, r.sessionid), "canceled")


def test_bad_payload_invalid_value():
    "a value outside a list's options, a domain breaking the rules: the stage again naming why"
    _, _, c = _setup()
    r = c.execute(JID, LIST)
    bad = c.complete(JID, LIST, r.sessionid, form={"managed_by": "nobody"}, form_type=ft(LIST))
    why = expect_rejected(bad, r.sessionid)
    check("Managed by [managed_by]" in why and "nobody" in why, "text %r" % why)
    check(bad.value("managed_by") == "nobody", "entered value not kept: %r" % bad.values(
        "managed_by"))
    why = expect_rejected(c.complete(JID, LIST, r.sessionid, form={"where": ["local", "peer-only"]},
                                     form_type=ft(LIST)), r.sessionid)
    check(why == "Configured where [where]: only one value is allowed", "text %r" % why)
    check_ended(c.complete(JID, LIST, r.sessionid, form={"managed_by": "admin"},
                           form_type=ft(LIST)), "completed")
    r = c.execute(JID, ADD)
    bad = c.complete(JID, ADD, r.sessionid, form={"domain": "bad_name!"}, form_type=ft(ADD))
    why = expect_rejected(bad, r.sessionid)
    check("bad_name!" in why and bad.value("domain") == "bad_name!", "text %r" % why)
    check_ended(c.complete(JID, ADD, r.sessionid, form={"domain": "good.example.org"},
                           form_type=ft(ADD)), "completed")


def test_paging():
    "a table longer than a page (100 rows) is paged: next, prev, then next on the last completes"
    _, _, c = _setup()
    names = ["d%03d.example.org" % i for i in range(105)]
    for name in names:
        add_domain(c, name)
    r = c.execute(JID, LIST)
    p1 = c.complete(JID, LIST, r.sessionid, form={}, form_type=ft(LIST))
    check(p1.status == "executing" and p1.sessionid == r.sessionid, "page 1: %r" % p1)
    check(p1.default_action == "next" and sorted(p1.actions) == ["complete", "next"],
          "page 1 actions %r execute=%r" % (p1.actions, p1.default_action))
    check([row["domain"][0] for row in p1.items()] == names[:100], "page 1 rows")
    check(p1.form.find("{%s}reported" % h.NS_DATA) is not None, "page 1 without <reported/>")
    check(any("1–100 of 105" in text and "page 1 of 2" in text for _, text in p1.notes),
          "page 1 notes %r" % p1.notes)
    p2 = c.next(JID, LIST, r.sessionid)
    check(p2.status == "executing" and p2.default_action == "complete"
          and sorted(p2.actions) == ["complete", "prev"], "page 2: %r" % p2)
    check([row["domain"][0] for row in p2.items()] == names[100:], "page 2 rows")
    check(p2.form.find("{%s}reported" % h.NS_DATA) is not None, "page 2 without <reported/>")
    back = c.prev(JID, LIST, r.sessionid)
    check([row["domain"][0] for row in back.items()] == names[:100], "prev: page 1 again")
    expect_error(lambda: c.prev(JID, LIST, r.sessionid), "bad-request", "bad-action")
    c.next(JID, LIST, r.sessionid)
    done = c.next(JID, LIST, r.sessionid)  # next on the last page: complete
    check_ended(done, "completed")
    check([row["domain"][0] for row in done.items()] == names[100:], "final page rows")
    expect_error(lambda: c.next(JID, LIST, r.sessionid), "not-allowed", "session-expired")
    # Cancel while paging ends it too.
    r = c.execute(JID, LIST, form={}, form_type=ft(LIST))
    check(r.status == "executing", "one round trip, long table: %r" % r)
    check_ended(c.cancel(JID, LIST, r.sessionid), "canceled")


def test_audit_log_command():
    "the audit-log command shows each run with actor, node and outcome, newest first"
    p, d, c = _setup()
    add_domain(c, "log.example.org")
    r = c.execute(JID, LIST)
    c.cancel(JID, LIST, r.sessionid)
    bob = h.Client(p, "bob")
    expect_error(lambda: bob.execute(JID, LIST), "forbidden")
    log = c.execute(JID, "audit-log", form={"since": "", "actor": ""},
                    form_type=ft("audit-log"))
    check(log.status == "completed", "%r" % log)
    rows = [(r["actor"][0], r["node"][0], r["outcome"][0]) for r in log.items()]
    check(rows == [("bob@example.test", LIST, "refused"),
                   ("admin@example.test", LIST, "canceled"),
                   ("admin@example.test", ADD, "ok")], "rows %r" % rows)
    mine = c.execute(JID, "audit-log", form={"since": "1h", "actor": "bob@example.test"},
                     form_type=ft("audit-log"))
    check([r["node"][0] for r in mine.items()] == [LIST], "bob's rows %r" % mine.items())


def test_bad_payload_types():
    "booleans that are not booleans: the stage again, one reason per field, in Korean too"
    _, _, c = _setup()
    r = c.execute(JID, "settings")
    sub = {"im_address_scheme": r.value("im_address_scheme"), "tls_federation": "maybe",
           "wildcard_sans": "2", "cucm_domain_sip_proxy": "", "audit_time": "02:00"}
    text = expect_rejected(c.complete(JID, "settings", r.sessionid, form=sub,
                                      form_type=ft("settings"), lang="ko"), r.sessionid)
    check("[tls_federation]" in text and "'maybe'" in text and "[wildcard_sans]" in text
          and "참/거짓" in text, "text %r" % text)
    text = expect_rejected(c.complete(JID, "settings", r.sessionid, form=sub,
                                      form_type=ft("settings")), r.sessionid)
    check("[tls_federation]" in text and "not a boolean" in text, "text %r" % text)
    twice = ("<x xmlns='jabber:x:data' type='submit'><field var='domain'><value>a.example.org"
             "</value></field><field var='domain'><value>b.example.org</value></field></x>")
    e = expect_error(lambda: c.execute(JID, ADD, form=twice), "bad-request", "bad-payload")
    check("domain" in error_text(e), "text %r" % error_text(e))
    check(listed(c) == [], "a refused form changed something: %r" % listed(c))
    # XEP-0004 booleans may be spelled true/false.
    sub.update(tls_federation="true", wildcard_sans="false")
    check_ended(c.complete(JID, "settings", r.sessionid, form=sub, form_type=ft("settings")),
                "completed")


def _labels(r):
    return {f.get("var"): f.get("label") for f in r.form.findall("{%s}field" % h.NS_DATA)}


def test_korean():
    "xml:lang='ko': Korean labels, title, notes and errors; other languages fall back to English"
    _, _, c = _setup()
    ko = c.execute(JID, LIST, lang="ko")
    check(ko.lang == "ko", "xml:lang %r" % ko.lang)
    title = ko.form.find("{%s}title" % h.NS_DATA)
    check(title is not None and "도메인" in (title.text or ""), _xml(ko))
    check(_labels(ko)["filter"] == "도메인 이름에 포함된 문자열", _labels(ko))
    done = c.complete(JID, LIST, ko.sessionid, form={}, lang="ko")
    check(done.lang == "ko" and "도메인" in done.notes[0][1], "notes %r" % done.notes)
    e = expect_error(lambda: c.complete(JID, LIST, "0" * 32, lang="ko"), "bad-request",
                     "bad-sessionid")
    check("세션" in error_text(e), "text %r" % error_text(e))
    for lang in ("ko-KR", "KO"):
        check(_labels(c.execute(JID, LIST, lang=lang))["filter"].startswith("도메인"), lang)
    en = c.execute(JID, LIST, lang="en")
    check(en.lang == "en", "xml:lang %r" % en.lang)
    check(_labels(en)["filter"] == "Domain name contains", _labels(en))
    for lang in ("de", "kok", "ja-JP"):
        r = c.execute(JID, LIST, lang=lang)
        check(r.lang == "en" and _labels(r)["filter"] == "Domain name contains",
              "%s: %s" % (lang, _xml(r)))
        c.cancel(JID, LIST, r.sessionid)
    names = dict((n, name) for _, n, name in c.disco_items(JID, h.NS_COMMANDS))
    check(names[LIST] == "List IM address domains", names)


def test_korean_disco_names():
    "disco#items names follow the request's xml:lang"
    _, _, c = _setup()
    r = c.iq_ok("<iq type='get' to='%s' xml:lang='ko'><query xmlns='%s' node='%s'/></iq>"
                % (JID, h.NS_DISCO_ITEMS, h.NS_COMMANDS))
    names = {i.get("node"): i.get("name")
             for i in r.iter("{%s}item" % h.NS_DISCO_ITEMS)}
    check(names.get(LIST) == "IM 주소 도메인 목록", names)


def _audit_rows(d):
    """(actor, node, outcome, details) of every audit record, read from the stopped daemon's
    store."""
    check(d.stop() == 0, "the daemon did not stop cleanly")
    con = sqlite3.connect(d.store)
    try:
        return con.execute("SELECT actor, node, outcome, details FROM audit_log ORDER BY id"
                           ).fetchall()
    finally:
        con.close()


def test_audit_every_run():
    "every finished run is in the audit log: completed, refused by a note, canceled, errors"
    p, d, c = _setup()
    add_domain(c, "a.example.org")
    r = c.execute(JID, ADD, form={"domain": "a.example.org"}, form_type=ft(ADD))  # duplicate
    check(r.status == "completed" and any(t == "error" for t, _ in r.notes), "%r" % r)
    r = c.execute(JID, UPDATE)
    c.cancel(JID, UPDATE, r.sessionid)
    expect_error(lambda: c.command(JID, LIST, action="bogus"), "bad-request",
                 "malformed-action")
    bob = h.Client(p, "bob")
    expect_error(lambda: bob.execute(JID, LIST), "forbidden")
    rows = _audit_rows(d)
    mine = [(a, n, o) for a, n, o, _ in rows]
    want = [("admin@example.test", ADD, "ok"),
            ("admin@example.test", ADD, "refused"),
            ("admin@example.test", UPDATE, "canceled"),
            ("admin@example.test", LIST, "refused"),
            ("bob@example.test", LIST, "refused")]
    check(mine == want, "audit rows %r" % rows)
    check("a.example.org" in rows[0][3], "details %r" % (rows[0],))
    check("a.example.org" in rows[1][3], "details %r" % (rows[1],))
    check(rows[4][3] == "forbidden", "details %r" % (rows[4],))


h.tap.run([
    test_disco_features,
    test_disco_items_non_admin,
    test_unknown_node,
    test_no_node,
    test_disco_command_nodes,
    test_forbidden,
    test_malformed_action,
    test_bad_sessionid,
    test_execute_complete,
    test_notes_and_table,
    test_next_prev_complete,
    test_cancel,
    test_cancel_by_form,
    test_cancel_without_session,
    test_completed_is_expired,
    test_session_bound_to_full_jid,
    test_session_ids_differ,
    test_idle_expiry,
    test_session_limit_per_jid,
    test_session_limit_total,
    test_no_action_is_default,
    test_next_on_last_stage,
    test_complete_where_next_offered,
    test_bad_action,
    test_one_round_trip,
    test_bad_payload_form_type,
    test_bad_payload_missing_required,
    test_bad_payload_invalid_value,
    test_bad_payload_types,
    test_paging,
    test_korean,
    test_korean_disco_names,
    test_audit_every_run,
    test_audit_log_command,
] + h.under_ejabberd([
    test_disco_features,
    test_forbidden,
    test_execute_complete,
    test_next_prev_complete,
    test_session_bound_to_full_jid,
    test_korean,
]))
