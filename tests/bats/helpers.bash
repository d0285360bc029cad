# Shared helpers for the ocirt-rootless bats suite.
#
# Every test gets:
#   ROOT    a private state root (passed as --root to the runtime)
#   BUNDLE  a private bundle: rootfs copied from the shared busybox fixture and
#           config.json copied from the fixture's (rootless, user namespace
#           mapping container 0 to the caller)
#   CID     a container id to use
# The runtime is $OCIRT (default: build/ocirt-rootless of this checkout);
# run the suite against runc with OCIRT=/usr/sbin/runc.
#
# teardown deletes every container left in ROOT with `delete --force` and
# fails the test if any container or container process survives.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

HELPERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_DIR=$(cd "$HELPERS_DIR/../.." && pwd)
OCIRT=${OCIRT:-$TOP_DIR/build/ocirt-rootless}
OCIRT_TIMEOUT=${OCIRT_TIMEOUT:-20}
SCRIPTS_DIR=${OCIRT_SCRIPTS_DIR:-$TOP_DIR/scripts}

# Is the runtime under test ours (as opposed to runc/crun used to validate
# the tests)? Cached in the environment by run-tests.sh.
if [ -z "${OCIRT_IS_OURS:-}" ]; then
	if "$OCIRT" --version 2>/dev/null | grep -qi 'ocirt-rootless'; then
		OCIRT_IS_OURS=1
	else
		OCIRT_IS_OURS=0
	fi
	export OCIRT_IS_OURS
fi
RUNTIME_NAME=$(basename "$OCIRT")

# The shared rootfs + config fixture, built once per run. run-tests.sh builds
# it and passes OCIRT_FIXTURE; otherwise it is built on first use under
# BATS_RUN_TMPDIR. Read-only by convention: tests copy it.
fixture_dir() {
	if [ -n "${OCIRT_FIXTURE:-}" ] && [ -f "$OCIRT_FIXTURE/config.json" ]; then
		echo "$OCIRT_FIXTURE"
		return
	fi
	local f=$BATS_RUN_TMPDIR/fixture
	if [ ! -f "$f/.done" ]; then
		(
			flock 9
			if [ ! -f "$f/.done" ]; then
				rm -rf "$f"
				"$SCRIPTS_DIR/make-bundle.sh" "$f" >&2 && touch "$f/.done"
			fi
		) 9>"$BATS_RUN_TMPDIR/fixture.lock"
	fi
	echo "$f"
}

setup() {
	[ -x "$OCIRT" ] || fail "runtime $OCIRT not found (build it with make, or set OCIRT)"
	ROOT=$BATS_TEST_TMPDIR/root
	BUNDLE=$BATS_TEST_TMPDIR/bundle
	CID=c$BATS_TEST_NUMBER
	HOST_UID=$(id -u)
	HOST_GID=$(id -g)
	HOST_USER=$(id -un)
	mkdir -p "$ROOT" "$BUNDLE"
	local fx
	fx=$(fixture_dir)
	cp -a "$fx/rootfs" "$BUNDLE/rootfs"
	cp "$fx/config.json" "$BUNDLE/config.json"
	TRACKED_PIDS=()
	BG_PIDS=()  # helper processes a test started (start_recvtty): killed in teardown
}

# runtime ARGS...: the runtime under test with this test's state root,
# bounded by a timeout so a hang fails the test instead of the suite.
runtime() {
	timeout --kill-after=5 "$OCIRT_TIMEOUT" "$OCIRT" --root "$ROOT" "$@"
}

# update_config FILTER [JQ ARGS...]: edit $BUNDLE/config.json with jq
# (JQ ARGS after the filter, e.g. --arg n v, --argjson n 1).
update_config() {
	local filter=$1
	shift
	jq "$filter" "$@" <"$BUNDLE/config.json" >"$BUNDLE/config.json.tmp" &&
		mv "$BUNDLE/config.json.tmp" "$BUNDLE/config.json"
}

