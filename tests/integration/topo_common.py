# Shared by test_topology.py and test_sessions.py: a daemon whose default domain is the Prosody
# host (so IM addresses are user@host), and topology/edit and users/import driven over XMPP.
import sqlite3
import sys

sys.dont_write_bytecode = True
import harness as h  # noqa: E402
from harness import check  # noqa: E402

JID = "domains.example.test"


def daemon(p, settings=None):
    """A daemon whose store says default_domain = the Prosody host."""
    d = h.Daemon(p, settings=settings)
    d.stop()
    db = sqlite3.connect(d.store)
    db.execute("UPDATE settings SET default_domain = ?", (p.host,))
    db.commit()
    db.close()
    d.start()
    return d


def edit(c, action, fields, lang=None):
    """topology/edit: action, then the detail form; returns the final Command."""
    r = c.execute(JID, "topology/edit", lang=lang)
    r = c.next(JID, "topology/edit", r.sessionid, form={"action": action}, lang=lang)
    if r.status == "completed":
        return r
    return c.complete(JID, "topology/edit", r.sessionid, form=fields, lang=lang)


def add_node(c, name, role, group, release="15.0"):
    r = edit(c, "add-node", {"name": name, "role": role, "release": release, "group": group})
    check(r.status == "completed" and not [n for n in r.notes if n[0] == "error"],
          "add-node %s: %r" % (name, r))
    return r


def import_users(c, lines):
    r = c.execute(JID, "users/import")
    r = c.complete(JID, "users/import", r.sessionid, form={"users": lines})
    check(r.status == "completed", "users/import: %r" % r)
    return r


def one_shot(c, node, form=None):
    """Runs a command whose first stage is a form: execute, then complete with `form`."""
    r = c.execute(JID, node)
    if r.status == "completed":
        return r
    return c.complete(JID, node, r.sessionid, form=form or {})


def sessions(c):
    """{node: (sessions, online users, assigned users)} from the sessions command."""
    r = c.execute(JID, "sessions")
    return {row["node"][0]: tuple(int(row[k][0]) for k in ("sessions", "online_users", "users"))
            for row in r.items()}


def error_notes(r):
    return [text for kind, text in r.notes if kind == "error"]
