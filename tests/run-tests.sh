#!/usr/bin/env bash
# run-tests.sh [AREA...]: the ocirt-rootless test suite.
#
# Runs the C unit tests (build/unit/test-*, TAP) and the bats tests
# (tests/bats/*.bats, TAP), then prints one summary line:
#   N passed, N failed, N skipped
# and exits non-zero when anything failed.
#
# As root it sets up the unprivileged user ocirt-test (scripts/testuser.sh),
# copies the runtime, the unit tests, tests/ and scripts/ into a fresh
# directory that user can read, and runs itself again as that user: rootless
# behaviour is only exercised by an unprivileged caller.
#
# Environment:
#   OCIRT         runtime under test (default build/ocirt-rootless);
#                 OCIRT=/usr/sbin/runc validates the runtime-agnostic tests
#   TESTS         areas to run, e.g. "cli lifecycle" (same as arguments)
#   TESTS_FILTER  regex passed to bats --filter (test names)
#   SKIP_UNIT=1   skip the C unit tests
#   KEEP=1        keep the copied tree (as root) for inspection
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# A bound on the bats run, for a hang; a loaded 2-core machine has needed
# about 15 minutes for the whole suite under ASan.
SUITE_TIMEOUT=${SUITE_TIMEOUT:-1500}

if [ $# -gt 0 ]; then
	TESTS="$*"
fi
TESTS=${TESTS:-}
export TESTS TESTS_FILTER="${TESTS_FILTER:-}" SKIP_UNIT="${SKIP_UNIT:-}"

# ---------------------------------------------------------------- as root
if [ "$(id -u)" -eq 0 ] && [ -z "${OCIRT_TESTS_AS_USER:-}" ]; then
	# shellcheck source=../scripts/testuser.sh
	. "$top/scripts/testuser.sh"
	ocirt_testuser_setup || exit 1
	# A delegated cgroup v2 subtree for the test user, as systemd's
	# Delegate=yes would give (cgroups.bats; others run without a cgroup).
	"$here/setup-cgroup-delegation.sh" "$OCIRT_TEST_USER" $$ >/dev/null 2>&1 ||
		echo "# cgroup delegation not simulated: cgroups.bats skips its cgroupfs tests"
	runtime_src=${OCIRT:-$top/build/ocirt-rootless}
	if [ ! -x "$runtime_src" ]; then
		echo "run-tests.sh: runtime $runtime_src not found; run make first" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
	work=$(mktemp -d /tmp/ocirt-tests.XXXXXX)
	# A host mount with locked flags (nosuid, nodev, noexec), as users'
	# /home or /tmp often are, for the remount-keeps-locked-flags test.
	mkdir -p "$work/locked"
	mount -t tmpfs -o nosuid,nodev,noexec,size=1m,mode=0755 ocirt-locked "$work/locked" 2>/dev/null || true
	cleanup() {
		umount "$work/locked" 2>/dev/null || true
		[ -n "${KEEP:-}" ] || rm -rf "$work"
	}
	trap cleanup EXIT
	mkdir -p "$work/bin" "$work/unit"
	cp "$runtime_src" "$work/bin/$(basename "$runtime_src")"
	# The programs built beside the runtime go with it: the network helper
	# is found next to the runtime, recvtty is the tests' console socket.
	for extra in ocirt-rootless-net recvtty no-openat2; do
		src=$(dirname "$runtime_src")/$extra
		[ -x "$src" ] || src=$top/build/$extra
		[ -x "$src" ] && cp "$src" "$work/bin/$extra"
	done
	[ -x "$work/bin/recvtty" ] && export OCIRT_RECVTTY=$work/bin/recvtty
	[ -x "$work/bin/no-openat2" ] && export OCIRT_NO_OPENAT2=$work/bin/no-openat2
	for u in "${OCIRT_UNIT_DIR:-$top/build/unit}"/test-*; do
		[ -f "$u" ] && [ -x "$u" ] && cp "$u" "$work/unit/"
	done
	cp -r "$top/tests" "$top/scripts" "$work/"
	chown -R "$OCIRT_TEST_UID:$OCIRT_TEST_GID" "$work"
	chmod 0755 "$work"
	# newuidmap-shim with file capabilities and a user without subordinate
	# ids for tests/bats/idmap.bats (after the chown, which drops capabilities)
	. "$top/tests/setup-shim.sh"
	ocirt_shim_setup "${OCIRT_SHIM_SRC:-$(dirname "$runtime_src")/newuidmap-shim}" "$work/shim" ||
		echo "# newuidmap-shim set-up failed: its tests skip"
	echo "# running as $OCIRT_TEST_USER (uid $OCIRT_TEST_UID) in $work"
	OCIRT_LOCKED_MOUNT=$work/locked \
		OCIRT=$work/bin/$(basename "$runtime_src") OCIRT_UNIT_DIR=$work/unit \
		OCIRT_TESTS_AS_USER=1 TMPDIR=$work \
		ocirt_as_testuser "$work/tests/run-tests.sh"
	exit $?
fi

# ------------------------------------------------- as the unprivileged user
OCIRT=${OCIRT:-$top/build/ocirt-rootless}
UNIT_DIR=${OCIRT_UNIT_DIR:-$top/build/unit}
export OCIRT OCIRT_SCRIPTS_DIR=$top/scripts
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/ocirt-rootless-$(id -u)}

