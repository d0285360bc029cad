#!/usr/bin/env bash
# Shared root set-up for rootless tests and the demo.
#
# Creates the unprivileged user `ocirt-test` (if missing), gives it
# subordinate id ranges, a private XDG_RUNTIME_DIR, and makes /dev/fuse and
# /dev/net/tun usable by unprivileged users (as udev does on a normal host).
#
# Run it:    scripts/testuser.sh          -> prints `export VAR=...` lines
# Source it: . scripts/testuser.sh        -> sets OCIRT_TEST_* variables
#
# Variables set / printed:
#   OCIRT_TEST_USER OCIRT_TEST_UID OCIRT_TEST_GID OCIRT_TEST_HOME
#   OCIRT_TEST_XDG (its XDG_RUNTIME_DIR)
# Must run as root. Safe to run any number of times, also concurrently.

ocirt_testuser_setup() {
	local user=${OCIRT_TEST_USER:-ocirt-test}
	if [ "$(id -u)" -ne 0 ]; then
		echo "testuser.sh: must run as root" >&2
		return 1
	fi
	(
		# Serialise concurrent runs (useradd and the subuid edits race).
		exec 9>/run/lock/ocirt-testuser.lock 2>/dev/null || exec 9>/tmp/ocirt-testuser.lock
		flock 9
		if ! getent passwd "$user" >/dev/null; then
			useradd -m -s /bin/bash "$user" || exit 1
		fi
		local f
		for f in /etc/subuid /etc/subgid; do
			[ -e "$f" ] || install -m 0644 /dev/null "$f"
			if ! grep -q "^${user}:" "$f"; then
				echo "${user}:200000:65536" >>"$f"
			fi
		done
		for f in /dev/fuse /dev/net/tun; do
			if [ -c "$f" ]; then chmod 0666 "$f"; fi
		done
		local uid gid xdg
		uid=$(id -u "$user")
		gid=$(id -g "$user")
		xdg=/tmp/ocirt-test-xdg-$uid
		if [ -L "$xdg" ] || { [ -e "$xdg" ] && [ ! -d "$xdg" ]; }; then
			rm -f "$xdg"
		fi
		mkdir -p "$xdg"
		chown "$uid:$gid" "$xdg"
		chmod 0700 "$xdg"
	) || return 1
	OCIRT_TEST_USER=$user
	OCIRT_TEST_UID=$(id -u "$user")
	OCIRT_TEST_GID=$(id -g "$user")
	OCIRT_TEST_HOME=$(getent passwd "$user" | cut -d: -f6)
	OCIRT_TEST_XDG=/tmp/ocirt-test-xdg-$OCIRT_TEST_UID
	export OCIRT_TEST_USER OCIRT_TEST_UID OCIRT_TEST_GID OCIRT_TEST_HOME OCIRT_TEST_XDG
}

# ocirt_as_testuser CMD...: run CMD as the test user with a clean login-like
# environment (HOME, USER, XDG_RUNTIME_DIR, PATH) plus OCIRT* variables.
ocirt_as_testuser() {
	local -a envs=(
		HOME="$OCIRT_TEST_HOME" USER="$OCIRT_TEST_USER" LOGNAME="$OCIRT_TEST_USER"
		XDG_RUNTIME_DIR="$OCIRT_TEST_XDG"
		PATH="/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
		TERM="${TERM:-dumb}"
	)
	local v
	for v in $(compgen -v | grep -E '^(OCIRT|TESTS|BATS_|SKIP_UNIT$|SUITE_TIMEOUT$|CI$|TMPDIR$)' || true); do
		envs+=("$v=${!v}")
	done
	cd / && setpriv --reuid="$OCIRT_TEST_UID" --regid="$OCIRT_TEST_GID" --init-groups \
		env -i "${envs[@]}" "$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	ocirt_testuser_setup
	printf 'export OCIRT_TEST_USER=%q\n' "$OCIRT_TEST_USER"
	printf 'export OCIRT_TEST_UID=%q\n' "$OCIRT_TEST_UID"
	printf 'export OCIRT_TEST_GID=%q\n' "$OCIRT_TEST_GID"
	printf 'export OCIRT_TEST_HOME=%q\n' "$OCIRT_TEST_HOME"
	printf 'export OCIRT_TEST_XDG=%q\n' "$OCIRT_TEST_XDG"
	printf '# as the test user: HOME=%q XDG_RUNTIME_DIR=%q\n' "$OCIRT_TEST_HOME" "$OCIRT_TEST_XDG"
fi
