# Routers and imdomaind run as other users than root, as on a production host: Prosody as its
# Debian user `prosody`, imdomaind as an unprivileged user with chosen supplementary groups.
# Shared by test_service.py (the reload hook) and test_key_group.py (the router reads the key).
import os

import harness as h


def ids(user, group):
    import grp
    import pwd
    try:
        return pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
    except KeyError:
        return None


def open_path(path):
    """Lets other users traverse the directories down to `path` (the harness makes them 0700)."""
    path = os.path.abspath(path)
    while path not in ("/", "/tmp"):
        os.chmod(path, os.stat(path).st_mode | 0o711)
        path = os.path.dirname(path)


class ProsodyAsProsody(h.Prosody):
    """Prosody run as its Debian user, with the admin shell on a group-writable socket
    (umask 007) and mod_imdomaind_hosts, including the daemon's vhosts file."""

    def __init__(self, include=None, host="example.test", extra="", modules=()):
        h.Prosody.__init__(self, include=include, host=host, start=False, extra="\n".join([
            extra,
            'umask = "007"',
            'plugin_paths = { %s }' % h._lua_str(os.path.join(
                os.environ.get("IMD_SRCDIR", os.getcwd()), "contrib", "prosody")),
        ]))
        self.MODULES = self.MODULES + ["admin_shell", "imdomaind_hosts"] + list(modules)
        self.write_config()
        uid, gid = ids("prosody", "prosody")
        wrapper = os.path.join(self.dir, "prosody-as-prosody")
        with open(wrapper, "w") as f:
            # umask 007 from the start, as UMask=0007 in prosody.service does: Prosody loads
            # mod_admin_socket and mod_posix (which applies `umask`) in no fixed order, so the
            # option alone left the socket without group write in about one run in three.
            f.write("#!/bin/sh\numask 007\nexec setpriv --reuid=prosody --regid=prosody "
                    "--init-groups %s \"$@\"\n" % h.Prosody.BIN)
        os.chmod(wrapper, 0o755)
        self.BIN = wrapper
        self.register("admin", "pw-admin")  # as root, before the files go to prosody
        for root, dirs, files in os.walk(self.dir):
            for name in dirs + files:
                os.chown(os.path.join(root, name), uid, gid)
        os.chown(self.dir, uid, gid)
        os.chmod(self.config, 0o640)  # like /etc/prosody: root or the prosody group only
        open_path(self.dir)
        self.start()


class DaemonAs(h.Daemon):
    """imdomaind run as `user` with the supplementary groups `groups` (gids)."""

    def __init__(self, router, user, group, groups, start=True, **kw):
        self.user, self.group, self.groups = user, group, groups
        h.Daemon.__init__(self, router, start=False, **kw)
        uid = ids(user, "root")[0]
        os.chown(self.dir, uid, -1)
        open_path(self.dir)
        if start:
            self.start()

    def argv(self, *args):
        groups = ",".join(str(g) for g in self.groups) if self.groups else None
        pre = ["setpriv", "--reuid=" + self.user, "--regid=" + self.group]
        pre += ["--groups=" + groups] if groups else ["--clear-groups"]
        return pre + h.Daemon.argv(self, *args)
