#!/usr/bin/python3
# Start-up refusals an administrator meets: a store file that is not a database, a store in a
# directory that does not exist, a control socket another process already listens on, and a
# reload_hook that cannot be split into words (which `imdomaind -n` called OK before). Each time imdomaind says what is wrong, exits with status 1
# without touching the router, and leaves the file or socket that was in its way alone.
import os
import socket
import sys

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402


def daemon(settings):
    """A daemon whose router port is closed (it must stop before connecting anyway)."""
    return h.Daemon(None, router_port=h.free_port(), settings=settings, start=False)


def refused(d, pattern):
    """Starts `d`, which must exit with status 1 and log `pattern`; returns the log."""
    d.start(wait_connected=False)
    rc = d.wait_exit(20)
    log = d.log_text()
    check(rc == 1, "exit status %r (wanted 1); log:\n%s" % (rc, log))
    check(d.wait_log(pattern, 1), "no %r in the log:\n%s" % (pattern, log))
    check("connected to router" not in log and "starting imdomaind" not in log,
          "it went on to start:\n%s" % log)
    return log


def test_store_not_a_database():
    "a store path naming a file that is not SQLite: refused with the path, the file untouched"
    d = daemon({})
    with open(d.store, "w") as f:
        f.write("this is the administrator's notes file, not a store\n" * 100)
    before = open(d.store).read()
    refused(d, r"store %s: " % d.store.replace(".", r"\."))
    check(open(d.store).read() == before, "the file was changed")
    check(not os.path.exists(d.socket), "a control socket was left at %s" % d.socket)


def test_store_dir_missing():
    "a store in a directory that does not exist: refused with the path"
    d = daemon({})
    missing = os.path.join(d.dir, "no-such-dir", "imdomaind.db")
    d.sections["store"]["path"] = missing
    d.write_config()
    refused(d, r"store %s: " % missing.replace(".", r"\."))
    check(not os.path.exists(os.path.dirname(missing)), "the directory was created")


def test_control_socket_busy():
    "a control socket another process listens on: refused, that socket left working"
    d = daemon({})
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(d.socket)
    other.listen(4)
    h.defer(other.close)
    refused(d, r"another imdomaind is listening on %s" % d.socket.replace(".", r"\."))
    # The other process's socket still answers.
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(5 * h.SLOW)
    c.connect(d.socket)
    peer, _ = other.accept()
    peer.close()
    c.close()


def test_reload_hook_unparsable():
    "a reload_hook with an unterminated double quote: imdomaind -n names it, start refuses"
    d = daemon({"router": {"vhosts_file": os.path.join(h.tmpdir("v"), "vhosts.cfg.lua"),
                           "reload_hook": 'prosodyctl "reload'}})
    rc, out, err = d.check_config()
    check(rc == 1, "imdomaind -n: exit %r, output %r %r" % (rc, out, err))
    check("router.reload_hook: " in out + err, "imdomaind -n did not name it: %r %r" % (out, err))
    check("configuration OK" not in out, "imdomaind -n: %r" % out)
    refused(d, r"router\.reload_hook: ")


import sys as _sys  # noqa: E402
if len(_sys.argv) > 1:
    h.tap.run([globals()[n] for n in _sys.argv[1:]])
else:
    h.tap.run([
        test_store_not_a_database,
        test_store_dir_missing,
        test_control_socket_busy,
        test_reload_hook_unparsable,
    ])
