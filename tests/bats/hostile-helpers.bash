# Helpers for hostile.bats, crash.bats and concurrency.bats, on top of
# helpers.bash (load that first).
#
# MARKER is a string unique to the test; marker_args makes it part of the
# container process's command line, so `pgrep -f "$MARKER"` finds every
# process of the container on the host, whatever pid namespace it is in.

# The runtime and the container init it forks carry `--root $ROOT` on their
# command line (the init is a fork of the runtime, not an exec).
runtime_pattern() {
	printf -- '--root %s ' "$ROOT"
}

hostile_setup() {
	MARKER="ocirt-mark-${BATS_TEST_NUMBER}-$$-${RANDOM}${RANDOM}"
}

# marker_args [SHELL-CODE]: process.args = sh -c 'CODE; :' MARKER. The
# trailing `:` keeps sh from exec'ing the last command (which would drop
# the marker from the command line). Default CODE: a long sleep.
marker_args() {
	set_args /bin/sh -c "${1:-sleep 1000}; :" "$MARKER"
}

# pids_matching PATTERN: host pids whose command line contains PATTERN
# (not pgrep itself, not this shell).
pids_matching() {
	pgrep -f -- "$1" 2>/dev/null | grep -vx "$$" || true
}

# wait_no_pids PATTERN [SECONDS]: poll until no process matches.
wait_no_pids() {
	local pattern=$1 secs=${2:-5} i
	for ((i = 0; i < secs * 20; i++)); do
		[ -z "$(pids_matching "$pattern")" ] && return 0
		sleep 0.05
	done
	return 1
}

# describe_pids PATTERN: "pid: cmdline" lines for a failure message.
describe_pids() {
	local p
	for p in $(pids_matching "$1"); do
		printf '%s: %s\n' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
	done
}

# assert_nothing_left: no container listed, nothing in the state root
# (not even a hidden directory), no process of the container (MARKER) and
# no runtime or init process of this state root.
assert_nothing_left() {
	local left
	left=$(runtime list -q 2>&1) || fail "list failed: $left"
	[ -z "$left" ] || fail "list shows: $left"
	left=$(ls -A "$ROOT" 2>/dev/null)
	[ -z "$left" ] || fail "state root $ROOT is not empty: $left"
	if [ -n "${MARKER:-}" ] && ! wait_no_pids "$MARKER" 5; then
		fail "container processes left: $(describe_pids "$MARKER")"
	fi
	if ! wait_no_pids "$(runtime_pattern)" 5; then
		fail "runtime processes left: $(describe_pids "$(runtime_pattern)")"
	fi
}

# expect_refused VERB PATTERN...: `VERB --bundle $BUNDLE $CID` (create or
# run) fails with one error line matching every PATTERN, and leaves nothing.
expect_refused() {
	local verb=$1
	shift
	run_detached "$verb" --bundle "$BUNDLE" "$CID"
	assert_runtime_error "$@"
	assert_nothing_left
}

# elapsed_ms COMMAND...: run COMMAND (its status in $status) and put the
# wall-clock milliseconds it took in $ELAPSED_MS.
elapsed_ms() {
	local t0 t1
	t0=$(date +%s%N)
	status=0
	"$@" || status=$?
	t1=$(date +%s%N)
	ELAPSED_MS=$(((t1 - t0) / 1000000))
}

# write_hook NAME SHELL-CODE: an executable hook script in the test dir
# (outside the rootfs: hooks run on the host); prints its path.
write_hook() {
	local f=$BATS_TEST_TMPDIR/$1
	printf '#!/bin/sh\n%s\n' "$2" >"$f"
	chmod 0755 "$f"
	echo "$f"
}

# add_hook KIND PATH [ARG...]: append a hook (args[0] is the path).
add_hook() {
	local kind=$1 path=$2
	shift 2
	update_config '.hooks[$k] += [{path: $p, args: $a}]' --arg k "$kind" --arg p "$path" \
		--argjson a "$(json_array "$path" "$@")"
}

# kill_runtime_of ID: SIGKILL every runtime process working on container ID
# of this state root (the one the test started, not the container init,
# which is a fork of it and has the same command line: the init is the
# process whose parent is not a runtime process). Prints the pids killed.
runtime_pids_of() {
	local id=$1 p
	for p in $(pids_matching "$(runtime_pattern)"); do
		tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -qx -- "$id" && echo "$p"
	done
}

# status_in_list ID: the STATUS column of `list` for ID (empty if absent).
status_in_list() {
	runtime list -f json | jq -r --arg id "$1" '.[] | select(.id == $id) | .status'
}

# Every test of these files also gets a MARKER (setup of helpers.bash runs
# first).
eval "_helpers_$(declare -f setup)"
setup() {
	_helpers_setup
	hostile_setup
}
