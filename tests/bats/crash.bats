#!/usr/bin/env bats
# Crash consistency: the runtime killed with SIGKILL at a stage of create,
# start, run or delete (a hook that blocks picks the moment). Afterwards
# `list` answers at once and reports the container honestly, and
# `delete --force` removes everything: the container's processes (found by
# a marker in their command line), the runtime's, the state directory.

load helpers
load hostile-helpers

# start_bg ARGS...: the runtime in the background, not under `timeout`
# (the test SIGKILLs it), stdio to files; its pid in RT_PID.
start_bg() {
	"$OCIRT" --root "$ROOT" "$@" </dev/null >"$BATS_TEST_TMPDIR/bg.out" 2>"$BATS_TEST_TMPDIR/bg.err" &
	RT_PID=$!
}

# kill_bg: SIGKILL the background runtime and reap it.
kill_bg() {
	kill -KILL "$RT_PID" 2>/dev/null || fail "runtime $RT_PID was already gone: $(cat "$BATS_TEST_TMPDIR/bg.err")"
	wait "$RT_PID" 2>/dev/null || true
}

# blocking_hook NAME [DIR]: a hook script that records its pid and
# NAME.ready in DIR (default: the test dir) and sleeps with MARKER in its
# command line; prints its path. With DIR given, the script goes into the
# rootfs (/bin/NAME) for hooks that run after pivot_root, and DIR is a
# path in the container.
blocking_hook() {
	local name=$1 dir=${2:-$BATS_TEST_TMPDIR}
	local code="echo \$\$ >$dir/$name.pid; echo ready >$dir/$name.ready
exec /bin/sh -c 'sleep 1000; :' $MARKER-hook-$name"
	if [ $# -ge 2 ]; then
		printf '#!/bin/sh\n%s\n' "$code" >"$BUNDLE/rootfs/bin/$name"
		chmod 0755 "$BUNDLE/rootfs/bin/$name"
		echo "/bin/$name"
	else
		write_hook "$name" "$code"
	fi
}

# kill_host_hook NAME: a hook that ran on the host is not killed with the
# runtime (hooks.c gives hooks no parent-death signal): end it and its
# children here, by pid.
kill_host_hook() {
	local pid
	pid=$(cat "$BATS_TEST_TMPDIR/$1.pid" 2>/dev/null) || return 0
	# shellcheck disable=SC2046 # one pid per word
	kill -KILL $(descendants "$pid") "$pid" 2>/dev/null || true
}

# assert_listed ID STATUS-REGEX: `list` (bounded) shows ID with a status
# matching STATUS-REGEX; `state` answers the same.
assert_listed() {
	local id=$1 want=$2 st
	run --separate-stderr runtime list -f json
	[ "$status" -eq 0 ] || fail "list failed ($status): $stderr"
	st=$(jq -r --arg id "$id" '.[] | select(.id == $id) | .status' <<<"$output")
	[ -n "$st" ] || fail "list does not show $id: $output"
	[[ "$st" =~ ^($want)$ ]] || fail "list says $id is '$st', wanted $want"
	run --separate-stderr runtime state "$id"
	[ "$status" -eq 0 ] || fail "state failed ($status): $stderr"
	[ "$(jq -r .status <<<"$output")" = "$st" ] || fail "state and list disagree: $output"
}

# delete_and_check ID: delete --force succeeds and nothing is left.
delete_and_check() {
	run --separate-stderr runtime delete --force "$1"
	[ "$status" -eq 0 ] || fail "delete --force failed ($status): $stderr"
	assert_nothing_left
}

@test "crash: create killed while a createRuntime hook runs" {
	marker_args
	add_hook createRuntime "$(blocking_hook rt)"
	start_bg create --bundle "$BUNDLE" "$CID"
	wait_for_file "$BATS_TEST_TMPDIR/rt.ready"
	kill_bg
	kill_host_hook rt
	# the init dies with the runtime (parent-death signal during create)
	wait_no_pids "$MARKER" 5 || fail "container process survived: $(describe_pids "$MARKER")"
	assert_listed "$CID" 'creating|stopped'
	delete_and_check "$CID"
}

@test "crash: create killed while a prestart hook runs" {
	marker_args
	add_hook prestart "$(blocking_hook pre)"
	start_bg create --bundle "$BUNDLE" "$CID"
	wait_for_file "$BATS_TEST_TMPDIR/pre.ready"
	kill_bg
	kill_host_hook pre
	assert_listed "$CID" 'creating|stopped'
	delete_and_check "$CID"
}

@test "crash: create killed while a createContainer hook runs" {
	marker_args
	add_hook createContainer "$(blocking_hook cc)"
	start_bg create --bundle "$BUNDLE" "$CID"
	wait_for_file "$BATS_TEST_TMPDIR/cc.ready"
	kill_bg
	# the hook ran in the container's pid namespace: gone with its init
	wait_no_pids "$MARKER-hook-cc" 5 || fail "createContainer hook survived: $(describe_pids "$MARKER")"
	assert_listed "$CID" 'creating|stopped'
	delete_and_check "$CID"
}

@test "crash: start killed while a startContainer hook runs" {
	marker_args
	add_hook startContainer "$(blocking_hook sc /tmp)"
	runtime create --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 2>&1 || fail "create failed"
	start_bg start "$CID"
	wait_for_file "$BUNDLE/rootfs/tmp/sc.ready"
	kill_bg
	# the init did get START: it is past created, whatever the record says
	assert_listed "$CID" 'created|running'
	delete_and_check "$CID"
}

@test "crash: a foreground run killed while the container runs" {
	marker_args
	start_bg run --bundle "$BUNDLE" "$CID"
	local i
	for ((i = 0; i < 200; i++)); do
		[ -n "$(pids_matching "$MARKER")" ] && break
		sleep 0.05
	done
	[ -n "$(pids_matching "$MARKER")" ] || fail "container did not start: $(cat "$BATS_TEST_TMPDIR/bg.err")"
	kill_bg
	assert_listed "$CID" 'running'
	delete_and_check "$CID"
}

@test "crash: delete killed while a poststop hook runs, delete --force finishes it" {
	# blocks the first time only, so the second delete can finish
	local hook
	hook=$(write_hook ps "if [ ! -e $BATS_TEST_TMPDIR/ps.once ]; then
	touch $BATS_TEST_TMPDIR/ps.once; echo \$\$ >$BATS_TEST_TMPDIR/ps.pid
	echo ready >$BATS_TEST_TMPDIR/ps.ready; exec sleep 1000; fi")
	add_hook poststop "$hook"
	set_args true
	runtime create --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 2>&1 || fail "create failed"
	runtime start "$CID" || fail "start failed"
	wait_for_status "$CID" stopped
	start_bg delete "$CID"
	wait_for_file "$BATS_TEST_TMPDIR/ps.ready"
	kill_bg
	kill_host_hook ps
	assert_listed "$CID" 'stopped'
	delete_and_check "$CID"
}

@test "crash: create killed at random moments leaves nothing delete --force cannot clean" {
	marker_args
	local round delay left
	for round in $(seq 1 25); do
		delay=$(printf '0.%03d' $(((round * 7) % 60)))
		start_bg create --bundle "$BUNDLE" "$CID"
		sleep "$delay"
		kill -KILL "$RT_PID" 2>/dev/null || true
		wait "$RT_PID" 2>/dev/null || true
		# list answers (bounded by runtime's timeout) whatever the stage
		run --separate-stderr runtime list -f json
		[ "$status" -eq 0 ] || fail "round $round (${delay}s): list failed: $stderr"
		run --separate-stderr runtime delete --force "$CID"
		[ "$status" -eq 0 ] || fail "round $round (${delay}s): delete --force failed: $stderr"
		left=$(ls -A "$ROOT")
		[ -z "$left" ] || fail "round $round (${delay}s): state root holds: $left"
		wait_no_pids "$MARKER" 5 || fail "round $round: container processes left: $(describe_pids "$MARKER")"
		wait_no_pids "$(runtime_pattern)" 5 ||
			fail "round $round: runtime processes left: $(describe_pids "$(runtime_pattern)")"
	done
	assert_nothing_left
}

@test "crash: an incomplete state directory (creator killed before state.json) is listed and deleted" {
	# what a create killed before it wrote state.json leaves: the directory
	mkdir -m 0700 "$ROOT/$CID"
	run --separate-stderr runtime state "$CID"
	assert_runtime_error "$CID" 'incomplete' 'delete --force'
	run --separate-stderr runtime list
	[ "$status" -eq 0 ] || fail "list failed: $stderr"
	delete_and_check "$CID"
}

# ---- what delete --force finds without state.json ---------------------------

# The delegated cgroup v2 subtree when the harness made one
# (tests/setup-cgroup-delegation.sh): sets TCG, a cgroup of this test the
# runtime is started in, so the cgroupfs manager makes TCG/CID.
use_delegation() {
	local mnt own dir
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
		mnt=/sys/fs/cgroup
	else
		mnt=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
	fi
	own=$(sed -n 's/^0:://p' /proc/self/cgroup)
	[ -n "$mnt" ] && [ -n "$own" ] || skip "no cgroup v2"
	for dir in "$mnt$own" "$(dirname "$mnt$own")"; do
		if [ -O "$dir" ] && [ -w "$dir/cgroup.procs" ]; then
			TCG=$dir/ocirt-crash-$BATS_TEST_NUMBER-$$
			mkdir "$TCG"
			return 0
		fi
	done
	skip "no delegated cgroup v2 subtree (tests/setup-cgroup-delegation.sh makes one; run-tests.sh runs it as root)"
}

eval "$(declare -f teardown | sed '1s/^teardown/helpers_teardown/')"
teardown() {
	local rc=0
	helpers_teardown || rc=$?
	if [ -n "${TCG:-}" ] && [ -d "$TCG" ]; then
		find "$TCG" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
		rmdir "$TCG" 2>/dev/null || rc=1
	fi
	return "$rc"
}

# slow_net_helper: $OCIRT_NET_HELPER for the runtime: a stand-in that says
# it runs (net.ready, net.pid) and waits for net.go before it becomes the
# real helper, so the runtime is killed while it waits for the helper:
# after the cgroup is made and the init exists, before state.json.
slow_net_helper() {
	local real
	real=$(dirname "$OCIRT")/ocirt-rootless-net
	[ -x "$real" ] || skip "network helper $real not built"
	write_hook net-helper "echo \$\$ >$BATS_TEST_TMPDIR/net.pid; echo ready >$BATS_TEST_TMPDIR/net.ready
for i in \$(seq 300); do [ -e $BATS_TEST_TMPDIR/net.go ] && exec $real \"\$@\"; sleep 0.1; done"
}

@test "crash: create killed after its cgroup and network helper are made, before state.json" {
	requires_ours "have a cgroupfs manager and a network helper"
	marker_args
	use_delegation
	update_config '.linux.namespaces |= (map(select(.type != "network")) + [{type: "network"}])'
	local helper
	helper=$(slow_net_helper)
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$TCG" env OCIRT_NET_HELPER="$helper" \
		"$OCIRT" --root "$ROOT" --cgroup-manager cgroupfs create --network slirp --bundle "$BUNDLE" "$CID" \
		</dev/null >"$BATS_TEST_TMPDIR/bg.out" 2>"$BATS_TEST_TMPDIR/bg.err" &
	RT_PID=$!
	wait_for_file "$BATS_TEST_TMPDIR/net.ready" || fail "no helper: $(cat "$BATS_TEST_TMPDIR/bg.err")"
	[ -d "$TCG/$CID" ] || fail "no cgroup $TCG/$CID was made: $(ls "$TCG")"
	[ ! -e "$ROOT/$CID/state.json" ] || fail "state.json was already written: not the moment wanted"
	kill_bg
	# the helper goes on, as a real one whose runtime died would
	touch "$BATS_TEST_TMPDIR/net.go"
	local hpid
	hpid=$(cat "$BATS_TEST_TMPDIR/net.pid")
	# listed honestly: its create never finished
	run --separate-stderr runtime list -f json
	[ "$status" -eq 0 ] || fail "list failed: $stderr"
	[ "$(jq -r --arg id "$CID" '.[] | select(.id == $id) | .status' <<<"$output")" = creating ] ||
		fail "list says: $output"
	delete_and_check "$CID"
	[ ! -e "$TCG/$CID" ] || fail "cgroup $TCG/$CID left behind"
	wait_pid_gone "$hpid" 10 || fail "network helper $hpid left: $(describe_pids ocirt-rootless-net)"
}

@test "crash: create killed while its network helper starts: delete --force stops the helper" {
	requires_ours "have a network helper"
	marker_args
	update_config '.linux.namespaces |= (map(select(.type != "network")) + [{type: "network"}])'
	local helper hpid rec
	helper=$(slow_net_helper)
	# The stand-in never becomes the real helper: it stays between fork
	# and the ready handshake until something stops it (30 s at most).
	OCIRT_NET_HELPER="$helper" start_bg create --network slirp --bundle "$BUNDLE" "$CID"
	wait_for_file "$BATS_TEST_TMPDIR/net.ready" || fail "no helper: $(cat "$BATS_TEST_TMPDIR/bg.err")"
	hpid=$(cat "$BATS_TEST_TMPDIR/net.pid")
	BG_PIDS+=("$hpid")
	[ ! -e "$ROOT/$CID/state.json" ] || fail "state.json was already written: not the moment wanted"
	rec=$(readlink "$ROOT/$CID/network.rec") || fail "no network.rec while the helper starts"
	[ "$(jq -r .helper_pid <<<"$rec")" = "$hpid" ] || fail "network.rec names another pid: $rec (helper $hpid)"
	kill_bg
	pid_alive "$hpid" || fail "the helper died with the runtime: this test cannot tell anything"
	delete_and_check "$CID"
	wait_pid_gone "$hpid" 5 || fail "network helper $hpid survived delete --force"
}

@test "crash: delete --force finds the helper of a container with many published ports and no state.json" {
	requires_ours "have a network helper"
	marker_args
	update_config '.linux.namespaces |= (map(select(.type != "network")) + [{type: "network"}])'
	local base p i flags=() hpid
	# 200 published ports make state.json's network member larger than a
	# symlink record can hold; the record keeps only the helper.
	for ((i = 0; i < 20; i++)); do
		base=$((20000 + RANDOM % 39000))
		for ((p = base; p < base + 200; p++)); do
			grep -qs "$(printf ':%04X ' "$p")" /proc/net/tcp /proc/net/tcp6 && break
		done
		[ "$p" -eq $((base + 200)) ] && break
	done
	[ "$p" -eq $((base + 200)) ] || skip "no 200 free consecutive ports"
	for ((p = base; p < base + 200; p++)); do
		flags+=(-p "127.0.0.1:$p:80")
	done
	runtime run -d --network slirp "${flags[@]}" --bundle "$BUNDLE" "$CID" </dev/null >/dev/null \
		2>"$BATS_TEST_TMPDIR/run.err" || fail "run -d failed: $(cat "$BATS_TEST_TMPDIR/run.err")"
	hpid=$(jq -r .extra.network.helper_pid "$ROOT/$CID/state.json")
	[ "$(jq -c .extra.network "$ROOT/$CID/state.json" | wc -c)" -gt 4096 ] || fail "the network member is small"
	[ "$(readlink "$ROOT/$CID/network.rec" | jq -r .helper_pid)" = "$hpid" ] || fail "network.rec does not name $hpid"
	printf 'garbage' >"$ROOT/$CID/state.json"
	delete_and_check "$CID"
	wait_pid_gone "$hpid" 5 || fail "network helper $hpid survived delete --force"
}

# tamper_and_delete HOW: a running container's state.json is damaged
# (HOW: truncate, garbage, zero-pid, other-pid); delete --force still kills
# its processes and removes it, and kills nothing else.
tamper_and_delete() {
	local how=$1 decoy cpid
	sleep 1000 &
	decoy=$!
	BG_PIDS+=("$decoy")
	runtime run -d --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/run.err" ||
		fail "run -d failed: $(cat "$BATS_TEST_TMPDIR/run.err")"
	cpid=$(state_field "$CID" .pid)
	pid_alive "$cpid" || fail "no init"
	local f=$ROOT/$CID/state.json
	case $how in
	truncate) : >"$f" ;;
	half) head -c 40 "$f" >"$f.x" && mv "$f.x" "$f" ;;
	garbage) printf '\x00\xffnot json{' >"$f" ;;
	zero-pid) jq -c '.pid = 0' "$f" >"$f.x" && mv "$f.x" "$f" ;;
	other-pid) jq -c --argjson p "$decoy" '.pid = $p' "$f" >"$f.x" && mv "$f.x" "$f" ;;
	*) fail "unknown tampering $how" ;;
	esac
	run --separate-stderr runtime delete --force "$CID"
	[ "$status" -eq 0 ] || fail "$how: delete --force failed ($status): $stderr"
	wait_pid_gone "$cpid" 5 || fail "$how: the container's init $cpid survived"
	wait_no_pids "$MARKER" 5 || fail "$how: container processes left: $(describe_pids "$MARKER")"
	[ ! -e "$ROOT/$CID" ] || fail "$how: state dir left: $(ls -A "$ROOT/$CID")"
	pid_alive "$decoy" || fail "$how: delete --force killed pid $decoy, which state.json named"
	kill "$decoy"
}

