#!/usr/bin/env bats
# Cgroups on a host like the CI machine (HOST-NOTES: hybrid, cgroup2 at
# /sys/fs/cgroup/unified without resource controllers, no systemd):
#
# - without a cgroup the runtime runs containers, warns once when limits
#   were asked for, fails instead in strict mode, and pause/resume/update/
#   events fail with one line that says why; ps works without a cgroup;
# - with a delegated cgroup v2 subtree (tests/setup-cgroup-delegation.sh,
#   run as root by the harness) the cgroupfs manager's placement, exec,
#   freeze (pause/resume), kill --all, ps, stats and delete are real.
#
# Resource controllers themselves (memory.max biting, pids.max, cpu.max,
# the systemd manager) are tested in the VM tier: tests/vm/.

load helpers

eval "$(declare -f teardown | sed '1s/^teardown/helpers_teardown/')"

teardown() {
	local rc=0
	helpers_teardown || rc=$?
	if [ -n "${TCG:-}" ] && [ -d "$TCG" ]; then
		find "$TCG" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
		rmdir "$TCG" 2>/dev/null || {
			echo "# teardown: cgroup $TCG left behind: $(ls "$TCG")" >&2
			rc=1
		}
	fi
	return "$rc"
}

cgroup2_mount() {
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
		echo /sys/fs/cgroup
	else
		awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo
	fi
}

# The host has cgroup v1 controllers (hybrid or v1): limits cannot work.
requires_hybrid() {
	[ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ] || skip "host has cgroup v2 only: the v1/hybrid warning does not apply"
}

# Our state record of the container's cgroup (ROOT/ID/state.json).
cgroup_record() {
	jq -c '.extra.cgroup' "$ROOT/$CID/state.json"
}

# with_limits: memory and pids limits in the config.
with_limits() {
	update_config '.linux.resources = {memory: {limit: 67108864}, pids: {limit: 64}}'
}

# Our cgroup's parent or our cgroup itself when we may create cgroups
# there: the subtree delegated to us. Sets DELEG and TCG (a cgroup for this
# test, created here), or skips.
use_delegation() {
	local mnt own dir
	mnt=$(cgroup2_mount)
	own=$(sed -n 's/^0:://p' /proc/self/cgroup)
	[ -n "$mnt" ] && [ -n "$own" ] || skip "no cgroup v2"
	DELEG=""
	for dir in "$mnt$own" "$(dirname "$mnt$own")"; do
		if [ -O "$dir" ] && [ -w "$dir/cgroup.procs" ]; then
			DELEG=$dir
			break
		fi
	done
	[ -n "$DELEG" ] || skip "no delegated cgroup v2 subtree (tests/setup-cgroup-delegation.sh makes one; run-tests.sh runs it as root)"
	TCG=$DELEG/ocirt-bats-$BATS_TEST_NUMBER-$$
	mkdir "$TCG"
}

# in_tcg CMD...: run CMD with its process moved into $TCG first.
in_tcg() {
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$TCG" "$@"
}

# runtime_tcg ARGS...: the cgroupfs manager started inside $TCG (auto would
# pick it there too, unless a systemd user session is around).
runtime_tcg() {
	in_tcg timeout --kill-after=5 "$OCIRT_TIMEOUT" "$OCIRT" --root "$ROOT" --cgroup-manager cgroupfs "$@"
}

start_in_tcg() {
	set_args "$@"
	runtime_tcg run -d --bundle "$BUNDLE" "$CID" </dev/null \
		>"$BATS_TEST_TMPDIR/detached.out" 2>"$BATS_TEST_TMPDIR/detached.err" ||
		fail "run -d failed: $(cat "$BATS_TEST_TMPDIR/detached.err")"
	CPID=$(state_field "$CID" .pid)
	TRACKED_PIDS+=("$CPID")
}

# The cgroup v2 path of PID relative to the mount, e.g. /ocirt-deleg-1001/x.
cg_of() {
	sed -n 's/^0:://p' "/proc/$1/cgroup"
}

# A config without pid namespace: kill --all and ps must then go through
# the cgroup. No /proc in it (a new proc needs a pid namespace).
without_pidns() {
	update_config '.linux.namespaces |= map(select(.type != "pid"))
		| .mounts |= map(select(.destination != "/proc"))'
}

# ---------------------------------------------------------------- no cgroup

