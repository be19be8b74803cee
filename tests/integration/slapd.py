# A private OpenLDAP slapd for the directory tests: its own slapd.conf, mdb database, test CA
# and server certificate (openssl), ldap:// and ldaps:// on free loopback ports, entries loaded
# with slapadd (fast) or changed live with ldapmodify. Only the process started here is ever
# stopped. Needs the Debian packages slapd and ldap-utils (tests skip without them).
import os
import shutil
import subprocess
import threading

import harness as h

SUFFIX = "dc=example,dc=test"
PEOPLE = "ou=people," + SUFFIX
ADMIN_DN = "cn=admin," + SUFFIX
ADMIN_PW = "adminpw"
READER_DN = "cn=reader," + SUFFIX
READER_PW = "reader-secret"
SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"

# A small Active Directory look-alike: the two attributes a Lync / Skype for Business directory
# uses (OIDs from OpenLDAP's experimental arc, test only) and AD's person class name.
AD_SCHEMA = """
attributetype ( 1.3.6.1.4.1.4203.666.11.901.1 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.4203.666.11.901.2 NAME 'msRTCSIP-PrimaryUserAddress'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{1024} SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.4203.666.11.901.3 NAME 'user' SUP inetOrgPerson STRUCTURAL
  MAY ( sAMAccountName $ msRTCSIP-PrimaryUserAddress ) )
"""


def available():
    return all(os.access(p, os.X_OK) for p in (SLAPD, SLAPADD)) and shutil.which("ldapmodify")


def _run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60 * h.SLOW, **kw)
    if r.returncode != 0:
        raise h.TestFailure("%s failed (%d): %s %s" % (argv[0], r.returncode, r.stdout, r.stderr))
    return r


def make_ca(directory, name):
    """A CA key and certificate: (crt, key)."""
    crt, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
          "-nodes", "-keyout", key, "-out", crt, "-days", "3", "-subj", "/CN=" + name])
    return crt, key


def make_leaf(directory, ca, names="IP:127.0.0.1,DNS:localhost", expired=False):
    """A server certificate signed by ca=(crt, key) for `names`: (crt, key). `expired`: valid
    for one day in 2020 only (`openssl ca` takes explicit dates; `openssl x509` does not)."""
    crt, key = os.path.join(directory, "server.crt"), os.path.join(directory, "server.key")
    csr, ext = os.path.join(directory, "server.csr"), os.path.join(directory, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % names)
    _run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
          "-keyout", key, "-out", csr, "-subj", "/CN=ldap.example.test"])
    if not expired:
        _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
              "-CAcreateserial", "-out", crt, "-days", "3", "-extfile", ext])
        return crt, key
    cadir = os.path.join(directory, "ca-db")
    os.makedirs(cadir)
    open(os.path.join(cadir, "index.txt"), "w").close()
    with open(os.path.join(cadir, "serial"), "w") as f:
        f.write("1000\n")
    conf = os.path.join(cadir, "ca.cnf")
    with open(conf, "w") as f:
        f.write("[ca]\ndefault_ca = test\n[test]\ndir = %s\ndatabase = $dir/index.txt\n"
                "new_certs_dir = $dir\nserial = $dir/serial\ndefault_md = sha256\n"
                "policy = any\n[any]\ncommonName = supplied\n" % cadir)
    _run(["openssl", "ca", "-batch", "-notext", "-config", conf, "-cert", ca[0], "-keyfile",
          ca[1], "-in", csr, "-out", crt, "-startdate", "20200101000000Z", "-enddate",
          "20200102000000Z", "-extfile", ext])
    return crt, key


def person(uid, mail=None, cn=None, extra=None, ad=False, attr_uid="uid", attr_uri="mail"):
    """One entry as LDIF text under ou=people."""
    lines = ["dn: uid=%s,%s" % (uid, PEOPLE),
             "objectClass: %s" % ("user" if ad else "inetOrgPerson"),
             "uid: %s" % uid, "cn: %s" % (cn or uid), "sn: %s" % uid]
    if ad:
        lines.append("sAMAccountName: %s" % uid)
        if mail is not None:
            lines.append("msRTCSIP-PrimaryUserAddress: %s" % mail)
    elif mail is not None:
        lines.append("mail: %s" % mail)
    for k, v in (extra or []):
        lines.append("%s: %s" % (k, v))
    return "\n".join(lines) + "\n"


