#!/usr/bin/env bash
# demo.sh: build a busybox bundle and run one rootless container in it,
# printing `id`, the user namespace uid map and the hostname from inside.
#
# As an unprivileged user it runs directly. As root it sets up the test user
# (scripts/testuser.sh) and runs the demo as that user, since rootless is the
# point. The runtime is $OCIRT (default: build/ocirt-rootless).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
OCIRT=${OCIRT:-$top/build/ocirt-rootless}

# The README's first command on a fresh machine: as root, install the
# Debian packages and build before anything else (both are idempotent).
if [ -z "${OCIRT_DEMO_AS_USER:-}" ] && [ "$OCIRT" = "$top/build/ocirt-rootless" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		"$here/install-deps.sh"
	fi
	make -C "$top" -j"$(nproc)" >/dev/null || { echo "demo.sh: build failed (make -C $top)" >&2; exit 1; }
fi
[ -x "$OCIRT" ] || { echo "demo.sh: runtime $OCIRT not found; run make first" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ] && [ -z "${OCIRT_DEMO_AS_USER:-}" ]; then
	# shellcheck source=testuser.sh
	. "$here/testuser.sh"
	ocirt_testuser_setup
	# The checkout may be unreadable by the test user (/root is 0700):
	# copy what the demo needs into a directory the user owns.
	work=$(mktemp -d /tmp/ocirt-demo.XXXXXX)
	trap 'rm -rf "$work"' EXIT
	mkdir -p "$work/scripts"
	cp "$OCIRT" "$work/ocirt-rootless"
	cp "$here/demo.sh" "$here/make-bundle.sh" "$work/scripts/"
	chown -R "$OCIRT_TEST_UID:$OCIRT_TEST_GID" "$work"
	chmod 0755 "$work"
	echo "demo.sh: running as unprivileged user $OCIRT_TEST_USER (uid $OCIRT_TEST_UID)"
	OCIRT=$work/ocirt-rootless OCIRT_DEMO_AS_USER=1 \
		ocirt_as_testuser "$work/scripts/demo.sh"
	exit $?
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ocirt-demo-bundle.XXXXXX")
id=demo-$$
root_args=()
[ -n "${OCIRT_ROOT:-}" ] && root_args=(--root "$OCIRT_ROOT")
cleanup() {
	"$OCIRT" "${root_args[@]}" delete --force "$id" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

"$here/make-bundle.sh" "$tmp"
jq '.process.args = ["sh", "-c", "echo \"--- id:\"; id; echo \"--- /proc/self/uid_map:\"; cat /proc/self/uid_map; echo \"--- hostname:\"; hostname"]' \
	"$tmp/config.json" >"$tmp/config.json.new"
mv "$tmp/config.json.new" "$tmp/config.json"
# ocirt-rootless makes the user namespace itself when the config has none:
# container root is the caller and ids 1.. come from /etc/subuid. Show that
# (runc and crun need the namespace and mappings in the config).
if "$OCIRT" --version 2>/dev/null | grep -q ocirt-rootless; then
	jq 'del(.linux.uidMappings, .linux.gidMappings)
	    | .linux.namespaces |= map(select(.type != "user"))' \
		"$tmp/config.json" >"$tmp/config.json.new"
	mv "$tmp/config.json.new" "$tmp/config.json"
fi

echo "demo.sh: $OCIRT run --bundle $tmp $id   (as uid $(id -u))"
set +e
timeout 60 "$OCIRT" "${root_args[@]}" run --bundle "$tmp" "$id" </dev/null
rc=$?
set -e
echo "demo.sh: container exited with status $rc"
exit "$rc"