results=$(mktemp -d "${TMPDIR:-/tmp}/ocirt-results.XXXXXX")
trap 'rm -rf "$results"' EXIT
passed=0 failed=0 skipped=0

# tally FILE [EXIT-STATUS]: count the TAP results in FILE. Tests announced in
# the plan but never reported, or a non-zero exit without any "not ok", count
# as failures.
tally() {
	local file=$1 rc=${2:-0} p f s plan seen
	p=$(grep -cE '^ok [0-9]+' "$file")
	s=$(grep -cE '^ok [0-9]+.*# [Ss][Kk][Ii][Pp]' "$file")
	f=$(grep -cE '^not ok [0-9]+' "$file")
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$file" | tail -n 1)
	seen=$((p + f))
	if [ -n "$plan" ] && [ "$plan" -gt "$seen" ]; then
		echo "# $(basename "$file" .tap): $((plan - seen)) planned tests did not report"
		f=$((f + plan - seen))
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "# $(basename "$file" .tap): exited with status $rc"
		f=$((f + 1))
	fi
	passed=$((passed + p - s))
	skipped=$((skipped + s))
	failed=$((failed + f))
}

# C unit tests.
if [ -z "$SKIP_UNIT" ]; then
	units=()
	for u in "$UNIT_DIR"/test-*; do
		[ -f "$u" ] && [ -x "$u" ] && units+=("$u")
	done
	if [ "${#units[@]}" -eq 0 ]; then
		echo "# no unit tests in $UNIT_DIR"
	fi
	for u in "${units[@]}"; do
		name=$(basename "$u")
		echo "# unit: $name"
		timeout 120 "$u" </dev/null 2>&1 | tee "$results/unit-$name.tap"
		tally "$results/unit-$name.tap" "${PIPESTATUS[0]}"
	done
fi

# bats tests.
bats_files=()
if [ -n "$TESTS" ]; then
	for t in $TESTS; do
		t=${t%.bats}
		t=${t##*/}
		if [ -f "$here/bats/$t.bats" ]; then
			bats_files+=("$here/bats/$t.bats")
		else
			echo "run-tests.sh: no test file tests/bats/$t.bats" >&2
			failed=$((failed + 1))
		fi
	done
else
	for t in "$here"/bats/*.bats; do
		[ -f "$t" ] && bats_files+=("$t")
	done
fi

if [ "${#bats_files[@]}" -gt 0 ]; then
	if ! command -v bats >/dev/null; then
		echo "run-tests.sh: bats not installed (run scripts/install-deps.sh as root)" >&2
		failed=$((failed + 1))
	else
		# Build the shared busybox rootfs + config once for the whole run.
		fixture=$(mktemp -d "${TMPDIR:-/tmp}/ocirt-fixture.XXXXXX")
		trap 'rm -rf "$results" "$fixture"' EXIT
		if "$top/scripts/make-bundle.sh" "$fixture"; then
			export OCIRT_FIXTURE=$fixture
		else
			echo "run-tests.sh: could not build the busybox fixture" >&2
			failed=$((failed + 1))
		fi
		if "$OCIRT" --version 2>/dev/null | grep -qi ocirt-rootless; then
			export OCIRT_IS_OURS=1
		else
			export OCIRT_IS_OURS=0
			echo "# runtime under test is $OCIRT (not ocirt-rootless): tests of ocirt-rootless extras skip"
		fi
		filter=()
		[ -n "$TESTS_FILTER" ] && filter=(--filter "$TESTS_FILTER")
		echo "# bats: ${bats_files[*]##*/} (runtime $OCIRT, uid $(id -u))"
		started=$SECONDS
		timeout --kill-after=10 "$SUITE_TIMEOUT" \
			bats --tap "${filter[@]}" "${bats_files[@]}" </dev/null 2>&1 |
			tee "$results/bats.tap"
		tally "$results/bats.tap" "${PIPESTATUS[0]}"
		echo "# bats took $((SECONDS - started)) s (bound: SUITE_TIMEOUT=$SUITE_TIMEOUT)"
	fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
