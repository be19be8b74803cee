#!/usr/bin/env bash
# The package check CI runs after the suites: the systemd unit passes `systemd-analyze verify`
# and rates at most 2.0 in `systemd-analyze security --offline=true`, `make deb` builds the
# imdomaind and imdomainctl packages without lintian errors, they install with dpkg -i, the
# daemon checks the packaged configuration as the package's user, with [certs] key_group =
# prosody it writes a key user prosody can read and others cannot, a throwaway systemd runs the
# unit (with polkit: the service reloads prosody.service through 50-imdomaind.rules; the
# watchdog), and a purge leaves nothing behind. Prints TAP and a last line "package: N passed, M failed". Needs root (dpkg -i).
#   usage: tests/package/check-package.sh BUILDDIR    (a configured build directory)
set -u
builddir=$(cd "${1:?usage: check-package.sh BUILDDIR}" && pwd)
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/imd-package.XXXXXX)
trap 'rm -rf "$work"' EXIT
n=0 pass=0 fail=0

ok() { # condition-status description [detail file]
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        pass=$((pass + 1)); echo "ok $n - $2"
    else
        fail=$((fail + 1)); echo "not ok $n - $2"
        [ -n "${3:-}" ] && [ -s "$3" ] && sed 's/^/# /' "$3" | tail -30
    fi
}
finish() {
    echo "1..$n"
    echo "package: $pass passed, $fail failed"
    exit $((fail > 0))
}

if [ "$(id -u)" != 0 ]; then
    echo "ok 1 - package check # SKIP needs root for dpkg -i"
    echo "1..1"; echo "package: 0 passed, 0 failed"; exit 0
fi
if dpkg -s imdomaind >/dev/null 2>&1; then
    echo "not ok 1 - imdomaind is installed already: purge it first (dpkg --purge imdomaind)"
    echo "1..1"; echo "package: 0 passed, 1 failed"; exit 1
fi

# The unit as make renders it, before any package: its sandbox rating.
make -C "$builddir" contrib/systemd/imdomaind.service >"$work/unit.out" 2>&1
unit="$builddir/contrib/systemd/imdomaind.service"
systemd-analyze security --offline=true "$unit" >"$work/security.out" 2>&1
exposure=$(sed -n 's/.*Overall exposure level for imdomaind.service: \([0-9.]*\) .*/\1/p' "$work/security.out")
echo "# systemd-analyze security --offline=true: exposure ${exposure:-?}"
awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.0) }'
ok $? "systemd-analyze security --offline=true: exposure ${exposure:-?} <= 2.0 (OK)" "$work/security.out"

# The polkit rule that lets the service user reload the router's unit (README): evaluated in
# node when there is one (no polkitd or systemd as PID 1 needed).
if command -v node >/dev/null 2>&1; then
    node "$srcdir/tests/package/check-polkit.js" "$srcdir/contrib/polkit/50-imdomaind.rules" \
        >"$work/polkit.out" 2>&1
    while read -r line; do
        case $line in
        "ok "*) ok 0 "${line#ok * - }" ;;
        "not ok "*) ok 1 "${line#not ok * - }" "$work/polkit.out" ;;
        esac
    done <"$work/polkit.out"
    grep -q '^ok ' "$work/polkit.out" || ok 1 "polkit rule evaluation" "$work/polkit.out"
else
    echo "# node is not installed: the polkit rule is not evaluated"
fi

