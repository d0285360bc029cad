#!/bin/bash
# In the guest, as the test user, in a service of its systemd user manager
# (guest-run.sh starts it with systemd-run --user): build the busybox
# fixture and run the bats files listed in ~/w/vm-tests as one TAP stream.
set -u
w=$HOME/w
cd "$w" || exit 1
export OCIRT=$w/bin/ocirt-rootless OCIRT_SCRIPTS_DIR=$w/scripts OCIRT_IS_OURS=1
export TMPDIR=$HOME/tmp
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/run/user/$(id -u)}
[ -S "$XDG_RUNTIME_DIR/bus" ] && export DBUS_SESSION_BUS_ADDRESS=unix:path=$XDG_RUNTIME_DIR/bus
mkdir -p "$TMPDIR"
fixture=$TMPDIR/fixture
rm -rf "$fixture"
if ! scripts/make-bundle.sh "$fixture" >/dev/null; then
	echo "1..1"
	echo "not ok 1 - build the busybox fixture"
	exit 1
fi
export OCIRT_FIXTURE=$fixture
files=()
for t in $(cat "$w/vm-tests"); do
	files+=("$w/$t")
done
exec bats --tap "${files[@]}"
