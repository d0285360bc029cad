#!/usr/bin/env bash
# Root set-up for the id-mapping tests (tests/bats/idmap.bats, doctor.bats).
#
# Source it and call, as root, after the test tree was chowned to the test
# user (chown drops file capabilities):
#
#   . tests/setup-shim.sh
#   ocirt_shim_setup SHIM DIR [TEST_USER]
#
# - installs SHIM (build/newuidmap-shim) as DIR/newuidmap-shim with
#   `cap_setuid,cap_setgid+ep` and as DIR/newuidmap-shim-suid setuid root,
#   both root-owned in a root-owned DIR (mode 0755);
# - creates the user `ocirt-nosub` with no /etc/subuid or /etc/subgid entry
#   (the single-id fallback is tested as that user) and its private
#   XDG_RUNTIME_DIR;
# - when sudo is installed, lets TEST_USER (default $OCIRT_TEST_USER or
#   ocirt-test) run commands as ocirt-nosub, and only as that user, without
#   a password (/etc/sudoers.d/ocirt-tests).
#
# Exports for the tests (ocirt_as_testuser passes OCIRT* on):
#   OCIRT_SHIM OCIRT_SHIM_SUID OCIRT_NOSUB_USER OCIRT_NOSUB_XDG
# Returns non-zero (and the shim tests skip) when SHIM is missing or setcap
# fails. Safe to run any number of times, also concurrently.

ocirt_shim_setup() {
	local shim=$1 dir=$2 user=${3:-${OCIRT_TEST_USER:-ocirt-test}}
	local nosub=ocirt-nosub rc=0
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup-shim.sh: must run as root" >&2
		return 1
	fi
	(
		exec 9>/run/lock/ocirt-testuser.lock 2>/dev/null || exec 9>/tmp/ocirt-testuser.lock
		flock 9
		if ! getent passwd "$nosub" >/dev/null; then
			useradd -m -s /bin/bash "$nosub" || exit 1
		fi
		local f uid gid xdg
		for f in /etc/subuid /etc/subgid; do
			if [ -e "$f" ] && grep -q "^${nosub}:" "$f"; then
				sed -i "/^${nosub}:/d" "$f"
			fi
		done
		uid=$(id -u "$nosub")
		gid=$(id -g "$nosub")
		xdg=/tmp/ocirt-nosub-xdg-$uid
		if [ -L "$xdg" ] || { [ -e "$xdg" ] && [ ! -d "$xdg" ]; }; then
			rm -f "$xdg"
		fi
		mkdir -p "$xdg"
		chown "$uid:$gid" "$xdg"
		chmod 0700 "$xdg"
		if command -v sudo >/dev/null && [ -d /etc/sudoers.d ]; then
			local rule=/etc/sudoers.d/ocirt-tests
			printf '# ocirt-rootless tests: %s may act as %s (no subordinate ids)\n%s ALL=(%s) NOPASSWD: ALL\n' \
				"$user" "$nosub" "$user" "$nosub" >"$rule.tmp"
			chmod 0440 "$rule.tmp"
			if visudo -cqf "$rule.tmp"; then
				mv "$rule.tmp" "$rule"
			else
				rm -f "$rule.tmp"
			fi
		fi
	) || return 1
	OCIRT_NOSUB_USER=$nosub
	OCIRT_NOSUB_XDG=/tmp/ocirt-nosub-xdg-$(id -u "$nosub")
	export OCIRT_NOSUB_USER OCIRT_NOSUB_XDG

	if [ ! -x "$shim" ]; then
		echo "setup-shim.sh: $shim not found (make builds it): shim tests skip" >&2
		return 1
	fi
	install -d -m 0755 -o root -g root "$dir" || return 1
	install -m 0755 -o root -g root "$shim" "$dir/newuidmap-shim" || return 1
	install -m 4755 -o root -g root "$shim" "$dir/newuidmap-shim-suid" || return 1
	if ! setcap cap_setuid,cap_setgid+ep "$dir/newuidmap-shim"; then
		echo "setup-shim.sh: setcap failed (libcap2-bin installed? filesystem with xattrs?)" >&2
		rc=1
	fi
	OCIRT_SHIM=$dir/newuidmap-shim
	OCIRT_SHIM_SUID=$dir/newuidmap-shim-suid
	export OCIRT_SHIM OCIRT_SHIM_SUID
	return "$rc"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	[ $# -ge 2 ] || { echo "usage: setup-shim.sh SHIM DIR [TEST_USER]" >&2; exit 2; }
	ocirt_shim_setup "$@"
	printf 'export OCIRT_SHIM=%q OCIRT_SHIM_SUID=%q OCIRT_NOSUB_USER=%q OCIRT_NOSUB_XDG=%q\n' \
		"$OCIRT_SHIM" "$OCIRT_SHIM_SUID" "$OCIRT_NOSUB_USER" "$OCIRT_NOSUB_XDG"
fi