# json_array ARG...: a JSON array of strings (jq's --args would take
# arguments such as -c as its own options).
json_array() {
	if [ $# -eq 0 ]; then
		echo '[]'
		return
	fi
	local a out=""
	for a in "$@"; do
		out+=${out:+,}$(jq -nc --arg x "$a" '$x')
	done
	echo "[$out]"
}

# set_args ARG...: process.args of the bundle.
set_args() {
	update_config '.process.args = $a' --argjson a "$(json_array "$@")"
}

# add_mount DEST TYPE SOURCE [OPTION...]
add_mount() {
	local dest=$1 type=$2 src=$3
	shift 3
	update_config '.mounts += [{destination: $d, type: $t, source: $s,
		options: $o}]' --arg d "$dest" --arg t "$type" --arg s "$src" \
		--argjson o "$(json_array "$@")"
}

# run_ctr ARG...: set process.args and run the container in the foreground
# (bats `run --separate-stderr`; stdin from /dev/null). The container's
# stdout is in $output, its stderr (and any runtime message) in $stderr.
run_ctr() {
	set_args "$@"
	run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
	# shown by bats if the test fails
	[ -z "$stderr" ] || printf '# stderr of run %s (status %s):\n%s\n' "$*" "$status" "$stderr"
}

# assert_stderr_contains TEXT: the last run's stderr contains TEXT.
assert_stderr_contains() {
	[[ "${stderr-}" == *"$1"* ]] || fail "stderr does not contain '$1': ${stderr-}"
}

# The first subordinate id range of the caller from FILE (/etc/subuid or
# /etc/subgid): prints "START COUNT", or fails.
subid_range() {
	local file=$1 user uid
	user=$(id -un)
	uid=$(id -u)
	awk -F: -v u="$user" -v n="$uid" '($1 == u || $1 == n) && NF >= 3 { print $2, $3; found = 1; exit }
		END { exit !found }' "$file"
}

# use_subid_mappings: give the config two ranges per map: container 0 =
# caller, container 1..COUNT = the caller's /etc/subuid and /etc/subgid
# ranges (mapped by the runtime with newuidmap/newgidmap). Skips the test
# when the caller has no subordinate ids.
use_subid_mappings() {
	local us uc gs gc
	read -r us uc < <(subid_range /etc/subuid) || skip "no /etc/subuid range for $(id -un)"
	read -r gs gc < <(subid_range /etc/subgid) || skip "no /etc/subgid range for $(id -un)"
	SUBUID_START=$us SUBUID_COUNT=$uc SUBGID_START=$gs SUBGID_COUNT=$gc
	update_config '.linux.uidMappings = [{containerID: 0, hostID: $u, size: 1},
			{containerID: 1, hostID: $us, size: $uc}]
		| .linux.gidMappings = [{containerID: 0, hostID: $g, size: 1},
			{containerID: 1, hostID: $gs, size: $gc}]' \
		--argjson u "$(id -u)" --argjson g "$(id -g)" \
		--argjson us "$us" --argjson uc "$uc" --argjson gs "$gs" --argjson gc "$gc"
}

# remove_userns: a config without user namespace and without mappings. Only
# ocirt-rootless runs it rootless (it makes the user namespace itself).
remove_userns() {
	update_config 'del(.linux.uidMappings, .linux.gidMappings)
		| .linux.namespaces |= map(select(.type != "user"))'
}

# requires_ours REASON: skip unless the runtime under test is ocirt-rootless.
requires_ours() {
	[ "$OCIRT_IS_OURS" = 1 ] || skip "$RUNTIME_NAME does not $*"
}

# ours_or A B: prints A when testing ocirt-rootless, else B (for messages
# where ocirt-rootless promises more than runc gives).
ours_or() {
	if [ "$OCIRT_IS_OURS" = 1 ]; then echo "$1"; else echo "$2"; fi
}