@test "cgroups: without a cgroup, limits give one warning naming the reason and the fix" {
	requires_ours "warn about limits it cannot apply"
	requires_hybrid
	with_limits
	set_args echo hello
	run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
	assert_success
	assert_output hello
	[ "$(grep -c . <<<"$stderr")" -eq 1 ] || fail "expected one stderr line, got: $stderr"
	grep -qE '^ocirt-rootless: warning: cgroup v1/hybrid host: linux.resources limits \(memory, pids\) are not applied' <<<"$stderr" ||
		fail "warning does not name the reason: $stderr"
	grep -q 'systemd.unified_cgroup_hierarchy=1' <<<"$stderr" || fail "warning names no fix: $stderr"
	grep -q 'OCIRT_CGROUP_STRICT=1' <<<"$stderr" || fail "warning does not say how to make it an error: $stderr"
	assert_no_containers
}

@test "cgroups: no limits asked for, no cgroup: no warning at all" {
	requires_ours "run without cgroups silently"
	set_args echo quiet
	run --separate-stderr runtime --cgroup-manager disabled run --bundle "$BUNDLE" "$CID" </dev/null
	assert_success
	assert_output quiet
	[ -z "$stderr" ] || fail "unexpected stderr: $stderr"
}

@test "cgroups: --cgroup-manager disabled with limits: the warning names the choice" {
	requires_ours "warn about limits it cannot apply"
	with_limits
	set_args true
	run --separate-stderr runtime --cgroup-manager disabled run --bundle "$BUNDLE" "$CID" </dev/null
	assert_success
	grep -q 'are not applied' <<<"$stderr" && grep -q -- '--cgroup-manager disabled' <<<"$stderr" ||
		fail "warning does not name --cgroup-manager disabled: $stderr"
	[ "$(grep -c . <<<"$stderr")" -eq 1 ] || fail "expected one line: $stderr"
}

@test "cgroups: strict mode (OCIRT_CGROUP_STRICT=1) turns the warning into an error" {
	requires_ours "have a cgroup strict mode"
	with_limits
	set_args true
	OCIRT_CGROUP_STRICT=1 run --separate-stderr runtime --cgroup-manager disabled run --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'strict mode' 'memory, pids' 'not applied'
	assert_no_containers
	[ ! -e "$ROOT/$CID" ] || fail "state directory left"
}

@test "cgroups: strict mode by annotation run.oci.ocirt.cgroup-strict=true" {
	requires_ours "have a cgroup strict mode"
	with_limits
	update_config '.annotations["run.oci.ocirt.cgroup-strict"] = "true"'
	set_args true
	run --separate-stderr runtime --cgroup-manager disabled run --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'strict mode' 'not applied'
	assert_no_containers
	# Without limits, strict mode has nothing to refuse.
	update_config 'del(.linux.resources)'
	run --separate-stderr runtime --cgroup-manager disabled run --bundle "$BUNDLE" "$CID" </dev/null
	assert_success
}

@test "cgroups: a bad unified key is a config error even without a cgroup" {
	requires_ours "check linux.resources.unified keys"
	update_config '.linux.resources = {unified: {"../../memory.max": "1"}}'
	set_args true
	run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'linux.resources.unified' 'no `/`'
	assert_no_containers
}

@test "cgroups: pause, resume, update and events without a cgroup say why, in one line" {
	requires_ours "explain why a verb needs a cgroup"
	set_args sleep 1000
	run_detached --cgroup-manager disabled run -d --bundle "$BUNDLE" "$CID"
	assert_success
	CPID=$(state_field "$CID" .pid)
	TRACKED_PIDS+=("$CPID")
	local verb
	for verb in pause resume "update --memory 64m" "events --stats"; do
		# shellcheck disable=SC2086
		run --separate-stderr runtime $verb "$CID"
		case $verb in
		resume) assert_runtime_error 'resume container' 'not paused' ;;
		*) assert_runtime_error "${verb%% *}( of)? container .$CID." 'needs a cgroup' 'none' 'Delegate=yes' ;;
		esac
	done
	[ "$(state_field "$CID" .status)" = running ] || fail "status changed"
}