@test "crash: delete --force of a running container whose state.json was tampered with kills it" {
	marker_args
	local how
	for how in truncate half garbage zero-pid other-pid; do
		tamper_and_delete "$how"
	done
	assert_nothing_left
}

@test "crash: delete --force of a fuse-overlayfs container with a garbled state.json removes its mount" {
	requires_ours "assemble a layered rootfs"
	command -v fuse-overlayfs >/dev/null || skip "fuse-overlayfs is not installed"
	[ -r /dev/fuse ] && [ -w /dev/fuse ] || skip "/dev/fuse is not accessible: as root, chmod 0666 /dev/fuse"
	marker_args
	mv "$BUNDLE/rootfs" "$BATS_TEST_TMPDIR/lower"
	update_config '.root.path = "does-not-exist"'
	runtime run -d --layer "$BATS_TEST_TMPDIR/lower" --overlay fuse --bundle "$BUNDLE" "$CID" </dev/null \
		>/dev/null 2>"$BATS_TEST_TMPDIR/run.err" || fail "run -d failed: $(cat "$BATS_TEST_TMPDIR/run.err")"
	local cpid fpids
	cpid=$(state_field "$CID" .pid)
	fpids=$(pgrep -u "$(id -u)" -f "fuse-overlayfs .*workdir=$ROOT/$CID/overlay/work" || true)
	[ -n "$fpids" ] || fail "no fuse-overlayfs process"
	printf 'garbage' >"$ROOT/$CID/state.json"
	run --separate-stderr runtime delete --force "$CID"
	[ "$status" -eq 0 ] || fail "delete --force failed ($status): $stderr"
	wait_pid_gone "$cpid" 5 || fail "the container's init survived"
	# shellcheck disable=SC2086 # one pid per word
	wait_pid_gone $fpids 5 || fail "fuse-overlayfs survived"
	! grep -q "$ROOT/$CID" /proc/self/mountinfo || fail "a mount of the container is left"
	[ ! -e "$ROOT/$CID" ] || fail "state dir left: $(ls -A "$ROOT/$CID")"
	assert_nothing_left
}