class Slapd:
    """slapd on 127.0.0.1 (ldap_port, ldaps_port) with a test CA; entries = LDIF text (the
    people) loaded before start. The reader DN may read everything; anonymous may not.
    tls=False: no certificate at all (ldap:// only, StartTLS refused); expired: the server's
    certificate expired in 2020; prtotal: the most entries a paged search may return in all;
    conf: more global slapd.conf lines (e.g. "disallow bind_anon"); ipv6: listen on [::1] too."""

    def __init__(self, entries="", ad_schema=False, start=True, names="IP:127.0.0.1,DNS:localhost",
                 sizelimit="500", tls=True, expired=False, prtotal="unlimited", conf="",
                 ipv6=False):
        if not available():
            raise h.Skip("slapd and ldap-utils are not installed (apt-get install slapd "
                         "ldap-utils)")
        self.dir = h.tmpdir("slapd")
        self.db = os.path.join(self.dir, "db")
        os.makedirs(self.db)
        self.ca = make_ca(self.dir, "test-ca")
        self.tls = tls
        self.leaf = make_leaf(self.dir, self.ca, names, expired) if tls else None
        self.ldap_port = h.free_port()
        self.ldaps_port = h.free_port() if tls else None
        self.ipv6 = ipv6
        self.conf = os.path.join(self.dir, "slapd.conf")
        self.log = os.path.join(self.dir, "slapd.log")
        self.pidfile = os.path.join(self.dir, "slapd.pid")
        schema = ""
        if ad_schema:
            schema = os.path.join(self.dir, "ad.schema")
            with open(schema, "w") as f:
                f.write(AD_SCHEMA)
            schema = "include %s\n" % schema
        with open(self.conf, "w") as f:
            f.write("""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
%(schema)spidfile %(pid)s
modulepath /usr/lib/ldap
moduleload back_mdb
%(tls)ssizelimit size.soft=%(size)s size.prtotal=%(prtotal)s
%(conf)s
database mdb
suffix "%(suffix)s"
rootdn "%(admin)s"
rootpw %(adminpw)s
directory %(db)s
maxsize 2147483648
index objectClass eq
index uid eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by dn.exact="%(reader)s" read by * none
""" % {"schema": schema, "pid": self.pidfile, "suffix": SUFFIX, "prtotal": prtotal, "conf": conf,
       "tls": ("TLSCACertificateFile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\n"
               % (self.ca[0], self.leaf[0], self.leaf[1])) if tls else "",
       "admin": ADMIN_DN, "adminpw": ADMIN_PW, "db": self.db, "reader": READER_DN, "size": sizelimit})
        self.base_ldif = """dn: %s
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: %s
objectClass: organizationalUnit
ou: people

dn: %s
objectClass: simpleSecurityObject
objectClass: organizationalRole
cn: reader
userPassword: %s

""" % (SUFFIX, PEOPLE, READER_DN, READER_PW)
        self.proc = None
        # start() and stop() one at a time: a test may stop slapd from a fault relay's thread
        # and start it again from its own; a start in the middle of that stop had its log file
        # closed under it ("I/O operation on closed file")
        self._lock = threading.Lock()
        self.load(self.base_ldif + "\n" + self._join(entries))
        h.show_log("slapd log", self.log)
        h.defer(self.stop)
        if start:
            self.start()

    @staticmethod
    def _join(entries):
        if isinstance(entries, (list, tuple)):
            return "\n".join(entries)
        return entries

    def load(self, ldif):
        """slapadd (only while stopped): fast bulk load."""
        path = os.path.join(self.dir, "load.ldif")
        with open(path, "w") as f:
            f.write(ldif)
        _run([SLAPADD, "-q", "-f", self.conf, "-l", path])

    def start(self, timeout=10):
        with self._lock:
            return self._start(timeout)

    def _start(self, timeout):
        self._log_fh = open(self.log, "ab")
        urls = "ldap://127.0.0.1:%d/" % self.ldap_port
        if self.tls:
            urls += " ldaps://127.0.0.1:%d/" % self.ldaps_port
        if self.ipv6:
            urls += " ldap://[::1]:%d/" % self.ldap_port
        self.proc = subprocess.Popen([SLAPD, "-f", self.conf, "-h", urls, "-d", "0"],
                                     stdin=subprocess.DEVNULL, stdout=self._log_fh,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        if not (h.wait_port(self.ldap_port, timeout * h.SLOW, proc=self.proc) and
                (not self.tls or h.wait_port(self.ldaps_port, timeout * h.SLOW, proc=self.proc))):
            raise h.TestFailure("slapd did not listen within %g s" % timeout)
        return self

    def stop(self):
        with self._lock:
            self._stop()

    def _stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10 * h.SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self._log_fh.close()
        self.proc = None

    def url(self, tls=False):
        return ("ldaps://127.0.0.1:%d" % self.ldaps_port if tls
                else "ldap://127.0.0.1:%d" % self.ldap_port)

    def modify(self, ldif):
        """ldapmodify as the root DN over ldap:// (live changes: add, modify, delete)."""
        _run(["ldapmodify", "-x", "-H", self.url(), "-D", ADMIN_DN, "-w", ADMIN_PW],
             input=ldif)

    def directory_settings(self, tls=True, starttls=False, ca=None, bind_dn=READER_DN,
                           password=READER_PW, **extra):
        """The daemon's [directory] section for this server."""
        pwfile = os.path.join(h.tmpdir("pw"), "bind.pw")
        with open(pwfile, "w") as f:
            f.write(password + "\n")
        os.chmod(pwfile, 0o600)
        s = {"uri": self.url(tls and self.tls), "base": PEOPLE, "ca_file": ca or self.ca[0],
             "bind_dn": bind_dn, "bind_password_file": pwfile,
             "starttls": "true" if starttls else "false", "timeout": 10}
        s.update(extra)
        return s