# make deb: dpkg-buildpackage -us -uc -b, then lintian --fail-on error.
make -C "$builddir" deb >"$work/deb.out" 2>&1
ok $? "make deb builds the packages and lintian reports no errors" "$work/deb.out"
deb_d=$(ls "$builddir"/deb/imdomaind_*_*.deb 2>/dev/null | head -1)
deb_c=$(ls "$builddir"/deb/imdomainctl_*_*.deb 2>/dev/null | head -1)
[ -n "$deb_d" ] && [ -n "$deb_c" ]
ok $? "imdomaind and imdomainctl .deb files exist"
[ -n "$deb_d" ] && [ -n "$deb_c" ] || finish
lintian "$builddir"/deb/*.changes >"$work/lintian.out" 2>&1
! grep -q '^E: ' "$work/lintian.out"
ok $? "lintian: no errors ($(grep -c '^W: ' "$work/lintian.out") warnings)" "$work/lintian.out"
dpkg-deb -f "$deb_d" Package | grep -qx imdomaind &&
    dpkg-deb -e "$deb_d" "$work/control" && grep -qx /etc/imdomaind/imdomaind.conf "$work/control/conffiles"
ok $? "/etc/imdomaind/imdomaind.conf is a conffile"

# Install.
dpkg -i "$deb_d" "$deb_c" >"$work/install.out" 2>&1
ok $? "dpkg -i installs both packages" "$work/install.out"
getent passwd imdomaind >/dev/null && getent group imdomaind >/dev/null
ok $? "the system user and group imdomaind exist"
[ "$(stat -c '%a %U %G' /etc/imdomaind/component.secret 2>/dev/null)" = "640 root imdomaind" ]
ok $? "the component secret is 0640 root:imdomaind"
for f in /usr/sbin/imdomaind /usr/bin/imdomainctl /lib/systemd/system/imdomaind.service \
    /usr/share/imdomaind/prosody/mod_imdomaind_hosts.lua \
    /usr/share/doc/imdomaind/examples/50-imdomaind.rules; do
    [ -e "$f" ] || echo "missing $f"
done >"$work/files.out"
for m in imdomaind.8 imdomaind.conf.5 imdomainctl.1; do
    man -w "${m%.*}" >/dev/null 2>&1 || [ -e "/usr/share/man/man${m##*.}/$m.gz" ] || echo "no man page $m"
done >>"$work/files.out"
[ ! -s "$work/files.out" ]
ok $? "binaries, unit, Prosody module and man pages are installed" "$work/files.out"
systemd-analyze verify /lib/systemd/system/imdomaind.service >"$work/verify.out" 2>&1
ok $? "systemd-analyze verify on the installed unit" "$work/verify.out"
setpriv --reuid=imdomaind --regid=imdomaind --init-groups \
    /usr/sbin/imdomaind -n -f /etc/imdomaind/imdomaind.conf >"$work/n.out" 2>&1 &&
    grep -qx "configuration OK" "$work/n.out"
ok $? "imdomaind -n -f /etc/imdomaind/imdomaind.conf as the package's user: configuration OK" "$work/n.out"
# The daemon itself as that user: store in /var/lib/imdomaind, control socket in a runtime
# directory like the unit's; no router, so imdomainctl status says CRITICAL (exit 2).
install -d -o imdomaind -g imdomaind -m 0755 /run/imdomaind
setpriv --reuid=imdomaind --regid=imdomaind --init-groups \
    /usr/sbin/imdomaind -f /etc/imdomaind/imdomaind.conf >"$work/run.out" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S /run/imdomaind/control.sock ] && break; sleep 0.1; done
imdomainctl status >"$work/status.out" 2>&1
rc=$?
kill -TERM $pid 2>/dev/null; wait $pid
[ $rc -eq 2 ] && head -1 "$work/status.out" | grep -q '^IMDOMAIND CRITICAL - '
ok $? "the packaged daemon runs as imdomaind; imdomainctl status answers CRITICAL (no router): exit $rc" "$work/status.out"
[ "$(stat -c %U /var/lib/imdomaind/imdomaind.db 2>/dev/null)" = imdomaind ]
ok $? "its store is /var/lib/imdomaind/imdomaind.db, owned by imdomaind" "$work/run.out"

# The router reads the key ([certs] key_group): the postinst put imdomaind in the routers'
# groups; the packaged daemon, run as imdomaind with key_group = prosody, writes a key that user
# prosody can read and user nobody cannot.
if getent group prosody >/dev/null; then
    for g in prosody ejabberd; do
        getent group "$g" >/dev/null && ! id -nG imdomaind | tr ' ' '\n' | grep -qx "$g" &&
            echo "imdomaind is not in group $g: $(id imdomaind)"
    done >"$work/groups.out"
    [ ! -s "$work/groups.out" ]
    ok $? "postinst added imdomaind to the routers' groups: $(id -nG imdomaind)" "$work/groups.out"
    certs=$(mktemp -d /tmp/imd-package-certs.XXXXXX)
    chown imdomaind:prosody "$certs" && chmod 0750 "$certs"
    conf=/run/imdomaind/keygroup.conf
    sed -e "s|^\[certs\]\$|[certs]\ndir = $certs\nkey_group = prosody|" \
        /etc/imdomaind/imdomaind.conf >"$conf"
    chmod 0644 "$conf"
    setpriv --reuid=imdomaind --regid=imdomaind --init-groups \
        /usr/sbin/imdomaind -f "$conf" >"$work/keygroup-log.out" 2>&1 &
    pid=$!
    for _ in $(seq 100); do [ -S /run/imdomaind/control.sock ] && break; sleep 0.1; done
    ctl() { imdomainctl run "$@" >>"$work/keygroup.out" 2>&1; }
    ctl domains/add domain=pkg.example.test && ctl certs/regenerate key_type=ec-p256
    rc=$?
    kill -TERM $pid 2>/dev/null; wait $pid
    cat "$work/keygroup-log.out" >>"$work/keygroup.out"
    key=$certs/pkg.example.test.key
    got=$(stat -L -c '%a %U %G' "$key" 2>/dev/null)
    echo "# $key: $got" | tee -a "$work/keygroup.out"
    [ $rc -eq 0 ] && [ "$got" = "640 imdomaind prosody" ]
    ok $? "key_group = prosody: the packaged daemon (as imdomaind) writes the key 0640 imdomaind:prosody" "$work/keygroup.out"
    setpriv --reuid=prosody --regid=prosody --init-groups head -c 27 "$key" 2>&1 |
        grep -q -- '-----BEGIN' >>"$work/keygroup.out"
    ok $? "user prosody reads the key" "$work/keygroup.out"
    ! setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$key" >/dev/null 2>>"$work/keygroup.out"
    ok $? "user nobody cannot read the key" "$work/keygroup.out"
    ! grep -q 'PRIVATE KEY' "$work/keygroup-log.out"
    ok $? "the daemon's log holds no key material" "$work/keygroup-log.out"
    rm -rf "$certs" "$conf"
else
    echo "# no group prosody (Prosody is not installed): the key group is not checked"
fi

# systemd for real: a throwaway systemd as PID 1 (tests/package/systemd-boot.sh: new
# namespaces, an overlay of / so nothing reaches the host) starts the installed unit:
# Type=notify reaches active with a STATUS=, imdomainctl answers over the RuntimeDirectory
# socket, the documented Debian certificate setup works inside the sandbox (ProtectSystem=strict
# + ReadWritePaths, the prosody group from User='s initgroups), the reload hook runs from the
# service, and stop is clean.
boot=$work/systemd
if ! getent group prosody >/dev/null; then
    echo "# no group prosody (Prosody is not installed): the throwaway systemd checks are skipped"
elif "$srcdir/tests/package/systemd-boot.sh" start "$boot" >"$work/sd.out" 2>&1; then
    sd() { timeout 120 "$srcdir/tests/package/systemd-boot.sh" run "$boot" "$@"; }
    sd sh -ec '
        install -d -o imdomaind -g prosody -m 0750 /etc/prosody/certs/imdomaind
        sed -i -e "s|^\[certs\]\$|[certs]\ndir = /etc/prosody/certs/imdomaind\nkey_group = prosody|" \
            -e "s|^\[router\]\$|[router]\nreload_hook = /usr/bin/touch /run/imdomaind/hook-ran|" \
            /etc/imdomaind/imdomaind.conf' >>"$work/sd.out" 2>&1
    sd systemctl start imdomaind.service >>"$work/sd.out" 2>&1
    rc=$?
    sd systemctl show -p ActiveState -p SubState -p StatusText -p MainPID -p User \
        imdomaind.service >"$work/sd-show.out" 2>&1
    cat "$work/sd-show.out" >>"$work/sd.out"
    [ $rc -eq 0 ] && grep -qx ActiveState=active "$work/sd-show.out" &&
        grep -qx SubState=running "$work/sd-show.out" && grep -q '^StatusText=..' "$work/sd-show.out"
    ok $? "systemd (PID 1 of a throwaway boot) starts imdomaind.service: Type=notify reaches active, $(grep '^StatusText=' "$work/sd-show.out")" "$work/sd.out"
    sd imdomainctl status >"$work/sd-status.out" 2>&1
    rc=$?
    [ $rc -eq 2 ] && head -1 "$work/sd-status.out" | grep -q '^IMDOMAIND CRITICAL - '
    ok $? "under systemd: imdomainctl status over /run/imdomaind/control.sock answers CRITICAL (no router): exit $rc" "$work/sd-status.out"
    sd imdomainctl run domains/add domain=sd.example.test >"$work/sd-hook.out" 2>&1 &&
        sd test -e /run/imdomaind/hook-ran && grep -q "The router was updated" "$work/sd-hook.out"
    ok $? "under systemd: domains/add runs the reload hook from the sandboxed service" "$work/sd-hook.out"
    sd imdomainctl run certs/regenerate key_type=ec-p256 >"$work/sd-certs.out" 2>&1
    got=$(sd stat -L -c '%a %U %G' /etc/prosody/certs/imdomaind/sd.example.test.key 2>>"$work/sd-certs.out")
    echo "# key: $got" >>"$work/sd-certs.out"
    [ "$got" = "640 imdomaind prosody" ] &&
        sd setpriv --reuid=prosody --regid=prosody --init-groups head -c 27 \
            /etc/prosody/certs/imdomaind/sd.example.test.key 2>>"$work/sd-certs.out" | grep -q -- -----BEGIN
    ok $? "under systemd: certs/regenerate writes /etc/prosody/certs/imdomaind (ReadWritePaths), key $got, readable by prosody" "$work/sd-certs.out"
    # The README's reload path, end to end: dbus + polkitd + Debian's prosody.service in the
    # throwaway; contrib/polkit/50-imdomaind.rules lets user imdomaind reload (only reload, only
    # the router units); the service's own hook `/bin/systemctl reload prosody.service`; and the
    # watchdog with WatchdogSec=2s (tests/package/systemd-reload.sh).
    "$srcdir/tests/package/systemd-reload.sh" "$boot" "$srcdir/contrib/polkit/50-imdomaind.rules" \
        "$work/sd-reload.log" >"$work/sd-reload.out" 2>&1
    while read -r line; do
        case $line in
        "ok "*) ok 0 "${line#ok - }" ;;
        "not ok "*) ok 1 "${line#not ok - }" "$work/sd-reload.log" ;;
        "# "*) echo "$line" ;;
        esac
    done <"$work/sd-reload.out"
    grep -q '^ok \|^# ' "$work/sd-reload.out" || ok 1 "under systemd: the polkit reload checks ran" "$work/sd-reload.out"
    sd systemctl stop imdomaind.service >>"$work/sd.out" 2>&1
    rc=$?
    sd systemctl show -p ActiveState -p Result imdomaind.service >"$work/sd-stop.out" 2>&1
    sd journalctl -u imdomaind.service --no-pager -o cat >>"$work/sd-stop.out" 2>&1
    [ $rc -eq 0 ] && grep -qx ActiveState=inactive "$work/sd-stop.out" &&
        grep -qx Result=success "$work/sd-stop.out" && grep -q 'stopped status=0' "$work/sd-stop.out"
    ok $? "under systemd: systemctl stop: inactive, Result=success, the daemon logged 'stopped status=0'" "$work/sd-stop.out"
    ! grep -q 'PRIVATE KEY' "$work/sd-stop.out"
    ok $? "under systemd: the journal holds no key material" "$work/sd-stop.out"
else
    echo "# no throwaway systemd could be booted here (needs root with CAP_SYS_ADMIN, overlayfs):"
    sed 's/^/#   /' "$work/sd.out" | tail -10
fi
"$srcdir/tests/package/systemd-boot.sh" stop "$boot" >/dev/null 2>&1

# Purge.
dpkg --purge imdomainctl imdomaind >"$work/purge.out" 2>&1
ok $? "dpkg --purge removes both packages" "$work/purge.out"
for p in /etc/imdomaind /var/lib/imdomaind /run/imdomaind /usr/sbin/imdomaind /usr/bin/imdomainctl \
    /lib/systemd/system/imdomaind.service /usr/share/imdomaind; do
    [ -e "$p" ] && echo "left behind: $p"
done >"$work/left.out"
dpkg -s imdomaind >/dev/null 2>&1 && echo "dpkg still knows imdomaind" >>"$work/left.out"
[ ! -s "$work/left.out" ]
ok $? "nothing is left behind after the purge" "$work/left.out"
finish