@test "cgroups: ps lists the container's processes without a cgroup" {
	requires_ours "find processes without a cgroup"
	set_args sh -c 'sleep 1000 & sleep 1001 & wait'
	run_detached --cgroup-manager disabled run -d --bundle "$BUNDLE" "$CID"
	assert_success
	CPID=$(state_field "$CID" .pid)
	TRACKED_PIDS+=("$CPID")
	local want i
	for ((i = 0; i < 100; i++)); do
		want=$( { echo "$CPID"; descendants "$CPID"; } | sort -n | paste -sd, -)
		[ "$(tr ',' '\n' <<<"$want" | wc -l)" -ge 3 ] && break
		sleep 0.05
	done
	run runtime ps --format json "$CID"
	assert_success
	[ "$(jq -c 'sort | map(tostring) | join(",")' <<<"$output")" = "\"$want\"" ] ||
		fail "ps json: $output, wanted pids $want"
	run runtime ps "$CID"
	assert_success
	assert_line --index 0 --regexp '^UID +PID +PPID'
	[ "${#lines[@]}" -eq 4 ] || fail "ps table: want header + 3 rows: $output"
	run runtime ps "$CID" -o pid,comm
	assert_success
	assert_line --regexp "^ *$CPID sh$"
	assert_line --partial sleep
	run --separate-stderr runtime ps --format json "$CID" -o pid
	assert_runtime_error 'ps options cannot be combined'
}

@test "cgroups: update refuses an empty change and a bad size, naming the flag" {
	requires_ours "check update flags"
	run --separate-stderr runtime update "$CID"
	assert_runtime_error 'nothing to change'
	run --separate-stderr runtime update --memory 12q "$CID"
	assert_runtime_error 'update: --memory' '12q'
	run --separate-stderr runtime events --interval 0s "$CID"
	assert_runtime_error 'events: --interval'
}

# ------------------------------------------------ a delegated cgroup v2 subtree

@test "cgroups: cgroupfs places the container in a cgroup below the delegated subtree" {
	requires_ours "have a cgroupfs manager"
	use_delegation
	start_in_tcg sleep 1000
	local mnt
	mnt=$(cgroup2_mount)
	[ "$(cg_of "$CPID")" = "${TCG#"$mnt"}/$CID" ] || fail "container is in $(cg_of "$CPID"), wanted ${TCG#"$mnt"}/$CID"
	[ "$(cgroup_record)" = "{\"manager\":\"cgroupfs\",\"path\":\"$TCG/$CID\"}" ] ||
		fail "state records $(cgroup_record)"
	grep -qx "$CPID" "$TCG/$CID/cgroup.procs" || fail "init not in cgroup.procs"
	# exec joins the same cgroup, even when started from elsewhere.
	runtime exec -d --pid-file "$BATS_TEST_TMPDIR/exec.pid" "$CID" sleep 999 </dev/null >/dev/null 2>&1 ||
		fail "exec failed"
	local epid
	epid=$(cat "$BATS_TEST_TMPDIR/exec.pid")
	[ "$(cg_of "$epid")" = "${TCG#"$mnt"}/$CID" ] || fail "exec'd process is in $(cg_of "$epid")"
	runtime delete --force "$CID"
	[ ! -d "$TCG/$CID" ] || fail "cgroup $TCG/$CID left after delete"
	wait_pid_gone "$epid"
}

@test "cgroups: linux.cgroupsPath is relative to the delegated subtree; .. is refused" {
	requires_ours "have a cgroupfs manager"
	use_delegation
	update_config '.linux.cgroupsPath = "sub/box"'
	start_in_tcg sleep 1000
	local mnt
	mnt=$(cgroup2_mount)
	[ "$(cg_of "$CPID")" = "${TCG#"$mnt"}/sub/box" ] || fail "container is in $(cg_of "$CPID")"
	runtime delete --force "$CID"
	[ ! -d "$TCG/sub/box" ] || fail "cgroup left"
	update_config '.linux.cgroupsPath = "../../escape"'
	set_args true
	run --separate-stderr runtime_tcg run --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'linux.cgroupsPath' '\.\.'
	assert_no_containers
}

@test "cgroups: pause freezes the container through cgroup.freeze, resume thaws it" {
	requires_ours "pause through cgroup.freeze"
	use_delegation
	start_in_tcg sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.05; done'
	wait_for_file "$BUNDLE/rootfs/tmp/count"
	runtime pause "$CID"
	[ "$(state_field "$CID" .status)" = paused ] || fail "status is not paused"
	grep -qx 'frozen 1' "$TCG/$CID/cgroup.events" || fail "cgroup.events: $(cat "$TCG/$CID/cgroup.events")"
	local a b
	a=$(cat "$BUNDLE/rootfs/tmp/count")
	sleep 0.5
	b=$(cat "$BUNDLE/rootfs/tmp/count")
	[ "$a" = "$b" ] || fail "the counter moved while paused ($a -> $b)"
	run --separate-stderr runtime pause "$CID"
	assert_runtime_error 'paused, not running'
	runtime resume "$CID"
	[ "$(state_field "$CID" .status)" = running ] || fail "status is not running after resume"
	grep -qx 'frozen 0' "$TCG/$CID/cgroup.events" || fail "still frozen"
	sleep 0.5
	b=$(cat "$BUNDLE/rootfs/tmp/count")
	[ "$b" -gt "$a" ] || fail "the counter did not move after resume ($a -> $b)"
	# A paused container can be deleted (SIGKILL reaches frozen tasks).
	runtime pause "$CID"
	runtime delete --force "$CID"
	[ ! -d "$TCG/$CID" ] || fail "cgroup left"
}

