#!/usr/bin/env bash
# setup-cgroup-delegation.sh USER [PID]: as root, simulate for USER what
# systemd's Delegate=yes does on the cgroup v2 hierarchy, on a host without
# systemd (HOST-NOTES: hybrid, cgroup2 at /sys/fs/cgroup/unified):
#
#   CG2/ocirt-deleg-UID/          owned by USER, with cgroup.procs,
#                                 cgroup.subtree_control, cgroup.threads
#   CG2/ocirt-deleg-UID/harness/  root-owned; PID (default: the caller) is
#                                 moved here, so everything it starts as
#                                 USER lives inside the delegated subtree
#
# The harness cgroup stays root-owned on purpose: a runtime started there
# finds its own cgroup not writable and runs without cgroups, as on a
# normal host without delegation. Tests that want the cgroupfs manager move
# the runtime into a cgroup of their own below CG2/ocirt-deleg-UID (a user
# may move its processes between cgroups whose common ancestor's
# cgroup.procs it can write), see tests/bats/cgroups.bats.
#
# Prints the delegated directory. Idempotent. Refuses to run on a host
# where systemd is PID 1 (there, real delegation exists: use a user
# session or `systemd-run --user --scope -p Delegate=yes`).
set -euo pipefail

die() { echo "setup-cgroup-delegation.sh: $*" >&2; exit 1; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: setup-cgroup-delegation.sh USER [PID]"
user=$1
pid=${2:-$PPID}
[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -d /run/systemd/system ] && die "systemd is PID 1 here: use its delegation instead"
uid=$(id -u "$user") || die "no user $user"
gid=$(id -g "$user")
[[ "$pid" =~ ^[1-9][0-9]*$ ]] && [ -d "/proc/$pid" ] || die "no process $pid"

if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
	mnt=/sys/fs/cgroup
else
	mnt=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
fi
[ -n "$mnt" ] && [ -f "$mnt/cgroup.procs" ] || die "no cgroup v2 mount"

deleg=$mnt/ocirt-deleg-$uid
mkdir -p "$deleg/harness"
chown "$uid:$gid" "$deleg"
for f in cgroup.procs cgroup.subtree_control cgroup.threads; do
	chown "$uid:$gid" "$deleg/$f"
done
# Leftovers of earlier runs (empty cgroups only; rmdir fails on others).
find "$deleg" -mindepth 1 -depth -type d ! -path "$deleg/harness" -exec rmdir {} + 2>/dev/null || true
echo "$pid" >"$deleg/harness/cgroup.procs"
echo "$deleg"