# state_field ID JQ-PATH: one field of `state ID`.
state_field() {
	runtime state "$1" | jq -r "$2"
}

# wait_for_status ID STATUS [SECONDS]: poll `state` until STATUS (bounded).
wait_for_status() {
	local id=$1 want=$2 secs=${3:-10} i st=""
	for ((i = 0; i < secs * 20; i++)); do
		st=$(runtime state "$id" 2>/dev/null | jq -r .status 2>/dev/null) || st=""
		[ "$st" = "$want" ] && return 0
		sleep 0.05
	done
	echo "container $id: status '$st' after ${secs}s, wanted '$want'" >&2
	return 1
}

# wait_for_file FILE [SECONDS]: poll until FILE exists and is not empty.
wait_for_file() {
	local f=$1 secs=${2:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		[ -s "$f" ] && return 0
		sleep 0.05
	done
	echo "file $f did not appear within ${secs}s" >&2
	return 1
}

# pid_alive PID: true if PID exists and is not a zombie.
pid_alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_pid_gone PID [SECONDS]
wait_pid_gone() {
	local pid=$1 secs=${2:-5} i
	for ((i = 0; i < secs * 20; i++)); do
		pid_alive "$pid" || return 0
		sleep 0.05
	done
	echo "process $pid still alive after ${secs}s" >&2
	return 1
}

# The descendants of PID (host pids), one per line.
descendants() {
	local p c
	for p in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$p"
		descendants "$p"
	done
}

# run_detached ARGS...: like `run --separate-stderr runtime ARGS...` for the
# commands that leave a container process behind (create, run -d): that
# process inherits the runtime's stdio, so stdio goes to files (a pipe would
# keep bats waiting for the container). Sets status, output, stderr.
run_detached() {
	local o=$BATS_TEST_TMPDIR/detached.out e=$BATS_TEST_TMPDIR/detached.err
	status=0
	runtime "$@" </dev/null >"$o" 2>"$e" || status=$?
	output=$(cat "$o")
	stderr=$(cat "$e")
}

# start_detached [ARG...]: run -d the bundle as $CID with ARGS (default: a
# long sleep), stdio to files in BATS_TEST_TMPDIR; sets CPID (host pid).
start_detached() {
	[ $# -gt 0 ] || set -- sleep 1000
	set_args "$@"
	runtime run -d --bundle "$BUNDLE" "$CID" </dev/null \
		>"$BATS_TEST_TMPDIR/detached.out" 2>"$BATS_TEST_TMPDIR/detached.err" ||
		fail "run -d failed: $(cat "$BATS_TEST_TMPDIR/detached.err")"
	CPID=$(state_field "$CID" .pid)
	[[ "$CPID" =~ ^[1-9][0-9]*$ ]] || fail "bad pid in state: '$CPID'"
	TRACKED_PIDS+=("$CPID")
}

# assert_runtime_error [PATTERN...]: the last `run` failed with an error
# message (on stderr for `run --separate-stderr`, else in output) matching
# every PATTERN (extended regex, case-insensitive). For ocirt-rootless also
# check the contract: exit status 1, one line prefixed "ocirt-rootless: ".
assert_runtime_error() {
	local msg=${stderr-$output} p
	[ "$status" -ne 0 ] || fail "expected failure, got status 0 (output: $output)"
	[ -n "$msg" ] || fail "failed without an error message"
	for p in "$@"; do
		grep -qiE -- "$p" <<<"$msg" || fail "error message does not match /$p/: $msg"
	done
	if [ "$OCIRT_IS_OURS" = 1 ]; then
		[ "$status" -eq 1 ] || fail "exit status $status, wanted 1"
		local lines
		lines=$(grep -c '^ocirt-rootless: ' <<<"$msg" || true)
		[ "$lines" -ge 1 ] || fail "error does not start with 'ocirt-rootless: ': $msg"
		if [ -n "${stderr+x}" ]; then
			[ "$(grep -vc '^$' <<<"$stderr")" -eq 1 ] || fail "stderr is not one line: $stderr"
		fi
	fi
}

# assert_no_containers: nothing left in this test's state root.
assert_no_containers() {
	local left
	left=$(runtime list -q 2>/dev/null) || true
	[ -z "$left" ] || fail "containers left in state root: $left"
}

# Ids of containers in ROOT, from `list -q` and from the root's directories.
_known_ids() {
	{
		runtime list -q 2>/dev/null || true
		find "$ROOT" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null || true
	} | sort -u
}

teardown() {
	local bg
	for bg in "${BG_PIDS[@]}"; do
		kill "$bg" 2>/dev/null || true
	done
	[ -n "${ROOT:-}" ] || return 0
	local id pid pids=("${TRACKED_PIDS[@]}") errors=() ids
	ids=$(_known_ids)
	for id in $ids; do
		pid=$(runtime state "$id" 2>/dev/null | jq -r '.pid // 0' 2>/dev/null) || pid=0
		[ "${pid:-0}" -gt 0 ] 2>/dev/null && pids+=("$pid")
		runtime delete --force "$id" >/dev/null 2>&1 || true
	done
	for pid in "${pids[@]}"; do
		if ! wait_pid_gone "$pid" 5 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
			errors+=("container process $pid survived delete --force")
		fi
	done
	local left
	left=$(runtime list -q 2>/dev/null || true)
	[ -z "$left" ] || errors+=("containers left after delete --force: $left")
	for id in $ids; do
		[ -d "$ROOT/$id" ] && errors+=("state dir $ROOT/$id left")
	done
	# Files the container created with subordinate ids can stop bats from
	# cleaning up: make the tree removable.
	chmod -R u+rwX "$BATS_TEST_TMPDIR" 2>/dev/null || true
	if [ "${#errors[@]}" -gt 0 ]; then
		printf '# teardown: %s\n' "${errors[@]}" >&2
		return 1
	fi
}

# start_recvtty SOCKET ARG...: tests/tools/recvtty in the background on
# SOCKET (bounded by a timeout); returns once it listens.
start_recvtty() {
	local sock=$1 r i
	shift
	r=${OCIRT_RECVTTY:-$(dirname "$OCIRT")/recvtty}
	[ -x "$r" ] || r=$TOP_DIR/build/recvtty
	[ -x "$r" ] || fail "recvtty not found: make check builds it (or set OCIRT_RECVTTY)"
	timeout 30 "$r" "$@" "$sock" </dev/null >/dev/null 2>>"$BATS_TEST_TMPDIR/recvtty.err" 3>&- &
	RECVTTY_PID=$!
	BG_PIDS+=("$RECVTTY_PID")
	for ((i = 0; i < 200; i++)); do
		[ -S "$sock" ] && return 0
		sleep 0.05
	done
	fail "recvtty did not listen on $sock: $(cat "$BATS_TEST_TMPDIR/recvtty.err")"
}

# wait_recvtty: wait for the last recvtty; fail unless it ended cleanly.
wait_recvtty() {
	local rc=0
	wait "$RECVTTY_PID" || rc=$?
	[ "$rc" -eq 0 ] || fail "recvtty exited $rc: $(cat "$BATS_TEST_TMPDIR/recvtty.err" 2>/dev/null)"
}

# requires_shim: skip unless newuidmap-shim is installed with its file capabilities.
requires_shim() {
	[ -n "${OCIRT_SHIM:-}" ] && [ -x "$OCIRT_SHIM" ] ||
		skip "newuidmap-shim not installed (tests/setup-shim.sh runs as root from run-tests.sh)"
	getcap "$OCIRT_SHIM" 2>/dev/null | grep -q cap_setuid ||
		skip "$OCIRT_SHIM has no file capabilities (setcap failed in tests/setup-shim.sh)"
}