@test "cgroups: kill --all reaches every process through the cgroup (no pid namespace)" {
	requires_ours "kill through the cgroup"
	use_delegation
	without_pidns
	# setsid: a process that left init's process tree, found only by cgroup.
	start_in_tcg sh -c 'setsid sleep 1000 & sleep 1001 & wait'
	local pids i
	for ((i = 0; i < 100; i++)); do
		pids=$(cat "$TCG/$CID/cgroup.procs")
		[ "$(wc -l <<<"$pids")" -ge 3 ] && break
		sleep 0.05
	done
	[ "$(wc -l <<<"$pids")" -eq 3 ] || fail "cgroup.procs: $pids"
	run runtime ps --format json "$CID"
	assert_success
	[ "$(jq -r '.[]' <<<"$output" | sort -n)" = "$(sort -n <<<"$pids")" ] || fail "ps: $output, cgroup: $pids"
	runtime kill --all "$CID" TERM
	for pid in $pids; do
		wait_pid_gone "$pid" || fail "process $pid survived kill --all TERM"
	done
	wait_for_status "$CID" stopped
	runtime delete "$CID"
	[ ! -d "$TCG/$CID" ] || fail "cgroup left"
}

@test "cgroups: delete --force kills what is left in the cgroup (cgroup.kill) and removes it" {
	requires_ours "remove its cgroup"
	use_delegation
	without_pidns
	start_in_tcg sh -c 'setsid sleep 1000 & exec sleep 1001'
	local pids i
	for ((i = 0; i < 100; i++)); do
		pids=$(cat "$TCG/$CID/cgroup.procs")
		[ "$(wc -l <<<"$pids")" -ge 2 ] && break
		sleep 0.05
	done
	runtime delete --force "$CID"
	for pid in $pids; do
		wait_pid_gone "$pid" || fail "process $pid survived delete --force"
	done
	[ ! -d "$TCG/$CID" ] || fail "cgroup $TCG/$CID left"
	assert_no_containers
}

@test "cgroups: events --stats prints runc's stats shape from the cgroup" {
	requires_ours "have events"
	use_delegation
	start_in_tcg sh -c 'while :; do :; done'
	sleep 0.2
	run runtime events --stats "$CID"
	assert_success
	jq -e --arg id "$CID" '.type == "stats" and .id == $id and (.data.cpu.usage.total > 0)
		and (.data.memory.usage | has("usage")) and (.data.pids | has("current"))
		and (.data.blkio | has("ioServiceBytesRecursive"))' <<<"$output" >/dev/null ||
		fail "unexpected stats: $output"
	# The stream: a stats line per interval, ending when the container stops.
	( sleep 1.2; runtime kill "$CID" KILL ) &
	run runtime events --interval 300ms "$CID"
	wait
	assert_success
	[ "${#lines[@]}" -ge 3 ] || fail "expected several stats lines: $output"
}

@test "cgroups: limits in a delegated subtree on a hybrid host: placed, one warning naming the controllers" {
	requires_ours "warn about missing controllers"
	requires_hybrid
	use_delegation
	with_limits
	set_args sleep 1000
	in_tcg timeout 20 "$OCIRT" --root "$ROOT" --cgroup-manager cgroupfs run -d --bundle "$BUNDLE" "$CID" </dev/null \
		>"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" || fail "run failed: $(cat "$BATS_TEST_TMPDIR/err")"
	CPID=$(state_field "$CID" .pid)
	TRACKED_PIDS+=("$CPID")
	[ "$(grep -c . "$BATS_TEST_TMPDIR/err")" -eq 1 ] || fail "want one warning: $(cat "$BATS_TEST_TMPDIR/err")"
	grep -q 'limits (memory, pids) are not applied' "$BATS_TEST_TMPDIR/err" || fail "$(cat "$BATS_TEST_TMPDIR/err")"
	[ "$(jq -r .manager <<<"$(cgroup_record)")" = cgroupfs ] || fail "not placed: $(cgroup_record)"
	# update names the missing controller and the reason.
	run --separate-stderr runtime update --pids-limit 10 "$CID"
	assert_runtime_error 'no pids controller' 'hybrid'
}
