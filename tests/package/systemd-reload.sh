#!/bin/sh
# The README's reload path for a non-root imdomaind, end to end in a throwaway systemd
# (tests/package/systemd-boot.sh): dbus and polkitd run inside it, Prosody runs as Debian's
# prosody.service (in the throwaway's own network namespace), and contrib/polkit/50-imdomaind.rules
# is what lets user imdomaind run `systemctl reload prosody.service`: refused before the rule is
# installed, allowed after, while restart and the reload of another unit stay refused. With the
# imdomaind package installed (check-package.sh), imdomaind.service's own reload hook
# `/bin/systemctl reload prosody.service` runs from the sandboxed unit, and the watchdog is fed
# under a real systemd (a drop-in WatchdogSec=2s). Everything written goes to the throwaway's
# overlay.
# Prints TAP lines ("ok - ..." / "not ok - ...") or "# ..." comments only (a skip prints no ok
# line); details go to LOG.
#   usage: systemd-reload.sh STATE RULES_FILE LOG     (STATE of a started systemd-boot.sh)
set -u
state=$1 rules=$2 log=$3
here=$(cd "$(dirname "$0")" && pwd)
sd() { timeout 60 "$here/systemd-boot.sh" run "$state" "$@"; }
t() { # status description
    if [ "$1" -eq 0 ]; then echo "ok - $2"; else echo "not ok - $2"; fi
}
as_imd() { sd runuser -u imdomaind -- systemctl "$@" >>"$log" 2>&1; }
sighups() { sd sh -c 'grep -c "Received SIGHUP" /var/log/prosody/prosody.log 2>/dev/null || true'; }
mainpid() { sd systemctl show -P MainPID prosody.service; }

if ! sd test -x /usr/lib/polkit-1/polkitd || ! sd test -x /usr/bin/dbus-daemon; then
    echo "# polkitd or dbus-daemon is not installed (.ci/deps.txt lists both): the polkit reload checks are skipped"
    exit 0
fi
if ! getent passwd imdomaind >/dev/null || ! getent passwd prosody >/dev/null; then
    echo "# no user imdomaind or prosody here: the polkit reload checks are skipped"
    exit 0
fi

# Prosody writes its own log afresh (the host's may be another owner's); the SIGHUPs are
# counted there.
sd rm -f /var/log/prosody/prosody.log /var/log/prosody/prosody.err /etc/polkit-1/rules.d/50-imdomaind.rules
sd systemctl start dbus.service polkit.service prosody.service >>"$log" 2>&1
rc=$?
sd systemctl show -p Id -p ActiveState dbus.service polkit.service prosody.service >>"$log" 2>&1
[ $rc -eq 0 ] && [ "$(sd systemctl is-active dbus.service polkit.service prosody.service | sort -u)" = active ]
t $? "under systemd: dbus, polkitd and Debian's prosody.service run in the throwaway"
pid=$(mainpid)
n0=$(sighups)

! as_imd reload prosody.service && [ "$(sighups)" = "$n0" ]
t $? "without the polkit rule, user imdomaind cannot reload prosody.service (polkit refuses)"

sd sh -c 'cat >/etc/polkit-1/rules.d/50-imdomaind.rules' <"$rules"
sd systemctl restart polkit.service >>"$log" 2>&1 # rules loaded now, not at inotify's pace
as_imd reload prosody.service
rc=$?
sleep 1
n1=$(sighups)
echo "# reload: rc=$rc SIGHUPs $n0 -> $n1, MainPID $pid -> $(mainpid)" >>"$log"
[ $rc -eq 0 ] && [ "$n1" -eq $((n0 + 1)) ] && [ "$(mainpid)" = "$pid" ] &&
    sd journalctl -u prosody.service --no-pager -o cat | grep -q '^Reloaded prosody.service'
t $? "with 50-imdomaind.rules, user imdomaind runs 'systemctl reload prosody.service': ExecReload ran, Prosody logged 'Received SIGHUP', same MainPID"

! as_imd restart prosody.service && [ "$(mainpid)" = "$pid" ]
t $? "polkit refuses user imdomaind 'systemctl restart prosody.service' (Prosody keeps its MainPID)"
! as_imd stop prosody.service && [ "$(sd systemctl is-active prosody.service)" = active ]
t $? "polkit refuses user imdomaind 'systemctl stop prosody.service'"
! as_imd reload dbus.service
t $? "polkit refuses user imdomaind 'systemctl reload dbus.service' (not a router unit)"
! sd runuser -u nobody -- systemctl reload prosody.service >>"$log" 2>&1 && [ "$(sighups)" = "$n1" ]
t $? "polkit refuses user nobody 'systemctl reload prosody.service'"

if ! sd test -e /lib/systemd/system/imdomaind.service; then
    echo "# imdomaind.service is not installed: its reload hook and watchdog are not checked here"
    exit 0
fi
# imdomaind.service itself: the documented hook, and a 2 s watchdog instead of 30 s.
sd sh -ec '
    sed -i "s|^reload_hook = .*|reload_hook = /bin/systemctl reload prosody.service|" /etc/imdomaind/imdomaind.conf
    mkdir -p /run/systemd/system/imdomaind.service.d
    printf "[Service]\nWatchdogSec=2s\n" >/run/systemd/system/imdomaind.service.d/watchdog.conf
    systemctl daemon-reload
    systemctl restart imdomaind.service' >>"$log" 2>&1
out=$(sd imdomainctl -s /run/imdomaind/control.sock run domains/add domain=polkit.example.test 2>&1)
rc=$?
echo "$out" >>"$log"
sleep 1
n2=$(sighups)
echo "# hook: rc=$rc SIGHUPs $n1 -> $n2" >>"$log"
[ $rc -eq 0 ] && echo "$out" | grep -q "The router was updated" && [ "$n2" -eq $((n1 + 1)) ] &&
    [ "$(mainpid)" = "$pid" ]
t $? "imdomaind.service (User=imdomaind, sandboxed): domains/add runs reload_hook = /bin/systemctl reload prosody.service through polkit, Prosody got the SIGHUP"

w1=$(sd systemctl show -P WatchdogTimestampMonotonic imdomaind.service)
sleep 3
w2=$(sd systemctl show -P WatchdogTimestampMonotonic imdomaind.service)
sd systemctl show -p WatchdogUSec -p ActiveState -p NRestarts -p WatchdogTimestampMonotonic imdomaind.service >>"$log" 2>&1
echo "# watchdog: WatchdogTimestampMonotonic $w1 -> $w2" >>"$log"
[ "$(sd systemctl show -P WatchdogUSec imdomaind.service)" = 2s ] && [ "${w1:-0}" -gt 0 ] &&
    [ "${w2:-0}" -gt "${w1:-0}" ] && [ "$(sd systemctl is-active imdomaind.service)" = active ] &&
    [ "$(sd systemctl show -P NRestarts imdomaind.service)" = 0 ] &&
    sd journalctl -u imdomaind.service --no-pager -o cat | grep -q 'notify: watchdog on interval_ms=1000$'
t $? "under systemd with WatchdogSec=2s: the daemon pings every 1 s (its log), WatchdogTimestampMonotonic advances over 3 s, still active, no restart"
