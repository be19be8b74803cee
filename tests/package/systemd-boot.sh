#!/bin/sh
# A throwaway systemd for the package check, on a machine where systemd is not PID 1 (CI
# containers, VMs whose init is something else): systemd runs as PID 1 of new pid, mount,
# network, UTS, IPC and cgroup namespaces, on a root that is an overlay of / with every write
# going to a tmpfs, so the installed package and its unit are there as on the host but nothing
# the boot does reaches the host:
#   - the root is overlayfs(lower=/, upper=tmpfs): systemd-tmpfiles cleaning /tmp, journald,
#     utmp, sysusers write into the tmpfs (without the overlay, sysinit.target's
#     `systemd-tmpfiles --remove` empties the host's /tmp: it did, once, while this was made);
#   - /proc/sys and every /sys mount read-only: systemd-sysctl and udev skip themselves (their
#     ConditionPathIsReadWrite=), no kernel setting or cgroup controller of the host changes;
#   - cgroups: systemd's own subtree of the named systemd and unified hierarchies only
#     (imd-check-PID, removed by `stop`);
#   - its own /dev (null, zero, full, random, urandom, tty, a new devpts), /run and /tmp;
#   - an empty start target; units in /run/systemd/system of the throwaway mask what a
#     container has no use for.
# Needs root with CAP_SYS_ADMIN, overlayfs, cgroup v1 name=systemd + v2 unified (hybrid) or
# v2 only. Prints nothing on success of `start`; the state goes to $STATE (a directory).
#
#   systemd-boot.sh start STATE      boot; wait until `systemctl is-system-running` answers
#   systemd-boot.sh run STATE CMD... run CMD inside (as root, in all of its namespaces)
#   systemd-boot.sh stop STATE       poweroff, then SIGKILL if needed; remove the cgroups
set -eu

cmd=$1 state=$2
shift 2

pid1() { cat "$state/pid1"; }

inside() {
    nsenter -t "$(pid1)" -m -p -n -u -i -C -r -w "$@"
}

boot() { # runs as PID 1 of the new namespaces, before systemd
    base=$1
    mount --make-rprivate /
    mount -t tmpfs -o mode=0755 tmpfs "$base"
    mkdir "$base/upper" "$base/work" "$base/root"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$base/upper,workdir=$base/work" "$base/root"
    r=$base/root
    mount -t proc proc "$r/proc"
    mount --bind "$r/proc/sys" "$r/proc/sys"
    mount -o remount,bind,ro "$r/proc/sys"
    mount --rbind /sys "$r/sys"
    # every mount under /sys read-only (the cgroup controllers of the host among them) ...
    awk -v r="$r/sys" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo |
        sort -r | while read -r m; do mount -o remount,bind,ro "$m" 2>/dev/null || true; done
    # ... but systemd's own cgroup subtree, writable, at the root of its hierarchies
    if [ -d /sys/fs/cgroup/systemd ]; then
        mount --bind "/sys/fs/cgroup/systemd/$CG" "$r/sys/fs/cgroup/systemd"
        mount --bind "/sys/fs/cgroup/unified/$CG" "$r/sys/fs/cgroup/unified"
    else
        mount --bind "/sys/fs/cgroup/$CG" "$r/sys/fs/cgroup"
    fi
    mount -t tmpfs -o mode=0755 tmpfs "$r/dev"
    for n in null zero full random urandom tty; do
        touch "$r/dev/$n"
        mount --bind "/dev/$n" "$r/dev/$n"
    done
    mkdir "$r/dev/pts" "$r/dev/shm"
    ln -s pts/ptmx "$r/dev/ptmx"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"
    mount -t tmpfs tmpfs "$r/run"
    mount -t tmpfs tmpfs "$r/tmp"
    u=$r/run/systemd/system
    mkdir -p "$u"
    printf '[Unit]\nDescription=throwaway boot of the package check\n' >"$u/imd-check.target"
    # Nothing to wait for in an empty network namespace.
    for m in systemd-networkd-wait-online.service ifupdown-wait-online.service \
        networking.service systemd-networkd.service NetworkManager-wait-online.service; do
        ln -s /dev/null "$u/$m"
    done
    exec chroot "$r" env -i container=imd-check /lib/systemd/systemd --unit=imd-check.target
}

case $cmd in
start)
    mkdir -p "$state"
    CG=imd-check-$$
    if [ -d /sys/fs/cgroup/systemd ]; then
        mkdir "/sys/fs/cgroup/systemd/$CG" "/sys/fs/cgroup/unified/$CG"
    else
        mkdir "/sys/fs/cgroup/$CG"
    fi
    echo "$CG" >"$state/cgroup"
    base=$(mktemp -d "$state/root.XXXXXX")
    (
        # this subshell (and so systemd) into the subtree, then the cgroup namespace makes it
        # the root systemd sees
        if [ -d /sys/fs/cgroup/systemd ]; then
            echo 0 >"/sys/fs/cgroup/systemd/$CG/cgroup.procs"
            echo 0 >"/sys/fs/cgroup/unified/$CG/cgroup.procs"
        else
            echo 0 >"/sys/fs/cgroup/$CG/cgroup.procs"
        fi
        export CG
        exec unshare --cgroup --pid --fork --mount --net --uts --ipc "$0" boot "$base"
    ) >"$state/boot.log" 2>&1 </dev/null &
    echo $! >"$state/unshare"
    for _ in $(seq 100); do
        p=$(pgrep -P "$(cat "$state/unshare")" 2>/dev/null | head -1) || true
        if [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ]; then
            echo "$p" >"$state/pid1"
            if inside systemctl is-system-running >/dev/null 2>&1; then
                exit 0
            fi
        fi
        sleep 0.2
    done
    echo "the throwaway systemd did not come up:" >&2
    cat "$state/boot.log" >&2
    exit 1
    ;;
boot)
    boot "$state"
    ;;
run)
    inside "$@"
    ;;
stop)
    if [ -s "$state/pid1" ] && kill -0 "$(pid1)" 2>/dev/null; then
        inside systemctl poweroff >/dev/null 2>&1 || true
        for _ in $(seq 50); do kill -0 "$(pid1)" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$(pid1)" 2>/dev/null || true
    fi
    [ -s "$state/unshare" ] && wait "$(cat "$state/unshare")" 2>/dev/null || true
    sleep 0.5
    cg=$(cat "$state/cgroup" 2>/dev/null || true)
    if [ -n "$cg" ]; then
        for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
            [ -d "$h/$cg" ] || continue
            find "$h/$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
        done
    fi
    ;;
*)
    echo "usage: systemd-boot.sh start|run|stop STATE [CMD...]" >&2
    exit 2
    ;;
esac
