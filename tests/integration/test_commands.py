# Integration tests of the XEP-0050 / XEP-0004 framework through a real Prosody: discovery
# filtered by who asks, every action and status, sessions bound to the full JID, idle expiry,
# limits, client quirks, payload errors, English and Korean texts, and the audit record of each
# run. Driven by slixmpp against the real daemon and its real commands.
import os
import sqlite3
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

JID = "domains.example.test"
ERR_TEXT = "{%s}text" % h.NS_STANZAS


def _setup(settings=None, admins=None):
    """Prosody + a connected daemon + a logged-in admin client."""
    p = h.Prosody()
    d = h.Daemon(p, settings=settings, admins=admins)
    c = h.Client(p, "admin")
    return p, d, c


def _xml(el):
    return h.ET.tostring(el.reply if isinstance(el, h.Command) else el, "unicode")


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
    "an unknown node: item-not-found (cancel), for execute and for a made-up session"
    p, _, c = _setup()
    e = expect_error(lambda: c.execute(JID, "no/such-command"), "item-not-found",
                     etype="cancel")
    check("no/such-command" in error_text(e), "text %r" % error_text(e))
    expect_error(lambda: c.next(JID, "no/such-command", "0123456789abcdef"), "item-not-found")
    bob = h.Client(p, "bob")
    expect_error(lambda: bob.execute(JID, "no/such-command"), "item-not-found")
    # disco#info on an unknown command node as well
    expect_error(lambda: c.disco_info(JID, "no/such-command"), "item-not-found")


def test_no_node():
    "a <command/> without a node: bad-request"
    _, _, c = _setup()
    r = c.iq("<iq type='set' to='%s'><command xmlns='%s' action='execute'/></iq>"
             % (JID, h.NS_COMMANDS))
    check(r.get("type") == "error", _xml(r))
    etype, cond, _ = h.error_condition(r)
    check((etype, cond) == ("modify", "bad-request"), _xml(r))


h.tap.run([
    test_disco_features,
    test_disco_items_non_admin,
    test_unknown_node,
    test_no_node,
])
