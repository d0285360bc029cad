#!/bin/bash
# In the guest, as root (ocirt-vm-test.service -> boot.sh, which mounted
# the payload disk at /mnt/payload: the runtime, tests/, scripts/,
# vm-tests): copy the payload to the test user, run the tests
# as that user in a service of its systemd user manager (so
# XDG_RUNTIME_DIR, the session bus and `systemctl --user` are real), print
# the TAP on the serial console between markers, and power off.
set -u
console=/dev/ttyS0
user=ocirt
uid=$(id -u "$user")
home=/home/$user
rc=0

say() { echo "ocirt-vm: $*" >"$console"; }

rm -rf "$home/w"
cp -a /mnt/payload "$home/w"
chown -R "$user:$user" "$home/w"

# The user's manager and its bus (user@UID.service comes from linger).
for _ in $(seq 1 120); do
	systemctl is-active -q "user@$uid.service" && [ -S "/run/user/$uid/bus" ] && break
	sleep 0.5
done
systemctl is-active -q "user@$uid.service" || { say "user@$uid.service is not active"; rc=1; }
say "cgroup controllers for $user: $(cat "/sys/fs/cgroup/user.slice/user-$uid.slice/user@$uid.service/cgroup.controllers" 2>&1)"

tap=/tmp/ocirt-vm.tap
if [ "$rc" -eq 0 ]; then
	timeout --kill-after=10 "${OCIRT_VM_GUEST_TIMEOUT:-900}" \
		runuser -u "$user" -- env XDG_RUNTIME_DIR="/run/user/$uid" \
		DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$uid/bus" \
		systemd-run --user --wait --pipe --quiet --collect --unit=ocirt-vm-tests \
		--working-directory="$home/w" "$home/w/tests/vm/user-tests.sh" \
		</dev/null >"$tap" 2>/tmp/ocirt-vm.err
	rc=$?
fi
{
	echo "=== OCIRT-VM-TAP-BEGIN ==="
	cat "$tap" 2>/dev/null
	sed 's/^/# stderr: /' /tmp/ocirt-vm.err 2>/dev/null | tail -n 40
	echo "=== OCIRT-VM-TAP-END rc=$rc ==="
} >"$console"
sync
systemctl poweroff -ff
