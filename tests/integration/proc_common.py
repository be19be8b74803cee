# Shared by the procedure/domain-change tests that walk the seven steps over XMPP: what a step's
# form says (title, fixed lines), resuming a run, and step 2's wait for the HA setting to sync.
import sys

sys.dont_write_bytecode = True
import harness as h  # noqa: E402
from harness import check  # noqa: E402
import topo_common as tc  # noqa: E402

JID = tc.JID
NODE = "procedure/domain-change"


def fixed(r):
    """The fixed lines of the form shown."""
    if r.form is None:
        return []
    return [v.text or "" for f in r.form.findall("{jabber:x:data}field")
            if f.get("type") == "fixed" for v in f.findall("{jabber:x:data}value")]


def title(r):
    t = None if r.form is None else r.form.find("{jabber:x:data}title")
    return "" if t is None else (t.text or "")


def at_step(r, n):
    check(r.status == "executing" and "step %d of 7" % n in title(r),
          "expected step %d, got %r title=%r" % (n, r, title(r)))


def notes(r, kind):
    return " ".join(text for k, text in r.notes if k == kind)


def resume(admin, step):
    """Starts the command again: it offers to resume at `step`; resumes."""
    r = admin.execute(JID, NODE)
    options = [o.findtext("{jabber:x:data}value")
               for o in r.field("action").findall("{jabber:x:data}option")]
    check(options == ["resume", "cancel"], "no resume offered: %r %r" % (r, options))
    check(any("at step %d of 7" % step in line for line in fixed(r)), "lines %r" % fixed(r))
    r = admin.next(JID, NODE, r.sessionid, form={"action": "resume"})
    at_step(r, step)
    return r


def next_until_ready(admin, sid, timeout=60):
    """Next on the step 2 form until the HA setting has synced and the step runs: a refusal
    (HA disabled too recently) ends the view, so each try resumes first. Returns the answer
    to the next that ran the step."""
    last = []

    def attempt():
        r = admin.next(JID, NODE, last[-1].sessionid if last else sid, timeout=timeout)
        if r.status == "completed":
            why = notes(r, "error")
            check("wait" in why and "stays at step 2" in why, "refusal %r" % r.notes)
            last[:] = [resume(admin, 2)]
            return None
        last[:] = [r]
        return r
    check(h.wait_for(attempt, 15 * h.SLOW, interval=0.3), "step 2 never ran: %r" % last)
    return last[0]


def ha_states(admin):
    return {row["ha"][0] for row in admin.execute(JID, "topology").items()}
